//! A DynamoDB endpoint on loopback that answers instantly and successfully, so the
//! harness measures the functions, not a database. Every user is provisioned with the
//! sample events' secret and a profile (for the agents' customer lookup); every write
//! succeeds; the ticket counter counts; every conversation exists, is open (but
//! [`SOLVED_TICKET`], solved, for the rating route) and is the demo user's (whatever id is
//! asked for), and a read answers a full page: 20 conversations for a customer's list, a
//! full page from each shard of the agents' inbox, 50 messages, and 10 agents' notes
//! (newer than the messages) for the agents' message page. A read mark's count of the
//! messages from its `up_to` on finds those of the 50 that sort from it, so a mark up to
//! the newest (`…000000000050`) is found, with none after it. Every connect ticket asked
//! for is there to be redeemed, the demo user's and unexpired, so that the WebSocket
//! authorizer allows.
//!
//! With [`Pages::Empty`] every query's page is empty instead (a diagnostic: what a read
//! route costs when its page takes nothing to read), but the agents' customer lookup
//! still finds the profile and a read mark's count its message.
//!
//! Requests are read by looking for the few strings that matter in the SDK's compact
//! JSON (no JSON parser: the harness needs none otherwise).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// The secret the sample events in events/ are signed with.
pub const DEMO_SECRET: &str = "demo-secret";

/// The demo user's ticket an agent has solved: the one the harness's rating event rates.
pub const SOLVED_TICKET: &str = "TKT-003";

/// What the queries' pages hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// As many items as the query asks for (or the fixed counts above).
    Full,
    /// None.
    Empty,
}

/// Starts the stub; returns its address.
pub async fn start(pages: Pages) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let counter = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(request, counter.clone(), pages));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

async fn answer(
    request: Request<Incoming>,
    counter: Arc<AtomicU64>,
    pages: Pages,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('.').nth(1))
        .unwrap_or_default();
    let operation = operation.to_string();
    let sent = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let sent = String::from_utf8_lossy(&sent);
    // The conversation a GetItem or UpdateItem keys (`CONV#<id>` / `META`), if any.
    let conversation_key = string_after(&sent, r#"{"S":"CONV#"#);
    let body = match (operation.as_str(), conversation_key) {
        ("GetItem", Some(id)) => format!(r#"{{"Item":{}}}"#, conversation_item(id)),
        ("GetItem", None) => format!(r#"{{"Item":{{"secret":{{"S":"{DEMO_SECRET}"}}}}}}"#),
        // An agent's assignment and a read mark ask for the conversation as it now is.
        ("UpdateItem", Some(id)) if sent.contains(r#""ReturnValues":"ALL_NEW""#) => format!(
            r#"{{"Attributes":{}}}"#,
            conversation_at(
                id,
                1_764_547_200_000,
                0,
                string_after(&sent, r#"":assignee":{"S":""#),
                &read_mark(&sent),
            )
        ),
        ("UpdateItem", Some(_)) => "{}".to_string(),
        // The unsubscribe link's mark on the user item.
        ("UpdateItem", None) if sent.contains("unsubscribed_at") => "{}".to_string(),
        ("UpdateItem", None) => format!(
            r#"{{"Attributes":{{"value":{{"N":"{}"}}}}}}"#,
            counter.fetch_add(1, Ordering::Relaxed) + 1
        ),
        // A connect ticket's redemption: a delete that returns the item it removed.
        ("DeleteItem", None) if string_after(&sent, r#"{"S":"TICKET#"#).is_some() => {
            format!(r#"{{"Attributes":{}}}"#, ticket_item(&sent))
        }
        ("BatchGetItem", _) => batch_get(&sent),
        ("Query", _) => query(&sent, pages),
        _ => "{}".to_string(),
    };
    Ok(Response::builder()
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response"))
}

/// The string that follows `marker` in `text`, up to the next `"`.
fn string_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    rest.split('"').next()
}

/// A page for a Query: by the index it reads, or the table's profile, messages or notes.
fn query(sent: &str, pages: Pages) -> String {
    let partition = string_after(sent, r#"":pk":{"S":""#).unwrap_or_default();
    // A read mark's count asks for the messages from its `up_to` on.
    let counted_from = string_after(sent, r#"":from":{"S":""#);
    match string_after(sent, r#""IndexName":""#) {
        // The agents' customer lookup: the user item's profile attributes.
        None if partition.starts_with("USER#") => page(std::iter::once(profile(partition))),
        // A read mark's count (below) is not a page: the mark needs its message found.
        _ if pages == Pages::Empty && counted_from.is_none() => page(std::iter::empty()),
        // A customer's list: their tickets.
        Some("by-owner") => page((1..=20).map(conversation)),
        // A shard of the agents' inbox (`INBOX#<kind>#<shard>`, or by assignee, which
        // ends the same): a full page of that shard's open conversations of that kind.
        Some(_) => {
            let mut parts = partition.rsplit('#');
            let shard: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let kind = parts.next().unwrap_or("chat");
            // The query asks for one more than the page, to know whether more follow.
            let limit = number_after(sent, r#""Limit":"#).unwrap_or(21).max(2) - 1;
            page((1..=limit).map(|n| inbox_conversation(kind, shard, n)))
        }
        None => {
            let conversation = partition.strip_prefix("CONV#").unwrap_or("TKT-001");
            if string_after(sent, r#"":prefix":{"S":""#) == Some("NOTE#") {
                page((1..=10).map(|n| note(conversation, n)))
            } else if let Some(from) = counted_from {
                // A read mark's count: the messages from its `up_to` on, keys and authors
                // only, as it projects them.
                page((1..=50).filter_map(|n| {
                    let sk = format!("MSG#{}", message_id(n));
                    (sk.as_str() >= from)
                        .then(|| format!(r#"{{"sk":{{"S":"{sk}"}},"author":{{"S":"customer"}}}}"#))
                }))
            } else {
                page((1..=50).map(|n| message(conversation, n)))
            }
        }
    }
}

fn number_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The user (with the demo secret) and the conversation `TKT-001`, owned by them, or
/// [`SOLVED_TICKET`] when that is asked for.
fn batch_get(sent: &str) -> String {
    // The table is the only key of RequestItems: {"RequestItems":{"<table>":{...}}}.
    let table = string_after(sent, r#""RequestItems":{""#).unwrap_or("bench");
    let conversation = match string_after(sent, r#"{"S":"CONV#"#) {
        Some(SOLVED_TICKET) => solved_ticket(),
        _ => conversation(1),
    };
    format!(
        r#"{{"Responses":{{"{table}":[{{"pk":{{"S":"USER#demo@example.com"}},"secret":{{"S":"{DEMO_SECRET}"}}}},{conversation}]}},"UnprocessedKeys":{{}}}}"#
    )
}

/// The user item's profile attributes, as the agents' lookup asks for them by name.
fn profile(partition: &str) -> String {
    format!(
        r#"{{"pk":{{"S":"{partition}"}},"sk":{{"S":"PROFILE"}},"name":{{"S":"Basic Plan"}},"plan_id":{{"N":"1"}},"account_created_at":{{"N":"1679223400"}},"created_at":{{"N":"1764547200000"}}}}"#
    )
}

/// [`SOLVED_TICKET`]'s `META` item: solved by an agent, not rated yet.
fn solved_ticket() -> String {
    format!(
        r#"{{"pk":{{"S":"CONV#{SOLVED_TICKET}"}},"sk":{{"S":"META"}},"id":{{"S":"{SOLVED_TICKET}"}},"kind":{{"S":"ticket"}},"owner":{{"S":"demo@example.com"}},"open":{{"BOOL":true}},"status":{{"S":"solved"}},"created_at":{{"N":"1764547200000"}},"last_activity_at":{{"N":"1764547200000"}},"gsi1pk":{{"S":"USER#demo@example.com"}},"gsi1sk":{{"S":"ticket#1764547200000#{SOLVED_TICKET}"}},"last_message_id":{{"S":"{}"}},"last_message_author":{{"S":"agent"}},"last_message_preview":{{"S":"The duplicate charge is refunded."}}}}"#,
        message_id(50)
    )
}

/// The attributes a read mark's update sets (`#up_to`, `#read` and, for the agents', who
/// marked), as the conversation's item holds them after it; none for any other update.
fn read_mark(sent: &str) -> String {
    let (Some(up_to_name), Some(up_to)) = (
        string_after(sent, r##""#up_to":""##),
        string_after(sent, r#"":up_to":{"S":""#),
    ) else {
        return String::new();
    };
    let read_name = string_after(sent, r##""#read":""##).unwrap_or("agents_read");
    let read = string_after(sent, r#"":read":{"N":""#).unwrap_or("0");
    let mut attributes =
        format!(r#""{up_to_name}":{{"S":"{up_to}"}},"{read_name}":{{"N":"{read}"}},"#);
    if let (Some(id), Some(name)) = (
        string_after(sent, r#"":by_id":{"S":""#),
        string_after(sent, r#"":by_name":{"S":""#),
    ) {
        attributes.push_str(&format!(
            r#""agents_read_by_id":{{"S":"{id}"}},"agents_read_by_name":{{"S":"{name}"}},"#
        ));
    }
    attributes
}

/// The ticket item a `DeleteItem` of `TICKET#<digest>` removes: the demo user's, valid
/// until 2100.
fn ticket_item(sent: &str) -> String {
    let digest = string_after(sent, r#"{"S":"TICKET#"#).unwrap_or_default();
    format!(
        r#"{{"pk":{{"S":"TICKET#{digest}"}},"sk":{{"S":"TICKET"}},"subscriber_kind":{{"S":"customer"}},"subscriber_id":{{"S":"demo@example.com"}},"expires_at_ms":{{"N":"4102444800000"}},"expires_at":{{"N":"4102444801"}}}}"#
    )
}

fn page(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let count = items.len();
    format!(
        r#"{{"Items":[{}],"Count":{count},"ScannedCount":{count}}}"#,
        items.join(",")
    )
}

/// A ticket's `META` item, as the store writes it (before statuses and the inbox).
fn conversation(n: usize) -> String {
    format!(
        r#"{{"pk":{{"S":"CONV#TKT-{n:03}"}},"sk":{{"S":"META"}},"id":{{"S":"TKT-{n:03}"}},"kind":{{"S":"ticket"}},"owner":{{"S":"demo@example.com"}},"open":{{"BOOL":true}},"created_at":{{"N":"1764547200000"}},"last_activity_at":{{"N":"1764547200000"}},"gsi1pk":{{"S":"USER#demo@example.com"}},"gsi1sk":{{"S":"ticket#1764547200000#TKT-{n:03}"}},"last_message_id":{{"S":"{newest}"}},"last_message_author":{{"S":"customer"}},"last_message_preview":{{"S":"I was charged twice for my subscription this month."}}}}"#,
        newest = message_id(n)
    )
}

/// A conversation's `META` item as the store now writes it: open, in the inbox and the
/// unassigned inbox, with its newest message. `id` is a chat's or a ticket's id, as asked
/// for.
fn conversation_item(id: &str) -> String {
    conversation_at(id, 1_764_547_200_000, 0, None, "")
}

/// The `n`th newest open conversation of one inbox shard.
fn inbox_conversation(kind: &str, shard: usize, n: usize) -> String {
    let id = match kind {
        "ticket" => format!("TKT-{:03}", 1000 + n * 4 + shard),
        _ => format!("chat-019aa6f0-0000-7000-8000-{shard:04}{n:08}"),
    };
    // Newest first across shards, as each shard's query returns them.
    let millis = 1_764_547_200_000 - i64::try_from(n * 4 + shard).unwrap_or(0) * 1000;
    conversation_at(&id, millis, shard, None, "")
}

/// An open conversation's `META` item, assigned to `assignee` (or unassigned), with
/// `extra` attributes (each followed by a comma).
fn conversation_at(
    id: &str,
    millis: i64,
    shard: usize,
    assignee: Option<&str>,
    extra: &str,
) -> String {
    let kind = if id.starts_with("TKT-") {
        "ticket"
    } else {
        "chat"
    };
    let activity = format!("{millis:013}#{id}");
    let (assignee, by_assignee) = match assignee {
        Some(agent) => (
            format!(r#""assignee":{{"S":"{agent}"}},"#),
            format!("AGENT#{agent}#{kind}#{shard}"),
        ),
        None => (String::new(), format!("UNASSIGNED#{kind}#{shard}")),
    };
    format!(
        r#"{{"pk":{{"S":"CONV#{id}"}},"sk":{{"S":"META"}},"id":{{"S":"{id}"}},"kind":{{"S":"{kind}"}},"owner":{{"S":"demo@example.com"}},"open":{{"BOOL":true}},"status":{{"S":"open"}},{assignee}{extra}"created_at":{{"N":"1764547200000"}},"last_activity_at":{{"N":"{millis}"}},"gsi1pk":{{"S":"USER#demo@example.com"}},"gsi1sk":{{"S":"{kind}#{activity}"}},"gsi2pk":{{"S":"INBOX#{kind}#{shard}"}},"gsi2sk":{{"S":"open#{activity}"}},"gsi3pk":{{"S":"{by_assignee}"}},"gsi3sk":{{"S":"open#{activity}"}},"last_message_id":{{"S":"{newest}"}},"last_message_author":{{"S":"customer"}},"last_message_preview":{{"S":"I was charged twice for my subscription this month."}}}}"#,
        newest = message_id(50)
    )
}

/// The id of a conversation's `n`th message (1 to 50, in the order they sort; notes from 101).
fn message_id(n: usize) -> String {
    format!("msg-019aa6f0-0000-7000-8000-{n:012}")
}

/// A customer's message in `conversation`, as the store writes it.
fn message(conversation: &str, n: usize) -> String {
    let id = message_id(n);
    format!(
        r#"{{"pk":{{"S":"CONV#{conversation}"}},"sk":{{"S":"MSG#{id}"}},"id":{{"S":"{id}"}},"author":{{"S":"customer"}},"body":{{"S":"Here is the receipt for the second charge, as you asked."}},"sent_at":{{"N":"1764547200000"}}}}"#
    )
}

/// An agents' note in `conversation`, newer than every message of [`message`].
fn note(conversation: &str, n: usize) -> String {
    let id = message_id(100 + n);
    format!(
        r#"{{"pk":{{"S":"CONV#{conversation}"}},"sk":{{"S":"NOTE#{id}"}},"id":{{"S":"{id}"}},"author":{{"S":"agent"}},"agent_id":{{"S":"agent-7"}},"agent_name":{{"S":"Ada Agent"}},"internal":{{"BOOL":true}},"body":{{"S":"Refund approved; waiting for finance to confirm."}},"sent_at":{{"N":"1764547200000"}}}}"#
    )
}
