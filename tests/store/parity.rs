//! One definition of "this committed change yields these events" (`events::changes`),
//! reached two ways: the local server's store decorator (`store::Publishing`) and
//! production's decoding of the table's change stream (`dynamo::stream`). One scenario
//! runs on SQLite through the decorator, and on DynamoDB Local, whose stream of the
//! table is read back and decoded as `events-stream` decodes it; both must yield the
//! same events, ids and times aside, and the events the scenario is meant to yield.

use aws_sdk_dynamodb::types::{AttributeValue, StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Agent, AgentId, AttachmentId, Author, ChatId, ContentType, ConversationId, DisplayName, Email,
    FileName, ImageUrl, MessageText, NewMessage, Profile, Rating, RatingComment, RatingScore,
    Status, UnixSeconds, Uploader, UserId, now_millis,
};
use supportzen_shared::dynamo::stream::{self, Change, Operation, Pending};
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::events::{Event, EventType};
use supportzen_shared::flows::due::sweep;
use supportzen_shared::store::{
    AgentReader, AgentWriter, ConversationCreator, ConversationRater, ConversationReader, DueWork,
    EmailPreferences, EventSink, MessageAppender, NewConversation, Publishing, ReadMarker, Reader,
    UploadRecord, UploadRegistry,
};
use supportzen_sqlite::SqliteStore;
use supportzen_tests::dynamo::{RoundTrips, local_dynamo};

/// What the scenario writes, made once so that both stores get the very same values.
pub(crate) struct Scenario {
    chat: ConversationId,
    owner: UserId,
    first: NewMessage,
    follow_up: NewMessage,
    reply: NewMessage,
    note: NewMessage,
    reopening: NewMessage,
    /// Stamped before `reopening` but written after it, to the solved conversation: it
    /// reopens it without being its newest (as when two writes race).
    reopening_behind: NewMessage,
    /// Written last, on the closed conversation: once its event is read back, every
    /// earlier one has been.
    last_note: NewMessage,
    agent: AgentId,
    /// The agent who marks the conversation read for the agents.
    reader: Agent,
    snooze_until: i64,
    /// Ann's upload, which `follow_up` carries.
    upload: UploadRecord,
    /// Ann's rating once it is solved, and her change of mind.
    rating: Rating,
    changed_rating: Rating,
}

impl Scenario {
    pub(crate) fn new() -> Self {
        let agent = Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam from Support").unwrap(),
        };
        let customer = |text: &str| message(Author::Customer, text, None, false);
        let by_agent = |text: &str, internal| message(Author::Agent, text, Some(&agent), internal);
        let mut first = customer("My invoice shows the wrong plan.");
        first.image_url = Some(ImageUrl::parse("https://example.com/invoice.png").unwrap());
        let owner = Email::parse("ann@example.com").unwrap().user_id().clone();
        let upload = UploadRecord {
            id: AttachmentId::generate(),
            uploader: Uploader::customer(&owner),
            name: FileName::parse("invoice.pdf").unwrap(),
            content_type: ContentType::Pdf,
            size: 2048,
            created_at: now_millis(),
            attached_to: None,
        };
        let reopening = customer("And the old invoice?");
        let mut reopening_behind = customer("Also, the receipt?");
        reopening_behind.sent_at = reopening.sent_at - 1_000;
        let mut follow_up = customer("It says Basic.");
        follow_up.attachments = vec![upload.attachment(upload.uploader.kept_key(&upload.id))];
        Scenario {
            chat: ConversationId::Chat(ChatId::generate()),
            owner,
            first,
            follow_up,
            reply: by_agent("Sorry about that: you are back on Premium.", false),
            note: by_agent("Plan sync bug, see INC-42", true),
            reopening,
            reopening_behind,
            last_note: by_agent("Closed after the refund.", true),
            reader: agent.clone(),
            agent: agent.id,
            snooze_until: now_millis() + 3_600_000,
            upload,
            rating: Rating {
                score: RatingScore::from_integer(4).unwrap(),
                comment: Some(RatingComment::parse("Quick, but I had to ask twice.").unwrap()),
                rated_at: now_millis(),
                first_rated_at: now_millis(),
            },
            changed_rating: Rating {
                score: RatingScore::from_integer(5).unwrap(),
                comment: None,
                rated_at: now_millis() + 1,
                first_rated_at: now_millis(),
            },
        }
    }

    /// Runs the scenario's writes on `store`, reading the conversation before each of
    /// the agents' writes as the flows do.
    pub(crate) async fn run<S>(&self, store: &S)
    where
        S: ConversationCreator
            + MessageAppender
            + AgentReader
            + AgentWriter
            + ReadMarker
            + UploadRegistry
            + DueWork
            + ConversationReader
            + EmailPreferences
            + ConversationRater
            + Sync,
    {
        let pin = BearerToken::from_hex(&"01".repeat(32)).unwrap().digest();
        let new = NewConversation {
            id: self.chat.clone(),
            owner: Caller::New {
                user: self.owner.clone(),
                pin,
            },
            profile: Profile {
                name: None,
                plan_id: None,
                account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
            },
            first_message: self.first.clone(),
            follow_up_of: None,
            receipt: None,
            source: None,
            notice_at: None,
        };
        store.create_conversation(&new).await.unwrap();
        let append = move |message: &NewMessage| {
            let message = message.clone();
            async move {
                store
                    .append_message(&self.chat, &self.owner, &message, None, None)
                    .await
                    .unwrap()
            }
        };
        let seen =
            move || async move { store.find_conversation(&self.chat).await.unwrap().unwrap() };
        store.record_upload(&self.upload).await.unwrap();
        append(&self.follow_up).await;
        store
            .add_agent_message(&seen().await, &self.reply, None, None)
            .await
            .unwrap();
        store
            .add_agent_message(&seen().await, &self.note, None, None)
            .await
            .unwrap();
        // Ann reads the reply, the agents her follow-up; a mark that does not move (the
        // agents' back to the first message) changes nothing and is no event.
        let mark = |reader, up_to: &NewMessage, by| {
            let up_to = up_to.id.clone();
            async move {
                store
                    .mark_read(&seen().await, reader, &up_to, by)
                    .await
                    .unwrap()
            }
        };
        mark(Reader::Customer, &self.reply, None).await;
        mark(Reader::Agents, &self.follow_up, Some(&self.reader)).await;
        assert!(
            !mark(Reader::Agents, &self.first, Some(&self.reader))
                .await
                .moved
        );
        let pending = (Status::Pending, Some(self.snooze_until));
        store
            .set_status(&seen().await, pending.0, pending.1)
            .await
            .unwrap();
        // The same status and snooze again change nothing, and are no event (DynamoDB
        // writes no stream record for an update that changes nothing).
        store
            .set_status(&seen().await, pending.0, pending.1)
            .await
            .unwrap();
        store
            .assign(&self.chat, Some(&self.agent), None)
            .await
            .unwrap();
        // The same assignment again changes nothing, and is no event.
        store
            .assign(&self.chat, Some(&self.agent), None)
            .await
            .unwrap();
        // The snooze's time comes: a sweep reopens it (a status change), and a second
        // sweep at the same time finds nothing to do.
        let woken = sweep(store, self.snooze_until).await.unwrap();
        assert_eq!((woken.woken, woken.skipped), (1, 0));
        assert_eq!(sweep(store, self.snooze_until).await.unwrap().woken, 0);
        store
            .set_status(&seen().await, Status::Solved, None)
            .await
            .unwrap();
        // Ann rates it, then changes her mind: an event each.
        store.rate(&seen().await, &self.rating).await.unwrap();
        let changed = Rating {
            first_rated_at: seen().await.rating.unwrap().first_rated_at,
            ..self.changed_rating.clone()
        };
        store.rate(&seen().await, &changed).await.unwrap();
        // A customer's message reopens it: the message's event only. Solved again, it is
        // reopened by one stamped before that message: again the message's event only.
        append(&self.reopening).await;
        store
            .set_status(&seen().await, Status::Solved, None)
            .await
            .unwrap();
        append(&self.reopening_behind).await;
        store.assign(&self.chat, None, None).await.unwrap();
        store
            .set_status(&seen().await, Status::Closed, None)
            .await
            .unwrap();
        store
            .add_agent_message(&seen().await, &self.last_note, None, None)
            .await
            .unwrap();
    }

    /// The events the scenario is meant to yield, in order.
    pub(crate) fn expected_kinds() -> Vec<EventType> {
        use EventType::{Assigned, MessageCreated, Rated, Read, StatusChanged};
        vec![
            MessageCreated,
            MessageCreated,
            MessageCreated,
            MessageCreated,
            Read,
            Read,
            StatusChanged,
            Assigned,
            // The snooze waking.
            StatusChanged,
            StatusChanged,
            Rated,
            Rated,
            MessageCreated,
            StatusChanged,
            MessageCreated,
            Assigned,
            StatusChanged,
            MessageCreated,
        ]
    }
}

fn message(author: Author, text: &str, agent: Option<&Agent>, internal: bool) -> NewMessage {
    let mut message = NewMessage::now(author, MessageText::parse(text).unwrap(), None, None);
    message.agent = agent.cloned();
    message.internal = internal;
    message
}

/// Collects what the decorator publishes.
#[derive(Clone, Default)]
pub(crate) struct Collected(pub(crate) Arc<Mutex<Vec<Event>>>);

impl EventSink for Collected {
    async fn publish(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

/// An event with its id blanked, and for a status change or an assignment its time (the
/// decorator's clock at commit, the stream record's time): what must be alike on both
/// sides. A message's event is timed by the message itself, on both.
pub(crate) fn comparable(mut event: Event) -> Event {
    event.id = String::new();
    if event.kind != EventType::MessageCreated {
        event.occurred_at = 0;
    }
    event
}

#[tokio::test]
async fn the_decorator_and_the_stream_yield_the_same_events() {
    let scenario = Scenario::new();

    let collected = Collected::default();
    let local = Publishing::new(SqliteStore::open(":memory:").unwrap(), collected.clone());
    scenario.run(&local).await;
    let at_commit: Vec<Event> = collected.0.lock().unwrap().drain(..).collect();

    let (store, streams, stream_arn) = dynamo_store_with_stream().await;
    scenario.run(&store).await;
    let from_stream = read_stream(&store, &streams, &stream_arn, &scenario.last_note).await;

    let kinds = |events: &[Event]| events.iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(kinds(&at_commit), Scenario::expected_kinds(), "at commit");
    assert_eq!(
        kinds(&from_stream),
        Scenario::expected_kinds(),
        "from the stream"
    );
    let at_commit: Vec<Event> = at_commit.into_iter().map(comparable).collect();
    let from_stream: Vec<Event> = from_stream.into_iter().map(comparable).collect();
    for (local, production) in at_commit.iter().zip(&from_stream) {
        assert_eq!(local, production);
    }
    assert_eq!(at_commit, from_stream);
    // The follow-up's event names its file by id, and carries no link.
    let follow_up = &at_commit[1].data;
    assert_eq!(
        follow_up["attachments"],
        serde_json::json!([scenario.upload.id.as_str()])
    );
    assert!(!follow_up.to_string().contains("uploads/"), "{follow_up}");
    // The marks: who read, up to what, and which agent.
    assert_eq!(
        (&at_commit[4].data, &at_commit[5].data["agent"]["name"]),
        (
            &serde_json::json!({"kind": "chat", "reader": "customer",
                                "upTo": scenario.reply.id.as_str(), "agent": null}),
            &serde_json::json!("Sam from Support")
        )
    );
}

/// A store on a fresh table of DynamoDB Local with its stream on (`NEW_AND_OLD_IMAGES`,
/// as `template.yaml` has it), a Streams client, and the stream's ARN.
async fn dynamo_store_with_stream() -> (DynamoStore, aws_sdk_dynamodbstreams::Client, String) {
    let dynamo = local_dynamo(&RoundTrips::default());
    let dynamodb = &dynamo.client;
    let table = format!("parity-{}", uuid::Uuid::now_v7().simple());
    schema::create_table(dynamodb, &table).await.unwrap();
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .unwrap();
    dynamodb
        .update_table()
        .table_name(&table)
        .stream_specification(stream)
        .send()
        .await
        .expect("DynamoDB Local turns the table's stream on");
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_string();
    let lookup = |name: &str| std::env::var(name).ok();
    let sdk = client::lambda_sdk_config(lookup).unwrap();
    let endpoint = lookup("AWS_ENDPOINT_URL_DYNAMODB").expect("set by ./scripts/test");
    let config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
    (DynamoStore::new(dynamo.clone(), table), streams, arn)
}

/// Every event the stream's records make, as `events-stream` makes them (a message's
/// owner read from its conversation), polled until the event of `last` has come, or
/// for at most 30 seconds.
async fn read_stream(
    store: &DynamoStore,
    streams: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    last: &NewMessage,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read_shards = std::collections::HashSet::new();
    let mut iterators = Vec::new();
    let mut records = Vec::new();
    loop {
        // Shards not read yet (all of them at first; a closed shard's children later).
        if iterators.is_empty() {
            let described = streams
                .describe_stream()
                .stream_arn(arn)
                .send()
                .await
                .unwrap();
            let shards = described
                .stream_description()
                .map(|d| d.shards().to_vec())
                .unwrap_or_default();
            for shard in shards {
                let id = shard.shard_id().unwrap().to_string();
                if !read_shards.insert(id.clone()) {
                    continue;
                }
                let iterator = streams
                    .get_shard_iterator()
                    .stream_arn(arn)
                    .shard_id(id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .unwrap();
                iterators.extend(iterator.shard_iterator().map(str::to_string));
            }
        }
        let mut next = Vec::new();
        for iterator in iterators {
            let page = streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .unwrap();
            records.extend(page.records().iter().cloned());
            next.extend(page.next_shard_iterator().map(str::to_string));
        }
        iterators = next;
        let events = decode(store, &records).await;
        let done = events.last().and_then(|e| e.message_id.as_ref()) == Some(&last.id);
        if done {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "the stream did not bring the scenario's last event within 30 s; it brought \
             {events:?}"
        );
        // The records are not there yet: ask again shortly rather than at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The events of `records`, in stream order.
async fn decode(
    store: &DynamoStore,
    records: &[aws_sdk_dynamodbstreams::types::Record],
) -> Vec<Event> {
    let mut ordered: Vec<_> = records.iter().collect();
    ordered.sort_by_key(|record| {
        let sequence = record
            .dynamodb()
            .and_then(|d| d.sequence_number())
            .unwrap_or("");
        (sequence.len(), sequence.to_string())
    });
    let mut events = Vec::new();
    for record in ordered {
        let image = record.dynamodb().unwrap();
        let change = Change {
            event_id: record.event_id().unwrap().to_string(),
            operation: Operation::parse(record.event_name().unwrap().as_str()).unwrap(),
            at: image
                .approximate_creation_date_time()
                .map(|t| t.to_millis().unwrap())
                .unwrap_or(0),
            old: image.old_image().map(item),
            new: image.new_image().map(item),
        };
        for pending in stream::events(&change).unwrap() {
            events.push(match pending {
                Pending::Event(event) => event,
                Pending::Message(added) => {
                    let owner = store
                        .find_conversation(added.conversation())
                        .await
                        .unwrap()
                        .expect("a message's conversation")
                        .owner;
                    added.into_event(&owner)
                }
            });
        }
    }
    events
}

/// A stream image as the table's item: the two SDKs' attribute values are alike.
fn item(image: &HashMap<String, StreamValue>) -> HashMap<String, AttributeValue> {
    image
        .iter()
        .map(|(name, value)| (name.clone(), value_of(value)))
        .collect()
}

fn value_of(value: &StreamValue) -> AttributeValue {
    match value {
        StreamValue::S(s) => AttributeValue::S(s.clone()),
        StreamValue::N(n) => AttributeValue::N(n.clone()),
        StreamValue::B(b) => AttributeValue::B(b.clone()),
        StreamValue::Bool(b) => AttributeValue::Bool(*b),
        StreamValue::Null(n) => AttributeValue::Null(*n),
        StreamValue::Ss(v) => AttributeValue::Ss(v.clone()),
        StreamValue::Ns(v) => AttributeValue::Ns(v.clone()),
        StreamValue::Bs(v) => AttributeValue::Bs(v.clone()),
        StreamValue::L(v) => AttributeValue::L(v.iter().map(value_of).collect()),
        StreamValue::M(m) => AttributeValue::M(item(m)),
        other => panic!("an attribute value this test does not know: {other:?}"),
    }
}
