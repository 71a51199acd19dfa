use deadpool::Runtime;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use spotter_platform::ReadinessCheck;
use std::time::Duration;

pub type Pool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
pub type Conn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// A pool that never makes a request wait forever: while PostgreSQL is down,
/// handlers fail fast with 503 and readiness reports it; connections are made
/// again once it is back (deadpool discards broken ones on recycle).
pub fn connect(url: &SecretString, max_connections: usize) -> anyhow::Result<Pool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url.expose_secret());
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
