//! The live stream's limits: a user's streams are capped (one more closes
//! their oldest), a replica's too (one more is a 503), a stream ends with its
//! token, and one read per wake-up serves every open stream.

use crate::notifications::{booked, people};
use futures_util::StreamExt;
use notification_service::Notification;
use spotter_auth::Role;
use spotter_service::testing::service::{TestService, problem, read_events};
use std::time::Duration;
use uuid::Uuid;

type App = TestService<Notification>;

async fn open(app: &App, token: &str) -> reqwest::Response {
    let response = app
        .client
        .get(app.url("/v1/notifications/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
}

/// Whether the server ends the stream within `within` (heartbeats and
/// events before the end are skipped).
async fn ends_within(response: reqwest::Response, within: Duration) -> bool {
    let mut bytes = response.bytes_stream();
    tokio::time::timeout(within, async {
        while let Some(chunk) = bytes.next().await {
            if chunk.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

async fn metric(app: &App, name: &str) -> f64 {
    let text = app
        .anonymous(reqwest::Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test]
async fn a_sixth_stream_closes_the_users_oldest_and_the_rest_stay_live() {
    let app = App::start().await;
    let p = people();
    let trainer = app.auth.token(Role::Trainer, p.trainer, None);
    let mut streams = Vec::new();
    for _ in 0..6 {
        streams.push(open(&app, &trainer).await);
    }
    let oldest = streams.remove(0);
    assert!(ends_within(oldest, Duration::from_secs(10)).await);
    // Another user's stream is not counted against this one.
    let other = open(&app, &app.auth.token(Role::Trainer, Uuid::now_v7(), None)).await;
    app.publish(&booked(&p, false)).await;
    for stream in streams {
        let got = read_events(stream, 1).await;
        assert_eq!(got[0].1["kind"], "appointment_booked");
    }
    drop(other);
}

#[tokio::test]
async fn a_full_replica_refuses_a_new_stream_with_503_and_retry_after() {
    let app = App::start_with(|settings| {
        settings.streams.max_per_replica = 2;
        settings.streams.heartbeat_seconds = 1;
    })
    .await;
    let token = |_| app.auth.token(Role::Trainer, Uuid::now_v7(), None);
    let first = open(&app, &token(1)).await;
    let _second = open(&app, &token(2)).await;
    let refused = app.get("/v1/notifications/stream", &token(3)).await;
    assert_eq!(refused.headers()["retry-after"], "5");
    problem(refused, 503).await;
    // A stream the app closes frees its place: the server notices when a
    // heartbeat cannot be written.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let again = app.get("/v1/notifications/stream", &token(4)).await;
        if again.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = App::start().await;
    let short = spotter_auth::dev_token(
        &app.auth.key,
        Role::Trainer,
        Uuid::now_v7(),
        None,
        Duration::from_secs(2),
    )
    .unwrap();
    let stream = open(&app, &short).await;
    assert!(ends_within(stream, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn one_read_serves_every_open_stream() {
    let app = App::start().await;
    let p = people();
    let trainer = app.auth.token(Role::Trainer, p.trainer, None);
    let physio = app.auth.token(Role::Physio, p.physio, Some(p.clinic));
    let mut streams = Vec::new();
    for _ in 0..4 {
        streams.push(open(&app, &trainer).await);
        streams.push(open(&app, &physio).await);
    }
    let reads = "spotter_notification_stream_reads_total";
    let before = metric(&app, reads).await;
    app.publish(&booked(&p, false)).await;
    for stream in streams {
        let got = read_events(stream, 1).await;
        assert_eq!(got[0].1["kind"], "appointment_booked");
    }
    let spent = metric(&app, reads).await - before;
    // One read for the wake-up (and at most a timed look beside it), not
    // one per stream.
    assert!(spent <= 2.0, "{spent} reads for 8 streams");
}
