//! What the nginx gateway of `deploy/nginx/` adds in front of the separate
//! service processes: the live stream passes through unbuffered, an unknown
//! path and a service that is down answer as problem documents.

use crate::support::{Shape, Stack};
use serde_json::json;
use spotter_auth::Role;
use spotter_service::testing::service::{body, read_events};
use uuid::Uuid;

#[tokio::test]
async fn the_live_stream_passes_through_the_gateway_as_it_happens() {
    let stack = Stack::start(Shape::Processes).await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    let profile = json!({"display_name": "Sam", "location": {"lat": 51.52, "lon": -0.1}});
    body(stack.put("/v1/trainers/me", &trainer, &profile).await, 200).await;
    let client = body(
        stack
            .post("/v1/clients", &trainer, &json!({"display_name": "Jo"}))
            .await,
        201,
    )
    .await["id"]
        .clone();
    let live = stack.get("/v1/notifications/stream", &trainer).await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["content-type"], "text/event-stream");

    // A red flag: the trainer is told at once, over the open stream.
    let report = json!({
        "client_id": client, "body_region": "neck", "side": "left", "pain_level": 6,
        "onset_date": chrono::Utc::now().date_naive().to_string(), "mechanism": "collision",
        "description": "hit heads in a drill", "red_flags": ["chest_pain_or_breathlessness"],
        "consent": {"obtained": true, "method": "verbal"}
    });
    body(
        stack.post("/v1/injury-reports", &trainer, &report).await,
        201,
    )
    .await;
    let events = read_events(live, 1).await;
    assert_eq!(events[0].1["kind"], "emergency_advised");
}

async fn assert_problem(response: reqwest::Response, status: u16) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status);
}

#[tokio::test]
async fn an_unknown_path_and_a_service_that_is_down_answer_as_problems() {
    let mut stack = Stack::start(Shape::Processes).await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    assert_problem(stack.get("/v1/nothing-here", &trainer).await, 404).await;

    stack.processes().kill("notification");
    assert_problem(stack.get("/v1/notifications", &trainer).await, 503).await;
    // The other services are unaffected.
    body(stack.get("/v1/clients", &trainer).await, 200).await;

    stack.processes().restart("notification");
    body(stack.get("/v1/notifications", &trainer).await, 200).await;
}

/// Every operation each service documents reaches that service through the
/// gateway: routed elsewhere it would be the other service's 404. Without a
/// token the right service answers 401, or, for a public read (no
/// `security`: the vocabulary), 200.
#[tokio::test]
async fn the_gateway_routes_every_documented_operation_to_its_service() {
    let mut stack = Stack::start(Shape::Processes).await;
    let mut checked = 0;
    for service in spotter::SERVICES {
        let url = stack.processes().direct_url(service, "/openapi.json");
        let document: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        for (path, operations) in document["paths"].as_object().unwrap() {
            // Any id will do: the route is what is being checked. The
            // dead-letter API is each service's own, under its name.
            let concrete = path
                .split('/')
                .map(|part| match part {
                    "{service}" => service.to_owned(),
                    // A released questionnaire version (public, so it must be found).
                    "{version}" => "1".to_owned(),
                    _ if part.starts_with('{') => Uuid::now_v7().to_string(),
                    _ => part.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            for (method, operation) in operations.as_object().unwrap() {
                let public = operation.get("security").is_none();
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let response = stack
                    .client
                    .request(method.clone(), stack.url(&concrete))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    if public { 200 } else { 401 },
                    "{method} {path} ({service}) through the gateway"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} operations documented?");
}

/// Requests without a token are limited per address at the gateway: a burst
/// beyond the budget gets 429 problems with `Retry-After`, and the address
/// recovers once that time has passed.
#[tokio::test]
async fn anonymous_traffic_is_rate_limited_per_address_and_recovers() {
    let stack = Stack::start(Shape::Processes).await;
    let url = format!("{}/v1/clients", stack.base_url);
    let client = reqwest::Client::new();
    let mut refused = None;
    for _ in 0..200 {
        let response = client.get(&url).send().await.unwrap();
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
        assert_eq!(
            response.status(),
            401,
            "the service answers until the limit"
        );
    }
    let refused = refused.expect("200 anonymous requests at once were all let through");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_problem(refused, 429).await;
    // A signed-in user is held to the services' own budget, not this one.
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    body(stack.get("/v1/clients", &trainer).await, 200).await;

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let recovered = client.get(&url).send().await.unwrap();
    assert_eq!(recovered.status(), 401);
}
