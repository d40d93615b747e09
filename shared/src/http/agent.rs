//! Reads the agent routes' requests: who the agent is, from the claims of the JWT that
//! API Gateway's authorizer verified (`requestContext.authorizer.jwt`; the local server
//! verifies the token itself and fills in the same), whether their scopes allow the
//! route, and the typed command. Errors name the parameter or field at fault.

use super::query::{kind_and_cursor, page_limit, parameter, path_conversation};
use super::request::{Fields, idempotency_key};
use crate::auth::AuthError;
use crate::domain::{
    Agent, AgentId, ClientMessageId, ConversationKey, DisplayName, Email, ImageUrl, MessageId,
    MessageText, Status,
};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::flows::agent::{AgentMessage, Assign, ChangeStatus, FindCustomer, ListInbox};
use crate::flows::marks::MarkRead;
use crate::idempotency::{BodyDigest, Retry};
use crate::store::{AssigneeFilter, InboxFilter};
use lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizerJwtDescription;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The verified claims API Gateway passed on, if any.
fn jwt(request: &Request) -> Option<&ApiGatewayRequestAuthorizerJwtDescription> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref()?.jwt.as_ref(),
        _ => None,
    }
}

/// The agent the request's verified token names, if its scopes include the one the
/// endpoint table gives `endpoint` ([`Endpoint::scope`]).
///
/// API Gateway has checked the scope already; checking again here keeps a route that
/// was deployed without its authorizer from serving anyone. Scopes are read as API
/// Gateway reads them: the `scope` (or `scp`) claim, space-separated; each route admits
/// the scope's bare name and Cognito's prefixed one ([`Scope::granted_by`]). The route's
/// scope comes from the endpoint table ([`Endpoint::scope`]).
pub fn agent(request: &Request, endpoint: Endpoint) -> Result<Agent, ApiError> {
    let scope = endpoint
        .scope()
        .ok_or_else(|| ApiError::Internal(format!("{} is not an agent route", endpoint.name())))?;
    let jwt = jwt(request).ok_or(ApiError::Unauthorized(AuthError::NoAgentClaims))?;
    let claims = &jwt.claims;
    let id = claims
        .get("sub")
        .and_then(|sub| AgentId::parse(sub).ok())
        .ok_or(ApiError::Unauthorized(AuthError::NoAgentClaims))?;
    let name = claims
        .get("name")
        .and_then(|name| DisplayName::parse(name).ok())
        .or_else(|| DisplayName::parse(id.as_str()).ok())
        .ok_or(ApiError::Unauthorized(AuthError::NoAgentClaims))?;
    let granted = ["scope", "scp"]
        .iter()
        .filter_map(|claim| claims.get(*claim))
        .flat_map(|value| value.split([' ', '[', ']']))
        .chain(jwt.scopes.iter().flatten().map(String::as_str))
        .any(|granted| scope.granted_by(granted));
    if !granted {
        return Err(ApiError::Forbidden(scope));
    }
    Ok(Agent { id, name })
}

/// The agent's address from their token's `email` claim, if it has one that is an
/// address and not marked unverified (`email_verified` = `false`, as Cognito says).
pub fn email_claim(request: &Request) -> Option<Email> {
    let claims = &jwt(request)?.claims;
    if claims.get("email_verified").map(String::as_str) == Some("false") {
        return None;
    }
    claims
        .get("email")
        .and_then(|email| Email::parse(email).ok())
}

/// `GET /api/agent/conversations?kind=&status=&assignee=&limit=&cursor=`.
pub fn list_inbox(request: &Request, agent: &Agent) -> Result<ListInbox, ApiError> {
    let (kind, from) = kind_and_cursor(request)?;
    let status = parameter(request, "status")?
        .map(|raw| Status::parse(raw).map_err(|reason| ApiError::field("status", reason)))
        .transpose()?
        .unwrap_or(Status::Open);
    let assignee = match parameter(request, "assignee")? {
        None | Some("any") => AssigneeFilter::Any,
        Some("none") => AssigneeFilter::Unassigned,
        Some("me") => AssigneeFilter::Agent(agent.id.clone()),
        Some(_) => return Err(ApiError::field("assignee", "must be me, none or any")),
    };
    Ok(ListInbox {
        filter: InboxFilter {
            kind,
            status,
            assignee,
        },
        limit: page_limit(request)?,
        from,
    })
}

/// `GET /api/agent/customers?email=&kind=&limit=&cursor=`: the email is looked up as
/// every user is stored, trimmed and lower-cased.
pub fn find_customer(request: &Request) -> Result<FindCustomer, ApiError> {
    let email = parameter(request, "email")?
        .ok_or_else(|| ApiError::field("email", "is required"))
        .and_then(|raw| Email::parse(raw).map_err(|reason| ApiError::field("email", reason)))?;
    let (kind, from) = kind_and_cursor(request)?;
    Ok(FindCustomer {
        email,
        kind,
        limit: page_limit(request)?,
        from,
    })
}

/// `POST /api/agent/conversations/{id}/messages` `{message, image_url?, internal?,
/// client_message_id?, attachments?}`, with its `Idempotency-Key` (for `agent`) if any.
pub fn agent_message(
    request: &Request,
    agent: &Agent,
) -> Result<(AgentMessage, Option<Retry>), ApiError> {
    let conversation = path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    // The key is bound to the conversation too: the same body to another one is another request.
    let retry = idempotency_key(request.headers())?.map(|key| {
        let mut digested = fields.digest_fields();
        digested.insert("conversation".into(), conversation_field(&conversation));
        Retry::for_agent(
            Endpoint::AgentReply,
            &agent.id,
            key,
            BodyDigest::of(&digested),
        )
    });
    let message = AgentMessage {
        conversation,
        message: fields.required("message", MessageText::parse)?,
        image_url: fields.optional("image_url", ImageUrl::parse)?,
        internal: fields.boolean("internal")?.unwrap_or(false),
        client_message_id: fields.optional("client_message_id", ClientMessageId::parse)?,
        attachments: fields.attachment_ids()?,
    };
    Ok((message, retry))
}

fn conversation_field(conversation: &ConversationKey) -> serde_json::Value {
    serde_json::Value::String(conversation.as_str().to_string())
}

/// `POST /api/agent/attachments` `{name, content_type, size}`.
pub fn upload(request: &Request) -> Result<super::request::UploadDeclaration, ApiError> {
    super::request::UploadDeclaration::read(&Fields::from_body(request.body())?)
}

/// `POST /api/agent/conversations/{id}/status` `{status, snooze_until?}`.
pub fn change_status(request: &Request) -> Result<ChangeStatus, ApiError> {
    let conversation = path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    let status = fields.required("status", Status::parse)?;
    let snooze_until = fields.integer("snooze_until")?;
    if snooze_until.is_some() && status != Status::Pending {
        return Err(ApiError::field(
            "snooze_until",
            "may only be given with status pending",
        ));
    }
    Ok(ChangeStatus {
        conversation,
        status,
        snooze_until,
    })
}

/// `POST /api/agent/conversations/{id}/read` `{up_to}` (flat or under `data`).
pub fn mark_read(request: &Request) -> Result<MarkRead, ApiError> {
    let conversation = path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    Ok(MarkRead {
        conversation,
        up_to: fields.required("up_to", MessageId::parse)?,
    })
}

/// `POST /api/agent/conversations/{id}/assign` `{assignee: agent id | null}`.
pub fn assign(request: &Request) -> Result<Assign, ApiError> {
    let conversation = path_conversation(request)?;
    let fields = Fields::from_body(request.body())?;
    if !fields.contains("assignee") {
        return Err(ApiError::field(
            "assignee",
            "is required: an agent id, or null to unassign",
        ));
    }
    Ok(Assign {
        conversation,
        assignee: fields.optional("assignee", AgentId::parse)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scope;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
    };

    /// A request as API Gateway passes it on after verifying a token with these claims.
    fn verified(claims: &[(&str, &str)]) -> Request {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        Request::default().with_request_context(RequestContext::ApiGatewayV2(context))
    }

    /// What a Cognito access token from the stack's user pool carries: `client_id`, not
    /// `aud`; the resource server's prefix on custom scopes; no `name`.
    fn cognito(scope: &str) -> Request {
        verified(&[
            ("sub", "7c1e4b2a-93d5-4f08-b6a1-2e9d0c5f3a71"),
            ("client_id", "5q0h2ngs3m1r8d7cbn6ek4a9tv"),
            ("token_use", "access"),
            ("scope", scope),
        ])
    }

    #[test]
    fn cognitos_prefixed_scopes_grant_what_they_name_and_no_more() {
        let reader = cognito("openid email profile supportzen/agent.read");
        let reading = agent(&reader, Endpoint::AgentInbox).unwrap();
        assert_eq!(reading.id.as_str(), "7c1e4b2a-93d5-4f08-b6a1-2e9d0c5f3a71");
        // Without a name claim, messages show the agent's id.
        assert_eq!(reading.name.as_str(), reading.id.as_str());
        assert!(matches!(
            agent(&reader, Endpoint::AgentReply),
            Err(ApiError::Forbidden(Scope::Write))
        ));

        let both = cognito("supportzen/agent.read supportzen/agent.write");
        assert!(agent(&both, Endpoint::AgentReply).is_ok());

        for not_granted in ["evil/agent.read", "evil/agent.readx", "agent.read/x", ""] {
            assert!(
                matches!(
                    agent(&cognito(not_granted), Endpoint::AgentInbox),
                    Err(ApiError::Forbidden(Scope::Read))
                ),
                "{not_granted:?}"
            );
        }
    }
}
