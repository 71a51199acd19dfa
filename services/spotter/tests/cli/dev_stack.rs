//! The foundation, as a user of the dev stack meets it: health, auth at every
//! service, problem+json for bad input, one OpenAPI document, readiness that
//! follows the broker, the dead-letter admin API.

use crate::support::{TestStack, body, problem};
use reqwest::Method;
use serde_json::json;
use spotter_auth::Role;
use spotter_auth::testing::TestAuth;
use spotter_messaging::testing::{BrokerRestart, close_connections_named};
use std::time::Duration;
use uuid::Uuid;

fn clinic(name: &str, timezone: &str) -> serde_json::Value {
    json!({"name": name, "timezone": timezone, "location": {"lat": 51.5, "lon": -0.1}, "service_radius_km": 10.0, "accepts_referrals": true})
}

#[tokio::test]
async fn stack_is_live_and_ready_with_every_dependency_checked() {
    let stack = TestStack::start().await;
    let live = stack.anonymous(Method::GET, "/livez").await;
    assert_eq!(live.status(), 200);
    let ready = stack
        .wait_for_readiness("ready", Duration::from_secs(15))
        .await;
    for check in [
        "referral.database",
        "referral.broker",
        "booking.database",
        "booking.broker",
        "notification.database",
        "notification.broker",
    ] {
        assert_eq!(ready["checks"][check], "ok", "{ready}");
    }
    let metrics = stack.anonymous(Method::GET, "/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("spotter_http_requests_total"), "{text}");
}

#[tokio::test]
async fn no_response_is_stored_by_a_cache_or_sniffed_by_a_browser() {
    let stack = TestStack::start().await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    let profile = json!({"display_name": "Sam", "location": {"lat": 51.5, "lon": -0.12}});
    stack.put("/v1/trainers/me", &trainer, &profile).await;
    for response in [
        stack.get("/v1/trainers/me", &trainer).await,
        stack.get("/v1/referrals", &trainer).await,
        stack.get("/v1/appointments", &trainer).await,
        stack.get("/v1/notifications", &trainer).await,
        stack.anonymous(Method::GET, "/v1/clients").await,
        stack.anonymous(Method::GET, "/nowhere").await,
        stack.anonymous(Method::GET, "/readyz").await,
    ] {
        let url = response.url().path().to_owned();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["cache-control"], "no-store", "{url}");
    }
    let openapi = stack.anonymous(Method::GET, "/openapi.json").await;
    assert_eq!(openapi.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let stack = TestStack::start().await;
    for made_up in ["BREW", "WHEN", "PROPFIND"] {
        let method = Method::from_bytes(made_up.as_bytes()).unwrap();
        let response = stack.anonymous(method, "/v1/clients").await;
        assert!(response.status().is_client_error());
    }
    let text = stack
        .anonymous(Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    for made_up in ["BREW", "WHEN", "PROPFIND"] {
        assert!(!text.contains(made_up), "{made_up} became a label:\n{text}");
    }
    assert!(text.contains(r#"method="other""#), "{text}");
}

#[tokio::test]
async fn each_service_accepts_our_tokens_and_refuses_another_key() {
    let stack = TestStack::start().await;
    let trainer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let trainer_token = stack.token(Role::Trainer, trainer, None);
    let admin_token = stack.token(Role::PlatformAdmin, admin, None);

    // referral: a trainer's own profile
    let profile = json!({"display_name": "Sam", "location": {"lat": 51.5, "lon": -0.12}, "certifications": ["REPs L3"]});
    body(
        stack.put("/v1/trainers/me", &trainer_token, &profile).await,
        200,
    )
    .await;
    let got = body(stack.get("/v1/trainers/me", &trainer_token).await, 200).await;
    assert_eq!(got["id"], trainer.to_string());
    assert_eq!(got["location"]["lat"], 51.5);

    // booking: a platform admin creates a clinic
    let new_clinic = clinic("Knee Clinic", "Europe/London");
    body(
        stack
            .post("/admin/v1/clinics", &admin_token, &new_clinic)
            .await,
        201,
    )
    .await;

    // notification: the caller's inbox
    let inbox = body(stack.get("/v1/notifications", &trainer_token).await, 200).await;
    assert_eq!(inbox["items"], json!([]));

    // The same calls with a token from a key we don't trust.
    let forged = TestAuth::new().token(Role::PlatformAdmin, admin, None);
    for (method, path) in [
        (Method::GET, "/v1/trainers/me"),
        (Method::POST, "/admin/v1/clinics"),
        (Method::GET, "/v1/notifications"),
    ] {
        let response = stack.send(method, path, &forged, Some(&new_clinic)).await;
        problem(response, 401).await;
    }
}

#[tokio::test]
async fn roles_and_clinics_are_enforced() {
    let stack = TestStack::start().await;
    let admin_token = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);
    let new_clinic = clinic("A", "Europe/London");
    let created = body(
        stack
            .post("/admin/v1/clinics", &admin_token, &new_clinic)
            .await,
        201,
    )
    .await;
    let clinic_id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/admin/v1/clinics/{clinic_id}");

    let own_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic_id));
    body(stack.get(&path, &own_admin).await, 200).await;
    let other_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    problem(stack.get(&path, &other_admin).await, 404).await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    problem(stack.get(&path, &trainer).await, 403).await;
    problem(
        stack
            .post("/admin/v1/clinics", &own_admin, &new_clinic)
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_problem_json_naming_the_field_and_changes_nothing() {
    let stack = TestStack::start().await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    let admin = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);

    problem(stack.anonymous(Method::GET, "/v1/nowhere").await, 404).await;

    let response = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .header("content-type", "application/json")
        .body("{\"display_name\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;

    let wrong_type = json!({"display_name": "Sam", "location": {"lat": 123.0, "lon": "east"}});
    let found = problem(
        stack.put("/v1/trainers/me", &trainer, &wrong_type).await,
        422,
    )
    .await;
    assert_eq!(found["errors"][0]["field"], "location.lon", "{found}");

    // A value its type refuses (blank text) is named; so is a value out of
    // its range.
    for (body, field) in [
        (
            json!({"display_name": " ", "location": {"lat": 0.0, "lon": 0.0}}),
            "display_name",
        ),
        (
            json!({"display_name": "Sam", "location": {"lat": 123.0, "lon": 0.0}}),
            "location.lat",
        ),
    ] {
        let found = problem(stack.put("/v1/trainers/me", &trainer, &body).await, 422).await;
        assert_eq!(found["errors"][0]["field"], field, "{found}");
    }

    let martian = clinic("A", "Mars/Olympus");
    let found = problem(stack.post("/admin/v1/clinics", &admin, &martian).await, 422).await;
    assert_eq!(found["errors"][0]["field"], "timezone");

    // Nothing was written by any of the refused requests.
    problem(stack.get("/v1/trainers/me", &trainer).await, 404).await;
    assert_eq!(count_rows(&stack, "booking", "clinics").await, 0);

    let found = problem(
        stack.get("/v1/notifications?limit=500", &trainer).await,
        422,
    )
    .await;
    assert_eq!(found["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_before_parsing() {
    let stack = TestStack::start().await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    // Valid JSON, just too large: the default limit is 64 KiB.
    let padding = "x".repeat(70 * 1024);
    let oversized = json!({"display_name": padding, "location": {"lat": 0.0, "lon": 0.0}});
    problem(
        stack.put("/v1/trainers/me", &trainer, &oversized).await,
        413,
    )
    .await;
    problem(stack.get("/v1/trainers/me", &trainer).await, 404).await;
}

#[tokio::test]
async fn one_openapi_document_covers_every_service() {
    let stack = TestStack::start().await;
    let doc = body(stack.anonymous(Method::GET, "/openapi.json").await, 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/trainers/me",
        "/admin/v1/clinics",
        "/admin/v1/clinics/{clinic_id}",
        "/admin/v1/clinics/{clinic_id}/booking-policy",
        "/admin/v1/clinics/{clinic_id}/physios",
        "/admin/v1/clinics/{clinic_id}/appointments",
        "/admin/v1/clinics/{clinic_id}/waitlist",
        "/admin/v1/physios/{physio_id}",
        "/admin/v1/physios/{physio_id}/weekly-hours",
        "/admin/v1/physios/{physio_id}/time-off",
        "/admin/v1/physios/{physio_id}/time-off/{time_off_id}",
        "/v1/appointments",
        "/v1/appointments/{appointment_id}",
        "/v1/appointments/{appointment_id}/complete",
        "/v1/appointments/{appointment_id}/no-show",
        "/v1/appointments/{appointment_id}/cancel",
        "/v1/appointments/{appointment_id}/reschedule",
        "/v1/notifications",
        "/admin/v1/dead-letters/{service}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Errors are documented with their problem+json bodies.
    let put = &doc["paths"]["/v1/trainers/me"]["put"]["responses"];
    for status in ["200", "400", "401", "403", "422"] {
        assert!(
            put[status].is_object(),
            "PUT /v1/trainers/me lacks {status}: {put}"
        );
    }
    assert!(
        put["422"]["content"]["application/problem+json"].is_object(),
        "{put}"
    );
    let replay = &doc["paths"]["/admin/v1/dead-letters/{service}/{id}/replay"]["post"]["responses"];
    for status in ["202", "401", "403", "404", "409"] {
        assert!(
            replay[status].is_object(),
            "replay lacks {status}: {replay}"
        );
    }
}

#[tokio::test]
async fn a_broker_outage_degrades_readiness_without_taking_the_stack_out() {
    let stack = TestStack::start().await;
    stack
        .wait_for_readiness("ready", Duration::from_secs(15))
        .await;
    let closed = close_connections_named(&stack.prefix).unwrap();
    assert_eq!(closed, 3, "one connection per service");
    // Still 200: the outbox holds what is written meanwhile, so a broker
    // outage must not take every replica out of its Service.
    let down = stack
        .wait_for_readiness("degraded", Duration::from_secs(5))
        .await;
    // Which dependency is down, never its error text. Each service notices
    // and reconnects on its own schedule, so which brokers read "down" at the
    // first degraded answer varies; the databases were never touched.
    let checks = down["checks"].as_object().unwrap();
    assert!(
        checks
            .iter()
            .any(|(name, state)| name.ends_with(".broker") && state == "down"),
        "{down}"
    );
    for (name, state) in checks {
        let expected: &[&str] = if name.ends_with(".database") {
            &["ok"]
        } else {
            &["ok", "down"]
        };
        assert!(
            expected.contains(&state.as_str().unwrap()),
            "{name}: {down}"
        );
    }
    // The broker's reason for the cut (set by close_connections_named) stays in the log.
    let text = down.to_string();
    assert!(
        !text.contains("test cuts this connection") && !text.contains("CONNECTION_FORCED"),
        "{down}"
    );
    stack
        .wait_for_readiness("ready", Duration::from_secs(15))
        .await;
}

/// A full restart of RabbitMQ: must run alone (`make test-serial`).
#[tokio::test]
#[ignore = "serial: restarts RabbitMQ"]
async fn readiness_follows_a_broker_restart() {
    let stack = TestStack::start().await;
    stack
        .wait_for_readiness("ready", Duration::from_secs(15))
        .await;
    let _restart = BrokerRestart::stop().unwrap();
    stack
        .wait_for_readiness("degraded", Duration::from_secs(10))
        .await;
    drop(_restart);
    stack
        .wait_for_readiness("ready", Duration::from_secs(30))
        .await;
}

#[tokio::test]
async fn platform_admins_list_and_replay_each_services_dead_letters() {
    let stack = TestStack::start().await;
    let admin = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);
    for service in ["referral", "booking", "notification"] {
        let path = format!("/admin/v1/dead-letters/{service}");
        let page = body(stack.get(&path, &admin).await, 200).await;
        assert_eq!(page["items"], json!([]), "{service}");
    }
    let clinic_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    problem(
        stack
            .get("/admin/v1/dead-letters/booking", &clinic_admin)
            .await,
        403,
    )
    .await;
    problem(
        stack.get("/admin/v1/dead-letters/nobody", &admin).await,
        404,
    )
    .await;

    // A message the booking service's consumer parked earlier.
    let id = Uuid::now_v7();
    let message_id = Uuid::now_v7();
    execute(
        &stack,
        "booking",
        &format!(
            "INSERT INTO dead_letters (id, parking_key, queue, message_id, message_type, routing_key, \
             correlation_id, payload, reason, attempts) VALUES ('{id}', 'k1', '{}booking.referrals.routine', \
             '{message_id}', 'spotter.referral.v1.ReferralRequested', 'referral.referral_requested.v1', \
             'r-1', '\\x0a01', 'permanent: no such clinic', 1)",
            stack.prefix
        ),
    )
    .await;
    let page = body(
        stack.get("/admin/v1/dead-letters/booking", &admin).await,
        200,
    )
    .await;
    assert_eq!(page["items"][0]["id"], id.to_string());
    assert_eq!(page["items"][0]["reason"], "permanent: no such clinic");
    assert!(page["items"][0]["replayed_at"].is_null());

    let replay = format!("/admin/v1/dead-letters/booking/{id}/replay");
    let replayed = body(stack.post(&replay, &admin, &json!({})).await, 202).await;
    assert!(replayed["replayed_at"].is_string());
    problem(stack.post(&replay, &admin, &json!({})).await, 409).await;
    // Another service does not know this id.
    let elsewhere = format!("/admin/v1/dead-letters/referral/{id}/replay");
    problem(stack.post(&elsewhere, &admin, &json!({})).await, 404).await;
    // The replay is on its way to the parked message's own queue, not the exchange.
    let outbox = format!("outbox WHERE message_id = '{message_id}' AND exchange = ''");
    assert_eq!(count_rows(&stack, "booking", &outbox).await, 1);
}

async fn execute(stack: &TestStack, service: &str, sql: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    let url = stack.databases[service]
        .settings
        .url
        .expose_secret()
        .to_owned();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

/// `SELECT count(*) FROM <from_where>` in one service's database.
async fn count_rows(stack: &TestStack, service: &str, from_where: &str) -> i64 {
    use diesel::sql_types::BigInt;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let url = stack.databases[service]
        .settings
        .url
        .expose_secret()
        .to_owned();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {from_where}"))
        .get_result(&mut conn)
        .await
        .unwrap();
    count.n
}

/// The alert rules and the dashboard (deploy/observability/) may use only
/// the families listed in metrics.txt; this holds the list to what the
/// services really export, both ways, before any traffic.
#[tokio::test]
async fn every_metric_the_alerts_read_is_exported_and_listed() {
    let stack = TestStack::start().await;
    // One probe: the readiness gauges and the HTTP series are written by requests.
    stack
        .wait_for_readiness("ready", Duration::from_secs(15))
        .await;
    let scraped = stack.anonymous(Method::GET, "/metrics").await;
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    let exported: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    let listed_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/observability/metrics.txt"
    );
    let listed_text = std::fs::read_to_string(listed_file).unwrap();
    let listed: std::collections::BTreeSet<&str> = listed_text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("spotter_"))
        .collect();
    let unexported: Vec<_> = listed.difference(&exported).collect();
    assert!(
        unexported.is_empty(),
        "listed, not exported: {unexported:?}\n{text}"
    );
    let unlisted: Vec<_> = exported.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "exported, not listed in metrics.txt: {unlisted:?}"
    );
}
