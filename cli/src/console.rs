//! The agent console, served by `supportzen serve` at `/console/`, and the module it
//! shares with other browser clients at `/web/client.js`. The files are `web/` of the
//! repository, compiled into the binary, so a fresh clone needs no Node step; in
//! production the same files go to any static host. The console is only a client of the
//! public API: the one route here that is not the API's is the local sign-in, which mints
//! an agent token with the server's own key, and only while the server listens on a
//! loopback address (anyone who can reach a wider address could otherwise take any
//! agent's name). It also wants a loopback `Host` (a page on another name that resolves
//! to 127.0.0.1, DNS rebinding, is refused) and a JSON body (so another origin's page
//! cannot post it without a CORS preflight, which only local origins pass).

use crate::agent_tokens::AgentKey;
use hyper::HeaderMap;
use hyper::StatusCode;
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderName, HeaderValue, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, Response};
use lambda_http::Body;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use supportzen_shared::domain::{AgentId, DisplayName, Scope};
use supportzen_shared::http::response::{error_response, success};

/// Where the console is served.
pub const PREFIX: &str = "/console/";
/// Where the local sign-in is answered (`POST`, `{"id": …, "name": …}`).
pub const SIGN_IN_PATH: &str = "/console/local/sign-in";
/// Where the shared client module is served.
pub const CLIENT_PATH: &str = "/web/client.js";
/// How long a token from the local sign-in lasts; the console renews it before then.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(30 * 60);
/// The largest sign-in body read.
pub const MAX_SIGN_IN_BYTES: usize = 4096;

/// The policy every console file is served with: scripts, styles and connections from
/// this origin only (`'self'` covers the same host's `ws:` socket), no inline script or
/// style, no plugins, no framing, forms and `<base>` pinned.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
     object-src 'none'";

/// The console's files, by their path under `/console/`.
const FILES: [(&str, &str, &str); 4] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../web/console/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../web/console/console.css"),
    ),
    (
        "oidc.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/console/oidc.js"),
    ),
];

/// The shared client module.
const CLIENT_JS: &str = include_str!("../../web/client.js");

/// Whether `path` is the console's (or the shared module's) to answer.
pub fn handles(path: &str) -> bool {
    path == "/console" || path.starts_with(PREFIX) || path == CLIENT_PATH
}

/// What the console needs from the server.
pub struct Console<'a> {
    /// Signs the local sign-in's tokens.
    pub agents: &'a AgentKey,
    /// Whether the server listens on a loopback address: only then is the local sign-in
    /// offered (in `config.json`) and answered.
    pub loopback: bool,
}

#[derive(Deserialize)]
struct SignIn {
    id: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
}

impl Console<'_> {
    /// Answers a request for which [`handles`] is true. `body` is the request's body (read
    /// up to [`MAX_SIGN_IN_BYTES`] by the caller; `None` if it was longer).
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: Option<&[u8]>,
    ) -> Response<Body> {
        if path == SIGN_IN_PATH {
            return match *method {
                Method::POST => self.sign_in(headers, body),
                _ => wrong_method("POST"),
            };
        }
        if *method != Method::GET && *method != Method::HEAD {
            return wrong_method("GET, HEAD");
        }
        if path == "/console" {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static(PREFIX));
            return response;
        }
        if path == CLIENT_PATH {
            return file("text/javascript; charset=utf-8", CLIENT_JS.to_string());
        }
        let name = match &path[PREFIX.len()..] {
            "" => "index.html",
            name => name,
        };
        if name == "config.json" {
            return file("application/json", self.config().to_string());
        }
        match FILES.iter().find(|(file_name, _, _)| *file_name == name) {
            Some((_, content_type, text)) => file(content_type, (*text).to_string()),
            None => error_response(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such file in the console",
                None,
            ),
        }
    }

    /// The console's settings when served from here: local mode, with the sign-in only
    /// on a loopback address. A static host serves its own `config.json` instead, with
    /// `"mode": "oidc"` (see the README's "The agent console").
    pub fn config(&self) -> serde_json::Value {
        json!({
            "mode": "local",
            "api": "",
            "localSignIn": if self.loopback { Some(SIGN_IN_PATH) } else { None },
        })
    }

    fn sign_in(&self, headers: &HeaderMap, body: Option<&[u8]>) -> Response<Body> {
        if !self.loopback {
            return error_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the local sign-in is only offered while supportzen serve listens on a loopback address (--listen 127.0.0.1:PORT); elsewhere, sign in with your identity provider",
                None,
            );
        }
        let host = headers.get(HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(is_loopback_host) {
            return error_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the local sign-in answers pages opened on a loopback address only: open the console at http://127.0.0.1:PORT/console/ or http://localhost:PORT/console/",
                None,
            );
        }
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !json {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "send the sign-in as Content-Type: application/json",
                None,
            );
        }
        let Some(body) = body else {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the sign-in body is over 4 KiB",
                None,
            );
        };
        let invalid = |field: &str, why: &str| {
            error_response(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                &format!("{field} {why}"),
                Some(field),
            )
        };
        let Ok(SignIn { id, name }) = serde_json::from_slice::<SignIn>(body) else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the body must be a JSON object: {\"id\": \"agent-7\", \"name\": \"Sam\"}",
                None,
            );
        };
        let id = match id.as_ref().map(|v| v.as_str()) {
            Some(Some(raw)) => match AgentId::parse(raw.trim()) {
                Ok(id) => id,
                Err(why) => return invalid("id", &why),
            },
            _ => return invalid("id", "is required (a string)"),
        };
        let name = match name.as_ref().map(|v| v.as_str()) {
            None | Some(Some("")) => None,
            Some(Some(raw)) => match DisplayName::parse(raw.trim()) {
                Ok(name) => Some(name),
                Err(why) => return invalid("name", &why),
            },
            Some(None) => return invalid("name", "must be a string"),
        };
        match self
            .agents
            .mint(&id, name.as_ref(), &Scope::ALL, SIGN_IN_TTL)
        {
            Ok(token) => success(
                "Signed in.",
                &json!({
                    "token": token,
                    "expiresIn": SIGN_IN_TTL.as_secs(),
                    "agent": { "id": id.as_str(), "name": name.as_ref().map(|n| n.as_str()) },
                }),
                false,
            ),
            Err(err) => {
                tracing::error!(%err, "cannot mint a local sign-in token");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                    None,
                )
            }
        }
    }
}

/// Whether a `Host` header names this machine's loopback: `localhost`, `127.x.x.x` or
/// `[::1]`, with or without a port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn wrong_method(allowed: &'static str) -> Response<Body> {
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("this route only accepts {allowed}"),
        None,
    );
    response
        .headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(allowed));
    response
}

/// A console file with the headers every one gets.
fn file(content_type: &'static str, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated each time: a new binary serves new files at once.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (tempfile::TempDir, AgentKey) {
        let dir = tempfile::tempdir().unwrap();
        let key = AgentKey::load_or_create(&dir.path().join("key.pem")).unwrap();
        (dir, key)
    }

    fn local(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn the_local_sign_in_mints_a_token_on_loopback_only() {
        let (_dir, agents) = key();
        let body = br#"{"id": "agent-7", "name": "Sam from Support"}"#;
        let loopback = Console {
            agents: &agents,
            loopback: true,
        };
        let answer = loopback.respond(
            &Method::POST,
            SIGN_IN_PATH,
            &local("127.0.0.1:3000"),
            Some(body),
        );
        assert_eq!(answer.status(), StatusCode::OK);
        let token = body_json(&answer)["data"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        for scope in Scope::ALL {
            let claims = agents
                .verify(Some(&format!("Bearer {token}")), scope)
                .unwrap();
            assert_eq!(claims.sub, "agent-7");
            assert_eq!(claims.name.as_deref(), Some("Sam from Support"));
        }
        assert_eq!(
            loopback.config()["localSignIn"],
            json!("/console/local/sign-in")
        );

        let wide = Console {
            agents: &agents,
            loopback: false,
        };
        let refused = wide.respond(
            &Method::POST,
            SIGN_IN_PATH,
            &local("127.0.0.1:3000"),
            Some(body),
        );
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let refused = body_json(&refused);
        assert_eq!(refused["error"]["code"], "forbidden");
        assert!(refused["data"].is_null());
        assert!(wide.config()["localSignIn"].is_null());

        // On loopback: other loopback spellings pass; another name, no Host, or a body
        // that is not declared JSON (a cross-origin form post) do not.
        for host in ["localhost:3000", "[::1]:3000", "127.0.0.2", "LOCALHOST"] {
            let answer = loopback.respond(&Method::POST, SIGN_IN_PATH, &local(host), Some(body));
            assert_eq!(answer.status(), StatusCode::OK, "{host}");
        }
        for host in [
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "0.0.0.0:3000",
        ] {
            let answer = loopback.respond(&Method::POST, SIGN_IN_PATH, &local(host), Some(body));
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{host}");
        }
        let no_host = loopback.respond(&Method::POST, SIGN_IN_PATH, &HeaderMap::new(), Some(body));
        assert_eq!(no_host.status(), StatusCode::FORBIDDEN);
        let mut form = local("127.0.0.1:3000");
        form.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let form = loopback.respond(&Method::POST, SIGN_IN_PATH, &form, Some(body));
        assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_sign_in_names_the_field_at_fault() {
        let (_dir, agents) = key();
        let console = Console {
            agents: &agents,
            loopback: true,
        };
        for (body, code, field) in [
            (&br#"{"name": "Sam"}"#[..], "invalid_field", Some("id")),
            (br#"{"id": 7}"#, "invalid_field", Some("id")),
            (br#"{"id": ""}"#, "invalid_field", Some("id")),
            (br#"{"id": "a", "name": 3}"#, "invalid_field", Some("name")),
            (br#"[1]"#, "invalid_json", None),
            (b"not json", "invalid_json", None),
        ] {
            let answer =
                console.respond(&Method::POST, SIGN_IN_PATH, &local("localhost"), Some(body));
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
            let answer = body_json(&answer);
            assert_eq!(answer["error"]["code"], code);
            assert_eq!(answer["error"]["field"].as_str(), field);
        }
        let headers = local("localhost");
        let wrong = console.respond(&Method::GET, SIGN_IN_PATH, &headers, None);
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
        let too_long = console.respond(&Method::POST, SIGN_IN_PATH, &headers, None);
        assert_eq!(too_long.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn files_are_served_with_their_type_and_the_policy() {
        let (_dir, agents) = key();
        let console = Console {
            agents: &agents,
            loopback: true,
        };
        for (path, kind) in [
            ("/console/", "text/html; charset=utf-8"),
            ("/console/index.html", "text/html; charset=utf-8"),
            ("/console/console.js", "text/javascript; charset=utf-8"),
            ("/console/oidc.js", "text/javascript; charset=utf-8"),
            ("/console/console.css", "text/css; charset=utf-8"),
            ("/console/config.json", "application/json"),
            ("/web/client.js", "text/javascript; charset=utf-8"),
        ] {
            assert!(handles(path), "{path}");
            let answer = console.respond(&Method::GET, path, &HeaderMap::new(), None);
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
            assert_eq!(answer.headers()[CONTENT_TYPE], kind, "{path}");
            assert_eq!(
                answer.headers()["content-security-policy"],
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(answer.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        let missing = console.respond(
            &Method::GET,
            "/console/../Cargo.toml",
            &HeaderMap::new(),
            None,
        );
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let redirect = console.respond(&Method::GET, "/console", &HeaderMap::new(), None);
        assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
        assert!(!handles("/api/agent/conversations"));
        // The console's page loads its script as a module from this origin, never inline.
        let index = console.respond(&Method::GET, "/console/", &HeaderMap::new(), None);
        let html = std::str::from_utf8(index.body().as_ref()).unwrap();
        assert!(html.contains(r#"<script type="module" src="console.js"></script>"#));
        assert_eq!(html.matches("<script").count(), 1);
    }
}
