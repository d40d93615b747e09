//! Emails to customers whose agent replies stayed unread (`flows::due` decides when): the
//! message itself ([`compose`]: text and HTML parts, every supplied string escaped in the
//! HTML, RFC 8058 one-click `List-Unsubscribe`), the unsubscribe links (an HMAC over the
//! user id, checked without a sign-in; the body links the same URL, whose GET is a
//! confirmation page), the agents' emails of customers' unread messages
//! ([`compose_for_agents`]: no `List-Unsubscribe`, staff), and the [`Mailer`] port: SMTP
//! for `supportzen serve` (the CLI's), SES v2 in production (`crate::ses`). The token key
//! is a domain value (`domain::UnsubscribeKey`).

use crate::domain::{ConversationId, UnsubscribeKey, UserId};
use crate::store::StoredMessage;
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use std::future::Future;

/// Sends one composed email.
pub trait Mailer: Send + Sync {
    /// Hands `message` to the mail service; an error says why it was not accepted.
    fn send(&self, message: &Message) -> impl Future<Output = Result<(), String>> + Send;
}

/// What the emails need beyond the conversation: who they come from, where their links
/// go, and the key that signs unsubscribe tokens.
#[derive(Clone)]
pub struct NoticeSettings {
    pub from: Mailbox,
    /// The link to the conversation in the customer's app: `{id}` is replaced by the
    /// conversation's id, e.g. `https://app.example/support?conversation={id}`.
    pub conversation_url: String,
    /// The API's base URL: the unsubscribe link is `<api>/api/client/unsubscribe?token=…`.
    pub api_url: String,
    pub unsubscribe: UnsubscribeKey,
    /// Where the emails about customers' unread messages go when the conversation has
    /// no assignee with a recorded address: the team's address, if configured. Without
    /// one, those conversations get no agents' email.
    pub team: Option<Mailbox>,
    /// The link to a conversation in the agents' console: `{id}` is replaced by its id,
    /// e.g. `https://console.example/console/#conversation={id}` (the console opens it).
    /// Without it, agents' emails name the
    /// conversation without a link.
    pub console_url: Option<String>,
}

impl std::fmt::Debug for NoticeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeSettings")
            .field("from", &self.from)
            .field("conversation_url", &self.conversation_url)
            .field("api_url", &self.api_url)
            .field("team", &self.team)
            .field("console_url", &self.console_url)
            .finish_non_exhaustive()
    }
}

impl NoticeSettings {
    /// From the environment production's functions get: `NOTICE_FROM` (an address the
    /// mail service may send from), `NOTICE_CONVERSATION_URL` (with `{id}`), `API_URL`,
    /// `UNSUBSCRIBE_SECRET` (at least 32 characters).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        let from = var("NOTICE_FROM")?;
        let optional = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self::new(
            &from,
            &var("NOTICE_CONVERSATION_URL")?,
            &var("API_URL")?,
            &var("UNSUBSCRIBE_SECRET")?,
        )?
        .with_agents(
            optional("AGENT_NOTICE_EMAIL").as_deref(),
            optional("AGENT_CONVERSATION_URL").as_deref(),
        )
    }

    /// The same, with the agents' emails' team address and console link template
    /// (`{id}`), each optional: `AGENT_NOTICE_EMAIL` and `AGENT_CONVERSATION_URL`.
    pub fn with_agents(
        mut self,
        team: Option<&str>,
        console_url: Option<&str>,
    ) -> Result<Self, String> {
        self.team = team
            .map(|team| {
                team.parse::<Mailbox>()
                    .map_err(|e| format!("the team's address {team:?}: {e}"))
            })
            .transpose()?;
        if let Some(url) = console_url {
            if !url.contains("{id}") {
                return Err(format!(
                    "the console's conversation URL template {url:?} has no {{id}}"
                ));
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("{url:?} is not an http(s) URL"));
            }
        }
        self.console_url = console_url.map(str::to_string);
        Ok(self)
    }

    pub fn new(
        from: &str,
        conversation_url: &str,
        api_url: &str,
        secret: &str,
    ) -> Result<Self, String> {
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("the sender {from:?}: {e}"))?;
        if !conversation_url.contains("{id}") {
            return Err(format!(
                "the conversation URL template {conversation_url:?} has no {{id}}"
            ));
        }
        for url in [conversation_url, api_url] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("{url:?} is not an http(s) URL"));
            }
        }
        Ok(NoticeSettings {
            from,
            conversation_url: conversation_url.to_string(),
            api_url: api_url.trim_end_matches('/').to_string(),
            unsubscribe: UnsubscribeKey::new(secret)?,
            team: None,
            console_url: None,
        })
    }

    /// The conversation's link in the customer's app.
    pub fn conversation_link(&self, conversation: &ConversationId) -> String {
        let id: String =
            url::form_urlencoded::byte_serialize(conversation.key().as_bytes()).collect();
        self.conversation_url.replace("{id}", &id)
    }

    /// The conversation's link in the agents' console, if a template is configured.
    pub fn console_link(&self, conversation: &ConversationId) -> Option<String> {
        let id: String =
            url::form_urlencoded::byte_serialize(conversation.key().as_bytes()).collect();
        self.console_url
            .as_ref()
            .map(|template| template.replace("{id}", &id))
    }

    /// The one-click unsubscribe link for `user`.
    pub fn unsubscribe_link(&self, user: &UserId) -> String {
        format!(
            "{}/api/client/unsubscribe?token={}",
            self.api_url,
            self.unsubscribe.token(user)
        )
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Clone, Debug)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.into()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone, Debug)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// One line of a header: no line breaks, at most 120 characters.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect()
}

/// The email telling `to` (the conversation's owner) about `replies` (the agents'
/// replies after their read mark, oldest first, never notes).
pub fn compose(
    settings: &NoticeSettings,
    conversation: &ConversationId,
    to: &UserId,
    replies: &[StoredMessage],
) -> Result<Message, String> {
    let to_address = to
        .as_str()
        .parse::<Mailbox>()
        .map_err(|e| format!("the customer's address: {e}"))?;
    let agent = replies
        .iter()
        .rev()
        .find_map(|m| m.agent.as_ref().map(|a| a.name.as_str().to_string()))
        .unwrap_or_else(|| "Support".to_string());
    let link = settings.conversation_link(conversation);
    let unsubscribe = settings.unsubscribe_link(to);
    let count = replies.len();
    let subject = match count {
        1 => format!("{agent} replied to your conversation"),
        n => format!("{agent} and the team sent {n} replies to your conversation"),
    };

    let mut text = format!("{agent} replied and you have not read it yet:\n\n");
    let mut html = format!(
        "<!doctype html>\n<html><body>\n<p>{} replied and you have not read it yet:</p>\n",
        escape_html(&agent)
    );
    for reply in replies {
        let name = reply.agent.as_ref().map_or("Support", |a| a.name.as_str());
        text.push_str(&format!("{name}:\n{}\n\n", reply.text));
        html.push_str(&format!(
            "<p><strong>{}</strong></p>\n<blockquote style=\"white-space: pre-wrap\">{}</blockquote>\n",
            escape_html(name),
            escape_html(&reply.text)
        ));
    }
    // The same link as the List-Unsubscribe header's: opened in a browser (a GET) it
    // shows a confirmation page whose button unsubscribes, so a mail scanner that
    // fetches it changes nothing; mail apps POST it from their own Unsubscribe.
    text.push_str(&format!(
        "Read and answer: {link}\n\nNo more of these emails: {unsubscribe}\n"
    ));
    html.push_str(&format!(
        "<p><a href=\"{}\">Read and answer</a></p>\n<p style=\"font-size: small\"><a href=\"{}\">No more of these emails</a></p>\n</body></html>\n",
        escape_html(&link),
        escape_html(&unsubscribe)
    ));

    Message::builder()
        .from(settings.from.clone())
        .to(to_address)
        .subject(header_text(&subject))
        .header(ListUnsubscribe(format!("<{unsubscribe}>")))
        .header(ListUnsubscribePost)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| format!("cannot build the email: {e}"))
}

/// The email telling agents at `to` (the assignee's address or the team's) about
/// `messages` (the customer's messages after the agents' read mark, oldest first) in a
/// conversation of `customer`. No `List-Unsubscribe`: it goes to staff, about their work.
pub fn compose_for_agents(
    settings: &NoticeSettings,
    conversation: &ConversationId,
    customer: &UserId,
    to: Mailbox,
    messages: &[StoredMessage],
) -> Result<Message, String> {
    let count = messages.len();
    let subject = match count {
        1 => format!(
            "{customer} is waiting: 1 unread message",
            customer = customer.as_str()
        ),
        n => format!(
            "{customer} is waiting: {n} unread messages",
            customer = customer.as_str()
        ),
    };
    let intro = format!(
        "{} wrote in {} and no agent has read it yet:",
        customer.as_str(),
        conversation.key()
    );
    let mut text = format!("{intro}\n\n");
    let mut html = format!(
        "<!doctype html>\n<html><body>\n<p>{}</p>\n",
        escape_html(&intro)
    );
    for message in messages {
        text.push_str(&format!("{}\n\n", message.text));
        html.push_str(&format!(
            "<blockquote style=\"white-space: pre-wrap\">{}</blockquote>\n",
            escape_html(&message.text)
        ));
    }
    match settings.console_link(conversation) {
        Some(link) => {
            text.push_str(&format!("Open it in the console: {link}\n"));
            html.push_str(&format!(
                "<p><a href=\"{}\">Open it in the console</a></p>\n",
                escape_html(&link)
            ));
        }
        None => {
            text.push_str(&format!("Open {} in the console.\n", conversation.key()));
            html.push_str(&format!(
                "<p>Open {} in the console.</p>\n",
                escape_html(&conversation.key())
            ));
        }
    }
    html.push_str("</body></html>\n");
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(header_text(&subject))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| format!("cannot build the email: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agent, AgentId, Author, DisplayName, Email, MessageId};

    fn settings() -> NoticeSettings {
        NoticeSettings::new(
            "Support <support@example.com>",
            "https://app.example/support?conversation={id}",
            "https://api.example",
            &"s".repeat(32),
        )
        .unwrap()
    }

    #[test]
    fn tokens_name_their_user_and_only_this_key_makes_them() {
        let key = settings().unsubscribe;
        let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
        let token = key.token(&ann);
        assert_eq!(key.verify(&token), Some(ann.clone()));
        let other = UnsubscribeKey::new(&"t".repeat(32)).unwrap();
        assert_eq!(other.verify(&token), None);
        // Another user's id with this token's tag is refused.
        let (_, tag) = token.split_once('.').unwrap();
        let bob = Email::parse("bob@example.com").unwrap().user_id().clone();
        let forged = format!("{}.{tag}", key.token(&bob).split_once('.').unwrap().0);
        assert_eq!(key.verify(&forged), None);
        assert!(UnsubscribeKey::new("short").is_err());
    }

    #[test]
    fn the_agents_email_escapes_the_customer_and_links_the_console_or_names_the_id() {
        let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
        let message = StoredMessage {
            id: MessageId::generate(),
            author: Author::Customer,
            text: "<img src=x onerror=alert(1)> & help".into(),
            image_url: None,
            client_message_id: None,
            sent_at: 1,
            agent: None,
            internal: false,
            attachments: vec![],
        };
        let id = ConversationId::from_stored("ticket", "TKT-001").unwrap();
        let team: Mailbox = "team@example.com".parse().unwrap();
        let html_of = |settings: &NoticeSettings| {
            let email = compose_for_agents(
                settings,
                &id,
                &ann,
                team.clone(),
                std::slice::from_ref(&message),
            )
            .unwrap();
            let raw = String::from_utf8(email.formatted()).unwrap();
            assert!(!raw.contains("List-Unsubscribe"), "staff: {raw}");
            assert!(raw.contains("Subject: ann@example.com is waiting: 1 unread message"));
            let (_, html) = raw.split_once("Content-Type: text/html").unwrap();
            html.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        };
        let linked = settings()
            .with_agents(
                Some("team@example.com"),
                Some("https://console.example/#{id}"),
            )
            .unwrap();
        let html = html_of(&linked);
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; help"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://console.example/#TKT-001\">"),
            "{html}"
        );
        let html = html_of(&settings());
        assert!(html.contains("Open TKT-001 in the console."), "{html}");
        assert!(
            settings()
                .with_agents(None, Some("https://console.example/"))
                .is_err(),
            "a template without {{id}}"
        );
    }

    #[test]
    fn the_html_part_escapes_what_people_wrote() {
        let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
        let reply = StoredMessage {
            id: MessageId::generate(),
            author: Author::Agent,
            text: "<script>alert(1)</script> & more".into(),
            image_url: None,
            client_message_id: None,
            sent_at: 1,
            agent: Some(Agent {
                id: AgentId::parse("agent-7").unwrap(),
                name: DisplayName::parse("Sam <b>").unwrap(),
            }),
            internal: false,
            attachments: vec![],
        };
        let id = ConversationId::from_stored("ticket", "TKT-001").unwrap();
        let message = compose(&settings(), &id, &ann, &[reply]).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        // The HTML part, its quoted-printable soft breaks and `=3D` undone.
        let (_, html) = raw.split_once("Content-Type: text/html").unwrap();
        let html = html
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
        assert!(html.contains("Sam &lt;b&gt;"), "{html}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(
            raw.contains("List-Unsubscribe: <https://api.example/api/client/unsubscribe?token=")
        );
        // The body links the same URL (its confirmation page), in both parts.
        let link = settings().unsubscribe_link(&ann);
        assert!(html.contains(&format!("<a href=\"{link}\">")), "{html}");
        let (text, _) = raw.split_once("Content-Type: text/html").unwrap();
        let text = text
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        assert!(text.contains(&link), "{text}");
    }
}
