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
//! process, and announces itself on a NOTIFY channel once it holds it. Only
//! after an announcement does a routine admission look whether the lock is
//! held (at most once per `LOOK_AGAIN` per process), until it finds it free:
//! a routine lane with no urgent work anywhere asks the database nothing.
//! Urgent requests the waitlist retries run in booking's background worker,
//! outside the lanes, and hold back nothing.

use crate::lanes::Lane;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::AsyncPgConnection;
use secrecy::SecretString;
use spotter_db::{Pool, prepared};
use spotter_messaging::{Admission, Admitted};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;

const ROUTINE_YIELDS_AT_MOST: Duration = Duration::from_secs(1);
/// How old another replica's answer may be, and how often a waiting routine
/// request asks again.
const LOOK_AGAIN: Duration = Duration::from_millis(20);
/// The advisory lock an urgent booking holds shared (the diary and referral
/// locks use keys of 64 random bits, which never meet this one in practice).
const URGENT_RUNNING: i64 = 0x5572_6765;
/// How long the gate waits for one of the bookings' pooled connections to
/// look or to announce. Under load the pool is busy with bookings, and a
/// look that waits longer delays more than it saves: not knowing lets the
/// routine request go, and an announcement later than this is dropped.
const CONNECTION_WAIT: Duration = Duration::from_millis(20);
/// Where an urgent booking announces that it holds `URGENT_RUNNING`.
const ANNOUNCED: &str = "spotter_booking_urgent";

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
    /// Run `hear_announcements` beside it, or it never looks.
    pub fn across_replicas(pool: Pool) -> Self {
        Self::across_replicas_waiting(pool, CONNECTION_WAIT)
    }

    /// As `across_replicas`, waiting up to `connection_wait` for a pooled
    /// connection (tests wait longer: a busy machine is no reason to fail).
    fn across_replicas_waiting(pool: Pool, connection_wait: Duration) -> Self {
        Self {
            elsewhere: Some(Arc::new(Elsewhere {
                pool,
                connection_wait,
                announced: AtomicU64::new(0),
                settled: AtomicU64::new(0),
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

    /// Marks, until the transaction ends, that an urgent request is being
    /// booked on this connection, and tells every replica so: their routine
    /// lanes hold back meanwhile. The announcement goes out on a connection
    /// of its own once the lock is held (a NOTIFY in the transaction would
    /// arrive only at its end), so whoever hears it finds the lock.
    pub async fn mark_running(&self, conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
        // In here only: its `load` would shadow the atomics' elsewhere.
        use diesel_async::RunQueryDsl;
        prepared(
            diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
                .bind::<BigInt, _>(URGENT_RUNNING),
        )
        .execute(conn)
        .await?;
        if let Some(replicas) = &self.elsewhere {
            let (pool, wait) = (replicas.pool.clone(), replicas.connection_wait);
            tokio::spawn(async move {
                let announced = async {
                    let mut conn = tokio::time::timeout(wait, pool.get()).await??;
                    spotter_db::notify(&mut conn, ANNOUNCED).await?;
                    anyhow::Ok(())
                };
                if let Err(err) = announced.await {
                    tracing::debug!(error = %err, "could not announce an urgent booking");
                }
            });
        }
        Ok(())
    }

    /// Counts the urgent bookings announced by any replica until `shutdown`.
    /// Each time the listener (re)connects counts as one too: what was
    /// announced while it was away is then looked for once.
    pub async fn hear_announcements(self, url: SecretString, shutdown: CancellationToken) {
        let Some(replicas) = self.elsewhere else {
            return;
        };
        let (heard, mut announcements) = mpsc::channel(1);
        tokio::spawn(spotter_db::listen(url, ANNOUNCED, heard, shutdown.clone()));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                got = announcements.recv() => match got {
                    Some(()) => { replicas.announced.fetch_add(1, Ordering::AcqRel); }
                    None => return,
                },
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

/// What the booking processes sharing the database are doing: announced
/// urgent bookings, and whether any still holds `URGENT_RUNNING`.
struct Elsewhere {
    pool: Pool,
    /// `CONNECTION_WAIT`, but for tests.
    connection_wait: Duration,
    /// Urgent bookings announced so far (by any replica, this one too).
    announced: AtomicU64,
    /// How many of those a look has seen finished: when it equals
    /// `announced`, nothing urgent runs anywhere and nobody asks.
    settled: AtomicU64,
    /// The last answer, when it was read and how many had been announced
    /// then; one reader at a time, the others wait for its answer (at most
    /// `CONNECTION_WAIT` and a round trip).
    last: Mutex<Option<(Instant, u64, bool)>>,
}

impl Elsewhere {
    async fn urgent_running(&self) -> bool {
        let announced = self.announced.load(Ordering::Acquire);
        if announced <= self.settled.load(Ordering::Acquire) {
            return false;
        }
        let mut last = self.last.lock().await;
        // A fresh "running" holds whatever was announced since (during a
        // flood of urgent work that is what keeps the looks to one per
        // `LOOK_AGAIN`); a fresh "none" does not cover a later announcement.
        if let Some((at, seen, running)) = *last
            && at.elapsed() < LOOK_AGAIN
            && (running || seen == announced)
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
        *last = Some((Instant::now(), announced, running));
        if !running {
            // Whatever was announced before this read has finished; a later
            // announcement makes the next admission look again.
            self.settled.fetch_max(announced, Ordering::AcqRel);
        }
        running
    }

    /// Whether any urgent booking holds `URGENT_RUNNING` now: the lock
    /// cannot be taken exclusively while one holds it shared. Outside a
    /// transaction a taken lock is let go as the statement ends, so an urgent
    /// request that comes to mark itself just then waits that long at most.
    /// (Reading `pg_locks` instead would take every lock partition's LWLock,
    /// slowing every lock the bookings take, for each look.)
    async fn read(&self) -> anyhow::Result<bool> {
        use diesel_async::RunQueryDsl;
        #[derive(QueryableByName)]
        struct Free {
            #[diesel(sql_type = Bool)]
            free: bool,
        }
        let mut conn = tokio::time::timeout(self.connection_wait, self.pool.get()).await??;
        let row: Free = prepared(
            diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS free")
                .bind::<BigInt, _>(URGENT_RUNNING),
        )
        .get_result(&mut conn)
        .await?;
        Ok(!row.free)
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

    /// During a flood of urgent work announcements keep coming: a fresh
    /// "running" answers them all, so a process looks at most once per
    /// `LOOK_AGAIN` however many arrive; a fresh "none" answers only what
    /// was announced before it.
    #[tokio::test]
    async fn a_fresh_answer_that_urgent_work_runs_covers_later_announcements() {
        // Nothing listens there: a look would fail, and a failed look says "none".
        let nowhere = SecretString::from("postgres://nobody@127.0.0.1:1/none");
        let gate = UrgentFirst::across_replicas(spotter_db::connect(&nowhere, 1).unwrap());
        let replicas = gate.elsewhere.unwrap();
        replicas.announced.store(5, Ordering::Release);
        *replicas.last.lock().await = Some((Instant::now(), 3, true));
        assert!(replicas.urgent_running().await, "it looked again");

        *replicas.last.lock().await = Some((Instant::now(), 3, false));
        assert!(!replicas.urgent_running().await);
        let (_, seen, _) = replicas.last.lock().await.unwrap();
        assert_eq!(seen, 5, "a stale \"none\" should make it look again");
    }

    /// Another booking process books an urgent request: this process's
    /// routine lane waits until that transaction ends, then goes on. Before
    /// any urgent work was announced, it asks the database nothing.
    #[tokio::test]
    async fn routine_requests_wait_while_another_replica_books_an_urgent_one() {
        use diesel_async::AsyncConnection;
        let db = spotter_db::testing::TestDatabase::create("urgent", &[])
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let _stop = shutdown.clone().drop_guard();
        let replica = || {
            let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
            // Far longer than the test waits: "let through" is never "gave up"
            // or "could not look".
            let gate = UrgentFirst::across_replicas_waiting(pool, Duration::from_secs(300))
                .yielding_at_most(Duration::from_secs(300));
            let listening = gate.clone();
            tokio::spawn(listening.hear_announcements(db.settings.url.clone(), shutdown.clone()));
            gate
        };
        let (here, there) = (replica(), replica());
        let replicas = here.elsewhere.clone().unwrap();
        let announced_at_least = |n: u64| {
            let replicas = replicas.clone();
            async move {
                while replicas.announced.load(Ordering::Acquire) < n {
                    tokio::task::yield_now().await;
                }
            }
        };
        // Its listener counts itself once it listens: from then on it hears.
        tokio::time::timeout(Duration::from_secs(10), announced_at_least(1))
            .await
            .expect("the listener should connect");
        let routine = here.admission(Lane::Routine);
        // Nothing urgent anywhere: a routine request starts at once, and once
        // it has seen that, the next ones ask nothing.
        tokio::time::timeout(Duration::from_secs(10), routine(None))
            .await
            .unwrap();
        let before = replicas.announced.load(Ordering::Acquire);
        assert_eq!(replicas.settled.load(Ordering::Acquire), before);

        let (marked, is_marked) = tokio::sync::oneshot::channel();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let urgent = tokio::spawn(async move {
            let pool = there.elsewhere.as_ref().unwrap().pool.clone();
            let mut conn = pool.get().await.unwrap();
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                there.mark_running(conn).await?;
                marked.send(()).unwrap();
                finished.await.unwrap();
                Ok(())
            })
            .await
            .unwrap();
        });
        is_marked.await.unwrap();
        // Heard here: a NOTIFY, so wait for the event rather than a delay.
        tokio::time::timeout(Duration::from_secs(10), announced_at_least(before + 1))
            .await
            .expect("the urgent booking's announcement should reach the other replica");

        let mut waiting = tokio::spawn(routine(None));
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
        // Seen finished: the next routine requests ask nothing.
        assert_eq!(
            replicas.settled.load(Ordering::Acquire),
            replicas.announced.load(Ordering::Acquire)
        );
    }
}
