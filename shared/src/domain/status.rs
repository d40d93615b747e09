/// Where a conversation stands, as agents move it along `open → pending → solved →
/// closed` (the states of Zendesk and Chatwoot). A customer message to a pending or
/// solved conversation reopens it, in the same write as the message; a closed one takes
/// no more messages, and the customer opens a follow-up instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting for an agent.
    #[default]
    Open,
    /// Waiting for the customer (or, with a snooze time, for that time).
    Pending,
    /// The agent considers it answered; a customer message reopens it.
    Solved,
    /// Final: no more messages, no more status changes.
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Open,
        Status::Pending,
        Status::Solved,
        Status::Closed,
    ];

    /// `open`, `pending`, `solved` or `closed`: the API's and the stores' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Solved => "solved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| "must be one of open, pending, solved, closed".to_string())
    }

    /// Reads a stored status. Conversations stored before statuses existed have only an
    /// open flag: open or closed.
    pub fn from_stored(value: Option<&str>, open: bool) -> Result<Self, String> {
        match value {
            Some(text) => Self::parse(text).map_err(|_| format!("unknown status {text:?}")),
            None if open => Ok(Status::Open),
            None => Ok(Status::Closed),
        }
    }

    /// Whether the conversation still takes messages and status changes.
    pub fn is_closed(self) -> bool {
        self == Status::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_legacy_ones_read_from_the_open_flag() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Ok(status));
            assert_eq!(
                Status::from_stored(Some(status.as_str()), false),
                Ok(status)
            );
        }
        assert_eq!(Status::from_stored(None, true), Ok(Status::Open));
        assert_eq!(Status::from_stored(None, false), Ok(Status::Closed));
        assert!(Status::parse("snoozed").is_err());
        assert!(Status::parse("Open").is_err());
    }
}
