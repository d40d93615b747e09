//! `supportzen serve`: the endpoint table's routes over HTTP/1.1 on hyper, each calling
//! the same handler its Lambda function runs. Bodies are read up to the API's limit and
//! no further. What API Gateway does by itself in production is done here too: routing
//! errors (in the API's envelope), CORS ([`crate::cors`]), and the agent routes' JWT
//! authorizer ([`crate::agent_tokens`]), whose verified claims reach the handler in the
//! request context as API Gateway puts them there; and the realtime socket
//! ([`crate::realtime`]), which production serves from a WebSocket API. It also serves
//! attachments' files, which production keeps in S3 ([`crate::files`]), and the agent
//! console's files, which production puts on a static host ([`crate::console`]).

use crate::agent_tokens::{AgentKey, Rejection};
use crate::console::{self, Console};
use crate::files::{self, FileBody, FileStore};
use crate::messenger;
use crate::realtime::{self, Hub};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::StatusCode;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use supportzen_shared::auth::{AuthError, Secret};
use supportzen_shared::endpoint::{Endpoint, Route};
use supportzen_shared::http::request::MAX_BODY_BYTES;
use supportzen_shared::http::response::{error_response, failure};
use supportzen_shared::http::{Backend, dispatch, with_route_parameters};
use supportzen_shared::{ApiError, Config};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;

/// The OpenAPI 3.1 description of the client API, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// Serves until `shutdown` completes, answering browsers by `cors`. Connections already
/// accepted finish their in-flight request; store writes are never cut in half either way.
/// `store` should publish its commits to `hub` (see [`crate::sinks`]) for the realtime
/// socket to have events to deliver.
#[allow(clippy::too_many_arguments)]
pub async fn serve<S: Backend>(
    listener: TcpListener,
    store: Arc<S>,
    files: Arc<FileStore>,
    config: Config,
    agents: AgentKey,
    cors: CorsLayer,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // The console's local sign-in is offered only on a loopback address.
    let loopback = listener
        .local_addr()
        .is_ok_and(|address| address.ip().is_loopback());
    let config = Arc::new(Settings {
        config,
        agents,
        hub,
        loopback,
        files,
        demo_secret: demo_secret(),
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let (store, settings) = (Arc::clone(&store), Arc::clone(&config));
        let service = ServiceBuilder::new()
            .layer(cors.clone())
            .service_fn(move |request| {
                route(Arc::clone(&store), Arc::clone(&settings), peer, request)
            });
        tokio::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades()
                .await
            {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
}

/// What every request is served with besides the store.
struct Settings {
    config: Config,
    /// Verifies agents' tokens.
    agents: AgentKey,
    /// The open realtime sockets.
    hub: Arc<Hub>,
    /// Whether the server listens on a loopback address ([`crate::console`]).
    loopback: bool,
    /// Attachments' files, at [`files::PATH`].
    files: Arc<FileStore>,
    /// The demo customer's secret ([`crate::messenger`]), fresh per start.
    demo_secret: Secret,
}

async fn route<S: Backend>(
    store: Arc<S>,
    settings: Arc<Settings>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<FileBody>, Infallible> {
    let started = Instant::now();
    if request.uri().path() == realtime::PATH && request.method() == Method::GET {
        let response = realtime::accept(&store, &settings.hub, request).await;
        tracing::info!(
            path = realtime::PATH,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "socket request"
        );
        return Ok(files::boxed(response));
    }
    if request.uri().path() == files::PATH {
        let response = match *request.method() {
            Method::POST => {
                let content_type = request
                    .headers()
                    .get(hyper::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = request.into_body();
                files::boxed(
                    settings
                        .files
                        .upload(content_type.as_deref(), body, SystemTime::now())
                        .await,
                )
            }
            Method::GET | Method::HEAD => {
                let query = request.uri().query().map(str::to_string);
                settings
                    .files
                    .download(query.as_deref(), SystemTime::now())
                    .await
            }
            _ => {
                let mut response = Response::new(Full::new(Bytes::from_static(
                    b"this path only accepts GET, POST",
                )));
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                files::boxed(response)
            }
        };
        tracing::info!(
            path = files::PATH,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "file request"
        );
        return Ok(response);
    }
    let (mut parts, body) = request.into_parts();
    let request_id = match parts.headers.get("x-request-id") {
        Some(id) => id.clone(),
        None => {
            let id = HeaderValue::try_from(uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header");
            parts.headers.insert("x-request-id", id.clone());
            id
        }
    };
    let (method, path) = (parts.method.clone(), parts.uri.path().to_string());

    let response = match Endpoint::route(method.as_str(), &path) {
        _ if console::handles(&path) => console_response(&settings, &parts, body).await,
        _ if messenger::handles(&path) => {
            let demo = messenger::Demo {
                users: &*store,
                secret: &settings.demo_secret,
                loopback: settings.loopback,
            };
            demo.respond(&method, &path, &parts.headers).await
        }
        Route::NotFound if path == "/openapi.json" && method == Method::GET => {
            let mut response =
                lambda_http::Response::new(lambda_http::Body::Text(OPENAPI.to_string()));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Route::NotFound => error_response(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no route for this path",
            None,
        ),
        Route::WrongMethod(methods) => {
            let allowed = methods.join(", ");
            let message = format!("this route only accepts {allowed}");
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &message,
                None,
            );
            if let Ok(value) = HeaderValue::try_from(allowed) {
                response.headers_mut().insert(ALLOW, value);
            }
            response
        }
        Route::To(endpoint, parameters) => match authorize(&settings.agents, endpoint, &parts) {
            Err(refused) => {
                tracing::info!(
                    request_id = request_id.to_str().unwrap_or_default(),
                    route = endpoint.name(),
                    %refused,
                    "agent token refused"
                );
                refusal(&refused)
            }
            Ok(context) => match Limited::new(body, MAX_BODY_BYTES).collect().await {
                Ok(collected) => {
                    let body = lambda_http::Body::Binary(collected.to_bytes().to_vec());
                    let mut context = context.unwrap_or_else(|| {
                        RequestContext::ApiGatewayV2(ApiGatewayV2httpRequestContext::default())
                    });
                    // As API Gateway's requestContext.http.sourceIp: the peer's address
                    // (the accounts-per-address limit counts by it).
                    if let RequestContext::ApiGatewayV2(context) = &mut context {
                        context.http.source_ip = Some(peer.ip().to_string());
                    }
                    let request =
                        lambda_http::Request::from_parts(parts, body).with_request_context(context);
                    let request = with_route_parameters(request, parameters);
                    let files = &*settings.files;
                    dispatch(endpoint, &*store, files, &settings.config, request).await
                }
                Err(err) if err.is::<LengthLimitError>() => failure(&ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }),
                Err(err) => failure(&ApiError::InvalidJson(format!(
                    "could not read the body: {err}"
                ))),
            },
        },
    };

    let (mut parts, body) = response.into_parts();
    parts.headers.insert("x-request-id", request_id.clone());
    tracing::info!(
        request_id = request_id.to_str().unwrap_or_default(),
        %method,
        path,
        status = parts.status.as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(files::boxed(Response::from_parts(
        parts,
        Full::new(Bytes::copy_from_slice(&body)),
    )))
}

/// A random secret for the demo customer: 32 bytes, hex.
fn demo_secret() -> Secret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    Secret::parse(&hex::encode(bytes)).expect("64 hex digits make a secret")
}

/// The agent console's files and its local sign-in ([`crate::console`]), whose body is
/// read up to its small limit.
async fn console_response(
    settings: &Settings,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> lambda_http::Response<lambda_http::Body> {
    let body = match Limited::new(body, console::MAX_SIGN_IN_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Some(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => None,
        Err(_) => Some(Bytes::new()),
    };
    let console = Console {
        agents: &settings.agents,
        loopback: settings.loopback,
    };
    console.respond(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        body.as_deref(),
    )
}

/// What API Gateway's JWT authorizer does for an agent route: verify the bearer token
/// and the route's scope, and pass the claims on. Customer routes pass as they are.
fn authorize(
    agents: &AgentKey,
    endpoint: Endpoint,
    parts: &hyper::http::request::Parts,
) -> Result<Option<RequestContext>, Rejection> {
    let Some(scope) = endpoint.scope() else {
        return Ok(None);
    };
    let authorization = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = agents.verify(authorization, scope)?;
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = claims.as_authorizer_claims();
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    Ok(Some(RequestContext::ApiGatewayV2(context)))
}

/// 401 for a missing or invalid token, 403 for a valid one without the route's scope,
/// as API Gateway answers; in the API's envelope.
fn refusal(refused: &Rejection) -> lambda_http::Response<lambda_http::Body> {
    match refused {
        Rejection::MissingScope(scope) => failure(&ApiError::Forbidden(*scope)),
        Rejection::Missing => failure(&ApiError::Unauthorized(AuthError::MissingHeader)),
        Rejection::NotBearer => failure(&ApiError::Unauthorized(AuthError::NotBearer)),
        Rejection::Invalid(_) => failure(&ApiError::Unauthorized(AuthError::NoAgentClaims)),
    }
}

/// `supportzen serve`: binds `listen`, prints the address on stdout (the one line scripts
/// and tests read) and serves until Ctrl-C or SIGTERM.
#[allow(clippy::too_many_arguments)]
pub async fn listen_and_serve<S: Backend>(
    store: S,
    files_dir: &Path,
    config: Config,
    agents: AgentKey,
    cors: CorsLayer,
    hub: Arc<Hub>,
    listen: SocketAddr,
    url: &crate::store_url::StoreUrl,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "cannot listen on {listen}: the address is in use (another `supportzen serve`?). Stop it, or choose another address with --listen, e.g. --listen 127.0.0.1:3001"
            ),
            _ => format!("cannot listen on {listen}: {e}"),
        })?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let files = FileStore::open(files_dir, &format!("http://{address}"))?;
    tracing::info!(store = %url, trust_first_request = config.trust_first_request, "serving the SupportZen API");
    // Listening for signals before saying so: a SIGTERM sent as soon as the address is
    // printed must stop the server cleanly, not kill it.
    let shutdown = shutdown_signal()?;
    // The one line on stdout: scripts and tests read the address from it.
    println!("listening on http://{address}");
    serve(
        listener,
        Arc::new(store),
        Arc::new(files),
        config,
        agents,
        cors,
        hub,
        shutdown,
    )
    .await
    .map_err(|e| e.to_string())
}

/// Ctrl-C or SIGTERM (what `kill`, systemd and container runtimes send): stop accepting,
/// let requests under way finish, exit 0. Both handlers are installed when this returns;
/// the future completes at the first signal.
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    })
}
