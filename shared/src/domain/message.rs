use super::agent::Agent;
use super::attachment::Attachment;
use super::ids::MessageId;

/// Longest message body, in characters (not bytes), as the API promises.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Longest image URL, in characters.
pub const MAX_IMAGE_URL_CHARS: usize = 2048;

/// A message body: not blank, at most [`MAX_MESSAGE_CHARS`] characters. Kept as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("must not be blank".into());
        }
        if raw.chars().count() > MAX_MESSAGE_CHARS {
            return Err(format!("must be at most {MAX_MESSAGE_CHARS} characters"));
        }
        Ok(MessageText(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `raw` is an absolute `http` or `https` URL with a host, at most `max_chars`
/// characters; the reason if not. The rule of every URL the API takes.
pub(crate) fn check_web_url(raw: &str, max_chars: usize) -> Result<(), String> {
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute http or https URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an absolute http or https URL".into());
    }
    Ok(())
}

/// An absolute `http` or `https` URL with a host, at most [`MAX_IMAGE_URL_CHARS`] characters.
/// Anything else (`javascript:`, `data:`, `file:`) could be turned against the agent viewing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        check_web_url(raw, MAX_IMAGE_URL_CHARS)?;
        Ok(ImageUrl(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who wrote a message. Stores keep it with the message; data written before authors
/// existed has none and reads as [`Author::Customer`], who was then the only writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Author {
    /// The signed-in user of the client app.
    #[default]
    Customer,
    /// A support agent.
    Agent,
    /// The service itself (e.g. a status change notice).
    System,
}

impl Author {
    pub const ALL: [Author; 3] = [Author::Customer, Author::Agent, Author::System];

    /// `customer`, `agent` or `system`: the API's and the stores' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Agent => "agent",
            Author::System => "system",
        }
    }

    /// Reads a stored author; a missing one is the customer's (see [`Author`]).
    pub fn from_stored(value: Option<&str>) -> Result<Self, String> {
        match value {
            None => Ok(Author::Customer),
            Some(text) => Self::ALL
                .into_iter()
                .find(|author| author.as_str() == text)
                .ok_or_else(|| format!("unknown message author {text:?}")),
        }
    }
}

/// Longest client message id, in characters.
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;

/// The client's own id for a message (e.g. its local echo's), stored with the message
/// and returned when it is read back: 1 to 64 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().count() > MAX_CLIENT_MESSAGE_ID_CHARS {
            return Err(format!(
                "must be 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters"
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(ClientMessageId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message about to be stored: its id and time are assigned by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub id: MessageId,
    pub author: Author,
    pub text: MessageText,
    pub image_url: Option<ImageUrl>,
    pub client_message_id: Option<ClientMessageId>,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
    /// The agent who wrote it, for [`Author::Agent`].
    pub agent: Option<Agent>,
    /// An agents-only note: never in the customer's pages, and not their conversation's
    /// latest activity or preview.
    pub internal: bool,
    /// Files attached to it: uploads the writer made, checked, and claimed by this write.
    pub attachments: Vec<Attachment>,
}

impl NewMessage {
    /// A message written now by `author`, with a new time-ordered id.
    pub fn now(
        author: Author,
        text: MessageText,
        image_url: Option<ImageUrl>,
        client_message_id: Option<ClientMessageId>,
    ) -> Self {
        NewMessage {
            id: MessageId::generate(),
            author,
            text,
            image_url,
            client_message_id,
            sent_at: super::now_millis(),
            agent: None,
            internal: false,
            attachments: Vec::new(),
        }
    }

    /// A reply (or, if `internal`, a note) written now by `agent`.
    pub fn by_agent(
        agent: Agent,
        text: MessageText,
        image_url: Option<ImageUrl>,
        client_message_id: Option<ClientMessageId>,
        internal: bool,
    ) -> Self {
        NewMessage {
            agent: Some(agent),
            internal,
            ..Self::now(Author::Agent, text, image_url, client_message_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_limits_count_characters_not_bytes() {
        assert!(MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert!(MessageText::parse(" \n\t ").is_err());
        assert_eq!(MessageText::parse(" hi ").unwrap().as_str(), " hi ");
    }

    #[test]
    fn authors_round_trip_and_default_to_the_customer() {
        for author in Author::ALL {
            assert_eq!(Author::from_stored(Some(author.as_str())), Ok(author));
        }
        assert_eq!(Author::from_stored(None), Ok(Author::Customer));
        assert!(Author::from_stored(Some("bot")).is_err());
    }

    #[test]
    fn image_urls_are_http_or_https_only() {
        assert!(ImageUrl::parse("https://cdn.example.com/a.png").is_ok());
        assert!(ImageUrl::parse("http://example.com/a.png?x=1").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "file:///etc/passwd",
            "ftp://example.com/a.png",
            "/relative/a.png",
            "https://",
            "not a url",
        ] {
            assert!(ImageUrl::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_IMAGE_URL_CHARS));
        assert!(ImageUrl::parse(&long).is_err());
    }
}
