//! Production's WebSocket handshake, through API Gateway's WebSocket API: the `$connect`
//! authorizer redeems the connect ticket ([`authorize`], the `ws-authorize` function),
//! and the `$connect` and `$disconnect` routes list and unlist the connection under
//! whom it delivers to ([`connection_route`], the `ws-connection` function). API Gateway
//! holds the sockets; the table holds who each one is for.
//!
//! The authorizer hands the subscriber to the routes in its context (`subscriberKind`,
//! `subscriberId`, and an agent's `subscriberName`), which API Gateway passes to every later route of the connection.

use crate::events::{ConnectTicket, Subscriber};
use crate::store::{CONNECTION_LIFETIME_MS, ConnectTicketRedeemer, ConnectionWriter, StoreError};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use lambda_http::aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde::{Deserialize, Serialize};

/// The query parameter the ticket comes in (`wss://…/prod?ticket=wst_…`), and the
/// authorizer's identity source: API Gateway answers 401 itself when it is missing.
pub const TICKET_PARAMETER: &str = "ticket";

/// What the authorizer tells the routes: whom the connection is for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerContext {
    pub subscriber_kind: String,
    pub subscriber_id: String,
    /// An agent's display name (their typing signals show it); absent for a customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_name: Option<String>,
}

/// The authorizer's answer when it lets a connection through.
pub type Allowed = ApiGatewayCustomAuthorizerResponse<AuthorizerContext>;

/// Why a connection is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No ticket, a malformed one, or one not redeemable (never issued, expired, or
    /// already used). An authorizer that fails with exactly this message makes API
    /// Gateway answer 401; the message says nothing of which it was.
    #[error("Unauthorized")]
    Unauthorized,
    /// The tickets could not be read: API Gateway answers 500, and the client may retry
    /// with a new ticket.
    #[error("connect ticket: {0}")]
    Store(#[from] StoreError),
    /// The request is not a `$connect` authorizer request (no `methodArn`): a
    /// misconfigured API.
    #[error("authorizer request without a methodArn")]
    NoMethodArn,
}

/// What the function reports to Lambda: API Gateway reads `errorMessage`.
impl From<Refused> for lambda_http::lambda_runtime::Diagnostic {
    fn from(refused: Refused) -> Self {
        let error_type = match refused {
            Refused::Unauthorized => "Unauthorized",
            Refused::Store(_) => "StoreError",
            Refused::NoMethodArn => "NoMethodArn",
        };
        lambda_http::lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: refused.to_string(),
        }
    }
}

/// Redeems the ticket of a `$connect` request at `now` (ms): once redeemed, a ticket
/// opens nothing more. Allows exactly the connection asked for (its `methodArn`), with
/// the subscriber in the context. The principal is the subscriber's kind, not their
/// email: API Gateway may log it.
pub async fn authorize<R: ConnectTicketRedeemer>(
    store: &R,
    request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
    now: i64,
) -> Result<Allowed, Refused> {
    let method_arn = request.method_arn.clone().ok_or(Refused::NoMethodArn)?;
    let ticket = request
        .query_string_parameters
        .first(TICKET_PARAMETER)
        .and_then(|raw| ConnectTicket::parse(raw).ok())
        .ok_or(Refused::Unauthorized)?;
    let subscriber = store
        .take_ticket(&ticket.digest(), now)
        .await?
        .ok_or(Refused::Unauthorized)?;
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_string()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![method_arn];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_string());
    policy.statement = vec![statement];
    let mut allowed = Allowed::default();
    allowed.principal_id = Some(subscriber.kind().to_string());
    allowed.policy_document = policy;
    allowed.context = AuthorizerContext {
        subscriber_kind: subscriber.kind().to_string(),
        subscriber_id: subscriber.id().to_string(),
        subscriber_name: subscriber.name().map(str::to_string),
    };
    Ok(allowed)
}

/// The `$connect` and `$disconnect` routes at `now` (ms). `$connect` lists the
/// connection under its subscriber's audience until API Gateway's two-hour limit;
/// `$disconnect` removes exactly that item. A `$connect` without the authorizer's
/// context (a route deployed without its authorizer) is refused; a `$disconnect`
/// without it removes nothing and leaves the item to expire.
pub async fn connection_route<W: ConnectionWriter>(
    store: &W,
    request: &ApiGatewayWebsocketProxyRequest,
    now: i64,
) -> ApiGatewayProxyResponse {
    let context = &request.request_context;
    let route = context.route_key.as_deref().unwrap_or_default();
    let Some(connection) = context.connection_id.as_deref() else {
        tracing::error!(route, "WebSocket route without a connectionId");
        return status(400);
    };
    let subscriber = subscriber(&context.authorizer.fields);
    let written = match (route, subscriber) {
        ("$connect", Ok(subscriber)) => {
            let connected_at = if context.connected_at > 0 {
                context.connected_at
            } else {
                now
            };
            store
                .put_connection(
                    connection,
                    &subscriber,
                    connected_at + CONNECTION_LIFETIME_MS,
                )
                .await
        }
        ("$connect", Err(reason)) => {
            tracing::error!(reason, "$connect without the authorizer's subscriber");
            return status(403);
        }
        ("$disconnect", Ok(subscriber)) => {
            store
                .remove_connection(connection, &subscriber.audience())
                .await
        }
        ("$disconnect", Err(reason)) => {
            tracing::warn!(
                reason,
                "$disconnect without the subscriber: the item expires"
            );
            return status(200);
        }
        (other, _) => {
            tracing::error!(route = other, "not a route of this function");
            return status(400);
        }
    };
    match written {
        Ok(()) => status(200),
        Err(err) => {
            tracing::error!(route, error = %err, "connection item not written");
            status(500)
        }
    }
}

/// The subscriber the authorizer put in the route's context (API Gateway passes it to
/// every route of the connection: `$connect`, `$disconnect`, `typing`).
pub fn subscriber(
    fields: &std::collections::HashMap<String, serde_json::Value>,
) -> Result<Subscriber, String> {
    let field = |name: &str| {
        fields
            .get(name)
            .and_then(|value| value.as_str())
            .ok_or_else(|| format!("no {name} in the authorizer context"))
    };
    let name = fields
        .get("subscriberName")
        .and_then(|value| value.as_str());
    Subscriber::from_stored_named(field("subscriberKind")?, field("subscriberId")?, name)
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;
    use crate::store::{Audience, GONE_GRACE_MS, gone_cutoff};
    use serde_json::Value;
    use std::sync::Mutex;

    /// `events/realtime/ws-authorize.json`'s ticket.
    const TICKET: &str = "wst_5f2b8c1e9a7d4036b1e8c2f94d6a0b3e7c5d1f8a2b9e4c6d0a3f7b1e8c2d5a94";
    const CONNECTION: &str = "Kx3aBcDeIAMCJfQ=";
    /// The sample events' time: `connectedAt`.
    const CONNECTED_AT: i64 = 1_795_341_600_000;

    fn sample<T: serde::de::DeserializeOwned>(file: &str) -> T {
        let path = format!("{}/../events/realtime/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn demo() -> Subscriber {
        Subscriber::Customer(Email::parse("demo@example.com").unwrap().user_id().clone())
    }

    /// Tickets by digest, and the connection items, as a store keeps them.
    #[derive(Default)]
    struct Store {
        tickets: Mutex<Vec<(String, Subscriber, i64)>>,
        ticket_reads: Mutex<usize>,
        connections: Mutex<Vec<(String, Subscriber, i64)>>,
        removed: Mutex<Vec<(String, Audience)>>,
        failing: bool,
    }

    impl Store {
        fn issued(ticket: &str, subscriber: Subscriber, expires_at: i64) -> Self {
            let digest = ConnectTicket::parse(ticket).unwrap().digest();
            Store {
                tickets: Mutex::new(vec![(digest, subscriber, expires_at)]),
                ..Store::default()
            }
        }
    }

    impl ConnectTicketRedeemer for Store {
        async fn take_ticket(
            &self,
            digest: &str,
            now: i64,
        ) -> Result<Option<Subscriber>, StoreError> {
            *self.ticket_reads.lock().unwrap() += 1;
            if self.failing {
                return Err(StoreError::Internal("throttled".into()));
            }
            let mut tickets = self.tickets.lock().unwrap();
            let Some(at) = tickets.iter().position(|(d, _, _)| d == digest) else {
                return Ok(None);
            };
            let (_, subscriber, expires_at) = tickets.remove(at);
            Ok((expires_at > now).then_some(subscriber))
        }
    }

    impl ConnectionWriter for Store {
        async fn put_connection(
            &self,
            id: &str,
            subscriber: &Subscriber,
            expires_at: i64,
        ) -> Result<(), StoreError> {
            if self.failing {
                return Err(StoreError::Internal("throttled".into()));
            }
            let mut connections = self.connections.lock().unwrap();
            connections.push((id.to_string(), subscriber.clone(), expires_at));
            Ok(())
        }

        async fn remove_connection(&self, id: &str, audience: &Audience) -> Result<(), StoreError> {
            self.removed
                .lock()
                .unwrap()
                .push((id.to_string(), audience.clone()));
            Ok(())
        }

        async fn remove_gone_connection(
            &self,
            _: &str,
            _: &Audience,
            _: i64,
        ) -> Result<bool, StoreError> {
            unreachable!("the routes never see a post's 410")
        }
    }

    #[tokio::test]
    async fn a_ticket_opens_one_connection_once() {
        let store = Store::issued(TICKET, demo(), CONNECTED_AT + 30_000);
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest = sample("ws-authorize.json");

        let allowed = authorize(&store, &request, CONNECTED_AT).await.unwrap();

        // As API Gateway reads it: this connection's route allowed, the subscriber in the
        // context, and not the customer's email as the principal (it may be logged).
        let answer: Value = serde_json::to_value(&allowed).unwrap();
        assert_eq!(answer["principalId"], "customer");
        let statement = &answer["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"][0], "execute-api:Invoke");
        assert_eq!(
            statement["Resource"][0],
            "arn:aws:execute-api:us-east-1:123456789012:ws7k2p9qx1/prod/$connect"
        );
        assert_eq!(answer["policyDocument"]["Version"], "2012-10-17");
        assert_eq!(
            answer["context"],
            serde_json::json!({"subscriberKind": "customer", "subscriberId": "demo@example.com"})
        );

        let again = authorize(&store, &request, CONNECTED_AT).await;
        assert!(matches!(again, Err(Refused::Unauthorized)), "{again:?}");
        assert_eq!(Refused::Unauthorized.to_string(), "Unauthorized");
    }

    #[tokio::test]
    async fn expired_unknown_malformed_and_missing_tickets_are_unauthorized() {
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest = sample("ws-authorize.json");
        let expired = Store::issued(TICKET, demo(), CONNECTED_AT);
        let refused = authorize(&expired, &request, CONNECTED_AT).await;
        assert!(matches!(refused, Err(Refused::Unauthorized)), "{refused:?}");
        let unknown = Store::default();
        let refused = authorize(&unknown, &request, CONNECTED_AT).await;
        assert!(matches!(refused, Err(Refused::Unauthorized)), "{refused:?}");

        // Refused without a store read.
        let store = Store::issued(TICKET, demo(), CONNECTED_AT + 30_000);
        let malformed: ApiGatewayCustomAuthorizerRequestTypeRequest =
            sample("ws-authorize-malformed-ticket.json");
        let mut missing = request.clone();
        missing.query_string_parameters = Default::default();
        for request in [malformed, missing] {
            let refused = authorize(&store, &request, CONNECTED_AT).await;
            assert!(matches!(refused, Err(Refused::Unauthorized)), "{refused:?}");
        }
        assert_eq!(*store.ticket_reads.lock().unwrap(), 0);
        assert_eq!(store.tickets.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_store_failure_is_not_a_refusal() {
        let store = Store {
            failing: true,
            ..Store::issued(TICKET, demo(), CONNECTED_AT + 30_000)
        };
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest = sample("ws-authorize.json");
        let refused = authorize(&store, &request, CONNECTED_AT).await;
        assert!(matches!(refused, Err(Refused::Store(_))), "{refused:?}");
        assert_ne!(refused.unwrap_err().to_string(), "Unauthorized");
    }

    #[tokio::test]
    async fn connect_lists_the_connection_for_two_hours_and_disconnect_removes_it() {
        let store = Store::default();
        let connect: ApiGatewayWebsocketProxyRequest = sample("ws-connection-connect.json");
        let later = CONNECTED_AT + 50;

        assert_eq!(
            connection_route(&store, &connect, later).await.status_code,
            200
        );
        assert_eq!(
            *store.connections.lock().unwrap(),
            [(CONNECTION.to_string(), demo(), CONNECTED_AT + 7_200_000)],
            "two hours from the connection, not from the route's run"
        );

        let disconnect: ApiGatewayWebsocketProxyRequest = sample("ws-connection-disconnect.json");
        assert_eq!(
            connection_route(&store, &disconnect, later)
                .await
                .status_code,
            200
        );
        assert_eq!(
            *store.removed.lock().unwrap(),
            [(CONNECTION.to_string(), demo().audience())]
        );
    }

    #[tokio::test]
    async fn a_connection_answering_gone_is_unlisted_only_after_the_grace_period() {
        let store = Store::default();
        let connect: ApiGatewayWebsocketProxyRequest = sample("ws-connection-connect.json");
        connection_route(&store, &connect, CONNECTED_AT + 50).await;
        let (_, _, expires_at) = store.connections.lock().unwrap()[0].clone();

        // What the stream consumer's conditional delete compares, at each moment.
        let gone_at = |now: i64| expires_at < gone_cutoff(now);
        assert!(
            !gone_at(CONNECTED_AT),
            "being opened: a 410 means nothing yet"
        );
        assert!(!gone_at(CONNECTED_AT + GONE_GRACE_MS));
        assert!(gone_at(CONNECTED_AT + GONE_GRACE_MS + 1));
        assert!(gone_at(CONNECTED_AT + CONNECTION_LIFETIME_MS));
    }

    #[tokio::test]
    async fn a_route_without_the_authorizers_subscriber_lists_nothing() {
        let store = Store::default();
        let connect: ApiGatewayWebsocketProxyRequest =
            sample("ws-connection-connect-no-authorizer.json");
        assert_eq!(
            connection_route(&store, &connect, CONNECTED_AT)
                .await
                .status_code,
            403
        );
        let mut disconnect: ApiGatewayWebsocketProxyRequest =
            sample("ws-connection-disconnect.json");
        disconnect.request_context.authorizer = Default::default();
        assert_eq!(
            connection_route(&store, &disconnect, CONNECTED_AT)
                .await
                .status_code,
            200
        );
        assert!(store.connections.lock().unwrap().is_empty());
        assert!(store.removed.lock().unwrap().is_empty());

        let failing = Store {
            failing: true,
            ..Store::default()
        };
        let connect: ApiGatewayWebsocketProxyRequest = sample("ws-connection-connect.json");
        assert_eq!(
            connection_route(&failing, &connect, CONNECTED_AT)
                .await
                .status_code,
            500
        );
    }
}
