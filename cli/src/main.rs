//! The `supportzen` command line. See `supportzen --help`.

mod args;

use args::{
    AgentsCommand, AttachmentsCommand, Cli, Command, ConversationsCommand, OpsCommand,
    TableCommand, UsersCommand, WebhooksCommand,
};
use clap::Parser;
use events_stream::sdk::SqsQueue;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use supportzen::agent_tokens::AgentKey;
use supportzen::cors;
use supportzen::due::Sweeper;
use supportzen::dynamodb;
use supportzen::mail::SmtpMailer;
use supportzen::output::{
    DeliveryView, WebhookView, print_json_lines, secret_change, webhook_added,
};
use supportzen::realtime::Hub;
use supportzen::relay::LocalEvents;
use supportzen::sinks::LocalSinks;
use supportzen::store_url::StoreUrl;
use supportzen::store_url::store_error;
use supportzen::webhooks::WebhookOutbox;
use supportzen::{attachments, data_rights, invoke, listen, ops, replay, server};
use supportzen_shared::Config;
use supportzen_shared::auth::sign;
use supportzen_shared::domain::{AgentId, ConversationKey, DisplayName, Email, now_millis};
use supportzen_shared::dynamo::backfill::ResumeKey;
use supportzen_shared::dynamo::items::InboxShards;
use supportzen_shared::dynamo::schema::TableCreated;
use supportzen_shared::dynamo::{DynamoStore, client, schema};
use supportzen_shared::events::webhooks::RETRY_DELAYS;
use supportzen_shared::events::{WebhookEndpoint, WebhookUrl};
use supportzen_shared::flows::due::Notices;
use supportzen_shared::flows::read::{ConversationSummary, MessageView};
use supportzen_shared::notify::NoticeSettings;
use supportzen_shared::store::Publishing;
use supportzen_shared::store::WebhookRegistry;
use supportzen_shared::store::{AgentReader, ConversationAdmin, CustomerEraser, UserProvisioner};
use supportzen_shared::webhook_client::WebhookClient;
use supportzen_sqlite::{Outbox, SqliteStore};
use tracing_subscriber::EnvFilter;

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
                let dynamo = client::client_from_env().await?;
                $check(&dynamo.client, table.as_str()).await?;
                // The inbox's partitions, as the stack's functions have them.
                let shards = InboxShards::from_env(|name| std::env::var(name).ok())?;
                let $store = DynamoStore::new(dynamo, table.as_str()).with_inbox_shards(shards);
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
        Command::Users {
            command: UsersCommand::Export { email, store },
        } => {
            let email = Email::parse(&email).map_err(|e| format!("--email {e}"))?;
            let exported = with_store!(&store.store, backend => data_rights::export(&backend, email.user_id()).await)
                .map_err(|e| store_error("cannot read the customer's data", &e, &store.store))?;
            println!("{exported}");
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Erase {
                    email,
                    store,
                    files,
                    outbox,
                    webhook_queue,
                },
        } => {
            let email = Email::parse(&email).map_err(|e| format!("--email {e}"))?;
            let files = data_rights::Files::open(&store.store, &files)?;
            let target = match webhook_queue {
                Some(url) if url.is_empty() => return Err("--webhook-queue must not be empty".into()),
                Some(url) => data_rights::WebhookTarget::Queue {
                    sqs: ops::sqs_client_from_env().await?,
                    url,
                },
                None => data_rights::WebhookTarget::Outbox(outbox.path(&store.store)),
            };
            with_store!(&store.store, backend => {
                let erased = backend
                    .erase_customer(email.user_id())
                    .await
                    .map_err(|e| store_error("cannot erase the customer", &e, &store.store))?;
                // A file that could not be deleted is reported after the webhook is queued:
                // a second run finds no items, so it would never send it.
                let (deleted, files_left) = match files.delete(&erased.files).await {
                    Ok(deleted) => (deleted, None),
                    Err(left) => (0, Some(left)),
                };
                let mut report = data_rights::erased_json(email.user_id(), &erased, deleted);
                report["webhooks"] = data_rights::notify_erased(
                    &backend,
                    &target,
                    email.user_id(),
                    &erased,
                    deleted,
                )
                .await?;
                let dropped = data_rights::drop_queued(&target, email.user_id()).await;
                if let Ok(Some(dropped)) = &dropped {
                    report["webhooks"]["dropped"] = (*dropped).into();
                }
                println!("{report}");
                dropped?;
                files_left.map_or(Ok::<(), String>(()), Err)
            })?;
            Ok(())
        }
        Command::Webhooks { command } => webhooks(command).await,
        Command::Ops {
            command:
                OpsCommand::Backfill {
                    store,
                    dry_run,
                    writes_per_second,
                    from,
                    inbox_shards,
                },
        } => match &store {
            StoreUrl::Dynamo(table) => {
                let from = from
                    .as_deref()
                    .map(ResumeKey::parse)
                    .transpose()
                    .map_err(|e| format!("--from {e}"))?;
                let dynamo = client::client_from_env().await?;
                dynamodb::wait_until_reachable(&dynamo.client, table).await?;
                let store = DynamoStore::new(dynamo, table.as_str()).with_inbox_shards(inbox_shards);
                let done = ops::backfill(store, dry_run, writes_per_second, from).await?;
                println!("{done}");
                Ok(())
            }
            StoreUrl::Sqlite(_) => Err(
                "ops backfill is for dynamodb:TABLE; SQLite lists from columns every release has, so it needs none".into(),
            ),
        },
        Command::Ops {
            command:
                OpsCommand::RedriveWebhooks {
                    store,
                    outbox,
                    from_queue,
                    to_queue,
                },
        } => {
            let moved = match (from_queue, to_queue) {
                (Some(from), Some(to)) => {
                    let sqs = ops::sqs_client_from_env().await?;
                    ops::redrive_queue(&sqs, &from, &to).await?
                }
                _ => {
                    let path = outbox.path(&store.store);
                    if !std::path::Path::new(&path).exists() {
                        return Err(format!(
                            "there is no outbox at {path} (supportzen serve creates it; see --outbox)"
                        ));
                    }
                    let outbox = Outbox::open(&path)
                        .map_err(|e| format!("cannot open the outbox {path}: {e}"))?;
                    let moved = outbox
                        .redrive(now_millis())
                        .await
                        .map_err(|e| format!("cannot redrive the outbox {path}: {e}"))?;
                    moved as u64
                }
            };
            println!("{moved} deliveries redriven");
            Ok(())
        }
        Command::Ops {
            command:
                OpsCommand::ReplayEvents {
                    store,
                    from_queue,
                    to_queue,
                    dry_run,
                },
        } => {
            let StoreUrl::Dynamo(table) = &store else {
                return Err("ops replay-events is for dynamodb:TABLE: the local server publishes events at commit and has no stream to replay".into());
            };
            if from_queue == to_queue {
                return Err("--from-queue and --to-queue are the same queue".into());
            }
            let config = ops::operator_config().await?;
            let sqs = aws_sdk_sqs::Client::new(&config);
            // DynamoDB Local serves the stream on the table's endpoint.
            let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(&config);
            if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").is_none()
                && let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            {
                streams = streams.endpoint_url(endpoint);
            }
            let streams = aws_sdk_dynamodbstreams::Client::from_conf(streams.build());
            let store = DynamoStore::new(client::client_from_env().await?, table.as_str());
            let replayed = if dry_run {
                replay::replay_events(&sqs, &streams, &store, &replay::NoQueue, &from_queue, true).await?
            } else {
                let queue = SqsQueue::with_client(sqs.clone(), to_queue);
                replay::replay_events(&sqs, &streams, &store, &queue, &from_queue, false).await?
            };
            println!("{}", replayed.to_json(dry_run));
            if replayed.kept.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} messages kept in {from_queue} (their records are not in the stream any more, or not all of them; see above)",
                    replayed.kept.len()
                ))
            }
        }
        Command::Table {
            command: TableCommand::Create { store },
        } => match &store {
            StoreUrl::Dynamo(table) => {
                let client = client::client_from_env().await?.client;
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
            due_every,
            messages_per_minute,
            new_accounts_per_hour,
            email,
        } => {
            let mut config = Config::from_env()?;
            let notices = match &email.smtp {
                Some(smtp) => {
                    let secret = match &email.unsubscribe_secret {
                        Some(secret) => secret.clone(),
                        None => {
                            let mut bytes = [0u8; 32];
                            getrandom::fill(&mut bytes)
                                .map_err(|e| format!("no randomness: {e}"))?;
                            bytes.iter().map(|b| format!("{b:02x}")).collect()
                        }
                    };
                    let api_url = email
                        .api_url
                        .clone()
                        .unwrap_or_else(|| format!("http://{listen}"));
                    let settings = NoticeSettings::new(
                        &email.from,
                        &email.conversation_url,
                        &api_url,
                        &secret,
                    )?
                    .with_agents(
                        email.agent_notice_email.as_deref(),
                        email.agent_conversation_url.as_deref(),
                    )?;
                    config.unsubscribe_key = Some(settings.unsubscribe.clone());
                    config.unread_email_after =
                        Some(Duration::from_secs_f64(email.unread_email_after));
                    Some(Notices {
                        mailer: SmtpMailer::new(smtp)?,
                        settings,
                    })
                }
                None => {
                    config.unread_email_after = None;
                    None
                }
            };
            let cors = cors::layer(cors_origins);
            // The key is read (or created) only once the store is known to be usable.
            with_store!(&store.store, dynamodb::check_table, backend => {
                let backend = backend
                    .with_message_limit(messages_per_minute)
                    .with_account_limit(new_accounts_per_hour);
                let agents = AgentKey::load_or_create(&agent_key.agent_key)?;
                let hub = Arc::new(Hub::new());
                let path = outbox.path(&store.store);
                let outbox = Outbox::open(&path).map_err(|e| format!("cannot open the outbox {path}: {e}"))?;
                let webhooks = WebhookOutbox::new(backend.clone(), outbox);
                let worker = webhooks.start_worker(WebhookClient::new()?, &RETRY_DELAYS);
                let sinks = LocalSinks { realtime: Arc::clone(&hub), webhooks: Some(webhooks) };
                // On SQLite each write journals its events and a relay hands them on.
                let (backend, relay) = backend.relay_to(sinks.clone());
                let sweeper = Sweeper::start(
                    Arc::new(Publishing::new(backend.clone(), sinks.clone())),
                    notices,
                    Duration::from_secs_f64(due_every),
                );
                let backend = Publishing::new(backend, sinks);
                let served = server::listen_and_serve(backend, &files, config, agents, cors, hub, listen, &store.store).await;
                sweeper.stop().await;
                if let Some(relay) = relay {
                    relay.stop().await;
                }
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
