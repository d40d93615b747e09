//! `supportzen attachments upload`: what a client app does to attach a file, against the
//! local server: declare the upload (POST /api/client/attachments, signed as the user),
//! send the file with the form it answers, and print the attachment id to name in a
//! message's `attachments`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::path::Path;
use supportzen_shared::domain::{ContentType, Email};
use supportzen_shared::endpoint::Endpoint;

/// The type a file's extension names, for files uploaded without `--type`.
pub fn content_type_of(path: &Path) -> Option<ContentType> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => ContentType::Png,
        "jpg" | "jpeg" => ContentType::Jpeg,
        "gif" => ContentType::Gif,
        "webp" => ContentType::Webp,
        "pdf" => ContentType::Pdf,
        "txt" | "log" => ContentType::PlainText,
        "csv" => ContentType::Csv,
        "zip" => ContentType::Zip,
        _ => return None,
    })
}

/// Uploads the file at `path` as `email` (signed with `token`) through the server at
/// `server` (`http://host:port`); the attachment id.
pub async fn upload(
    server: &str,
    email: &Email,
    token: &str,
    path: &Path,
    content_type: Option<ContentType>,
) -> Result<String, String> {
    let base = server.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(format!("--server {server:?} must be http://HOST:PORT"));
    }
    let content_type = content_type.or_else(|| content_type_of(path)).ok_or_else(|| {
        format!(
            "cannot tell the type of {} from its name: give --type (one of image/png, image/jpeg, image/gif, image/webp, application/pdf, text/plain, text/csv, application/zip)",
            path.display()
        )
    })?;
    let file = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no file name", path.display()))?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    let declaration = json!({
        "email": email.as_sent(),
        "name": name,
        "content_type": content_type.as_str(),
        "size": file.len(),
    });
    let url = format!("{base}{}", Endpoint::AttachmentUpload.path());
    let request = Request::post(&url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(declaration.to_string())))
        .map_err(|e| e.to_string())?;
    let (status, body) = send(&client, request, base).await?;
    let answer: Value = serde_json::from_slice(&body).map_err(|_| {
        format!("{url} answered {status} with no JSON: is `supportzen serve` running at {base}?")
    })?;
    if status != StatusCode::OK {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        return Err(format!(
            "the server refused the upload ({status}): {message}"
        ));
    }
    let data = &answer["data"];
    let (Some(id), Some(form_url), Some(fields)) = (
        data["attachmentId"].as_str(),
        data["upload"]["url"].as_str(),
        data["upload"]["fields"].as_object(),
    ) else {
        return Err(format!("{url} answered without an upload form: {answer}"));
    };

    let (multipart, body) = crate::files::upload_body(fields, content_type.as_str(), &file);
    let request = Request::post(form_url)
        .header("content-type", multipart)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the upload form's url {form_url:?}: {e}"))?;
    let (status, body) = send(&client, request, form_url).await?;
    if !status.is_success() {
        return Err(format!(
            "the storage refused the file ({status}): {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    Ok(id.to_string())
}

async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    request: Request<Full<Bytes>>,
    target: &str,
) -> Result<(StatusCode, Bytes), String> {
    let response = client.request(request).await.map_err(|e| {
        format!("nothing answers at {target}: is `supportzen serve` running there? (--server chooses another address) ({e})")
    })?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the answer from {target} broke off: {e}"))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_extensions_in_any_case() {
        assert_eq!(
            content_type_of(Path::new("a/Shot.PNG")),
            Some(ContentType::Png)
        );
        assert_eq!(
            content_type_of(Path::new("r.jpeg")),
            Some(ContentType::Jpeg)
        );
        assert_eq!(content_type_of(Path::new("page.html")), None);
        assert_eq!(content_type_of(Path::new("README")), None);
    }
}
