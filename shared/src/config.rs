//! Settings read from the environment once, at start-up.

/// How the handlers behave, independent of where data is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `TRUST_FIRST_REQUEST` (default `true`): an unknown email is created on its first
    /// request and pinned to the token that request presented. With `false`, users must
    /// be provisioned first and unknown emails get 401.
    pub trust_first_request: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            trust_first_request: true,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any variable source, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let trust_first_request = match lookup("TRUST_FIRST_REQUEST") {
            None => true,
            Some(value) => parse_bool(&value).ok_or_else(|| {
                format!("TRUST_FIRST_REQUEST must be true or false, not {value:?}")
            })?,
        };
        Ok(Config {
            trust_first_request,
        })
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: Option<&str>) -> Result<Config, String> {
        Config::from_lookup(|_| value.map(str::to_string))
    }

    #[test]
    fn trust_first_request_defaults_on_and_parses_booleans() {
        assert!(with(None).unwrap().trust_first_request);
        assert!(with(Some("TRUE")).unwrap().trust_first_request);
        assert!(!with(Some("false")).unwrap().trust_first_request);
        assert!(!with(Some("0")).unwrap().trust_first_request);
        assert!(
            with(Some("maybe"))
                .unwrap_err()
                .contains("TRUST_FIRST_REQUEST")
        );
    }
}
