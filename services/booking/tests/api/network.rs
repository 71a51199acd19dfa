//! Booking at network scale: only clinics whose area covers the trainer are
//! read (exact at the edges, anywhere on earth), and urgent referrals travel
//! in a lane of their own, never behind a routine backlog.

use crate::support::{BookingApp, Referral, WAIT, body};
use booking_service::domain::geo::{Location, distance_km};
use booking_service::domain::{Interval, PhysioFacts};
use booking_service::engine::facts::{covering_clinics, earth_point, load_diaries};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use secrecy::ExposeSecret;
use serde_json::json;
use spotter_contracts::booking::v1::AppointmentBooked;
use spotter_contracts::common::v1::Priority;
use spotter_service::testing::{kept_plan, plans_of};
use uuid::Uuid;

async fn clinic_at(app: &BookingApp, at: Location, radius_km: f64) -> Uuid {
    let new = json!({"name": "Edge Physio", "timezone": "UTC", "location": {"lat": at.lat, "lon": at.lon}, "service_radius_km": radius_km});
    let created = body(app.post("/admin/v1/clinics", &app.admin, &new).await, 201).await;
    created["id"].as_str().unwrap().parse().unwrap()
}

async fn covering(app: &BookingApp, at: Location) -> Vec<Uuid> {
    let mut conn = app.db.connection().await.unwrap();
    covering_clinics(&mut conn, at).await.unwrap()
}

/// The point `km` from `from` moving along (dlat, dlon), found by bisection
/// on the same great-circle distance the service uses.
fn point_at(from: Location, (dlat, dlon): (f64, f64), km: f64) -> Location {
    let along = |t: f64| Location {
        lat: from.lat + dlat * t,
        lon: from.lon + dlon * t,
    };
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..200 {
        let mid = (low + high) / 2.0;
        if distance_km(from, along(mid)) < km {
            low = mid;
        } else {
            high = mid;
        }
    }
    along(low)
}

#[tokio::test]
async fn the_service_area_is_exact_at_its_edge_anywhere_on_earth() {
    let app = BookingApp::start().await;
    // (centre, radius, a direction to walk in): London going north-east,
    // astride the antimeridian going east (across it), and near the north
    // pole going over it.
    let places = [
        (
            Location {
                lat: 51.5,
                lon: -0.12,
            },
            10.0,
            (0.5, 0.8),
        ),
        (
            Location {
                lat: -16.5,
                lon: 179.95,
            },
            25.0,
            (0.0, 1.0),
        ),
        (
            Location {
                lat: 89.9,
                lon: 10.0,
            },
            30.0,
            (1.0, 0.0),
        ),
    ];
    for (centre, radius, direction) in places {
        let clinic = clinic_at(&app, centre, radius).await;
        let just_inside = point_at(centre, direction, radius - 0.01);
        let just_outside = point_at(centre, direction, radius + 0.01);
        assert!(
            covering(&app, just_inside).await.contains(&clinic),
            "{centre:?} inside"
        );
        assert!(
            !covering(&app, just_outside).await.contains(&clinic),
            "{centre:?} outside"
        );
    }
    // The walks above really crossed the antimeridian and the pole.
    let across = point_at(places[1].0, places[1].2, 20.0);
    assert!(across.lon > 180.0);
    let normalised = Location {
        lat: across.lat,
        lon: across.lon - 360.0,
    };
    assert!(
        covering(&app, normalised).await.len() == 1,
        "west of the antimeridian"
    );
    let over_the_pole = Location {
        lat: 89.95,
        lon: -170.0,
    };
    assert!(distance_km(places[2].0, over_the_pole) < 30.0);
    assert_eq!(
        covering(&app, over_the_pole).await.len(),
        1,
        "beyond the pole"
    );
}

#[tokio::test]
async fn a_far_clinic_whose_radius_reaches_wins_over_a_near_one_whose_does_not() {
    let app = BookingApp::start().await;
    let trainer = Location {
        lat: 51.52,
        lon: -0.10,
    };
    // 3 km away but taking referrals only from 2 km; 30 km away taking from 40 km.
    let near = clinic_at(&app, point_at(trainer, (1.0, 0.0), 3.0), 2.0).await;
    let far = clinic_at(&app, point_at(trainer, (0.0, 1.0), 30.0), 40.0).await;
    for clinic in [near, far] {
        app.policy(clinic, 0, 14).await;
    }
    let near_physio = app.physio(near, &["knee"]).await;
    let far_physio = app.physio(far, &["knee"]).await;
    for physio in [near_physio, far_physio] {
        app.hours(physio, crate::support::morning_tomorrow()).await;
    }
    assert_eq!(covering(&app, trainer).await, vec![far]);
    let referral = Referral::knee();
    app.request(&referral).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
    assert_eq!(booked.physio_id, far_physio.to_string());
}

#[tokio::test]
async fn an_urgent_referral_is_booked_while_a_routine_backlog_still_waits() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let every_day: Vec<_> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "07:00", "end": "20:30"}))
        .collect();
    for _ in 0..10 {
        let physio = app.physio(clinic, &["general"]).await;
        app.hours(physio, json!(every_day)).await;
    }
    const BACKLOG: usize = 600;
    let routine: Vec<Referral> = (0..BACKLOG).map(|_| Referral::knee()).collect();
    futures_util::future::join_all(routine.iter().map(|r| app.request(r))).await;
    let urgent = Referral {
        priority: Priority::Urgent,
        ..Referral::knee()
    };
    app.request(&urgent).await;
    // What the routine lane had taken when the urgent one arrived.
    let taken = "SELECT count(*) AS n FROM referral_requests WHERE priority = 'routine'";
    let taken_then = app.count(taken).await;
    assert!(
        taken_then <= (BACKLOG / 2) as i64,
        "the backlog drained before the urgent referral was published ({taken_then} taken): make it larger"
    );
    // The backlog drains completely: nothing lost on either lane.
    app.wait_for_count(
        "SELECT count(*) AS n FROM appointments WHERE status = 'booked'",
        BACKLOG as i64 + 1,
    )
    .await;
    // Had it queued behind the backlog, every routine referral would have
    // been booked before it; in its own lane it waits at most for what was
    // in flight when it came.
    let booked_before = format!(
        "SELECT count(*) AS n FROM appointments WHERE priority = 'routine' \
         AND created_at <= (SELECT created_at FROM appointments WHERE referral_id = '{}')",
        urgent.id
    );
    let before = app.count(&booked_before).await;
    assert!(
        before <= taken_then + 50,
        "{before} routine referrals were booked before the urgent one, {taken_then} taken when it came"
    );
}

#[tokio::test]
async fn metrics_show_each_lanes_depth_and_the_age_of_its_head() {
    let app = BookingApp::start().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let response = app.anonymous(reqwest::Method::GET, "/metrics").await;
        let text = response.text().await.unwrap();
        let shown = ["urgent", "routine"].iter().all(|lane| {
            text.contains(&format!("spotter_booking_lane_depth{{lane=\"{lane}\"}} 0"))
                && text.contains(&format!(
                    "spotter_booking_lane_oldest_age_seconds{{lane=\"{lane}\"}} 0"
                ))
        });
        if shown {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_queue_before_lanes_stops_filling_at_connect() {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::{AMQPValue, FieldTable};
    use spotter_messaging::topology::{RETIRED_QUEUES, retire_old_queues};
    let app = BookingApp::start().await;
    let settings = &app.settings.broker;
    let connection = lapin::Connection::connect(
        settings.url.expose_secret(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    // As an earlier version declared it: a quorum queue bound to both keys.
    let old = settings.queue_name(RETIRED_QUEUES[0].name);
    let channel = connection.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(old.as_str().into(), durable, quorum)
        .await
        .unwrap();
    for key in RETIRED_QUEUES[0].routing_keys {
        channel
            .queue_bind(
                old.as_str().into(),
                settings.exchange.as_str().into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }
    let depth = async || {
        spotter_messaging::testing::ready_messages(&connection, &old)
            .await
            .unwrap()
    };
    app.cancel_referral(&Referral::knee()).await;
    assert_eq!(depth().await, 1);
    // Retired: reported with what it holds, kept (an earlier replica may be
    // draining it), and unbound, so the next event passes it by.
    let found = retire_old_queues(&connection, settings).await.unwrap();
    assert_eq!(found, vec![(old.clone(), 1)]);
    app.cancel_referral(&Referral::knee()).await;
    assert_eq!(depth().await, 1, "still bound after retiring");
    // The connection survived all of it.
    assert!(connection.status().connected());
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_delete(old.as_str().into(), Default::default())
        .await
        .unwrap();
}

/// The clinic search behind every booking keeps one plan, and that plan
/// reads the service-area index, so its cost follows the clinics near the
/// trainer, not the network. Compared with a bound `true`, the index (partial
/// on `accepts_referrals`) was out of the kept plan's reach, so the database
/// planned the search afresh on every booking.
#[tokio::test]
async fn the_clinic_search_keeps_one_plan_and_it_reads_the_service_area_index() {
    let app = BookingApp::start().await;
    let mut conn = app.db.connection().await.unwrap();
    // A network of 2,000 clinics spread over the globe, analyzed.
    conn.batch_execute(
        "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km) \
         SELECT gen_random_uuid(), 'Seeded Physio', 'UTC', \
                -80 + (g * 37 % 160), -179 + (g * 113 % 358), 10 \
           FROM generate_series(1, 2000) g; \
         ANALYZE clinics;",
    )
    .await
    .unwrap();
    let london = Location {
        lat: 51.5,
        lon: -0.12,
    };
    for _ in 0..10 {
        covering_clinics(&mut conn, london).await.unwrap();
    }
    let search = plans_of(&mut conn, "service_box").await.unwrap();
    assert!(
        search.kept > 0,
        "planned afresh on all {} runs, never kept a plan",
        search.planned_afresh
    );
    let args = format!("'{}'", earth_point(london));
    let plan = kept_plan(&mut conn, &search.name, &args).await.unwrap();
    assert!(
        plan.iter().any(|line| line.contains("clinics_service_box")),
        "the kept plan does not read the index: {plan:#?}"
    );
}

/// The trainer's point, computed by the service, is where earthdistance's
/// own `ll_to_earth` puts it, anywhere on earth (to a millimetre; the boxes
/// it is tested against are 1% wider than the areas).
#[tokio::test]
async fn the_trainers_point_is_where_earthdistance_puts_it() {
    let app = BookingApp::start().await;
    let mut conn = app.db.connection().await.unwrap();
    #[derive(QueryableByName)]
    struct Apart {
        #[diesel(sql_type = diesel::sql_types::Double)]
        metres: f64,
    }
    for (lat, lon) in [
        (51.5, -0.12),
        (-33.87, 151.21),
        (89.99, 179.99),
        (-90.0, -180.0),
        (0.0, 0.0),
    ] {
        let point = earth_point(Location { lat, lon });
        let apart: Apart =
            diesel::sql_query("SELECT cube_distance(ll_to_earth($1, $2), $3::cube) AS metres")
                .bind::<diesel::sql_types::Double, _>(lat)
                .bind::<diesel::sql_types::Double, _>(lon)
                .bind::<Text, _>(&point)
                .get_result(&mut conn)
                .await
                .unwrap();
        assert!(
            apart.metres < 0.001,
            "{lat}, {lon}: {point} is {} m off",
            apart.metres
        );
    }
}

/// A diary read, the commonest statement of a booking, is answered from the
/// diary index alone: its plan is an index-only scan of
/// `appointments_booked_diary`, which holds every column it reads. A bound
/// status (the kept plan could not use the partial index) or a column
/// missing from the index would send it to the table for every appointment.
#[tokio::test]
async fn a_diary_read_is_answered_from_the_diary_index_alone() {
    let app = BookingApp::start().await;
    let mut conn = app.db.connection().await.unwrap();
    // 20 physios with 100 appointments each, hour after hour from now;
    // analyzed, so the planner knows what a window of one diary holds.
    conn.batch_execute(
        "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km) \
         VALUES ('00000000-0000-7000-8000-00000000c11c', 'Diary Physio', 'UTC', 51.5, -0.12, 10); \
         INSERT INTO physios (id, clinic_id, display_name, specialties) \
         SELECT gen_random_uuid(), '00000000-0000-7000-8000-00000000c11c', 'Physio', \
                ARRAY['general'] FROM generate_series(1, 20); \
         INSERT INTO referral_requests (referral_id, trainer_id, client_id, body_region, \
                                        priority, lat, lon, requested_at, attempt, state) \
         SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'knee', 'routine', \
                51.5, -0.12, now(), 1, 'booked' FROM generate_series(1, 2000); \
         WITH physio AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM physios), \
              request AS (SELECT referral_id, trainer_id, client_id, \
                                 row_number() OVER (ORDER BY referral_id) - 1 AS n \
                            FROM referral_requests) \
         INSERT INTO appointments (id, referral_id, trainer_id, client_id, physio_id, clinic_id, \
                                   priority, starts_at, ends_at, blocked_until, target_missed) \
         SELECT gen_random_uuid(), r.referral_id, r.trainer_id, r.client_id, p.id, \
                '00000000-0000-7000-8000-00000000c11c', 'routine', \
                date_trunc('hour', now()) + (r.n / 20 + 1) * interval '1 hour', \
                date_trunc('hour', now()) + (r.n / 20 + 1) * interval '1 hour' + interval '45 minutes', \
                date_trunc('hour', now()) + (r.n / 20 + 1) * interval '1 hour' + interval '45 minutes', \
                false \
           FROM request r JOIN physio p ON p.i = r.n % 20;",
    )
    .await
    .unwrap();
    // On its own: VACUUM refuses to run in the implicit transaction of a
    // multi-statement string.
    conn.batch_execute("VACUUM (ANALYZE) physios, referral_requests, appointments")
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let mut physios = vec![PhysioFacts {
        id: Uuid::now_v7(),
        clinic_id: Uuid::now_v7(),
        active: true,
        specialties: vec!["general".to_owned()],
        hours: vec![],
        time_off: vec![],
        booked: vec![],
    }];
    let window = Interval {
        start: now,
        end: now + chrono::Duration::days(2),
    };
    load_diaries(&mut conn, &mut physios, &[], window)
        .await
        .unwrap();
    let read = plans_of(&mut conn, "blocked_until").await.unwrap();
    let args = "true, '{}', now(), now(), now(), false, '{}', now(), now()";
    let plan = kept_plan(&mut conn, &read.name, args).await.unwrap();
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Only Scan using appointments_booked_diary")),
        "{plan:#?}"
    );
}
