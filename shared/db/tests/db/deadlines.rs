//! Durable deadlines as the services depend on them: each stage fires once
//! however many replicas race for it, a later stage follows at its time, a
//! cleared deadline never fires, and one whose firing fails waits a minute
//! without holding back the others.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use spotter_db::deadlines::{self, After, DeadlineMetrics, Due, Expiry};
use spotter_db::testing::TestDatabase;
use std::path::PathBuf;
use std::sync::Mutex;
use uuid::Uuid;

async fn database() -> TestDatabase {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    TestDatabase::create("db", &[migrations]).await.unwrap()
}

/// Records what fired; a first stage is followed by a second, due at once;
/// a subject in `failing` makes its firing fail.
#[derive(Default)]
struct Recorder {
    fired: Mutex<Vec<(Uuid, i16)>>,
    failing: Vec<Uuid>,
}

impl Expiry for Recorder {
    fn fire<'a>(
        &'a self,
        _conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<After>> {
        Box::pin(async move {
            if self.failing.contains(&due.subject_id) {
                return Err(diesel::result::Error::RollbackTransaction);
            }
            self.fired.lock().unwrap().push((due.subject_id, due.stage));
            Ok(if due.stage == 0 {
                After::Next(Utc::now())
            } else {
                After::Done
            })
        })
    }
}

async fn remaining(pool: &spotter_db::Pool) -> i64 {
    let mut conn = pool.get().await.unwrap();
    deadlines::deadlines::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_replicas_racing_fire_every_stage_exactly_once() {
    let db = database().await;
    let replicas = [
        spotter_db::connect(&db.settings.url, 4).unwrap(),
        spotter_db::connect(&db.settings.url, 4).unwrap(),
    ];
    let subjects: Vec<Uuid> = (0..150).map(|_| Uuid::now_v7()).collect();
    {
        let mut conn = replicas[0].get().await.unwrap();
        let past = Utc::now() - Duration::seconds(1);
        for &subject in &subjects {
            deadlines::start(&mut conn, subject, "test", past, past)
                .await
                .unwrap();
        }
    }
    let recorder = Recorder::default();
    let metrics = DeadlineMetrics::new("test").unwrap();
    // Rounds on both replicas at once until nothing is left.
    while remaining(&replicas[0]).await > 0 {
        let (a, b) = tokio::join!(
            deadlines::fire_due(&replicas[0], &recorder, &metrics),
            deadlines::fire_due(&replicas[1], &recorder, &metrics),
        );
        a.unwrap();
        b.unwrap();
    }
    let mut fired = recorder.fired.into_inner().unwrap();
    fired.sort();
    let mut expected: Vec<(Uuid, i16)> = subjects.iter().flat_map(|&s| [(s, 0), (s, 1)]).collect();
    expected.sort();
    assert_eq!(fired, expected);
}

#[tokio::test]
async fn a_deadline_fires_only_when_due_and_never_once_cleared() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let (later, cleared, restarted) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    {
        let mut conn = pool.get().await.unwrap();
        let now = Utc::now();
        deadlines::start(&mut conn, later, "test", now, now + Duration::hours(1))
            .await
            .unwrap();
        deadlines::start(&mut conn, cleared, "test", now, now)
            .await
            .unwrap();
        deadlines::clear(&mut conn, cleared, "test").await.unwrap();
        // Started again before it fell due: the new time counts.
        deadlines::start(&mut conn, restarted, "test", now, now)
            .await
            .unwrap();
        deadlines::start(&mut conn, restarted, "test", now, now + Duration::hours(2))
            .await
            .unwrap();
    }
    let recorder = Recorder::default();
    let fired = deadlines::fire_due(&pool, &recorder, &DeadlineMetrics::new("test").unwrap())
        .await
        .unwrap();
    assert_eq!(fired, 0);
    assert!(recorder.fired.lock().unwrap().is_empty());
    assert_eq!(remaining(&pool).await, 2);
}

#[tokio::test]
async fn a_firing_that_fails_waits_a_minute_and_the_others_still_fire() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let (poison, fine) = (Uuid::now_v7(), Uuid::now_v7());
    {
        let mut conn = pool.get().await.unwrap();
        let now = Utc::now();
        // The failing one is the earliest due, so it is taken first.
        deadlines::start(&mut conn, poison, "test", now, now - Duration::seconds(2))
            .await
            .unwrap();
        deadlines::start(&mut conn, fine, "test", now, now - Duration::seconds(1))
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
    // The next round fires the other one, both stages; the failed one waits.
    deadlines::fire_due(&pool, &recorder, &metrics)
        .await
        .unwrap();
    assert_eq!(*recorder.fired.lock().unwrap(), [(fine, 0), (fine, 1)]);
    let mut conn = pool.get().await.unwrap();
    let postponed = deadlines::of(&mut conn, poison).await.unwrap();
    assert_eq!(postponed.len(), 1);
    assert!(postponed[0].due_at > Utc::now() + Duration::seconds(50));
    assert_eq!(
        postponed[0].stage, 0,
        "a failed stage is not counted as fired"
    );
}
