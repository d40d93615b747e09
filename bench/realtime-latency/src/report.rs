//! Matches what the sockets received against what was written, and prints the result:
//! every delivery that should have happened, once each, and its latency (arrival on the
//! socket minus the instant just before the write was sent).

use crate::sockets::{Listener, SocketLog};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Who wrote a message, and so through which route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The chat's customer, through live-chat.
    Customer,
    /// The agent, through agent-reply.
    Agent,
}

/// A message the run wrote and the server acknowledged.
pub struct Sent {
    /// The customer whose chat it is in: their socket should get it, besides every agent's.
    pub owner: usize,
    pub by: Author,
    pub sent: Instant,
    pub acknowledged: Instant,
}

/// The deliveries the run expected and those it got.
#[derive(Default)]
pub struct Tally {
    pub expected: usize,
    /// Deliveries that were expected and arrived, first arrival only.
    pub matched: usize,
    /// The same message on the same socket again.
    pub duplicates: usize,
    /// A message this run did not write, or one a customer's socket should not see.
    pub unexpected: usize,
    /// Every matched delivery's latency.
    pub latencies: Vec<Latency>,
}

/// How long one delivery took, from the write being sent to the event's arrival.
pub struct Latency {
    pub to: Listener,
    pub by: Author,
    pub took: Duration,
}

impl Tally {
    pub fn missing(&self) -> usize {
        self.expected - self.matched
    }

    /// Nothing lost, nothing repeated, nothing misdelivered.
    pub fn exact(&self) -> bool {
        self.missing() == 0 && self.duplicates == 0 && self.unexpected == 0
    }
}

/// Matches `logs` against `sent` (keyed by message id), with `agent_sockets` agents' sockets open.
pub fn tally(sent: &HashMap<String, Sent>, logs: &[SocketLog], agent_sockets: usize) -> Tally {
    let mut tally = Tally {
        expected: sent.len() * (agent_sockets + 1),
        ..Tally::default()
    };
    for log in logs {
        let mut seen = HashSet::new();
        for delivery in &log.deliveries {
            let Some(message) = sent.get(&delivery.message_id) else {
                tally.unexpected += 1;
                continue;
            };
            if matches!(log.listener, Listener::Customer(n) if n != message.owner) {
                tally.unexpected += 1;
                continue;
            }
            if !seen.insert(delivery.message_id.as_str()) {
                tally.duplicates += 1;
                continue;
            }
            tally.matched += 1;
            tally.latencies.push(Latency {
                to: log.listener,
                by: message.by,
                took: delivery.at.saturating_duration_since(message.sent),
            });
        }
    }
    tally
}

/// Prints the latencies as a Markdown table: the deliveries by socket and by route, and,
/// for comparison, the writes' answers.
pub fn print_table(tally: &Tally, sent: &HashMap<String, Sent>) {
    println!("| from sending the write to | count | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    type Keep = fn(&Latency) -> bool;
    let rows: [(&str, Keep); 5] = [
        ("the event, on any socket", |_| true),
        ("the event, on an agent's socket", |l| {
            l.to == Listener::Agent
        }),
        ("the event, on the customer's socket", |l| {
            l.to != Listener::Agent
        }),
        ("a live-chat write's event, on any socket", |l| {
            l.by == Author::Customer
        }),
        ("an agent-reply write's event, on any socket", |l| {
            l.by == Author::Agent
        }),
    ];
    for (what, keep) in rows {
        let latencies = tally.latencies.iter().filter(|l| keep(l)).map(|l| l.took);
        println!("{}", row(what, latencies));
    }
    for (what, by) in [
        ("the 200 answer, live-chat", Author::Customer),
        ("the 200 answer, agent-reply", Author::Agent),
    ] {
        let answered = sent.values().filter(|m| m.by == by);
        println!("{}", row(what, answered.map(|m| m.acknowledged - m.sent)));
    }
}

/// One Markdown row: count, p50, p90, p99 and max in milliseconds.
fn row(what: &str, latencies: impl Iterator<Item = Duration>) -> String {
    let mut latencies: Vec<Duration> = latencies.collect();
    latencies.sort_unstable();
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
    let at = |p: f64| percentile(&latencies, p).map_or("-".to_string(), ms);
    format!(
        "| {what} | {} | {} | {} | {} | {} |",
        latencies.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        latencies.last().copied().map_or("-".to_string(), ms),
    )
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of `sorted`.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&sorted[..1], 0.99),
            Some(Duration::from_millis(1))
        );
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn counts_missing_duplicate_and_misdelivered_events() {
        use crate::sockets::Delivery;
        let now = Instant::now();
        let sent: HashMap<String, Sent> = [("m1", 0), ("m2", 1)]
            .map(|(id, owner)| {
                let message = Sent {
                    owner,
                    by: Author::Customer,
                    sent: now,
                    acknowledged: now,
                };
                (id.to_string(), message)
            })
            .into();
        let delivery = |id: &str| Delivery {
            message_id: id.to_string(),
            at: now + Duration::from_millis(2),
        };
        let log = |listener, ids: &[&str]| SocketLog {
            listener,
            deliveries: ids.iter().map(|id| delivery(id)).collect(),
            other_frames: 0,
            ended_early: None,
        };
        let logs = [
            log(Listener::Agent, &["m1", "m2", "m2"]),
            // Customer 0 gets their own message and, wrongly, customer 1's.
            log(Listener::Customer(0), &["m1", "m2"]),
            // Customer 1's socket lost m2; "x" was never written.
            log(Listener::Customer(1), &["x"]),
        ];
        let tally = tally(&sent, &logs, 1);
        assert_eq!(tally.expected, 4);
        assert_eq!(tally.matched, 3);
        assert_eq!(tally.missing(), 1);
        assert_eq!(tally.duplicates, 1);
        assert_eq!(tally.unexpected, 2);
        assert!(!tally.exact());
        let to_agents = tally.latencies.iter().filter(|l| l.to == Listener::Agent);
        let took: Vec<Duration> = to_agents.map(|l| l.took).collect();
        assert_eq!(took, vec![Duration::from_millis(2); 2]);
    }
}
