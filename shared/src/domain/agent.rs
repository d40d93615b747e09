use super::profile::DisplayName;

/// Longest agent id, in characters.
pub const MAX_AGENT_ID_CHARS: usize = 128;

/// A support agent's id: the `sub` claim of their identity provider's token (a Cognito
/// user's UUID, say). 1 to 128 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentId(String);

impl AgentId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().count() > MAX_AGENT_ID_CHARS {
            return Err(format!("must be 1 to {MAX_AGENT_ID_CHARS} characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(AgentId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An agent as their messages show them: their id and display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    /// The token's `name` claim, or the id when it has none.
    pub name: DisplayName,
}

/// What an agent's token allows, as OAuth scopes: API Gateway checks them per route in
/// production, the local server does the same, and each handler checks again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The inbox, a conversation and its messages.
    Read,
    /// Replies, notes, status changes and assignment.
    Write,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

    /// The identifier of the resource server that defines the scopes in the stack's
    /// Cognito user pool (`AgentResourceServer` in template.yaml). Cognito writes a custom
    /// scope into tokens as `<identifier>/<name>`: `supportzen/agent.read`.
    pub const RESOURCE_SERVER: &'static str = "supportzen";

    /// The scope as tokens spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "agent.read",
            Scope::Write => "agent.write",
        }
    }

    /// The scope as Cognito spells it: [`Scope::RESOURCE_SERVER`], a slash, the name.
    pub fn prefixed(self) -> &'static str {
        match self {
            Scope::Read => "supportzen/agent.read",
            Scope::Write => "supportzen/agent.write",
        }
    }

    /// The spellings a token may carry this scope in, which are exactly the ones each agent
    /// route's `AuthorizationScopes` lists in template.yaml: the bare name (Auth0, Okta,
    /// Keycloak and the local server issue it as configured) and Cognito's prefixed one.
    /// No other prefix: the handler admits what API Gateway admits, nothing more.
    pub fn spellings(self) -> [&'static str; 2] {
        [self.as_str(), self.prefixed()]
    }

    /// Whether one entry of a token's space-separated `scope` claim grants this scope.
    pub fn granted_by(self, token_scope: &str) -> bool {
        self.spellings().contains(&token_scope)
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| "must be agent.read or agent.write".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_short_printable_strings() {
        assert!(AgentId::parse("3f1c2a9e-agent").is_ok());
        assert!(AgentId::parse(&"a".repeat(MAX_AGENT_ID_CHARS)).is_ok());
        for bad in ["", "a\nb", &"a".repeat(MAX_AGENT_ID_CHARS + 1)] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?}");
        }
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        assert!(Scope::parse("agent.admin").is_err());
    }

    #[test]
    fn a_scope_is_granted_by_its_bare_name_or_cognitos_prefixed_one_only() {
        assert!(Scope::Read.granted_by("agent.read"));
        assert!(Scope::Read.granted_by("supportzen/agent.read"));
        assert!(Scope::Write.granted_by("agent.write"));
        assert!(Scope::Write.granted_by("supportzen/agent.write"));
        for scope in Scope::ALL {
            assert_eq!(
                scope.prefixed(),
                format!("{}/{}", Scope::RESOURCE_SERVER, scope.as_str())
            );
        }
        for other in [
            "",
            "agent.write",
            "supportzen/agent.write",
            "evil/agent.read",
            "evil/agent.readx",
            "supportzen/agent.readx",
            "agent.read/x",
            "supportzen/agent.read/x",
            "/agent.read",
            "supportzen/",
            "supportzen//agent.read",
            "Supportzen/agent.read",
            "AGENT.READ",
            " agent.read",
            "agent.read ",
            "https://supportzen/agent.read",
        ] {
            assert!(
                !Scope::Read.granted_by(other),
                "{other:?} grants agent.read"
            );
        }
        assert!(!Scope::Write.granted_by("supportzen/agent.read"));
        // parse reads the bare names only (the CLI's --scope), never a token's spelling.
        assert!(Scope::parse("supportzen/agent.read").is_err());
    }
}
