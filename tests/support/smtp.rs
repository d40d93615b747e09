//! A real SMTP server for the email tests: aiosmtpd (from PyPI, in the project's
//! `.venv/`, which scripts/venv installs and ./scripts/test runs) on a free loopback
//! port, keeping each message it receives in a maildir the test reads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running aiosmtpd; stopped when dropped.
pub struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// One received email: its headers and, with quoted-printable undone, its text.
#[derive(Clone, Debug)]
pub struct Received {
    pub raw: String,
    pub decoded: String,
}

impl Received {
    /// The first header of that name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.lines() {
            if let Some(current) = &mut found {
                if line.starts_with([' ', '\t']) {
                    current.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_string());
            }
        }
        found
    }

    /// The part of that content type, decoded.
    pub fn part(&self, content_type: &str) -> String {
        let (_, rest) = self
            .decoded
            .split_once(&format!("Content-Type: {content_type}"))
            .unwrap_or_else(|| panic!("no {content_type} part in {}", self.decoded));
        let (_, body) = rest.split_once("\n\n").unwrap();
        body.split("\n--").next().unwrap().to_string()
    }
}

/// Quoted-printable undone (soft line breaks and `=XX`), enough for the tests' checks.
fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SmtpSink {
    pub fn start() -> Self {
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        let available = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            available,
            "this test needs aiosmtpd in the project's .venv/: run scripts/venv (./scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Below the ephemeral range: a port from binding 0 could become another
        // connection's source port before the server binds it (scripts/free-port).
        let port = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/free-port"))
            .output()
            .ok()
            .and_then(|out| {
                String::from_utf8(out.stdout)
                    .ok()?
                    .trim()
                    .parse::<u16>()
                    .ok()
            })
            .expect("a free port from scripts/free-port");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let mut sink = SmtpSink { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                sink.child.try_wait().unwrap().is_none(),
                "aiosmtpd exited before listening"
            );
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every email received so far.
    pub fn received(&self) -> Vec<Received> {
        let mut all = Vec::new();
        for folder in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(folder)) else {
                continue;
            };
            for entry in entries {
                let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                let raw = raw.replace("\r\n", "\n");
                let decoded = decode_quoted_printable(&raw);
                all.push(Received { raw, decoded });
            }
        }
        all
    }

    /// The emails to `address` so far.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.header("To").as_deref() == Some(address))
            .collect()
    }

    /// Waits (up to 30 s) until `address` has received `count` emails, and answers them.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.to(address);
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{address} got {} emails, not {count}, within 30 s",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
