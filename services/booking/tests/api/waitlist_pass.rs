//! A waitlist pass and a capacity change that arrives while it runs: the
//! pass leaves a booking into the changed clinic to that change's own pass
//! (which reads the waitlist around the clinic afresh, so an urgent referral
//! that joined meanwhile goes first) and books everyone else on its list.
//!
//! No service runs here: the passes are called directly on a database of
//! booking's migrations, so no background worker takes the change first and
//! the order of events is the test's own.

use booking_service::engine::book::Rules;
use booking_service::waitlist::{retry_waitlist, retry_where_capacity_changed};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use spotter_db::testing::TestDatabase;
use spotter_service::testing::migration_dirs;

const RULES: Rules = Rules {
    refusals_before_review: 3,
    deadline_reminder_share: 0.25,
};
/// Clinic X (central London) and clinic Y (central Manchester), 260 km apart,
/// each with one physio working around the clock, no minimum notice.
const CLINIC_X: &str = "00000000-0000-7000-8000-0000000000c1";
const CLINIC_Y: &str = "00000000-0000-7000-8000-0000000000c2";
/// Waitlisted near X (the older, so first on the pass's list) and near Y.
const WAITING_AT_X: &str = "00000000-0000-7000-8000-0000000000a1";
const WAITING_AT_Y: &str = "00000000-0000-7000-8000-0000000000a2";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The one text column `value` of each row `sql` returns.
async fn values(conn: &mut AsyncPgConnection, sql: &str) -> Vec<String> {
    let rows: Vec<Row> = diesel::sql_query(sql).load(conn).await.unwrap();
    rows.into_iter().map(|row| row.value).collect()
}

async fn state_of(conn: &mut AsyncPgConnection, referral: &str) -> String {
    let sql =
        format!("SELECT state AS value FROM referral_requests WHERE referral_id = '{referral}'");
    values(conn, &sql).await.remove(0)
}

async fn booked_clinic(conn: &mut AsyncPgConnection, referral: &str) -> String {
    let sql = format!(
        "SELECT clinic_id::text AS value FROM appointments WHERE referral_id = '{referral}'"
    );
    values(conn, &sql).await.remove(0)
}

async fn untaken_changes(conn: &mut AsyncPgConnection) -> Vec<String> {
    values(
        conn,
        "SELECT clinic_id::text AS value FROM capacity_changes ORDER BY 1",
    )
    .await
}

#[tokio::test]
async fn a_pass_leaves_a_booking_into_a_clinic_whose_capacity_changed_to_that_changes_pass() {
    let db = TestDatabase::create("booking", &migration_dirs("booking"))
        .await
        .unwrap();
    let mut conn = db.connection().await.unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO clinics (id, name, timezone, lat, lon, service_radius_km, min_notice_minutes) \
         VALUES ('{CLINIC_X}', 'X Physio', 'UTC', 51.5, -0.12, 10, 0), \
                ('{CLINIC_Y}', 'Y Physio', 'UTC', 53.48, -2.24, 10, 0); \
         INSERT INTO physios (id, clinic_id, display_name, specialties) \
         SELECT gen_random_uuid(), id, 'Physio', ARRAY['general'] FROM clinics; \
         INSERT INTO weekly_hours (physio_id, weekday, start_time, end_time) \
         SELECT p.id, d, '00:00', '23:59' FROM physios p, generate_series(1, 7) d; \
         INSERT INTO referral_requests (referral_id, trainer_id, client_id, body_region, \
                                        priority, lat, lon, requested_at, attempt, state, waitlisted_at) \
         VALUES ('{WAITING_AT_X}', gen_random_uuid(), gen_random_uuid(), 'knee', 'routine', \
                 51.501, -0.121, now() - interval '2 hours', 1, 'waitlisted', now()), \
                ('{WAITING_AT_Y}', gen_random_uuid(), gen_random_uuid(), 'knee', 'routine', \
                 53.481, -2.241, now() - interval '1 hour', 1, 'waitlisted', now()); \
         INSERT INTO capacity_changes (clinic_id) VALUES ('{CLINIC_X}');"
    ))
    .await
    .unwrap();
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();

    // A sweep that began before X's change was taken: X's referral is on
    // its list, first. Its booking at X is left to X's change; Y's is not
    // held up by a change elsewhere.
    let booked = retry_waitlist(&pool, RULES).await.unwrap();
    assert_eq!(booked, 1, "the sweep books the referral near Y");
    assert_eq!(state_of(&mut conn, WAITING_AT_Y).await, "booked");
    assert_eq!(booked_clinic(&mut conn, WAITING_AT_Y).await, CLINIC_Y);
    assert_eq!(state_of(&mut conn, WAITING_AT_X).await, "waitlisted");
    assert_eq!(untaken_changes(&mut conn).await, [CLINIC_X]);

    // X's own pass takes the change and books around X.
    let booked = retry_where_capacity_changed(&pool, RULES).await.unwrap();
    assert_eq!(booked, 1, "X's pass books the referral near X");
    assert_eq!(state_of(&mut conn, WAITING_AT_X).await, "booked");
    assert_eq!(booked_clinic(&mut conn, WAITING_AT_X).await, CLINIC_X);
    assert!(untaken_changes(&mut conn).await.is_empty());
}
