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

/// Accounts one source address may create in an hour by trust on first request
/// (`TRUST_FIRST_REQUEST`): a script cannot mint customers without end from one host.
/// Counted in the write that creates the account, as [`MessageLimit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountLimit(u32);

impl AccountLimit {
    /// An office or a school behind one address opens a few accounts an hour; a script
    /// opens thousands.
    pub const DEFAULT: AccountLimit = AccountLimit(20);
    pub const MAX: u32 = 100_000;

    /// A limit from configuration: 1 to [`AccountLimit::MAX`] accounts an hour.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().parse::<u32>() {
            Ok(limit) if (1..=Self::MAX).contains(&limit) => Ok(AccountLimit(limit)),
            _ => Err(format!(
                "NEW_ACCOUNTS_PER_ADDRESS_PER_HOUR must be a whole number from 1 to {}, not {value:?}",
                Self::MAX
            )),
        }
    }

    /// `NEW_ACCOUNTS_PER_ADDRESS_PER_HOUR` as `lookup` finds it, [`AccountLimit::DEFAULT`]
    /// when it is unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        lookup("NEW_ACCOUNTS_PER_ADDRESS_PER_HOUR").map_or(Ok(Self::DEFAULT), |v| Self::parse(&v))
    }

    pub fn per_hour(self) -> u32 {
        self.0
    }

    /// What refusing an account created at `now` says: this limit, and the wait until
    /// the next hour.
    pub fn refused(self, now: i64) -> StoreError {
        StoreError::AccountsLimited {
            per_hour: self.0,
            retry_after: Hour::of(now).retry_after(now),
        }
    }
}

/// The hour an account created at `created_at` (ms since the epoch) is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hour {
    /// Its first millisecond.
    pub start_ms: i64,
}

impl Hour {
    pub fn of(created_at: i64) -> Self {
        Hour {
            start_ms: created_at.div_euclid(HOUR_MS) * HOUR_MS,
        }
    }

    pub fn end_ms(self) -> i64 {
        self.start_ms.saturating_add(HOUR_MS)
    }

    /// Until the next hour, in whole seconds rounded up, at least one.
    pub fn retry_after(self, now: i64) -> Duration {
        let wait_ms = (self.end_ms() - now).clamp(1, HOUR_MS);
        Duration::from_secs(u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000))
    }
}

const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Where a request came from, as counted for [`AccountLimit`]: an IPv4 address, or the
/// /64 network of an IPv6 one (one host is given a whole /64, and can pick any address
/// in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceAddress(String);

impl SourceAddress {
    /// From API Gateway's `requestContext.http.sourceIp` (or the local server's peer);
    /// `None` for anything that is not an IP address.
    pub fn parse(ip: &str) -> Option<Self> {
        let address = match ip.trim().parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        Some(SourceAddress(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
    fn an_ipv6_source_counts_as_its_network_and_mapped_ipv4_as_itself() {
        let a = SourceAddress::parse("2001:db8:1:2:aaaa::1").unwrap();
        let b = SourceAddress::parse("2001:db8:1:2:bbbb::2").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "2001:db8:1:2::/64");
        assert_eq!(
            SourceAddress::parse("::ffff:192.0.2.7").unwrap().as_str(),
            "192.0.2.7"
        );
        assert_eq!(
            SourceAddress::parse("192.0.2.7").unwrap().as_str(),
            "192.0.2.7"
        );
        assert_eq!(SourceAddress::parse("not an address"), None);
        assert_eq!(AccountLimit::from_env(|_| None), Ok(AccountLimit::DEFAULT));
        assert!(AccountLimit::parse("0").is_err());
        assert_eq!(
            Hour::of(7_200_000 + 5).retry_after(7_200_000 + 5),
            Duration::from_secs(3600)
        );
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
