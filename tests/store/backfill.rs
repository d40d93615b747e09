//! `supportzen ops backfill` on DynamoDB Local: conversations in the shapes older releases
//! wrote are invisible to the list and the inbox until the backfill rewrites them; a dry
//! run counts them and writes nothing; a second run finds nothing to do. (SQLite lists
//! from columns every release has: it has nothing to backfill.)

use aws_sdk_dynamodb::types::AttributeValue;
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    AgentId, Author, ChatId, ConversationId, Email, Kind, MessageText, NewMessage, Profile, Status,
    UnixSeconds, UserId,
};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::dynamo::backfill::{BackfillPage, ResumeKey, WriteBudget};
use supportzen_shared::store::{
    AgentReader, AgentWriter, AssigneeFilter, ConversationCreator, ConversationReader, InboxFilter,
    NewConversation, StoredConversation,
};
use supportzen_tests::dynamo::{RoundTrips, fresh_dynamo_store, local_client};

fn ann() -> UserId {
    Email::parse("ann@example.com").unwrap().user_id().clone()
}

async fn chat(store: &DynamoStore, owner: Caller, first: &str) -> ConversationId {
    let new = NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner,
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: NewMessage::now(
            Author::Customer,
            MessageText::parse(first).unwrap(),
            None,
            None,
        ),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    };
    store.create_conversation(&new).await.unwrap();
    new.id
}

/// Rewrites a conversation's `META` item as an older release left it.
async fn age(
    store: &DynamoStore,
    id: &ConversationId,
    update: &str,
    values: &[(&str, AttributeValue)],
) {
    let mut call = local_client(&RoundTrips::default())
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("CONV#{}", id.key())))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression(update)
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#open", "open");
    for (name, value) in values {
        call = call.expression_attribute_values(*name, value.clone());
    }
    // Every expression names both: unused names are an error, so use them in a no-op.
    call.condition_expression("attribute_exists(#status) OR attribute_exists(#open)")
        .send()
        .await
        .unwrap();
}

async fn listed(store: &DynamoStore) -> Vec<ConversationId> {
    let page = store
        .conversation_page(&ann(), Kind::Chat, None, 100)
        .await
        .unwrap();
    page.items.into_iter().map(|c| c.id).collect()
}

async fn in_inbox(store: &DynamoStore, status: Status) -> Vec<StoredConversation> {
    let filter = InboxFilter {
        kind: Kind::Chat,
        status,
        assignee: AssigneeFilter::Any,
    };
    store.inbox_page(&filter, None, 100).await.unwrap().items
}

/// The whole table, page by page, as `supportzen ops backfill` runs it.
async fn backfill(store: &DynamoStore, dry_run: bool) -> BackfillPage {
    let (mut total, mut from) = (BackfillPage::default(), None::<ResumeKey>);
    let mut budget = WriteBudget::per_second(1_000);
    loop {
        let page = store
            .backfill_page(from.as_ref(), dry_run, &mut budget)
            .await
            .unwrap();
        total.items_read += page.items_read;
        total.conversations += page.conversations;
        total.stale += page.stale;
        total.rewritten += page.rewritten;
        total.changed_meanwhile += page.changed_meanwhile;
        from = page.next;
        if from.is_none() {
            return total;
        }
    }
}

#[tokio::test]
async fn conversations_of_older_releases_are_listed_and_in_the_inbox_after_one_backfill() {
    let (store, _) = fresh_dynamo_store().await;
    let pin = BearerToken::from_hex(&"01".repeat(32)).unwrap().digest();
    let current = chat(&store, Caller::New { user: ann(), pin }, "written today").await;
    let before_read_routes = chat(&store, Caller::Known(ann()), "before the list route").await;
    let before_agent_routes = chat(&store, Caller::Known(ann()), "before the inbox").await;
    let closed_before_statuses = chat(&store, Caller::Known(ann()), "closed long ago").await;
    // An assigned one written before the agent routes' inbox keys: its assignee stays.
    let assigned = chat(&store, Caller::Known(ann()), "assigned, then aged").await;
    let agent = AgentId::parse("agent-7").unwrap();
    store.assign(&assigned, Some(&agent), None).await.unwrap();

    // As the releases before the read routes wrote it: sort key `<created>#<id>`, no preview.
    age(
        &store,
        &before_read_routes,
        "SET gsi1sk = :old REMOVE last_message_id, last_message_author, last_message_preview",
        &[(
            ":old",
            AttributeValue::S(format!("0000000000001#{}", before_read_routes.key())),
        )],
    )
    .await;
    // Before the agent routes: the open-only inbox key, no assignee key, no status.
    for (id, old) in [
        (&before_agent_routes, "OPEN#chat"),
        (&assigned, "OPEN#chat"),
    ] {
        age(
            &store,
            id,
            "SET gsi2pk = :old REMOVE gsi3pk, gsi3sk, #status",
            &[(":old", AttributeValue::S(old.into()))],
        )
        .await;
    }
    // Closed before statuses: `open` false, in no inbox at all.
    age(
        &store,
        &closed_before_statuses,
        "SET #open = :false REMOVE gsi2pk, gsi2sk, gsi3pk, gsi3sk, #status",
        &[(":false", AttributeValue::Bool(false))],
    )
    .await;

    assert_eq!(
        listed(&store).await.len(),
        4,
        "the list misses the old sort key"
    );
    let open = in_inbox(&store, Status::Open).await;
    assert_eq!(
        open.len(),
        2,
        "the inbox misses the conversations without its keys"
    );

    let counted = backfill(&store, true).await;
    assert_eq!((counted.stale, counted.rewritten), (4, 0), "{counted:?}");
    assert_eq!(listed(&store).await.len(), 4, "a dry run writes nothing");

    let done = backfill(&store, false).await;
    assert_eq!(done.conversations, 5);
    assert_eq!(
        (done.stale, done.rewritten, done.changed_meanwhile),
        (4, 4, 0)
    );

    let mut all = listed(&store).await;
    all.sort_by_key(ConversationId::key);
    let mut expected = vec![
        current.clone(),
        before_read_routes.clone(),
        before_agent_routes.clone(),
        closed_before_statuses.clone(),
        assigned.clone(),
    ];
    expected.sort_by_key(ConversationId::key);
    assert_eq!(all, expected);
    let open: Vec<ConversationId> = in_inbox(&store, Status::Open)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open.len(), 4, "{open:?}");
    assert!(!open.contains(&closed_before_statuses));
    let closed = in_inbox(&store, Status::Closed).await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].id, closed_before_statuses);
    let mine = store
        .inbox_page(
            &InboxFilter {
                kind: Kind::Chat,
                status: Status::Open,
                assignee: AssigneeFilter::Agent(agent.clone()),
            },
            None,
            10,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(mine.len(), 1, "the assignment survives the backfill");
    assert_eq!(mine[0].id, assigned);
    let previewed = store
        .find_conversation(&before_read_routes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        previewed
            .last_message
            .map(|preview| preview.text)
            .as_deref(),
        Some("before the list route"),
        "the preview is its newest message's"
    );

    let again = backfill(&store, false).await;
    assert_eq!(
        (again.conversations, again.stale, again.rewritten),
        (5, 0, 0)
    );
}

/// A stack deployed when the inbox had four shards, deployed again with one (the default):
/// until the backfill runs, one shard's inbox misses every conversation outside shard 0
/// (and an assignee's too); the backfill with the new count files them all again; a
/// second run rewrites nothing. Raising the count hides nothing meanwhile: the old
/// partitions are among the new ones.
#[tokio::test]
async fn a_new_shard_count_files_every_conversation_again() {
    let (one, _) = fresh_dynamo_store().await;
    let four = one
        .clone()
        .with_inbox_shards(supportzen_shared::dynamo::items::InboxShards::parse("4").unwrap());
    let pin = BearerToken::from_hex(&"01".repeat(32)).unwrap().digest();
    let mut ids = vec![chat(&four, Caller::New { user: ann(), pin }, "chat 0").await];
    for n in 1..12 {
        ids.push(chat(&four, Caller::Known(ann()), &format!("chat {n}")).await);
    }
    let agent = AgentId::parse("agent-7").unwrap();
    four.assign(&ids[0], Some(&agent), None).await.unwrap();
    four.assign(&ids[1], Some(&agent), None).await.unwrap();
    let theirs = |store: DynamoStore| {
        let agent = agent.clone();
        async move {
            let filter = InboxFilter {
                kind: Kind::Chat,
                status: Status::Open,
                assignee: AssigneeFilter::Agent(agent),
            };
            store
                .inbox_page(&filter, None, 10)
                .await
                .unwrap()
                .items
                .len()
        }
    };

    let outside_shard_0 = ids
        .iter()
        .filter(|id| four.inbox_shards().of(id) != 0)
        .count();
    assert!(outside_shard_0 > 0, "some conversations move");
    assert_eq!(
        in_inbox(&one, Status::Open).await.len(),
        ids.len() - outside_shard_0,
        "before the backfill, one shard finds only shard 0's"
    );

    let done = backfill(&one, false).await;
    assert_eq!(done.conversations, ids.len() as u64);
    assert_eq!(
        (done.rewritten, done.changed_meanwhile),
        (outside_shard_0 as u64, 0)
    );
    let mut open: Vec<ConversationId> = in_inbox(&one, Status::Open)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    open.sort_by_key(ConversationId::key);
    ids.sort_by_key(ConversationId::key);
    assert_eq!(open, ids);
    assert_eq!(
        theirs(one.clone()).await,
        2,
        "the assignee's inbox moved too"
    );
    let again = backfill(&one, false).await;
    assert_eq!((again.stale, again.rewritten), (0, 0));

    // Back to four: every conversation stays in view before the backfill spreads them.
    assert_eq!(in_inbox(&four, Status::Open).await.len(), ids.len());
    assert_eq!(theirs(four.clone()).await, 2);
    let spread = backfill(&four, false).await;
    assert_eq!(spread.rewritten, outside_shard_0 as u64);
    assert_eq!(in_inbox(&four, Status::Open).await.len(), ids.len());
}
