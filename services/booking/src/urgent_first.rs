//! Urgent first for the database and the CPU, not only in the queues
//! (docs/architecture.md, "Booking lanes"): while an urgent request is being
//! booked, in this process or in another booking replica, the routine lane
//! starts no new request (those already running finish), so the urgent one
//! shares the database with as little routine work as possible. A routine
//! request waits at most `ROUTINE_YIELDS_AT_MOST`, so a flood of urgent
//! requests slows the routine lane but never stops it.
//!
//! Within a process the gate is a counter. Across replicas the urgent
//! request's transaction holds a shared advisory lock (`mark_running`),
//! which the database releases with the transaction whatever happens to the
//! process; a routine admission reads `pg_locks` for it, at most once per
//! `LOOK_AGAIN` per process, so the check costs a statement per 20 ms of
//! routine work, not one per request.

use crate::lanes::Lane;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::{Pool, prepared};
use spotter_messaging::{Admission, Admitted};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};

const ROUTINE_YIELDS_AT_MOST: Duration = Duration::from_secs(1);
/// How old another replica's answer may be, and how often a waiting routine
/// request asks again.
const LOOK_AGAIN: Duration = Duration::from_millis(20);
/// The advisory lock an urgent booking holds shared. Small enough that
/// `pg_locks` shows it as `objid` with `classid` 0; the diary and referral
/// locks use keys of 64 random bits, which never come this low in practice.
const URGENT_RUNNING: i64 = 0x5572_6765;

#[derive(Clone)]
pub struct UrgentFirst {
    urgent_running: Arc<watch::Sender<usize>>,
    elsewhere: Option<Arc<Elsewhere>>,
    yields_at_most: Duration,
}

impl UrgentFirst {
    /// Within this process only (tests of the gate itself).
    pub fn in_process() -> Self {
        Self {
            urgent_running: Arc::new(watch::Sender::new(0)),
            elsewhere: None,
            yields_at_most: ROUTINE_YIELDS_AT_MOST,
        }
    }

    /// Within this process and across every booking process on `pool`'s
    /// database.
    pub fn across_replicas(pool: Pool) -> Self {
        Self {
            elsewhere: Some(Arc::new(Elsewhere {
                pool,
                last: Mutex::new(None),
            })),
            ..Self::in_process()
        }
    }

    /// The longest a routine request yields (tests wait longer than a second
    /// to tell "let through" from "gave up waiting").
    pub fn yielding_at_most(mut self, limit: Duration) -> Self {
        self.yields_at_most = limit;
        self
    }

    /// When a delivery of `lane` may start (`ConsumerSpec::admission`).
    pub fn admission(&self, lane: Lane) -> Admission {
        let running = self.urgent_running.clone();
        match lane {
            Lane::Urgent => Arc::new(move |_| {
                running.send_modify(|n| *n += 1);
                let done: Admitted = Box::new(UrgentDone(running.clone()));
                Box::pin(std::future::ready(done))
            }),
            Lane::Routine => {
                let elsewhere = self.elsewhere.clone();
                let limit = self.yields_at_most;
                Arc::new(move |_| {
                    let here = running.subscribe();
                    let elsewhere = elsewhere.clone();
                    Box::pin(async move {
                        let _ = tokio::time::timeout(limit, none_urgent(here, elsewhere)).await;
                        Box::new(()) as Admitted
                    })
                })
            }
        }
    }

    #[cfg(test)]
    fn urgent_running(&self) -> usize {
        *self.urgent_running.borrow()
    }
}

/// Returns once no urgent request runs here or (as last seen) elsewhere.
async fn none_urgent(mut here: watch::Receiver<usize>, elsewhere: Option<Arc<Elsewhere>>) {
    loop {
        if here.wait_for(|&n| n == 0).await.is_err() {
            return;
        }
        match &elsewhere {
            Some(replicas) if replicas.urgent_running().await => {
                tokio::time::sleep(LOOK_AGAIN).await;
            }
            _ => return,
        }
    }
}

/// Marks, until the transaction ends, that an urgent request is being booked
/// on this connection: every replica's routine lane holds back meanwhile.
pub async fn mark_running(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    prepared(
        diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind::<BigInt, _>(URGENT_RUNNING),
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// What the booking processes sharing the database are doing, read from
/// `pg_locks` and remembered for `LOOK_AGAIN`.
struct Elsewhere {
    pool: Pool,
    /// The last answer and when it was read; one reader at a time, the
    /// others wait for its answer.
    last: Mutex<Option<(Instant, bool)>>,
}

impl Elsewhere {
    async fn urgent_running(&self) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, running)) = *last
            && at.elapsed() < LOOK_AGAIN
        {
            return running;
        }
        let running = match self.read().await {
            Ok(running) => running,
            Err(err) => {
                // Not knowing is no reason to stop routine work.
                tracing::debug!(error = %err, "could not see other replicas' urgent work");
                false
            }
        };
        *last = Some((Instant::now(), running));
        running
    }

    async fn read(&self) -> anyhow::Result<bool> {
        #[derive(QueryableByName)]
        struct Held {
            #[diesel(sql_type = Bool)]
            held: bool,
        }
        let mut conn = self.pool.get().await?;
        // Reading pg_locks takes no lock of ours, so it never delays the
        // urgent request it looks for.
        let row: Held = prepared(
            diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM pg_locks \
                 WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 \
                   AND objsubid = 1 AND granted \
                   AND database = (SELECT oid FROM pg_database \
                                   WHERE datname = current_database())) AS held",
            )
            .bind::<BigInt, _>(URGENT_RUNNING),
        )
        .get_result(&mut conn)
        .await?;
        Ok(row.held)
    }
}

/// One urgent request settled: the routine lane may go on once none runs.
struct UrgentDone(Arc<watch::Sender<usize>>);

impl Drop for UrgentDone {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn routine_requests_wait_while_an_urgent_one_runs() {
        let gate = UrgentFirst::in_process();
        let (urgent, routine) = (gate.admission(Lane::Urgent), gate.admission(Lane::Routine));
        // Nothing urgent: a routine request starts at once.
        tokio::time::timeout(Duration::from_millis(100), routine(None))
            .await
            .unwrap();

        let first = urgent(None).await;
        let second = urgent(None).await;
        assert_eq!(gate.urgent_running(), 2);
        let mut waiting = tokio::spawn(routine(None));
        drop(first);
        // One urgent request still runs: the routine one still waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut waiting)
                .await
                .is_err()
        );
        drop(second);
        tokio::time::timeout(Duration::from_millis(500), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(gate.urgent_running(), 0);
    }

    #[tokio::test]
    async fn a_flood_of_urgent_requests_slows_routine_ones_but_never_stops_them() {
        let gate = UrgentFirst::in_process();
        let _held = gate.admission(Lane::Urgent)(None).await;
        let started = std::time::Instant::now();
        gate.admission(Lane::Routine)(None).await;
        let waited = started.elapsed();
        assert!(waited >= ROUTINE_YIELDS_AT_MOST, "{waited:?}");
        assert!(waited < ROUTINE_YIELDS_AT_MOST * 3, "{waited:?}");
    }

    /// Another booking process (here a connection of the test's own) books
    /// an urgent request: this process's routine lane waits until that
    /// transaction ends, then goes on.
    #[tokio::test]
    async fn routine_requests_wait_while_another_replica_books_an_urgent_one() {
        use diesel_async::AsyncConnection;
        let db = spotter_db::testing::TestDatabase::create("urgent", &[])
            .await
            .unwrap();
        let replica = || {
            let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
            // Far longer than the test waits: "let through" is never "gave up".
            UrgentFirst::across_replicas(pool).yielding_at_most(Duration::from_secs(300))
        };
        // Nothing urgent anywhere: a routine request starts at once.
        tokio::time::timeout(
            Duration::from_secs(10),
            replica().admission(Lane::Routine)(None),
        )
        .await
        .unwrap();

        let other = spotter_db::connect(&db.settings.url, 1).unwrap();
        let (marked, is_marked) = tokio::sync::oneshot::channel();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let urgent = tokio::spawn(async move {
            let mut conn = other.get().await.unwrap();
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                mark_running(conn).await?;
                marked.send(()).unwrap();
                finished.await.unwrap();
                Ok(())
            })
            .await
            .unwrap();
        });
        is_marked.await.unwrap();

        let mut waiting = tokio::spawn(replica().admission(Lane::Routine)(None));
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut waiting)
                .await
                .is_err(),
            "a routine request started while another replica booked an urgent one"
        );
        finish.send(()).unwrap();
        urgent.await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the routine request should go on once the urgent one committed")
            .unwrap();
    }
}
