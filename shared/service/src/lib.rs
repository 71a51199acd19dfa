//! How a Spotter service goes from settings to a running process.
//!
//! A service describes itself once ([`ServiceDefinition`]: name, migrations,
//! routes). The same description runs alone (production: one process per
//! service, [`Application`]) or beside the others in the dev stack
//! ([`prepare_module`] per service, one [`Running`] for all).

pub mod dead_letters;
#[cfg(feature = "testing")]
pub mod testing;

use actix_web::web;
use futures_util::future::BoxFuture;
use spotter_auth::{AuthSettings, JwksSource, JwtVerifier};
use spotter_db::retention::Rule;
use spotter_db::{EmbeddedMigrations, Pool};
use spotter_messaging::Broker;
use spotter_messaging::metrics::{ConsumerMetrics, Gauges};
use spotter_platform::rate_limit::RateLimiter;
use spotter_platform::settings::{AuthConfig, DatabaseSettings, Settings};
use spotter_platform::{Metrics, Running, ServiceModule};
use std::marker::PhantomData;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a service's routes and tasks are built from.
#[derive(Clone)]
pub struct Foundations {
    pub settings: Settings,
    pub pool: Pool,
    pub broker: Broker,
    pub verifier: JwtVerifier,
    pub shutdown: CancellationToken,
    /// Shared by the service's consumers; served at `/metrics`.
    consumer_metrics: ConsumerMetrics,
}

pub trait ServiceDefinition: 'static {
    /// `referral`, `booking` or `notification`: names its database, queues,
    /// broker connection and dead-letter path.
    const NAME: &'static str;
    const MIGRATIONS: EmbeddedMigrations;
    /// The service's own expiring rows, pruned beside the shared ones
    /// ([`COMMON_RETENTION`]).
    const RETENTION: &'static [Rule] = &[];
    /// SQL an administrator runs in the service's database before the
    /// service, connected as a role that owns only that database, migrates
    /// it: what only a superuser may do. Some extensions (earthdistance) are
    /// not "trusted", so such an owner cannot create them, nor alter their
    /// functions. Idempotent; run by `spotter dev --service-accounts` and
    /// deploy/docker/init-databases.sql (docs/architecture.md, "Least privilege").
    const ADMIN_SQL: &'static str = "";

    fn module(foundations: Foundations) -> BoxFuture<'static, anyhow::Result<ServiceModule>>;
}

/// Every migration a service's database takes, in the order they apply: the
/// shared tables, the messaging tables, then the service's own.
fn migration_sets<S: ServiceDefinition>() -> [EmbeddedMigrations; 3] {
    [
        spotter_db::MIGRATIONS,
        spotter_messaging::MIGRATIONS,
        S::MIGRATIONS,
    ]
}

/// Brings the service's database up to date: `spotter migrate <service>`,
/// and every start with `migrate_on_start`. Replicas starting at once are
/// serialised by the migration lock.
pub async fn migrate<S: ServiceDefinition>(database: &DatabaseSettings) -> anyhow::Result<()> {
    for set in migration_sets::<S>() {
        spotter_db::run_migrations(&database.url, set).await?;
    }
    Ok(())
}

/// Without `migrate_on_start`, a process only checks that whatever runs the
/// migrations (deploy/k8s: `spotter migrate` in an init container) has run
/// them: code never serves a schema older than itself.
async fn check_schema<S: ServiceDefinition>(database: &DatabaseSettings) -> anyhow::Result<()> {
    let mut pending = Vec::new();
    for set in migration_sets::<S>() {
        pending.extend(spotter_db::pending_migrations(&database.url, set).await?);
    }
    anyhow::ensure!(
        pending.is_empty(),
        "the {} database lacks {} migration(s) ({}); run `spotter migrate {}` first, \
         or set database.migrate_on_start",
        S::NAME,
        pending.len(),
        pending.join(", "),
        S::NAME
    );
    Ok(())
}

/// Migrates the service's database (or checks it is migrated), opens its
/// pool and broker connection, and builds its module. Fails fast when the
/// database is unreachable: a process that cannot migrate should not report
/// itself started.
pub async fn prepare_module<S: ServiceDefinition>(
    settings: Settings,
    verifier: JwtVerifier,
    shutdown: CancellationToken,
) -> anyhow::Result<ServiceModule> {
    if settings.database.migrate_on_start {
        migrate::<S>(&settings.database).await?;
    } else {
        check_schema::<S>(&settings.database).await?;
    }
    let pool = spotter_db::connect(&settings.database.url, settings.database.max_connections)?;
    // Named so operators (and tests) can find and cut exactly this connection.
    let connection_name = format!(
        "spotter-{}-{}{}",
        S::NAME,
        settings.broker.queue_prefix,
        std::process::id()
    );
    let broker = Broker::start(&settings.broker, &connection_name, shutdown.clone());
    let foundations = Foundations {
        settings,
        pool,
        broker,
        verifier,
        shutdown,
        consumer_metrics: ConsumerMetrics::new(S::NAME)?,
    };
    let module = S::module(foundations.clone()).await?;
    let limiter = RateLimiter::new(&foundations.settings.rate_limits)?;
    let gauges = Gauges::new(S::NAME)?;
    Ok(with_common_parts::<S>(
        module,
        &foundations,
        limiter,
        gauges,
    ))
}

/// What every service has beside its own routes: readiness of its database and
/// broker, the relay of its outbox (replays of dead letters go out through it
/// too, so even a pure consumer runs one), the upkeep of its tables where
/// autovacuum is off, the dead-letter admin API, and the messaging metrics.
/// Each service keeps its own per-user budgets (`RateLimiter`), in the dev
/// stack as in production.
fn with_common_parts<S: ServiceDefinition>(
    mut module: ServiceModule,
    foundations: &Foundations,
    limiter: RateLimiter,
    gauges: Gauges,
) -> ServiceModule {
    module.readiness.push(Arc::new(spotter_db::DbReadiness {
        name: format!("{}.database", S::NAME),
        pool: foundations.pool.clone(),
    }));
    module
        .readiness
        .push(foundations.broker.readiness(&format!("{}.broker", S::NAME)));
    module.tasks.push(foundations.outbox_relay());
    module.tasks.push(foundations.retention(S::RETENTION));
    let pool = foundations.pool.clone();
    module.tasks.push(Box::new(move |shutdown| {
        Box::pin(spotter_db::upkeep::run(pool, shutdown))
    }));
    module
        .collectors
        .extend(foundations.consumer_metrics.collectors());
    module.collectors.extend(gauges.collectors());
    module.tasks.push(foundations.sample_gauges(gauges));
    module.openapi.merge(dead_letters::openapi());
    let own_routes = module.configure.clone();
    let pool = web::Data::new(foundations.pool.clone());
    let verifier = web::Data::new(foundations.verifier.clone());
    let limiter = web::Data::new(limiter);
    let sweep = limiter.clone().into_inner();
    module.tasks.push(Box::new(move |shutdown| {
        Box::pin(sweep.forget_idle_users(shutdown))
    }));
    module.configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(pool.clone())
            .app_data(verifier.clone())
            .app_data(limiter.clone());
        own_routes(cfg);
        dead_letters::configure(cfg, S::NAME);
    });
    module
}

impl Foundations {
    /// A background task consuming the service's system queue (see
    /// `spotter_messaging::topology::SYSTEM_QUEUES`) with `spec`'s handler.
    pub fn consumer(
        &self,
        spec: spotter_messaging::ConsumerSpec,
    ) -> spotter_platform::BackgroundTask {
        let consumer =
            spotter_messaging::Consumer::new(self.pool.clone(), self.broker.clone(), spec)
                .with_metrics(self.consumer_metrics.clone());
        Box::new(move |shutdown| Box::pin(consumer.run(shutdown)))
    }

    /// The background task deleting expired rows: the tables every service
    /// has, and the service's own `rules`.
    fn retention(&self, rules: &[Rule]) -> spotter_platform::BackgroundTask {
        let rules = COMMON_RETENTION.iter().chain(rules).copied().collect();
        let pool = self.pool.clone();
        Box::new(move |shutdown| Box::pin(spotter_db::retention::run(pool, rules, shutdown)))
    }

    /// The background task refreshing the messaging gauges every
    /// [`GAUGE_SAMPLE_EVERY`]. A sample is bounded by that same period, so a
    /// hung database cannot stall the loop or shutdown; a failed one keeps
    /// the last values and is logged, the readiness check says the rest.
    fn sample_gauges(&self, gauges: Gauges) -> spotter_platform::BackgroundTask {
        let pool = self.pool.clone();
        let broker = self.broker.clone();
        Box::new(move |shutdown| {
            Box::pin(async move {
                loop {
                    let sampled = tokio::select! {
                        () = shutdown.cancelled() => return,
                        sampled = tokio::time::timeout(GAUGE_SAMPLE_EVERY, gauges.sample(&pool, &broker)) => sampled,
                    };
                    match sampled {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => {
                            tracing::warn!(error = %format!("{err:#}"), "could not sample the messaging gauges")
                        }
                        Err(_) => tracing::warn!("sampling the messaging gauges timed out"),
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(GAUGE_SAMPLE_EVERY) => {}
                    }
                }
            })
        })
    }

    /// The background task publishing this service's outbox.
    fn outbox_relay(&self) -> spotter_platform::BackgroundTask {
        let relay = spotter_messaging::Relay::new(
            self.pool.clone(),
            self.broker.clone(),
            self.settings.database.url.clone(),
            spotter_messaging::RelayConfig::default(),
        );
        Box::new(move |shutdown| Box::pin(relay.run(shutdown)))
    }
}

/// How often the outbox, parked and broker gauges are refreshed: well inside
/// a Prometheus scrape interval's usual 15 to 30 s.
const GAUGE_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Expiring rows in the tables every service has.
pub const COMMON_RETENTION: [Rule; 4] = [
    spotter_db::retention::IDEMPOTENCY_KEYS,
    spotter_messaging::retention::INBOX,
    spotter_messaging::retention::PUBLISHED_OUTBOX,
    spotter_messaging::retention::REPLAYED_DEAD_LETTERS,
];

/// The JWT verifier a process uses, from its `[auth]` settings.
pub async fn verifier(auth: &AuthConfig) -> anyhow::Result<JwtVerifier> {
    JwtVerifier::from_settings(&AuthSettings {
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        jwks: auth.jwks.as_deref().map(JwksSource::parse).transpose()?,
        dev_mode: auth.dev_mode,
        refresh: Default::default(),
    })
    .await
}

/// One service running alone: how production and `deploy/` run each service.
pub struct Application<S> {
    running: Running,
    _service: PhantomData<fn() -> S>,
}

impl<S: ServiceDefinition> Application<S> {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let verifier = verifier(&settings.auth).await?;
        Self::build_with_verifier(settings, verifier).await
    }

    /// Tests pass their own verifier (a key they can sign with).
    pub async fn build_with_verifier(
        settings: Settings,
        verifier: JwtVerifier,
    ) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let server = settings.server.clone();
        let module = prepare_module::<S>(settings, verifier, shutdown.clone()).await?;
        let running = Running::start(&server, vec![module], Metrics::new()?, shutdown)?;
        Ok(Self {
            running,
            _service: PhantomData,
        })
    }

    pub fn port(&self) -> u16 {
        self.running.port()
    }

    /// Where `/metrics` is served when `server.metrics_port` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.running.metrics_port()
    }

    /// Cancelling it stops the process as SIGTERM would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.running.shutdown_token()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.running.run_until_stopped().await
    }
}
