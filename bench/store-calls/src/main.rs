//! A Lambda function that makes exactly the DynamoDB calls one endpoint makes
//! (`BENCH_CALLS` = the function's name, e.g. live-create), with the same
//! runtime, logging and client as the real functions, but without parsing, authenticating
//! or answering a request. The cold-start harness subtracts its warm time from the real
//! function's to find what the function adds beyond its DynamoDB calls.
//!
//! The calls are those of each function's success event in `events/` (the same ids,
//! page sizes and bodies); `tests/store/round_trips.rs` pins how many each endpoint makes.
//! For the WebSocket API's functions (`ws-authorize`, `ws-connection`), those of their
//! events in `events/realtime/`; for the read marks and the rating, those of the
//! harness's own events in `bench/cold-start/events/`; for `unsubscribe-page` (the
//! unsubscribe link's page), none.

use lambda_http::Error;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::Value;
use supportzen_shared::auth::Caller;
use supportzen_shared::domain::{
    Agent, AgentId, AttachmentId, Author, ChatId, ClientMessageId, ContentType, ConversationId,
    DisplayName, Email, FileName, Kind, MessageId, MessageText, NewMessage, Profile, Rating,
    RatingComment, RatingScore, Reader, Status, TicketId, UnixSeconds, Uploader, now_millis,
};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::events::{ConnectTicket, Subscriber, TICKET_LIFETIME_MS};
use supportzen_shared::store::{
    AgentReader, AgentWriter, AssigneeFilter, CONNECTION_LIFETIME_MS, ConnectTicketIssuer,
    ConnectTicketRedeemer, ConnectionWriter, ConversationCreator, ConversationRater,
    ConversationReader, CustomerReader, EmailPreferences, InboxFilter, MessageAppender,
    MessageWindow, NewConversation, ReadMarker, StoredConversation, TicketNumbers, UploadRecord,
    UploadRegistry, UserReader,
};

/// The chat the sample events use (events/README.md).
const CHAT: &str = "chat-019aa6f0-0000-7000-8000-000000000001";
/// The agent the agent events' token names (its `sub`).
const AGENT: &str = "7c1e4b2a-93d5-4f08-b6a1-2e9d0c5f3a71";
/// The connect ticket `events/realtime/ws-authorize.json` presents.
const WS_TICKET: &str = "wst_5f2b8c1e9a7d4036b1e8c2f94d6a0b3e7c5d1f8a2b9e4c6d0a3f7b1e8c2d5a94";
/// The connection and its `connectedAt` in `events/realtime/ws-connection-connect.json`.
const CONNECTION: &str = "Kx3aBcDeIAMCJfQ=";
const CONNECTED_AT: i64 = 1_795_341_600_000;

/// The message the harness's read-mark events mark up to: the stub's newest.
const UP_TO: &str = "msg-019aa6f0-0000-7000-8000-000000000050";
/// The solved ticket the harness's rating event rates (the stub's `SOLVED_TICKET`).
const SOLVED_TICKET: u64 = 3;

/// The routes' default quiet period before an unread message's email (milliseconds).
const NOTICE_AFTER_MS: i64 = 300_000;

fn message() -> Result<NewMessage, Error> {
    Ok(NewMessage::now(
        Author::Customer,
        MessageText::parse("Where can I find my subscription URL?")?,
        None,
        None,
    ))
}

fn conversation(id: ConversationId, owner: &Email) -> Result<NewConversation, Error> {
    Ok(NewConversation {
        id,
        owner: Caller::Known(owner.user_id().clone()),
        profile: Profile {
            name: None,
            plan_id: Some(5),
            account_created_at: UnixSeconds::parse(1_679_223_400)?,
        },
        first_message: message()?,
        follow_up_of: None,
        receipt: None,
        source: None,
        // As the routes write it: the agents' notice, in the same transaction.
        notice_at: Some(now_millis() + NOTICE_AFTER_MS),
    })
}

fn chat() -> Result<ConversationId, Error> {
    Ok(ConversationId::Chat(ChatId::parse(CHAT)?))
}

/// The agent the agent events name.
fn agent() -> Result<Agent, Error> {
    Ok(Agent {
        id: AgentId::parse(AGENT)?,
        name: DisplayName::parse("Alex Rivera")?,
    })
}

/// An agent's read of the conversation, which each of their writes but assign starts with.
async fn find(store: &DynamoStore, id: &ConversationId) -> Result<StoredConversation, Error> {
    Ok(store
        .find_conversation(id)
        .await?
        .ok_or("the stub has every conversation")?)
}

/// The agent routes' calls: no user is read (API Gateway verified the agent's token).
async fn agent_calls(store: &DynamoStore, endpoint: &str) -> Result<(), Error> {
    let chat = chat()?;
    match endpoint {
        "agent-inbox" => {
            let filter = InboxFilter {
                kind: Kind::Chat,
                status: Status::Open,
                assignee: AssigneeFilter::Any,
            };
            store.inbox_page(&filter, None, 20).await?;
        }
        "agent-conversation" => {
            find(store, &chat).await?;
        }
        "agent-messages" => {
            let seen = find(store, &chat).await?;
            store
                .agent_message_page(&seen.id, &MessageWindow::Latest, 50)
                .await?;
        }
        "agent-reply" => {
            let reply = NewMessage::by_agent(
                agent()?,
                MessageText::parse(
                    "Hi! Your subscription URL is under Account > Subscription; \
                     I've also emailed it to you.",
                )?,
                None,
                Some(ClientMessageId::parse("agent-web-5b9e2c1d-0001")?),
                false,
            );
            let seen = find(store, &chat).await?;
            store.add_agent_message(&seen, &reply, None, None).await?;
        }
        "agent-status" => {
            let seen = find(store, &chat).await?;
            store.set_status(&seen, Status::Pending, None).await?;
        }
        "agent-assign" => {
            store
                .assign(&chat, Some(&AgentId::parse(AGENT)?), None)
                .await?;
        }
        "agent-read" => {
            let seen = find(store, &chat).await?;
            store
                .mark_read(
                    &seen,
                    Reader::Agents,
                    &MessageId::parse(UP_TO)?,
                    Some(&agent()?),
                )
                .await?;
        }
        // The profile and one page of the customer's tickets (`kind=ticket&limit=20`).
        "agent-customer" => {
            let customer = Email::parse("demo@example.com")?;
            store
                .customer_page(customer.user_id(), Kind::Ticket, None, 20)
                .await?;
        }
        other => return Err(format!("BENCH_CALLS={other:?} is not an endpoint").into()),
    }
    Ok(())
}

/// A connect ticket's write, as both ticket routes make it.
async fn issue(store: &DynamoStore, subscriber: &Subscriber) -> Result<(), Error> {
    let ticket = ConnectTicket::generate();
    let expires_at = now_millis() + TICKET_LIFETIME_MS;
    Ok(store
        .put_ticket(&ticket.digest(), subscriber, expires_at)
        .await?)
}

/// The ticket routes' calls (the customer's after their user read), and the WebSocket
/// `$connect`'s: the ticket redeemed by the authorizer, the connection listed by the route.
async fn realtime_calls(store: &DynamoStore, endpoint: &str, email: &Email) -> Result<(), Error> {
    let customer = Subscriber::Customer(email.user_id().clone());
    match endpoint {
        "realtime-ticket" => {
            store.find_user(email.user_id()).await?;
            issue(store, &customer).await?;
        }
        "agent-realtime-ticket" => {
            let agent = supportzen_shared::domain::Agent {
                id: AgentId::parse(AGENT)?,
                name: supportzen_shared::domain::DisplayName::parse(AGENT)?,
            };
            issue(store, &Subscriber::Agent(agent)).await?
        }
        "ws-authorize" => {
            store
                .take_ticket(&ConnectTicket::parse(WS_TICKET)?.digest(), now_millis())
                .await?
                .ok_or("the stub has every ticket")?;
        }
        "ws-connection" => {
            store
                .put_connection(CONNECTION, &customer, CONNECTED_AT + CONNECTION_LIFETIME_MS)
                .await?;
        }
        other => return Err(format!("BENCH_CALLS={other:?} is not a function").into()),
    }
    Ok(())
}

/// The customer's read mark and rating (each the user read with the conversation, then
/// the write), and the unsubscribe link's (no user read: the token is the credential).
async fn mark_calls(store: &DynamoStore, endpoint: &str, email: &Email) -> Result<(), Error> {
    let user = email.user_id();
    match endpoint {
        "conversation-read" => {
            let ticket = ConversationId::Ticket(TicketId::from_number(1).ok_or("a ticket")?);
            let (_, seen) = store.find_user_and_conversation(user, &ticket).await?;
            let seen = seen.ok_or("the stub has every conversation")?;
            store
                .mark_read(&seen, Reader::Customer, &MessageId::parse(UP_TO)?, None)
                .await?;
        }
        "conversation-rating" => {
            let ticket =
                ConversationId::Ticket(TicketId::from_number(SOLVED_TICKET).ok_or("a ticket")?);
            let (_, seen) = store.find_user_and_conversation(user, &ticket).await?;
            let seen = seen.ok_or("the stub has every conversation")?;
            let now = now_millis();
            let rating = Rating {
                score: RatingScore::from_integer(5)?,
                comment: Some(RatingComment::parse("Sorted in minutes.")?),
                rated_at: now,
                first_rated_at: now,
            };
            store.rate(&seen, &rating).await?;
        }
        "unsubscribe" => {
            store.unsubscribe(user).await?;
        }
        // The link's confirmation page reads nothing.
        "unsubscribe-page" => {}
        other => return Err(format!("BENCH_CALLS={other:?} is not an endpoint").into()),
    }
    Ok(())
}

/// The upload routes' calls: the customer's user read, then the upload's record.
async fn upload_calls(store: &DynamoStore, endpoint: &str, email: &Email) -> Result<(), Error> {
    let uploader = match endpoint {
        "attachment-upload" => {
            store.find_user(email.user_id()).await?;
            Uploader::customer(email.user_id())
        }
        "agent-attachment-upload" => Uploader::agent(&AgentId::parse(AGENT)?),
        other => return Err(format!("BENCH_CALLS={other:?} is not an upload route").into()),
    };
    let record = UploadRecord {
        id: AttachmentId::generate(),
        uploader,
        name: FileName::parse("screenshot.png")?,
        content_type: ContentType::Png,
        size: 68,
        created_at: now_millis(),
        attached_to: None,
    };
    Ok(store.record_upload(&record).await?)
}

async fn calls(store: &DynamoStore, endpoint: &str, email: &Email) -> Result<Value, Error> {
    if endpoint.ends_with("attachment-upload") {
        upload_calls(store, endpoint, email).await?;
        return Ok(Value::Null);
    }
    if endpoint.ends_with("realtime-ticket") || endpoint.starts_with("ws-") {
        realtime_calls(store, endpoint, email).await?;
        return Ok(Value::Null);
    }
    if endpoint.starts_with("agent-") {
        agent_calls(store, endpoint).await?;
        return Ok(Value::Null);
    }
    if matches!(endpoint, "conversation-read" | "conversation-rating")
        || endpoint.starts_with("unsubscribe")
    {
        mark_calls(store, endpoint, email).await?;
        return Ok(Value::Null);
    }
    // The messages route reads the user with the conversation instead.
    if endpoint != "conversation-messages" {
        store.find_user(email.user_id()).await?;
    }
    match endpoint {
        "live-create" => {
            store
                .create_conversation(&conversation(
                    ConversationId::Chat(ChatId::generate()),
                    email,
                )?)
                .await?
        }
        "ticket-create" => {
            let number = store.next_ticket_number().await?;
            let id = TicketId::from_number(number).ok_or("ticket numbers start at 1")?;
            store
                .create_conversation(&conversation(ConversationId::Ticket(id), email)?)
                .await?
        }
        "live-chat" => {
            let chat = chat()?;
            store
                .append_message(
                    &chat,
                    email.user_id(),
                    &message()?,
                    Some(now_millis() + NOTICE_AFTER_MS),
                    None,
                )
                .await?
        }
        "ticket-append" => {
            let ticket =
                ConversationId::Ticket(TicketId::from_number(1).ok_or("1 is a ticket number")?);
            store
                .append_message(
                    &ticket,
                    email.user_id(),
                    &message()?,
                    Some(now_millis() + NOTICE_AFTER_MS),
                    None,
                )
                .await?
        }
        "conversations-list" => {
            store
                .conversation_page(email.user_id(), Kind::Ticket, None, 20)
                .await?;
        }
        "conversation-messages" => {
            let ticket =
                ConversationId::Ticket(TicketId::from_number(1).ok_or("1 is a ticket number")?);
            store
                .find_user_and_conversation(email.user_id(), &ticket)
                .await?;
            store
                .message_page(&ticket, &MessageWindow::Latest, 50)
                .await?;
            return Ok(Value::Null);
        }
        other => return Err(format!("BENCH_CALLS={other:?} is not an endpoint").into()),
    }
    Ok(Value::Null)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    supportzen_shared::lambda::init_logging();
    let endpoint = std::env::var("BENCH_CALLS").map_err(|_| "BENCH_CALLS is not set")?;
    let store = DynamoStore::from_lambda_env()?;
    let email = Email::parse("demo@example.com")?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        calls(&store, &endpoint, &email)
    }))
    .await
}
