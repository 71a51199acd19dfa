//! Each coded value is declared once in Rust; the database's CHECK on the
//! column that stores it must allow exactly the same names.

use referral_service::domain::lifecycle::Status;
use referral_service::domain::screening::Disposition;
use referral_service::domain::training::MovementPattern;
use referral_service::domain::training::check::Rule;
use referral_service::domain::training::flare::FlareSign;
use referral_service::domain::vocabulary::{
    BodyRegion, Clearance, ConsentMethod, Priority, RedFlag, Side, TimelineCause,
};
use referral_service::screening::clearance::ClearedUrgency;
use referral_service::screening::store::Source;
use referral_service::training::measures::Occasion;
use spotter_db::testing::TestDatabase;
use spotter_platform::vocabulary::{AppointmentKind, AppointmentStatus};
use spotter_service::testing::migration_dirs;

fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn every_coded_column_allows_exactly_its_enum() {
    let db = TestDatabase::create("referral", &migration_dirs("referral"))
        .await
        .unwrap();
    let columns = [
        ("referrals", "status", names(Status::ALL)),
        ("referral_timeline", "status", names(Status::ALL)),
        ("referrals", "priority", names(Priority::ALL)),
        ("injury_reports", "body_region", names(BodyRegion::ALL)),
        ("injury_reports", "side", names(Side::ALL)),
        (
            "injury_reports",
            "consent_method",
            names(ConsentMethod::ALL),
        ),
        ("injury_reports", "red_flags", names(RedFlag::ALL)),
        ("guidance", "clearance", names(Clearance::ALL)),
        ("referral_timeline", "cause", names(TimelineCause::ALL)),
        ("visits", "kind", names(AppointmentKind::ALL)),
        ("visits", "status", names(AppointmentStatus::ALL)),
        ("screenings", "disposition", names(Disposition::ALL)),
        ("screenings", "source", names(Source::ALL)),
        ("medical_clearances", "urgency", names(ClearedUrgency::ALL)),
        ("training_sessions", "flare_signs", names(FlareSign::ALL)),
        ("outcome_measures", "occasion", names(Occasion::ALL)),
    ];
    db.assert_checks_allow(&columns).await;
}

/// The app builds its forms from these lists before anyone signs in, so the
/// route is public, cacheable, and lists exactly the codes the API accepts.
#[tokio::test]
async fn the_vocabulary_is_public_and_lists_every_code_the_api_accepts() {
    use crate::support::{ReferralApp, body};
    let app = ReferralApp::start().await;
    let response = app.anonymous(reqwest::Method::GET, "/v1/vocabulary").await;
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cache.contains("public") && cache.contains("max-age=86400"),
        "{cache}"
    );
    let v = body(response, 200).await;
    let codes = |list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|term| term["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes("red_flags"), names(RedFlag::ALL));
    assert_eq!(codes("body_regions"), names(BodyRegion::ALL));
    assert_eq!(codes("clearances"), names(Clearance::ALL));
    assert_eq!(codes("referral_statuses"), names(Status::ALL));
    assert_eq!(codes("timeline_causes"), names(TimelineCause::ALL));
    assert!(codes("specialties").contains(&"general".to_owned()));
    // The movement patterns guidance and sessions are written in, each with
    // the regions it loads, so the app can suggest what to avoid.
    let patterns = "squat, hinge, lunge, jump_landing, sprint, run, overhead_press, \
                    horizontal_press, pull, rotation, carry, kneeling, impact";
    assert_eq!(codes("movement_patterns").join(", "), patterns);
    assert_eq!(codes("movement_patterns"), names(MovementPattern::ALL));
    assert_eq!(
        v["movement_patterns"][0]["loads"],
        serde_json::json!(["hip", "knee", "ankle_foot", "lower_back"])
    );
    assert_eq!(codes("conflict_rules"), names(Rule::ALL));
    assert_eq!(codes("flare_signs"), names(FlareSign::ALL));
    assert_eq!(v["body_regions"][3]["label"], "Wrist and hand");
    // A code the injury report refuses is not offered, and one it takes is.
    let trainer = app.trainer().await;
    let report = ReferralApp::legacy_report(&trainer, serde_json::json!([codes("red_flags")[0]]));
    body(
        app.post("/v1/injury-reports", &trainer.token, &report)
            .await,
        201,
    )
    .await;
}
