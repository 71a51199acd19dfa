//! The OpenAPI document is the mobile app's contract: every value a request
//! may carry says what the server accepts.

use crate::support::{ReferralApp, problem};
use serde_json::json;
use spotter_platform::testing::unconstrained_request_values;

#[test]
fn every_request_value_states_its_limits() {
    let document = serde_json::to_value(referral_service::openapi::document()).unwrap();
    assert_eq!(
        unconstrained_request_values(&document),
        Vec::<String>::new()
    );
}

/// A fuzzer's find: text PostgreSQL cannot hold (NUL) was a 500. Every free
/// text is typed, so it is a 422 naming the field, and nothing is written.
#[tokio::test]
async fn text_the_database_cannot_hold_is_refused_naming_the_field() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let clients = "SELECT count(*) AS n FROM clients";
    let before = app.count(clients).await;
    let cases = [
        (
            "/v1/clients",
            json!({"display_name": "\u{1e}\u{0}x"}),
            "display_name",
        ),
        (
            "/v1/clients",
            json!({"display_name": "Jo", "email": "jo\u{0}@example.org"}),
            "email",
        ),
    ];
    for (path, body, field) in cases {
        let refused = problem(app.post(path, &trainer.token, &body).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }
    let mut report = ReferralApp::report(&trainer);
    report["description"] = json!("it hurts\u{0}");
    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &report)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "description", "{refused}");
    assert_eq!(app.count(clients).await, before);
    assert_eq!(app.count("SELECT count(*) AS n FROM referrals").await, 0);
}

/// Every change to the API shows up in review as a change to this file
/// (`tests/api/snapshots/`); accept one with `INSTA_UPDATE=always`.
#[test]
fn the_openapi_document_is_the_reviewed_one() {
    let document = serde_json::to_value(referral_service::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}
