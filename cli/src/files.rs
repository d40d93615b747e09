//! Attachments' storage for `supportzen serve`: what S3 is in production, in a
//! directory. Browsers upload with the same kind of form as S3's POST policy (fields,
//! then the file), signed by this server for one key, type and exact size, and download
//! from signed URLs that expire. The body is streamed to a temporary file, counted as it
//! comes and refused past its declared size, then linked into place only if nothing is
//! stored under its key yet (a form stores one file, once): a file is either wholly
//! stored or not at all, and memory stays flat whatever its size, downloads included.
//! Attaching copies the upload into `kept/`, which no form can write, as S3's copy to
//! `files/` does in production.

use bytes::Bytes;
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Body, Frame};
use hyper::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue,
};
use hyper::{Response, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use supportzen_shared::domain::{ContentType, FILES_PREFIX, FileName, SNIFF_BYTES, UPLOADS_PREFIX};
use supportzen_shared::store::{
    DOWNLOAD_LINK_LIFETIME, FileStorage, Kept, Stored, StoredFile, UPLOAD_FORM_LIFETIME,
    UploadForm, disposition,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where uploads are posted: `POST /files`, then `GET /files/<name>?…` to download.
pub const PATH: &str = "/files";

/// The directory files are kept in unless told otherwise.
pub const DEFAULT_DIR: &str = "supportzen-files";

/// The sub-directory attached files are copied to (keys under `files/`).
const KEPT_DIR: &str = "kept";

/// The longest form field but the file (the signature is 64 hex digits).
const MAX_FIELD_BYTES: u64 = 4 * 1024;
/// The most parts a form may have: its five fields, the file, and room for a browser's
/// extra field or two.
const MAX_PARTS: usize = 16;
/// What an upload body may hold besides the file: the fields and the multipart framing.
const FORM_SLACK: u64 = 64 * 1024;
/// How much of a body may be read before its form is checked: the fields, and whatever
/// of the file the parser has read ahead (hyper's reads are well under this).
const BEFORE_FORM_LIMIT: u64 = 1024 * 1024;
/// Why a body past its limit is refused.
const TOO_LARGE: &str = "the body is larger than its upload form allows";
/// How much of a file a download reads at a time.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// A streamed response body: downloads read the file as they send it.
pub type FileBody = BoxBody<Bytes, std::io::Error>;

/// The local stand-in for the attachments bucket.
pub struct FileStore {
    dir: PathBuf,
    /// `http://host:port` of this server, for the URLs it hands out.
    base_url: String,
    /// Signs upload forms and download URLs; made anew at each start, so a restart ends
    /// every outstanding one (they last minutes anyway).
    key: [u8; 32],
}

impl FileStore {
    /// Files under `dir` (created if missing), served as `base_url` + [`PATH`].
    pub fn open(dir: &Path, base_url: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the files directory {}: {e}", dir.display()))?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no randomness for a signing key: {e}"))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
        })
    }

    /// The form that lets one file of exactly `size` bytes of `content_type` be stored
    /// under `key` until `now + lifetime`, in the shape of an S3 upload form.
    pub fn signed_form(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: SystemTime,
        lifetime: Duration,
    ) -> UploadForm {
        let expires = millis(now + lifetime);
        let signature = self.sign(&[
            "upload",
            key,
            content_type,
            &size.to_string(),
            &expires.to_string(),
        ]);
        let mut fields = Map::new();
        fields.insert("key".into(), key.into());
        fields.insert("Content-Type".into(), content_type.into());
        fields.insert("x-supportzen-size".into(), size.to_string().into());
        fields.insert("x-supportzen-expires".into(), expires.to_string().into());
        fields.insert("x-supportzen-signature".into(), signature.into());
        UploadForm {
            url: format!("{}{PATH}", self.base_url),
            fields,
            expires_at: expires,
        }
    }

    /// A URL that serves `key` as `content_type` until `now + lifetime`, with
    /// `disposition` as its `Content-Disposition` (`inline` for pictures, `attachment`
    /// with the file's name otherwise).
    pub fn signed_link(
        &self,
        key: &str,
        content_type: &str,
        disposition: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        let expires = millis(now + lifetime).to_string();
        let signature = self.sign(&["download", key, content_type, disposition, &expires]);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("key", key)
            .append_pair("type", content_type)
            .append_pair("disposition", disposition)
            .append_pair("expires", &expires)
            .append_pair("signature", &signature)
            .finish();
        format!("{}{PATH}?{query}", self.base_url)
    }

    /// The stored file's size and first `first` bytes, or `None` if nothing is stored
    /// under `key`.
    pub async fn read_back(&self, key: &str, first: usize) -> Result<Option<StoredFile>, String> {
        let path = self.path(key);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("cannot open a stored file: {err}")),
        };
        let size = file.metadata().await.map_err(|e| e.to_string())?.len();
        let mut first_bytes = Vec::with_capacity(first);
        (&mut file)
            .take(first as u64)
            .read_to_end(&mut first_bytes)
            .await
            .map_err(|e| format!("cannot read a stored file: {e}"))?;
        Ok(Some(StoredFile {
            size,
            first_bytes,
            version: None,
        }))
    }

    /// Deletes what is stored under `key`, if anything.
    /// Deletes the file under `key`: whether there was one.
    pub async fn remove(&self, key: &str) -> Result<bool, String> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err.to_string()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), String> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.to_string()),
            _ => Ok(()),
        }
    }

    /// `POST /files`: a `multipart/form-data` body of the upload form's fields, then the
    /// file. Stores it if the form is this server's, unexpired, and the file is exactly
    /// the size it names; answers 204 then, as S3 does, and 4xx with a reason otherwise.
    pub async fn upload<B>(
        &self,
        content_type: Option<&str>,
        body: B,
        now: SystemTime,
    ) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + Send,
    {
        match self.receive(content_type, body, now).await {
            Ok(()) => plain(StatusCode::NO_CONTENT, ""),
            Err((status, reason)) => plain(status, &reason),
        }
    }

    async fn receive<B>(
        &self,
        content_type: Option<&str>,
        body: B,
        now: SystemTime,
    ) -> Result<(), (StatusCode, String)>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + Send,
    {
        let bad = |reason: &str| (StatusCode::BAD_REQUEST, reason.to_string());
        let boundary = content_type
            .and_then(|value| multer::parse_boundary(value).ok())
            .ok_or_else(|| bad("the body must be multipart/form-data"))?;
        // The whole body's limit: the fields' until the form is checked, then the size
        // it was signed for and the framing around it.
        let limit = Arc::new(AtomicU64::new(BEFORE_FORM_LIMIT));
        let frames = {
            let limit = Arc::clone(&limit);
            let mut received = 0u64;
            BodyStream::new(body).filter_map(move |frame| {
                let checked = match frame {
                    Ok(frame) => frame.into_data().ok().map(|data| {
                        received += data.len() as u64;
                        if received > limit.load(Ordering::Relaxed) {
                            Err(std::io::Error::other(TOO_LARGE))
                        } else {
                            Ok(data)
                        }
                    }),
                    Err(err) => Some(Err(std::io::Error::other(err.to_string()))),
                };
                async move { checked }
            })
        };
        let constraints = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .per_field(MAX_FIELD_BYTES)
                .for_field("file", u64::MAX),
        );
        let mut form = multer::Multipart::with_constraints(frames, boundary, constraints);
        let mut fields = Map::new();
        let mut parts = 0;
        while let Some(mut part) = form.next_field().await.map_err(|e| refusal(&e))? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(bad("the form has too many fields"));
            }
            let name = part.name().unwrap_or_default().to_string();
            if name != "file" {
                // Form fields are short (multer stops one past MAX_FIELD_BYTES).
                let text = part.text().await.map_err(|e| refusal(&e))?;
                fields.insert(name, Value::from(text));
                continue;
            }
            let (key, size) = self.check_form(&fields, now)?;
            limit.store(size.saturating_add(FORM_SLACK), Ordering::Relaxed);
            let target = self.path(&key);
            let taken = || {
                (
                    StatusCode::CONFLICT,
                    "a file was already uploaded with this form: ask for a new one".to_string(),
                )
            };
            if tokio::fs::try_exists(&target).await.unwrap_or(false) {
                return Err(taken());
            }
            let partial = self.dir.join(format!(".upload-{}", uuid::Uuid::now_v7()));
            let written = self.write(&partial, &mut part, size).await;
            // Linked, not renamed: linking fails if a file is there already, so a second
            // upload with the same form (even one racing the first) never replaces it.
            let stored = match written {
                Ok(()) => {
                    tokio::fs::hard_link(&partial, &target)
                        .await
                        .map_err(|e| match e.kind() {
                            std::io::ErrorKind::AlreadyExists => taken(),
                            _ => (
                                StatusCode::INTERNAL_SERVER_ERROR,
                                format!("cannot store the file: {e}"),
                            ),
                        })
                }
                Err(err) => Err(err),
            };
            let _ = tokio::fs::remove_file(&partial).await;
            return stored;
        }
        Err(bad("the form has no file field"))
    }

    /// The key and size the form's fields were signed for, if they were signed here and
    /// have not expired.
    fn check_form(
        &self,
        fields: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<(String, u64), (StatusCode, String)> {
        let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
        let (key, content_type, size, expires) = (
            field("key"),
            field("Content-Type"),
            field("x-supportzen-size"),
            field("x-supportzen-expires"),
        );
        let signed = self.sign(&["upload", key, content_type, size, expires]);
        let refused = |reason: &str| (StatusCode::FORBIDDEN, reason.to_string());
        if !constant_time_eq(
            signed.as_bytes(),
            field("x-supportzen-signature").as_bytes(),
        ) {
            return Err(refused(
                "the upload form's signature does not match its fields",
            ));
        }
        if expires.parse::<i64>().map_or(true, |at| at <= millis(now)) {
            return Err(refused("the upload form has expired: ask for a new one"));
        }
        if !key.starts_with(UPLOADS_PREFIX) {
            return Err(refused("upload forms only store uploads"));
        }
        let size = size
            .parse()
            .map_err(|_| refused("the upload form names no size"))?;
        Ok((key.to_string(), size))
    }

    /// Streams `part` into `path`, refusing it once it passes `size` bytes or if it ends
    /// short of them; synced to disk before it counts as stored.
    async fn write(
        &self,
        path: &Path,
        part: &mut multer::Field<'_>,
        size: u64,
    ) -> Result<(), (StatusCode, String)> {
        let failed = |e: std::io::Error| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot store the file: {e}"),
            )
        };
        let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
        let mut received = 0u64;
        while let Some(chunk) = part.chunk().await.map_err(|e| refusal(&e))? {
            received += chunk.len() as u64;
            if received > size {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the file is larger than the {size} bytes its form allows"),
                ));
            }
            file.write_all(&chunk).await.map_err(failed)?;
        }
        if received != size {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("the file is {received} bytes, not the {size} its form names"),
            ));
        }
        file.sync_all().await.map_err(failed)
    }

    /// `GET /files?key=…&type=…&disposition=…&expires=…&signature=…`: the file, if the URL was
    /// signed here and has not expired, served so that no browser runs it: its
    /// `Content-Disposition`, `nosniff`, and a sandboxing `Content-Security-Policy`.
    pub async fn download(&self, query: Option<&str>, now: SystemTime) -> Response<FileBody> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .unwrap_or_default()
        };
        let (key, content_type, disposition, expires) =
            (get("key"), get("type"), get("disposition"), get("expires"));
        let signed = self.sign(&["download", key, content_type, disposition, expires]);
        if !constant_time_eq(signed.as_bytes(), get("signature").as_bytes()) {
            return boxed(plain(
                StatusCode::FORBIDDEN,
                "this download link is not valid",
            ));
        }
        if expires.parse::<i64>().map_or(true, |at| at <= millis(now)) {
            return boxed(plain(
                StatusCode::FORBIDDEN,
                "this download link has expired",
            ));
        }
        let (file, size) = match open_sized(&self.path(key)).await {
            Ok(opened) => opened,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return boxed(plain(StatusCode::NOT_FOUND, "no such file"));
            }
            Err(err) => {
                return boxed(plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("cannot read the file: {err}"),
                ));
            }
        };
        // Read as it is sent, a chunk at a time: memory stays flat whatever the size.
        let chunks = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buffer = vec![0u8; DOWNLOAD_CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    Some((Ok(Frame::data(Bytes::from(buffer))), Some(file)))
                }
                Err(err) => Some((Err(err), None)),
            }
        });
        let mut response = Response::new(BodyExt::boxed(StreamBody::new(chunks)));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(size));
        let headers = response.headers_mut();
        // Both were signed by this server, from an allowlisted type and a file name
        // made safe for the header, so they are valid header values.
        for (name, value) in [
            (CONTENT_TYPE, content_type),
            (CONTENT_DISPOSITION, disposition),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("sandbox"),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=900"),
        );
        response
    }

    /// Keys are the API's (`uploads/<owner>/<id>`, and `files/…` for attached copies,
    /// kept apart in `kept/`): stored under their SHA-256, so no key can name a path
    /// outside the directory.
    fn path(&self, key: &str) -> PathBuf {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        if key.starts_with(FILES_PREFIX) {
            self.dir.join(KEPT_DIR).join(name)
        } else {
            self.dir.join(name)
        }
    }

    /// Copies the upload under `from` to `to` (a `files/` key, in `kept/`), through a
    /// temporary file renamed into place: whole or not at all.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), String> {
        let kept = self.dir.join(KEPT_DIR);
        tokio::fs::create_dir_all(&kept)
            .await
            .map_err(|e| format!("cannot create {}: {e}", kept.display()))?;
        let partial = kept.join(format!(".copy-{}", uuid::Uuid::now_v7()));
        let copied = async {
            tokio::fs::copy(self.path(from), &partial).await?;
            tokio::fs::File::open(&partial).await?.sync_all().await?;
            tokio::fs::rename(&partial, self.path(to)).await
        }
        .await;
        if copied.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        copied.map_err(|e| format!("cannot copy {from} to {to}: {e}"))
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any size");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

impl FileStorage for FileStore {
    fn upload_form(
        &self,
        key: &str,
        content_type: ContentType,
        size: u64,
        now: SystemTime,
    ) -> Result<UploadForm, String> {
        Ok(self.signed_form(key, content_type.as_str(), size, now, UPLOAD_FORM_LIFETIME))
    }

    async fn stored(&self, key: &str) -> Result<Stored, String> {
        let read = self.read_back(key, SNIFF_BYTES).await?;
        Ok(read.map_or(Stored::Missing, Stored::File))
    }

    /// A stored upload never changes here (a form stores once), so any version is it.
    async fn keep(&self, from: &str, _version: Option<&str>, to: &str) -> Result<Kept, String> {
        self.copy(from, to).await.map(|()| Kept::Copied)
    }

    async fn release(&self, key: &str) -> Result<(), String> {
        self.delete(key).await
    }

    fn download_url(
        &self,
        key: &str,
        content_type: ContentType,
        name: &FileName,
        now: SystemTime,
    ) -> Result<String, String> {
        Ok(self.signed_link(
            key,
            content_type.as_str(),
            &disposition(content_type, name),
            now,
            DOWNLOAD_LINK_LIFETIME,
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The body that uploads `file` with an upload form (this server's or S3's): a
/// `multipart/form-data` body of the form's fields in order, then the file as `file`.
/// Returns the `Content-Type` to send it with, and the body.
pub fn upload_body(
    fields: &Map<String, Value>,
    content_type: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    // Not in any field's value (hex of random bytes never collides with them by chance
    // worth counting), and checked against the file anyway.
    let mut boundary = String::from("supportzen-");
    let mut random = [0u8; 16];
    let _ = getrandom::fill(&mut random);
    boundary.push_str(&hex::encode(random));
    let mut body = Vec::with_capacity(file.len() + 1024);
    for (name, value) in fields {
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A multipart error as the client's fault: 413 for a part or body past its limit.
fn refusal(err: &multer::Error) -> (StatusCode, String) {
    match err {
        multer::Error::FieldSizeExceeded { field_name, .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the form field {} is longer than {MAX_FIELD_BYTES} bytes",
                field_name.as_deref().unwrap_or("(unnamed)")
            ),
        ),
        multer::Error::StreamSizeExceeded { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE.to_string())
        }
        // The body's limit (see `receive`), or the connection failing.
        multer::Error::StreamReadFailed(cause) => {
            let reason = cause.to_string();
            if reason == TOO_LARGE {
                (StatusCode::PAYLOAD_TOO_LARGE, reason)
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("the body broke off: {reason}"),
                )
            }
        }
        _ => (StatusCode::BAD_REQUEST, err.to_string()),
    }
}

/// The file at `path`, open, and its size.
async fn open_sized(path: &Path) -> std::io::Result<(tokio::fs::File, u64)> {
    let file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    Ok((file, size))
}

/// A whole response as a [`FileBody`] one.
pub fn boxed(response: Response<Full<Bytes>>) -> Response<FileBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed())
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    const BOUNDARY: &str = "zzBOUNDARYzz";

    fn multipart(form: &UploadForm, file: &[u8]) -> Full<Bytes> {
        let mut body = Vec::new();
        for (name, value) in &form.fields {
            body.extend(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                    value.as_str().unwrap()
                )
                .as_bytes(),
            );
        }
        body.extend(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\nContent-Type: image/png\r\n\r\n"
        ).as_bytes());
        body.extend(file);
        body.extend(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        Full::new(Bytes::from(body))
    }

    async fn post(
        store: &FileStore,
        form: &UploadForm,
        file: &[u8],
        now: SystemTime,
    ) -> (u16, String) {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let response = store
            .upload(Some(&content_type), multipart(form, file), now)
            .await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn png(size: usize) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.resize(size, 7);
        bytes
    }

    #[tokio::test]
    async fn a_signed_form_stores_exactly_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path(), "http://127.0.0.1:3000").unwrap();
        let now = SystemTime::now();
        let form = store.signed_form(
            "uploads/ann/att-1",
            "image/png",
            100,
            now,
            Duration::from_secs(300),
        );
        assert_eq!(form.url, "http://127.0.0.1:3000/files");
        assert_eq!(post(&store, &form, &png(100), now).await.0, 204);
        let stored = store
            .read_back("uploads/ann/att-1", 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored,
            StoredFile {
                size: 100,
                first_bytes: png(8),
                version: None,
            }
        );
        assert_eq!(store.read_back("uploads/ann/att-2", 8).await.unwrap(), None);
        // Only the stored file is in the directory: no temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn wrong_sizes_forged_fields_and_expired_forms_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path(), "http://127.0.0.1:3000").unwrap();
        let now = SystemTime::now();
        let form = store.signed_form(
            "uploads/ann/att-1",
            "image/png",
            100,
            now,
            Duration::from_secs(300),
        );
        let (status, reason) = post(&store, &form, &png(101), now).await;
        assert_eq!(
            (status, reason.as_str()),
            (413, "the file is larger than the 100 bytes its form allows")
        );
        let (status, reason) = post(&store, &form, &png(99), now).await;
        assert_eq!(
            (status, reason.as_str()),
            (400, "the file is 99 bytes, not the 100 its form names")
        );
        let mut bigger = form.clone();
        bigger
            .fields
            .insert("x-supportzen-size".into(), "1000".into());
        assert_eq!(post(&store, &bigger, &png(1000), now).await.0, 403);
        let mut elsewhere = form.clone();
        elsewhere
            .fields
            .insert("key".into(), "uploads/bob/att-1".into());
        assert_eq!(post(&store, &elsewhere, &png(100), now).await.0, 403);
        let later = now + Duration::from_secs(301);
        let (status, reason) = post(&store, &form, &png(100), later).await;
        assert_eq!(
            (status, reason.as_str()),
            (403, "the upload form has expired: ask for a new one")
        );
        // Another server's form (another key) is refused too.
        let other = FileStore::open(dir.path(), "http://127.0.0.1:3000").unwrap();
        assert_eq!(post(&other, &form, &png(100), now).await.0, 403);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing was stored"
        );
    }

    #[tokio::test]
    async fn forms_store_once_only_uploads_and_only_short_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path(), "http://127.0.0.1:3000").unwrap();
        let now = SystemTime::now();
        let form =
            |key: &str| store.signed_form(key, "image/png", 64, now, Duration::from_secs(300));
        let upload = form("uploads/ann/att-1");
        assert_eq!(post(&store, &upload, &png(64), now).await.0, 204);
        let (status, reason) = post(&store, &upload, &png(64), now).await;
        assert_eq!(
            (status, reason.as_str()),
            (
                409,
                "a file was already uploaded with this form: ask for a new one"
            )
        );
        // A kept file's key is never an upload's, even in a form signed here.
        let (status, reason) = post(&store, &form("files/ann/att-1/copy"), &png(64), now).await;
        assert_eq!(
            (status, reason.as_str()),
            (403, "upload forms only store uploads")
        );
        // A field past 4 KiB, or a form of too many fields, is refused before the file.
        let mut long = form("uploads/ann/att-2");
        long.fields
            .insert("x-extra".into(), "x".repeat(5000).into());
        let (status, reason) = post(&store, &long, &png(64), now).await;
        assert_eq!(status, 413, "{reason}");
        assert!(reason.contains("x-extra"), "{reason}");
        let mut many = form("uploads/ann/att-3");
        for n in 0..20 {
            many.fields.insert(format!("x-{n}"), "1".into());
        }
        assert_eq!(
            post(&store, &many, &png(64), now).await,
            (400, "the form has too many fields".to_string())
        );
        // Kept copies live apart, and the upload stays as it was.
        store
            .copy("uploads/ann/att-1", "files/ann/att-1/copy")
            .await
            .unwrap();
        let kept = store
            .read_back("files/ann/att-1/copy", 8)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.size, 64);
        assert!(
            dir.path()
                .join(KEPT_DIR)
                .join(hex::encode(Sha256::digest(b"files/ann/att-1/copy")))
                .exists()
        );
        store.release("files/ann/att-1/copy").await.unwrap();
        assert_eq!(
            store.read_back("files/ann/att-1/copy", 8).await.unwrap(),
            None
        );
        assert!(
            store
                .read_back("uploads/ann/att-1", 8)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn downloads_need_a_valid_unexpired_link_and_never_render() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path(), "http://127.0.0.1:3000").unwrap();
        let now = SystemTime::now();
        let form = store.signed_form(
            "uploads/ann/att-1",
            "image/png",
            64,
            now,
            Duration::from_secs(300),
        );
        post(&store, &form, &png(64), now).await;
        let disposition = "attachment; filename=\"shot.png\"";
        let url = store.signed_link(
            "uploads/ann/att-1",
            "image/png",
            disposition,
            now,
            Duration::from_secs(900),
        );
        let query = url.split_once('?').unwrap().1;
        let response = store.download(Some(query), now).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_DISPOSITION], disposition);
        assert_eq!(response.headers()[CONTENT_TYPE], "image/png");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["content-security-policy"], "sandbox");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.as_ref(), png(64).as_slice());

        let later = now + Duration::from_secs(901);
        assert_eq!(store.download(Some(query), later).await.status(), 403);
        let inline = query.replace("attachment", "inline");
        assert_eq!(store.download(Some(&inline), now).await.status(), 403);
        let html = query.replace("image%2Fpng", "text%2Fhtml");
        assert_eq!(store.download(Some(&html), now).await.status(), 403);
        let other_key = query.replace("att-1", "att-2");
        assert_eq!(store.download(Some(&other_key), now).await.status(), 403);
        assert_eq!(store.download(None, now).await.status(), 403);
    }
}
