//! Where attachments' bytes live: S3 in production (`crate::s3::S3Files`), a directory
//! under `supportzen serve` locally (the CLI's `files::FileStore`). Files never pass
//! through a function: clients upload to the storage with a signed form and download
//! from signed links; the backend only signs, and checks what was stored.

use crate::domain::{ContentType, FileName};
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// How long an upload form is valid.
pub const UPLOAD_FORM_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long a download link is valid.
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What a client needs to upload one file: `POST` a `multipart/form-data` body to `url`
/// with `fields` in this order, then the file as the field `file`, before `expiresAt`
/// (Unix milliseconds). S3's browser-upload form, and the local server's copy of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadForm {
    pub url: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub expires_at: i64,
}

/// What is stored under a key: enough to check it against its declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub size: u64,
    /// Its first [`crate::domain::SNIFF_BYTES`] bytes (all of it if shorter).
    pub first_bytes: Vec<u8>,
    /// Which version of the file was read (S3's ETag), for [`FileStorage::keep`] to copy
    /// that one and no other; `None` where a stored file never changes.
    pub version: Option<String>,
}

/// What [`FileStorage::stored`] found under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Nothing: not uploaded yet.
    Missing,
    /// One version of the file, read whole (size, first bytes and version all its own).
    File(StoredFile),
    /// Another version was stored each time the file was read: the form is being posted
    /// again and again, and no one version could be checked.
    Changing,
}

/// What [`FileStorage::keep`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The version checked is kept under the new key.
    Copied,
    /// Another version was stored after the check (the form posted again): nothing kept.
    Changed,
}

/// Signing uploads and downloads, and reading back what was uploaded.
pub trait FileStorage {
    /// The form that lets one file of exactly `size` bytes of `content_type` be stored
    /// under `key` for [`UPLOAD_FORM_LIFETIME`] from `now`.
    fn upload_form(
        &self,
        key: &str,
        content_type: ContentType,
        size: u64,
        now: SystemTime,
    ) -> Result<UploadForm, String>;

    /// What is stored under `key`: the size, first bytes and version all of one version
    /// of the file.
    fn stored(&self, key: &str) -> impl Future<Output = Result<Stored, String>> + Send;

    /// Copies the upload under `from`, the `version` [`FileStorage::stored`] read, to
    /// `to` (a key no upload form can write: [`crate::domain::Uploader::kept_key`]) and
    /// keeps it there for good, while uploads never attached are deleted after a day.
    fn keep(
        &self,
        from: &str,
        version: Option<&str>,
        to: &str,
    ) -> impl Future<Output = Result<Kept, String>> + Send;

    /// Undoes [`FileStorage::keep`] of `key` when the message that would have carried it
    /// was not written: the copy is deleted, or left to expire as an unattached upload.
    fn release(&self, key: &str) -> impl Future<Output = Result<(), String>> + Send;

    /// A link that serves the file for [`DOWNLOAD_LINK_LIFETIME`] from `now`: pictures
    /// inline as their type, anything else as a download named `name`.
    fn download_url(
        &self,
        key: &str,
        content_type: ContentType,
        name: &FileName,
        now: SystemTime,
    ) -> Result<String, String>;
}

/// The `Content-Disposition` a download is served with: pictures are shown inline (as
/// `<img>`), anything else is saved under its name, never rendered.
pub fn disposition(content_type: ContentType, name: &FileName) -> String {
    if content_type.is_image() {
        "inline".to_string()
    } else {
        name.content_disposition(content_type.extension())
    }
}

/// Storage where there is none: signing fails and nothing is ever stored. For code that
/// runs the handlers without attachments (benchmarks, tests of other rules).
pub struct NoFiles;

impl FileStorage for NoFiles {
    fn upload_form(
        &self,
        _: &str,
        _: ContentType,
        _: u64,
        _: SystemTime,
    ) -> Result<UploadForm, String> {
        Err("no file storage here".into())
    }

    async fn stored(&self, _: &str) -> Result<Stored, String> {
        Ok(Stored::Missing)
    }

    async fn keep(&self, _: &str, _: Option<&str>, _: &str) -> Result<Kept, String> {
        Err("no file storage here".into())
    }

    async fn release(&self, _: &str) -> Result<(), String> {
        Err("no file storage here".into())
    }

    fn download_url(
        &self,
        _: &str,
        _: ContentType,
        _: &FileName,
        _: SystemTime,
    ) -> Result<String, String> {
        Err("no file storage here".into())
    }
}
