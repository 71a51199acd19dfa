//! The end of each week of training under guidance (docs/training.md,
//! "Adherence"): a whole week in which an exercise was done in under half
//! its prescribed sessions tells the trainer once, through
//! `TrainingBehind`; a week at half or more tells no one; either way the
//! next week's end is awaited, until the care ends.

use crate::support::{ReferralApp, WAIT, body};
use crate::training::{discharge, under_care};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use spotter_contracts::referral::v1::TrainingBehind;
use uuid::Uuid;

const TOLD: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.TrainingBehind'";

/// Midnight UTC (the clinic's zone here) at the start of `monday`.
fn start_of(monday: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0).unwrap())
}

fn weekly_deadline(referral: Uuid, condition: &str) -> String {
    format!(
        "SELECT count(*) AS n FROM deadlines \
         WHERE subject_id = '{referral}' AND kind = 'adherence_week' {condition}"
    )
}

/// The weekly deadline is rewound to the end of an earlier week, `end`
/// (already past, so it fires at once): the week's end is the row's
/// `escalate_at`, and `due_at` when it is looked at.
async fn week_ends(app: &ReferralApp, referral: Uuid, end: DateTime<Utc>) {
    let moved = app
        .execute(&format!(
            "UPDATE deadlines SET due_at = '{end}', escalate_at = '{end}' \
             WHERE subject_id = '{referral}' AND kind = 'adherence_week'",
            end = end.to_rfc3339()
        ))
        .await
        .unwrap();
    assert_eq!(moved, 1, "the weekly deadline is running");
}

#[tokio::test]
async fn a_week_under_half_tells_the_trainer_once_and_the_next_week_is_awaited() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, physio) = under_care(&app, &trainer).await;
    // Shared now: its week is only partly under it, so the first week told
    // of ends a fortnight after that week's Monday (the clinic is in UTC).
    let first_end = "AND due_at = (SELECT date_trunc('week', created_at AT TIME ZONE 'UTC') \
         AT TIME ZONE 'UTC' + interval '14 days' FROM guidance WHERE referral_id = subject_id)";
    assert_eq!(app.count(&weekly_deadline(id, first_end)).await, 1);
    // Nothing anyone owes: the referral does not show it as awaited.
    let detail = body(
        app.get(&format!("/v1/referrals/{id}"), &trainer.token)
            .await,
        200,
    )
    .await;
    assert!(
        !detail["awaiting"].to_string().contains("adherence_week"),
        "{}",
        detail["awaiting"]
    );

    // History: the guidance was shared three weeks ago. The week before
    // last had both exercises done at least half as often as prescribed;
    // last week, split squats once of three and no deadlifts.
    app.execute(&format!(
        "UPDATE guidance SET created_at = now() - interval '21 days' WHERE referral_id = '{id}'"
    ))
    .await
    .unwrap();
    let today = Utc::now().date_naive();
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let last_monday = this_monday - Duration::weeks(1);
    let week_before = last_monday - Duration::weeks(1);
    let both = json!([
        {"name": "Split squat", "sets": 3, "reps": 10},
        {"name": "Romanian deadlift", "sets": 3, "reps": 8},
    ]);
    let sessions = format!("/v1/referrals/{id}/sessions");
    let log = |at: DateTime<Utc>, exercises: serde_json::Value| json!({"performed_at": at, "exercises": exercises, "session_rpe": 4, "pain_during": 1});
    for day in [1, 3] {
        let at = start_of(week_before) + Duration::days(day) + Duration::hours(9);
        body(
            app.post(&sessions, &trainer.token, &log(at, both.clone()))
                .await,
            201,
        )
        .await;
    }
    let once = json!([{"name": "split squat", "sets": 3, "reps": 10}]);
    let at = start_of(last_monday) + Duration::days(2) + Duration::hours(9);
    body(
        app.post(&sessions, &trainer.token, &log(at, once)).await,
        201,
    )
    .await;

    // The week before last ends (2 of 3, 2 of 2: no one is told), and then
    // at once last week, whose end has passed too: both exercises under
    // half. The trainer is told once, of last week only, with ids, the
    // week and a count; then this week's end is awaited.
    week_ends(&app, id, start_of(last_monday)).await;
    let this_week = format!(
        "AND due_at = '{}'",
        start_of(this_monday + Duration::weeks(1)).to_rfc3339()
    );
    app.wait_for_count(&weekly_deadline(id, &this_week), 1)
        .await;
    assert_eq!(app.count(TOLD).await, 1);
    let referral_id = id.to_string();
    let told = app
        .tap
        .next_matching::<TrainingBehind>(WAIT, |e| e.referral_id == referral_id)
        .await
        .unwrap();
    let iso = last_monday.iso_week();
    assert_eq!(told.week, format!("{}-W{:02}", iso.year(), iso.week()));
    assert_eq!(told.exercises_behind, 2);
    assert_eq!(told.guidance_version, 1);
    assert_eq!(told.trainer_id, trainer.id.to_string());
    assert_eq!(
        told.week_ended_at.map(|t| t.seconds),
        Some(start_of(this_monday).timestamp())
    );

    // A discharge ends the care, and the weeks with it.
    discharge(&app, id, &physio).await;
    assert_eq!(app.count(&weekly_deadline(id, "")).await, 0);
}

#[tokio::test]
async fn guidance_without_exercises_ends_the_weeks() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, physio) = under_care(&app, &trainer).await;
    assert_eq!(app.count(&weekly_deadline(id, "")).await, 1);
    // Version 2 rests the client: nothing to count any more.
    let rest = json!({
        "clearance": "no_training",
        "avoid": [],
        "exercises": [],
        "load_limits": {"max_rpe": 3, "pain_ceiling": 2},
        "review_on": (Utc::now().date_naive() + Duration::days(14)).to_string(),
    });
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, &physio, &rest).await, 201).await;
    assert_eq!(app.count(&weekly_deadline(id, "")).await, 0);
}

/// The migration that introduced the weekly deadline gives it to the
/// referrals already under care (guidance with exercises), due at the end
/// of the current week where their clinic is; not to a discharged one.
#[tokio::test]
async fn referrals_already_under_care_are_given_their_weekly_deadline() {
    let app = ReferralApp::start().await;
    let (sydney, _) = under_care(&app, &app.trainer().await).await;
    let (unknown_zone, _) = under_care(&app, &app.trainer().await).await;
    let (discharged, physio) = under_care(&app, &app.trainer().await).await;
    discharge(&app, discharged, &physio).await;
    app.execute(&format!(
        "UPDATE referrals SET clinic_timezone = CASE id \
         WHEN '{sydney}' THEN 'Australia/Sydney' ELSE 'Nowhere/Unknown' END"
    ))
    .await
    .unwrap();
    // As before the deadline existed, then the migration.
    app.execute("DELETE FROM deadlines WHERE kind = 'adherence_week'")
        .await
        .unwrap();
    app.execute(include_str!(
        "../../migrations/2026-12-07-000002_adherence_weeks/up.sql"
    ))
    .await
    .unwrap();
    let week_end = |zone: &str| {
        format!(
            "AND due_at = (date_trunc('week', now() AT TIME ZONE '{zone}') + interval '7 days') \
             AT TIME ZONE '{zone}' AND escalate_at = due_at"
        )
    };
    let in_sydney = weekly_deadline(sydney, &week_end("Australia/Sydney"));
    assert_eq!(app.count(&in_sydney).await, 1);
    let in_utc = weekly_deadline(unknown_zone, &week_end("UTC"));
    assert_eq!(app.count(&in_utc).await, 1);
    assert_eq!(app.count(&weekly_deadline(discharged, "")).await, 0);
}
