//! Files that customers and agents attach to messages. An upload is declared first
//! (name, type, size), checked against the limits before any upload target is signed,
//! and once stored its bytes must match the declaration: the size exactly, and the first
//! bytes the declared type (a PNG is a PNG), so that nothing uploaded as a picture is
//! served as something else.

use super::ids::parse_prefixed_uuid;
use std::fmt;
use uuid::Uuid;

/// `att-<uuidv7>`: an upload, and once attached, the file a message carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachmentId(String);

impl AttachmentId {
    const PREFIX: &'static str = "att-";

    pub fn generate() -> Self {
        AttachmentId(format!("{}{}", Self::PREFIX, Uuid::now_v7().hyphenated()))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_prefixed_uuid(raw, Self::PREFIX, "attachment")?;
        Ok(AttachmentId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest file name kept, in characters (most file systems' limit, in bytes).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A file's name as the uploader gave it, shown to the other side and offered when
/// downloading. Never a path: no `/`, `\`, control characters, `.` or `..`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be blank".into());
        }
        if name.chars().count() > MAX_FILE_NAME_CHARS {
            return Err(format!("must be at most {MAX_FILE_NAME_CHARS} characters"));
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
            || name == "."
            || name == ".."
        {
            return Err("must be a file name, without control characters, / or \\".into());
        }
        if name.chars().any(is_invisible_format) {
            return Err(
                "must not contain invisible or direction-changing characters (Unicode's format characters, general category Cf, such as U+200B or U+202E, nor the separators U+2028 and U+2029)".into(),
            );
        }
        Ok(FileName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `Content-Disposition` that makes a browser save the file under this name
    /// (RFC 6266): an ASCII fallback, and the exact name percent-encoded as UTF-8. The
    /// name ends in `extension` (the type's, e.g. `pdf`): appended when it does not, so
    /// that a file saved from a download opens as what it was checked to be.
    pub fn content_disposition(&self, extension: &str) -> String {
        let mut name = self.0.clone();
        let suffix = format!(".{extension}");
        let lower = name.to_lowercase();
        let has_it = lower.ends_with(&suffix) || (extension == "jpg" && lower.ends_with(".jpeg"));
        if !has_it {
            name.push_str(&suffix);
        }
        let fallback: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '%' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::with_capacity(name.len() * 3);
        for byte in name.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                encoded.push(byte as char);
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

/// Characters that show nothing or reorder what follows them: Unicode's format
/// characters (general category Cf: zero-width spaces and joiners, directional marks,
/// embeddings, overrides and isolates, the byte-order mark, invisible operators, tag
/// characters, ...) and the line and paragraph separators (Zl, Zp). In a file name, a
/// right-to-left override between `invoice` and `fdp.exe` shows as `invoiceexe.pdf`.
///
/// Every Cf, Zl and Zp range of Unicode 18.0 (`extracted/DerivedGeneralCategory.txt`;
/// listed here from the `unicodedata2` package's copy of the tables, as std has none).
/// A character a later version adds to Cf is not refused until it is listed here.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The kinds of file accepted: pictures, documents and archives a support conversation
/// needs. Never HTML, SVG or anything else a browser would run as script on our origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    PlainText,
    Csv,
    Zip,
}

/// How many of a file's first bytes [`ContentType::matches`] looks at.
pub const SNIFF_BYTES: usize = 512;

impl ContentType {
    pub const ALL: [ContentType; 8] = [
        ContentType::Png,
        ContentType::Jpeg,
        ContentType::Gif,
        ContentType::Webp,
        ContentType::Pdf,
        ContentType::PlainText,
        ContentType::Csv,
        ContentType::Zip,
    ];

    /// The media type, as uploads declare it and downloads are served with.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Png => "image/png",
            ContentType::Jpeg => "image/jpeg",
            ContentType::Gif => "image/gif",
            ContentType::Webp => "image/webp",
            ContentType::Pdf => "application/pdf",
            ContentType::PlainText => "text/plain",
            ContentType::Csv => "text/csv",
            ContentType::Zip => "application/zip",
        }
    }

    /// The usual file name extension of the type, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ContentType::Png => "png",
            ContentType::Jpeg => "jpg",
            ContentType::Gif => "gif",
            ContentType::Webp => "webp",
            ContentType::Pdf => "pdf",
            ContentType::PlainText => "txt",
            ContentType::Csv => "csv",
            ContentType::Zip => "zip",
        }
    }

    /// A media type of the allowlist, in any case; parameters (`; charset=…`) are not
    /// accepted, so what is stored is exactly what the signed upload policy names.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let wanted = raw.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            })
    }

    /// Pictures are shown inline; everything else is only ever downloaded.
    pub fn is_image(self) -> bool {
        matches!(
            self,
            ContentType::Png | ContentType::Jpeg | ContentType::Gif | ContentType::Webp
        )
    }

    /// Whether a file's first bytes (up to [`SNIFF_BYTES`] of them; fewer for a shorter
    /// file) are what a file of this type starts with. Text must be UTF-8 without NUL
    /// bytes (a character cut by the end of the sample is allowed).
    pub fn matches(self, first_bytes: &[u8]) -> bool {
        let sample = &first_bytes[..first_bytes.len().min(SNIFF_BYTES)];
        match self {
            ContentType::Png => sample.starts_with(b"\x89PNG\r\n\x1a\n"),
            ContentType::Jpeg => sample.starts_with(b"\xff\xd8\xff"),
            ContentType::Gif => sample.starts_with(b"GIF87a") || sample.starts_with(b"GIF89a"),
            ContentType::Webp => {
                sample.len() >= 12 && sample.starts_with(b"RIFF") && &sample[8..12] == b"WEBP"
            }
            ContentType::Pdf => sample.starts_with(b"%PDF-"),
            ContentType::Zip => {
                sample.starts_with(b"PK\x03\x04") || sample.starts_with(b"PK\x05\x06")
            }
            ContentType::PlainText | ContentType::Csv => {
                !sample.contains(&0) && utf8_but_for_a_cut_character(sample, first_bytes.len())
            }
        }
    }
}

/// Whether `sample` is UTF-8, allowing its last character to be cut off when the file
/// (`total` bytes) goes on past it.
fn utf8_but_for_a_cut_character(sample: &[u8], total: usize) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(err) => err.error_len().is_none() && total > sample.len(),
    }
}

/// What uploads may be: set by the deployment, checked when an upload is declared and
/// again when it is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// The largest file, in bytes.
    pub max_bytes: u64,
    /// The most files one message may carry.
    pub max_per_message: usize,
    /// The types accepted, a subset of [`ContentType::ALL`].
    pub types: Vec<ContentType>,
}

/// 10 MiB: a phone's screenshot or a scanned invoice, well under what a browser uploads
/// in a few seconds on a slow line.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            max_per_message: DEFAULT_MAX_ATTACHMENTS_PER_MESSAGE,
            types: ContentType::ALL.to_vec(),
        }
    }
}

/// An upload as declared, each part within the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredUpload {
    pub name: FileName,
    pub content_type: ContentType,
    /// The exact size in bytes the stored file must have.
    pub size: u64,
}

impl AttachmentLimits {
    /// `content_type` if these limits accept it.
    pub fn content_type(&self, raw: &str) -> Result<ContentType, String> {
        let kind = ContentType::parse(raw)?;
        if !self.types.contains(&kind) {
            let names: Vec<&str> = self.types.iter().map(|kind| kind.as_str()).collect();
            return Err(format!("must be one of {}", names.join(", ")));
        }
        Ok(kind)
    }

    /// `size` (bytes) if it is 1 byte to [`AttachmentLimits::max_bytes`].
    pub fn size(&self, size: u64) -> Result<u64, String> {
        if size == 0 || size > self.max_bytes {
            return Err(format!("must be 1 to {} bytes", self.max_bytes));
        }
        Ok(size)
    }

    /// Whether a stored file of `stored_size` bytes starting with `first_bytes` is the
    /// file `declared` promised.
    pub fn stored_matches(
        &self,
        declared: &DeclaredUpload,
        stored_size: u64,
        first_bytes: &[u8],
    ) -> Result<(), String> {
        if stored_size != declared.size {
            return Err(format!(
                "is {stored_size} bytes, not the {} declared",
                declared.size
            ));
        }
        if !declared.content_type.matches(first_bytes) {
            return Err(format!(
                "its content is not {}",
                declared.content_type.as_str()
            ));
        }
        Ok(())
    }
}

/// Whose uploads these are: the folder every key of theirs is under,
/// `uploads/customer/<16 hex>` or `uploads/agent/<16 hex>` (the first 16 hex digits of
/// the SHA-256 of the email or agent id, so a key names nobody). An upload may only be
/// attached by the caller whose folder it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploader(String);

/// Where every upload's key starts; the bucket's grants and lifecycle rule name it.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// Where attached files are kept: a checked copy of the upload, under a key no upload
/// form ever names, so that posting the form again cannot change what a message links to.
pub const FILES_PREFIX: &str = "files/";

impl Uploader {
    pub fn customer(user: &super::UserId) -> Self {
        Self::under("customer", user.as_str())
    }

    pub fn agent(agent: &super::AgentId) -> Self {
        Self::under("agent", agent.as_str())
    }

    fn under(side: &str, who: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(who.as_bytes());
        Uploader(format!(
            "{UPLOADS_PREFIX}{side}/{}",
            &hex::encode(digest)[..16]
        ))
    }

    /// A folder as stored.
    pub fn from_stored(folder: String) -> Self {
        Uploader(folder)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key an upload of theirs is stored under.
    pub fn key(&self, id: &AttachmentId) -> String {
        format!("{}/{}", self.0, id.as_str())
    }

    /// A new key to keep a checked copy of their upload `id` under once a message
    /// attaches it: `files/<side>/<hash>/<id>/<copy>`, with `<copy>` new at every attach,
    /// so that two messages racing for one upload never share (or undo) a copy.
    pub fn kept_key(&self, id: &AttachmentId) -> String {
        let folder = self.0.strip_prefix(UPLOADS_PREFIX).unwrap_or(&self.0);
        format!(
            "{FILES_PREFIX}{folder}/{}/{}",
            id.as_str(),
            Uuid::now_v7().simple()
        )
    }

    /// Whose file `key` is: the folder of an upload's key (`uploads/<side>/<hash>/<id>`)
    /// or of a kept copy's (`files/<side>/<hash>/<id>/<copy>`).
    pub fn of_key(key: &str) -> Option<Uploader> {
        let rest = key
            .strip_prefix(UPLOADS_PREFIX)
            .or_else(|| key.strip_prefix(FILES_PREFIX))?;
        let mut parts = rest.splitn(3, '/');
        let (side, who, id) = (parts.next()?, parts.next()?, parts.next()?);
        if side.is_empty() || who.is_empty() || id.is_empty() {
            return None;
        }
        Some(Uploader(format!("{UPLOADS_PREFIX}{side}/{who}")))
    }
}

/// A file a message carries: what its upload declared (and the stored file was found
/// to match), and where it is stored. Stored with the message, so reading it needs no
/// other query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub name: FileName,
    pub content_type: ContentType,
    pub size: u64,
    /// The storage key of the kept copy: `files/<side>/<hash>/<id>/<copy>`
    /// ([`Uploader::kept_key`]). Builds before copies were kept stored the upload's own
    /// key, `uploads/<side>/<hash>/<id>`; none was ever deployed, and the message pages'
    /// roles may read only `files/`, so such a message's links would be refused.
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_ids_are_prefixed_uuids() {
        let id = AttachmentId::generate();
        assert_eq!(AttachmentId::parse(id.as_str()), Ok(id.clone()));
        for bad in [
            "",
            "att-",
            "att-xyz",
            "msg-0194f1d2-7c1e-7000-8000-000000000000",
        ] {
            assert!(AttachmentId::parse(bad).is_err(), "{bad}");
        }
        assert!(
            AttachmentId::parse(&id.as_str().to_uppercase().replace("ATT-", "att-")).is_err(),
            "one spelling only"
        );
    }

    #[test]
    fn uploads_are_keyed_under_a_folder_that_names_nobody() {
        let ann = super::super::Email::parse("ann@example.com").unwrap();
        let folder = Uploader::customer(ann.user_id());
        assert!(folder.as_str().starts_with("uploads/customer/"));
        assert_eq!(folder.as_str().len(), "uploads/customer/".len() + 16);
        assert!(!folder.as_str().contains("ann"));
        let agent = Uploader::agent(&super::super::AgentId::parse("ann@example.com").unwrap());
        assert_ne!(agent, folder, "the two sides never share a folder");
        let id = AttachmentId::generate();
        assert_eq!(folder.key(&id), format!("{}/{id}", folder.as_str()));
        // Kept copies: under files/, new at each attach, and still the uploader's.
        let kept = folder.kept_key(&id);
        assert!(
            kept.starts_with(&format!(
                "files/customer/{}/{id}/",
                &folder.as_str()["uploads/customer/".len()..]
            )),
            "{kept}"
        );
        assert_ne!(kept, folder.kept_key(&id));
        assert_eq!(Uploader::of_key(&kept), Some(folder.clone()));
        assert_eq!(Uploader::of_key(&folder.key(&id)), Some(folder.clone()));
        for bad in [
            "",
            "uploads/customer",
            "uploads/customer/ab",
            "other/customer/ab/att-1",
            "files//ab/x",
        ] {
            assert_eq!(Uploader::of_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_names_are_names_not_paths() {
        assert_eq!(
            FileName::parse(" invoice 2026.pdf ").unwrap().as_str(),
            "invoice 2026.pdf"
        );
        assert!(FileName::parse(&"é".repeat(MAX_FILE_NAME_CHARS)).is_ok());
        for bad in [
            "",
            "  ",
            "../etc/passwd",
            "a/b.png",
            "a\\b.png",
            "a\nb",
            ".",
            "..",
            &"x".repeat(256),
            "invoice\u{202E}fdp.exe",
            "a\u{200B}b.png",
            "a\u{200F}.png",
            "a\u{2066}b\u{2069}.png",
            "\u{FEFF}a.png",
            "a\u{7f}.png",
            // Format characters a hand list had missed, and the separators.
            "a\u{061C}b.png",
            "a\u{2060}b.png",
            "a\u{2064}b.png",
            "a\u{206A}b.png",
            "a\u{206F}b.png",
            "a\u{180E}b.png",
            "a\u{00AD}b.png",
            "a\u{E0041}b.png",
            "a\u{1343F}b.png",
            "a\u{2028}b.png",
            "a\u{2029}b.png",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        // Their neighbours, letters and symbols, are names.
        for good in [
            "a\u{061B}b.png",
            "a\u{2027}b.png",
            "a\u{2070}b.png",
            "日本語.png",
            "🙂.png",
        ] {
            assert!(FileName::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn downloads_keep_the_name_without_breaking_the_header() {
        let name = FileName::parse("Rechnung \"März\" 100%.pdf").unwrap();
        assert_eq!(
            name.content_disposition("pdf"),
            "attachment; filename=\"Rechnung _M_rz_ 100_.pdf\"; filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22%20100%25.pdf"
        );
        // The type's extension is appended when the name lacks it.
        let bare = FileName::parse("report.exe").unwrap();
        assert_eq!(
            bare.content_disposition("pdf"),
            "attachment; filename=\"report.exe.pdf\"; filename*=UTF-8''report.exe.pdf"
        );
        let upper = FileName::parse("LOG.TXT").unwrap();
        assert!(upper.content_disposition("txt").ends_with("''LOG.TXT"));
        let jpeg = FileName::parse("me.jpeg").unwrap();
        assert!(jpeg.content_disposition("jpg").ends_with("''me.jpeg"));
    }

    #[test]
    fn content_types_come_from_the_allowlist() {
        for kind in ContentType::ALL {
            assert_eq!(ContentType::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(ContentType::parse("IMAGE/PNG"), Ok(ContentType::Png));
        for bad in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "text/plain; charset=utf-8",
            "",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad}");
        }
        let pictures = AttachmentLimits {
            types: vec![ContentType::Png],
            ..AttachmentLimits::default()
        };
        assert_eq!(pictures.content_type("image/png"), Ok(ContentType::Png));
        assert_eq!(
            pictures.content_type("application/pdf"),
            Err("must be one of image/png".to_string())
        );
    }

    #[test]
    fn first_bytes_must_match_the_declared_type() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let webp = b"RIFF\x24\0\0\0WEBPVP8 ";
        let samples: [(ContentType, &[u8]); 8] = [
            (ContentType::Png, png),
            (ContentType::Jpeg, b"\xff\xd8\xff\xe0\0\x10JFIF"),
            (ContentType::Gif, b"GIF89a\x01\0\x01\0"),
            (ContentType::Webp, webp),
            (ContentType::Pdf, b"%PDF-1.7\n"),
            (ContentType::PlainText, "Grüße, line one\n".as_bytes()),
            (ContentType::Csv, b"id,amount\n1,20\n"),
            (ContentType::Zip, b"PK\x03\x04\x14\0"),
        ];
        let text = |k: ContentType| matches!(k, ContentType::PlainText | ContentType::Csv);
        for (kind, bytes) in samples {
            assert!(kind.matches(bytes), "{kind:?}");
            for (other, other_bytes) in samples {
                // Text is any UTF-8 without NUL: a PDF's header is text too, which is
                // harmless (text is only ever downloaded, never shown inline).
                let also_text = text(kind) && (text(other) || other == ContentType::Pdf);
                if other != kind && !also_text {
                    assert!(
                        !kind.matches(other_bytes),
                        "{other:?} bytes passed as {kind:?}"
                    );
                }
            }
        }
        // An HTML page declared as a PNG, text with NUL bytes, a cut-off header.
        assert!(!ContentType::Png.matches(b"<html><script>alert(1)</script>"));
        assert!(!ContentType::PlainText.matches(b"MZ\x90\0\x03\0"));
        assert!(!ContentType::Png.matches(&png[..4]));
        assert!(!ContentType::Webp.matches(b"RIFF\x24\0\0\0WAVE"));
    }

    #[test]
    fn text_may_end_its_sample_in_the_middle_of_a_character() {
        let mut text = "a".repeat(SNIFF_BYTES - 1).into_bytes();
        text.extend("é".as_bytes()); // 2 bytes: the sample ends after the first
        assert!(ContentType::PlainText.matches(&text));
        // ...but not a file that really ends there.
        assert!(!ContentType::PlainText.matches(&text[..SNIFF_BYTES]));
        assert!(!ContentType::PlainText.matches(b"bad \xff byte"));
    }

    #[test]
    fn stored_files_must_be_what_was_declared() {
        let limits = AttachmentLimits::default();
        assert_eq!(
            limits.size(DEFAULT_MAX_ATTACHMENT_BYTES),
            Ok(DEFAULT_MAX_ATTACHMENT_BYTES)
        );
        assert!(limits.size(0).is_err());
        assert!(limits.size(DEFAULT_MAX_ATTACHMENT_BYTES + 1).is_err());
        let declared = DeclaredUpload {
            name: FileName::parse("shot.png").unwrap(),
            content_type: ContentType::Png,
            size: 16,
        };
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(limits.stored_matches(&declared, 16, png), Ok(()));
        assert_eq!(
            limits.stored_matches(&declared, 17, png),
            Err("is 17 bytes, not the 16 declared".to_string())
        );
        assert_eq!(
            limits.stored_matches(&declared, 16, b"GIF89a\x01\0\x01\0abcdef"),
            Err("its content is not image/png".to_string())
        );
    }
}
