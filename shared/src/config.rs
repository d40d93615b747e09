//! Settings read from the environment once, at start-up.

use crate::domain::{AttachmentLimits, ContentType, UnsubscribeKey};
use std::time::Duration;

/// How long a reply may stay unread before the customer gets an email: 5 minutes.
pub const DEFAULT_UNREAD_EMAIL_AFTER: Duration = Duration::from_secs(300);

/// How the handlers behave, independent of where data is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `TRUST_FIRST_REQUEST` (default `true`): an unknown email is created on its first
    /// request and pinned to the token that request presented. With `false`, users must
    /// be provisioned first and unknown emails get 401.
    pub trust_first_request: bool,
    /// What uploads may be: `ATTACHMENT_MAX_BYTES` (default 10 MiB),
    /// `ATTACHMENT_MAX_PER_MESSAGE` (default 10) and `ATTACHMENT_TYPES` (media types,
    /// comma-separated, from the allowlist; default all of it).
    pub attachments: AttachmentLimits,
    /// How long after an agent's reply the customer gets an email of the replies they
    /// have not read (one per quiet period): `UNREAD_EMAIL_AFTER_SECONDS`, default 300;
    /// `0` turns the emails off. `None` (the default of [`Config::default`], and of
    /// `serve` without `--smtp`): no emails.
    pub unread_email_after: Option<Duration>,
    /// Signs and checks the one-click unsubscribe links: `UNSUBSCRIBE_SECRET` (at least
    /// 32 characters). Without it, `POST /api/client/unsubscribe` answers 503.
    pub unsubscribe_key: Option<UnsubscribeKey>,
}

impl Config {
    /// When the email about a message sent at `sent_at` (milliseconds) falls due if it
    /// stays unread: `sent_at` + [`Config::unread_email_after`], the same quiet period
    /// for agents' replies (to the customer) and customers' messages (to the agents).
    pub fn notice_at(&self, sent_at: i64) -> Option<i64> {
        self.unread_email_after.map(|after| {
            sent_at.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX))
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            trust_first_request: true,
            attachments: AttachmentLimits::default(),
            unread_email_after: None,
            unsubscribe_key: None,
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
        let mut attachments = AttachmentLimits::default();
        if let Some(value) = lookup("ATTACHMENT_MAX_BYTES") {
            attachments.max_bytes = value
                .trim()
                .parse()
                .ok()
                .filter(|bytes| *bytes > 0)
                .ok_or_else(|| {
                    format!("ATTACHMENT_MAX_BYTES must be a number of bytes, not {value:?}")
                })?;
        }
        if let Some(value) = lookup("ATTACHMENT_MAX_PER_MESSAGE") {
            attachments.max_per_message = value
                .trim()
                .parse()
                .ok()
                .filter(|count| *count > 0)
                .ok_or_else(|| {
                    format!("ATTACHMENT_MAX_PER_MESSAGE must be a positive number, not {value:?}")
                })?;
        }
        if let Some(value) = lookup("ATTACHMENT_TYPES") {
            attachments.types = value
                .split(',')
                .filter(|kind| !kind.trim().is_empty())
                .map(|kind| {
                    ContentType::parse(kind)
                        .map_err(|reason| format!("ATTACHMENT_TYPES: {kind:?} {reason}"))
                })
                .collect::<Result<_, _>>()?;
        }
        let unread_email_after = match lookup("UNREAD_EMAIL_AFTER_SECONDS") {
            None => Some(DEFAULT_UNREAD_EMAIL_AFTER),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(seconds) if seconds <= 7 * 24 * 3600 => Some(Duration::from_secs(seconds)),
                _ => {
                    return Err(format!(
                        "UNREAD_EMAIL_AFTER_SECONDS must be a number of seconds up to a week (0: no emails), not {value:?}"
                    ));
                }
            },
        };
        let unsubscribe_key = lookup("UNSUBSCRIBE_SECRET")
            .filter(|secret| !secret.is_empty())
            .map(|secret| {
                UnsubscribeKey::new(&secret).map_err(|e| format!("UNSUBSCRIBE_SECRET: {e}"))
            })
            .transpose()?;
        Ok(Config {
            trust_first_request,
            attachments,
            unread_email_after,
            unsubscribe_key,
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
        Config::from_lookup(|name| {
            (name == "TRUST_FIRST_REQUEST")
                .then(|| value.map(str::to_string))
                .flatten()
        })
    }

    #[test]
    fn attachment_limits_come_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            Config::from_lookup(|name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        assert_eq!(env(&[]).unwrap().attachments, AttachmentLimits::default());
        let set = env(&[
            ("ATTACHMENT_MAX_BYTES", "1024"),
            ("ATTACHMENT_MAX_PER_MESSAGE", "2"),
            ("ATTACHMENT_TYPES", "image/png, application/pdf"),
        ])
        .unwrap()
        .attachments;
        assert_eq!(
            (set.max_bytes, set.max_per_message, set.types),
            (1024, 2, vec![ContentType::Png, ContentType::Pdf])
        );
        assert!(
            env(&[("ATTACHMENT_TYPES", "text/html")])
                .unwrap_err()
                .contains("ATTACHMENT_TYPES")
        );
        assert!(env(&[("ATTACHMENT_MAX_BYTES", "0")]).is_err());
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
