//! The customer messenger (`web/messenger.js`, a `<supportzen-messenger>` web component,
//! and `web/client.js`, which it imports), served for host pages on any origin, and the
//! demo host page at `/demo/`.
//!
//! - `/web/messenger.<hash>.js` and `/web/client.<hash>.js`: the files under a name
//!   derived from their content (the first 12 hex digits of its SHA-256; the messenger's
//!   import names the client's hashed file), cached for a year as immutable. A new binary
//!   with other files serves other names.
//! - `/web/messenger.js`: the stable name for the one-tag install, revalidated on every
//!   use (`no-cache`), importing the stable `/web/client.js`.
//! - `/demo/`: a sample host page that signs in a demo customer on the server side (it
//!   gives `demo@example.com` a fresh secret and computes the token as a host product's
//!   server does), so that the console and a customer can talk at once. Like the
//!   console's local sign-in, only while serve listens on a loopback address and for a
//!   loopback `Host`.

use crate::console::is_loopback_host;
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderName, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Method, Response, StatusCode};
use lambda_http::Body;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;
use supportzen_shared::auth::{Secret, sign};
use supportzen_shared::domain::Email;
use supportzen_shared::http::response::error_response;
use supportzen_shared::store::UserProvisioner;

/// The messenger's stable path.
pub const MESSENGER_PATH: &str = "/web/messenger.js";
/// The shared client module's stable path (also the console's).
pub const CLIENT_PATH: &str = "/web/client.js";
/// Where the demo host page is served.
pub const DEMO_PATH: &str = "/demo/";
/// The customer the demo page signs in.
pub const DEMO_EMAIL: &str = "demo@example.com";

const MESSENGER_JS: &str = include_str!("../../web/messenger.js");
const CLIENT_JS: &str = include_str!("../../web/client.js");
const DEMO_CSS: &str = include_str!("../../web/demo/demo.css");

/// The messenger's import of the client, as written in `web/messenger.js`.
const CLIENT_IMPORT: &str = "from './client.js'";

/// A year: the longest lifetime caches honour, for files whose name changes with them.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The policy of the demo page: its own scripts, styles and connections only.
const DEMO_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'; object-src 'none'";

/// The hashed files: (path, text), the client first.
struct Hashed {
    client: (String, String),
    messenger: (String, String),
}

fn short_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..12].to_string()
}

fn hashed() -> &'static Hashed {
    static HASHED: OnceLock<Hashed> = OnceLock::new();
    HASHED.get_or_init(|| {
        let client_name = format!("client.{}.js", short_hash(CLIENT_JS));
        let messenger = MESSENGER_JS.replace(CLIENT_IMPORT, &format!("from './{client_name}'"));
        Hashed {
            client: (format!("/web/{client_name}"), CLIENT_JS.to_string()),
            messenger: (
                format!("/web/messenger.{}.js", short_hash(&messenger)),
                messenger,
            ),
        }
    })
}

/// The messenger's content-hashed path, e.g. `/web/messenger.3f9a0c21b7de.js`.
pub fn hashed_messenger_path() -> &'static str {
    &hashed().messenger.0
}

/// Whether `path` is this module's to answer.
pub fn handles(path: &str) -> bool {
    path == MESSENGER_PATH
        || path == "/demo"
        || path.starts_with(DEMO_PATH)
        || (path.starts_with("/web/") && path.ends_with(".js") && hashed_file(path).is_some())
}

fn hashed_file(path: &str) -> Option<&'static str> {
    let files = hashed();
    [&files.client, &files.messenger]
        .into_iter()
        .find(|(name, _)| name == path)
        .map(|(_, text)| text.as_str())
}

/// What the demo page needs from the server.
pub struct Demo<'a, U> {
    pub users: &'a U,
    /// The secret the demo customer gets (fresh per server start).
    pub secret: &'a Secret,
    /// Whether the server listens on a loopback address.
    pub loopback: bool,
}

impl<U: UserProvisioner> Demo<'_, U> {
    /// Answers a GET or HEAD for which [`handles`] is true.
    pub async fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Response<Body> {
        if *method != Method::GET && *method != Method::HEAD {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path only accepts GET, HEAD",
                None,
            );
            response
                .headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        if path == MESSENGER_PATH {
            return script(MESSENGER_JS.to_string(), "no-cache");
        }
        if let Some(text) = hashed_file(path) {
            return script(text.to_string(), IMMUTABLE);
        }
        match path {
            "/demo" | "/demo/" | "/demo/index.html" => self.page(headers).await,
            "/demo/demo.css" => {
                let mut response = Response::new(Body::Text(DEMO_CSS.to_string()));
                common_headers(&mut response, "text/css; charset=utf-8", "no-cache");
                response
            }
            _ => error_response(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such file in the demo",
                None,
            ),
        }
    }

    async fn page(&self, headers: &HeaderMap) -> Response<Body> {
        let host = headers.get(HOST).and_then(|h| h.to_str().ok());
        if !self.loopback || !host.is_some_and(is_loopback_host) {
            return error_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the demo signs a customer in with the server's own secret, so it is only served while supportzen serve listens on a loopback address, to pages opened at http://127.0.0.1:PORT/demo/ or http://localhost:PORT/demo/",
                None,
            );
        }
        let email = Email::parse(DEMO_EMAIL).expect("the demo email parses");
        // As a host product does for its users: give the customer a secret, then sign
        // their email with it. A fresh secret per server start: the one before it stops
        // working at once (no grace).
        if let Err(err) = self
            .users
            .put_secret(email.user_id(), self.secret, Duration::ZERO)
            .await
        {
            tracing::error!(%err, "cannot provision the demo customer");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store did not take the demo customer; reload in a moment",
                None,
            );
        }
        let token = sign(self.secret, DEMO_EMAIL);
        let html = demo_html(&token, hashed_messenger_path());
        let mut response = Response::new(Body::Text(html));
        common_headers(&mut response, "text/html; charset=utf-8", "no-store");
        response.headers_mut().insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(DEMO_POLICY),
        );
        response
    }
}

/// The demo page: a pretend product's page with the one tag and the one element.
fn demo_html(token: &str, script: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Billing (SupportZen messenger demo)</title>
<link rel="stylesheet" href="/demo/demo.css">
<script type="module" src="{script}"></script>
</head>
<body>
<header><strong>Acme Billing</strong> <span>a sample host page</span></header>
<main>
<h1>Your invoices</h1>
<p>This page stands for a product that embeds the SupportZen messenger. Its server signed
in <code>{DEMO_EMAIL}</code>: it computed the token, <code>hex(HMAC-SHA256(secret, email))</code>,
with the secret this <code>supportzen serve</code> gave the demo customer.</p>
<p>Open the chat at the bottom right, and answer it from the agent console at
<a href="/console/">/console/</a> in another window.</p>
</main>
<supportzen-messenger api="" email="{DEMO_EMAIL}" token="{token}" name="Demo Customer" plan-id="5" created-at="1679223400"></supportzen-messenger>
</body>
</html>
"#
    )
}

fn common_headers(response: &mut Response<Body>, content_type: &'static str, cache: &'static str) {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// A script for other origins' pages: a module script is fetched with CORS, which
/// serve's CORS layer answers for the origins it allows (the API's own rule: a page that
/// may call the API may load the messenger from it).
fn script(text: String, cache: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    common_headers(&mut response, "text/javascript; charset=utf-8", cache);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use supportzen_shared::auth::Credential;
    use supportzen_shared::store::UserReader;
    use supportzen_sqlite::SqliteStore;

    fn host(name: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(name).unwrap());
        headers
    }

    fn text(response: &Response<Body>) -> String {
        String::from_utf8(response.body().as_ref().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_files_are_served_hashed_and_immutable_or_stable_and_revalidated() {
        let store = SqliteStore::open(":memory:").unwrap();
        let secret = Secret::parse("demo-secret").unwrap();
        let demo = Demo {
            users: &store,
            secret: &secret,
            loopback: true,
        };
        let path = hashed_messenger_path();
        assert!(handles(path) && handles(MESSENGER_PATH) && handles(DEMO_PATH));
        assert!(!handles("/web/messenger.000000000000.js"));
        let answer = demo.respond(&Method::GET, path, &HeaderMap::new()).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(
            answer.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        // The hashed messenger imports the hashed client, which is served as immutable.
        let body = text(&answer);
        let client = &hashed().client.0;
        assert!(body.contains(&format!("from '.{}'", &client["/web".len()..])));
        assert!(!body.contains(CLIENT_IMPORT));
        let client = demo.respond(&Method::GET, client, &HeaderMap::new()).await;
        assert_eq!(client.headers()[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(text(&client), CLIENT_JS);
        let stable = demo
            .respond(&Method::GET, MESSENGER_PATH, &HeaderMap::new())
            .await;
        assert_eq!(stable.headers()[CACHE_CONTROL], "no-cache");
        assert!(text(&stable).contains(CLIENT_IMPORT));
        let post = demo
            .respond(&Method::POST, MESSENGER_PATH, &HeaderMap::new())
            .await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn the_demo_signs_its_customer_in_on_loopback_only() {
        let store = SqliteStore::open(":memory:").unwrap();
        let secret = Secret::parse("demo-secret").unwrap();
        let demo = Demo {
            users: &store,
            secret: &secret,
            loopback: true,
        };
        let page = demo
            .respond(&Method::GET, DEMO_PATH, &host("127.0.0.1:3000"))
            .await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = text(&page);
        let token = sign(&secret, DEMO_EMAIL);
        assert!(html.contains(&format!("token=\"{token}\"")));
        assert!(html.contains(&format!("src=\"{}\"", hashed_messenger_path())));
        assert_eq!(html.matches("<script").count(), 1, "no inline script");
        // The customer now has that secret: the store authenticates the token.
        let email = Email::parse(DEMO_EMAIL).unwrap();
        let user = store.find_user(email.user_id()).await.unwrap().unwrap();
        assert!(matches!(user.credential, Credential::Secret { .. }));
        for (loopback, name) in [(true, "evil.example"), (false, "127.0.0.1:3000")] {
            let refused = Demo {
                users: &store,
                secret: &secret,
                loopback,
            }
            .respond(&Method::GET, DEMO_PATH, &host(name))
            .await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{name}");
        }
    }
}
