//! Durable deadlines as the services depend on them: each step fires once
//! however many replicas race for it, the escalation follows the reminder
//! at its own time, a cleared deadline never fires, a wait begun late skips
//! what is already past, and one whose firing fails waits a minute without
//! holding back the others.

use chrono::{Duration, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use spotter_db::deadlines::{
    self, DeadlineKind, DeadlineMetrics, DeadlineStage, Due, Expiry, Fired, Wait,
};
use spotter_db::testing::TestDatabase;
use std::path::PathBuf;
use std::sync::Mutex;
use uuid::Uuid;

const KIND: DeadlineKind = DeadlineKind::Guidance;

async fn database() -> TestDatabase {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    TestDatabase::create("db", &[migrations]).await.unwrap()
}

/// Records what fired; a subject in `failing` makes its firing fail.
#[derive(Default)]
struct Recorder {
    fired: Mutex<Vec<(Uuid, DeadlineStage)>>,
    failing: Vec<Uuid>,
}

impl Expiry for Recorder {
    fn fire<'a>(
        &'a self,
        _conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<Fired>> {
        Box::pin(async move {
            if self.failing.contains(&due.subject_id) {
                return Err(diesel::result::Error::RollbackTransaction);
            }
            self.fired.lock().unwrap().push((due.subject_id, due.stage));
            Ok(Fired::Told)
        })
    }
}

impl Recorder {
    fn fired(&self) -> Vec<(Uuid, DeadlineStage)> {
        let mut fired = self.fired.lock().unwrap().clone();
        fired.sort();
        fired
    }
}

/// A wait whose reminder is `remind` from now and escalation `escalate`.
fn wait(remind: Duration, escalate: Duration) -> Wait {
    let now = Utc::now();
    Wait {
        started_at: now,
        remind_at: now + remind,
        escalate_at: now + escalate,
    }
}

async fn count(pool: &spotter_db::Pool, stage: Option<DeadlineStage>) -> i64 {
    let mut conn = pool.get().await.unwrap();
    let mut rows = deadlines::deadlines::table.into_boxed();
    if let Some(stage) = stage {
        rows = rows.filter(deadlines::deadlines::stage.eq(stage.as_str()));
    }
    rows.count().get_result(&mut conn).await.unwrap()
}

async fn both_replicas_until_none_due(
    replicas: &[spotter_db::Pool; 2],
    recorder: &Recorder,
    metrics: &DeadlineMetrics,
) {
    loop {
        let (a, b) = tokio::join!(
            deadlines::fire_due(&replicas[0], recorder, metrics),
            deadlines::fire_due(&replicas[1], recorder, metrics),
        );
        if a.unwrap() + b.unwrap() == 0 {
            return;
        }
    }
}

#[tokio::test]
async fn two_replicas_racing_fire_every_step_exactly_once() {
    let db = database().await;
    let replicas = [
        spotter_db::connect(&db.settings.url, 4).unwrap(),
        spotter_db::connect(&db.settings.url, 4).unwrap(),
    ];
    let mut subjects: Vec<Uuid> = (0..150).map(|_| Uuid::now_v7()).collect();
    subjects.sort();
    {
        let mut conn = replicas[0].get().await.unwrap();
        for &subject in &subjects {
            let due_now = wait(Duration::seconds(-1), Duration::hours(1));
            deadlines::start(&mut conn, subject, KIND, due_now)
                .await
                .unwrap();
        }
    }
    let recorder = Recorder::default();
    let metrics = DeadlineMetrics::new("test").unwrap();
    both_replicas_until_none_due(&replicas, &recorder, &metrics).await;
    let reminded: Vec<_> = subjects
        .iter()
        .map(|&s| (s, DeadlineStage::Reminder))
        .collect();
    assert_eq!(recorder.fired(), reminded);
    assert_eq!(
        count(&replicas[0], Some(DeadlineStage::Escalation)).await,
        150
    );

    // The escalation time comes.
    let mut conn = replicas[0].get().await.unwrap();
    diesel::update(deadlines::deadlines::table)
        .set(deadlines::deadlines::due_at.eq(Utc::now()))
        .execute(&mut conn)
        .await
        .unwrap();
    both_replicas_until_none_due(&replicas, &recorder, &metrics).await;
    let mut expected = reminded;
    expected.extend(subjects.iter().map(|&s| (s, DeadlineStage::Escalation)));
    expected.sort();
    assert_eq!(recorder.fired(), expected);
    assert_eq!(count(&replicas[0], None).await, 0);
}

#[tokio::test]
async fn a_deadline_fires_only_when_due_and_never_once_cleared() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let (later, cleared, restarted) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    {
        let mut conn = pool.get().await.unwrap();
        let in_an_hour = wait(Duration::hours(1), Duration::hours(2));
        let due_now = wait(Duration::zero(), Duration::hours(2));
        deadlines::start(&mut conn, later, KIND, in_an_hour)
            .await
            .unwrap();
        deadlines::start(&mut conn, cleared, KIND, due_now)
            .await
            .unwrap();
        deadlines::clear(&mut conn, cleared, KIND).await.unwrap();
        // Started again before it fell due: the new times count.
        deadlines::start(&mut conn, restarted, KIND, due_now)
            .await
            .unwrap();
        deadlines::start(&mut conn, restarted, KIND, in_an_hour)
            .await
            .unwrap();
    }
    let recorder = Recorder::default();
    let metrics = DeadlineMetrics::new("test").unwrap();
    let looked_at = deadlines::fire_due(&pool, &recorder, &metrics)
        .await
        .unwrap();
    assert_eq!(looked_at, 0);
    assert!(recorder.fired().is_empty());
    assert_eq!(count(&pool, None).await, 2);
}

#[tokio::test]
async fn a_wait_begun_late_skips_what_is_past() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let (past_reminder, past_escalation) = (Uuid::now_v7(), Uuid::now_v7());
    {
        let mut conn = pool.get().await.unwrap();
        let reminder_past = wait(Duration::hours(-1), Duration::hours(1));
        let both_past = wait(Duration::hours(-2), Duration::hours(-1));
        deadlines::start(&mut conn, past_reminder, KIND, reminder_past)
            .await
            .unwrap();
        deadlines::start(&mut conn, past_escalation, KIND, both_past)
            .await
            .unwrap();
    }
    let recorder = Recorder::default();
    let metrics = DeadlineMetrics::new("test").unwrap();
    deadlines::fire_due(&pool, &recorder, &metrics)
        .await
        .unwrap();
    // Reminded at once; escalated at once, with no reminder first.
    let mut expected = vec![
        (past_reminder, DeadlineStage::Reminder),
        (past_escalation, DeadlineStage::Escalation),
    ];
    expected.sort();
    assert_eq!(recorder.fired(), expected);
    assert_eq!(count(&pool, Some(DeadlineStage::Escalation)).await, 1);
}

#[tokio::test]
async fn a_firing_that_fails_waits_a_minute_and_the_others_still_fire() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let (poison, fine) = (Uuid::now_v7(), Uuid::now_v7());
    {
        let mut conn = pool.get().await.unwrap();
        // The failing one is the earliest due, so it is taken first.
        let earlier = wait(Duration::seconds(-2), Duration::hours(1));
        let later = wait(Duration::seconds(-1), Duration::hours(1));
        deadlines::start(&mut conn, poison, KIND, earlier)
            .await
            .unwrap();
        deadlines::start(&mut conn, fine, KIND, later)
            .await
            .unwrap();
    }
    let recorder = Recorder {
        failing: vec![poison],
        ..Recorder::default()
    };
    let metrics = DeadlineMetrics::new("test").unwrap();
    assert!(
        deadlines::fire_due(&pool, &recorder, &metrics)
            .await
            .is_err()
    );
    // The next round fires the other one; the failed one waits.
    deadlines::fire_due(&pool, &recorder, &metrics)
        .await
        .unwrap();
    assert_eq!(recorder.fired(), [(fine, DeadlineStage::Reminder)]);
    let mut conn = pool.get().await.unwrap();
    let postponed = deadlines::of(&mut conn, poison).await.unwrap();
    assert_eq!(postponed.len(), 1);
    assert!(postponed[0].due_at > Utc::now() + Duration::seconds(50));
    assert_eq!(
        postponed[0].stage,
        DeadlineStage::Reminder,
        "a failed step is not counted as fired"
    );
}

/// Comes round again a week after each round, as the end of a week of
/// training does.
struct Weekly;

impl Expiry for Weekly {
    fn fire<'a>(
        &'a self,
        _conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<Fired>> {
        let next_round = due.due_at + Duration::weeks(1);
        Box::pin(async move {
            Ok(Fired::Again {
                told: true,
                next: Wait {
                    started_at: due.started_at,
                    remind_at: next_round,
                    escalate_at: next_round,
                },
            })
        })
    }
}

#[tokio::test]
async fn a_recurring_deadline_fires_once_per_round_and_waits_for_the_next() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let subject = Uuid::now_v7();
    // Microseconds, as the database keeps them.
    let round = (Utc::now() - Duration::seconds(1)).trunc_subsecs(6);
    let mut conn = pool.get().await.unwrap();
    let first = Wait {
        started_at: round - Duration::weeks(1),
        remind_at: round,
        escalate_at: round,
    };
    deadlines::start(&mut conn, subject, DeadlineKind::AdherenceWeek, first)
        .await
        .unwrap();
    let metrics = DeadlineMetrics::new("test").unwrap();
    assert_eq!(
        deadlines::fire_due(&pool, &Weekly, &metrics).await.unwrap(),
        1
    );
    // Next week's round is not due yet: nothing more fires now.
    assert_eq!(
        deadlines::fire_due(&pool, &Weekly, &metrics).await.unwrap(),
        0
    );
    let next = &deadlines::of(&mut conn, subject).await.unwrap()[0];
    assert_eq!(next.stage, DeadlineStage::Reminder);
    assert_eq!(next.due_at, round + Duration::weeks(1));
    assert_eq!(next.started_at, first.started_at);
    let told = metrics.collectors()[0].collect()[0]
        .get_metric()
        .iter()
        .filter(|m| m.get_label().iter().any(|l| l.value() == "adherence_week"))
        .map(|m| m.get_counter().get_value())
        .sum::<f64>();
    assert_eq!(told, 1.0, "each round that told someone is counted");
}
