//! Test harness: starts the real HTTP server on a random port over a fresh in-memory
//! store, and talks to it with an HTTP client, as the client app would.

mod client;
pub mod dynamo;
pub mod smtp;

pub use client::*;

use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use supportzen::agent_tokens::{AgentKey, Claims};
use supportzen::due::Sweeper;
use supportzen::mail::SmtpMailer;
use supportzen::realtime::Hub;
use supportzen::relay::{LocalEvents, Relay};
use supportzen::sinks::LocalSinks;
use supportzen::webhooks::{WebhookOutbox, Worker};
use supportzen::{cors, server};
use supportzen_shared::Config;
use supportzen_shared::auth::Secret;
use supportzen_shared::domain::{
    AgentId, AttachmentId, ContentType, DisplayName, Email, FileName, Scope, Uploader,
};
use supportzen_shared::dynamo::DynamoStore;
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::flows::due::Notices;
use supportzen_shared::http::Backend;
use supportzen_shared::notify::NoticeSettings;
use supportzen_shared::store::{ConversationAdmin, DueWork, UploadRecord, UserProvisioner};
use supportzen_shared::store::{EventJournal, Publishing, TypingGate, WebhookRegistry};
use supportzen_shared::webhook_client::WebhookClient;
use supportzen_sqlite::{Outbox, SqliteStore};
use tokio::sync::oneshot;

/// A store the suites can run against: everything the handlers need, plus reading back
/// what was written. Each test gets a fresh, empty one.
pub trait TestStore:
    Backend
    + ConversationAdmin
    + UserProvisioner
    + WebhookRegistry
    + DueWork
    + TypingGate
    + EventJournal
    + LocalEvents
    + Clone
{
    fn fresh() -> impl Future<Output = Self> + Send;
}

impl TestStore for SqliteStore {
    async fn fresh() -> Self {
        SqliteStore::open(":memory:").expect("in-memory sqlite opens")
    }
}

impl TestStore for DynamoStore {
    async fn fresh() -> Self {
        dynamo::fresh_dynamo_store().await.0
    }
}

/// Runs each named generic test (`async fn name<S: TestStore>()`) once per store, as
/// `sqlite::name` and `dynamodb::name`.
#[macro_export]
macro_rules! for_each_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name::<supportzen_sqlite::SqliteStore>().await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name::<supportzen_shared::dynamo::DynamoStore>().await;
                }
            )*
        }
    };
}

pub const LIVE_CREATE: &str = Endpoint::LiveCreate.path();
pub const LIVE_CHAT: &str = Endpoint::LiveChat.path();
pub const TICKET_CREATE: &str = Endpoint::TicketCreate.path();
pub const TICKET_APPEND: &str = Endpoint::TicketAppend.path();
pub const CONVERSATIONS: &str = Endpoint::ConversationsList.path();
pub const ATTACHMENTS: &str = Endpoint::AttachmentUpload.path();
pub const AGENT_ATTACHMENTS: &str = Endpoint::AgentAttachmentUpload.path();
pub const INBOX: &str = Endpoint::AgentInbox.path();

/// An agent route's path for one conversation.
pub fn agent_path(endpoint: Endpoint, conversation_id: &str) -> String {
    endpoint.path().replace("{id}", conversation_id)
}

/// The messages route of one conversation.
pub fn messages_path(conversation_id: &str) -> String {
    Endpoint::ConversationMessages
        .path()
        .replace("{id}", conversation_id)
}

/// A PNG upload `uploader` declared just now and has not attached: the record a test
/// stores, whose `attachment(uploader.kept_key(&id))` a message then names.
pub fn png_upload(uploader: Uploader, name: &str, size: u64) -> UploadRecord {
    UploadRecord {
        id: AttachmentId::generate(),
        uploader,
        name: FileName::parse(name).unwrap(),
        content_type: ContentType::Png,
        size,
        created_at: supportzen_shared::domain::now_millis(),
        attached_to: None,
    }
}

/// A running server and a handle on its store, for checking what was written.
pub struct TestApp<S> {
    pub base_url: String,
    /// The store as written, without the server's event publishing.
    pub store: S,
    /// The server's realtime hub: how many sockets are open.
    pub hub: Arc<Hub>,
    /// The key the server verifies agents' tokens with.
    pub agents: AgentKey,
    /// Where the server keeps attachments' files (deleted with the app).
    pub files: tempfile::TempDir,
    /// The server's file store, to sign forms as it would at another time.
    pub file_store: Arc<supportzen::files::FileStore>,
    /// The webhook worker of a server made by [`TestApp::spawn_with_webhooks`].
    pub webhooks: Option<Worker>,
    /// The due-work timer of a server made by [`TestApp::spawn_with_due_work`].
    pub due_work: Option<Sweeper>,
    /// On SQLite, the relay from the server's event journal to its sinks, as in `serve`.
    _relay: Option<Relay>,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl<S: TestStore> TestApp<S> {
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::default()).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        Self::spawn_with_hub(config, Hub::new()).await
    }

    /// A server whose realtime sockets are pinged every `ping_every`.
    pub async fn spawn_with_hub(config: Config, hub: Hub) -> Self {
        Self::serve(S::fresh().await, config, hub, None, None).await
    }

    /// A server that sweeps for due work every `every`, as `serve --due-every` does.
    pub async fn spawn_with_due_work(every: std::time::Duration) -> Self {
        let due_work = Some((every, None));
        Self::serve(
            S::fresh().await,
            Config::default(),
            Hub::new(),
            None,
            due_work,
        )
        .await
    }

    /// A server that sweeps every `every` and emails unread replies `after` a reply
    /// over SMTP to `smtp`, as `serve --smtp URL --unread-email-after SECONDS` does;
    /// `settings` says what the emails link to.
    pub async fn spawn_with_emails(
        every: std::time::Duration,
        after: std::time::Duration,
        smtp: &str,
        settings: NoticeSettings,
    ) -> Self {
        let config = Config {
            unread_email_after: Some(after),
            unsubscribe_key: Some(settings.unsubscribe.clone()),
            ..Config::default()
        };
        let notices = Notices {
            mailer: SmtpMailer::new(smtp).expect("an smtp:// URL"),
            settings,
        };
        let due_work = Some((every, Some(notices)));
        Self::serve(S::fresh().await, config, Hub::new(), None, due_work).await
    }

    /// A server on `store` (fresh, or one an earlier server used) that delivers webhooks
    /// from `outbox`, retrying after the waits of `schedule`; its worker is `webhooks`.
    pub async fn spawn_with_webhooks(
        store: S,
        outbox: Outbox,
        schedule: &'static [std::time::Duration],
    ) -> Self {
        let webhooks = (outbox, schedule);
        Self::serve(store, Config::default(), Hub::new(), Some(webhooks), None).await
    }

    async fn serve(
        store: S,
        config: Config,
        hub: Hub,
        webhooks: Option<(Outbox, &'static [std::time::Duration])>,
        due_work: Option<(std::time::Duration, Option<Notices<SmtpMailer>>)>,
    ) -> Self {
        let hub = Arc::new(hub);
        let (webhooks, worker) = match webhooks {
            Some((outbox, schedule)) => {
                let webhooks = WebhookOutbox::new(store.clone(), outbox);
                let client = WebhookClient::new().expect("the platform's roots load");
                let worker = webhooks.start_worker(client, schedule);
                (Some(webhooks), Some(worker))
            }
            None => (None, None),
        };
        let sinks = LocalSinks {
            realtime: Arc::clone(&hub),
            webhooks,
        };
        // As `serve` does: on SQLite the server's writes journal their events and a
        // relay hands them on; `store` itself stays as written.
        let (served, relay) = store.clone().relay_to(sinks.clone());
        let due_work = due_work.map(|(every, notices)| {
            Sweeper::start(
                Arc::new(Publishing::new(served.clone(), sinks.clone())),
                notices,
                every,
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let keys = tempfile::tempdir().expect("a temporary directory");
        let key_path = keys.path().join("agent-key.pem");
        let agents = AgentKey::load_or_create(&key_path).expect("a new key");
        let server_agents =
            AgentKey::from_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
        let files = tempfile::tempdir().expect("a temporary directory");
        let file_store = Arc::new(
            supportzen::files::FileStore::open(files.path(), &format!("http://{address}"))
                .expect("a file store"),
        );
        tokio::spawn(server::serve(
            listener,
            Arc::new(Publishing::new(served, sinks)),
            Arc::clone(&file_store),
            config,
            server_agents,
            cors::layer(
                cors::DEVELOPMENT_ORIGINS
                    .map(|o| o.parse().unwrap())
                    .to_vec(),
            ),
            Arc::clone(&hub),
            async {
                let _ = stopped.await;
            },
        ));
        TestApp {
            base_url: format!("http://{address}"),
            store,
            hub,
            agents,
            files,
            file_store,
            webhooks: worker,
            due_work,
            _relay: relay,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// Provisions `email` with `secret`, as `supportzen users put --grace-hours 0` does.
    pub async fn provision(&self, email: &str, secret: &str) {
        self.rotate(email, secret, std::time::Duration::ZERO).await;
    }

    /// Sets `email`'s secret, keeping the one it replaces valid for `grace`.
    pub async fn rotate(&self, email: &str, secret: &str, grace: std::time::Duration) {
        let email = Email::parse(email).unwrap();
        self.store
            .put_secret(email.user_id(), &Secret::parse(secret).unwrap(), grace)
            .await
            .unwrap();
    }

    /// POSTs raw bytes with an optional bearer token; returns status, headers and body.
    pub async fn post_bytes(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        self.send(path, token, None, body).await
    }

    /// POSTs `body` with an `Idempotency-Key` header.
    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: &Value) -> Reply {
        self.send(path, Some(token), Some(key), body.to_string().into_bytes())
            .await
    }

    async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// Sends `file` with an upload form as a browser would: the form's fields, then the
    /// file, to the form's `url`. The storage's status and its text.
    pub async fn upload(&self, form: &Value, content_type: &str, file: &[u8]) -> (u16, String) {
        let fields = form["fields"]
            .as_object()
            .expect("an upload form has fields");
        let (header, body) = supportzen::files::upload_body(fields, content_type, file);
        let response = self
            .client
            .post(form["url"].as_str().expect("an upload form has a url"))
            .header("content-type", header)
            .body(body)
            .send()
            .await
            .expect("the storage answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// GETs an absolute URL (a download link): status, headers and body.
    pub async fn download(&self, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .expect("the storage answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.post_bytes(path, token, body.to_string().into_bytes())
            .await
    }

    /// GETs `path` (with its query) as `email`, signed with `token`.
    pub async fn get(&self, path: &str, token: Option<&str>, email: &str) -> Reply {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header("x-supportzen-email", email);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// A token for agent `id` with `scopes`, as `supportzen agents token` prints it.
    pub fn agent_token(&self, id: &str, scopes: &[Scope]) -> String {
        let name = DisplayName::parse(&format!("Agent {id}")).unwrap();
        self.agents
            .mint(
                &AgentId::parse(id).unwrap(),
                Some(&name),
                scopes,
                std::time::Duration::from_secs(600),
            )
            .unwrap()
    }

    /// A token with exactly these claims, signed by the server's key.
    pub fn signed(&self, claims: &Claims) -> String {
        self.agents.sign(claims).unwrap()
    }

    /// GETs an agent route with a bearer token.
    pub async fn agent_get(&self, path: &str, token: &str) -> Reply {
        let request = self
            .client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(token);
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// POSTs `body` to an agent route with a bearer token.
    pub async fn agent_post(&self, path: &str, token: &str, body: &Value) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .json(body);
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// A request to the server, to send as it is (for headers the helpers do not set).
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
    }

    pub async fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("server answers");
        Reply::read(response).await
    }

    /// A connect ticket for customer `email`, signed with `token`.
    pub async fn customer_ticket(&self, email: &str, token: &str) -> Reply {
        let request = self
            .raw(reqwest::Method::POST, Endpoint::RealtimeTicket.path())
            .header("x-supportzen-email", email)
            .bearer_auth(token);
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// A connect ticket for the agent whose token this is.
    pub async fn agent_ticket(&self, token: &str) -> Reply {
        let request = self
            .raw(reqwest::Method::POST, Endpoint::AgentRealtimeTicket.path())
            .bearer_auth(token);
        Reply::read(request.send().await.expect("server answers")).await
    }

    /// Opens the realtime socket with `ticket`; the handshake has completed when this
    /// returns, so every event committed from now on reaches it.
    pub async fn socket(&self, ticket: &str) -> Socket {
        let url = format!(
            "{}/ws?ticket={ticket}",
            self.base_url.replacen("http", "ws", 1)
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the socket opens");
        Socket(socket)
    }

    /// The handshake's refusal for `ticket`: its status and error envelope.
    pub async fn refused_socket(&self, ticket: Option<&str>) -> (u16, Value) {
        let url = match ticket {
            Some(ticket) => format!(
                "{}/ws?ticket={ticket}",
                self.base_url.replacen("http", "ws", 1)
            ),
            None => format!("{}/ws", self.base_url.replacen("http", "ws", 1)),
        };
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().unwrap_or_default();
                (
                    response.status().as_u16(),
                    serde_json::from_slice(body).expect("a JSON envelope"),
                )
            }
            Ok(_) => panic!("the socket opened"),
            Err(other) => panic!("the handshake failed otherwise: {other}"),
        }
    }
}
