//! The realtime store rules, run against each store like `store_rules.rs`: a connect
//! ticket redeems once, before it expires, for whom it was issued, and of two
//! redemptions racing for it exactly one wins; webhook endpoints read back as they were
//! registered, oldest first, and can be disabled and removed; their subscriptions (what
//! routing events reads, without URLs or secrets) are the same endpoints'. WebSocket
//! connections are DynamoDB's alone (the local server holds its sockets in memory): each
//! is listed under its audience only, never once expired, removing one removes exactly
//! that one, and one that answered 410 Gone is removed only once its grace period is over.

use supportzen_shared::domain::{AgentId, Email, UserId};
use supportzen_shared::dynamo::items::{WEBHOOKS_PK, webhook_sk};
use supportzen_shared::events::{
    ConnectTicket, EventType, Subscriber, TICKET_LIFETIME_MS, WebhookEndpoint, WebhookSubscription,
    WebhookUrl,
};
use supportzen_shared::store::{
    Audience, CONNECTION_LIFETIME_MS, ConnectTicketIssuer, ConnectTicketRedeemer, ConnectionReader,
    ConnectionWriter, GONE_GRACE_MS, WebhookRegistry,
};
use supportzen_tests::dynamo::{RoundTrips, fresh_dynamo_store, local_client};
use supportzen_tests::{TestStore, for_each_store};

/// A fixed clock: the stores are told the time, so expiry is tested without waiting.
const NOW: i64 = 1_767_225_600_000;

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

fn customer(email: &str) -> Subscriber {
    Subscriber::Customer(user(email))
}

fn agent(id: &str) -> Subscriber {
    Subscriber::Agent(supportzen_shared::domain::Agent {
        id: AgentId::parse(id).unwrap(),
        name: supportzen_shared::domain::DisplayName::parse(&format!("Agent {id}")).unwrap(),
    })
}

/// A new ticket's digest, stored for `subscriber` until `expires_at`.
async fn issued<S: TestStore>(store: &S, subscriber: &Subscriber, expires_at: i64) -> String {
    let digest = ConnectTicket::generate().digest();
    store
        .put_ticket(&digest, subscriber, expires_at)
        .await
        .unwrap();
    digest
}

async fn a_ticket_redeems_once_for_whom_it_was_issued<S: TestStore>() {
    let store = S::fresh().await;
    let expires = NOW + TICKET_LIFETIME_MS;
    for subscriber in [customer("Ann@Example.com"), agent("agent-7")] {
        let digest = issued(&store, &subscriber, expires).await;
        assert_eq!(
            store.take_ticket(&digest, expires - 1).await.unwrap(),
            Some(subscriber.clone()),
            "redeemed in its last millisecond, it names its subscriber"
        );
        assert_eq!(store.take_ticket(&digest, NOW).await.unwrap(), None);
    }
    let unknown = ConnectTicket::generate().digest();
    assert_eq!(store.take_ticket(&unknown, NOW).await.unwrap(), None);
}

async fn an_expired_ticket_redeems_for_nobody<S: TestStore>() {
    let store = S::fresh().await;
    let expires = NOW + TICKET_LIFETIME_MS;
    let digest = issued(&store, &customer("ann@example.com"), expires).await;
    assert_eq!(store.take_ticket(&digest, expires).await.unwrap(), None);
    assert_eq!(
        store.take_ticket(&digest, NOW).await.unwrap(),
        None,
        "the expired redemption used it up"
    );
}

async fn of_two_redemptions_racing_for_a_ticket_one_wins<S: TestStore>() {
    let store = S::fresh().await;
    let ann = customer("ann@example.com");
    for _ in 0..20 {
        let digest = issued(&store, &ann, NOW + TICKET_LIFETIME_MS).await;
        let (first, second) = tokio::join!(
            store.take_ticket(&digest, NOW),
            store.take_ticket(&digest, NOW)
        );
        let won: Vec<Subscriber> = [first.unwrap(), second.unwrap()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(won, vec![ann.clone()]);
    }
}

fn endpoint(url: &str, events: &[EventType], created_at: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        created_at,
        ..WebhookEndpoint::new(WebhookUrl::parse(url).unwrap(), events.to_vec())
    }
}

async fn webhooks_read_back_oldest_first_and_can_be_disabled_and_removed<
    S: TestStore + WebhookRegistry,
>() {
    let store = S::fresh().await;
    assert_eq!(store.webhooks().await.unwrap(), vec![]);
    // Made (so its id sorts) and added first, but created later: the list goes by time.
    let newer = endpoint(
        "https://hooks.example.com/supportzen?team=2",
        &[EventType::MessageCreated],
        NOW + 5,
    );
    let older = endpoint("http://localhost:9000/hook", &EventType::ALL, NOW);
    store.add_webhook(&newer).await.unwrap();
    store.add_webhook(&older).await.unwrap();
    assert_eq!(
        store.webhooks().await.unwrap(),
        vec![older.clone(), newer.clone()],
        "every field, the secret too, as it was added"
    );

    assert!(store.disable_webhook(&older.id).await.unwrap());
    assert!(!store.disable_webhook("wh_unknown").await.unwrap());
    let disabled = WebhookEndpoint {
        enabled: false,
        ..older.clone()
    };
    assert_eq!(
        store.webhooks().await.unwrap(),
        vec![disabled.clone(), newer.clone()]
    );

    assert!(store.remove_webhook(&newer.id).await.unwrap());
    assert!(!store.remove_webhook(&newer.id).await.unwrap());
    assert!(!store.disable_webhook(&newer.id).await.unwrap());
    assert_eq!(store.webhooks().await.unwrap(), vec![disabled]);
}

/// The endpoints' subscriptions, as `webhooks()` would give them.
fn subscriptions_of(endpoints: &[WebhookEndpoint]) -> Vec<WebhookSubscription> {
    endpoints
        .iter()
        .map(WebhookEndpoint::subscription)
        .collect()
}

async fn subscriptions_are_the_endpoints_without_urls_or_secrets<S: TestStore + WebhookRegistry>() {
    let store = S::fresh().await;
    assert_eq!(store.subscriptions().await.unwrap(), vec![]);
    // Added newest first, and one disabled: the order is by creation, as webhooks().
    let endpoints = [
        endpoint(
            "https://hooks.example.com/c",
            &[EventType::Assigned],
            NOW + 2,
        ),
        endpoint(
            "https://hooks.example.com/b",
            &[EventType::MessageCreated, EventType::StatusChanged],
            NOW + 1,
        ),
        endpoint("https://hooks.example.com/a", &EventType::ALL, NOW),
    ];
    for added in &endpoints {
        store.add_webhook(added).await.unwrap();
    }
    assert!(store.disable_webhook(&endpoints[1].id).await.unwrap());

    let webhooks = store.webhooks().await.unwrap();
    assert_eq!(
        webhooks.iter().map(|e| e.created_at).collect::<Vec<_>>(),
        [NOW, NOW + 1, NOW + 2]
    );
    let subscriptions = store.subscriptions().await.unwrap();
    assert_eq!(subscriptions, subscriptions_of(&webhooks));
    assert!(!subscriptions[1].enabled);
}

for_each_store!(
    a_ticket_redeems_once_for_whom_it_was_issued,
    an_expired_ticket_redeems_for_nobody,
    of_two_redemptions_racing_for_a_ticket_one_wins,
    webhooks_read_back_oldest_first_and_can_be_disabled_and_removed,
    subscriptions_are_the_endpoints_without_urls_or_secrets,
);

/// One endpoint's item that does not decode stops no other endpoint's deliveries:
/// `subscriptions()` skips it (and logs it), where `webhooks()`, which signs with what it
/// reads, fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_webhook_item_is_skipped_by_subscriptions() {
    use aws_sdk_dynamodb::types::AttributeValue;

    let (store, _) = fresh_dynamo_store().await;
    let good = endpoint("https://hooks.example.com/", &EventType::ALL, NOW);
    store.add_webhook(&good).await.unwrap();
    let client = local_client(&RoundTrips::default());
    // Written as something other than this code would: an event type nobody knows, and
    // a creation time that is not a number.
    let corrupt = [
        (
            "wh_unknown_type",
            "message.deleted",
            AttributeValue::N(NOW.to_string()),
        ),
        (
            "wh_text_time",
            "message.created",
            AttributeValue::S("yesterday".into()),
        ),
    ];
    for (id, events, created_at) in corrupt {
        client
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(WEBHOOKS_PK.into()))
            .item("sk", AttributeValue::S(webhook_sk(id)))
            .item("id", AttributeValue::S(id.into()))
            .item(
                "url",
                AttributeValue::S("https://hooks.example.com/x".into()),
            )
            .item("events", AttributeValue::S(events.into()))
            .item("secret", AttributeValue::S(good.secret.expose()))
            .item("enabled", AttributeValue::Bool(true))
            .item("created_at_ms", created_at)
            .send()
            .await
            .unwrap();
    }

    assert_eq!(
        store.subscriptions().await.unwrap(),
        subscriptions_of(std::slice::from_ref(&good))
    );
    assert!(store.webhooks().await.is_err());
}

/// The connection ids listed for `audience` at `now`, sorted.
async fn listed<S: ConnectionReader>(store: &S, audience: &Audience, now: i64) -> Vec<String> {
    let mut ids = store.connections(audience, now).await.unwrap();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_are_listed_under_their_audience_until_they_expire_or_are_removed() {
    let (store, _) = fresh_dynamo_store().await;
    let (ann, bob) = (customer("ann@example.com"), customer("bob@example.com"));
    let alive = NOW + 2 * 3600 * 1000;
    // API Gateway's connection ids look like these.
    let connections = [
        ("L0SM9cOFvHcCIhw=", &ann, alive),
        ("L0SNBdZ3vHcCEbg=", &ann, alive),
        ("L0SMxcXPvHcCFTQ=", &ann, NOW),
        ("L0SOfc2JvHcCJ_A=", &bob, alive),
        ("L0SP0cVGvHcCIWw=", &agent("agent-1"), alive),
        ("L0SQ2f7XvHcCJnA=", &agent("agent-2"), alive),
        ("L0SRtd1RvHcCFRQ=", &agent("agent-3"), NOW - 1),
    ];
    for (id, subscriber, expires_at) in connections {
        store
            .put_connection(id, subscriber, expires_at)
            .await
            .unwrap();
    }
    let anns = Audience::Customer(user("ann@example.com"));
    let bobs = Audience::Customer(user("bob@example.com"));
    assert_eq!(
        listed(&store, &anns, NOW).await,
        ["L0SM9cOFvHcCIhw=", "L0SNBdZ3vHcCEbg="]
    );
    assert_eq!(
        listed(&store, &Audience::Agents, NOW).await,
        ["L0SP0cVGvHcCIWw=", "L0SQ2f7XvHcCJnA="]
    );
    assert_eq!(listed(&store, &bobs, NOW).await, ["L0SOfc2JvHcCJ_A="]);
    let carols = Audience::Customer(user("carol@example.com"));
    assert!(listed(&store, &carols, NOW).await.is_empty());
    assert_eq!(
        listed(&store, &anns, NOW - 1).await,
        ["L0SM9cOFvHcCIhw=", "L0SMxcXPvHcCFTQ=", "L0SNBdZ3vHcCEbg="],
        "a millisecond earlier the expired one is listed: expiry is by the time given"
    );

    store
        .remove_connection("L0SM9cOFvHcCIhw=", &anns)
        .await
        .unwrap();
    // Under another audience, the id names no connection: nothing is removed.
    store
        .remove_connection("L0SOfc2JvHcCJ_A=", &anns)
        .await
        .unwrap();
    assert_eq!(listed(&store, &anns, NOW).await, ["L0SNBdZ3vHcCEbg="]);
    assert_eq!(listed(&store, &bobs, NOW).await, ["L0SOfc2JvHcCJ_A="]);
    assert_eq!(
        listed(&store, &Audience::Agents, NOW).await,
        ["L0SP0cVGvHcCIWw=", "L0SQ2f7XvHcCJnA="]
    );
}

/// API Gateway answers 410 Gone to a post to a connection whose handshake is not over,
/// and `$connect` lists the connection before it is: a 410 removes a connection only once
/// it was made more than the grace period before. `$disconnect` removes it whatever its
/// age.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_answering_gone_is_removed_only_after_its_grace_period() {
    let (store, _) = fresh_dynamo_store().await;
    let ann = customer("ann@example.com");
    let anns = ann.audience();
    // As `$connect` lists them: until their connection's time plus two hours.
    let (opening, grace_ends, old) = ("L0SM9cOFvHcCIhw=", "L0SNBdZ3vHcCEbg=", "L0SOfc2JvHcCJ_A=");
    let opened_at = NOW - 1_000;
    for (id, connected_at) in [
        (opening, opened_at),
        (grace_ends, NOW - GONE_GRACE_MS),
        (old, NOW - GONE_GRACE_MS - 1),
    ] {
        store
            .put_connection(id, &ann, connected_at + CONNECTION_LIFETIME_MS)
            .await
            .unwrap();
    }

    for (id, audience) in [
        (opening, &anns),
        (grace_ends, &anns),
        (old, &Audience::Agents),
        ("L0SZZZZZvHcCAAA=", &anns),
    ] {
        let removed = store
            .remove_gone_connection(id, audience, NOW)
            .await
            .unwrap();
        assert!(!removed, "{id} under {audience:?}: kept, or not there");
    }
    assert_eq!(listed(&store, &anns, NOW).await, [opening, grace_ends, old]);

    assert!(store.remove_gone_connection(old, &anns, NOW).await.unwrap());
    assert_eq!(listed(&store, &anns, NOW).await, [opening, grace_ends]);
    // Once its grace period is over, a connection that still answers 410 is gone.
    let later = opened_at + GONE_GRACE_MS + 1;
    assert!(
        store
            .remove_gone_connection(opening, &anns, later)
            .await
            .unwrap()
    );
    assert_eq!(listed(&store, &anns, NOW).await, [grace_ends]);
    store.remove_connection(grace_ends, &anns).await.unwrap();
    assert!(listed(&store, &anns, NOW).await.is_empty());
}

/// The calls docs/data-model.md lists for realtime delivery and webhooks: each operation
/// is one call, and an event's fan-out is a `Query`, never a `Scan`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_realtime_operation_is_one_dynamodb_call() {
    let (store, trips) = fresh_dynamo_store().await;
    let ann = customer("ann@example.com");
    let digest = ConnectTicket::generate().digest();
    store
        .put_ticket(&digest, &ann, NOW + TICKET_LIFETIME_MS)
        .await
        .unwrap();
    assert_eq!(trips.take(), ["PutItem"]);
    store.take_ticket(&digest, NOW).await.unwrap();
    assert_eq!(trips.take(), ["DeleteItem"]);

    let hook = endpoint("https://hooks.example.com/", &EventType::ALL, NOW);
    store.add_webhook(&hook).await.unwrap();
    assert_eq!(trips.take(), ["PutItem"]);
    store.webhooks().await.unwrap();
    assert_eq!(trips.take(), ["Query"]);
    store.disable_webhook(&hook.id).await.unwrap();
    assert_eq!(trips.take(), ["UpdateItem"]);
    store.remove_webhook(&hook.id).await.unwrap();
    assert_eq!(trips.take(), ["DeleteItem"]);

    store
        .put_connection("L0SM9cOFvHcCIhw=", &ann, NOW + 1000)
        .await
        .unwrap();
    assert_eq!(trips.take(), ["PutItem"]);
    store.connections(&ann.audience(), NOW).await.unwrap();
    assert_eq!(trips.take(), ["Query"]);
    // Kept (made "after" that moment: within its grace period) or removed: one
    // conditional DeleteItem either way.
    for (now, removed) in [(NOW - CONNECTION_LIFETIME_MS, false), (NOW, true)] {
        let gone = store
            .remove_gone_connection("L0SM9cOFvHcCIhw=", &ann.audience(), now)
            .await
            .unwrap();
        assert_eq!(
            (gone, trips.take()),
            (removed, vec!["DeleteItem".to_string()])
        );
    }
    store
        .remove_connection("L0SM9cOFvHcCIhw=", &ann.audience())
        .await
        .unwrap();
    assert_eq!(trips.take(), ["DeleteItem"]);
    store.subscriptions().await.unwrap();
    assert_eq!(trips.take(), ["Query"]);
}
