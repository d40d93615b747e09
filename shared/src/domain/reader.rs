use super::message::Author;

/// Who reads: the customer, or the agents, who share one mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reader {
    Customer,
    Agents,
}

impl Reader {
    pub const ALL: [Reader; 2] = [Reader::Customer, Reader::Agents];

    /// `customer` or `agents`: the API's and the events' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Reader::Customer => "customer",
            Reader::Agents => "agents",
        }
    }

    /// The author of the messages this side reads (and counts as unread): the customer
    /// reads the agents' replies, the agents read the customer's messages.
    pub fn reads(self) -> Author {
        match self {
            Reader::Customer => Author::Agent,
            Reader::Agents => Author::Customer,
        }
    }

    /// The other side.
    pub fn other(self) -> Reader {
        match self {
            Reader::Customer => Reader::Agents,
            Reader::Agents => Reader::Customer,
        }
    }
}
