//! Training around the injury: the conflict check, the session log and its
//! flares, adherence in the clinic's weeks, and who may see any of it.

use crate::support::{ReferralApp, TrainerWithClient, body, booked_event, problem};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use spotter_auth::Role;
use uuid::Uuid;

const FLARES: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.TrainingFlared'";

/// Guidance that names patterns: no jump landings, hinges up to 40 kg,
/// RPE up to 6, pain up to 3.
fn patterned_guidance() -> Value {
    json!({
        "clearance": "modified_training",
        "avoid": [
            {"pattern": "jump_landing", "reason": "the tendon is not ready for impact"},
            {"pattern": "hinge", "max_load_kg": 40, "reason": "build back gradually"},
            {"movement": "running on hills", "reason": "free text stays advice"},
        ],
        "exercises": [
            {"name": "Split squat", "pattern": "lunge", "sets": 3, "reps": 10, "per_week": 3},
            {"name": "Romanian deadlift", "pattern": "hinge", "sets": 3, "reps": 8, "per_week": 2},
        ],
        "load_limits": {"max_rpe": 6, "pain_ceiling": 3},
        "review_on": (Utc::now().date_naive() + Duration::days(21)).to_string(),
    })
}

/// An assessed referral with that guidance shared; its physio's token.
pub(crate) async fn under_care(app: &ReferralApp, trainer: &TrainerWithClient) -> (Uuid, String) {
    let (id, _, physio) = app.assessed(trainer).await;
    share_guidance(app, id, &physio).await;
    (id, physio)
}

/// Full training, no review: the physio discharges the client.
pub(crate) async fn discharge(app: &ReferralApp, id: Uuid, physio: &str) {
    let mut last = patterned_guidance();
    last["clearance"] = json!("full_training");
    last.as_object_mut().unwrap().remove("review_on");
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, physio, &last).await, 201).await;
}

async fn share_guidance(app: &ReferralApp, id: Uuid, physio: &str) {
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, physio, &patterned_guidance()).await, 201).await;
}

fn session(at: DateTime<Utc>, rpe: i64, pain: i64) -> Value {
    json!({
        "performed_at": at,
        "exercises": [
            {"name": "split squat", "pattern": "lunge", "sets": 3, "reps": 10, "load_kg": 12.5},
        ],
        "session_rpe": rpe,
        "pain_during": pain,
    })
}

#[tokio::test]
async fn a_planned_session_is_checked_against_the_current_guidance() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, physio) = app.assessed(&trainer).await;
    let check = format!("/v1/referrals/{id}/guidance/check");
    let plan = json!({"exercises": [
        {"pattern": "squat", "sets": 3, "reps": 8, "load_kg": 60, "rpe": 6},
        {"pattern": "jump_landing", "sets": 2, "reps": 5},
        {"pattern": "hinge", "sets": 3, "reps": 8, "load_kg": 50, "rpe": 8},
        {"pattern": "hinge", "sets": 3, "reps": 8, "load_kg": 40},
    ]});
    // Nothing to check against before the physio shares guidance.
    problem(app.post(&check, &trainer.token, &plan).await, 409).await;

    share_guidance(&app, id, &physio).await;
    for token in [&trainer.token, &physio] {
        let result = body(app.post(&check, token, &plan).await, 200).await;
        assert_eq!(result["guidance_version"], 1);
        assert_eq!(result["within_guidance"], false);
        let found: Vec<(String, i64)> = result["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["rule"].as_str().unwrap().to_owned(),
                    c["exercise"].as_i64().unwrap(),
                )
            })
            .collect();
        let expected = [
            ("avoided_pattern", 1),
            ("load_above_cap", 2),
            ("rpe_above_max", 2),
        ];
        let expected: Vec<(String, i64)> = expected
            .iter()
            .map(|(r, i)| ((*r).to_owned(), *i))
            .collect();
        assert_eq!(found, expected);
        assert_eq!(result["conflicts"][1]["limit"], 40.0);
        assert_eq!(result["conflicts"][1]["planned"], 50.0);
    }
    let fine = json!({"exercises": [{"pattern": "pull", "sets": 3, "reps": 10, "rpe": 5}]});
    let result = body(app.post(&check, &trainer.token, &fine).await, 200).await;
    assert_eq!(result["within_guidance"], true);

    // Bad input names the field.
    let unknown = json!({"exercises": [{"pattern": "burpee", "sets": 1, "reps": 1}]});
    let refused = problem(app.post(&check, &trainer.token, &unknown).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "exercises[0].pattern");
    let empty = problem(
        app.post(&check, &trainer.token, &json!({"exercises": []}))
            .await,
        422,
    )
    .await;
    assert_eq!(empty["errors"][0]["field"], "exercises");
}

#[tokio::test]
async fn guidance_names_patterns_and_caps_only_a_pattern() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    let mut neither = patterned_guidance();
    neither["avoid"] = json!([{"reason": "what?"}]);
    let refused = problem(app.post(&path, &physio, &neither).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "avoid[0].movement");
    let mut cap_alone = patterned_guidance();
    cap_alone["avoid"] = json!([{"movement": "heavy lifting", "max_load_kg": 10, "reason": "r"}]);
    let refused = problem(app.post(&path, &physio, &cap_alone).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "avoid[0].max_load_kg");
    let shared = body(app.post(&path, &physio, &patterned_guidance()).await, 201).await;
    assert_eq!(shared["avoid"][1]["pattern"], "hinge");
    assert_eq!(shared["avoid"][1]["max_load_kg"], 40.0);
    assert_eq!(shared["exercises"][0]["pattern"], "lunge");
}

#[tokio::test]
async fn a_session_past_the_limits_is_a_flare_the_physio_hears_of_once() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _) = under_care(&app, &trainer).await;
    let sessions = format!("/v1/referrals/{id}/sessions");
    let now = Utc::now();

    let calm = body(
        app.post(
            &sessions,
            &trainer.token,
            &session(now - Duration::days(3), 5, 2),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(calm["session"]["flare_signs"], json!([]));
    assert_eq!(calm["session"]["guidance_version"], 1);
    assert_eq!(calm["drop_back_to"], Value::Null);
    assert_eq!(app.count(FLARES).await, 0);

    // Pain 5 over a ceiling of 3: a flare. A retry of the same request
    // logs nothing more and tells no one again.
    let sore = session(now - Duration::days(2), 5, 5);
    for _ in 0..2 {
        let flared = body(
            app.post_once(&sessions, &trainer.token, "sore-session", &sore)
                .await,
            201,
        )
        .await;
        assert_eq!(
            flared["session"]["flare_signs"],
            json!(["pain_above_ceiling"])
        );
        assert_eq!(flared["drop_back_to"]["id"], calm["session"]["id"]);
        assert_eq!(flared["earlier_review_suggested"], false);
    }
    assert_eq!(app.count(FLARES).await, 1);

    // A second flare within the week suggests an earlier review.
    let hard = body(
        app.post(
            &sessions,
            &trainer.token,
            &session(now - Duration::days(1), 8, 1),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(hard["session"]["flare_signs"], json!(["rpe_above_max"]));
    assert_eq!(hard["earlier_review_suggested"], true);
    assert_eq!(hard["drop_back_to"]["id"], calm["session"]["id"]);
    assert_eq!(app.count(FLARES).await, 2);

    // The pain the day after can make a calm session a flare, once.
    let patch = format!("{sessions}/{}", calm["session"]["id"].as_str().unwrap());
    let later = body(
        app.patch(&patch, &trainer.token, &json!({"pain_after_24h": 6}))
            .await,
        200,
    )
    .await;
    assert_eq!(later["session"]["pain_after_24h"], 6);
    assert_eq!(
        later["session"]["flare_signs"],
        json!(["pain_above_ceiling"])
    );
    assert_eq!(app.count(FLARES).await, 3);
    problem(
        app.patch(&patch, &trainer.token, &json!({"pain_after_24h": 7}))
            .await,
        409,
    )
    .await;
    assert_eq!(app.count(FLARES).await, 3);

    // Bad input changes nothing.
    let future = session(now + Duration::hours(2), 5, 2);
    let refused = problem(app.post(&sessions, &trainer.token, &future).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "performed_at");
    let mut painful = session(now, 5, 2);
    painful["pain_during"] = json!(11);
    let refused = problem(app.post(&sessions, &trainer.token, &painful).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "pain_during");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM training_sessions")
            .await,
        3
    );
}

#[tokio::test]
async fn sessions_wait_for_guidance_and_stop_with_the_care() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, physio) = app.assessed(&trainer).await;
    let sessions = format!("/v1/referrals/{id}/sessions");
    let one = session(Utc::now(), 5, 2);
    problem(app.post(&sessions, &trainer.token, &one).await, 409).await;
    discharge(&app, id, &physio).await;
    let refused = problem(app.post(&sessions, &trainer.token, &one).await, 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("discharged"),
        "{refused}"
    );
}

/// Once the client is discharged, nothing more of their training is
/// recorded, and the physio is told nothing.
#[tokio::test]
async fn a_discharge_closes_the_log() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, physio) = under_care(&app, &trainer).await;
    let sessions = format!("/v1/referrals/{id}/sessions");
    let logged = body(
        app.post(&sessions, &trainer.token, &session(Utc::now(), 5, 1))
            .await,
        201,
    )
    .await;
    let later = format!("{sessions}/{}", logged["session"]["id"].as_str().unwrap());
    // A session this referral does not have is not found, and is no
    // refusal: the referral is the trainer's own.
    let unknown = format!("{sessions}/{}", Uuid::now_v7());
    problem(
        app.patch(&unknown, &trainer.token, &json!({"pain_after_24h": 1}))
            .await,
        404,
    )
    .await;
    let refusals = "SELECT count(*) AS n FROM audit_log WHERE action = 'referral.access_refused'";
    assert_eq!(app.count(refusals).await, 0);

    discharge(&app, id, &physio).await;
    let flare = json!({"pain_after_24h": 9});
    problem(app.patch(&later, &trainer.token, &flare).await, 409).await;
    problem(
        app.post(&sessions, &trainer.token, &session(Utc::now(), 9, 9))
            .await,
        409,
    )
    .await;
    assert_eq!(app.count(FLARES).await, 0);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM training_sessions WHERE pain_after IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn the_physio_reads_the_log_in_pages_and_since_a_time() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, physio) = under_care(&app, &trainer).await;
    let sessions = format!("/v1/referrals/{id}/sessions");
    let mut ids = Vec::new();
    for days in [3, 2, 1] {
        let at = Utc::now() - Duration::days(days);
        let logged = body(
            app.post(&sessions, &trainer.token, &session(at, 5, 1))
                .await,
            201,
        )
        .await;
        ids.push(logged["session"]["id"].as_str().unwrap().to_owned());
    }
    let first = body(app.get(&format!("{sessions}?limit=2"), &physio).await, 200).await;
    let listed = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&first), [ids[2].clone(), ids[1].clone()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = body(
        app.get(&format!("{sessions}?limit=2&cursor={cursor}"), &physio)
            .await,
        200,
    )
    .await;
    assert_eq!(listed(&second), [ids[0].clone()]);
    assert_eq!(second["next_cursor"], Value::Null);

    // The app syncs what changed: the oldest session, given its pain later.
    let mark = Utc::now();
    body(
        app.patch(
            &format!("{sessions}/{}", ids[0]),
            &trainer.token,
            &json!({"pain_after_24h": 2}),
        )
        .await,
        200,
    )
    .await;
    let since = mark.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let changed = body(
        app.get(
            &format!("{sessions}?updated_since={}", since.replace('+', "%2B")),
            &physio,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed(&changed), [ids[0].clone()]);
    let bad = problem(
        app.get(&format!("{sessions}?cursor=nope"), &physio).await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "cursor");
}

/// Adherence counts a clinic's weeks: in Sydney, a session at 23:30 on a
/// Sunday and one at 00:30 on the Monday fall in two weeks, though in UTC
/// both are on the Sunday.
#[tokio::test]
async fn adherence_counts_weeks_where_the_clinic_is() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let booked = crate::support::Booked {
        appointment: Uuid::now_v7(),
        physio: Uuid::now_v7(),
        clinic: Uuid::now_v7(),
    };
    let mut event = booked_event(id, &trainer, &booked);
    event.clinic_timezone = "Australia/Sydney".to_owned();
    app.publish(&event).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    app.complete(id, &trainer, &booked).await;
    app.wait_for_status(id, &trainer.token, "assessed").await;
    let physio = app
        .auth
        .token(Role::Physio, booked.physio, Some(booked.clinic));
    share_guidance(&app, id, &physio).await;
    // The physio shared it three weeks ago (history the API cannot make
    // without waiting three weeks).
    app.execute(&format!(
        "UPDATE guidance SET created_at = now() - interval '21 days' WHERE referral_id = '{id}'"
    ))
    .await
    .unwrap();

    let sydney: chrono_tz::Tz = "Australia/Sydney".parse().unwrap();
    let today = Utc::now().with_timezone(&sydney).date_naive();
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let last_monday = this_monday - Duration::weeks(1);
    let boundary = sydney
        .from_local_datetime(&last_monday.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let sessions = format!("/v1/referrals/{id}/sessions");
    for at in [
        boundary - Duration::minutes(30),
        boundary + Duration::minutes(30),
    ] {
        assert_eq!(at.date_naive(), boundary.date_naive(), "one UTC day");
        body(
            app.post(&sessions, &trainer.token, &session(at, 5, 1))
                .await,
            201,
        )
        .await;
    }

    let adherence = body(
        app.get(&format!("/v1/referrals/{id}/adherence"), &physio)
            .await,
        200,
    )
    .await;
    assert_eq!(adherence["timezone"], "Australia/Sydney");
    let week = |monday: chrono::NaiveDate| -> Value {
        adherence["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["starts_on"] == monday.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("no week of {monday}: {adherence}"))
    };
    let before = week(last_monday - Duration::weeks(1));
    let after = week(last_monday);
    // "split squat" is the guidance's "Split squat": 1 of 3 each week.
    for w in [&before, &after] {
        assert_eq!(w["complete"], true);
        assert_eq!(w["exercises"][0]["name"], "Split squat");
        assert_eq!(w["exercises"][0]["sessions"], 1, "{w}");
        assert_eq!(w["exercises"][0]["percent"], 33);
        assert_eq!(w["exercises"][0]["below_half"], true);
        assert_eq!(w["exercises"][1]["sessions"], 0);
    }
    let current = week(this_monday);
    assert_eq!(current["complete"], false);
    assert_eq!(current["exercises"][0]["below_half"], false);
    // The trainer sees the same.
    let seen = body(
        app.get(&format!("/v1/referrals/{id}/adherence"), &trainer.token)
            .await,
        200,
    )
    .await;
    assert_eq!(seen["weeks"], adherence["weeks"]);
}

/// Health data: another trainer, another physio (even at the same clinic)
/// and the clinic's admin find nothing on any training route.
#[tokio::test]
async fn no_one_but_the_trainer_and_the_treating_physio_reaches_training_data() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, _) = app.assessed(&trainer).await;
    let physio = app
        .auth
        .token(Role::Physio, booked.physio, Some(booked.clinic));
    share_guidance(&app, id, &physio).await;
    let logged = body(
        app.post(
            &format!("/v1/referrals/{id}/sessions"),
            &trainer.token,
            &session(Utc::now(), 5, 1),
        )
        .await,
        201,
    )
    .await;
    let session_id = logged["session"]["id"].as_str().unwrap();
    let other_trainer = app.trainer().await;
    let others = [
        other_trainer.token.clone(),
        app.auth
            .token(Role::Physio, Uuid::now_v7(), Some(booked.clinic)),
        app.auth
            .token(Role::ClinicAdmin, Uuid::now_v7(), Some(booked.clinic)),
    ];
    let plan = json!({"exercises": [{"pattern": "pull", "sets": 3, "reps": 10}]});
    for token in &others {
        let routes = [
            app.post(&format!("/v1/referrals/{id}/guidance/check"), token, &plan)
                .await,
            app.post(
                &format!("/v1/referrals/{id}/sessions"),
                token,
                &session(Utc::now(), 5, 1),
            )
            .await,
            app.get(&format!("/v1/referrals/{id}/sessions"), token)
                .await,
            app.patch(
                &format!("/v1/referrals/{id}/sessions/{session_id}"),
                token,
                &json!({"pain_after_24h": 9}),
            )
            .await,
            app.get(&format!("/v1/referrals/{id}/adherence"), token)
                .await,
            app.post(
                &format!("/v1/referrals/{id}/measures"),
                token,
                &json!({"occasion": "assessment", "nprs": 3}),
            )
            .await,
            app.get(&format!("/v1/referrals/{id}/measures"), token)
                .await,
            app.get(&format!("/v1/referrals/{id}/progress.csv"), token)
                .await,
        ];
        for response in routes {
            problem(response, 404).await;
        }
    }
    // The trainer's own scoring is the baseline, taken at the flag: after
    // it, only the physio measures.
    let as_trainer = app
        .post(
            &format!("/v1/referrals/{id}/measures"),
            &trainer.token,
            &json!({"occasion": "assessment", "nprs": 3}),
        )
        .await;
    problem(as_trainer, 404).await;
    // The treating physio reads but does not log for the trainer.
    let as_physio = app
        .post(
            &format!("/v1/referrals/{id}/sessions"),
            &physio,
            &session(Utc::now(), 5, 1),
        )
        .await;
    problem(as_physio, 404).await;
    // Nothing changed, and every refusal is on record.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM training_sessions WHERE pain_after IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'referral.access_refused'")
            .await,
        3 * 8 + 2
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outcome_measures")
            .await,
        0
    );
    // Nor does the referral show a clinic its outcomes.
    let admin = &others[2];
    let seen = body(app.get(&format!("/v1/referrals/{id}"), admin).await, 200).await;
    assert_eq!(seen["outcomes"], Value::Null);
}

const IMPROVEMENTS: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.OutcomeImproved'";

/// The trainer scores the client's pain and activities at the flag; the
/// physio scores them again; a change of the published minimal clinically
/// important difference (2 points) is marked and told once.
#[tokio::test]
async fn measures_are_compared_with_the_baseline_taken_at_the_flag() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let mut report = ReferralApp::report(&trainer);
    report["psfs"] =
        json!([{"activity": "Running", "score": 2}, {"activity": "running ", "score": 4}]);
    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &report)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "psfs[1].activity");
    report["psfs"] =
        json!([{"activity": "Running", "score": 2}, {"activity": "Stairs", "score": 4}]);
    let id = app.refer(&trainer, &report).await;
    let booked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    let physio = app
        .auth
        .token(Role::Physio, booked.physio, Some(booked.clinic));
    let measures = format!("/v1/referrals/{id}/measures");
    let assessment = json!({"occasion": "assessment", "nprs": 4, "psfs": [
        {"activity": "running", "score": 3}, {"activity": "Stairs", "score": 4}]});
    // Not before the client is assessed.
    problem(app.post(&measures, &physio, &assessment).await, 409).await;
    app.complete(id, &trainer, &booked).await;
    app.wait_for_status(id, &trainer.token, "assessed").await;

    let first = body(app.post(&measures, &physio, &assessment).await, 201).await;
    assert_eq!(
        first["compared_with_baseline"]["nprs"],
        json!({"by": -1.0, "change": "not_meaningful"})
    );
    assert_eq!(
        first["compared_with_baseline"]["psfs"],
        json!({"by": 0.5, "change": "not_meaningful"})
    );
    assert_eq!(app.count(IMPROVEMENTS).await, 0);

    let follow_up = json!({"occasion": "follow_up", "nprs": 2, "psfs": [
        {"activity": "Running", "score": 6}, {"activity": "Stairs", "score": 6}]});
    for _ in 0..2 {
        let better = body(
            app.post_once(&measures, &physio, "follow-up-1", &follow_up)
                .await,
            201,
        )
        .await;
        assert_eq!(
            better["compared_with_baseline"]["nprs"]["change"],
            "improved"
        );
        assert_eq!(
            better["compared_with_baseline"]["psfs"],
            json!({"by": 3.0, "change": "improved"})
        );
        assert_eq!(better["psfs_average"], 6.0);
    }
    assert_eq!(app.count(IMPROVEMENTS).await, 1);

    let trend = body(app.get(&measures, &trainer.token).await, 200).await;
    let occasions: Vec<&str> = trend["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["occasion"].as_str().unwrap())
        .collect();
    assert_eq!(occasions, ["assessment", "follow_up"]);
    assert_eq!(trend["baseline"]["nprs"], 5, "the flag's pain level");
    assert_eq!(trend["baseline"]["psfs_average"], 3.0);
    assert_eq!(trend["latest"]["nprs"]["change"], "improved");
    let detail = app.referral(id, &trainer.token).await;
    assert_eq!(detail["outcomes"]["latest"], trend["latest"]);

    let baseline_again = json!({"occasion": "baseline", "nprs": 1});
    let refused = problem(app.post(&measures, &physio, &baseline_again).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "occasion");
}

#[tokio::test]
async fn the_progress_export_is_the_log_and_the_measures_as_csv() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, physio) = under_care(&app, &trainer).await;
    let mut logged = session(Utc::now() - Duration::hours(3), 8, 2);
    logged["exercises"][0]["name"] = json!("=HYPERLINK(\"http://x\"), squat");
    body(
        app.post(
            &format!("/v1/referrals/{id}/sessions"),
            &trainer.token,
            &logged,
        )
        .await,
        201,
    )
    .await;

    let response = app
        .get(&format!("/v1/referrals/{id}/progress.csv"), &physio)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "record,at,guidance_version,exercises,session_rpe,pain_during,pain_after_24h,flare_signs,occasion,nprs,psfs"
    );
    // A formula typed as an exercise name is text in a spreadsheet.
    assert!(
        lines[1].starts_with("session,") && lines[1].contains(",1,\"'=HYPERLINK(\"\"http://x\"\"), squat (lunge) 3x10 @ 12.5 kg\",8,2,,rpe_above_max,,,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("measure,") && lines[2].ends_with(",baseline,5,"),
        "{}",
        lines[2]
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'progress.export'")
            .await,
        1
    );
}
