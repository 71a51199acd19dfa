//! Composes services into one HTTP server.
//!
//! A service contributes a [`ServiceModule`]: its routes, the paths it owns, its
//! readiness checks, its OpenAPI document and its background tasks. Production
//! serves one module per process; the dev stack serves all three behind one
//! listener, each module guarded by the path prefixes it owns — the same split a
//! gateway makes in production, so routes never depend on which shape runs.

use crate::health::{self, Readiness, ReadinessCheck};
use crate::metrics::{self, Metrics};
use crate::problem::ApiError;
use crate::settings::ServerSettings;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, guard, middleware, web};
use futures_util::future::BoxFuture;
use std::net::TcpListener;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

/// Work a service runs beside its HTTP server (outbox relay, consumers). It must
/// return soon after the token is cancelled.
pub type BackgroundTask = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

pub type Configure = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

pub struct ServiceModule {
    pub name: &'static str,
    /// Whether a request path belongs to this service (see each service's `routes.rs`).
    pub owns_path: fn(&str) -> bool,
    pub configure: Configure,
    pub readiness: Vec<Arc<dyn ReadinessCheck>>,
    pub openapi: utoipa::openapi::OpenApi,
    pub tasks: Vec<BackgroundTask>,
    /// The service's own Prometheus collectors, served at `/metrics` beside
    /// the HTTP ones (names must be unique across the services of a process).
    pub collectors: Vec<Box<dyn prometheus::core::Collector>>,
}

/// Whether `path` is under any of `prefixes`, segment-wise: `/v1/clients`
/// owns `/v1/clients/42` but not `/v1/clientsx`. Services describe the paths
/// they own with it (the dev stack's routing, and the gateway's in deploy/).
pub fn under_any(path: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The sub-resource a path names under one clinic,
/// `/admin/v1/clinics/{id}/<name>[/…]`: the clinic's tree is booking's, but
/// some of its sub-resources belong to the service that owns their data
/// (a clinic's referrals, its webhooks), and the routing says so.
pub fn clinic_subresource(path: &str) -> Option<&str> {
    let mut parts = path.strip_prefix("/admin/v1/clinics/")?.split('/');
    parts.next().filter(|clinic| !clinic.is_empty())?;
    parts.next().filter(|name| !name.is_empty())
}

/// A started process: HTTP server plus background tasks, stopped together.
pub struct Running {
    port: u16,
    server: Server,
    /// `/metrics` on a port of its own (`server.metrics_port`), if set.
    metrics_server: Option<(u16, Server)>,
    tasks: Vec<BackgroundTask>,
    shutdown: CancellationToken,
    termination: TerminationSignal,
}

impl Running {
    /// Binds the listener and builds the server. Background tasks start with
    /// [`Running::run_until_stopped`].
    pub fn start(
        settings: &ServerSettings,
        modules: Vec<ServiceModule>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.port == 0 || settings.metrics_port != Some(settings.port),
            "server.metrics_port must differ from server.port ({}): /metrics moves to a port of its own",
            settings.port
        );
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = settings
            .metrics_port
            .map(|port| TcpListener::bind((settings.host.as_str(), port)))
            .transpose()?;
        let metrics_beside_api = metrics_listener.is_none();
        let mut tasks = Vec::new();
        let mut routes = Vec::new();
        let mut checks = Vec::new();
        let mut openapi: Option<utoipa::openapi::OpenApi> = None;
        for module in modules {
            for collector in module.collectors {
                metrics.registry().register(collector)?;
            }
            tasks.extend(module.tasks);
            checks.extend(module.readiness);
            openapi = Some(match openapi {
                None => module.openapi,
                Some(mut merged) => {
                    merged.merge(module.openapi);
                    merged
                }
            });
            routes.push((module.owns_path, module.configure));
        }
        let readiness = web::Data::new(Readiness::new(checks));
        let openapi = web::Data::new(openapi.unwrap_or_default());
        let metrics = web::Data::new(metrics);
        let body_limit = settings.body_limit_bytes;
        let metrics_server = metrics_listener
            .map(|listener| serve_metrics(listener, metrics.clone()))
            .transpose()?;

        let server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(protective_headers())
                .wrap(middleware::from_fn(metrics::track))
                .wrap(TracingLogger::default())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(query_config())
                .app_data(path_config())
                .app_data(readiness.clone())
                .app_data(openapi.clone())
                .app_data(metrics.clone())
                .route("/livez", web::get().to(health::livez))
                .route("/readyz", web::get().to(health::readyz))
                .route("/openapi.json", web::get().to(openapi_document));
            if metrics_beside_api {
                app = app.route("/metrics", web::get().to(metrics::metrics_endpoint));
            }
            for (owns_path, configure) in &routes {
                let owns_path = *owns_path;
                let configure = configure.clone();
                app = app.service(
                    web::scope("")
                        .guard(guard::fn_guard(move |ctx| owns_path(ctx.head().uri.path())))
                        .configure(move |cfg| configure(cfg))
                        .default_service(web::to(not_found)),
                );
            }
            app.default_service(web::to(not_found))
        })
        .listen(listener)?
        // Signals are ours (see run_until_stopped), so that background tasks stop
        // with the server instead of being cut off.
        .disable_signals()
        .shutdown_timeout(10)
        .run();

        Ok(Self {
            port,
            server,
            metrics_server,
            tasks,
            shutdown,
            termination: TerminationSignal::listen(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when it has one of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until SIGTERM/SIGINT or the shutdown token: then stops accepting,
    /// drains in-flight requests and lets background tasks finish their step.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let metrics_server = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        let shutdown = self.shutdown.clone();
        let mut background = tokio::task::JoinSet::new();
        for task in self.tasks {
            background.spawn(task(shutdown.clone()));
        }
        let stopper = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = self.termination.received() => {
                        tracing::info!("termination signal received, shutting down");
                    }
                }
                shutdown.cancel();
                handle.stop(true).await;
            })
        };
        let served = self.server.await;
        shutdown.cancel();
        stopper.abort();
        if let Some((serving, handle)) = metrics_server {
            handle.stop(true).await;
            let _ = serving.await;
        }
        while background.join_next().await.is_some() {}
        served?;
        Ok(())
    }
}

/// `/metrics` alone on its own listener: one worker, nothing else routed.
fn serve_metrics(
    listener: TcpListener,
    metrics: web::Data<Metrics>,
) -> anyhow::Result<(u16, Server)> {
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(protective_headers())
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(metrics::metrics_endpoint))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    Ok((port, server))
}

/// SIGTERM and SIGINT, listened for from the moment the process starts
/// serving: a signal that arrives between "listening" and the first await
/// must stop the process gracefully, not kill it outright.
struct TerminationSignal {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl TerminationSignal {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            Self { streams }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn received(mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Headers on every response, errors and streams included (added only where
/// a handler set none): `nosniff` everywhere, and `no-store` because almost
/// every answer carries health or personal data, and a phone's or a proxy's
/// cache must keep none of it. The OpenAPI document, the one public and
/// stable answer, sets its own caching.
fn protective_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::CACHE_CONTROL, "no-store"))
}

async fn openapi_document(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(doc.get_ref())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Query strings that don't fit the handler's type: 422 naming the parameter
/// where serde says which, else the query as a whole.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = err.to_string();
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains("field"))
            .unwrap_or("query")
            .to_owned();
        ApiError::invalid(field, message.replace("Query deserialize error: ", "")).into()
    })
}

/// A path segment that doesn't parse (say, not a UUID) names nothing that exists.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| ApiError::NotFound.into())
}

/// A JSON response with a status chosen at run time (a first response, or
/// one replayed for an `Idempotency-Key`).
pub fn json_response(status: u16, body: serde_json::Value) -> actix_web::HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    actix_web::HttpResponse::build(status).json(body)
}
