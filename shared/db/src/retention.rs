//! Rows that are only bookkeeping are deleted once nobody can need them, so
//! no table grows with the life of the system (`docs/architecture.md`,
//! "Retention", lists every growing table and how long it keeps rows).
//!
//! Each rule deletes in small batches through an index on its timestamp, so a
//! pass costs what it removes, never a scan of what it keeps, and never holds
//! locks long enough to stall the service's own writes.

use diesel_async::RunQueryDsl;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::Pool;

/// One kind of expired row: in `table`, those whose `timestamp` is older than
/// `keep`, and (if given) that match `only_when` as well.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub table: &'static str,
    /// A column with an index that serves `timestamp < cutoff` (for a
    /// partial index, `only_when` must imply the index's condition).
    pub timestamp: &'static str,
    pub keep: Duration,
    /// Extra SQL condition on the row, e.g. `status <> 'pending'`.
    pub only_when: Option<&'static str>,
}

/// Rows deleted per statement: short transactions, bounded locks.
const BATCH: i64 = 1_000;
/// How often a replica looks; rules keep rows for hours at least, so
/// expired rows wait at most this long beyond their window.
const EVERY: Duration = Duration::from_secs(10 * 60);

impl Rule {
    fn delete_batch_sql(&self) -> String {
        let also = self
            .only_when
            .map(|condition| format!(" AND ({condition})"))
            .unwrap_or_default();
        format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(\
               SELECT ctid FROM {table} \
               WHERE {timestamp} < now() - make_interval(secs => $1){also} \
               LIMIT $2))",
            table = self.table,
            timestamp = self.timestamp,
        )
    }
}

/// Deletes everything the rules say has expired; returns how many rows.
/// Replicas may run it at the same time: a row two of them pick is deleted
/// once, and each batch ends in its own commit.
pub async fn prune(pool: &Pool, rules: &[Rule]) -> anyhow::Result<u64> {
    let mut conn = pool.get().await?;
    let mut deleted = 0;
    for rule in rules {
        let sql = rule.delete_batch_sql();
        loop {
            let batch = diesel::sql_query(&sql)
                .bind::<diesel::sql_types::Double, _>(rule.keep.as_secs_f64())
                .bind::<diesel::sql_types::BigInt, _>(BATCH)
                .execute(&mut conn)
                .await?;
            deleted += batch as u64;
            if (batch as i64) < BATCH {
                break;
            }
        }
    }
    Ok(deleted)
}

/// A background task: prunes at start and every ten minutes until `shutdown`.
pub async fn run(pool: Pool, rules: Vec<Rule>, shutdown: CancellationToken) {
    loop {
        match prune(&pool, &rules).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned expired rows"),
            Err(err) => {
                tracing::warn!(error = %err, "pruning expired rows failed; next pass retries")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// This crate's own table: a retry with the same `Idempotency-Key` comes
/// within minutes; after a day the key (and its copy of the response, which
/// can hold personal detail) has no use.
pub const IDEMPOTENCY_KEYS: Rule = Rule {
    table: "idempotency_keys",
    timestamp: "created_at",
    keep: Duration::from_secs(24 * 3600),
    only_when: None,
};
