//! A browser's upload straight to the bucket: an HTML-form `POST` whose fields carry a
//! policy signed with the function role's credentials (AWS Signature Version 4). The
//! policy pins everything S3 itself can check: the bucket, the exact key, the exact
//! `Content-Type`, the exact size (`content-length-range`), the tag that marks the file
//! as not yet attached, and an expiry. The backend checks the stored file again when it
//! is attached, so a policy S3 failed to enforce still lets nothing unchecked through.

use super::sigv4::{Credentials, iso8601_millis, scope, signature, utc_stamp};
use crate::store::UploadForm;
use base64::Engine;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The tag (name, value) every upload carries until a message takes it, as
/// [`UNATTACHED_TAGGING`] spells it: template.yaml's lifecycle rule names it.
pub const UNATTACHED_TAG: (&str, &str) = ("supportzen", "unattached");

/// The tag every upload carries until a message takes it: the bucket's lifecycle rule
/// deletes objects still tagged so a day later.
pub const UNATTACHED_TAGGING: &str =
    "<Tagging><TagSet><Tag><Key>supportzen</Key><Value>unattached</Value></Tag></TagSet></Tagging>";

/// Where attachments are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    /// The URL uploads are posted to and downloads read from, with no trailing slash:
    /// the bucket's virtual-hosted address on AWS, or `<server>/<bucket>` on an
    /// S3-compatible server that takes path-style requests.
    pub url: String,
}

impl Bucket {
    /// A bucket on AWS, addressed virtual-hosted style.
    pub fn aws(name: &str, region: &str) -> Self {
        Bucket {
            name: name.to_string(),
            region: region.to_string(),
            url: format!("https://{name}.s3.{region}.amazonaws.com"),
        }
    }

    /// A bucket on an S3-compatible server at `server` (e.g. `http://127.0.0.1:9000`),
    /// addressed path style.
    pub fn path_style(name: &str, region: &str, server: &str) -> Self {
        Bucket {
            name: name.to_string(),
            region: region.to_string(),
            url: format!("{}/{name}", server.trim_end_matches('/')),
        }
    }
}

/// The form that lets one file of exactly `size` bytes and type `content_type` be
/// stored at `key` in `bucket` until `now + lifetime`.
pub fn upload_form(
    bucket: &Bucket,
    credentials: &Credentials,
    key: &str,
    content_type: &str,
    size: u64,
    now: SystemTime,
    lifetime: Duration,
) -> UploadForm {
    let (date, stamp) = utc_stamp(now);
    let credential = format!(
        "{}/{}",
        credentials.access_key_id,
        scope(&date, &bucket.region)
    );
    let expires = now + lifetime;
    let mut fields = serde_json::Map::new();
    let mut conditions = vec![
        json!({ "bucket": bucket.name }),
        json!(["content-length-range", size, size]),
    ];
    let mut field = |name: &str, value: &str| {
        fields.insert(name.to_string(), Value::from(value));
        conditions.push(json!({ name: value }));
    };
    field("key", key);
    field("Content-Type", content_type);
    field("tagging", UNATTACHED_TAGGING);
    field("x-amz-algorithm", "AWS4-HMAC-SHA256");
    field("x-amz-credential", &credential);
    field("x-amz-date", &stamp);
    if let Some(token) = &credentials.session_token {
        field("x-amz-security-token", token);
    }
    let policy = json!({ "expiration": iso8601_millis(expires), "conditions": conditions });
    let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signed = signature(
        &credentials.secret_access_key,
        now,
        &bucket.region,
        policy.as_bytes(),
    );
    fields.insert("policy".into(), Value::from(policy));
    fields.insert("x-amz-signature".into(), Value::from(signed));
    UploadForm {
        url: bucket.url.clone(),
        fields,
        expires_at: expires
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(String::from),
        }
    }

    fn policy(form: &UploadForm) -> Value {
        let encoded = form.fields["policy"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        serde_json::from_slice(&decoded).unwrap()
    }

    #[test]
    fn the_policy_pins_bucket_key_type_size_tag_and_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_451_347_200); // 2015-12-29
        let bucket = Bucket::aws("sigv4examplebucket", "us-east-1");
        let form = upload_form(
            &bucket,
            &credentials(Some("session-token")),
            "uploads/customer/ab12/att-1",
            "image/png",
            2048,
            now,
            Duration::from_secs(300),
        );
        assert_eq!(
            form.url,
            "https://sigv4examplebucket.s3.us-east-1.amazonaws.com"
        );
        assert_eq!(form.expires_at, 1_451_347_500_000);
        let names: Vec<&str> = form.fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "key",
                "Content-Type",
                "tagging",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "x-amz-security-token",
                "policy",
                "x-amz-signature"
            ]
        );
        assert_eq!(
            form.fields["x-amz-credential"],
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
        let policy = policy(&form);
        assert_eq!(policy["expiration"], "2015-12-29T00:05:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        for expected in [
            json!({"bucket": "sigv4examplebucket"}),
            json!(["content-length-range", 2048, 2048]),
            json!({"key": "uploads/customer/ab12/att-1"}),
            json!({"Content-Type": "image/png"}),
            json!({"tagging": UNATTACHED_TAGGING}),
            json!({"x-amz-date": "20151229T000000Z"}),
            json!({"x-amz-security-token": "session-token"}),
        ] {
            assert!(conditions.contains(&expected), "{expected} missing");
        }
        // Every form field but the policy and its signature is a condition, so S3
        // refuses a form whose fields were changed.
        for (name, value) in &form.fields {
            if name != "policy" && name != "x-amz-signature" {
                assert!(conditions.contains(&json!({ name: value })), "{name}");
            }
        }
        assert_eq!(
            form.fields["x-amz-signature"],
            signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                now,
                "us-east-1",
                form.fields["policy"].as_str().unwrap().as_bytes()
            )
            .as_str()
        );
    }

    #[test]
    fn long_lived_keys_send_no_session_token() {
        let form = upload_form(
            &Bucket::path_style("attachments", "us-east-1", "http://127.0.0.1:9000/"),
            &credentials(None),
            "k",
            "text/plain",
            1,
            SystemTime::now(),
            Duration::from_secs(60),
        );
        assert_eq!(form.url, "http://127.0.0.1:9000/attachments");
        assert!(!form.fields.contains_key("x-amz-security-token"));
        assert!(!policy(&form).to_string().contains("x-amz-security-token"));
    }
}
