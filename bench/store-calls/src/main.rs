//! A Lambda function that makes exactly the DynamoDB calls one endpoint makes
//! (`BENCH_CALLS` = the function's name, e.g. live-create), with the same
//! runtime, logging and client as the real functions, but without parsing, authenticating
//! or answering a request. The cold-start harness subtracts its warm time from the real
//! function's to find what the function adds beyond its DynamoDB calls.

use lambda_http::Error;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::Value;
use supportzen_shared::auth::Caller;
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, Email, Kind, MessageText, NewMessage, Profile, TicketId,
    UnixSeconds,
};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::store::{
    ConversationCreator, ConversationReader, MessageAppender, MessageWindow, NewConversation,
    TicketNumbers, UserReader,
};

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
    })
}

async fn calls(store: &DynamoStore, endpoint: &str, email: &Email) -> Result<Value, Error> {
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
            let chat =
                ConversationId::Chat(ChatId::parse("chat-019aa6f0-0000-7000-8000-000000000001")?);
            store
                .append_message(&chat, email.user_id(), &message()?, None)
                .await?
        }
        "ticket-append" => {
            let ticket =
                ConversationId::Ticket(TicketId::from_number(1).ok_or("1 is a ticket number")?);
            store
                .append_message(&ticket, email.user_id(), &message()?, None)
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
