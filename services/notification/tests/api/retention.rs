//! Bookkeeping rows expire (docs/architecture.md, "Retention"): what every
//! service keeps (idempotency keys, inbox dedupe rows, replayed dead letters)
//! and notification's own finished pushes and webhook messages. Fresh rows, and rows that still
//! matter (an unreplayed dead letter), stay.

use notification_service::Notification;
use spotter_service::testing::service::TestService;
use spotter_service::{COMMON_RETENTION, ServiceDefinition};

type App = TestService<Notification>;

async fn prune(app: &App) {
    let pool = spotter_db::connect(&app.settings.database.url, 1).unwrap();
    let rules: Vec<_> = COMMON_RETENTION
        .iter()
        .chain(Notification::RETENTION)
        .copied()
        .collect();
    spotter_db::retention::prune(&pool, &rules).await.unwrap();
}

#[tokio::test]
async fn bookkeeping_rows_expire_and_the_rest_stay() {
    let app = App::start().await;
    for age in ["25 hours", "23 hours"] {
        app.execute(&format!(
            "INSERT INTO idempotency_keys (caller_id, key, request_hash, created_at) \
             VALUES (gen_random_uuid(), '{age}', 'h', now() - interval '{age}')"
        ))
        .await
        .unwrap();
    }
    for age in ["31 days", "29 days"] {
        app.execute(&format!(
            "INSERT INTO inbox (message_id, consumer, message_type, processed_at) \
             VALUES (gen_random_uuid(), '{age}', 't', now() - interval '{age}')"
        ))
        .await
        .unwrap();
    }
    for (key, replayed) in [
        ("replayed long ago", "now() - interval '31 days'"),
        ("replayed lately", "now() - interval '29 days'"),
        ("never replayed", "NULL"),
    ] {
        app.execute(&format!(
            "INSERT INTO dead_letters (id, parking_key, queue, message_type, routing_key, \
               payload, reason, attempts, parked_at, replayed_at) \
             VALUES (gen_random_uuid(), '{key}', 'q', 't', 'r', '', 'poison', 5, \
               now() - interval '400 days', {replayed})"
        ))
        .await
        .unwrap();
    }
    prune(&app).await;
    let left =
        |table: &str, column: &str| format!("SELECT count(*) AS n FROM {table} WHERE {column}");
    assert_eq!(
        app.count(&left("idempotency_keys", "key = '25 hours'"))
            .await,
        0
    );
    assert_eq!(
        app.count(&left("idempotency_keys", "key = '23 hours'"))
            .await,
        1
    );
    assert_eq!(app.count(&left("inbox", "consumer = '31 days'")).await, 0);
    assert_eq!(app.count(&left("inbox", "consumer = '29 days'")).await, 1);
    let dead_letters = "SELECT count(*) AS n FROM dead_letters";
    assert_eq!(app.count(dead_letters).await, 2);
    assert_eq!(
        app.count(&left("dead_letters", "parking_key = 'replayed long ago'"))
            .await,
        0
    );
}

#[tokio::test]
async fn a_month_after_a_push_finished_it_goes_with_its_attempts_and_pending_ones_stay() {
    let app = App::start().await;
    app.execute(
        "INSERT INTO notifications (id, recipient_id, kind, title, body) \
         VALUES ('00000000-0000-7000-8000-000000000001', gen_random_uuid(), 'appointment_booked', 't', 'b')",
    )
    .await
    .unwrap();
    for (id, status, age) in [
        (1, "delivered", "31 days"),
        (2, "failed", "31 days"),
        (3, "delivered", "29 days"),
        (4, "pending", "31 days"),
    ] {
        app.execute(&format!(
            "INSERT INTO push_deliveries (id, notification_id, device_id, provider, status, updated_at) \
             VALUES ('00000000-0000-7000-8000-00000000010{id}', '00000000-0000-7000-8000-000000000001', \
               gen_random_uuid(), 'fcm', '{status}', now() - interval '{age}')"
        ))
        .await
        .unwrap();
        app.execute(&format!(
            "INSERT INTO push_attempts (delivery_id, attempt, device_id, provider, outcome) \
             VALUES ('00000000-0000-7000-8000-00000000010{id}', 1, gen_random_uuid(), 'fcm', 'retry')"
        ))
        .await
        .unwrap();
    }
    prune(&app).await;
    let kept = "SELECT count(*) AS n FROM push_deliveries \
                WHERE id IN ('00000000-0000-7000-8000-000000000103', '00000000-0000-7000-8000-000000000104')";
    assert_eq!(app.count(kept).await, 2);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_deliveries").await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_attempts").await,
        2
    );
}

#[tokio::test]
async fn a_month_after_a_webhook_message_finished_it_goes_with_its_log_and_pending_ones_stay() {
    let app = App::start().await;
    app.execute(
        "INSERT INTO webhook_endpoints (id, clinic_id, url, event_types, secret) \
         VALUES ('00000000-0000-7000-8000-000000000001', gen_random_uuid(), \
           'https://ehr.example/hooks', '{appointment.booked}', 'whsec_x')",
    )
    .await
    .unwrap();
    // The pending one is not due for a day: the delivery worker leaves it
    // (and its log) alone while the test runs.
    for (id, status, age) in [
        (1, "delivered", "31 days"),
        (2, "failed", "31 days"),
        (3, "delivered", "29 days"),
        (4, "pending", "31 days"),
    ] {
        app.execute(&format!(
            "INSERT INTO webhook_messages (id, endpoint_id, event_type, payload, status, updated_at, \
               next_attempt_at) \
             VALUES ('00000000-0000-7000-8000-00000000010{id}', '00000000-0000-7000-8000-000000000001', \
               'appointment.booked', '{{}}', '{status}', now() - interval '{age}', \
               now() + interval '1 day')"
        ))
        .await
        .unwrap();
        app.execute(&format!(
            "INSERT INTO webhook_attempts (message_id, attempt, endpoint_id, latency_ms, outcome) \
             VALUES ('00000000-0000-7000-8000-00000000010{id}', 1, \
               '00000000-0000-7000-8000-000000000001', 5, 'retry')"
        ))
        .await
        .unwrap();
    }
    prune(&app).await;
    let kept = "SELECT count(*) AS n FROM webhook_messages \
                WHERE id IN ('00000000-0000-7000-8000-000000000103', '00000000-0000-7000-8000-000000000104')";
    assert_eq!(app.count(kept).await, 2);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_messages")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_attempts")
            .await,
        2
    );
}
