//! CORS on the local server, as a browser meets it: a preflight from an allowed origin
//! is answered with the API's rules, the answer itself lets the page read the headers it
//! needs, and an origin that is not allowed gets no CORS headers at all (the browser
//! then refuses the page the answer). `tests/browser/run` drives a real browser too.

use reqwest::Method;
use reqwest::header::HeaderMap;
use supportzen::cors;
use supportzen_sqlite::SqliteStore;
use supportzen_tests::{LIVE_CREATE, TestApp, create_body, token};

const PAGE: &str = "http://localhost:5173";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// The comma-separated values of a header, lower-cased.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn preflight(app: &TestApp<SqliteStore>, origin: &str) -> reqwest::Response {
    app.raw(Method::OPTIONS, LIVE_CREATE)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_preflight_from_a_local_page_is_answered_with_the_apis_rules() {
    let app = TestApp::<SqliteStore>::spawn().await;
    let response = preflight(&app, PAGE).await;
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        list(headers, "access-control-allow-methods"),
        ["get", "post"]
    );
    assert_eq!(
        list(headers, "access-control-allow-headers"),
        cors::ALLOW_HEADERS
    );
    assert_eq!(header(headers, "access-control-max-age"), Some("600"));
}

#[tokio::test]
async fn an_answer_to_a_local_page_exposes_the_headers_clients_read() {
    let app = TestApp::<SqliteStore>::spawn().await;
    let response = app
        .raw(Method::POST, LIVE_CREATE)
        .header("origin", "http://127.0.0.1:8080")
        .bearer_auth(token("s3cret", "ann@example.com"))
        .json(&create_body("ann@example.com", "from a browser"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        list(headers, "access-control-expose-headers"),
        cors::EXPOSE_HEADERS
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = TestApp::<SqliteStore>::spawn().await;
    for origin in ["https://evil.example", "http://localhost.evil.example:5173"] {
        let response = preflight(&app, origin).await;
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
}
