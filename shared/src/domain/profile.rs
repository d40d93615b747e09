/// Longest display or plan name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// 9999-12-31T23:59:59Z. Anything later is almost surely milliseconds sent as seconds.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// The user's name or plan name, as the client labels it (e.g. "Basic Plan").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_NAME_CHARS {
            return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
        }
        Ok(DisplayName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whole seconds since the Unix epoch, between 1970 and the year 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixSeconds(i64);

impl UnixSeconds {
    pub fn parse(value: i64) -> Result<Self, String> {
        if !(0..=MAX_UNIX_SECONDS).contains(&value) {
            return Err("must be a Unix timestamp in seconds".into());
        }
        Ok(UnixSeconds(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// What a create request tells us about the user; stored on the user's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<DisplayName>,
    pub plan_id: Option<i64>,
    /// When the user's account was created in the host product.
    pub account_created_at: UnixSeconds,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_limited_to_200_characters() {
        assert!(DisplayName::parse(&"ü".repeat(200)).is_ok());
        assert!(DisplayName::parse(&"ü".repeat(201)).is_err());
    }

    #[test]
    fn timestamps_must_be_seconds() {
        assert_eq!(
            UnixSeconds::parse(1_679_223_400).unwrap().get(),
            1_679_223_400
        );
        assert!(UnixSeconds::parse(0).is_ok());
        assert!(UnixSeconds::parse(-1).is_err());
        assert!(
            UnixSeconds::parse(1_679_223_400_000).is_err(),
            "milliseconds"
        );
    }
}
