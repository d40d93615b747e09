//! Benchmark of the local realtime socket: how long from a message being written over
//! HTTP to its event arriving on `supportzen serve`'s WebSocket, with a few hundred
//! sockets open. It runs against a server that is already running (bench/realtime-latency.sh
//! starts one) and checks, besides the timings, that every socket got exactly the
//! events it should: none lost, none twice, none of another customer's.

mod api;
mod report;
mod sockets;

use api::{Api, Customer};
use clap::Parser;
use report::{Author, Sent};
use reqwest::Url;
use sockets::{Listener, SocketLog};
use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Message written → event delivered on `supportzen serve`'s realtime socket.
///
/// Creates CUSTOMERS customers, each with a live chat (their first request creates
/// them: the server must run with TRUST_FIRST_REQUEST=true, its default), opens one
/// socket per customer and AGENT_SOCKETS agents' sockets (by default 180 + 20 = 200
/// sockets), and once all are open writes MESSAGES messages at RATE per second,
/// alternately a customer's (live-chat) and an agent's reply (agent-reply), spread over
/// the chats. Each message should reach every
/// agent's socket and its customer's socket, once. Latency is the instant a socket
/// received the event minus the instant just before the write request was sent, matched
/// by message id. Prints a Markdown table; exits non-zero if any write failed or any
/// delivery was missing, repeated or misdelivered.
#[derive(Parser)]
#[command(name = "realtime-latency")]
struct Args {
    /// The running server's base URL (plain HTTP), e.g. http://127.0.0.1:3000.
    #[arg(long, env = "SUPPORTZEN_URL")]
    url: Url,
    /// An agent token with agent.read and agent.write (`supportzen agents token`), signed
    /// by the server's agent key. Prefer the environment variable: arguments are visible
    /// to other users of the machine.
    #[arg(long, env = "SUPPORTZEN_AGENT_TOKEN", hide_env_values = true)]
    agent_token: String,
    /// Customers, each with one chat and one socket.
    #[arg(long, default_value_t = NonZeroUsize::new(180).expect("not zero"))]
    customers: NonZeroUsize,
    /// Agents' sockets (all with the one agent token): each gets every message.
    #[arg(long, default_value_t = 20)]
    agent_sockets: usize,
    /// Messages to write, half by customers and half by the agent.
    #[arg(long, default_value_t = NonZeroUsize::new(1000).expect("not zero"))]
    messages: NonZeroUsize,
    /// Messages written per second (each write is sent on its tick, without waiting for
    /// the ones before it).
    #[arg(long, default_value_t = NonZeroU32::new(50).expect("not zero"))]
    rate: NonZeroU32,
    /// Seconds to wait, after the last write was answered, for deliveries still due.
    #[arg(long, default_value_t = 10)]
    drain_seconds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("realtime-latency: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark; `Ok(false)` when it ran but a write failed or a delivery was wrong.
async fn run(args: Args) -> Result<bool, String> {
    if args.url.scheme() != "http" {
        return Err(format!("--url must be http://…, not {}", args.url));
    }
    let mut ws_base = args.url.clone();
    ws_base
        .set_scheme("ws")
        .map_err(|()| format!("--url {} has no WebSocket equivalent", args.url))?;
    let api = Arc::new(Api::new(args.url.clone(), args.agent_token));

    let customers = Arc::new(new_customers(&api, args.customers).await?);
    eprintln!("{} customers, a chat each", customers.len());
    let received = Arc::new(watch::channel(0usize).0);
    let (stop, stopped) = watch::channel(false);
    let sockets = Sockets {
        ws_base,
        received: Arc::clone(&received),
        stopped,
    };
    let readers = sockets
        .open_all(&api, &customers, args.agent_sockets)
        .await?;
    eprintln!(
        "{} sockets open ({} customers', {} agents'); writing {} messages at {}/s",
        readers.len(),
        customers.len(),
        args.agent_sockets,
        args.messages,
        args.rate
    );

    let started = Instant::now();
    let (sent, failed) = write(&api, &customers, args.messages, args.rate).await;
    let writing = started.elapsed();

    // Deliveries still due get until the drain time is up; then every socket is stopped.
    let expected = sent.len() * (args.agent_sockets + 1);
    let drain = Duration::from_secs(args.drain_seconds);
    let mut counter = received.subscribe();
    let drained = tokio::time::timeout(drain, counter.wait_for(|n| *n >= expected))
        .await
        .is_ok();
    let _ = stop.send(true);
    let mut logs: Vec<SocketLog> = Vec::with_capacity(readers.len());
    for reader in readers {
        let log = reader.await;
        logs.push(log.map_err(|err| format!("a socket's reader failed: {err}"))?);
    }

    let tally = report::tally(&sent, &logs, args.agent_sockets);
    println!(
        "{} sockets ({} customers', {} agents'); {} messages written (half live-chat, half \
         agent-reply) at {}/s over {:.1} s, {} acknowledged",
        logs.len(),
        customers.len(),
        args.agent_sockets,
        args.messages,
        args.rate,
        writing.as_secs_f64(),
        sent.len()
    );
    println!();
    report::print_table(&tally, &sent);
    println!();
    let other_frames: usize = logs.iter().map(|log| log.other_frames).sum();
    println!(
        "deliveries: {} expected, {} received once each; {} missing, {} duplicate, {} \
         unexpected; {} other frames",
        tally.expected,
        tally.matched,
        tally.missing(),
        tally.duplicates,
        tally.unexpected,
        other_frames
    );

    let ended: Vec<&str> = logs
        .iter()
        .filter_map(|log| log.ended_early.as_deref())
        .collect();
    let mut ok = tally.exact() && failed.is_empty() && ended.is_empty();
    if !drained {
        eprintln!(
            "not every delivery arrived within {} s of the last answer",
            args.drain_seconds
        );
        ok = false;
    }
    if let Some(first) = failed.first() {
        eprintln!("{} writes failed; the first: {first}", failed.len());
    }
    if let Some(first) = ended.first() {
        eprintln!(
            "{} sockets ended before the run stopped them; the first: {first}",
            ended.len()
        );
    }
    Ok(ok)
}

/// Creates `count` customers, each with a chat. Their emails are unique to this run, so
/// runs against one server do not share customers.
async fn new_customers(api: &Api, count: NonZeroUsize) -> Result<Vec<Customer>, String> {
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|err| format!("the clock is before 1970: {err}"))?
        .as_micros();
    let mut customers = Vec::with_capacity(count.get());
    for n in 0..count.get() {
        let email = format!("bench-{run_id:x}-{n}@example.com");
        let secret = format!("bench-secret-{run_id:x}-{n}");
        customers.push(api.new_customer(email, &secret).await?);
    }
    Ok(customers)
}

/// What every socket's reader shares.
struct Sockets {
    ws_base: Url,
    received: Arc<watch::Sender<usize>>,
    stopped: watch::Receiver<bool>,
}

impl Sockets {
    /// Opens one socket per customer and `agents` agents' sockets, one after another,
    /// each with a fresh ticket, and starts reading each. When this returns, every
    /// handshake has been answered, so every socket gets every event committed from now.
    async fn open_all(
        &self,
        api: &Api,
        customers: &[Customer],
        agents: usize,
    ) -> Result<Vec<JoinHandle<SocketLog>>, String> {
        let mut readers = Vec::with_capacity(customers.len() + agents);
        for (n, customer) in customers.iter().enumerate() {
            let ticket = api.customer_ticket(customer).await?;
            readers.push(self.open(&ticket, Listener::Customer(n)).await?);
        }
        for _ in 0..agents {
            let ticket = api.agent_ticket().await?;
            readers.push(self.open(&ticket, Listener::Agent).await?);
        }
        Ok(readers)
    }

    async fn open(
        &self,
        ticket: &str,
        listener: Listener,
    ) -> Result<JoinHandle<SocketLog>, String> {
        let stream = sockets::open(&self.ws_base, ticket).await?;
        let received = Arc::clone(&self.received);
        Ok(sockets::read(
            stream,
            listener,
            received,
            self.stopped.clone(),
        ))
    }
}

/// Writes `messages` messages at `rate` per second, alternately a customer's and the
/// agent's, going round the chats; each is sent on its tick, whether or not the ones
/// before it have been answered. Returns the acknowledged messages by id, and the errors.
async fn write(
    api: &Arc<Api>,
    customers: &Arc<Vec<Customer>>,
    messages: NonZeroUsize,
    rate: NonZeroU32,
) -> (HashMap<String, Sent>, Vec<String>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.get());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut writes = JoinSet::new();
    for k in 0..messages.get() {
        ticks.tick().await;
        let owner = (k / 2) % customers.len();
        let by = if k % 2 == 0 {
            Author::Customer
        } else {
            Author::Agent
        };
        let (api, customers) = (Arc::clone(api), Arc::clone(customers));
        writes.spawn(async move {
            let customer = &customers[owner];
            let text = format!("Benchmark message {k}");
            let written = match by {
                Author::Customer => api.customer_says(customer, &text).await,
                Author::Agent => api.agent_replies(&customer.chat, &text).await,
            };
            written.map(|written| (written, owner, by))
        });
    }
    let mut sent = HashMap::new();
    let mut failed = Vec::new();
    while let Some(joined) = writes.join_next().await {
        match joined {
            Ok(Ok((written, owner, by))) => {
                let message = Sent {
                    owner,
                    by,
                    sent: written.sent,
                    acknowledged: written.acknowledged,
                };
                sent.insert(written.message_id, message);
            }
            Ok(Err(err)) => failed.push(err),
            Err(err) => failed.push(format!("a write task failed: {err}")),
        }
    }
    (sent, failed)
}
