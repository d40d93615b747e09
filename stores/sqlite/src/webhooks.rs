//! Webhook endpoints.

use crate::{SqliteStore, internal};
use rusqlite::params;
use supportzen_shared::events::{
    EventType, WebhookEndpoint, WebhookSecret, WebhookSubscription, WebhookUrl,
};
use supportzen_shared::store::{StoreError, WebhookRegistry};

impl WebhookRegistry for SqliteStore {
    async fn add_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        let endpoint = endpoint.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO webhooks (id, url, events, secret, enabled, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    endpoint.id,
                    endpoint.url.as_str(),
                    events_text(&endpoint.events),
                    endpoint.secret.expose(),
                    endpoint.enabled,
                    endpoint.created_at
                ],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, url, events, secret, enabled, created_at_ms FROM webhooks
                     ORDER BY created_at_ms, id",
                )
                .map_err(internal)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, bool>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .map_err(internal)?;
            let mut endpoints = Vec::new();
            for row in rows {
                let (id, url, events, secret, enabled, created_at) = row.map_err(internal)?;
                endpoints.push(
                    stored_endpoint(id, &url, &events, &secret, enabled, created_at)
                        .map_err(StoreError::Internal)?,
                );
            }
            Ok(endpoints)
        })
        .await
    }

    async fn subscriptions(&self) -> Result<Vec<WebhookSubscription>, StoreError> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare("SELECT id, events, enabled FROM webhooks ORDER BY created_at_ms, id")
                .map_err(internal)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, bool>(2)?,
                    ))
                })
                .map_err(internal)?;
            let mut subscriptions = Vec::new();
            for row in rows {
                let (id, events, enabled) = row.map_err(internal)?;
                match parse_events(&events) {
                    Ok(events) => subscriptions.push(WebhookSubscription {
                        id,
                        events,
                        enabled,
                    }),
                    // One unreadable row must not stop every other endpoint's deliveries.
                    Err(err) => tracing::error!(webhook = %id, %err, "webhook skipped"),
                }
            }
            Ok(subscriptions)
        })
        .await
    }

    async fn disable_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let changed = conn
                .execute("UPDATE webhooks SET enabled = 0 WHERE id = ?1", params![id])
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn remove_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let changed = conn
                .execute("DELETE FROM webhooks WHERE id = ?1", params![id])
                .map_err(internal)?;
            Ok(changed == 1)
        })
        .await
    }
}

/// Event types as the `events` column keeps them: space-separated.
fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rebuilds an endpoint from its row; the error is for the logs.
fn stored_endpoint(
    id: String,
    url: &str,
    events: &str,
    secret: &str,
    enabled: bool,
    created_at: i64,
) -> Result<WebhookEndpoint, String> {
    Ok(WebhookEndpoint {
        url: WebhookUrl::parse(url).map_err(|e| format!("webhook {id} url: {e}"))?,
        events: parse_events(events).map_err(|e| format!("webhook {id} events: {e}"))?,
        secret: WebhookSecret::parse(secret).map_err(|e| format!("webhook {id} secret: {e}"))?,
        enabled,
        created_at,
        id,
    })
}

/// The `events` column read back.
fn parse_events(events: &str) -> Result<Vec<EventType>, String> {
    events.split_whitespace().map(EventType::parse).collect()
}
