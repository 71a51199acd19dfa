//! The admin API's guard rails: another clinic's admin finds nothing, a
//! trainer may not, and bad input is refused naming the field with nothing
//! changed.

use crate::support::{BookingApp, at, body, problem, weekday_in};
use reqwest::Method;
use serde_json::{Value, json};
use spotter_auth::Role;
use uuid::Uuid;

struct Fixture {
    clinic: Uuid,
    physio: Uuid,
    time_off: String,
}

async fn fixture(app: &BookingApp) -> Fixture {
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    let off = json!({"start": at(3, 9, 0), "end": at(3, 17, 0), "reason": "course"});
    let created = body(
        app.post(
            &format!("/admin/v1/physios/{physio}/time-off"),
            &app.admin,
            &off,
        )
        .await,
        201,
    )
    .await;
    Fixture {
        clinic,
        physio,
        time_off: created["id"].as_str().unwrap().to_owned(),
    }
}

/// Every admin endpoint of one clinic, with a valid body where it takes one.
fn endpoints(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let (c, p, t) = (f.clinic, f.physio, &f.time_off);
    vec![
        (Method::GET, format!("/admin/v1/clinics/{c}"), None),
        (
            Method::PATCH,
            format!("/admin/v1/clinics/{c}"),
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::PUT,
            format!("/admin/v1/clinics/{c}/booking-policy"),
            Some(
                json!({"assessment_minutes": 60, "follow_up_minutes": 30, "buffer_minutes": 5, "min_notice_minutes": 60, "horizon_days": 21}),
            ),
        ),
        (
            Method::POST,
            format!("/admin/v1/clinics/{c}/physios"),
            Some(
                json!({"user_id": Uuid::now_v7(), "display_name": "New", "specialties": ["general"]}),
            ),
        ),
        (Method::GET, format!("/admin/v1/clinics/{c}/physios"), None),
        (
            Method::GET,
            format!("/admin/v1/clinics/{c}/appointments"),
            None,
        ),
        (Method::GET, format!("/admin/v1/clinics/{c}/waitlist"), None),
        (
            Method::PATCH,
            format!("/admin/v1/physios/{p}"),
            Some(json!({"display_name": "Renamed"})),
        ),
        (
            Method::PUT,
            format!("/admin/v1/physios/{p}/weekly-hours"),
            Some(json!({"hours": [{"weekday": 1, "start": "09:00", "end": "12:00"}]})),
        ),
        (
            Method::POST,
            format!("/admin/v1/physios/{p}/time-off"),
            Some(json!({"start": at(5, 9, 0), "end": at(5, 12, 0), "reason": "dentist"})),
        ),
        (
            Method::DELETE,
            format!("/admin/v1/physios/{p}/time-off/{t}"),
            None,
        ),
    ]
}

#[tokio::test]
async fn another_clinics_admin_finds_nothing_and_a_trainer_may_not() {
    let app = BookingApp::start().await;
    let f = fixture(&app).await;
    let other_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    let trainer = app.auth.token(Role::Trainer, Uuid::now_v7(), None);
    let physio = app.auth.token(Role::Physio, f.physio, Some(f.clinic));
    for (method, path, payload) in endpoints(&f) {
        let response = app
            .send(method.clone(), &path, &other_admin, payload.as_ref())
            .await;
        assert_eq!(
            response.status(),
            404,
            "{method} {path} for another clinic's admin"
        );
        for (who, token) in [("trainer", &trainer), ("physio", &physio)] {
            let response = app
                .send(method.clone(), &path, token, payload.as_ref())
                .await;
            assert_eq!(response.status(), 403, "{method} {path} for a {who}");
        }
    }
    // Nothing was changed by any of them.
    let clinic = body(
        app.get(&format!("/admin/v1/clinics/{}", f.clinic), &app.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(clinic["name"], "Thames Physio");
    assert_eq!(app.count("SELECT count(*) AS n FROM physios").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM time_off").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM weekly_hours").await, 0);

    // The clinic's own admin may do all of it.
    let own_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(f.clinic));
    for (method, path, payload) in endpoints(&f) {
        let response = app
            .send(method.clone(), &path, &own_admin, payload.as_ref())
            .await;
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
    }
    // Creating clinics stays with platform admins.
    let new_clinic = json!({"name": "X", "timezone": "UTC", "location": {"lat": 0.0, "lon": 0.0}, "service_radius_km": 5.0});
    problem(
        app.post("/admin/v1/clinics", &own_admin, &new_clinic).await,
        403,
    )
    .await;
}

#[tokio::test]
async fn bad_input_on_every_write_is_422_naming_the_field_and_changes_nothing() {
    let app = BookingApp::start().await;
    let f = fixture(&app).await;
    let (c, p) = (f.clinic, f.physio);
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/admin/v1/clinics".to_owned(),
            json!({"name": "X", "timezone": "Nowhere/City", "location": {"lat": 0.0, "lon": 0.0}, "service_radius_km": 5.0}),
            "timezone",
        ),
        (
            Method::POST,
            "/admin/v1/clinics".to_owned(),
            json!({"name": "X", "timezone": "UTC", "location": {"lat": 0.0, "lon": 0.0}, "service_radius_km": 0.0}),
            "service_radius_km",
        ),
        (
            Method::PATCH,
            format!("/admin/v1/clinics/{c}"),
            json!({"location": {"lat": 95.0, "lon": 0.0}}),
            "location.lat",
        ),
        (
            Method::PUT,
            format!("/admin/v1/clinics/{c}/booking-policy"),
            json!({"assessment_minutes": 5, "follow_up_minutes": 30, "buffer_minutes": 5, "min_notice_minutes": 60, "horizon_days": 21}),
            "assessment_minutes",
        ),
        (
            Method::PUT,
            format!("/admin/v1/clinics/{c}/booking-policy"),
            json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 5, "min_notice_minutes": 60, "horizon_days": 365}),
            "horizon_days",
        ),
        (
            Method::POST,
            format!("/admin/v1/clinics/{c}/physios"),
            json!({"user_id": Uuid::now_v7(), "display_name": "Y", "specialties": ["knees"]}),
            "specialties[0]",
        ),
        (
            Method::POST,
            format!("/admin/v1/clinics/{c}/physios"),
            json!({"user_id": "not-a-uuid", "display_name": "Y", "specialties": ["knee"]}),
            "user_id",
        ),
        (
            Method::PATCH,
            format!("/admin/v1/physios/{p}"),
            json!({"specialties": []}),
            "specialties",
        ),
        (
            Method::PUT,
            format!("/admin/v1/physios/{p}/weekly-hours"),
            json!({"hours": [{"weekday": weekday_in(1), "start": "12:00", "end": "09:00"}]}),
            "hours[0].end",
        ),
        (
            Method::PUT,
            format!("/admin/v1/physios/{p}/weekly-hours"),
            json!({"hours": [
                {"weekday": 2, "start": "09:00", "end": "13:00"},
                {"weekday": 2, "start": "12:00", "end": "17:00"}
            ]}),
            "hours[1].start",
        ),
        (
            Method::PUT,
            format!("/admin/v1/physios/{p}/weekly-hours"),
            json!({"hours": [{"weekday": 8, "start": "09:00", "end": "10:00"}]}),
            "hours[0].weekday",
        ),
        (
            Method::POST,
            format!("/admin/v1/physios/{p}/time-off"),
            json!({"start": at(4, 12, 0), "end": at(4, 9, 0), "reason": "x"}),
            "end",
        ),
        (
            Method::POST,
            format!("/admin/v1/physios/{p}/time-off"),
            json!({"start": "tomorrow", "end": at(4, 9, 0), "reason": "x"}),
            "start",
        ),
    ];
    for (method, path, payload, field) in cases {
        let response = app
            .send(method.clone(), &path, &app.admin, Some(&payload))
            .await;
        let found = problem(response, 422).await;
        let fields: Vec<&str> = found["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{method} {path}: expected {field}, got {fields:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM clinics").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM physios").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM weekly_hours").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM time_off").await, 1);
    let clinic = body(
        app.get(&format!("/admin/v1/clinics/{c}"), &app.admin).await,
        200,
    )
    .await;
    assert_eq!(clinic["location"]["lat"], 51.5);
    assert_eq!(clinic["booking_policy"]["assessment_minutes"], 45);
    // A second physio with the same identity is a conflict, not a new row.
    let again = json!({"user_id": p, "display_name": "Twin", "specialties": ["knee"]});
    problem(
        app.post(
            &format!("/admin/v1/clinics/{c}/physios"),
            &app.admin,
            &again,
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn a_retried_clinic_or_time_off_with_its_key_is_made_once() {
    let app = BookingApp::start().await;
    let clinic = json!({"name": "Retry Physio", "timezone": "UTC", "location": {"lat": 51.5, "lon": -0.1}, "service_radius_km": 10.0});
    let first = app
        .post_once("/admin/v1/clinics", &app.admin, "k-1", &clinic)
        .await;
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first = body(first, 201).await;
    assert_eq!(
        location,
        format!("/admin/v1/clinics/{}", first["id"].as_str().unwrap())
    );
    let again = body(
        app.post_once("/admin/v1/clinics", &app.admin, "k-1", &clinic)
            .await,
        201,
    )
    .await;
    assert_eq!(first, again);
    assert_eq!(app.count("SELECT count(*) AS n FROM clinics").await, 1);

    let clinic_id: uuid::Uuid = first["id"].as_str().unwrap().parse().unwrap();
    let physio = app.physio(clinic_id, &["knee"]).await;
    let path = format!("/admin/v1/physios/{physio}/time-off");
    let off = json!({"start": at(3, 9, 0), "end": at(3, 17, 0), "reason": "course"});
    let first = body(app.post_once(&path, &app.admin, "k-2", &off).await, 201).await;
    let again = body(app.post_once(&path, &app.admin, "k-2", &off).await, 201).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM time_off").await, 1);
    // The clinic's key again, on another route: refused, not replayed.
    let refused = problem(app.post_once(&path, &app.admin, "k-1", &off).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
    // The same key and body on the same route for another physio: another
    // resource, so refused, never answered with the first physio's time off.
    let colleague = app.physio(clinic_id, &["knee"]).await;
    let theirs = format!("/admin/v1/physios/{colleague}/time-off");
    let refused = problem(app.post_once(&theirs, &app.admin, "k-2", &off).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.count("SELECT count(*) AS n FROM time_off").await, 1);
}
