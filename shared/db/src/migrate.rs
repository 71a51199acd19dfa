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
/// only when this is empty. Reads only: diesel's own pending check creates
/// its bookkeeping table, which a role that may not CREATE cannot, and a
/// check must not change the database anyway.
pub async fn pending_migrations(
    url: &SecretString,
    migrations: EmbeddedMigrations,
) -> anyhow::Result<Vec<String>> {
    use diesel::migration::MigrationSource;
    use diesel::sql_types::{Nullable, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = Nullable<Text>)]
        version: Option<String>,
    }
    let mut conn = crate::tls::establish(url.expose_secret()).await?;
    let bookkeeping: Version =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations')::text AS version")
            .get_result(&mut conn)
            .await?;
    let applied: std::collections::HashSet<String> = if bookkeeping.version.is_some() {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(&mut conn)
            .await?
            .into_iter()
            .filter_map(|row| row.version)
            .collect()
    } else {
        Default::default()
    };
    let known = MigrationSource::<diesel::pg::Pg>::migrations(&migrations)
        .map_err(|e| anyhow::anyhow!("could not read the embedded migrations: {e}"))?;
    Ok(known
        .iter()
        .filter(|migration| !applied.contains(&migration.name().version().to_string()))
        .map(|migration| migration.name().to_string())
        .collect())
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
