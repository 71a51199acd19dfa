//! Durable deadlines (docs/architecture.md, "Deadlines"): "if X has not
//! happened by T, say so". A deadline is a row in the database of the
//! service that owns X, so it survives restarts; it is started and cleared in
//! the same transaction as the fact it waits on; and each of its two steps
//! (a reminder, then an escalation) fires once however many replicas run,
//! because a replica fires it while holding its row (`FOR UPDATE SKIP
//! LOCKED`) and writes what it causes (an outbox event) and the next step in
//! that same transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use prometheus::{IntCounterVec, Opts};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Pool;
use crate::wake::{DueWork, run_when_due};
use spotter_platform::BackgroundTask;
pub use spotter_platform::vocabulary::{DeadlineKind, DeadlineStage};

diesel::table! {
    deadlines (subject_id, kind) {
        subject_id -> Uuid,
        kind -> Text,
        stage -> Text,
        started_at -> Timestamptz,
        due_at -> Timestamptz,
        escalate_at -> Timestamptz,
    }
}

/// The channel the wake trigger of migration 2026-01-01-000010 notifies.
const CHANNEL: &str = "spotter_deadlines";
/// Deadlines fired per round, each in its own transaction.
const BATCH: usize = 100;
/// A deadline whose firing failed is tried again after this long, so one
/// that keeps failing does not hold back those due after it.
const AFTER_A_FAILURE: chrono::Duration = chrono::Duration::minutes(1);

/// When a wait began, and when its reminder and its escalation fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub started_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub escalate_at: DateTime<Utc>,
}

/// A deadline step that has fallen due.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deadlines)]
pub struct Due {
    pub subject_id: Uuid,
    #[diesel(deserialize_as = String)]
    pub kind: DeadlineKind,
    #[diesel(deserialize_as = String)]
    pub stage: DeadlineStage,
    pub started_at: DateTime<Utc>,
    /// When this step fell due (or was last put off).
    pub due_at: DateTime<Utc>,
    pub escalate_at: DateTime<Utc>,
}

/// What a step that fell due came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The people it concerns were told; the escalation follows a reminder,
    /// and after the escalation the deadline is gone.
    Told,
    /// Nothing is awaited any more (it happened, and the deadline was not
    /// cleared in time): gone, without telling anyone.
    NoLongerAwaited,
    /// What it concerns is being changed right now (its row is locked):
    /// this step is looked at again then, not fired on a state about to
    /// change.
    Busy(DateTime<Utc>),
    /// A deadline that comes round again (the end of each week): this
    /// round is done, its people told when `told`, and the next round
    /// waits as `next`.
    Again { told: bool, next: Wait },
}

/// How long a step whose subject is being changed waits to be looked at
/// again: a transaction holding the row is over in moments.
pub const WHILE_BUSY: chrono::Duration = chrono::Duration::seconds(5);

impl Fired {
    /// For a firing whose `FOR UPDATE SKIP LOCKED` found no row: one that is
    /// still there is being changed right now (looked at again shortly),
    /// one that is gone awaits nothing.
    pub fn when_not_locked(still_there: bool) -> Self {
        if still_there {
            Self::Busy(Utc::now() + WHILE_BUSY)
        } else {
            Self::NoLongerAwaited
        }
    }
}

/// The service's side: what a deadline that fell due causes.
pub trait Expiry: Send + Sync {
    /// Runs in the transaction that holds the deadline's row. It takes what
    /// the deadline concerns without waiting (`SKIP LOCKED`: a transaction
    /// changing it locks it first and then clears the deadline, so waiting
    /// here could deadlock, and firing on what it is changing would tell
    /// people something already untrue; answer `Busy`), checks the thing is
    /// still awaited, and writes what the step causes.
    fn fire<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<Fired>>;
}

/// Starts (or restarts) the deadline `kind` of `subject`. A wait that
/// begins already past its escalation time skips the reminder; one past its
/// reminder time reminds at once.
pub async fn start(
    conn: &mut AsyncPgConnection,
    subject_id: Uuid,
    kind: DeadlineKind,
    wait: Wait,
) -> QueryResult<()> {
    let (stage, due_at) = if Utc::now() >= wait.escalate_at {
        (DeadlineStage::Escalation, wait.escalate_at)
    } else {
        (DeadlineStage::Reminder, wait.remind_at)
    };
    diesel::insert_into(deadlines::table)
        .values((
            deadlines::subject_id.eq(subject_id),
            deadlines::kind.eq(kind.as_str()),
            deadlines::stage.eq(stage.as_str()),
            deadlines::started_at.eq(wait.started_at),
            deadlines::due_at.eq(due_at),
            deadlines::escalate_at.eq(wait.escalate_at),
        ))
        .on_conflict((deadlines::subject_id, deadlines::kind))
        .do_update()
        .set((
            deadlines::stage.eq(excluded(deadlines::stage)),
            deadlines::started_at.eq(excluded(deadlines::started_at)),
            deadlines::due_at.eq(excluded(deadlines::due_at)),
            deadlines::escalate_at.eq(excluded(deadlines::escalate_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The awaited thing happened: the deadline `kind` of `subject` is gone.
pub async fn clear(
    conn: &mut AsyncPgConnection,
    subject_id: Uuid,
    kind: DeadlineKind,
) -> QueryResult<()> {
    diesel::delete(deadlines::table.find((subject_id, kind.as_str())))
        .execute(conn)
        .await?;
    Ok(())
}

/// The deadlines of `subject` still running (for showing what is awaited).
pub async fn of(conn: &mut AsyncPgConnection, subject_id: Uuid) -> QueryResult<Vec<Due>> {
    deadlines::table
        .filter(deadlines::subject_id.eq(subject_id))
        .order(deadlines::due_at.asc())
        .select(Due::as_select())
        .load(conn)
        .await
}

/// Counts each stage fired, by kind and stage (`/metrics`).
#[derive(Clone)]
pub struct DeadlineMetrics {
    reached: IntCounterVec,
}

impl DeadlineMetrics {
    /// `service` tells the services of the dev stack (one registry) apart.
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let reached = IntCounterVec::new(
            Opts::new(
                "deadlines_reached_total",
                "Deadline steps that told someone, fired by this replica, by kind and stage",
            )
            .const_label("service", service),
            &["kind", "stage"],
        )?;
        // Every series at zero from the start, so that an alert on its
        // increase has something to compare before the first deadline fires.
        for kind in DeadlineKind::ALL {
            for stage in DeadlineStage::ALL {
                reached.with_label_values(&[kind.as_str(), stage.as_str()]);
            }
        }
        Ok(Self { reached })
    }

    pub fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![Box::new(self.reached.clone())]
    }
}

/// Fires every deadline due now, each in its own transaction. Returns how
/// many were looked at (fired, found no longer awaited, or busy).
pub async fn fire_due(
    pool: &Pool,
    expiry: &dyn Expiry,
    metrics: &DeadlineMetrics,
) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let mut fired = 0;
    while fired < BATCH {
        let mut taken = None;
        let outcome = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let Some(due) = take_one_due(conn).await? else {
                    return Ok(None);
                };
                taken = Some(due.clone());
                let fired = expiry.fire(conn, &due).await?;
                settle(conn, &due, fired).await?;
                Ok(Some((due, fired)))
            })
            .await;
        match outcome {
            Ok(Some((due, outcome))) => {
                if matches!(outcome, Fired::Told | Fired::Again { told: true, .. }) {
                    metrics
                        .reached
                        .with_label_values(&[due.kind.as_str(), due.stage.as_str()])
                        .inc();
                }
                fired += 1;
            }
            Ok(None) => break,
            Err(err) => {
                if let Some(due) = taken {
                    postpone(&mut conn, &due).await?;
                }
                return Err(err.into());
            }
        }
    }
    Ok(fired)
}

async fn take_one_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<Due>> {
    deadlines::table
        .filter(deadlines::due_at.le(Utc::now()))
        .order(deadlines::due_at.asc())
        .select(Due::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()
}

async fn settle(conn: &mut AsyncPgConnection, due: &Due, fired: Fired) -> QueryResult<()> {
    let row = deadlines::table.find((due.subject_id, due.kind.as_str()));
    match (fired, due.stage) {
        (Fired::Told, DeadlineStage::Reminder) => {
            diesel::update(row)
                .set((
                    deadlines::stage.eq(DeadlineStage::Escalation.as_str()),
                    deadlines::due_at.eq(due.escalate_at),
                ))
                .execute(conn)
                .await?
        }
        (Fired::Busy(at), _) => {
            diesel::update(row)
                .set(deadlines::due_at.eq(at))
                .execute(conn)
                .await?
        }
        (Fired::Again { next, .. }, _) => {
            diesel::update(row)
                .set((
                    deadlines::stage.eq(DeadlineStage::Reminder.as_str()),
                    deadlines::started_at.eq(next.started_at),
                    deadlines::due_at.eq(next.remind_at),
                    deadlines::escalate_at.eq(next.escalate_at),
                ))
                .execute(conn)
                .await?
        }
        (Fired::Told, DeadlineStage::Escalation) | (Fired::NoLongerAwaited, _) => {
            diesel::delete(row).execute(conn).await?
        }
    };
    Ok(())
}

/// A firing failed and rolled back: that deadline waits a minute, so the
/// others are not stuck behind it. Only if it is still as it was: another
/// replica may have fired it meanwhile, or the wait been restarted.
async fn postpone(conn: &mut AsyncPgConnection, due: &Due) -> QueryResult<()> {
    tracing::warn!(kind = %due.kind, subject_id = %due.subject_id, "a deadline failed to fire; trying it again in a minute");
    diesel::update(
        deadlines::table
            .find((due.subject_id, due.kind.as_str()))
            .filter(deadlines::stage.eq(due.stage.as_str()))
            .filter(deadlines::due_at.eq(due.due_at)),
    )
    .set(deadlines::due_at.eq(Utc::now() + AFTER_A_FAILURE))
    .execute(conn)
    .await?;
    Ok(())
}

async fn next_due(pool: &Pool) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut conn = pool.get().await?;
    Ok(deadlines::table
        .order(deadlines::due_at.asc())
        .select(deadlines::due_at)
        .first(&mut conn)
        .await
        .optional()?)
}

/// The service's deadline worker, firing deadlines as they fall due until
/// shutdown, and its metrics. `service` labels the metrics.
pub fn worker(
    service: &str,
    pool: Pool,
    database_url: SecretString,
    expiry: impl Expiry + 'static,
) -> anyhow::Result<(BackgroundTask, DeadlineMetrics)> {
    let metrics = DeadlineMetrics::new(service)?;
    let worker = Worker {
        pool,
        expiry,
        metrics: metrics.clone(),
    };
    let task: BackgroundTask = Box::new(move |shutdown: CancellationToken| {
        Box::pin(run_when_due(
            "deadlines",
            database_url,
            CHANNEL,
            shutdown,
            worker,
        ))
    });
    Ok((task, metrics))
}

struct Worker<E> {
    pool: Pool,
    expiry: E,
    metrics: DeadlineMetrics,
}

impl<E: Expiry> DueWork for Worker<E> {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            fire_due(&self.pool, &self.expiry, &self.metrics)
                .await
                .map(drop)
        })
    }

    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<std::time::Duration>>> {
        Box::pin(async move {
            let next = next_due(&self.pool).await?;
            Ok(next.map(|due| (due - Utc::now()).to_std().unwrap_or_default()))
        })
    }
}
