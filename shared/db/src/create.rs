use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use spotter_platform::settings::DatabaseSettings;

/// Creates the database named in `settings` if it does not exist yet, by
/// connecting to the server's `postgres` maintenance database. The dev stack
/// uses this so a fresh machine needs no manual `createdb`.
pub async fn ensure_database_exists(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let name = settings.database_name();
    anyhow::ensure!(
        is_plain_identifier(&name),
        "unexpected database name {name:?}"
    );
    let maintenance = settings.with_database("postgres");
    let mut conn = AsyncPgConnection::establish(maintenance.url.expose_secret()).await?;
    if database_exists(&mut conn, &name).await? {
        return Ok(());
    }
    match diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
    {
        Ok(_) => {
            tracing::info!(database = %name, "database created");
            Ok(())
        }
        // Another process created it between our check and our create.
        Err(_) if database_exists(&mut conn, &name).await? => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn database_exists(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> anyhow::Result<bool> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await?;
    Ok(count.n > 0)
}

/// Database names are built by us, never from requests; still, they are spliced
/// into DDL, so only plain identifiers pass.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
