//! The endpoint table: every route the API serves, written once. The local router,
//! `supportzen invoke`'s list of functions, the tests' paths, idempotency scopes and log
//! lines all come from here; `tests/template.rs` keeps `template.yaml` and `functions/`
//! in step with it.

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
}

impl Endpoint {
    /// The endpoint whose function is called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }

    /// The endpoint served at `path`, whatever the method, with its path parameters.
    pub fn route(path: &str) -> Option<(Self, Vec<(&'static str, String)>)> {
        Self::ALL
            .iter()
            .find_map(|&endpoint| Some((endpoint, path_parameters(endpoint.path(), path)?)))
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
    fn names_and_paths_are_unique_and_round_trip() {
        let names: HashSet<_> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        let paths: HashSet<_> = Endpoint::ALL.iter().map(|e| e.path()).collect();
        assert_eq!(names.len(), Endpoint::ALL.len());
        assert_eq!(paths.len(), Endpoint::ALL.len());
        for &endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::parse(endpoint.name()), Some(endpoint));
            assert_eq!(
                Endpoint::route(endpoint.path()).map(|(e, _)| e),
                Some(endpoint)
            );
        }
        assert_eq!(Endpoint::parse("live"), None);
        assert_eq!(Endpoint::route("/api/client/live"), None);
    }

    #[test]
    fn paths_with_parameters_route_and_give_them() {
        assert_eq!(
            Endpoint::route("/api/client/conversations/TKT-001/messages"),
            Some((
                Endpoint::ConversationMessages,
                vec![("id", "TKT-001".to_string())]
            ))
        );
        assert_eq!(
            Endpoint::route("/api/client/conversations/a%20b/messages").map(|(_, p)| p),
            Some(vec![("id", "a b".to_string())])
        );
        for other in [
            "/api/client/conversations//messages",
            "/api/client/conversations/TKT-001",
            "/api/client/conversations/TKT-001/messages/x",
        ] {
            assert_eq!(Endpoint::route(other), None, "{other}");
        }
        assert_eq!(
            Endpoint::route("/api/client/conversations"),
            Some((Endpoint::ConversationsList, vec![]))
        );
    }
}
