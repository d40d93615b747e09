//! CORS for `supportzen serve`, by the rules production's API Gateway applies
//! (`template.yaml`'s `CorsConfiguration`; `tests/repository/template.rs` checks the two agree), so
//! that a browser front end on another local port behaves as it will against AWS.
//! Origins are the one setting that differs: production names its front end's origin,
//! locally any port of `localhost` or `127.0.0.1` is allowed unless told otherwise.

use hyper::Method;
use hyper::header::{HeaderName, HeaderValue};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use supportzen_shared::endpoint::Endpoint;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser may send (besides the CORS-safelisted ones).
pub const ALLOW_HEADERS: [&str; 4] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "x-supportzen-email",
];

/// Response headers browser code may read (besides the CORS-safelisted ones).
pub const EXPOSE_HEADERS: [&str; 3] = ["retry-after", "idempotent-replayed", "x-request-id"];

/// How long a browser may cache a preflight answer.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// The origins allowed when none are configured: any port of the loopback names that a
/// development server uses.
pub const DEVELOPMENT_ORIGINS: [&str; 2] = ["http://localhost:*", "http://127.0.0.1:*"];

/// The methods the endpoint table's routes take, each once.
pub fn allow_methods() -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Endpoint::ALL.iter().map(|e| e.method()).collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// An allowed origin: `*` (any), `scheme://host[:port]`, or `scheme://host:*` (any port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginPattern {
    Any,
    Exact(String),
    AnyPort(String),
}

impl FromStr for OriginPattern {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        if raw == "*" {
            return Ok(OriginPattern::Any);
        }
        let invalid = || {
            format!(
                "{raw:?} is not an origin: expected *, or scheme://host with an optional :port or :*, e.g. http://localhost:5173"
            )
        };
        let (scheme, rest) = raw.split_once("://").ok_or_else(invalid)?;
        if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') {
            return Err(invalid());
        }
        match rest.strip_suffix(":*") {
            Some(host) if !host.is_empty() && !host.contains(':') => {
                Ok(OriginPattern::AnyPort(format!("{scheme}://{host}")))
            }
            Some(_) => Err(invalid()),
            None => Ok(OriginPattern::Exact(raw.to_string())),
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Any => f.write_str("*"),
            OriginPattern::Exact(origin) => f.write_str(origin),
            OriginPattern::AnyPort(base) => write!(f, "{base}:*"),
        }
    }
}

impl OriginPattern {
    /// Whether a request's `Origin` is allowed by this pattern.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            OriginPattern::Any => true,
            OriginPattern::Exact(allowed) => origin == allowed,
            OriginPattern::AnyPort(base) => {
                origin == base
                    || origin.strip_prefix(base.as_str()).is_some_and(|rest| {
                        rest.strip_prefix(':').is_some_and(|port| {
                            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                        })
                    })
            }
        }
    }
}

/// The CORS layer for `origins`.
pub fn layer(origins: Vec<OriginPattern>) -> CorsLayer {
    let methods: Vec<Method> = allow_methods()
        .into_iter()
        .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|origin| origins.iter().any(|pattern| pattern.allows(origin)))
        }))
        .allow_methods(methods)
        .allow_headers(ALLOW_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSE_HEADERS.map(HeaderName::from_static))
        .max_age(MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(raw: &str) -> OriginPattern {
        raw.parse().unwrap()
    }

    #[test]
    fn patterns_allow_what_they_name_and_nothing_else() {
        let any_port = pattern("http://localhost:*");
        for allowed in [
            "http://localhost:5173",
            "http://localhost:3000",
            "http://localhost",
        ] {
            assert!(any_port.allows(allowed), "{allowed}");
        }
        for refused in [
            "http://localhost.evil.example:5173",
            "https://localhost:5173",
            "http://localhost:",
            "http://localhost:51x",
            "http://127.0.0.1:5173",
        ] {
            assert!(!any_port.allows(refused), "{refused}");
        }
        let exact = pattern("https://app.example.com");
        assert!(exact.allows("https://app.example.com"));
        assert!(!exact.allows("https://app.example.com:8443"));
        assert!(pattern("*").allows("https://anything.example"));
    }

    #[test]
    fn malformed_patterns_are_refused_with_an_example() {
        for bad in [
            "localhost:5173",
            "ftp://x",
            "http://",
            "http://x/app",
            "http://:*",
            "http://a:1:*",
        ] {
            let err = bad.parse::<OriginPattern>().unwrap_err();
            assert!(err.contains("http://localhost:5173"), "{bad}: {err}");
        }
        assert_eq!(
            pattern("http://127.0.0.1:*").to_string(),
            "http://127.0.0.1:*"
        );
    }
}
