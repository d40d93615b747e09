//! The `supportzen` command line's commands and arguments, as clap reads them; `main.rs`
//! runs them.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use supportzen::cors::{self, OriginPattern};
use supportzen::store_url::StoreUrl;
use supportzen::webhooks::default_outbox;
use supportzen::{agent_tokens, files};
use supportzen_shared::auth::Secret;
use supportzen_shared::domain::{ContentType, Email, Scope};
use supportzen_shared::dynamo::items::InboxShards;
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::events::EventType;
use supportzen_shared::store::{AccountLimit, MessageLimit};

/// SupportZen's API on one machine: the Lambda handlers over an embedded store.
#[derive(Parser)]
#[command(name = "supportzen", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once per run: the size of `serve`'s arguments costs nothing worth boxing them.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve the whole API over HTTP with the Lambda functions' handlers: the customer
    /// and agent routes, the realtime socket (/ws) and webhook deliveries.
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on start).
        #[arg(long, default_value = "127.0.0.1:3000", env = "SUPPORTZEN_LISTEN")]
        listen: SocketAddr,
        /// A browser origin allowed to call the API (CORS), as production's
        /// CorsAllowedOrigins: scheme://host[:port], scheme://host:* for any port, or *.
        /// Repeat it, or give a comma-separated list in the environment.
        #[arg(
            long = "cors-origin",
            value_name = "ORIGIN",
            env = "SUPPORTZEN_CORS_ORIGINS",
            value_delimiter = ',',
            default_values_t = cors::DEVELOPMENT_ORIGINS.map(|o| o.parse::<OriginPattern>().expect("valid"))
        )]
        cors_origins: Vec<OriginPattern>,
        #[command(flatten)]
        agent_key: AgentKeyArg,
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        outbox: OutboxArg,
        /// The directory attachments' files are kept in (S3's stand-in); uploads and
        /// downloads go to /files on this server with signed, expiring URLs.
        #[arg(long = "files", value_name = "DIR", env = "SUPPORTZEN_FILES", default_value = files::DEFAULT_DIR)]
        files: PathBuf,
        /// Seconds between sweeps for due work (snoozed conversations waking, emails of
        /// unread replies), as production's due-work function does every minute.
        #[arg(long = "due-every", value_name = "SECONDS", env = "SUPPORTZEN_DUE_EVERY", default_value_t = supportzen::due::DEFAULT_EVERY.as_secs_f64(), value_parser = positive_seconds)]
        due_every: f64,
        /// Messages one customer may send a minute, first messages of new conversations
        /// included; past it a send is refused with 429 and Retry-After until the next
        /// minute (the stack's CustomerMessagesPerMinute).
        #[arg(long, env = "CUSTOMER_MESSAGES_PER_MINUTE", default_value = "30", value_parser = MessageLimit::parse)]
        messages_per_minute: MessageLimit,
        /// Accounts one source address may create an hour by trust on first request (an
        /// email's first request creates it, TRUST_FIRST_REQUEST); past it the create is
        /// refused with 429 and Retry-After until the next hour (the stack's
        /// NewAccountsPerAddressPerHour).
        #[arg(long, env = "NEW_ACCOUNTS_PER_ADDRESS_PER_HOUR", default_value = "20", value_parser = AccountLimit::parse)]
        new_accounts_per_hour: AccountLimit,
        #[command(flatten)]
        email: EmailArgs,
    },
    /// Attachments, as a client app sends them to the local server.
    Attachments {
        #[command(subcommand)]
        command: AttachmentsCommand,
    },
    /// Support agents' tokens for the local server.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Manage users' secrets.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Webhook endpoints (Standard Webhooks), and the local server's deliveries to them.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Print the bearer token a client sends: hex(HMAC-SHA256(secret, email)).
    Sign {
        #[command(flatten)]
        user: UserArgs,
    },
    /// Repair tools for a deployment: bring stored items up to this release's shape.
    Ops {
        #[command(subcommand)]
        command: OpsCommand,
    },
    /// Manage the DynamoDB table.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// Read conversations, as operators and support agents look them up.
    Conversations {
        #[command(subcommand)]
        command: ConversationsCommand,
    },
    /// Print a conversation's messages, oldest first, one JSON object per line (the
    /// read route's fields; times in Unix milliseconds).
    Messages {
        /// The chat or ticket, e.g. TKT-001 or chat-<uuid>.
        #[arg(long)]
        conversation: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Open `serve`'s realtime socket with a ticket (from POST /api/client/realtime/ticket
    /// or /api/agent/realtime/ticket) and print each event as one JSON line.
    Listen {
        /// The ticket: single use, valid for 60 seconds after it was issued.
        #[arg(long)]
        ticket: String,
        /// The local server's address.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
        /// Stop after this many events (by default, when the server closes the socket).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Run one function's handler on an API Gateway HTTP API event file and print the
    /// Lambda response, as `sam local invoke` does, without Docker.
    Invoke {
        /// The function to run.
        #[arg(value_parser = function_name())]
        function: Endpoint,
        /// An API Gateway HTTP API (payload 2.0) event, e.g. events/live-create.json.
        event: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Register an endpoint and print its id and signing secret (whsec_...), which is
    /// shown only this once. Each event of the chosen types is POSTed to the URL, signed
    /// as Standard Webhooks has it (webhook-id, webhook-timestamp, webhook-signature), and
    /// retried for 24 hours until it answers 2xx; a 410 Gone disables the endpoint.
    Add {
        /// Where deliveries go: an absolute http or https URL.
        #[arg(long)]
        url: String,
        /// The event types it receives, comma-separated or repeated.
        #[arg(long, required = true, value_delimiter = ',', value_parser = event_type_name())]
        events: Vec<EventType>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print the endpoints, oldest first, one JSON object per line: id, url, events,
    /// enabled (false once one answered 410), createdAt (Unix ms). Never their secrets.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete an endpoint. Deliveries still queued for it are dropped at their next attempt.
    Remove {
        /// The endpoint's id (wh_...).
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print the local server's queued deliveries, one JSON object per line: pending
    /// ones (with nextAttemptAt) and dead ones whose retries ran out (with diedAt), both
    /// with their attempts and last error; then their counts, on stderr.
    Deliveries {
        #[command(flatten)]
        outbox: OutboxArg,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Args)]
pub(crate) struct OutboxArg {
    /// The SQLite file `supportzen serve` queues webhook deliveries in, one per store
    /// (another store's server would not know their endpoints). By default it is named
    /// after the store: supportzen-outbox.db beside sqlite:supportzen.db, PATH-outbox
    /// beside another sqlite:PATH, supportzen-outbox-TABLE.db for dynamodb:TABLE, and
    /// in memory for sqlite::memory:.
    #[arg(long, env = "SUPPORTZEN_OUTBOX")]
    pub(crate) outbox: Option<String>,
}

impl OutboxArg {
    pub(crate) fn path(self, store: &StoreUrl) -> String {
        self.outbox.unwrap_or_else(|| default_outbox(store))
    }
}

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Provision or replace a user's secret. This ends trust-on-first-use for that user:
    /// from now on their requests must be signed with this secret. A secret it replaces
    /// stays valid for the grace period, so clients can be moved over without lockouts.
    Put {
        #[command(flatten)]
        user: UserArgs,
        /// Hours the replaced secret is still accepted; 0 revokes it at once (a leaked secret).
        #[arg(long, default_value_t = 24)]
        grace_hours: u32,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print everything stored about a customer as one JSON document (a data subject's
    /// access request): their profile, every conversation with its messages and the
    /// agents' notes, and the files those carry (names, types, sizes). Not their secret,
    /// which is a credential.
    Export {
        /// The customer's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete everything stored about a customer (a data subject's erasure request):
    /// their conversations with every message and note, their profile and secret, their
    /// idempotency receipts, their uploads and the files those stored, their connect
    /// tickets (on DynamoDB the uploads and tickets are found by one scan of the table).
    /// Prints the counts as JSON, then queues a customer.erased webhook for each endpoint
    /// subscribed to it (none when nothing was left to erase), and drops the webhook
    /// deliveries about them still in the local outbox (not those already on a queue).
    /// Running it again finishes an erasure that stopped half way. Have the host app stop
    /// sending for them first:
    /// with trust on first request, their next request would start them afresh.
    Erase {
        /// The customer's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArg,
        /// The directory `supportzen serve --files` keeps attachments in (with a SQLite
        /// store). With dynamodb:TABLE the files are in S3: the bucket is named by
        /// ATTACHMENTS_BUCKET, with AWS_REGION and the operator's keys in the environment.
        #[arg(long = "files", value_name = "DIR", env = "SUPPORTZEN_FILES", default_value = files::DEFAULT_DIR)]
        files: PathBuf,
        #[command(flatten)]
        outbox: OutboxArg,
        /// Production's webhook queue (the stack's WebhookQueue URL, as the events-stream
        /// function has it in WEBHOOK_QUEUE_URL): customer.erased is queued there, for
        /// webhook-deliver, instead of in the local outbox. Give it when erasing from a
        /// deployed table, or the event waits in a local outbox no server delivers.
        #[arg(long, value_name = "URL", env = "WEBHOOK_QUEUE_URL")]
        webhook_queue: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AgentsCommand {
    /// Print a signed agent token (an EdDSA JWT, as an identity provider issues) for
    /// `supportzen serve`'s agent routes: send it as `Authorization: Bearer <token>`.
    Token {
        /// The agent's id (the token's `sub`).
        #[arg(long)]
        id: String,
        /// The agent's display name, shown with their replies (the token's `name`).
        #[arg(long)]
        name: Option<String>,
        /// A scope to grant: agent.read (inbox, conversations) or agent.write (replies,
        /// status, assignment). Repeat it; both by default.
        #[arg(long = "scope", value_parser = scope_name(), default_values = ["agent.read", "agent.write"])]
        scopes: Vec<Scope>,
        /// Minutes until the token expires.
        #[arg(long, default_value_t = 60)]
        ttl_minutes: u32,
        #[command(flatten)]
        agent_key: AgentKeyArg,
    },
}

#[derive(Args)]
pub(crate) struct AgentKeyArg {
    /// The Ed25519 key (PKCS#8 PEM) that signs and verifies agents' tokens locally;
    /// created, readable by you only, if missing. Production verifies tokens with the
    /// identity provider's keys instead (template.yaml's AgentJwtIssuer).
    #[arg(long, default_value = agent_tokens::DEFAULT_KEY_PATH, env = "SUPPORTZEN_AGENT_KEY")]
    pub(crate) agent_key: PathBuf,
}

#[derive(Subcommand)]
pub(crate) enum ConversationsCommand {
    /// Print a user's chats and tickets, newest first, one JSON object per line (the
    /// list route's fields; times in Unix milliseconds).
    List {
        /// The user's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand)]
pub(crate) enum OpsCommand {
    /// Rewrite conversations stored by older releases (their list and inbox index keys,
    /// their preview) in place, so that the list and the inbox find them; also moves
    /// every conversation after the inbox's shard count changed. Safe to run while the
    /// API serves: each rewrite is conditional on the conversation being unchanged since
    /// it was read. Idempotent (a second run rewrites nothing) and resumable (--from).
    /// Prints progress on stderr and the counts as one JSON object on stdout.
    Backfill {
        /// The table: dynamodb:TABLE (set AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
        /// SQLite needs no backfill: it lists from columns every release has.
        #[arg(long, env = "SUPPORTZEN_STORE")]
        store: StoreUrl,
        /// Count what would be rewritten, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many rewrites a second (each is one UpdateItem, about 1 write
        /// unit for the item and 1 for each index entry it moves), so that the API keeps
        /// the table's capacity.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        writes_per_second: u32,
        /// Resume an interrupted run where it stopped: the token its progress lines print.
        #[arg(long)]
        from: Option<String>,
        /// The inbox's partitions per kind: the stack's InboxShards, required (a wrong
        /// count would move conversations to partitions the API does not read as many).
        /// After changing that parameter, run the backfill with the new count to file
        /// every conversation again (docs/data-model.md).
        #[arg(long, env = "INBOX_SHARDS", value_parser = InboxShards::parse)]
        inbox_shards: InboxShards,
    },
    /// Put webhook deliveries whose retries ran out back to be delivered, each under its
    /// original webhook-id, with a fresh retry schedule. Locally: the outbox's dead
    /// letters (`supportzen webhooks deliveries` lists them); the running server sends
    /// them within 30 seconds. In production: every message of the webhook dead-letter
    /// queue moved back to the webhook queue (the stack's WebhookDeadLetterQueueUrl and
    /// WebhookQueueUrl outputs). Prints how many were moved.
    RedriveWebhooks {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        outbox: OutboxArg,
        /// Production: the dead-letter queue's URL to move from (with --to-queue).
        #[arg(long, requires = "to_queue")]
        from_queue: Option<String>,
        /// Production: the webhook queue's URL to move to (with --from-queue).
        #[arg(long, requires = "from_queue")]
        to_queue: Option<String>,
    },
    /// Queue again the webhooks of table changes the events function gave up on. Each
    /// message of the events dead-letter queue (the stack's EventsDeadLetterQueueUrl
    /// output) is Lambda's record of a stream batch; its records are read back from the
    /// table's stream (which holds them for 24 hours) and their webhook deliveries queued
    /// as the events function queues them, each under its original webhook-id, to the
    /// endpoints subscribed now; nothing is posted to sockets. A message is deleted once
    /// all its deliveries are queued; one whose records the stream no longer holds is
    /// reported and kept (exit status 1). Prints the counts as one JSON object.
    ReplayEvents {
        /// The table: dynamodb:TABLE (its conversations' owners and the webhook
        /// subscriptions are read from it).
        #[arg(long, env = "SUPPORTZEN_STORE")]
        store: StoreUrl,
        /// The events dead-letter queue's URL (EventsDeadLetterQueueUrl).
        #[arg(long)]
        from_queue: String,
        /// The webhook queue's URL (WebhookQueueUrl).
        #[arg(long)]
        to_queue: String,
        /// Read the batches and count the deliveries; queue nothing, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TableCommand {
    /// Create the table with the key schema, indexes and TTL of template.yaml, and wait
    /// until it is active. For DynamoDB Local or a table you manage outside SAM. Waits
    /// up to a minute for DynamoDB to accept connections (DynamoDB Local starting up); a
    /// table that exists with these keys and indexes is left as it is.
    Create {
        /// The table: dynamodb:TABLE (set AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
        #[arg(long, env = "SUPPORTZEN_STORE")]
        store: StoreUrl,
    },
}

#[derive(Args)]
pub(crate) struct StoreArg {
    /// Where data lives: sqlite:PATH, sqlite::memory: for a throwaway database, or
    /// dynamodb:TABLE (set AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
    #[arg(long, default_value = "sqlite:supportzen.db", env = "SUPPORTZEN_STORE")]
    pub(crate) store: StoreUrl,
}

#[derive(Args)]
pub(crate) struct UserArgs {
    /// The user's email address, exactly as the client sends it.
    #[arg(long)]
    pub(crate) email: String,
    /// The user's secret (`auth_token` or `uuid` in the API documents).
    #[arg(long, env = "SUPPORTZEN_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
}

impl UserArgs {
    pub(crate) fn parse(&self) -> Result<(Email, Secret), String> {
        let email = Email::parse(&self.email).map_err(|e| format!("--email {e}"))?;
        let secret = Secret::parse(&self.secret).map_err(|e| format!("--secret {e}"))?;
        Ok((email, secret))
    }
}

/// Parses an event type's name; `--help` lists the names.
pub(crate) fn event_type_name() -> impl clap::builder::TypedValueParser<Value = EventType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(EventType::ALL.map(EventType::as_str))
        .try_map(|name| EventType::parse(&name))
}

/// Parses a scope's name; `--help` lists the names.
pub(crate) fn scope_name() -> impl clap::builder::TypedValueParser<Value = Scope> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Scope::ALL.map(Scope::as_str))
        .try_map(|name| Scope::parse(&name))
}

/// Parses a function's name into its endpoint; `--help` lists the names.
pub(crate) fn function_name() -> impl clap::builder::TypedValueParser<Value = Endpoint> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| Endpoint::parse(&name).ok_or("not a function"))
}

#[derive(Subcommand)]
pub(crate) enum AttachmentsCommand {
    /// Upload FILE as the user, as a client app does: declare it (POST
    /// /api/client/attachments), send it with the signed form the server answers, and print
    /// the attachment id to name in a message's "attachments" (within a day, or the
    /// upload is gone).
    Upload {
        /// The file: a picture, PDF, text, CSV or zip, at most 10 MiB by default.
        file: PathBuf,
        #[command(flatten)]
        user: UserArgs,
        /// Its media type; by default the one its extension names (.png, .jpg, .gif,
        /// .webp, .pdf, .txt, .csv, .zip).
        #[arg(long = "type", value_name = "MEDIA_TYPE", value_parser = media_type())]
        content_type: Option<ContentType>,
        /// The local server's address.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
    },
}

/// Parses a media type of the allowlist; `--help` lists them.
pub(crate) fn media_type() -> impl clap::builder::TypedValueParser<Value = ContentType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(ContentType::ALL.map(ContentType::as_str))
        .try_map(|name| ContentType::parse(&name))
}

/// A positive number of seconds (fractions allowed), at most a day.
fn positive_seconds(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err("must be a number of seconds above 0 and at most 86400".into()),
    }
}

/// serve's emails to customers whose agent replies stay unread.
#[derive(Args)]
pub(crate) struct EmailArgs {
    /// Send them over SMTP to this server (smtp://host:port, no TLS, no login: a local
    /// sink such as `python3 -m aiosmtpd -n -l 127.0.0.1:8025`). Without it, no emails.
    #[arg(long, value_name = "URL", env = "SUPPORTZEN_SMTP")]
    pub(crate) smtp: Option<String>,
    /// Seconds a reply may stay unread before the email (one per conversation per
    /// quiet period), as UNREAD_EMAIL_AFTER_SECONDS in production.
    #[arg(long = "unread-email-after", value_name = "SECONDS", default_value_t = 300.0, value_parser = positive_seconds)]
    pub(crate) unread_email_after: f64,
    /// The emails' sender.
    #[arg(
        long = "email-from",
        value_name = "MAILBOX",
        default_value = "SupportZen <support@localhost>"
    )]
    pub(crate) from: String,
    /// The link to the conversation in the customer's app; {id} is its id.
    #[arg(
        long = "conversation-url",
        value_name = "TEMPLATE",
        default_value = "http://127.0.0.1:3000/?conversation={id}"
    )]
    pub(crate) conversation_url: String,
    /// This server's URL as customers reach it, for the unsubscribe link (default: the
    /// --listen address).
    #[arg(long = "api-url", value_name = "URL")]
    pub(crate) api_url: Option<String>,
    /// Signs the unsubscribe links (at least 32 characters); without it, a random one
    /// for this run, so links from an earlier run stop working.
    #[arg(
        long = "unsubscribe-secret",
        env = "SUPPORTZEN_UNSUBSCRIBE_SECRET",
        hide_env_values = true
    )]
    pub(crate) unsubscribe_secret: Option<String>,
    /// Where emails about customers' unread messages go for conversations with no
    /// assignee's address (one recorded from the email claim of an agent who assigned it
    /// to themselves): the team's address, as AgentNoticeEmail in production. Without
    /// it, those conversations get no agents' email.
    #[arg(
        long = "agent-notice-email",
        value_name = "MAILBOX",
        env = "SUPPORTZEN_AGENT_NOTICE_EMAIL"
    )]
    pub(crate) agent_notice_email: Option<String>,
    /// The link to the conversation in the agents' console in those emails; {id} is its
    /// id. Without it, the emails name the conversation without a link.
    #[arg(long = "agent-conversation-url", value_name = "TEMPLATE")]
    pub(crate) agent_conversation_url: Option<String>,
}
