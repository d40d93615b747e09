//! The HTTP layer, and the only code that knows about HTTP: reading requests into the
//! flows' typed inputs ([`request`] for bodies, [`query`] for the read routes), the
//! endpoint handlers ([`handlers`]), and writing outcomes as the documented envelope
//! ([`response`]; for API Gateway, as a JSON string literal: [`json_literal`]).

pub mod agent;
pub mod api_gateway;
pub mod handlers;
pub mod json_literal;
pub mod query;
pub mod request;
pub mod response;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::store::EmailPreferences;
use crate::store::{
    AgentReader, AgentReceipts, AgentWriter, ConnectTicketIssuer, ConnectTicketRedeemer,
    ConversationCreator, ConversationRater, ConversationReader, CustomerReader, FileStorage,
    MessageAppender, ReadMarker, TicketNumbers, UploadRegistry, UserProvisioner, UserReader,
};
use lambda_http::{Body, Request, RequestExt, Response};
use std::collections::HashMap;

/// Everything the endpoints together need from a store: what code that serves all of
/// them (the local server, `supportzen invoke`) runs on. Each Lambda needs less.
pub trait Backend:
    UserReader
    + ConversationCreator
    + MessageAppender
    + TicketNumbers
    + ConversationReader
    + AgentReader
    + AgentWriter
    + AgentReceipts
    + ReadMarker
    + CustomerReader
    + ConnectTicketIssuer
    + ConnectTicketRedeemer
    + UploadRegistry
    + EmailPreferences
    + ConversationRater
    + UserProvisioner
    + Send
    + Sync
    + 'static
{
}

impl<T> Backend for T where
    T: UserReader
        + ConversationCreator
        + MessageAppender
        + TicketNumbers
        + ConversationReader
        + AgentReader
        + AgentWriter
        + AgentReceipts
        + ReadMarker
        + CustomerReader
        + ConnectTicketIssuer
        + ConnectTicketRedeemer
        + UploadRegistry
        + EmailPreferences
        + ConversationRater
        + UserProvisioner
        + Send
        + Sync
        + 'static
{
}

/// Gives a request what API Gateway gives it in production: the route's path parameters
/// and the query string's parameters. For the local server, which routes by itself.
pub fn with_route_parameters(
    request: Request,
    path_parameters: Vec<(&'static str, String)>,
) -> Request {
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
    {
        query
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let path: HashMap<String, String> = path_parameters
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    request
        .with_query_string_parameters(query)
        .with_path_parameters(path)
}

/// Runs `endpoint`'s handler, exactly as its Lambda function does.
pub async fn dispatch<S: Backend, F: FileStorage>(
    endpoint: Endpoint,
    store: &S,
    files: &F,
    config: &Config,
    request: Request,
) -> Response<Body> {
    match endpoint {
        Endpoint::LiveCreate => handlers::live_create(store, files, config, request).await,
        Endpoint::LiveChat => handlers::live_chat(store, files, config, request).await,
        Endpoint::TicketCreate => handlers::ticket_create(store, files, config, request).await,
        Endpoint::TicketAppend => handlers::ticket_append(store, files, config, request).await,
        Endpoint::ConversationsList => handlers::conversations_list(store, config, request).await,
        Endpoint::ConversationMessages => {
            handlers::conversation_messages(store, files, config, request).await
        }
        Endpoint::AgentInbox => handlers::agent_inbox(store, request).await,
        Endpoint::AgentConversation => handlers::agent_conversation(store, request).await,
        Endpoint::AgentMessages => handlers::agent_messages(store, files, request).await,
        Endpoint::AgentReply => handlers::agent_reply(store, files, config, request).await,
        Endpoint::AgentStatus => handlers::agent_status(store, request).await,
        Endpoint::AgentAssign => handlers::agent_assign(store, request).await,
        Endpoint::RealtimeTicket => handlers::realtime_ticket(store, config, request).await,
        Endpoint::AgentRealtimeTicket => handlers::agent_realtime_ticket(store, request).await,
        Endpoint::AttachmentUpload => {
            handlers::attachment_upload(store, files, config, request).await
        }
        Endpoint::ConversationRead => handlers::conversation_read(store, config, request).await,
        Endpoint::AgentRead => handlers::agent_read(store, request).await,
        Endpoint::AgentAttachmentUpload => {
            handlers::agent_attachment_upload(store, files, config, request).await
        }
        Endpoint::Unsubscribe => handlers::unsubscribe(store, config, request).await,
        Endpoint::AgentCustomer => handlers::agent_customer(store, request).await,
        Endpoint::ConversationRating => handlers::conversation_rating(store, config, request).await,
    }
}
