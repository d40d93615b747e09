//! A customer reads their conversations back: the list, newest activity first, and a
//! conversation's messages, oldest first within a page, paged in either direction. Each
//! page is one store query after the authentication read.

use super::{Answer, authenticated, own_conversation, user_only};
use crate::auth::{Caller, Customer};
use crate::config::Config;
use crate::domain::{
    Agent, Attachment, ConversationId, ConversationKey, Kind, NewMessage, Reader, now_millis,
};
use crate::error::ApiError;
use crate::store::{
    ActivityCursor, ConversationReader, FileStorage, MessagePreview, MessageWindow, Page,
    StoredConversation, StoredMessage, UserReader,
};
use serde::Serialize;
use std::time::SystemTime;

/// The page size when the client names none, and the largest it may name.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;

/// What the list route asks for.
#[derive(Clone, Debug)]
pub struct ListConversations {
    pub kind: Kind,
    pub limit: usize,
    /// Where the previous page ended.
    pub from: Option<ActivityCursor>,
}

/// What the messages route asks for.
#[derive(Clone, Debug)]
pub struct ReadMessages {
    /// As the client named it: an id that names no conversation of theirs is not found.
    pub conversation: ConversationKey,
    pub window: MessageWindow,
    pub limit: usize,
}

/// `data` of the list route, and (with the agents' view of each) of the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationList<T = ConversationSummary> {
    pub conversations: Vec<T>,
    pub has_more: bool,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: From<StoredConversation>> ConversationList<T> {
    /// A page of conversations, with the cursor that continues it if more follow.
    pub fn from_page(page: Page<StoredConversation>) -> Self {
        let next_cursor = page
            .has_more
            .then(|| page.items.last())
            .flatten()
            .map(|last| cursor_token(&ActivityCursor::after(last)));
        ConversationList {
            conversations: page.items.into_iter().map(T::from).collect(),
            has_more: page.has_more,
            next_cursor,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub conversation_id: String,
    pub kind: &'static str,
    /// `open`, `pending`, `solved` or `closed`.
    pub status: &'static str,
    /// The closed conversation this one follows up, if any.
    pub follow_up_of: Option<String>,
    /// Unix milliseconds, as every time in a response.
    pub created_at: i64,
    pub last_activity_at: i64,
    /// The newest message, its text cut to 200 characters; `null` for conversations
    /// stored before previews existed, until their next message.
    pub last_message: Option<LastMessage>,
    /// Agents' replies (never notes) after the customer's read mark.
    pub unread: i64,
    /// The agents' read mark (their "Seen"), `null` until an agent marks.
    pub agents_read_up_to: Option<String>,
    /// The customer's rating, once given.
    pub rating: Option<super::rating::RatingView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    pub message_id: String,
    pub author: &'static str,
    pub message: String,
    pub created_at: i64,
}

/// `data` of the messages route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageList {
    pub conversation_id: String,
    /// The conversation's status: a closed one takes no more messages.
    pub status: &'static str,
    /// Oldest first.
    pub messages: Vec<MessageView>,
    /// Whether more messages lie beyond this page, in the direction it was read.
    pub has_more: bool,
    /// Pass as `after` (a page read with `after`) or `before` (any other) for the next
    /// page in the same direction; `null` when there is none.
    pub next_cursor: Option<String>,
    /// The reader's unread and the other side's read mark.
    #[serde(flatten)]
    pub reads: ReadView,
}

/// What a reader's page says of read marks: their own side's unread, and how far the
/// other side has read (the "Seen" a client shows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReadView {
    /// The customer's: agents' replies after their mark, and the agents' mark.
    #[serde(rename_all = "camelCase")]
    Customer {
        unread: i64,
        agents_read_up_to: Option<String>,
    },
    /// The agents': customer messages after their mark, and the customer's mark.
    #[serde(rename_all = "camelCase")]
    Agents {
        unread: i64,
        customer_read_up_to: Option<String>,
    },
}

impl ReadView {
    /// `conversation`'s read state as `reader` sees it.
    pub fn of(conversation: &StoredConversation, reader: Reader) -> Self {
        let reads = &conversation.reads;
        let other = reads
            .mark(reader.other())
            .map(|mark| mark.up_to.as_str().to_string());
        let unread = reads.unread(reader);
        match reader {
            Reader::Customer => ReadView::Customer {
                unread,
                agents_read_up_to: other,
            },
            Reader::Agents => ReadView::Agents {
                unread,
                customer_read_up_to: other,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub message_id: String,
    /// `customer`, `agent` or `system`.
    pub author: &'static str,
    pub message: String,
    pub image_url: Option<String>,
    pub created_at: i64,
    pub client_message_id: Option<String>,
    /// The files it carries, each with a link valid for 15 minutes.
    pub attachments: Vec<AttachmentView>,
    /// The agent who wrote it, on agents' messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentView>,
    /// `true` on agents' notes, which only agents' pages hold.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// An attached file as a reader gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub content_type: &'static str,
    pub size: u64,
    /// Signed for [`crate::store::DOWNLOAD_LINK_LIFETIME`]: pictures are served inline,
    /// anything else as a download. Always there in the API's answers; absent only where
    /// nothing signs links (the CLI's `messages`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl AttachmentView {
    fn unsigned(file: &Attachment) -> Self {
        AttachmentView {
            id: file.id.to_string(),
            name: file.name.as_str().to_string(),
            content_type: file.content_type.as_str(),
            size: file.size,
            url: None,
        }
    }
}

/// `attachments` with their download links signed now.
pub fn attachment_views<F: FileStorage>(
    files: &F,
    attachments: &[Attachment],
) -> Result<Vec<AttachmentView>, ApiError> {
    let now = SystemTime::now();
    attachments
        .iter()
        .map(|file| {
            let url = files
                .download_url(&file.key, file.content_type, &file.name, now)
                .map_err(|e| ApiError::Internal(format!("signing a link to {}: {e}", file.key)))?;
            Ok(AttachmentView {
                url: Some(url),
                ..AttachmentView::unsigned(file)
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub id: String,
    pub name: String,
}

impl From<&Agent> for AgentView {
    fn from(agent: &Agent) -> Self {
        AgentView {
            id: agent.id.as_str().to_string(),
            name: agent.name.as_str().to_string(),
        }
    }
}

/// A list cursor as clients see it: opaque (hex of the position), so that its form can
/// change without breaking them.
pub fn cursor_token(cursor: &ActivityCursor) -> String {
    let position = format!(
        "{}|{}|{}",
        cursor.last_activity_at,
        cursor.conversation.kind(),
        cursor.conversation.key()
    );
    hex::encode(position)
}

/// Reads a token [`cursor_token`] made; the error is for the `cursor` parameter.
pub fn parse_cursor(token: &str) -> Result<ActivityCursor, String> {
    let invalid = || "must be a nextCursor from an earlier page".to_string();
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '|');
    let (Some(at), Some(kind), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    // A time the pages could have given: DynamoDB's index keys hold it as 13 digits,
    // compared as text, so a longer one would read a different page there than locally.
    let last_activity_at = at
        .parse()
        .ok()
        .filter(|at| (0..=LATEST_MILLIS).contains(at))
        .ok_or_else(invalid)?;
    Ok(ActivityCursor {
        last_activity_at,
        conversation: ConversationId::from_stored(kind, key).map_err(|_| invalid())?,
    })
}

/// The last millisecond 13 digits hold (in the year 2286).
const LATEST_MILLIS: i64 = 9_999_999_999_999;

impl From<StoredConversation> for ConversationSummary {
    fn from(conversation: StoredConversation) -> Self {
        ConversationSummary {
            unread: conversation.reads.unread(Reader::Customer),
            agents_read_up_to: conversation
                .reads
                .agents
                .as_ref()
                .map(|mark| mark.up_to.as_str().to_string()),
            conversation_id: conversation.id.key(),
            kind: conversation.id.kind(),
            status: conversation.status.as_str(),
            follow_up_of: conversation.follow_up_of.map(|c| c.key()),
            created_at: conversation.created_at,
            last_activity_at: conversation.last_activity_at,
            last_message: conversation.last_message.map(LastMessage::from),
            rating: conversation.rating.as_ref().map(Into::into),
        }
    }
}

impl From<MessagePreview> for LastMessage {
    fn from(preview: MessagePreview) -> Self {
        LastMessage {
            message_id: preview.id.as_str().to_string(),
            author: preview.author.as_str(),
            message: preview.text,
            created_at: preview.sent_at,
        }
    }
}

/// A stored message whose attachments carry no links, for tools without storage.
impl From<StoredMessage> for MessageView {
    fn from(message: StoredMessage) -> Self {
        MessageView {
            attachments: message
                .attachments
                .iter()
                .map(AttachmentView::unsigned)
                .collect(),
            message_id: message.id.as_str().to_string(),
            author: message.author.as_str(),
            message: message.text,
            image_url: message.image_url,
            created_at: message.sent_at,
            client_message_id: message.client_message_id,
            agent: message.agent.as_ref().map(AgentView::from),
            internal: message.internal,
        }
    }
}

impl MessageView {
    /// A stored message, its attachments' links signed by `files`.
    pub fn of<F: FileStorage>(message: StoredMessage, files: &F) -> Result<Self, ApiError> {
        let attachments = attachment_views(files, &message.attachments)?;
        Ok(MessageView {
            attachments,
            ..MessageView::from(message)
        })
    }

    /// A message just written, as a page will show it.
    pub fn from_new<F: FileStorage>(message: &NewMessage, files: &F) -> Result<Self, ApiError> {
        Ok(MessageView {
            attachments: attachment_views(files, &message.attachments)?,
            message_id: message.id.as_str().to_string(),
            author: message.author.as_str(),
            message: message.text.as_str().to_string(),
            image_url: message.image_url.as_ref().map(|u| u.as_str().to_string()),
            created_at: message.sent_at,
            client_message_id: message
                .client_message_id
                .as_ref()
                .map(|c| c.as_str().to_string()),
            agent: message.agent.as_ref().map(AgentView::from),
            internal: message.internal,
        })
    }
}

/// A page of `conversation`'s messages read in `window` by `reader`, with the cursor that
/// continues it in the same direction.
pub fn message_list<F: FileStorage>(
    reader: Reader,
    conversation: &StoredConversation,
    window: &MessageWindow,
    page: Page<StoredMessage>,
    files: &F,
) -> Result<MessageList, ApiError> {
    let edge = match window {
        MessageWindow::After(_) => page.items.last(),
        MessageWindow::Latest | MessageWindow::Before(_) => page.items.first(),
    };
    let next_cursor = page
        .has_more
        .then(|| edge.map(|m| m.id.as_str().to_string()))
        .flatten();
    Ok(MessageList {
        conversation_id: conversation.id.key(),
        status: conversation.status.as_str(),
        messages: page
            .items
            .into_iter()
            .map(|message| MessageView::of(message, files))
            .collect::<Result<_, _>>()?,
        has_more: page.has_more,
        next_cursor,
        reads: ReadView::of(conversation, reader),
    })
}

/// Authenticates, then reads one page of the caller's conversations of one kind. A caller
/// trust-on-first-use would accept, but who never wrote, has none (and is not created).
pub async fn list_conversations<S>(
    store: &S,
    config: &Config,
    customer: &Customer,
    query: ListConversations,
) -> Result<Answer<ConversationList>, ApiError>
where
    S: UserReader + ConversationReader,
{
    let user = customer.email.user_id();
    let read = user_only(store, customer).await;
    let (caller, ()) = authenticated(config, customer, "user", read, now_millis())?;
    if let Caller::New { .. } = caller {
        return Ok(Answer::fresh(ConversationList {
            conversations: Vec::new(),
            has_more: false,
            next_cursor: None,
        }));
    }
    let page = store
        .conversation_page(user, query.kind, query.from.as_ref(), query.limit)
        .await
        .map_err(|e| ApiError::from_store(e, query.kind.as_str()))?;
    Ok(Answer::fresh(ConversationList::from_page(page)))
}

/// Reads the caller and the conversation together, authenticates, checks the
/// conversation is theirs (someone else's and a missing one are both 404), then reads
/// one page of its messages.
pub async fn read_messages<S, F>(
    store: &S,
    files: &F,
    config: &Config,
    customer: &Customer,
    query: ReadMessages,
) -> Result<Answer<MessageList>, ApiError>
where
    S: UserReader + ConversationReader,
    F: FileStorage,
{
    let user = customer.email.user_id();
    let resolved = query.conversation.resolve_any();
    let read = match &resolved {
        Some(id) => store.find_user_and_conversation(user, id).await,
        None => store.find_user(user).await.map(|found| (found, None)),
    };
    let (caller, conversation) =
        authenticated(config, customer, "conversation", read, now_millis())?;
    let conversation = own_conversation(&caller, conversation)?;
    let page = store
        .message_page(&conversation.id, &query.window, query.limit)
        .await
        .map_err(|e| ApiError::from_store(e, "conversation"))?;
    Ok(Answer::fresh(message_list(
        Reader::Customer,
        &conversation,
        &query.window,
        page,
        files,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChatId, TicketId};

    #[test]
    fn list_cursors_round_trip_and_refuse_anything_else() {
        for conversation in [
            ConversationId::Chat(ChatId::generate()),
            ConversationId::Ticket(TicketId::from_number(12).unwrap()),
        ] {
            let cursor = ActivityCursor {
                last_activity_at: 1_764_547_200_123,
                conversation,
            };
            assert_eq!(parse_cursor(&cursor_token(&cursor)), Ok(cursor));
        }
        for bad in [
            "",
            "zz",
            "TKT-001",
            &hex::encode("12|ticket"),
            &hex::encode("x|ticket|TKT-001"),
            &hex::encode("1|email|TKT-001"),
            &hex::encode("10000000000000|ticket|TKT-001"),
            &hex::encode("-1|ticket|TKT-001"),
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
