//! Fair use, as a script holding a trainer's token would meet it, with the
//! default quotas: 50 open referrals, one open referral per client and body
//! region (a red flag is always recorded), 100 new clients a day. The rate
//! limits would stop such a script first: they are lifted here, so each
//! quota is what answers.

use crate::support::{ReferralApp, TrainerWithClient, body, problem};
use chrono::{DateTime, Utc};
use diesel_async::SimpleAsyncConnection;
use referral_service::domain::vocabulary::BodyRegion;
use referral_service::quotas;
use serde_json::{Value, json};
use spotter_platform::settings::QuotaSettings;
use spotter_service::testing::plans_of;
use uuid::Uuid;

async fn start() -> ReferralApp {
    ReferralApp::start_with(|settings| {
        settings.rate_limits.write_burst = 10_000;
        settings.rate_limits.writes_per_minute = 10_000;
    })
    .await
}

async fn add_client(app: &ReferralApp, token: &str, n: usize) -> reqwest::Response {
    app.post(
        "/v1/clients",
        token,
        &json!({"display_name": format!("Client {n}")}),
    )
    .await
}

fn report_for(trainer: &TrainerWithClient, client: Uuid, region: &str) -> Value {
    let mut report = ReferralApp::report_on(trainer, region);
    report["client_id"] = json!(client);
    report
}

async fn cancel(app: &ReferralApp, referral: Uuid, token: &str) {
    body(
        app.post(
            &format!("/v1/referrals/{referral}/cancel"),
            token,
            &json!({"reason": "trainer_cancelled"}),
        )
        .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn a_trainer_holds_at_most_fifty_open_referrals_and_a_closed_one_frees_a_place() {
    let app = start().await;
    let trainer = app.trainer().await;
    let mut first = None;
    for n in 0..50 {
        let client = if n == 0 {
            trainer.client
        } else {
            let made = body(add_client(&app, &trainer.token, n).await, 201).await;
            made["id"].as_str().unwrap().parse().unwrap()
        };
        let id = app
            .refer(&trainer, &report_for(&trainer, client, "knee"))
            .await;
        first.get_or_insert(id);
    }
    let extra = body(add_client(&app, &trainer.token, 50).await, 201).await;
    let extra: Uuid = extra["id"].as_str().unwrap().parse().unwrap();
    let report = report_for(&trainer, extra, "knee");

    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &report)
            .await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/quota-exceeded");
    assert_eq!(refused["quota"], "open_referrals");
    assert_eq!(refused["limit"], 50);
    assert!(
        refused["frees_when"]
            .as_str()
            .unwrap()
            .contains("acknowledged or cancelled")
    );

    // A report triaged to emergency care is always recorded (it books nothing).
    let mut emergency = report.clone();
    emergency["screening"]["answers"]["exertional_chest_symptoms"] = json!(true);
    let recorded = body(
        app.post("/v1/injury-reports", &trainer.token, &emergency)
            .await,
        201,
    )
    .await;
    assert_eq!(recorded["status"], "emergency_advised");

    // Another trainer is not held back by this one.
    let other = app.trainer().await;
    app.refer(&other, &ReferralApp::report(&other)).await;

    cancel(&app, first.unwrap(), &trainer.token).await;
    body(
        app.post("/v1/injury-reports", &trainer.token, &report)
            .await,
        201,
    )
    .await;
}

#[tokio::test]
async fn a_second_flag_for_the_same_body_region_names_the_open_referral() {
    let app = start().await;
    let trainer = app.trainer().await;
    let knee = ReferralApp::report(&trainer);
    let open = app.refer(&trainer, &knee).await;

    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &knee).await,
        409,
    )
    .await;
    assert_eq!(refused["quota"], "open_referral_per_body_region");
    assert_eq!(refused["open_referral_id"], json!(open));

    // Another region of the same client is a referral of its own.
    app.refer(&trainer, &ReferralApp::report_on(&trainer, "shoulder"))
        .await;
    // A new flag for the same knee triaged to emergency care is always recorded.
    let mut worse = knee.clone();
    worse["screening"]["answers"]["obvious_deformity"] = json!(true);
    let recorded = body(
        app.post("/v1/injury-reports", &trainer.token, &worse).await,
        201,
    )
    .await;
    assert_eq!(recorded["status"], "emergency_advised");

    cancel(&app, open, &trainer.token).await;
    app.refer(&trainer, &knee).await;
}

#[tokio::test]
async fn a_script_adding_clients_is_stopped_for_a_day_with_retry_after() {
    let app = start().await;
    // `trainer()` adds the first client.
    let trainer = app.trainer().await;
    let started = Utc::now();
    for n in 1..100 {
        body(add_client(&app, &trainer.token, n).await, 201).await;
    }
    let refused = add_client(&app, &trainer.token, 100).await;
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let refused = problem(refused, 429).await;
    assert_eq!(refused["quota"], "new_clients_per_day");
    assert_eq!(refused["limit"], 100);
    let frees_at: DateTime<Utc> = refused["frees_at"].as_str().unwrap().parse().unwrap();
    // The first client turns a day old: a day after this test began, give or take.
    let day = chrono::Duration::hours(24);
    assert!(
        frees_at > started + day - chrono::Duration::minutes(5),
        "{frees_at}"
    );
    assert!(frees_at <= Utc::now() + day, "{frees_at}");
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");

    // Nothing was written: the list still holds 100.
    let listed = body(app.get("/v1/clients?limit=100", &trainer.token).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 100);
    assert!(listed["next_cursor"].is_null(), "{listed}");
    // Another trainer is not held back by this one.
    let other = app.trainer().await;
    body(add_client(&app, &other.token, 1).await, 201).await;
}

/// The check behind every flag is planned once per connection, for every
/// trainer. Written with the trainer as a plain parameter, a trainer with no
/// referrals yet, in a network where others have dozens, looked cheaper to
/// plan for afresh, so the database planned it again on every one of that
/// trainer's flags, which cost more than running it.
#[tokio::test]
async fn the_open_referral_check_keeps_one_plan_for_a_new_trainer_too() {
    let app = start().await;
    let mut conn = app.db.connection().await.unwrap();
    // 40 established trainers with 30 referrals each, and what the planner
    // knows of them.
    conn.batch_execute(
        "WITH trainer AS (SELECT md5('trainer' || t)::uuid AS id FROM generate_series(1, 40) t), \
              client AS (INSERT INTO clients (id, trainer_id, display_name) \
                         SELECT md5(trainer.id::text || c)::uuid, trainer.id, 'Client' \
                           FROM trainer, generate_series(1, 30) c RETURNING id, trainer_id), \
              referral AS (INSERT INTO referrals (id, trainer_id, client_id, status, priority) \
                           SELECT gen_random_uuid(), trainer_id, id, 'booked', 'routine' FROM client \
                           RETURNING id) \
         INSERT INTO injury_reports (referral_id, body_region, side, pain_level, onset_date, \
                                     mechanism, description, red_flags, consent_method) \
         SELECT id, 'knee', 'left', 3, current_date, 'gradual', 'seeded', '{}', 'verbal' FROM referral; \
         ANALYZE clients; ANALYZE referrals; ANALYZE injury_reports;",
    )
    .await
    .unwrap();
    let (newcomer, client) = (Uuid::now_v7(), Uuid::now_v7());
    for _ in 0..10 {
        let found = quotas::new_referral(
            &mut conn,
            &QuotaSettings::default(),
            newcomer,
            client,
            BodyRegion::Knee,
        )
        .await;
        assert!(found.is_ok_and(|previous| previous.is_none()));
    }
    // The database plans a statement's first five runs for their values,
    // then keeps one plan if it costs no more than those did.
    let check = plans_of(&mut conn, "AS open").await.unwrap();
    assert!(
        check.kept > 0,
        "planned afresh on all {} runs, never kept a plan",
        check.planned_afresh
    );
}

/// The new-clients check runs on every client added; written with an SQL
/// fragment, it was parsed and planned afresh each time (not prepared).
#[tokio::test]
async fn the_new_clients_check_stays_prepared_and_keeps_one_plan() {
    let app = start().await;
    let mut conn = app.db.connection().await.unwrap();
    conn.batch_execute(
        "INSERT INTO clients (id, trainer_id, display_name) \
         SELECT gen_random_uuid(), md5('trainer' || t)::uuid, 'Client' \
           FROM generate_series(1, 40) t, generate_series(1, 30) c; \
         ANALYZE clients;",
    )
    .await
    .unwrap();
    let trainer = Uuid::now_v7();
    for _ in 0..10 {
        let checked = quotas::new_clients(&mut conn, &QuotaSettings::default(), trainer).await;
        assert!(checked.is_ok());
    }
    let check = plans_of(&mut conn, "interval '1 day'")
        .await
        .expect("the check is a prepared statement of this connection");
    assert!(
        check.kept > 0,
        "planned afresh on all {} runs, never kept a plan",
        check.planned_afresh
    );
}
