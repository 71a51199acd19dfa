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
use diesel::data_types::PgInterval;
use diesel::sql_types::{BigInt, Bool, Interval, Text};
use diesel_async::RunQueryDsl;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the tables' change counts are read.
const EVERY: Duration = Duration::from_secs(5);
/// The least time between two ANALYZEs of a table, or two VACUUMs for rows
/// inserted, as autovacuum's naptime keeps them: each ANALYZE reads up to
/// 30,000 rows and makes every connection plan the table's statements
/// afresh, which at every 5 s on each busy table cost more than the plans
/// it kept right. A table that more than doubled since it was last analyzed
/// is analyzed sooner, so the planner's view of a growing table is never
/// off by more than half. Dead rows are vacuumed at every pass that finds
/// them due: they slow every index scan that meets them.
pub const NAPTIME: Duration = Duration::from_secs(60);
/// Changed rows after which a table is analyzed, beside autovacuum's own
/// rule (50 plus a tenth of the table), which alone would let a table that
/// keeps rows for days (the outbox, the inbox) go for days between runs.
const ANALYZE_AT_MOST_EVERY: i64 = 1_000;
/// Likewise for dead rows and VACUUM (autovacuum: 50 plus a fifth), and
/// for rows inserted since the last VACUUM (autovacuum: 1,000 plus a
/// fifth), whose VACUUM marks their pages all-visible, so index-only scans
/// (a diary read) need not visit them.
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
        match pass(&pool, NAPTIME).await {
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
    vacuum_due: bool,
    #[diesel(sql_type = Bool)]
    analyze_due: bool,
}

/// Vacuums each table of the database with more dead rows, or more rows
/// inserted since its last VACUUM, than autovacuum would allow, and
/// analyzes each with more changed rows, whatever the autovacuum setting;
/// returns what it did. Inserted and changed rows count only once
/// `naptime` has passed since the table was last kept for them (or
/// it more than doubled). A table another replica is keeping at that moment
/// is skipped, not waited for.
pub async fn pass(pool: &Pool, naptime: Duration) -> anyhow::Result<Vec<Kept>> {
    let mut conn = pool.get().await?;
    // The statistics views lag the writes by up to a second or so: a table
    // just under the line is kept on a later pass.
    let due: Vec<Due> = diesel::sql_query(
        "WITH t AS ( \
           SELECT s.relid, greatest(c.reltuples, 0) AS size, s.n_dead_tup, \
                  s.n_ins_since_vacuum, s.n_mod_since_analyze, \
                  coalesce(s.last_vacuum, '-infinity') < now() - $3 AS vacuum_rested, \
                  coalesce(s.last_analyze, '-infinity') < now() - $3 \
                    OR s.n_mod_since_analyze > greatest(c.reltuples, 0) AS analyze_rested \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid), \
         due AS ( \
           SELECT relid, n_dead_tup + n_mod_since_analyze AS weight, \
                  n_dead_tup > least(50 + 0.2 * size, $1) \
                    OR (n_ins_since_vacuum > least(1000 + 0.2 * size, $1) AND vacuum_rested) \
                    AS vacuum_due, \
                  n_mod_since_analyze > least(50 + 0.1 * size, $2) AND analyze_rested AS analyze_due \
             FROM t) \
         SELECT relid::regclass::text AS relation, vacuum_due, analyze_due FROM due \
          WHERE vacuum_due OR analyze_due ORDER BY weight DESC",
    )
    .bind::<BigInt, _>(VACUUM_AT_MOST_EVERY)
    .bind::<BigInt, _>(ANALYZE_AT_MOST_EVERY)
    .bind::<Interval, _>(PgInterval::from_microseconds(
        i64::try_from(naptime.as_micros()).unwrap_or(i64::MAX),
    ))
    .load(&mut conn)
    .await?;
    let mut kept = Vec::with_capacity(due.len());
    for Due {
        relation,
        vacuum_due,
        analyze_due,
    } in due
    {
        // Outside a transaction (VACUUM refuses to run in one): a pooled
        // connection is in none.
        let command = match (vacuum_due, analyze_due) {
            (true, true) => "VACUUM (ANALYZE, SKIP_LOCKED)",
            (true, false) => "VACUUM (SKIP_LOCKED)",
            (false, _) => "ANALYZE (SKIP_LOCKED)",
        };
        diesel::sql_query(format!("{command} {relation}"))
            .execute(&mut conn)
            .await?;
        kept.push(if vacuum_due {
            Kept::Vacuumed(relation)
        } else {
            Kept::Analyzed(relation)
        });
    }
    Ok(kept)
}
