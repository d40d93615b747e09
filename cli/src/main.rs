//! The `supportzen` command line. See `supportzen --help`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use supportzen::store_url::StoreUrl;
use supportzen::{invoke, server};
use supportzen_shared::Config;
use supportzen_shared::auth::{Secret, sign};
use supportzen_shared::domain::Email;
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::http::Backend;
use supportzen_shared::store::UserProvisioner;
use supportzen_sqlite::SqliteStore;
use tracing_subscriber::EnvFilter;

/// SupportZen's client API on one machine: the Lambda handlers over an embedded store.
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
        #[command(flatten)]
        store: StoreArg,
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
enum TableCommand {
    /// Create the table with the key schema, indexes and TTL of template.yaml, and wait
    /// until it is active. For DynamoDB Local or a table you manage outside SAM.
    Create {
        #[command(flatten)]
        store: StoreArg,
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

/// Parses a function's name into its endpoint; `--help` lists the names.
fn function_name() -> impl clap::builder::TypedValueParser<Value = Endpoint> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| Endpoint::parse(&name).ok_or("not a function"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
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
/// compiled once per kind of store.
macro_rules! with_store {
    ($url:expr, $store:ident => $body:expr) => {
        match $url {
            StoreUrl::Sqlite(path) => {
                let $store = open_sqlite(path)?;
                $body
            }
            StoreUrl::Dynamo(table) => {
                let $store = DynamoStore::new(client::client_from_env().await?, table.as_str());
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
            with_store!(&store.store, backend => put_user(&backend, &email, &secret, grace).await)
        }
        Command::Table {
            command: TableCommand::Create { store },
        } => match &store.store {
            StoreUrl::Dynamo(table) => {
                schema::create_table(&client::client_from_env().await?, table).await?;
                println!("table {table} is active");
                Ok(())
            }
            StoreUrl::Sqlite(_) => Err(
                "table create is for dynamodb:TABLE; SQLite creates its schema when opened".into(),
            ),
        },
        Command::Serve { listen, store } => {
            let config = Config::from_env()?;
            with_store!(&store.store, backend => serve(backend, config, listen, &store.store).await)
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

async fn put_user<S: UserProvisioner>(
    store: &S,
    email: &Email,
    secret: &Secret,
    grace: Duration,
) -> Result<(), String> {
    store
        .put_secret(email.user_id(), secret, grace)
        .await
        .map_err(|e| e.to_string())?;
    let hours = grace.as_secs() / 3600;
    println!(
        "user {} now authenticates with the provisioned secret (a replaced secret stays valid for {hours} h)",
        email.user_id()
    );
    Ok(())
}

async fn serve<S: Backend>(
    store: S,
    config: Config,
    listen: SocketAddr,
    url: &StoreUrl,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(store = %url, trust_first_request = config.trust_first_request, "serving the SupportZen client API");
    // The one line on stdout: scripts and tests read the address from it.
    println!("listening on http://{address}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    server::serve(listener, Arc::new(store), config, shutdown)
        .await
        .map_err(|e| e.to_string())
}
