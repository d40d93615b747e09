//! Single-use tickets for opening a realtime connection. A browser cannot put an
//! `Authorization` header on a WebSocket handshake, and a long-lived secret in a URL
//! ends up in logs; so the client trades its usual credentials for a ticket over HTTPS
//! and opens the socket with `?ticket=` within [`TICKET_LIFETIME_MS`]. Stores keep only
//! the ticket's SHA-256, and redeeming one deletes it.

use crate::domain::{Agent, AgentId, DisplayName, UserId};
use sha2::{Digest, Sha256};

/// How long a ticket can be redeemed for: 60 seconds.
pub const TICKET_LIFETIME_MS: i64 = 60_000;

/// Who a realtime connection delivers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscriber {
    /// A customer: their own conversations' public events.
    Customer(UserId),
    /// An agent whose token had `agent.read`: every conversation's events, notes too.
    /// Their display name comes along (the token's `name`), for their typing signals.
    Agent(Agent),
}

impl Subscriber {
    /// `customer` or `agent`, as stores keep it.
    pub fn kind(&self) -> &'static str {
        match self {
            Subscriber::Customer(_) => "customer",
            Subscriber::Agent(_) => "agent",
        }
    }

    /// The user's or agent's id.
    pub fn id(&self) -> &str {
        match self {
            Subscriber::Customer(user) => user.as_str(),
            Subscriber::Agent(agent) => agent.id.as_str(),
        }
    }

    /// An agent's display name, as stores keep it beside the id; `None` for a customer.
    pub fn name(&self) -> Option<&str> {
        match self {
            Subscriber::Customer(_) => None,
            Subscriber::Agent(agent) => Some(agent.name.as_str()),
        }
    }

    /// Rebuilds what a store wrote with [`Subscriber::kind`] and [`Subscriber::id`].
    pub fn from_stored(kind: &str, id: &str) -> Result<Self, String> {
        Self::from_stored_named(kind, id, None)
    }

    /// The same, with the [`Subscriber::name`] stored beside them; an agent stored
    /// without one (before names were kept) is named by their id.
    pub fn from_stored_named(kind: &str, id: &str, name: Option<&str>) -> Result<Self, String> {
        match kind {
            "customer" => Ok(Subscriber::Customer(UserId::from_stored(id.to_string()))),
            "agent" => {
                let id =
                    AgentId::parse(id).map_err(|reason| format!("stored agent id: {reason}"))?;
                let name = DisplayName::parse(name.unwrap_or(id.as_str()))
                    .map_err(|reason| format!("stored agent name: {reason}"))?;
                Ok(Subscriber::Agent(Agent { id, name }))
            }
            other => Err(format!("unknown subscriber kind {other:?}")),
        }
    }
}

/// `wst_` and 64 hex digits (256 random bits).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectTicket(String);

impl ConnectTicket {
    const PREFIX: &'static str = "wst_";

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        ConnectTicket(format!("{}{}", Self::PREFIX, hex::encode(bytes)))
    }

    /// A ticket as a client sent it back: anything else is refused without a store read.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits = raw
            .strip_prefix(Self::PREFIX)
            .filter(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or("must be a ticket from a realtime/ticket route")?;
        Ok(ConnectTicket(format!("{}{}", Self::PREFIX, digits)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What stores key the ticket by: its SHA-256, hex. A leaked table holds no ticket.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// Never printed: a ticket is a credential for its lifetime.
impl std::fmt::Debug for ConnectTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectTicket(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_random_parse_back_and_are_never_printed() {
        let (one, two) = (ConnectTicket::generate(), ConnectTicket::generate());
        assert_ne!(one, two);
        assert_eq!(ConnectTicket::parse(one.as_str()), Ok(one.clone()));
        assert_ne!(one.digest(), two.digest());
        assert!(!format!("{one:?}").contains(&one.as_str()[4..]));
        for bad in [
            "",
            "wst_",
            "wst_xyz",
            &one.as_str()[1..],
            &format!("{}0", one.as_str()),
        ] {
            assert!(ConnectTicket::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subscribers_read_back_as_stored() {
        let agent = Subscriber::Agent(Agent {
            id: AgentId::parse("agent-7").unwrap(),
            name: DisplayName::parse("Sam").unwrap(),
        });
        let stored = Subscriber::from_stored_named(agent.kind(), agent.id(), agent.name());
        assert_eq!(stored, Ok(agent.clone()));
        // Stored before names were kept: named by the id.
        let unnamed = Subscriber::from_stored(agent.kind(), agent.id()).unwrap();
        assert_eq!(unnamed.name(), Some("agent-7"));
        assert!(Subscriber::from_stored("robot", "x").is_err());
    }
}
