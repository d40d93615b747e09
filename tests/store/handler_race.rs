//! The first-use race, made deterministic: the handler's lookup says "unknown user"
//! although another request has just created them, so its conditional create fails.
//! The handler must then check the token against the winner: same token succeeds,
//! any other gets 401, and nothing extra is written.

use lambda_http::{Body, Request};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use supportzen_shared::Config;
use supportzen_shared::auth::UserRecord;
use supportzen_shared::domain::AttachmentId;
use supportzen_shared::domain::{Email, UserId};
use supportzen_shared::http::handlers::ticket_create;
use supportzen_shared::idempotency::{Receipt, ReceiptKey};
use supportzen_shared::store::{
    ConversationAdmin, ConversationCreator, NewConversation, StoreError, TicketNumbers, UserReader,
};
use supportzen_shared::store::{NoFiles, UploadRecord, UploadRegistry};
use supportzen_sqlite::SqliteStore;
use supportzen_tests::create_body;

/// Delegates to SQLite, but its first user lookup answers "not found".
struct StaleFirstLookup {
    inner: SqliteStore,
    stale: AtomicBool,
}

impl UserReader for StaleFirstLookup {
    async fn find_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        if self.stale.swap(false, Ordering::SeqCst) {
            return Ok(None);
        }
        self.inner.find_user(id).await
    }

    async fn find_user_and_receipt(
        &self,
        id: &UserId,
        receipt: &ReceiptKey,
    ) -> Result<(Option<UserRecord>, Option<Receipt>), StoreError> {
        let (user, receipt) = self.inner.find_user_and_receipt(id, receipt).await?;
        if self.stale.swap(false, Ordering::SeqCst) {
            return Ok((None, None));
        }
        Ok((user, receipt))
    }
}

impl ConversationCreator for StaleFirstLookup {
    async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreError> {
        self.inner.create_conversation(new).await
    }
}

impl UploadRegistry for StaleFirstLookup {
    async fn record_upload(&self, record: &UploadRecord) -> Result<(), StoreError> {
        self.inner.record_upload(record).await
    }

    async fn find_uploads(&self, ids: &[AttachmentId]) -> Result<Vec<UploadRecord>, StoreError> {
        self.inner.find_uploads(ids).await
    }
}

impl TicketNumbers for StaleFirstLookup {
    async fn next_ticket_number(&self) -> Result<u64, StoreError> {
        self.inner.next_ticket_number().await
    }
}

fn request(token: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/api/client/ticket/create")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(
            create_body("ann@example.com", "help").to_string(),
        ))
        .unwrap()
}

async fn status_after_stale_lookup(store: &SqliteStore, token: &str) -> (u16, Value) {
    let racing = StaleFirstLookup {
        inner: store.clone(),
        stale: AtomicBool::new(true),
    };
    let response = ticket_create(&racing, &NoFiles, &Config::default(), request(token)).await;
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn a_lost_first_use_race_is_judged_against_the_winner() {
    let store = SqliteStore::open(":memory:").unwrap();
    let winner = "ab".repeat(32);
    let config = Config::default();
    let first = ticket_create(&store, &NoFiles, &config, request(&winner)).await;
    assert_eq!(first.status(), 200);

    let (status, body) = status_after_stale_lookup(&store, &winner).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = status_after_stale_lookup(&store, &"cd".repeat(32)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");

    let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
    let tickets = store.conversations_of(&ann).await.unwrap();
    assert_eq!(tickets.len(), 2, "the loser wrote nothing");
}
