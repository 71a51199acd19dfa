//! A fresh database per test, cloned from a migrated template.
//!
//! PostgreSQL is shared by every test running at once (nextest runs each test in
//! its own process), so each test gets a database of its own: `CREATE DATABASE …
//! TEMPLATE` copies a template that was migrated once per migrations content.
//! The template is built under an advisory lock so concurrent processes agree.

pub mod plans;

use crate::create::{database_owner, is_plain_identifier};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use spotter_platform::settings::DatabaseSettings;
use std::path::{Path, PathBuf};

pub struct TestDatabase {
    /// Settings pointing at this test's own database.
    pub settings: DatabaseSettings,
    name: String,
    server: DatabaseSettings,
}

impl TestDatabase {
    /// `label` names the service (`referral`); `migration_dirs` are the
    /// `migrations/` folders applied in order (shared crates' first), whose
    /// content decides when the template is rebuilt.
    pub async fn create(label: &str, migration_dirs: &[PathBuf]) -> anyhow::Result<Self> {
        let name = format!("spotter_test_{label}_{}", uuid::Uuid::new_v4().simple());
        Self::create_named(name, label, migration_dirs).await
    }

    /// The same, under a name the test chooses (a process that names its own
    /// databases, like `spotter dev --db-prefix`, then finds them made).
    pub async fn create_named(
        name: String,
        label: &str,
        migration_dirs: &[PathBuf],
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(is_plain_identifier(&name), "bad database name {name:?}");
        let server = server_settings()?;
        let template = ensure_template(&server, label, migration_dirs).await?;
        let mut conn = connect(&server, "postgres").await?;
        let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        let mut attempts = 0;
        // Two CREATE DATABASE … TEMPLATE at the same instant can see each other
        // as "accessing" the template; a short retry settles it.
        while let Err(err) = diesel::sql_query(&sql).execute(&mut conn).await {
            attempts += 1;
            if attempts >= 20 || !err.to_string().contains("being accessed by other users") {
                return Err(err.into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * attempts)).await;
        }
        Ok(Self {
            settings: server.with_database(&name),
            name,
            server,
        })
    }

    /// A database a process under test creates itself (`spotter dev` does):
    /// nothing is made here, but it is dropped with this value.
    pub fn claim(name: String) -> anyhow::Result<Self> {
        anyhow::ensure!(is_plain_identifier(&name), "bad database name {name:?}");
        let server = server_settings()?;
        Ok(Self {
            settings: server.with_database(&name),
            name,
            server,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection of the test's own to this database, outside any pool
    /// (to seed it, or to watch how one connection plans its statements).
    pub async fn connection(&self) -> anyhow::Result<AsyncPgConnection> {
        crate::establish(self.settings.url.expose_secret()).await
    }

    /// Runs one SQL statement as the server's administrator and returns
    /// the rows it touched: an end-to-end test standing in for the clock
    /// (moving a due time) in a running stack's database.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<usize> {
        let mut conn = connect(&self.server, &self.name).await?;
        Ok(diesel::sql_query(sql).execute(&mut conn).await?)
    }

    /// Asserts, for each `(table, column, values)`, that the column's CHECK
    /// allows exactly `values` (the names a Rust enum declares).
    pub async fn assert_checks_allow(&self, columns: &[(&str, &str, Vec<String>)]) {
        for (table, column, declared) in columns {
            let mut declared = declared.clone();
            declared.sort();
            let allowed = self.allowed_values(table, column).await;
            assert_eq!(allowed.ok(), Some(declared), "{table}.{column}");
        }
    }

    /// The names a text (or text array) column's CHECK allows: every quoted
    /// literal of the CHECK constraints on that column alone, sorted. Lets a
    /// test compare a column with the Rust enum it stores.
    pub async fn allowed_values(&self, table: &str, column: &str) -> anyhow::Result<Vec<String>> {
        #[derive(diesel::QueryableByName)]
        struct Definition {
            #[diesel(sql_type = diesel::sql_types::Text)]
            definition: String,
        }
        let mut conn = connect(&self.server, &self.name).await?;
        let definitions: Vec<Definition> = diesel::sql_query(
            "SELECT pg_get_constraintdef(c.oid) AS definition \
             FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.contype = 'c' AND c.conrelid = $1::regclass AND a.attname = $2 \
               AND cardinality(c.conkey) = 1",
        )
        .bind::<diesel::sql_types::Text, _>(table)
        .bind::<diesel::sql_types::Text, _>(column)
        .load(&mut conn)
        .await?;
        let mut values: Vec<String> = definitions
            .iter()
            .flat_map(|d| {
                d.definition
                    .split('\'')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
            })
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        spotter_platform::testing::block_on_own_thread(async move {
            if let Ok(mut conn) = connect(&server, "postgres").await {
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = diesel::sql_query(sql).execute(&mut conn).await;
            }
        });
    }
}

/// The server the tests use: `SPOTTER_DATABASE__URL` if set, else the default.
fn server_settings() -> anyhow::Result<DatabaseSettings> {
    Ok(spotter_platform::settings::load_from("test", None)?.database)
}

async fn connect(server: &DatabaseSettings, database: &str) -> anyhow::Result<AsyncPgConnection> {
    let url = server.with_database(database).url;
    crate::tls::establish(url.expose_secret()).await
}

async fn ensure_template(
    server: &DatabaseSettings,
    label: &str,
    dirs: &[PathBuf],
) -> anyhow::Result<String> {
    anyhow::ensure!(is_plain_identifier(label), "bad label {label:?}");
    let digest = migrations_digest(dirs)?;
    let template = format!("spotter_tpl_{label}_{}", &digest[..16]);
    let mut conn = connect(server, "postgres").await?;
    if database_owner(&mut conn, &template).await?.is_some() {
        return Ok(template);
    }
    let lock_key = i64::from_str_radix(&digest[..15], 16)?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(lock_key)
        .execute(&mut conn)
        .await?;
    let built = build_template(server, &mut conn, &template, dirs).await;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(lock_key)
        .execute(&mut conn)
        .await?;
    built?;
    Ok(template)
}

async fn build_template(
    server: &DatabaseSettings,
    conn: &mut AsyncPgConnection,
    template: &str,
    dirs: &[PathBuf],
) -> anyhow::Result<()> {
    if database_owner(conn, template).await?.is_some() {
        return Ok(()); // another process built it while we waited for the lock
    }
    // Built under a temporary name and renamed when complete, so a crash midway
    // never leaves a half-migrated template behind.
    let building = format!("{template}_wip");
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
    ))
    .execute(conn)
    .await?;
    diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
        .execute(conn)
        .await?;
    let target = connect(server, &building).await?;
    let dirs = dirs.to_vec();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let _guard = handle.enter();
        let mut harness = AsyncMigrationHarness::new(target);
        for dir in &dirs {
            let migrations = FileBasedMigrations::from_path(dir)?;
            harness
                .run_pending_migrations(migrations)
                .map_err(|e| anyhow::anyhow!("migrating the test template failed: {e}"))?;
        }
        drop(harness.into_inner());
        Ok(())
    })
    .await??;
    diesel::sql_query(format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
    ))
    .execute(conn)
    .await?;
    drop_older_templates(conn, template).await;
    Ok(())
}

/// Templates of the same service built from older migrations are dead
/// weight once a new one exists; best effort (one still being copied from
/// by a test of an older checkout stays until next time).
async fn drop_older_templates(conn: &mut AsyncPgConnection, current: &str) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let Some(label_prefix) = current
        .rsplit_once('_')
        .map(|(prefix, _)| format!("{prefix}_"))
    else {
        return;
    };
    let older: Vec<Name> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
    )
    .bind::<diesel::sql_types::Text, _>(&label_prefix)
    .bind::<diesel::sql_types::Text, _>(current)
    .load(conn)
    .await
    .unwrap_or_default();
    for name in older
        .into_iter()
        .filter(|n| is_plain_identifier(&n.datname))
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\"", name.datname))
            .execute(conn)
            .await;
    }
}

/// Hash of every file under the migrations folder, so editing a migration
/// builds a new template instead of reusing a stale one.
fn migrations_digest(dirs: &[PathBuf]) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for dir in dirs {
        let mut files = Vec::new();
        collect_files(dir, &mut files)?;
        files.sort();
        for file in files {
            hasher.update(file.strip_prefix(dir)?.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(&file)?);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
