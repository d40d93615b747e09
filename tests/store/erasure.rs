//! Erasing a customer, on each store: everything that names them goes (conversations,
//! messages, receipts, the user), another customer's data stays, the counts say what went,
//! and erasing again removes nothing. Their upload never attached and their connect
//! ticket go too (on DynamoDB found by a scan: no index has them), and of a file they
//! attached both the kept copy and the upload it was copied from are named for deleting.
//! On DynamoDB Local a scan of the whole table then finds no item that names them.

use aws_sdk_dynamodb::types::AttributeValue;
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Agent, AgentId, AttachmentId, Author, ChatId, ConversationId, DisplayName, Email, MessageText,
    NewMessage, Profile, UnixSeconds, Uploader, UserId, now_millis, now_seconds,
};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::events::{ConnectTicket, Subscriber};
use supportzen_shared::idempotency::{BodyDigest, IdempotencyKey, Retry};
use supportzen_shared::store::{CustomerEraser, Erased, NewConversation};
use supportzen_tests::dynamo::{RoundTrips, fresh_dynamo_store, local_client};
use supportzen_tests::{TestStore, for_each_store, png_upload};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

fn user(email: &str) -> UserId {
    Email::parse(email).unwrap().user_id().clone()
}

fn text(text: &str) -> MessageText {
    MessageText::parse(text).unwrap()
}

/// `email` opens a chat (with an idempotency key: a receipt) and writes once more in it.
async fn chat_of<S: TestStore>(store: &S, email: &str, first: bool) -> ConversationId {
    let owner = if first {
        let pin = BearerToken::from_hex(&"0a".repeat(32)).unwrap().digest();
        Caller::New {
            user: user(email),
            pin,
        }
    } else {
        Caller::Known(user(email))
    };
    let id = ConversationId::Chat(ChatId::generate());
    let key = IdempotencyKey::parse(&format!("key-{}", id.key())).unwrap();
    let retry = Retry::new(
        Endpoint::LiveCreate,
        &user(email),
        key,
        BodyDigest::of(&serde_json::Map::new()),
    );
    let new = NewConversation {
        id: id.clone(),
        owner,
        profile: Profile {
            name: None,
            plan_id: Some(7),
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: NewMessage::now(Author::Customer, text("hello"), None, None),
        follow_up_of: None,
        receipt: Some(retry.receipt(&id.key(), now_seconds()).unwrap()),
        source: None,
        // As the routes write it: the agents' email due if the message stays unread.
        notice_at: Some(now_millis() + 60_000),
    };
    store.create_conversation(&new).await.unwrap();
    let again = NewMessage::now(Author::Customer, text("anyone?"), None, None);
    store
        .append_message(&id, &user(email), &again, Some(now_millis() + 60_000), None)
        .await
        .unwrap();
    id
}

/// `email` declares an upload they never attach and asks for a connect ticket they never
/// redeem: items that name them (by their folder's hash, and by email) outside any
/// conversation. The upload's id.
async fn loose_items_of<S: TestStore>(store: &S, email: &str) -> AttachmentId {
    let upload = png_upload(Uploader::customer(&user(email)), "receipt.png", 42);
    store.record_upload(&upload).await.unwrap();
    store
        .put_ticket(
            &ConnectTicket::generate().digest(),
            &Subscriber::Customer(user(email)),
            now_millis() + 60_000,
        )
        .await
        .unwrap();
    upload.id
}

async fn everything_naming_a_customer_goes_and_nothing_else<S: TestStore + CustomerEraser>() {
    let store = S::fresh().await;
    let (first, second) = (
        chat_of(&store, ANN, true).await,
        chat_of(&store, ANN, false).await,
    );
    let bobs = chat_of(&store, BOB, true).await;
    let upload = loose_items_of(&store, ANN).await;
    let bobs_upload = loose_items_of(&store, BOB).await;
    // A file Ann attached: its upload's record goes with the message that claimed it.
    let attached = png_upload(Uploader::customer(&user(ANN)), "shot.png", 64);
    store.record_upload(&attached).await.unwrap();
    let file = attached.attachment(attached.uploader.kept_key(&attached.id));
    let with_file = NewMessage {
        attachments: vec![file.clone()],
        ..NewMessage::now(Author::Customer, text("the screenshot"), None, None)
    };
    store
        .append_message(&second, &user(ANN), &with_file, None, None)
        .await
        .unwrap();
    // An agent's reply, with the email due if it stays unread: a notice that goes too.
    let seen = store.find_conversation(&first).await.unwrap().unwrap();
    let reply = NewMessage::by_agent(
        Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        },
        text("on it"),
        None,
        None,
        false,
    );
    store
        .add_agent_message(&seen, &reply, Some(now_millis() + 60_000), None)
        .await
        .unwrap();

    let mut erased = store.erase_customer(&user(ANN)).await.unwrap();
    erased.files.sort();

    let folder = Uploader::customer(&user(ANN));
    let mut files = vec![
        folder.key(&upload),
        folder.key(&attached.id),
        file.key.clone(),
    ];
    files.sort();
    assert_eq!(
        erased,
        Erased {
            user: true,
            conversations: 2,
            messages: 6,
            receipts: 2,
            uploads: 2,
            // The reply's notice, each chat's agents' notice, and the ticket.
            other: 4,
            files,
        }
    );
    assert!(
        store
            .find_uploads(&[upload, attached.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.find_uploads(&[bobs_upload]).await.unwrap().len(), 1);
    assert!(store.conversations_of(&user(ANN)).await.unwrap().is_empty());
    assert!(store.profile(&user(ANN)).await.unwrap().is_none());
    for gone in [&first, &second] {
        assert!(store.messages(gone).await.unwrap().is_empty(), "{gone:?}");
    }
    // Bob's are untouched.
    assert_eq!(store.conversations_of(&user(BOB)).await.unwrap().len(), 1);
    assert_eq!(store.messages(&bobs).await.unwrap().len(), 2);
    assert!(store.profile(&user(BOB)).await.unwrap().is_some());
    // Erasing again (or a stranger) removes nothing, and succeeds.
    assert_eq!(
        store.erase_customer(&user(ANN)).await.unwrap(),
        Erased::default()
    );
}

for_each_store!(everything_naming_a_customer_goes_and_nothing_else);

/// Every string attribute of every item in the table, by item.
async fn scan_strings(store: &DynamoStore) -> Vec<Vec<String>> {
    let client = local_client(&RoundTrips::default());
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            items.push(
                item.values()
                    .filter_map(|value| match value {
                        AttributeValue::S(text) => Some(text.clone()),
                        _ => None,
                    })
                    .collect(),
            );
        }
        match page.last_evaluated_key {
            Some(next) => start = Some(next),
            None => return items,
        }
    }
}

#[tokio::test]
async fn after_an_erasure_no_item_in_the_table_names_the_customer() {
    let (store, _) = fresh_dynamo_store().await;
    chat_of(&store, ANN, true).await;
    chat_of(&store, ANN, false).await;
    chat_of(&store, BOB, true).await;
    loose_items_of(&store, ANN).await;
    loose_items_of(&store, BOB).await;
    let uploader = |email: &str| {
        Uploader::customer(&user(email))
            .as_str()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let names = |email: &str, items: &[Vec<String>]| {
        items
            .iter()
            .filter(|strings| {
                strings
                    .iter()
                    .any(|s| s.contains(email) || s.contains(&uploader(email)))
            })
            .count()
    };
    let before = scan_strings(&store).await;
    assert_eq!(
        names(ANN, &before),
        7,
        "the user, two conversations' META items, two receipts, her upload and her ticket"
    );

    store.erase_customer(&user(ANN)).await.unwrap();

    let after = scan_strings(&store).await;
    assert_eq!(names(ANN, &after), 0, "{after:?}");
    assert_eq!(names(BOB, &after), names(BOB, &before));
}
