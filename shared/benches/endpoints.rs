//! Each endpoint's in-process path, per request: the API Gateway event parsed into a
//! request, the body parsed and validated, the HMAC checked, the DynamoDB transaction
//! built (as the production store builds it) and the response serialized. Store I/O is
//! excluded: the store answers at once and drops the transaction it was handed.
//!
//! `cargo bench -p supportzen-shared --bench endpoints`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use supportzen_shared::Config;
use supportzen_shared::auth::{Credential, Secret, UserRecord};
use supportzen_shared::domain::AttachmentId;
use supportzen_shared::domain::{ConversationId, NewMessage, UserId};
use supportzen_shared::dynamo::{DynamoStore, client};
use supportzen_shared::http::handlers::{live_chat, live_create, ticket_append, ticket_create};
use supportzen_shared::idempotency::{NewReceipt, Receipt, ReceiptKey};
use supportzen_shared::store::{
    ConversationCreator, MessageAppender, NewConversation, NoFiles, StoreError, TicketNumbers,
    UploadRecord, UploadRegistry, UserReader,
};

/// Knows every user (with the sample events' secret) and builds, but never sends, writes.
struct BuildOnly {
    dynamo: DynamoStore,
    tickets: AtomicU64,
}

impl UserReader for BuildOnly {
    async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(Some(UserRecord {
            id: id.clone(),
            credential: Credential::secret(Secret::parse("demo-secret").expect("valid")),
        }))
    }

    /// Never remembers an answer, so requests with a key do the whole work too.
    async fn find_user_and_receipt(
        &self,
        id: &UserId,
        _: &ReceiptKey,
    ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
        Ok((self.find_user(id).await?, None))
    }
}

/// The sample events carry no attachments: never asked.
impl UploadRegistry for BuildOnly {
    async fn record_upload(&self, _: &UploadRecord) -> Result<(), StoreError> {
        Ok(())
    }

    async fn find_uploads(&self, _: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
        Ok(Vec::new())
    }
}

impl ConversationCreator for BuildOnly {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        black_box(self.dynamo.create_actions(new)?);
        Ok(())
    }
}

impl MessageAppender for BuildOnly {
    async fn append_message(
        &self,
        id: &ConversationId,
        owner: &UserId,
        message: &NewMessage,
        notice_at: Option<i64>,
        receipt: Option<&NewReceipt>,
    ) -> Result<(), StoreError> {
        black_box(
            self.dynamo
                .append_actions(id, owner, message, notice_at, receipt, None)?,
        );
        Ok(())
    }
}

impl TicketNumbers for BuildOnly {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        Ok(self.tickets.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

fn event(name: &str) -> String {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The event with an `Idempotency-Key` header added.
fn with_idempotency_key(raw: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(raw).expect("events are JSON");
    event["headers"]["idempotency-key"] = "0d5f3c5e-8a8e-4d55-9a43-2b6b1c1f7a10".into();
    event.to_string()
}

fn endpoints(c: &mut Criterion) {
    // A Lambda function's configuration; nothing is sent (the store only builds actions).
    let lambda = |name: &str| match name {
        "AWS_REGION" => Some("us-east-1".to_string()),
        "AWS_ACCESS_KEY_ID" => Some("AKID".to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
        _ => None,
    };
    let dynamo = client::lambda_config(lambda).unwrap().build().unwrap();
    let store = BuildOnly {
        dynamo: DynamoStore::new(dynamo, "bench"),
        tickets: AtomicU64::new(0),
    };
    let settings = Config::default();
    // Timers on, as under `#[tokio::main]`: the handlers enforce a request deadline.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("in-process path");

    macro_rules! endpoint {
        ($name:literal, $handler:ident) => {
            endpoint!($name, $handler, event($name));
        };
        ($name:literal, $handler:ident, $raw:expr) => {
            let raw = $raw;
            group.bench_function($name, |b| {
                b.iter(|| {
                    let request =
                        lambda_http::request::from_str(black_box(&raw)).expect("a valid event");
                    let response = runtime.block_on($handler(&store, &NoFiles, &settings, request));
                    assert_eq!(response.status(), 200);
                    black_box(response)
                })
            });
        };
    }
    endpoint!("live-create", live_create);
    endpoint!("live-chat", live_chat);
    endpoint!("ticket-create", ticket_create);
    endpoint!("ticket-append", ticket_append);
    // The same send, made safe to retry: the body's digest and the receipt are extra.
    endpoint!(
        "live-chat with Idempotency-Key",
        live_chat,
        with_idempotency_key(&event("live-chat"))
    );
    group.finish();
}

criterion_group!(benches, endpoints);
criterion_main!(benches);
