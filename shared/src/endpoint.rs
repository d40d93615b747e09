//! The endpoint table: every route the API serves, written once. The local router,
//! `supportzen invoke`'s list of functions, the tests' paths, idempotency scopes and log
//! lines and agents' scopes all come from here; `tests/repository/template.rs` keeps
//! `template.yaml` and `functions/` in step with it.

use crate::domain::Scope;

/// Declares [`Endpoint`] and its table from one list of
/// `Variant => (function name, method, path)`.
macro_rules! endpoints {
    ($($variant:ident => ($name:literal, $method:literal, $path:literal),)+) => {
        /// One route of the API. Each is served by the Lambda function of the same name
        /// (`functions/<name>`); idempotency keys are scoped to one endpoint (and one user).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $($variant,)+
        }

        impl Endpoint {
            /// Every endpoint, in the table's order.
            pub const ALL: &'static [Endpoint] = &[$(Endpoint::$variant,)+];

            /// The Lambda function's (and binary's) name, e.g. `live-create`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $name,)+
                }
            }

            /// The HTTP method API Gateway routes to it.
            pub const fn method(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $method,)+
                }
            }

            /// The path API Gateway routes to it; `{name}` stands for one path segment,
            /// a path parameter, as in API Gateway's route keys.
            pub const fn path(self) -> &'static str {
                match self {
                    $(Endpoint::$variant => $path,)+
                }
            }
        }
    };
}

endpoints! {
    LiveCreate => ("live-create", "POST", "/api/client/live/create"),
    LiveChat => ("live-chat", "POST", "/api/client/live/chat"),
    TicketCreate => ("ticket-create", "POST", "/api/client/ticket/create"),
    TicketAppend => ("ticket-append", "POST", "/api/client/ticket/append"),
    ConversationsList => ("conversations-list", "GET", "/api/client/conversations"),
    ConversationMessages => (
        "conversation-messages",
        "GET",
        "/api/client/conversations/{id}/messages"
    ),
    AgentInbox => ("agent-inbox", "GET", "/api/agent/conversations"),
    AgentConversation => ("agent-conversation", "GET", "/api/agent/conversations/{id}"),
    AgentMessages => (
        "agent-messages",
        "GET",
        "/api/agent/conversations/{id}/messages"
    ),
    AgentReply => (
        "agent-reply",
        "POST",
        "/api/agent/conversations/{id}/messages"
    ),
    AgentStatus => ("agent-status", "POST", "/api/agent/conversations/{id}/status"),
    AgentAssign => ("agent-assign", "POST", "/api/agent/conversations/{id}/assign"),
    RealtimeTicket => ("realtime-ticket", "POST", "/api/client/realtime/ticket"),
    AgentRealtimeTicket => ("agent-realtime-ticket", "POST", "/api/agent/realtime/ticket"),
    AttachmentUpload => ("attachment-upload", "POST", "/api/client/attachments"),
    AgentAttachmentUpload => ("agent-attachment-upload", "POST", "/api/agent/attachments"),
    ConversationRead => (
        "conversation-read",
        "POST",
        "/api/client/conversations/{id}/read"
    ),
    AgentRead => ("agent-read", "POST", "/api/agent/conversations/{id}/read"),
    Unsubscribe => ("unsubscribe", "POST", "/api/client/unsubscribe"),
    AgentCustomer => ("agent-customer", "GET", "/api/agent/customers"),
    ConversationRating => (
        "conversation-rating",
        "POST",
        "/api/client/conversations/{id}/rating"
    ),
}

/// Where a request to a path goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// To this endpoint, with the path's parameters.
    To(Endpoint, Vec<(&'static str, String)>),
    /// The path is served, but not for this method; these methods are.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

impl Endpoint {
    /// The endpoint whose function is called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }

    /// A second method the same function answers on the same path, if any: the
    /// unsubscribe link's confirmation page (`GET`), which changes nothing (mail
    /// scanners fetch links) and whose form POSTs the same token.
    pub const fn page_method(self) -> Option<&'static str> {
        match self {
            Endpoint::Unsubscribe => Some("GET"),
            _ => None,
        }
    }

    /// The methods its function answers: [`Endpoint::method`], then
    /// [`Endpoint::page_method`] if any.
    pub fn methods(self) -> Vec<&'static str> {
        let mut methods = vec![self.method()];
        methods.extend(self.page_method());
        methods
    }

    /// The endpoint `method` and `path` name, with the path's parameters.
    pub fn route(method: &str, path: &str) -> Route {
        let mut methods = Vec::new();
        for &endpoint in Self::ALL {
            if let Some(parameters) = path_parameters(endpoint.path(), path) {
                if endpoint.methods().contains(&method) {
                    return Route::To(endpoint, parameters);
                }
                methods.extend(endpoint.methods());
            }
        }
        if methods.is_empty() {
            Route::NotFound
        } else {
            Route::WrongMethod(methods)
        }
    }

    /// The scope an agent's token needs for this route; `None` for the customer routes,
    /// which carry no JWT (customers sign their requests with their own secret).
    pub const fn scope(self) -> Option<Scope> {
        match self {
            Endpoint::LiveCreate
            | Endpoint::LiveChat
            | Endpoint::TicketCreate
            | Endpoint::TicketAppend
            | Endpoint::ConversationsList
            | Endpoint::ConversationMessages
            | Endpoint::RealtimeTicket
            | Endpoint::AttachmentUpload
            | Endpoint::ConversationRead
            | Endpoint::Unsubscribe
            | Endpoint::ConversationRating => None,
            Endpoint::AgentInbox
            | Endpoint::AgentConversation
            | Endpoint::AgentMessages
            | Endpoint::AgentRealtimeTicket
            | Endpoint::AgentCustomer => Some(Scope::Read),
            Endpoint::AgentReply
            | Endpoint::AgentStatus
            | Endpoint::AgentAssign
            | Endpoint::AgentAttachmentUpload
            | Endpoint::AgentRead => Some(Scope::Write),
        }
    }
}

/// The parameters `path` gives the route `template`, or `None` if it is another route.
/// A parameter is one non-empty segment, percent-decoded.
fn path_parameters(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let (mut wanted, mut given) = (template.split('/'), path.split('/'));
    let mut parameters = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(parameters),
            (Some(pattern), Some(segment)) => {
                match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !segment.is_empty() => {
                        // Percent-decoded; a `+` in a path is itself, not a space.
                        let encoded = format!("x={}", segment.replace('+', "%2B"));
                        let decoded = url::form_urlencoded::parse(encoded.as_bytes())
                            .next()
                            .map(|(_, value)| value.into_owned())?;
                        parameters.push((name, decoded));
                    }
                    Some(_) => return None,
                    None if pattern == segment => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_routes_are_unique_and_round_trip() {
        let names: HashSet<_> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        let routes: HashSet<_> = Endpoint::ALL
            .iter()
            .map(|e| (e.method(), e.path()))
            .collect();
        assert_eq!(names.len(), Endpoint::ALL.len());
        assert_eq!(routes.len(), Endpoint::ALL.len());
        for &endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::parse(endpoint.name()), Some(endpoint));
            assert!(matches!(
                Endpoint::route(endpoint.method(), endpoint.path()),
                Route::To(e, _) if e == endpoint
            ));
            // Agent routes, and only they, need an agent scope.
            assert_eq!(
                endpoint.scope().is_some(),
                endpoint.path().starts_with("/api/agent/"),
                "{endpoint:?}"
            );
        }
        assert_eq!(Endpoint::parse("live"), None);
        assert_eq!(Endpoint::route("POST", "/api/client/live"), Route::NotFound);
    }

    #[test]
    fn paths_with_parameters_route_and_give_them() {
        let messages = "/api/client/conversations/TKT-001/messages";
        assert_eq!(
            Endpoint::route("GET", messages),
            Route::To(
                Endpoint::ConversationMessages,
                vec![("id", "TKT-001".to_string())]
            )
        );
        assert_eq!(
            Endpoint::route("GET", "/api/client/conversations/a%20b/messages"),
            Route::To(
                Endpoint::ConversationMessages,
                vec![("id", "a b".to_string())]
            )
        );
        for other in [
            "/api/client/conversations//messages",
            "/api/client/conversations/TKT-001",
            "/api/client/conversations/TKT-001/messages/x",
        ] {
            assert_eq!(Endpoint::route("GET", other), Route::NotFound, "{other}");
        }
        assert_eq!(
            Endpoint::route("POST", messages),
            Route::WrongMethod(vec!["GET"])
        );
        // One path, two methods: the agents' messages are read and written there.
        let agent_messages = "/api/agent/conversations/TKT-001/messages";
        assert!(matches!(
            Endpoint::route("GET", agent_messages),
            Route::To(Endpoint::AgentMessages, _)
        ));
        assert!(matches!(
            Endpoint::route("POST", agent_messages),
            Route::To(Endpoint::AgentReply, _)
        ));
        assert_eq!(
            Endpoint::route("DELETE", agent_messages),
            Route::WrongMethod(vec!["GET", "POST"])
        );
        // The unsubscribe link: POSTed by mail apps, its page fetched by people.
        let unsubscribe = Endpoint::Unsubscribe.path();
        for method in ["POST", "GET"] {
            assert!(matches!(
                Endpoint::route(method, unsubscribe),
                Route::To(Endpoint::Unsubscribe, _)
            ));
        }
        assert_eq!(
            Endpoint::route("PUT", unsubscribe),
            Route::WrongMethod(vec!["POST", "GET"])
        );
    }
}
