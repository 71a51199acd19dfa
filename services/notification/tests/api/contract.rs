//! The OpenAPI document is the mobile app's contract: every value a request
//! may carry says what the server accepts.

use spotter_platform::testing::unconstrained_request_values;

#[test]
fn every_request_value_states_its_limits() {
    let document = serde_json::to_value(notification_service::openapi::document()).unwrap();
    assert_eq!(
        unconstrained_request_values(&document),
        Vec::<String>::new()
    );
}
