//! Many requests at once for one physio, handled by two replicas of the
//! service: the exclusion constraint lets exactly as many through as fit.

use crate::support::{BookingApp, Referral, weekday_in};
use serde_json::json;

#[tokio::test]
async fn fifty_requests_through_two_replicas_never_double_book() {
    let mut app = BookingApp::start().await;
    app.start_replica().await;
    let clinic = app.clinic().await;
    app.policy(clinic, 0, 7).await;
    let physio = app.physio(clinic, &["knee"]).await;
    // 10:00–11:30 on one day holds four overlapping 45-minute offers (10:00,
    // 10:15, 10:30, 10:45) but only two appointments that don't overlap.
    app.hours(
        physio,
        json!([{"weekday": weekday_in(1), "start": "10:00", "end": "11:30"}]),
    )
    .await;

    let referrals: Vec<Referral> = (0..50).map(|_| Referral::knee()).collect();
    let publishes = referrals.iter().map(|r| app.request(r));
    futures_util::future::join_all(publishes).await;

    let settled =
        "SELECT count(*) AS n FROM referral_requests WHERE state IN ('booked', 'waitlisted')";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.count(settled).await < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every request settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let overlaps = "SELECT count(*) AS n FROM appointments a JOIN appointments b \
                    ON a.physio_id = b.physio_id AND a.id < b.id \
                    AND a.status = 'booked' AND b.status = 'booked' \
                    AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)";
    assert_eq!(app.count(overlaps).await, 0, "a physio was double-booked");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM appointments WHERE status = 'booked'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM referral_requests WHERE state = 'waitlisted'")
            .await,
        48
    );
    let starts = "SELECT count(*) AS n FROM appointments WHERE status = 'booked' \
                  AND ((starts_at AT TIME ZONE 'UTC')::time IN ('10:00', '10:45'))";
    assert_eq!(
        app.count(starts).await,
        2,
        "the earliest non-overlapping pair"
    );
}

#[tokio::test]
async fn contention_never_waitlists_a_request_that_capacity_could_serve() {
    let mut app = BookingApp::start().await;
    app.start_replica().await;
    let clinic = app.clinic().await;
    app.policy(clinic, 0, 7).await;
    let physio = app.physio(clinic, &["knee"]).await;
    // 07:00–21:00 on one day: exactly 18 back-to-back 45-minute appointments,
    // offered on a quarter-hour grid, so concurrent bookings keep colliding.
    app.hours(
        physio,
        json!([{"weekday": weekday_in(1), "start": "07:00", "end": "20:30"}]),
    )
    .await;
    let referrals: Vec<Referral> = (0..30).map(|_| Referral::knee()).collect();
    futures_util::future::join_all(referrals.iter().map(|r| app.request(r))).await;

    let settled =
        "SELECT count(*) AS n FROM referral_requests WHERE state IN ('booked', 'waitlisted')";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.count(settled).await < 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every request settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM appointments WHERE status = 'booked'")
            .await,
        18,
        "every appointment the day holds was booked before anyone was waitlisted"
    );
}

#[tokio::test]
async fn the_database_keeps_the_buffer_even_for_a_booking_that_skips_the_rules() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    app.policy(clinic, 15, 7).await;
    let physio = app.physio(clinic, &["knee"]).await;
    // Room for one appointment: the second request waits on the list.
    app.hours(
        physio,
        json!([{"weekday": weekday_in(1), "start": "10:00", "end": "10:45"}]),
    )
    .await;
    let (first, second) = (Referral::knee(), Referral::knee());
    app.request(&first).await;
    app.request(&second).await;
    let settled =
        "SELECT count(*) AS n FROM referral_requests WHERE state IN ('booked', 'waitlisted')";
    app.wait_for_count(settled, 2).await;
    let booked = "SELECT count(*) AS n FROM appointments WHERE status = 'booked' \
                  AND blocked_until = ends_at + interval '15 minutes'";
    assert_eq!(app.count(booked).await, 1);

    // The waiting referral squeezed in 5 minutes after the first: refused.
    let squeeze = |gap: &str| {
        format!(
            "INSERT INTO appointments (id, referral_id, trainer_id, client_id, physio_id, \
               clinic_id, priority, starts_at, ends_at, blocked_until, status, target_missed) \
             SELECT gen_random_uuid(), r.referral_id, r.trainer_id, r.client_id, a.physio_id, \
               a.clinic_id, r.priority, a.ends_at + interval '{gap}', \
               a.ends_at + interval '{gap}' + interval '45 minutes', \
               a.ends_at + interval '{gap}' + interval '60 minutes', 'booked', false \
             FROM appointments a, referral_requests r \
             WHERE a.status = 'booked' AND r.state = 'waitlisted'"
        )
    };
    let refused = app.execute(&squeeze("5 minutes")).await.unwrap_err();
    assert!(
        refused.to_string().contains("no_overlap_with_buffer"),
        "{refused}"
    );
    // A full buffer later it fits.
    assert_eq!(app.execute(&squeeze("15 minutes")).await.unwrap(), 1);
}
