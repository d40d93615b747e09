use email_address::{EmailAddress, Options};
use std::fmt;

/// Longest address SMTP can carry (RFC 5321 path limit less the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A user's email as the client sent it, plus the identity derived from it.
///
/// The client signs the email *exactly as sent*, so authentication must use
/// [`Email::as_sent`]; the store keys users by [`Email::user_id`], which is trimmed
/// and lower-cased so `Ann@Example.com ` and `ann@example.com` are one user.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    as_sent: String,
    user_id: UserId,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        EmailAddress::parse_with_options(trimmed, options)
            .map_err(|_| "must be a valid email address".to_string())?;
        Ok(Email {
            as_sent: raw.to_string(),
            user_id: UserId(trimmed.to_lowercase()),
        })
    }

    /// The exact string the client signed.
    pub fn as_sent(&self) -> &str {
        &self.as_sent
    }

    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.user_id.0)
    }
}

/// A user's identity: the normalized (trimmed, lower-cased) email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds an id the store wrote earlier. Only stores call this.
    pub fn from_stored(value: String) -> Self {
        UserId(value)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_trimmed_and_case_folded_but_the_signed_string_is_kept() {
        let email = Email::parse("  Ann@Example.COM ").unwrap();
        assert_eq!(email.user_id().as_str(), "ann@example.com");
        assert_eq!(email.as_sent(), "  Ann@Example.COM ");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "ann@",
            "ann@localhost",
            "Ann <ann@example.com>",
            "ann@[127.0.0.1]",
            "ann smith@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn length_limit_is_254_characters() {
        let labels = ["c", "d", "e", "f"].map(|c| c.repeat(60)).join(".");
        let valid = format!("{}@{labels}.com", "a".repeat(254 - labels.len() - 5));
        assert_eq!(valid.len(), 254);
        assert!(Email::parse(&valid).is_ok());
        let too_long = format!("a{valid}");
        assert_eq!(
            Email::parse(&too_long).unwrap_err(),
            "must be at most 254 characters"
        );
    }
}
