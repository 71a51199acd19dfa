//! Booking's cost, printed beside a database round trip measured in the same
//! run (the baseline):
//! * a busy clinic: matching + booking per request with 50 physios × 8 weeks;
//! * the network's size: one booking in an empty region while the rest of the
//!   network holds 10, 100 and 1,000 clinics with 1k, 10k and 100k future
//!   appointments. Reads follow what can match, so the cost should not move.
//!
//! `make bench` (or `cargo bench -p booking-service`); needs the test
//! PostgreSQL. Figures are printed, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use booking_service::domain::matching::{BodyRegion, Priority, Request, ranked_offers};
use booking_service::engine::book::{Outcome, Rules, book_or_waitlist};
use booking_service::engine::facts;
use booking_service::engine::requests::{self, ReferralRequest};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use spotter_db::testing::TestDatabase;
use std::time::{Duration, Instant};
use uuid::Uuid;

const RULES: Rules = Rules {
    refusals_before_review: 3,
    deadline_reminder_share: 0.25,
};
const PHYSIOS: usize = 50;
const REQUESTS: usize = 300;

#[tokio::main]
async fn main() {
    let db = TestDatabase::create(
        "booking",
        &spotter_service::testing::migration_dirs("booking"),
    )
    .await
    .unwrap();
    let mut conn = AsyncPgConnection::establish(db.settings.url.expose_secret())
        .await
        .unwrap();
    seed(&mut conn).await;
    println!(
        "booking: {PHYSIOS} physios, Mon–Fri 09:00–17:00, 8-week horizon, {REQUESTS} requests"
    );

    let mut baseline = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .unwrap();
        baseline.push(started.elapsed());
    }
    print_line("baseline  one database round trip", &baseline);

    // The domain alone: ranking offers over facts already in memory.
    let at = booking_service::domain::geo::Location {
        lat: 51.5,
        lon: -0.1,
    };
    let mut found = facts::candidates(&mut conn, BodyRegion::Knee, at, &facts::Allowed::default())
        .await
        .unwrap();
    let now = Utc::now();
    let everything = booking_service::domain::slots::Interval {
        start: now,
        end: now + chrono::Duration::days(57),
    };
    facts::load_diaries(&mut conn, &mut found.physios, &found.clinics, everything)
        .await
        .unwrap();
    let (clinics, physios) = (found.clinics, found.physios);
    let request = Request {
        body_region: BodyRegion::Knee,
        trainer_location: booking_service::domain::geo::Location {
            lat: 51.5,
            lon: -0.1,
        },
        priority: Priority::Routine,
        target_by: Some(Utc::now() + chrono::Duration::days(7)),
    };
    let mut matching = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let offers = ranked_offers(&request, &clinics, &physios, Utc::now(), 25);
        matching.push(started.elapsed());
        assert!(!offers.is_empty());
    }
    print_line("matching  rank offers (in memory)", &matching);

    // The whole thing, as the consumer runs it: load facts, rank, insert under
    // the exclusion constraint, enqueue the event, commit.
    let mut booked = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let request = referral_request();
        let started = Instant::now();
        conn.transaction::<(), diesel::result::Error, _>(async |conn| {
            requests::insert(conn, &request).await?;
            book_or_waitlist(conn, &request, true, RULES).await?;
            Ok(())
        })
        .await
        .unwrap();
        booked.push(started.elapsed());
    }
    print_line("booking   load + match + book + commit", &booked);

    network_scale(&mut conn, &baseline).await;
}

/// One booking in an empty region, as the rest of the network grows.
async fn network_scale(conn: &mut AsyncPgConnection, baseline: &[Duration]) {
    println!(
        "network scale: booking in an empty region; elsewhere 2 physios × 50 future appointments per clinic"
    );
    let mut p50s = Vec::new();
    for (level, clinics) in [10, 100, 1000].into_iter().enumerate() {
        grow_network(conn, clinics).await;
        let appointments = count(conn, "SELECT count(*) AS n FROM appointments").await;
        // A fresh empty region per level, so its own diary starts empty too.
        let region = (75.0, -120.0 + 60.0 * level as f64);
        seed_region(conn, region).await;
        let mut times = Vec::with_capacity(100);
        for _ in 0..100 {
            let mut request = referral_request();
            (request.lat, request.lon) = (region.0 + 0.01, region.1);
            let started = Instant::now();
            conn.transaction::<(), diesel::result::Error, _>(async |conn| {
                requests::insert(conn, &request).await?;
                let outcome = book_or_waitlist(conn, &request, true, RULES).await?;
                assert!(matches!(outcome, Outcome::Booked(_)), "{outcome:?}");
                Ok(())
            })
            .await
            .unwrap();
            times.push(started.elapsed());
        }
        p50s.push(percentile(&times, 0.5));
        print_line(
            &format!("{clinics:>5} clinics, {appointments:>6} appointments"),
            &times,
        );
    }
    let ratio = p50s[2].as_secs_f64() / p50s[0].as_secs_f64();
    println!(
        "  p50 at 1,000 clinics ÷ p50 at 10 clinics: {ratio:.2}× (target ≤ 1.5×); \
         booking p50 ÷ database round trip p50: {:.1}",
        p50s[2].as_secs_f64() / percentile(baseline, 0.5).as_secs_f64()
    );
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

/// Adds clinics until there are `total` network clinics, spread between
/// 60°S and 60°N, each with two physios and 50 future appointments apiece.
async fn grow_network(conn: &mut AsyncPgConnection, total: i64) {
    let have = count(
        conn,
        "SELECT count(*) AS n FROM clinics WHERE name = 'network'",
    )
    .await;
    let statements = [
        format!(
            "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km, min_notice_minutes, horizon_days) \
             SELECT gen_random_uuid(), 'network', 'UTC', -60 + (g * 7.31) % 120, -180 + (g * 13.7) % 360, 25, 0, 28 \
             FROM generate_series({have} + 1, {total}) g"
        ),
        "INSERT INTO physios (id, clinic_id, display_name, specialties) \
         SELECT gen_random_uuid(), c.id, 'network', ARRAY['general'] \
         FROM clinics c CROSS JOIN generate_series(1, 2) \
         WHERE c.name = 'network' AND NOT EXISTS (SELECT 1 FROM physios p WHERE p.clinic_id = c.id)"
            .to_owned(),
        "INSERT INTO weekly_hours (physio_id, weekday, start_time, end_time) \
         SELECT p.id, d, '08:00', '20:00' FROM physios p CROSS JOIN generate_series(1, 7) d \
         WHERE p.display_name = 'network' AND NOT EXISTS (SELECT 1 FROM weekly_hours h WHERE h.physio_id = p.id)"
            .to_owned(),
        "WITH a AS MATERIALIZED ( \
             SELECT gen_random_uuid() AS rid, p.id AS physio, p.clinic_id, k, \
                    date_trunc('hour', now()) + k * interval '1 hour' AS starts \
             FROM physios p CROSS JOIN generate_series(1, 50) k \
             WHERE p.display_name = 'network' \
               AND NOT EXISTS (SELECT 1 FROM appointments x WHERE x.physio_id = p.id)), \
         r AS (INSERT INTO referral_requests (referral_id, trainer_id, client_id, body_region, priority, lat, lon, requested_at, attempt, state) \
               SELECT rid, rid, rid, 'knee', 'routine', 0, 0, now(), 1, 'booked' FROM a) \
         INSERT INTO appointments (id, referral_id, trainer_id, client_id, physio_id, clinic_id, priority, starts_at, ends_at, blocked_until, target_missed) \
         SELECT gen_random_uuid(), rid, rid, rid, physio, clinic_id, 'routine', starts, \
                starts + interval '45 minutes', starts + interval '45 minutes', false FROM a"
            .to_owned(),
        "ANALYZE".to_owned(),
    ];
    for sql in statements {
        diesel::sql_query(sql).execute(conn).await.unwrap();
    }
}

/// A clinic with one physio working around the clock, alone in its region.
async fn seed_region(conn: &mut AsyncPgConnection, (lat, lon): (f64, f64)) {
    let (clinic, physio) = (Uuid::now_v7(), Uuid::now_v7());
    let statements = [
        format!(
            "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km, min_notice_minutes, horizon_days) \
             VALUES ('{clinic}', 'empty region', 'UTC', {lat}, {lon}, 20, 0, 28)"
        ),
        format!(
            "INSERT INTO physios (id, clinic_id, display_name, specialties) \
             VALUES ('{physio}', '{clinic}', 'alone', ARRAY['knee'])"
        ),
        format!(
            "INSERT INTO weekly_hours (physio_id, weekday, start_time, end_time) \
             SELECT '{physio}', d, '00:00', '23:59' FROM generate_series(1, 7) d"
        ),
    ];
    for sql in statements {
        diesel::sql_query(sql).execute(conn).await.unwrap();
    }
}

fn percentile(times: &[Duration], q: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn print_line(label: &str, times: &[Duration]) {
    println!(
        "  {label:<42} p50 {:>8.2} ms   p99 {:>8.2} ms",
        percentile(times, 0.5).as_secs_f64() * 1000.0,
        percentile(times, 0.99).as_secs_f64() * 1000.0
    );
}

async fn seed(conn: &mut AsyncPgConnection) {
    let clinic = Uuid::now_v7();
    diesel::sql_query(format!(
        "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km, min_notice_minutes, horizon_days) \
         VALUES ('{clinic}', 'Bench', 'Europe/London', 51.5, -0.1, 30, 60, 56)"
    ))
    .execute(conn)
    .await
    .unwrap();
    for i in 0..PHYSIOS {
        let physio = Uuid::now_v7();
        diesel::sql_query(format!(
            "INSERT INTO physios (id, clinic_id, display_name, specialties) \
             VALUES ('{physio}', '{clinic}', 'Physio {i}', ARRAY['knee','general'])"
        ))
        .execute(conn)
        .await
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO weekly_hours (physio_id, weekday, start_time, end_time) \
             SELECT '{physio}', d, '09:00', '17:00' FROM generate_series(1, 5) d"
        ))
        .execute(conn)
        .await
        .unwrap();
    }
}

fn referral_request() -> ReferralRequest {
    ReferralRequest {
        referral_id: Uuid::now_v7(),
        trainer_id: Uuid::now_v7(),
        client_id: Uuid::now_v7(),
        body_region: BodyRegion::Knee,
        priority: Priority::Routine,
        lat: 51.51,
        lon: -0.11,
        requested_at: Utc::now(),
        target_by: Some(Utc::now() + chrono::Duration::days(7)),
        attempt: 1,
        state: requests::RequestState::Pending,
        only_clinic_id: None,
    }
}
