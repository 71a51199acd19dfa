//! Autovacuum's job, done by the service for its own tables where autovacuum
//! is off (docs/architecture.md, "Upkeep where autovacuum is off").
//!
//! Without ANALYZE the planner keeps believing a table is as small as when
//! it was created: a diary read then walks every booked appointment of the
//! network instead of one physio's window, and the relay walks every
//! retained outbox row to find the few pending ones. Without VACUUM every
//! row changed leaves a dead entry in each index that later scans visit.
//! Both costs grow with the data, so where the server does not keep its
//! tables (autovacuum off, as on some CI and benchmark machines), each
//! service does it for its own, by autovacuum's own rules. Where autovacuum
//! is on, this does nothing at all.

use crate::Pool;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the tables' change counts are read.
const EVERY: Duration = Duration::from_secs(5);
/// Changed rows after which a table is analyzed, beside autovacuum's own
/// rule (50 plus a tenth of the table), which alone would let a table that
/// keeps rows for days (the outbox, the inbox) go for days between runs.
const ANALYZE_AT_MOST_EVERY: i64 = 1_000;
/// Likewise for dead rows and VACUUM (autovacuum: 50 plus a fifth).
const VACUUM_AT_MOST_EVERY: i64 = 1_000;

/// What a pass did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Vacuumed(String),
    Analyzed(String),
}

/// Runs until `shutdown`: nothing where autovacuum is on, otherwise a pass
/// every few seconds.
pub async fn run(pool: Pool, shutdown: CancellationToken) {
    loop {
        match autovacuum_is_on(&pool).await {
            Ok(true) => return,
            Ok(false) => break,
            // Not known yet (the database is starting, say): ask again.
            Err(err) => tracing::debug!(error = %err, "cannot read the autovacuum setting yet"),
        }
        if pause(&shutdown).await {
            return;
        }
    }
    tracing::info!("autovacuum is off: this service vacuums and analyzes its own tables");
    loop {
        match pass(&pool).await {
            Ok(kept) if !kept.is_empty() => tracing::debug!(?kept, "tables kept"),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "table upkeep failed; retrying")
            }
        }
        if pause(&shutdown).await {
            return;
        }
    }
}

/// True when `shutdown` came first.
async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(EVERY) => false,
    }
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Bool)]
    enabled: bool,
}

async fn autovacuum_is_on(pool: &Pool) -> anyhow::Result<bool> {
    let mut conn = pool.get().await?;
    let setting: Setting =
        diesel::sql_query("SELECT current_setting('autovacuum')::bool AS enabled")
            .get_result(&mut conn)
            .await?;
    Ok(setting.enabled)
}

#[derive(QueryableByName)]
struct Due {
    /// Quoted and schema-qualified where needed (`regclass` output).
    #[diesel(sql_type = Text)]
    relation: String,
    #[diesel(sql_type = Bool)]
    vacuum: bool,
}

/// Vacuums (and analyzes) each table of the database with more dead rows
/// than autovacuum would allow, and analyzes each with more changed rows,
/// whatever the autovacuum setting; returns what it did. A table another
/// replica is keeping at that moment is skipped, not waited for.
pub async fn pass(pool: &Pool) -> anyhow::Result<Vec<Kept>> {
    let mut conn = pool.get().await?;
    // The statistics views lag the writes by up to a second or so: a table
    // just under the line is kept on a later pass.
    let due: Vec<Due> = diesel::sql_query(
        "SELECT relid::regclass::text AS relation, \
                s.n_dead_tup > least(50 + 0.2 * greatest(c.reltuples, 0), $1) AS vacuum \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.n_dead_tup > least(50 + 0.2 * greatest(c.reltuples, 0), $1) \
            OR s.n_mod_since_analyze > least(50 + 0.1 * greatest(c.reltuples, 0), $2) \
         ORDER BY s.n_dead_tup + s.n_mod_since_analyze DESC",
    )
    .bind::<BigInt, _>(VACUUM_AT_MOST_EVERY)
    .bind::<BigInt, _>(ANALYZE_AT_MOST_EVERY)
    .load(&mut conn)
    .await?;
    let mut kept = Vec::with_capacity(due.len());
    for Due { relation, vacuum } in due {
        // Outside a transaction (VACUUM refuses to run in one): a pooled
        // connection is in none.
        if vacuum {
            diesel::sql_query(format!("VACUUM (ANALYZE, SKIP_LOCKED) {relation}"))
                .execute(&mut conn)
                .await?;
            kept.push(Kept::Vacuumed(relation));
        } else {
            diesel::sql_query(format!("ANALYZE (SKIP_LOCKED) {relation}"))
                .execute(&mut conn)
                .await?;
            kept.push(Kept::Analyzed(relation));
        }
    }
    Ok(kept)
}
