//! Reads the customer read routes' requests: who the customer claims to be (the bearer
//! token, and the email it signs in the `X-SupportZen-Email` header, since a GET has no
//! body and the query string ends up in logs), the path's conversation id and the query
//! parameters. Errors name the parameter or header at fault.

use super::request::{Fields, bearer_token};
use crate::auth::Customer;
use crate::domain::{ConversationKey, Email, Kind, MessageId};
use crate::error::ApiError;
use crate::flows::marks::MarkRead;
use crate::flows::read::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_cursor};
use crate::flows::{ListConversations, ReadMessages};
use crate::store::{ActivityCursor, MessageWindow};
use lambda_http::{Request, RequestExt};

/// The header that carries the email a GET request's token signs.
pub const EMAIL_HEADER: &str = "x-supportzen-email";

/// The customer a GET request claims to come from. The token is read first, so a request
/// without one is a 401 whatever else it lacks.
pub fn customer(request: &Request) -> Result<Customer, ApiError> {
    let token = bearer_token(request.headers())?;
    let field = "X-SupportZen-Email";
    let value = request
        .headers()
        .get(EMAIL_HEADER)
        .ok_or_else(|| ApiError::field(field, "is required"))?
        .to_str()
        .map_err(|_| ApiError::field(field, "must be a valid email address"))?;
    let email = Email::parse(value).map_err(|reason| ApiError::field(field, reason))?;
    Ok(Customer { email, token })
}

/// `POST /api/client/conversations/{id}/read` `{up_to, email?}` (flat or under `data`):
/// the customer's token, the email it signs (the `X-SupportZen-Email` header, as the other
/// routes without a message take it, or the body's `email`), and the mark.
pub fn mark_read(request: &Request) -> Result<(Customer, MarkRead), ApiError> {
    let token = bearer_token(request.headers())?;
    let conversation = path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    let up_to = fields.required("up_to", MessageId::parse)?;
    let customer = match fields.optional("email", Email::parse)? {
        Some(email) if request.headers().get(EMAIL_HEADER).is_none() => Customer { email, token },
        _ => customer(request)?,
    };
    Ok((
        customer,
        MarkRead {
            conversation,
            up_to,
        },
    ))
}

/// A query parameter, if given once; given twice it is refused rather than guessed at.
pub(super) fn parameter<'a>(
    request: &'a Request,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    let parameters = request.query_string_parameters_ref();
    let values = parameters.and_then(|p| p.all(name)).unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [value] => Ok(Some(value)),
        _ => Err(ApiError::field(name, "must be given once")),
    }
}

/// The `limit` parameter: a page size, [`DEFAULT_PAGE_SIZE`] if absent.
pub(super) fn page_limit(request: &Request) -> Result<usize, ApiError> {
    match parameter(request, "limit")? {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            }),
    }
}

/// `GET /api/client/conversations?kind=&limit=&cursor=`.
pub fn list_conversations(request: &Request) -> Result<ListConversations, ApiError> {
    let (kind, from) = kind_and_cursor(request)?;
    Ok(ListConversations {
        kind,
        limit: page_limit(request)?,
        from,
    })
}

/// A list's `kind` (required) and `cursor`, which must come from a list of that kind.
pub(super) fn kind_and_cursor(
    request: &Request,
) -> Result<(Kind, Option<ActivityCursor>), ApiError> {
    let kind = parameter(request, "kind")?
        .ok_or_else(|| ApiError::field("kind", "is required"))
        .and_then(|raw| Kind::parse(raw).map_err(|reason| ApiError::field("kind", reason)))?;
    let from = parameter(request, "cursor")?
        .map(|raw| parse_cursor(raw).map_err(|reason| ApiError::field("cursor", reason)))
        .transpose()?;
    if from
        .as_ref()
        .is_some_and(|cursor| cursor.conversation.conversation_kind() != kind)
    {
        return Err(ApiError::field(
            "cursor",
            format!("is a cursor of another list than kind={}", kind.as_str()),
        ));
    }
    Ok((kind, from))
}

/// `GET /api/client/conversations/{id}/messages?after=|before=&limit=`.
/// Agents' `GET /api/agent/conversations/{id}/messages` takes the same parameters.
pub fn read_messages(request: &Request) -> Result<ReadMessages, ApiError> {
    let conversation = path_conversation(request)?;
    let message = |name: &'static str| {
        parameter(request, name)?
            .map(|raw| MessageId::parse(raw).map_err(|reason| ApiError::field(name, reason)))
            .transpose()
    };
    let window = match (message("after")?, message("before")?) {
        (None, None) => MessageWindow::Latest,
        (Some(after), None) => MessageWindow::After(after),
        (None, Some(before)) => MessageWindow::Before(before),
        (Some(_), Some(_)) => {
            return Err(ApiError::field("before", "cannot be given with after"));
        }
    };
    Ok(ReadMessages {
        conversation,
        window,
        limit: page_limit(request)?,
    })
}

/// The conversation id in the route's path.
pub fn path_conversation(request: &Request) -> Result<ConversationKey, ApiError> {
    let id = request
        .path_parameters_ref()
        .and_then(|p| p.first("id"))
        .ok_or_else(|| ApiError::field("id", "is required"))?;
    ConversationKey::parse(id).map_err(|reason| ApiError::field("id", reason))
}
