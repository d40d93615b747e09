//! The four Lambda functions by name and route, and the dispatch from one to its handler.

use crate::Backend;
use lambda_http::{Body, Request, Response};
use supportzen_shared::Config;
use supportzen_shared::handlers;

/// One of the API's functions; the names are the Lambda binaries' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Function {
    LiveCreate,
    LiveChat,
    TicketCreate,
    TicketAppend,
}

impl Function {
    pub const ALL: [Function; 4] = [
        Function::LiveCreate,
        Function::LiveChat,
        Function::TicketCreate,
        Function::TicketAppend,
    ];

    /// The binary's name, e.g. `live-create`.
    pub fn name(self) -> &'static str {
        match self {
            Function::LiveCreate => "live-create",
            Function::LiveChat => "live-chat",
            Function::TicketCreate => "ticket-create",
            Function::TicketAppend => "ticket-append",
        }
    }

    /// The route API Gateway sends to it (always `POST`).
    pub fn path(self) -> &'static str {
        match self {
            Function::LiveCreate => "/api/client/live/create",
            Function::LiveChat => "/api/client/live/chat",
            Function::TicketCreate => "/api/client/ticket/create",
            Function::TicketAppend => "/api/client/ticket/append",
        }
    }

    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// Runs this function's handler, exactly as its Lambda binary does.
    pub async fn call<S: Backend>(
        self,
        store: &S,
        config: &Config,
        request: Request,
    ) -> Response<Body> {
        match self {
            Function::LiveCreate => handlers::live_create(store, config, request).await,
            Function::LiveChat => handlers::live_chat(store, config, request).await,
            Function::TicketCreate => handlers::ticket_create(store, config, request).await,
            Function::TicketAppend => handlers::ticket_append(store, config, request).await,
        }
    }
}
