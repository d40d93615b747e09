//! The customers' write limit: how many messages one customer may send a minute, first
//! messages of new conversations included. The store counts each message in the write
//! that stores it (a counter item per customer and minute on DynamoDB, a row on SQLite),
//! so a send costs no extra round trip and the count is exact under concurrent sends: a
//! message is counted if and only if it was stored.
//!
//! The minute is a fixed window (`sent_at` rounded down to the minute), so a customer may
//! send up to twice the limit across a window's boundary; that is the price of a counter
//! that is one conditional update.

use super::StoreError;
use std::time::Duration;

const MINUTE_MS: i64 = 60_000;

/// Messages a customer may send a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimit(u32);

impl MessageLimit {
    /// Half a message every two seconds, all minute: more than a person types, far less
    /// than a script that floods an inbox.
    pub const DEFAULT: MessageLimit = MessageLimit(30);
    pub const MAX: u32 = 100_000;

    /// A limit from configuration: 1 to [`MessageLimit::MAX`] messages a minute.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().parse::<u32>() {
            Ok(limit) if (1..=Self::MAX).contains(&limit) => Ok(MessageLimit(limit)),
            _ => Err(format!(
                "CUSTOMER_MESSAGES_PER_MINUTE must be a whole number from 1 to {}, not {value:?}",
                Self::MAX
            )),
        }
    }

    /// `CUSTOMER_MESSAGES_PER_MINUTE` as `lookup` finds it, [`MessageLimit::DEFAULT`]
    /// when it is unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        lookup("CUSTOMER_MESSAGES_PER_MINUTE").map_or(Ok(Self::DEFAULT), |v| Self::parse(&v))
    }

    pub fn per_minute(self) -> u32 {
        self.0
    }

    /// What refusing a message sent at `sent_at` says: this limit, and the wait until
    /// the next minute.
    pub fn refused(self, sent_at: i64) -> StoreError {
        StoreError::RateLimited {
            per_minute: self.0,
            retry_after: Window::of(sent_at).retry_after(sent_at),
        }
    }
}

/// The minute a message sent at `sent_at` (ms since the epoch) is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its first millisecond.
    pub start_ms: i64,
}

impl Window {
    pub fn of(sent_at: i64) -> Self {
        Window {
            start_ms: sent_at.div_euclid(MINUTE_MS) * MINUTE_MS,
        }
    }

    /// Its first millisecond after it.
    pub fn end_ms(self) -> i64 {
        self.start_ms.saturating_add(MINUTE_MS)
    }

    /// How long a message refused at `now` should wait: until the next window, in whole
    /// seconds rounded up (what `Retry-After` can say), at least one.
    pub fn retry_after(self, now: i64) -> Duration {
        let wait_ms = (self.end_ms() - now).clamp(1, MINUTE_MS);
        Duration::from_secs(u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_one_to_the_maximum_and_thirty_when_unset() {
        assert_eq!(MessageLimit::from_env(|_| None), Ok(MessageLimit::DEFAULT));
        assert_eq!(
            MessageLimit::from_env(|_| Some("5".into())).map(MessageLimit::per_minute),
            Ok(5)
        );
        for bad in ["0", "-3", "many", "", "100001"] {
            let err = MessageLimit::parse(bad).unwrap_err();
            assert!(
                err.starts_with("CUSTOMER_MESSAGES_PER_MINUTE must be"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_refused_message_waits_for_the_next_minute_in_whole_seconds() {
        let window = Window::of(120_000 + 59_001);
        assert_eq!(window.start_ms, 120_000);
        assert_eq!(window.end_ms(), 180_000);
        assert_eq!(window.retry_after(120_000 + 59_001), Duration::from_secs(1));
        assert_eq!(window.retry_after(120_000), Duration::from_secs(60));
        assert_eq!(window.retry_after(150_500), Duration::from_secs(30));
    }
}
