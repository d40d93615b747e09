//! Amazon S3, where attachments live in production: browsers upload straight to the
//! bucket with a signed POST policy and download with a presigned GET, so no file ever
//! passes through a function (API Gateway takes at most 10 MB, Lambda 6 MB).
//!
//! The signing is AWS Signature Version 4 over the function role's credentials; the
//! SDK has no presigned POST, and the GET is a few lines more of the same scheme.

pub mod objects;
pub mod sigv4;
pub mod upload_form;

pub use objects::{ObjectFacts, S3Objects};
pub use sigv4::{Credentials, utc_stamp};
pub use upload_form::{Bucket, UNATTACHED_TAG, UNATTACHED_TAGGING, upload_form};
