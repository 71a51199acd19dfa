use diesel_async::{AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use secrecy::{ExposeSecret, SecretString};

/// Applies the service's embedded migrations. Several replicas may start at
/// once: diesel's harness takes no lock, so we serialize them with a
/// PostgreSQL advisory lock held for the run.
pub async fn run_migrations(
    url: &SecretString,
    migrations: EmbeddedMigrations,
) -> anyhow::Result<()> {
    let mut conn = crate::tls::establish(url.expose_secret()).await?;
    lock(&mut conn, true).await?;
    // The harness drives the async connection with `block_in_place`, which only
    // works off the async workers: run it on a blocking thread
    // (docs/decisions/0005-diesel-async.md).
    let handle = tokio::runtime::Handle::current();
    let (mut conn, result) = tokio::task::spawn_blocking(move || {
        let _guard = handle.enter();
        let mut harness = AsyncMigrationHarness::new(conn);
        let result = harness
            .run_pending_migrations(migrations)
            .map(|applied| applied.len())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        (harness.into_inner(), result)
    })
    .await?;
    lock(&mut conn, false).await?;
    let applied = result?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// The names of `migrations` not yet applied to the database at `url`: a
/// process that does not migrate itself (`migrate_on_start = false`) starts
/// only when this is empty.
pub async fn pending_migrations(
    url: &SecretString,
    migrations: EmbeddedMigrations,
) -> anyhow::Result<Vec<String>> {
    let conn = crate::tls::establish(url.expose_secret()).await?;
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _guard = handle.enter();
        let mut harness = AsyncMigrationHarness::new(conn);
        let pending = harness
            .pending_migrations(migrations)
            .map_err(|e| anyhow::anyhow!("could not read the applied migrations: {e}"))?;
        Ok(pending.iter().map(|m| m.name().to_string()).collect())
    })
    .await?
}

/// An arbitrary constant shared by every Spotter service's migration run.
const MIGRATION_LOCK_KEY: i64 = 0x0053_706f_7474_6572;

async fn lock(conn: &mut AsyncPgConnection, acquire: bool) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let sql = if acquire {
        "SELECT pg_advisory_lock($1)"
    } else {
        "SELECT pg_advisory_unlock($1)"
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}
