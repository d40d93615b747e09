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

    /// The scope as tokens spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "agent.read",
            Scope::Write => "agent.write",
        }
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
}
