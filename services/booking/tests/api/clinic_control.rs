//! What a clinic admin may learn and change about where the clinic draws
//! referrals from (docs/architecture.md, "Fair use"): the waitlist in counts
//! and 5 km bands only, the clinic's geography in platform admins' hands, the
//! service radius capped.

use crate::support::{BookingApp, Referral, WAIT, body, problem};
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_contracts::booking::v1::ReferralWaitlisted;
use spotter_contracts::common::v1::Priority;
use uuid::Uuid;

/// A referral from a trainer `km_north` kilometres north of the test clinic
/// (51.5, -0.12): a degree of latitude is about 111.2 km.
fn north_of_clinic(km_north: f64) -> Referral {
    let mut referral = Referral::knee();
    referral.lat = 51.5 + km_north / 111.2;
    referral.lon = -0.12;
    referral
}

#[tokio::test]
async fn the_waitlist_shows_a_clinic_counts_in_bands_never_ids_times_or_distances() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await; // 20 km radius, no physios: all wait
    let mut urgent = north_of_clinic(1.0);
    urgent.priority = Priority::Urgent;
    let waiting = [
        north_of_clinic(1.0),
        north_of_clinic(3.2),
        urgent,
        north_of_clinic(7.4),
        north_of_clinic(19.0),
    ];
    let beyond_radius = north_of_clinic(24.0);
    for referral in waiting.iter().chain([&beyond_radius]) {
        app.request(referral).await;
        app.tap.next::<ReferralWaitlisted>(WAIT).await.unwrap();
    }
    let own_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    let seen = body(
        app.get(&format!("/admin/v1/clinics/{clinic}/waitlist"), &own_admin)
            .await,
        200,
    )
    .await;
    let group = |priority: &str, from: u32, count: u32| json!({"priority": priority, "body_region": "knee", "distance_from_km": from, "count": count});
    assert_eq!(
        seen,
        json!({"total": 5, "groups": [
            group("urgent", 0, 1),
            group("routine", 0, 2),
            group("routine", 5, 1),
            group("routine", 15, 1),
        ]})
    );
    let text = seen.to_string();
    for referral in waiting.iter().chain([&beyond_radius]) {
        for id in [referral.id, referral.trainer, referral.client] {
            assert!(!text.contains(&id.to_string()), "{text}");
        }
    }
}

#[tokio::test]
async fn only_platform_admins_move_a_clinic_or_change_whom_it_takes() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let path = format!("/admin/v1/clinics/{clinic}");
    let own_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    let before = body(app.get(&path, &app.admin).await, 200).await;
    for change in [
        json!({"location": {"lat": 51.6, "lon": -0.12}}),
        json!({"service_radius_km": 5.0}),
        json!({"accepts_referrals": false}),
        json!({"name": "Renamed", "service_radius_km": 10.0}),
    ] {
        let refused = problem(app.patch(&path, &own_admin, &change).await, 403).await;
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("platform admins"),
            "{refused}"
        );
    }
    assert_eq!(body(app.get(&path, &app.admin).await, 200).await, before);
    // The rest of the clinic stays theirs to run.
    let renamed = body(
        app.patch(&path, &own_admin, &json!({"name": "Renamed"}))
            .await,
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Renamed");
    // A platform admin may change all three.
    let changes = json!({"location": {"lat": 51.6, "lon": -0.1}, "service_radius_km": 12.5, "accepts_referrals": false});
    let changed = body(app.patch(&path, &app.admin, &changes).await, 200).await;
    assert_eq!(changed["location"], changes["location"]);
    assert_eq!(changed["service_radius_km"], 12.5);
    assert_eq!(changed["accepts_referrals"], false);
}

#[tokio::test]
async fn a_service_radius_above_the_cap_is_refused_naming_the_field() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let path = format!("/admin/v1/clinics/{clinic}");
    let wide = json!({"service_radius_km": 50.5});
    let refused = problem(app.patch(&path, &app.admin, &wide).await, 422).await;
    assert_eq!(
        refused["errors"][0]["field"], "service_radius_km",
        "{refused}"
    );
    let new_clinic: Value = json!({"name": "Wide", "timezone": "UTC", "location": {"lat": 51.5, "lon": -0.1}, "service_radius_km": 120.0});
    let refused = problem(
        app.post("/admin/v1/clinics", &app.admin, &new_clinic).await,
        422,
    )
    .await;
    assert_eq!(
        refused["errors"][0]["field"], "service_radius_km",
        "{refused}"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM clinics").await, 1);
    let unchanged = body(app.get(&path, &app.admin).await, 200).await;
    assert_eq!(unchanged["service_radius_km"], 20.0);
    // At the cap itself is allowed.
    let at_cap = json!({"service_radius_km": 50.0});
    body(app.patch(&path, &app.admin, &at_cap).await, 200).await;
    // Below 100 m is no service area (and 5e-324 once overflowed its index
    // into a 500); 0.1 is the least.
    for tiny in [5e-324, 0.05] {
        let tiny = json!({ "service_radius_km": tiny });
        let refused = problem(app.patch(&path, &app.admin, &tiny).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], "service_radius_km");
    }
    body(
        app.patch(&path, &app.admin, &json!({"service_radius_km": 0.1}))
            .await,
        200,
    )
    .await;
}
