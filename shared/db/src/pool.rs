use crate::tls::PgTarget;
use deadpool::Runtime;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use spotter_platform::ReadinessCheck;
use std::time::Duration;

pub type Pool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
pub type Conn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// A pool that never makes a request wait forever: while PostgreSQL is down,
/// handlers fail fast with 503 and readiness reports it; connections are made
/// again once it is back (deadpool discards broken ones on recycle).
///
/// Recycling is `Fast`: no `SELECT 1` each time a connection is taken, which
/// was a sixth of every booking flow's statements. A connection whose socket
/// closed (a database restart) or whose transaction broke is still discarded:
/// diesel-async's `is_broken` checks both before any recycling method runs.
///
/// The URL's `sslmode`/`sslrootcert` decide TLS (`crate::tls`); a bad value or
/// an unreadable CA file fails here, at start, not at the first checkout.
pub fn connect(url: &SecretString, max_connections: usize) -> anyhow::Result<Pool> {
    let target = PgTarget::parse(url.expose_secret())?;
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |_url| {
        let target = target.clone();
        Box::pin(async move { target.connect().await })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        url.expose_secret(),
        config,
    );
    let pool = Pool::builder(manager)
        .max_size(max_connections)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()?;
    Ok(pool)
}

/// `/readyz` check: a connection can be had and answers a query.
pub struct DbReadiness {
    pub name: String,
    pub pool: Pool,
}

impl ReadinessCheck for DbReadiness {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            use diesel_async::RunQueryDsl;
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| format!("no connection: {}", describe_pool_error(&e)))?;
            diesel::sql_query("SELECT 1")
                .execute(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| format!("query failed: {e}"))
        })
    }
}

fn describe_pool_error(err: &diesel_async::pooled_connection::deadpool::PoolError) -> String {
    // The connection error text may include the URL's host but never its
    // password (tokio-postgres does not echo it); keep it short for /readyz.
    let text = err.to_string();
    text.chars().take(200).collect()
}
