//! The `supportzen` command line. See `supportzen --help`.

use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use supportzen::agent_tokens::{self, AgentKey};
use supportzen::cors::{self, OriginPattern};
use supportzen::dynamodb;
use supportzen::output::{
    DeliveryView, WebhookView, print_json_lines, secret_change, webhook_added,
};
use supportzen::realtime::Hub;
use supportzen::sinks::LocalSinks;
use supportzen::store_url::StoreUrl;
use supportzen::store_url::store_error;
use supportzen::webhooks::{WebhookOutbox, default_outbox};
use supportzen::{attachments, files, invoke, listen, server};
use supportzen_shared::Config;
use supportzen_shared::auth::{Secret, sign};
use supportzen_shared::domain::{AgentId, ContentType, ConversationKey, DisplayName, Email, Scope};
use supportzen_shared::dynamo::schema::TableCreated;
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::events::webhooks::RETRY_DELAYS;
use supportzen_shared::events::{EventType, WebhookEndpoint, WebhookUrl};
use supportzen_shared::flows::read::{ConversationSummary, MessageView};
use supportzen_shared::store::Publishing;
use supportzen_shared::store::WebhookRegistry;
use supportzen_shared::store::{AgentReader, ConversationAdmin, UserProvisioner};
use supportzen_shared::webhook_client::WebhookClient;
use supportzen_sqlite::{Outbox, SqliteStore};
use tracing_subscriber::EnvFilter;

/// SupportZen's API on one machine: the Lambda handlers over an embedded store.
#[derive(Parser)]
#[command(name = "supportzen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        files: std::path::PathBuf,
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
enum WebhooksCommand {
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
struct OutboxArg {
    /// The SQLite file `supportzen serve` queues webhook deliveries in, one per store
    /// (another store's server would not know their endpoints). By default it is named
    /// after the store: supportzen-outbox.db beside sqlite:supportzen.db, PATH-outbox
    /// beside another sqlite:PATH, supportzen-outbox-TABLE.db for dynamodb:TABLE, and
    /// in memory for sqlite::memory:.
    #[arg(long, env = "SUPPORTZEN_OUTBOX")]
    outbox: Option<String>,
}

impl OutboxArg {
    fn path(self, store: &StoreUrl) -> String {
        self.outbox.unwrap_or_else(|| default_outbox(store))
    }
}

#[derive(Subcommand)]
enum UsersCommand {
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
}

#[derive(Subcommand)]
enum AgentsCommand {
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
struct AgentKeyArg {
    /// The Ed25519 key (PKCS#8 PEM) that signs and verifies agents' tokens locally;
    /// created, readable by you only, if missing. Production verifies tokens with the
    /// identity provider's keys instead (template.yaml's AgentJwtIssuer).
    #[arg(long, default_value = agent_tokens::DEFAULT_KEY_PATH, env = "SUPPORTZEN_AGENT_KEY")]
    agent_key: PathBuf,
}

#[derive(Subcommand)]
enum ConversationsCommand {
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
enum TableCommand {
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
struct StoreArg {
    /// Where data lives: sqlite:PATH, sqlite::memory: for a throwaway database, or
    /// dynamodb:TABLE (set AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
    #[arg(long, default_value = "sqlite:supportzen.db", env = "SUPPORTZEN_STORE")]
    store: StoreUrl,
}

#[derive(Subcommand)]
enum AttachmentsCommand {
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
fn media_type() -> impl clap::builder::TypedValueParser<Value = ContentType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(ContentType::ALL.map(ContentType::as_str))
        .try_map(|name| ContentType::parse(&name))
}

#[derive(Args)]
struct UserArgs {
    /// The user's email address, exactly as the client sends it.
    #[arg(long)]
    email: String,
    /// The user's secret (`auth_token` or `uuid` in the API documents).
    #[arg(long, env = "SUPPORTZEN_SECRET", hide_env_values = true)]
    secret: String,
}

impl UserArgs {
    fn parse(&self) -> Result<(Email, Secret), String> {
        let email = Email::parse(&self.email).map_err(|e| format!("--email {e}"))?;
        let secret = Secret::parse(&self.secret).map_err(|e| format!("--secret {e}"))?;
        Ok((email, secret))
    }
}

/// Parses an event type's name; `--help` lists the names.
fn event_type_name() -> impl clap::builder::TypedValueParser<Value = EventType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(EventType::ALL.map(EventType::as_str))
        .try_map(|name| EventType::parse(&name))
}

/// Parses a scope's name; `--help` lists the names.
fn scope_name() -> impl clap::builder::TypedValueParser<Value = Scope> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Scope::ALL.map(Scope::as_str))
        .try_map(|name| Scope::parse(&name))
}

/// Parses a function's name into its endpoint; `--help` lists the names.
fn function_name() -> impl clap::builder::TypedValueParser<Value = Endpoint> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| Endpoint::parse(&name).ok_or("not a function"))
}

/// The log filter without `RUST_LOG`: our `info` lines, and the AWS SDK's errors only. Its
/// configuration chain warns at every provider it tries (instance metadata, profiles) with
/// whole debug structs; what matters reaches the user as the command's one-line error.
const DEFAULT_LOG_FILTER: &str = "info,aws_config=error,aws_smithy_runtime=error";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .fmt_fields(supportzen::log_fields::fields())
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the store `url` names as `$store` and evaluates `$body` with it; the body is
/// compiled once per kind of store. On DynamoDB, `$check` runs first with the client and
/// table name.
macro_rules! with_store {
    ($url:expr, $store:ident => $body:expr) => {
        with_store!($url, |_client, _table| async { Ok::<(), String>(()) }, $store => $body)
    };
    ($url:expr, $check:expr, $store:ident => $body:expr) => {
        match $url {
            StoreUrl::Sqlite(path) => {
                let $store = open_sqlite(path)?;
                $body
            }
            StoreUrl::Dynamo(table) => {
                let client = client::client_from_env().await?;
                $check(&client, table.as_str()).await?;
                let $store = DynamoStore::new(client, table.as_str());
                $body
            }
        }
    };
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Attachments {
            command:
                AttachmentsCommand::Upload {
                    file,
                    user,
                    content_type,
                    server,
                },
        } => {
            let (email, secret) = user.parse()?;
            let token = sign(&secret, email.as_sent());
            let id = attachments::upload(&server, &email, &token, &file, content_type).await?;
            println!("{id}");
            Ok(())
        }
        Command::Sign { user } => {
            let (email, secret) = user.parse()?;
            println!("{}", sign(&secret, email.as_sent()));
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Put {
                    user,
                    grace_hours,
                    store,
                },
        } => {
            let (email, secret) = user.parse()?;
            let grace = Duration::from_secs(u64::from(grace_hours) * 3600);
            let change = with_store!(&store.store, backend => backend.put_secret(email.user_id(), &secret, grace).await)
                .map_err(|e| store_error("cannot set the secret", &e, &store.store))?;
            println!(
                "{}",
                secret_change(email.user_id().as_str(), change, grace_hours)
            );
            Ok(())
        }
        Command::Webhooks { command } => webhooks(command).await,
        Command::Table {
            command: TableCommand::Create { store },
        } => match &store {
            StoreUrl::Dynamo(table) => {
                let client = client::client_from_env().await?;
                dynamodb::wait_until_reachable(&client, table).await?;
                let created = schema::create_table(&client, table)
                    .await
                    .map_err(|cause| dynamodb::explain(&format!("table {table}"), &cause, table))?;
                match created {
                    TableCreated::Created => println!("table {table} is active"),
                    TableCreated::AlreadyThere => println!(
                        "table {table} is active (it was already there, with these keys and indexes)"
                    ),
                }
                Ok(())
            }
            StoreUrl::Sqlite(_) => Err(
                "table create is for dynamodb:TABLE; SQLite creates its schema when opened".into(),
            ),
        },
        Command::Serve {
            listen,
            cors_origins,
            agent_key,
            store,
            outbox,
            files,
        } => {
            let config = Config::from_env()?;
            let cors = cors::layer(cors_origins);
            // The key is read (or created) only once the store is known to be usable.
            with_store!(&store.store, dynamodb::check_table, backend => {
                let agents = AgentKey::load_or_create(&agent_key.agent_key)?;
                let hub = Arc::new(Hub::new());
                let path = outbox.path(&store.store);
                let outbox = Outbox::open(&path).map_err(|e| format!("cannot open the outbox {path}: {e}"))?;
                let webhooks = WebhookOutbox::new(backend.clone(), outbox);
                let worker = webhooks.start_worker(WebhookClient::new()?, &RETRY_DELAYS);
                let sinks = LocalSinks { realtime: Arc::clone(&hub), webhooks: Some(webhooks) };
                let backend = Publishing::new(backend, sinks);
                let served = server::listen_and_serve(backend, &files, config, agents, cors, hub, listen, &store.store).await;
                worker.stop().await;
                served
            })
        }
        Command::Agents {
            command:
                AgentsCommand::Token {
                    id,
                    name,
                    scopes,
                    ttl_minutes,
                    agent_key,
                },
        } => {
            let id = AgentId::parse(&id).map_err(|e| format!("--id {e}"))?;
            let name = name
                .map(|n| DisplayName::parse(&n).map_err(|e| format!("--name {e}")))
                .transpose()?;
            let key = AgentKey::load_or_create(&agent_key.agent_key)?;
            let ttl = Duration::from_secs(u64::from(ttl_minutes) * 60);
            println!("{}", key.mint(&id, name.as_ref(), &scopes, ttl)?);
            Ok(())
        }
        Command::Conversations {
            command: ConversationsCommand::List { email, store },
        } => {
            let email = Email::parse(&email).map_err(|e| format!("--email {e}"))?;
            let found = with_store!(&store.store, backend => backend.conversations_of(email.user_id()).await)
                .map_err(|e| store_error("cannot list the conversations", &e, &store.store))?;
            print_json_lines(found.into_iter().map(ConversationSummary::from))
        }
        Command::Messages {
            conversation,
            store,
        } => {
            let id = ConversationKey::parse(&conversation)
                .ok()
                .and_then(|key| key.resolve_any())
                .ok_or_else(|| {
                    format!("--conversation {conversation:?} is not a chat or ticket id")
                })?;
            let (found, messages) = with_store!(&store.store, backend => {
                let found = backend.find_conversation(&id).await;
                (found, backend.messages(&id).await)
            });
            let what = "cannot read the conversation";
            if found
                .map_err(|e| store_error(what, &e, &store.store))?
                .is_none()
            {
                return Err(format!("there is no conversation {conversation}"));
            }
            let messages = messages.map_err(|e| store_error(what, &e, &store.store))?;
            print_json_lines(messages.into_iter().map(MessageView::from))
        }
        Command::Listen {
            ticket,
            server,
            count,
        } => listen::listen(&server, &ticket, count).await,
        Command::Invoke {
            function,
            event,
            store,
        } => {
            let config = Config::from_env()?;
            let event = std::fs::read_to_string(&event)
                .map_err(|e| format!("cannot read {}: {e}", event.display()))?;
            let response = with_store!(&store.store, backend => invoke::invoke(&backend, &config, function, &event).await?);
            println!(
                "{}",
                serde_json::to_string_pretty(&response).expect("JSON values serialize")
            );
            Ok(())
        }
    }
}

/// `supportzen webhooks ...`.
async fn webhooks(command: WebhooksCommand) -> Result<(), String> {
    match command {
        WebhooksCommand::Add { url, events, store } => {
            let url = WebhookUrl::parse(&url).map_err(|e| format!("--url {e}"))?;
            let mut kinds = Vec::new();
            for kind in events {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            let endpoint = WebhookEndpoint::new(url, kinds);
            with_store!(&store.store, backend => backend.add_webhook(&endpoint).await)
                .map_err(|e| store_error("cannot add the webhook", &e, &store.store))?;
            println!("{}", webhook_added(&endpoint));
            Ok(())
        }
        WebhooksCommand::List { store } => {
            let endpoints = with_store!(&store.store, backend => backend.webhooks().await)
                .map_err(|e| store_error("cannot list the webhooks", &e, &store.store))?;
            print_json_lines(endpoints.iter().map(WebhookView::from))
        }
        WebhooksCommand::Remove { id, store } => {
            let removed =
                with_store!(&store.store, backend => backend.remove_webhook(&id).await)
                    .map_err(|e| store_error("cannot remove the webhook", &e, &store.store))?;
            if !removed {
                return Err(format!("there is no webhook {id}"));
            }
            println!("webhook {id} removed");
            Ok(())
        }
        WebhooksCommand::Deliveries { outbox, store } => {
            let path = outbox.path(&store.store);
            // Reading must not leave an empty outbox behind where there was none.
            if !std::path::Path::new(&path).exists() {
                return Err(format!(
                    "there is no outbox at {path} (supportzen serve creates it; see --outbox)"
                ));
            }
            let outbox =
                Outbox::open(&path).map_err(|e| format!("cannot open the outbox {path}: {e}"))?;
            let what = |e| format!("cannot read the outbox {path}: {e}");
            let pending = outbox.pending().await.map_err(what)?;
            let dead = outbox.dead().await.map_err(what)?;
            print_json_lines(
                pending
                    .iter()
                    .map(DeliveryView::from)
                    .chain(dead.iter().map(DeliveryView::from)),
            )?;
            eprintln!("{} pending, {} dead", pending.len(), dead.len());
            Ok(())
        }
    }
}

fn open_sqlite(path: &str) -> Result<SqliteStore, String> {
    SqliteStore::open(path).map_err(|e| format!("cannot open sqlite:{path}: {e}"))
}
