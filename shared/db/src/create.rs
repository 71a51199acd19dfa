use diesel::OptionalExtension;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use spotter_platform::settings::DatabaseSettings;

/// Creates the database named in `settings` if it does not exist yet, by
/// connecting to the server's `postgres` maintenance database. The dev stack
/// uses this so a fresh machine needs no manual `createdb`.
pub async fn ensure_database_exists(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let (mut conn, name) = maintenance(settings).await?;
    create_if_missing(&mut conn, &name, "").await?;
    Ok(())
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
    anyhow::ensure!(is_plain_identifier(owner), "unexpected role name {owner:?}");
    let (mut conn, name) = maintenance(settings).await?;
    let current = create_if_missing(&mut conn, &name, &format!(" OWNER \"{owner}\""))
        .await
        .map_err(|e| {
            e.context(format!(
                "creating {name} owned by {owner} (deploy/local/ensure-deps.sh creates the role; make run runs it)"
            ))
        })?;
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

/// A connection to the server's `postgres` database, and the (checked) name
/// of the database `settings` point at.
async fn maintenance(settings: &DatabaseSettings) -> anyhow::Result<(AsyncPgConnection, String)> {
    let name = settings.database_name();
    anyhow::ensure!(
        is_plain_identifier(&name),
        "unexpected database name {name:?}"
    );
    let maintenance = settings.with_database("postgres");
    let conn = crate::tls::establish(maintenance.url.expose_secret()).await?;
    Ok((conn, name))
}

/// Creates `name` (`CREATE DATABASE name{clause}`) unless it exists, and
/// returns its owner. A create that loses a race with another process is
/// fine: the database is there either way. A missing owner role fails the
/// create, and the error says so.
async fn create_if_missing(
    conn: &mut AsyncPgConnection,
    name: &str,
    clause: &str,
) -> anyhow::Result<String> {
    if let Some(owner) = database_owner(conn, name).await? {
        return Ok(owner);
    }
    let created = diesel::sql_query(format!("CREATE DATABASE \"{name}\"{clause}"))
        .execute(conn)
        .await;
    match (created, database_owner(conn, name).await?) {
        (Ok(_), Some(owner)) => {
            tracing::info!(database = %name, %owner, "database created");
            Ok(owner)
        }
        // Another process created it between our check and our create.
        (Err(_), Some(owner)) => Ok(owner),
        (Err(e), None) => Err(e.into()),
        (Ok(_), None) => anyhow::bail!("database {name} was created but is not there"),
    }
}

/// The role that owns database `name`, if it exists.
pub async fn database_owner(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> anyhow::Result<Option<String>> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Text)]
        owner: String,
    }
    let row: Option<Owner> = diesel::sql_query(
        "SELECT pg_get_userbyid(datdba)::text AS owner FROM pg_database WHERE datname = $1",
    )
    .bind::<Text, _>(name)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| r.owner))
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
