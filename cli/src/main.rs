//! The `supportzen` command line. See `supportzen --help`.

use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use supportzen::agent_tokens::{self, AgentKey};
use supportzen::cors::{self, OriginPattern};
use supportzen::dynamodb;
use supportzen::output::{print_json_lines, secret_change};
use supportzen::store_url::StoreUrl;
use supportzen::store_url::store_error;
use supportzen::{invoke, server};
use supportzen_shared::Config;
use supportzen_shared::auth::{Secret, sign};
use supportzen_shared::domain::{AgentId, ConversationKey, DisplayName, Email, Scope};
use supportzen_shared::dynamo::schema::TableCreated;
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::flows::read::{ConversationSummary, MessageView};
use supportzen_shared::store::{AgentReader, ConversationAdmin, UserProvisioner};
use supportzen_sqlite::SqliteStore;
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
    /// Serve the client API routes over HTTP with the Lambda functions' handlers.
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
    /// up to 5 minutes for DynamoDB to accept connections (DynamoDB Local installing
    /// and starting up); a table that exists with these keys and indexes is left as it is.
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
        } => {
            let config = Config::from_env()?;
            let cors = cors::layer(cors_origins);
            // The key is read (or created) only once the store is known to be usable.
            with_store!(&store.store, dynamodb::check_table, backend => {
                let agents = AgentKey::load_or_create(&agent_key.agent_key)?;
                server::listen_and_serve(backend, config, agents, cors, listen, &store.store).await
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

fn open_sqlite(path: &str) -> Result<SqliteStore, String> {
    SqliteStore::open(path).map_err(|e| format!("cannot open sqlite:{path}: {e}"))
}
