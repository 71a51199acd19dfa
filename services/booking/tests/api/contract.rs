//! The OpenAPI document is the mobile app's and the clinic admins' contract:
//! every value a request may carry says what the server accepts.

use spotter_platform::testing::unconstrained_request_values;

#[test]
fn every_request_value_states_its_limits() {
    let document = serde_json::to_value(booking_service::openapi::document()).unwrap();
    assert_eq!(
        unconstrained_request_values(&document),
        Vec::<String>::new()
    );
}

/// Every change to the API shows up in review as a change to this file
/// (`tests/api/snapshots/`); accept one with `INSTA_UPDATE=always`.
#[test]
fn the_openapi_document_is_the_reviewed_one() {
    let document = serde_json::to_value(booking_service::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}
