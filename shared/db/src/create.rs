use diesel_async::{AsyncPgConnection, RunQueryDsl};
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
    let mut conn = crate::tls::establish(maintenance.url.expose_secret()).await?;
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

/// As [`ensure_database_exists`], for a service that connects as its own role:
/// the database is created owned by `owner`, and closed to every other role
/// (PostgreSQL grants CONNECT to PUBLIC by default). `settings` are an
/// administrator's, who may create databases. A database that exists but
/// belongs to someone else is an error rather than silently taken over.
///
/// `admin_sql` then runs in it as the administrator: what the owner may not
/// do itself, such as creating untrusted extensions (`ServiceDefinition::ADMIN_SQL`).
pub async fn ensure_owned_database(
    settings: &DatabaseSettings,
    owner: &str,
    admin_sql: &str,
) -> anyhow::Result<()> {
    let name = settings.database_name();
    anyhow::ensure!(
        is_plain_identifier(&name) && is_plain_identifier(owner),
        "unexpected database or role name {name:?} / {owner:?}"
    );
    let maintenance = settings.with_database("postgres");
    let mut conn = crate::tls::establish(maintenance.url.expose_secret()).await?;
    anyhow::ensure!(
        role_exists(&mut conn, owner).await?,
        "database role {owner} does not exist: deploy/local/ensure-deps.sh creates it (make run runs it)"
    );
    if !database_exists(&mut conn, &name).await? {
        let created = diesel::sql_query(format!("CREATE DATABASE \"{name}\" OWNER \"{owner}\""))
            .execute(&mut conn)
            .await;
        if let Err(e) = created
            && !database_exists(&mut conn, &name).await?
        {
            return Err(e.into());
        }
        tracing::info!(database = %name, owner, "database created");
    }
    let current = database_owner(&mut conn, &name).await?;
    anyhow::ensure!(
        current == owner,
        "database {name} belongs to {current}, not {owner}: drop it (dev data) or start without service accounts"
    );
    diesel::sql_query(format!(
        "REVOKE CONNECT, TEMPORARY ON DATABASE \"{name}\" FROM PUBLIC"
    ))
    .execute(&mut conn)
    .await?;
    if !admin_sql.is_empty() {
        use diesel_async::SimpleAsyncConnection;
        let mut inside = crate::tls::establish(settings.url.expose_secret()).await?;
        inside.batch_execute(admin_sql).await?;
    }
    Ok(())
}

async fn role_exists(conn: &mut AsyncPgConnection, role: &str) -> anyhow::Result<bool> {
    use diesel::sql_types::{Bool, Text};
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = Bool)]
        found: bool,
    }
    let row: Found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS found")
            .bind::<Text, _>(role)
            .get_result(conn)
            .await?;
    Ok(row.found)
}

async fn database_owner(conn: &mut AsyncPgConnection, name: &str) -> anyhow::Result<String> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Text)]
        owner: String,
    }
    let row: Owner = diesel::sql_query(
        "SELECT pg_get_userbyid(datdba)::text AS owner FROM pg_database WHERE datname = $1",
    )
    .bind::<Text, _>(name)
    .get_result(conn)
    .await?;
    Ok(row.owner)
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
