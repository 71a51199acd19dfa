//! Matching + booking per request with 50 physios × 8 weeks of hours, printed
//! beside a database round trip measured in the same run (the baseline).
//!
//! `make bench` (or `cargo bench -p booking-service`); needs the test
//! PostgreSQL. Figures are printed, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use booking_service::domain::matching::{Priority, Request, ranked_offers};
use booking_service::engine::book::book_or_waitlist;
use booking_service::engine::facts;
use booking_service::engine::requests::{self, ReferralRequest};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use spotter_db::testing::TestDatabase;
use std::time::{Duration, Instant};
use uuid::Uuid;

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
    let (clinics, physios) = facts::load(&mut conn, "knee", Utc::now()).await.unwrap();
    let request = Request {
        body_region: "knee".to_owned(),
        trainer_location: booking_service::domain::geo::Location {
            lat: 51.5,
            lon: -0.1,
        },
        priority: Priority::Routine,
        requested_at: Utc::now(),
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
            book_or_waitlist(conn, &request, true).await?;
            Ok(())
        })
        .await
        .unwrap();
        booked.push(started.elapsed());
    }
    print_line("booking   load + match + book + commit", &booked);
}

fn print_line(label: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {label:<42} p50 {:>8.2} ms   p99 {:>8.2} ms",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
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
        body_region: "knee".to_owned(),
        priority: "routine".to_owned(),
        lat: 51.51,
        lon: -0.11,
        requested_at: Utc::now(),
        attempt: 1,
        state: "pending".to_owned(),
    }
}
