//! The HTTP layer, and the only code that knows about HTTP: reading requests into the
//! flows' typed inputs ([`request`]), the endpoint handlers ([`handlers`]), and writing
//! outcomes as the documented envelope ([`response`]).

pub mod handlers;
pub mod request;
pub mod response;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::store::{ConversationCreator, MessageAppender, TicketNumbers, UserReader};
use lambda_http::{Body, Request, Response};

/// Everything the endpoints together need from a store: what code that serves all of
/// them (the local server, `supportzen invoke`) runs on. Each Lambda needs less.
pub trait Backend:
    UserReader + ConversationCreator + MessageAppender + TicketNumbers + Send + Sync + 'static
{
}

impl<T> Backend for T where
    T: UserReader + ConversationCreator + MessageAppender + TicketNumbers + Send + Sync + 'static
{
}

/// Runs `endpoint`'s handler, exactly as its Lambda function does.
pub async fn dispatch<S: Backend>(
    endpoint: Endpoint,
    store: &S,
    config: &Config,
    request: Request,
) -> Response<Body> {
    match endpoint {
        Endpoint::LiveCreate => handlers::live_create(store, config, request).await,
        Endpoint::LiveChat => handlers::live_chat(store, config, request).await,
        Endpoint::TicketCreate => handlers::ticket_create(store, config, request).await,
        Endpoint::TicketAppend => handlers::ticket_append(store, config, request).await,
    }
}
