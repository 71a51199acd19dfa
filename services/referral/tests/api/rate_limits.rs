//! Per-user rate limits: a burst beyond the budget is refused with 429 and
//! `Retry-After`, reads and other users are not held back, and the caller
//! recovers once the time it was given has passed.

use crate::support::{ReferralApp, body, problem};
use serde_json::json;

#[tokio::test]
async fn a_burst_of_writes_is_refused_then_recovers_after_retry_after() {
    let app = ReferralApp::start_with(|settings| {
        // One write back every 5 s: the six below cannot outrun it on a
        // slow machine.
        settings.rate_limits.writes_per_minute = 12;
        settings.rate_limits.write_burst = 5;
    })
    .await;
    // `trainer()` spends two writes: the profile and the first client.
    let trainer = app.trainer().await;
    let new_client = json!({"display_name": "Another"});
    for _ in 0..3 {
        body(
            app.post("/v1/clients", &trainer.token, &new_client).await,
            201,
        )
        .await;
    }
    let refused = app.post("/v1/clients", &trainer.token, &new_client).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let refused = problem(refused, 429).await;
    assert_eq!(refused["type"], "/problems/rate-limited");
    assert!((1..=5).contains(&retry_after), "{retry_after}");

    // Reads have their own budget; other trainers their own.
    body(app.get("/v1/clients", &trainer.token).await, 200).await;
    let other = app.trainer().await;
    body(
        app.post("/v1/clients", &other.token, &new_client).await,
        201,
    )
    .await;

    // The refused write wrote nothing: three plus the first client.
    let listed = body(app.get("/v1/clients", &trainer.token).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 4);

    // Retry-After is the event to wait for: after it, the budget has room.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    body(
        app.post("/v1/clients", &trainer.token, &new_client).await,
        201,
    )
    .await;
}
