//! Business counters (messages written, webhook outcomes, socket posts) as CloudWatch's
//! Embedded Metric Format: one JSON line on stdout per invocation, which CloudWatch Logs
//! turns into metrics. No API call and no wait: a metric costs a log line.
//!
//! The stack's functions get `METRICS_NAMESPACE` (`SupportZen/<stack>`, template.yaml);
//! without it (locally, in tests) nothing is written. The dashboard plots these names.

use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// What is counted. The names are the metrics' names in CloudWatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// `message.created` events read from the table's stream (customers', replies, notes).
    MessagesWritten,
    /// Webhook attempts the endpoint accepted (2xx).
    WebhookDelivered,
    /// Webhook attempts that failed and wait for another.
    WebhookFailed,
    /// Webhook deliveries whose last attempt failed: now in the dead-letter queue.
    WebhookDead,
    /// Events posted to a realtime connection.
    SocketPosts,
    /// Posts answered 410 Gone: the connection had closed and is unlisted.
    SocketGone,
}

impl Counter {
    pub const ALL: [Counter; 6] = [
        Counter::MessagesWritten,
        Counter::WebhookDelivered,
        Counter::WebhookFailed,
        Counter::WebhookDead,
        Counter::SocketPosts,
        Counter::SocketGone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counter::MessagesWritten => "MessagesWritten",
            Counter::WebhookDelivered => "WebhookDelivered",
            Counter::WebhookFailed => "WebhookFailed",
            Counter::WebhookDead => "WebhookDead",
            Counter::SocketPosts => "SocketPosts",
            Counter::SocketGone => "SocketGone",
        }
    }
}

/// One invocation's counts. Shared by reference with the work it counts (posts run
/// concurrently), hence atomics.
#[derive(Debug, Default)]
pub struct Counters {
    counts: [AtomicU64; Counter::ALL.len()],
}

impl Counters {
    pub fn add(&self, counter: Counter, n: u64) {
        self.counts[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counts[counter as usize].load(Ordering::Relaxed)
    }

    /// The EMF line for the counters that moved, or `None` when none did (an invocation
    /// that counted nothing writes nothing).
    pub fn emf_line(&self, namespace: &str, timestamp_ms: i64) -> Option<String> {
        let moved: Vec<(Counter, u64)> = Counter::ALL
            .into_iter()
            .map(|counter| (counter, self.get(counter)))
            .filter(|(_, n)| *n > 0)
            .collect();
        if moved.is_empty() {
            return None;
        }
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    // No dimension: one series per stack, summed over its functions.
                    "Dimensions": [[]],
                    "Metrics": moved
                        .iter()
                        .map(|(counter, _)| json!({"Name": counter.name(), "Unit": "Count"}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        for (counter, n) in moved {
            line.insert(counter.name().into(), Value::from(n));
        }
        Some(Value::Object(line).to_string())
    }

    /// Writes the EMF line to stdout, where Lambda's log capture reads it, if the
    /// function has a namespace (`METRICS_NAMESPACE`) and anything was counted.
    pub fn emit(&self, namespace: Option<&str>, timestamp_ms: i64) {
        if let Some(line) = namespace.and_then(|ns| self.emf_line(ns, timestamp_ms)) {
            println!("{line}");
        }
    }
}

/// The namespace the stack gives its functions, if any.
pub fn namespace_from_env() -> Option<String> {
    std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|namespace| !namespace.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_declares_and_carries_exactly_the_counters_that_moved() {
        let counters = Counters::default();
        counters.add(Counter::MessagesWritten, 2);
        counters.add(Counter::SocketGone, 1);
        counters.add(Counter::MessagesWritten, 1);
        let line = counters
            .emf_line("SupportZen/prod", 1_700_000_000_000)
            .unwrap();
        assert!(!line.contains('\n'), "one log line");
        let value: Value = serde_json::from_str(&line).unwrap();
        let declared = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(declared["Namespace"], "SupportZen/prod");
        assert_eq!(declared["Dimensions"], json!([[]]));
        assert_eq!(
            declared["Metrics"],
            json!([
                {"Name": "MessagesWritten", "Unit": "Count"},
                {"Name": "SocketGone", "Unit": "Count"},
            ])
        );
        assert_eq!(value["MessagesWritten"], 3);
        assert_eq!(value["SocketGone"], 1);
        assert!(value.get("SocketPosts").is_none());
    }

    #[test]
    fn nothing_counted_writes_nothing() {
        assert_eq!(Counters::default().emf_line("SupportZen/prod", 1), None);
    }
}
