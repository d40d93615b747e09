//! The shared crate's layers, as `shared/src/lib.rs` lists them: each module imports only
//! the ones before it (so there is no import circle either), the adapters (`dynamo`,
//! `s3`, `ses`, `webhook_client`) are imported by nothing in the crate but the Lambda wiring
//! (not by each other either: what they share is `https_client` and `aws_http`, below
//! them all),
//! and `lambda_http` appears only in the transports and the Lambda wiring. Read from the
//! sources' `use` paths outside their `#[cfg(test)]` modules; comments do not count.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules, lowest layer first.
const LAYERS: &[&str] = &[
    "domain",
    // Settings: the attachment limits it reads are domain values.
    "config",
    "endpoint",
    "events",
    "auth",
    "idempotency",
    "store",
    "error",
    // The unread-reply emails: composing them, and the mailer port.
    "notify",
    "flows",
    "http",
    "ws",
    "https_client",
    "aws_http",
    "dynamo",
    "s3",
    // SES v2 (signed as S3's calls are): the mailer of production's due-work.
    "ses",
    "webhook_client",
    "lambda",
];

/// The adapters: none imports another.
const ADAPTERS: &[&str] = &["dynamo", "s3", "webhook_client"];

/// Where `lambda_http` may be used.
const LAMBDA_HTTP_USERS: &[&str] = &["http", "ws", "lambda"];

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

/// Every `.rs` file under `dir`, with the top-level module it belongs to.
fn sources(dir: &Path, module: Option<&str>, found: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let top = module.map_or(name.clone(), str::to_string);
        if path.is_dir() {
            sources(&path, Some(&top), found);
        } else if path.extension().is_some_and(|e| e == "rs") && top != "lib" {
            found.push((top, path));
        }
    }
}

/// A file's code outside its `#[cfg(test)]` module, without comment lines.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`.
fn imported(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn rank(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| *layer == module)
        .unwrap_or_else(|| panic!("shared/src/{module} is in no layer: add it to LAYERS"))
}

#[test]
fn each_module_imports_only_the_layers_before_it() {
    let mut files = Vec::new();
    sources(&shared_src(), None, &mut files);
    assert!(files.len() > 30, "read the sources: {files:?}");
    let mut upward = Vec::new();
    let mut lambda_http = Vec::new();
    for (module, path) in &files {
        let code = code(path);
        // `use crate::{a::X, b::Y}` would hide its modules from `imported`: none is
        // written so, and this keeps it that way.
        assert!(
            !code.contains("crate::{"),
            "{}: name each module in its own `use crate::module::…`",
            path.display()
        );
        for other in imported(&code) {
            if other != *module && rank(&other) > rank(module) {
                upward.push(format!("{} imports {other}", path.display()));
            }
            if other != *module
                && ADAPTERS.contains(&module.as_str())
                && ADAPTERS.contains(&other.as_str())
            {
                upward.push(format!("{} (an adapter) imports {other}", path.display()));
            }
        }
        if code.contains("lambda_http") && !LAMBDA_HTTP_USERS.contains(&module.as_str()) {
            lambda_http.push(path.display().to_string());
        }
    }
    assert_eq!(upward, Vec::<String>::new(), "imports of a later layer");
    assert_eq!(
        lambda_http,
        Vec::<String>::new(),
        "lambda_http outside the transports"
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let code = "use crate::domain::Email;\n// crate::dynamo in a comment\nuse crate::flows::open;";
    let code: String = code
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let found = imported(&code);
    assert_eq!(
        found,
        BTreeSet::from(["domain".to_string(), "flows".to_string()])
    );
    assert!(
        rank("flows") > rank("store"),
        "store importing flows is upward"
    );
}
