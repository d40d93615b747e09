//! Turns an HTTP request into what a flow takes: the customer it claims to come from
//! (the `Authorization` header and the body's email), the typed command (the body), and
//! the retry it may be (the `Idempotency-Key` header). Errors name the field at fault.
//!
//! Both documented body shapes are accepted: the fields flat at the top level, or
//! wrapped as `{"data": {...}}`. Unknown fields are ignored; `null` counts as absent.

use crate::auth::{BearerToken, Customer};
use crate::domain::{
    AttachmentId, AttachmentLimits, ClientMessageId, ContentType, ConversationKey, ConversationRef,
    DeclaredUpload, DisplayName, Email, FileName, ImageUrl, MessageText, Profile, RatingComment,
    RatingScore, UnixSeconds,
};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::flows::rating::RateConversation;
use crate::flows::{OpenConversation, PostMessage};
use crate::idempotency::{BodyDigest, IdempotencyKey, NOT_VISIBLE_ASCII, Retry};
use lambda_http::Request;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::AUTHORIZATION;
use serde_json::{Map, Value};
use std::marker::PhantomData;

/// Largest body we read. 160 KiB holds a 10,000-character message even when every
/// character lies outside the BMP and is written as a `\uXXXX\uXXXX` escape pair, 12
/// bytes (as Python's `json.dumps` writes anything not ASCII by default), with room for
/// the other fields.
pub const MAX_BODY_BYTES: usize = 160 * 1024;

/// The request header that carries an idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// A customer's request, read: who they say they are, what they ask, and whether it is
/// safe to retry.
pub struct CustomerRequest<C> {
    pub customer: Customer,
    pub command: C,
    pub retry: Option<Retry>,
}

/// A body a customer route takes: it names the customer's email and holds a command.
pub trait CustomerBody: Sized {
    type Command;
    fn parse(body: &[u8]) -> Result<Self, ApiError>;
    fn email(&self) -> &Email;
    /// Identifies the body for idempotent retries (see [`BodyDigest`]).
    fn digest(&self) -> BodyDigest;
    fn into_command(self) -> (Email, Self::Command);
}

/// Reads a customer's request to `endpoint`. The token is read first, so a request
/// without one is a 401 whatever its body; the body's digest is taken only for a request
/// with an idempotency key (most have none).
pub fn customer_request<B: CustomerBody>(
    request: &Request,
    endpoint: Endpoint,
) -> Result<CustomerRequest<B::Command>, ApiError> {
    let token = bearer_token(request.headers())?;
    let body = B::parse(request.body())?;
    let retry = idempotency_key(request.headers())?
        .map(|key| Retry::new(endpoint, body.email().user_id(), key, body.digest()));
    let (email, command) = body.into_command();
    Ok(CustomerRequest {
        customer: Customer { email, token },
        command,
        retry,
    })
}

/// The `Authorization` header's bearer token.
pub fn bearer_token(headers: &HeaderMap) -> Result<BearerToken, ApiError> {
    let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    Ok(BearerToken::from_authorization(value)?)
}

/// The `Idempotency-Key` a request carries, if any. A header that is present must be
/// valid and single: a client that meant to make its request safe to retry must not
/// silently lose that.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let invalid = |reason: &str| ApiError::field("Idempotency-Key", reason);
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let text = value.to_str().map_err(|_| invalid(NOT_VISIBLE_ASCII))?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|reason| invalid(&reason))
}

/// `POST /api/client/live/create` and `POST /api/client/ticket/create`.
#[derive(Debug)]
pub struct CreateConversation {
    pub email: Email,
    pub profile: Profile,
    pub message: MessageText,
    pub image_url: Option<ImageUrl>,
    pub client_message_id: Option<ClientMessageId>,
    pub follow_up_of: Option<ConversationKey>,
    pub attachments: Vec<AttachmentId>,
    /// Kept for [`CustomerBody::digest`].
    fields: Fields,
}

/// `POST /api/client/live/chat` (with a [`crate::domain::ChatId`]) and
/// `POST /api/client/ticket/append` (with a [`crate::domain::TicketId`]).
#[derive(Debug)]
pub struct SendMessage<Id> {
    /// Which conversation, as the client named it; `Id` says which kind it must be.
    pub conversation: ConversationKey,
    pub email: Email,
    pub message: MessageText,
    pub image_url: Option<ImageUrl>,
    pub client_message_id: Option<ClientMessageId>,
    pub attachments: Vec<AttachmentId>,
    /// Kept for [`CustomerBody::digest`].
    fields: Fields,
    kind: PhantomData<Id>,
}

impl CustomerBody for CreateConversation {
    type Command = OpenConversation;

    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let fields = Fields::from_body(body)?;
        Ok(CreateConversation {
            email: fields.required("email", Email::parse)?,
            profile: Profile {
                name: fields.optional("name", DisplayName::parse)?,
                plan_id: fields.integer("plan_id")?,
                account_created_at: fields
                    .integer("created_at")?
                    .ok_or_else(|| ApiError::field("created_at", "is required"))
                    .and_then(|v| {
                        UnixSeconds::parse(v).map_err(|e| ApiError::field("created_at", e))
                    })?,
            },
            message: fields.required("message", MessageText::parse)?,
            image_url: fields.optional("image_url", ImageUrl::parse)?,
            client_message_id: fields.optional("client_message_id", ClientMessageId::parse)?,
            follow_up_of: fields.optional("follow_up_of", ConversationKey::parse)?,
            attachments: fields.attachment_ids()?,
            fields,
        })
    }

    fn email(&self) -> &Email {
        &self.email
    }

    fn digest(&self) -> BodyDigest {
        BodyDigest::of(&self.fields.0)
    }

    fn into_command(self) -> (Email, OpenConversation) {
        let command = OpenConversation {
            profile: self.profile,
            message: self.message,
            image_url: self.image_url,
            client_message_id: self.client_message_id,
            follow_up_of: self.follow_up_of,
            attachments: self.attachments,
            source: None,
        };
        (self.email, command)
    }
}

impl<Id: ConversationRef> CustomerBody for SendMessage<Id> {
    type Command = PostMessage;

    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let fields = Fields::from_body(body)?;
        Ok(SendMessage {
            conversation: fields.required(Id::FIELD, ConversationKey::parse)?,
            email: fields.required("email", Email::parse)?,
            message: fields.required("message", MessageText::parse)?,
            image_url: fields.optional("image_url", ImageUrl::parse)?,
            client_message_id: fields.optional("client_message_id", ClientMessageId::parse)?,
            attachments: fields.attachment_ids()?,
            fields,
            kind: PhantomData,
        })
    }

    fn email(&self) -> &Email {
        &self.email
    }

    fn digest(&self) -> BodyDigest {
        BodyDigest::of(&self.fields.0)
    }

    fn into_command(self) -> (Email, PostMessage) {
        let command = PostMessage {
            kind: Id::KIND,
            conversation: self.conversation,
            message: self.message,
            image_url: self.image_url,
            client_message_id: self.client_message_id,
            attachments: self.attachments,
        };
        (self.email, command)
    }
}

/// `POST /api/client/conversations/{id}/rating` `{rating, comment?}`: the customer as
/// on other writes (the bearer token, and the email in the body's `email` or, as on the
/// reads, in the `X-SupportZen-Email` header) and their rating. An `Idempotency-Key` is
/// checked like anywhere else, but no receipt is kept: rating the same way again
/// changes nothing, so a retry is safe by itself.
pub fn rating_request(request: &Request) -> Result<(Customer, RateConversation), ApiError> {
    let token = bearer_token(request.headers())?;
    let conversation = super::query::path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    idempotency_key(request.headers())?;
    let email = match fields.optional("email", Email::parse)? {
        Some(email) => email,
        // A header that is there but wrong gets its own reason, naming the header.
        None if request.headers().contains_key(super::query::EMAIL_HEADER) => {
            super::query::customer(request)?.email
        }
        None => {
            return Err(ApiError::field(
                "email",
                "is required (in the body, or in the X-SupportZen-Email header)",
            ));
        }
    };
    let score = fields
        .integer("rating")?
        .ok_or_else(|| ApiError::field("rating", "is required (a whole number from 1 to 5)"))
        .and_then(|raw| {
            RatingScore::from_integer(raw).map_err(|reason| ApiError::field("rating", reason))
        })?;
    let comment = fields.optional("comment", RatingComment::parse)?;
    Ok((
        Customer { email, token },
        RateConversation {
            conversation,
            score,
            comment,
        },
    ))
}

/// The request's fields, after unwrapping `{"data": {...}}` if present.
/// `POST /api/client/attachments` `{email, name, content_type, size}`: an upload as
/// declared, before the deployment's limits are applied ([`UploadBody::within`]).
#[derive(Debug)]
pub struct UploadBody {
    pub email: Email,
    pub declared: UploadDeclaration,
    fields: Fields,
}

/// `{name, content_type, size}` of either upload route.
#[derive(Debug)]
pub struct UploadDeclaration {
    pub name: FileName,
    pub content_type: ContentType,
    pub size: i64,
}

impl UploadDeclaration {
    pub(super) fn read(fields: &Fields) -> Result<Self, ApiError> {
        Ok(UploadDeclaration {
            name: fields.required("name", FileName::parse)?,
            content_type: fields.required("content_type", ContentType::parse)?,
            size: fields
                .integer("size")?
                .ok_or_else(|| ApiError::field("size", "is required"))?,
        })
    }

    /// The declaration if `limits` accept it, each refusal naming its field.
    pub fn within(self, limits: &AttachmentLimits) -> Result<DeclaredUpload, ApiError> {
        let content_type = limits
            .content_type(self.content_type.as_str())
            .map_err(|reason| ApiError::field("content_type", reason))?;
        let size = u64::try_from(self.size)
            .map_err(|_| ())
            .and_then(|size| limits.size(size).map_err(|_| ()))
            .map_err(|()| {
                ApiError::field("size", format!("must be 1 to {} bytes", limits.max_bytes))
            })?;
        Ok(DeclaredUpload {
            name: self.name,
            content_type,
            size,
        })
    }
}

impl CustomerBody for UploadBody {
    type Command = UploadDeclaration;

    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let fields = Fields::from_body(body)?;
        Ok(UploadBody {
            email: fields.required("email", Email::parse)?,
            declared: UploadDeclaration::read(&fields)?,
            fields,
        })
    }

    fn email(&self) -> &Email {
        &self.email
    }

    fn digest(&self) -> BodyDigest {
        BodyDigest::of(&self.fields.0)
    }

    fn into_command(self) -> (Email, UploadDeclaration) {
        (self.email, self.declared)
    }
}

#[derive(Debug)]
pub(super) struct Fields(Map<String, Value>);

impl Fields {
    /// The fields as sent, for a [`BodyDigest`] (with whatever else identifies the request).
    pub(super) fn digest_fields(&self) -> Map<String, Value> {
        self.0.clone()
    }

    pub(super) fn from_body(body: &[u8]) -> Result<Self, ApiError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        let Value::Object(mut top) = value else {
            return Err(ApiError::InvalidJson("expected an object".into()));
        };
        match top.remove("data") {
            None => Ok(Fields(top)),
            Some(Value::Object(inner)) => Ok(Fields(inner)),
            Some(_) => Err(ApiError::field("data", "must be an object")),
        }
    }

    fn string(&self, name: &'static str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::field(name, "must be a string")),
        }
    }

    pub(super) fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.string(name)?
            .map(|s| parse(s).map_err(|reason| ApiError::field(name, reason)))
            .transpose()
    }

    pub(super) fn required<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ApiError> {
        self.optional(name, parse)?
            .ok_or_else(|| ApiError::field(name, "is required"))
    }

    pub(super) fn boolean(&self, name: &'static str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::field(name, "must be true or false")),
        }
    }

    /// Whether the body names `name` at all, even as `null`.
    /// `attachments`: absent, null or a list of distinct attachment ids.
    pub(super) fn attachment_ids(&self) -> Result<Vec<AttachmentId>, ApiError> {
        let invalid = |reason: String| ApiError::field("attachments", reason);
        let items = match self.0.get("attachments") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(invalid("must be a list of attachment ids".into())),
        };
        let mut ids: Vec<AttachmentId> = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(raw) = item else {
                return Err(invalid("must be a list of attachment ids".into()));
            };
            let id = AttachmentId::parse(raw)
                .map_err(|_| invalid(format!("{raw:?} is not an attachment id (att-<uuid>)")))?;
            if ids.contains(&id) {
                return Err(invalid(format!("names {id} twice")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(super) fn integer(&self, name: &'static str) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::field(name, "must be an integer")),
            Some(_) => Err(ApiError::field(name, "must be an integer")),
        }
    }
}

/// Where the request came from: API Gateway's `requestContext.http.sourceIp` (the local
/// server sets the peer's address there), for the accounts-per-address limit.
pub fn source_address(request: &Request) -> Option<crate::store::SourceAddress> {
    use lambda_http::RequestExt;
    match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => {
            crate::store::SourceAddress::parse(context.http.source_ip.as_deref()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChatId, TicketId};
    use lambda_http::http::HeaderValue;
    use serde_json::json;

    fn create(body: Value) -> Result<CreateConversation, ApiError> {
        CreateConversation::parse(body.to_string().as_bytes())
    }

    fn valid_create() -> Value {
        json!({
            "email": "user@example.com",
            "name": "Premium Plan",
            "plan_id": 5,
            "created_at": 1679223400,
            "message": "Hi, I have a quick question!",
            "image_url": "https://cdn.example.com/screenshot.png",
            "unknown": "ignored"
        })
    }

    fn field_error(result: Result<impl std::fmt::Debug, ApiError>) -> (&'static str, String) {
        match result {
            Err(ApiError::InvalidField { field, reason }) => (field, reason),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn flat_and_wrapped_bodies_parse_the_same() {
        let flat = create(valid_create()).unwrap();
        let wrapped = create(json!({ "data": valid_create() })).unwrap();
        for parsed in [flat, wrapped] {
            assert_eq!(parsed.email.user_id().as_str(), "user@example.com");
            assert_eq!(parsed.profile.name.unwrap().as_str(), "Premium Plan");
            assert_eq!(parsed.profile.plan_id, Some(5));
            assert_eq!(parsed.profile.account_created_at.get(), 1679223400);
            assert_eq!(parsed.message.as_str(), "Hi, I have a quick question!");
            assert_eq!(
                parsed.image_url.unwrap().as_str(),
                "https://cdn.example.com/screenshot.png"
            );
        }
    }

    #[test]
    fn optional_fields_may_be_absent_or_null() {
        let parsed = create(json!({
            "email": "user@example.com", "created_at": 1, "message": "hi",
            "name": null, "plan_id": null, "image_url": null
        }))
        .unwrap();
        assert!(
            parsed.profile.name.is_none()
                && parsed.profile.plan_id.is_none()
                && parsed.image_url.is_none()
        );
    }

    #[test]
    fn each_invalid_create_field_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("email", Value::Null, "is required"),
            ("email", json!(42), "must be a string"),
            (
                "email",
                json!("not-an-email"),
                "must be a valid email address",
            ),
            (
                "email",
                json!(format!("{}@example.com", "a".repeat(250))),
                "must be at most 254 characters",
            ),
            (
                "name",
                json!("n".repeat(201)),
                "must be at most 200 characters",
            ),
            ("name", json!(["Basic"]), "must be a string"),
            ("plan_id", json!("5"), "must be an integer"),
            ("plan_id", json!(5.5), "must be an integer"),
            ("created_at", Value::Null, "is required"),
            ("created_at", json!("1679223400"), "must be an integer"),
            (
                "created_at",
                json!(1679223400000i64),
                "must be a Unix timestamp in seconds",
            ),
            (
                "created_at",
                json!(-5),
                "must be a Unix timestamp in seconds",
            ),
            ("message", Value::Null, "is required"),
            ("message", json!("   "), "must not be blank"),
            (
                "message",
                json!("m".repeat(10_001)),
                "must be at most 10000 characters",
            ),
            ("message", json!({"text": "hi"}), "must be a string"),
            (
                "image_url",
                json!("javascript:alert(1)"),
                "must be an absolute http or https URL",
            ),
            ("image_url", json!(7), "must be a string"),
        ];
        for (field, value, reason) in cases {
            let mut body = valid_create();
            body[field] = value.clone();
            assert_eq!(
                field_error(create(body)),
                (field, reason.to_string()),
                "{field} = {value}"
            );
        }
    }

    #[test]
    fn send_message_requires_its_conversation_id() {
        let chat = ChatId::generate();
        let ok = SendMessage::<ChatId>::parse(
            json!({"data": {"chat_id": chat.as_str(), "email": "u@example.com", "message": "hello"}})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(ok.conversation.as_str(), chat.as_str());

        let missing = json!({"email": "u@example.com", "message": "hello"}).to_string();
        assert_eq!(
            field_error(SendMessage::<ChatId>::parse(missing.as_bytes())).0,
            "chat_id"
        );
        assert_eq!(
            field_error(SendMessage::<TicketId>::parse(missing.as_bytes())).0,
            "ticket_id"
        );

        let ticket = json!({"ticket_id": "TKT-007", "email": "u@example.com", "message": "more"})
            .to_string();
        let (_, command) = SendMessage::<TicketId>::parse(ticket.as_bytes())
            .unwrap()
            .into_command();
        assert_eq!(
            command.conversation.resolve(command.kind),
            Some(crate::domain::ConversationId::Ticket(
                TicketId::from_number(7).unwrap()
            ))
        );
        // Ids are opaque: one we never issued is well-formed, and simply names nothing.
        let unknown = json!({"ticket_id": "ticket-7", "email": "u@example.com", "message": "more"})
            .to_string();
        let (_, command) = SendMessage::<TicketId>::parse(unknown.as_bytes())
            .unwrap()
            .into_command();
        assert_eq!(command.conversation.resolve(command.kind), None);
        for (bad, reason) in [
            (json!(7), "must be a string"),
            (json!("x".repeat(129)), "must be at most 128 characters"),
            (json!("TKT-001\n"), "must not contain control characters"),
        ] {
            let body = json!({"ticket_id": bad, "email": "u@example.com", "message": "more"});
            assert_eq!(
                field_error(SendMessage::<TicketId>::parse(body.to_string().as_bytes())),
                ("ticket_id", reason.to_string())
            );
        }
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_rejected() {
        for body in ["", "not json", "[1,2]", "\"text\"", "{\"email\":"] {
            assert!(
                matches!(
                    CreateConversation::parse(body.as_bytes()),
                    Err(ApiError::InvalidJson(_))
                ),
                "{body:?}"
            );
        }
        assert_eq!(field_error(create(json!({"data": "x"}))).0, "data");
    }

    #[test]
    fn oversized_bodies_are_rejected_before_parsing() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            CreateConversation::parse(&body),
            Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES
            })
        ));
    }

    #[test]
    fn the_idempotency_header_is_optional_but_must_be_valid_and_single() {
        let mut headers = HeaderMap::new();
        assert!(matches!(idempotency_key(&headers), Ok(None)));
        headers.insert("Idempotency-Key", HeaderValue::from_static("abc"));
        assert_eq!(idempotency_key(&headers).unwrap().unwrap().as_str(), "abc");
        headers.append("Idempotency-Key", HeaderValue::from_static("def"));
        assert_eq!(field_error(idempotency_key(&headers)).0, "Idempotency-Key");
        headers.insert(
            "Idempotency-Key",
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_eq!(field_error(idempotency_key(&headers)).0, "Idempotency-Key");
    }
}
