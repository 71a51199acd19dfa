//! Push to phones through local fakes of FCM and APNs that check what the
//! real services check (see support/fake_push.rs): signed auth, required
//! fields, payload size. Retries honour Retry-After, dead tokens retire their
//! device, preferences are respected, a dead provider holds nothing up, and
//! two replicas send each push once.

use crate::support::fake_push::{Failure, FakePush, Keys, Redirector, TOPIC};
use notification_service::Notification;
use notification_service::push::Providers;
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_contracts::booking::v1::AppointmentBooked;
use spotter_platform::settings::PushSettings;
use spotter_service::testing::service::{TestService, body};
use uuid::Uuid;

type App = TestService<Notification>;

struct Pair {
    trainer: Uuid,
    physio: Uuid,
    clinic: Uuid,
    android: String,
    iphone: String,
}

impl Pair {
    fn new() -> Self {
        Self {
            trainer: Uuid::now_v7(),
            physio: Uuid::now_v7(),
            clinic: Uuid::now_v7(),
            android: format!("fcm-{}", Uuid::new_v4().simple()),
            // APNs tokens are 64 hex digits.
            iphone: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
        }
    }

    fn trainer_token(&self, app: &App) -> String {
        app.auth.token(Role::Trainer, self.trainer, None)
    }

    fn physio_token(&self, app: &App) -> String {
        app.auth.token(Role::Physio, self.physio, Some(self.clinic))
    }

    /// The trainer signs in on an Android phone, the physio on an iPhone.
    async fn register(&self, app: &App) {
        let device = json!({"platform": "android", "token": self.android});
        body(
            app.post("/v1/devices", &self.trainer_token(app), &device)
                .await,
            201,
        )
        .await;
        let device = json!({"platform": "ios", "token": self.iphone});
        body(
            app.post("/v1/devices", &self.physio_token(app), &device)
                .await,
            201,
        )
        .await;
    }

    fn booked(&self) -> AppointmentBooked {
        AppointmentBooked {
            appointment_id: Uuid::now_v7().to_string(),
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: self.trainer.to_string(),
            client_id: Uuid::now_v7().to_string(),
            physio_id: self.physio.to_string(),
            clinic_id: self.clinic.to_string(),
            starts_at: Some(prost_types::Timestamp {
                seconds: spotter_service::testing::clock::a_year_ahead().timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        }
    }
}

async fn with_push(fake: &FakePush, keys: &Keys) -> App {
    App::start_with(|settings| fake.configure(settings, keys)).await
}

fn deliveries(status: &str) -> String {
    format!("SELECT count(*) AS n FROM push_deliveries WHERE status = '{status}'")
}

async fn inbox_titles(app: &App, token: &str) -> Vec<String> {
    let page = body(app.get("/v1/notifications", token).await, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_booking_buzzes_the_trainers_android_and_the_physios_iphone() {
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    let first = pair.booked();
    let second = pair.booked();
    app.publish(&first).await;
    app.publish(&second).await;
    app.wait_for_count(&deliveries("delivered"), 4).await;

    let received = fake.received();
    let fcm: Vec<_> = received.iter().filter(|r| r.provider == "fcm").collect();
    let apns: Vec<_> = received.iter().filter(|r| r.provider == "apns").collect();
    assert_eq!((fcm.len(), apns.len()), (2, 2), "{received:#?}");
    let referrals = [first.referral_id.clone(), second.referral_id.clone()];

    let trainer_titles = inbox_titles(&app, &pair.trainer_token(&app)).await;
    for push in &fcm {
        let m = &push.payload["message"];
        assert_eq!(push.device_token, pair.android);
        assert!(trainer_titles.contains(&m["notification"]["title"].as_str().unwrap().to_owned()));
        assert_eq!(m["data"]["kind"], "appointment_booked");
        assert!(referrals.contains(&m["data"]["referral_id"].as_str().unwrap().to_owned()));
        assert_eq!(m["android"]["collapse_key"], m["data"]["referral_id"]);
        assert_eq!(m["android"]["priority"], "HIGH");
    }
    let physio_titles = inbox_titles(&app, &pair.physio_token(&app)).await;
    for push in &apns {
        assert_eq!(push.device_token, pair.iphone);
        let alert = &push.payload["aps"]["alert"];
        assert!(physio_titles.contains(&alert["title"].as_str().unwrap().to_owned()));
        assert_eq!(push.headers["apns-topic"], TOPIC);
        assert_eq!(push.headers["apns-push-type"], "alert");
        assert_eq!(push.headers["apns-priority"], "10");
        assert_eq!(
            push.headers["apns-collapse-id"],
            push.payload["referral_id"].as_str().unwrap()
        );
        assert!(referrals.contains(&push.payload["referral_id"].as_str().unwrap().to_owned()));
    }
    // One OAuth token served both FCM sends.
    assert_eq!(
        fake.record
            .token_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let attempts = "SELECT count(*) AS n FROM push_attempts \
                    WHERE outcome = 'delivered' AND http_status = 200 AND attempt = 1";
    assert_eq!(app.count(attempts).await, 4);
}

#[tokio::test]
async fn a_503_is_tried_again_after_its_retry_after_then_delivered() {
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    fake.script(&pair.android, &[Failure::Unavailable(1)]);
    fake.script(&pair.iphone, &[Failure::Unavailable(1)]);
    app.publish(&pair.booked()).await;
    app.wait_for_count(&deliveries("delivered"), 2).await;

    // Retry-After said 1 s (back-off alone would have waited 5 s).
    let honoured = "SELECT count(*) AS n FROM push_attempts first \
        JOIN push_attempts second ON second.delivery_id = first.delivery_id AND second.attempt = 2 \
        WHERE first.attempt = 1 AND first.outcome = 'retry' AND first.http_status = 503 \
          AND first.retry_at BETWEEN first.attempted_at + interval '1 second' \
                                 AND first.attempted_at + interval '2 seconds' \
          AND second.outcome = 'delivered' AND second.attempted_at >= first.retry_at";
    assert_eq!(app.count(honoured).await, 2);
    assert_eq!(fake.received().len(), 2);
    // What the push failure-rate alert reads (deploy/observability/): each
    // attempt counted by how it ended, recorded before its row is.
    let metrics = app
        .anonymous(reqwest::Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    for provider in ["apns", "fcm"] {
        for outcome in ["retry", "delivered"] {
            let series = format!(
                r#"spotter_push_attempts_total{{outcome="{outcome}",provider="{provider}"}} 1"#
            );
            assert!(metrics.contains(&series), "{series}\n{metrics}");
        }
    }
}

#[tokio::test]
async fn unregistered_and_410_retire_the_device() {
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    fake.script(&pair.android, &[Failure::Unregistered]);
    fake.script(&pair.iphone, &[Failure::Unregistered]);
    app.publish(&pair.booked()).await;
    app.wait_for_count(&deliveries("dropped"), 2).await;

    assert_eq!(app.count("SELECT count(*) AS n FROM devices").await, 0);
    let gone = "SELECT count(*) AS n FROM push_attempts WHERE outcome = 'device_gone' \
                AND ((http_status = 404 AND reason = 'UNREGISTERED') \
                  OR (http_status = 410 AND reason = 'Unregistered'))";
    assert_eq!(app.count(gone).await, 2);

    // The next booking still reaches both inboxes, and no phone.
    app.publish(&pair.booked()).await;
    app.wait_for_count("SELECT count(*) AS n FROM notifications", 4)
        .await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_deliveries").await,
        2
    );
}

#[tokio::test]
async fn a_kind_turned_off_stays_in_the_inbox_and_off_the_phone() {
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    let trainer = pair.trainer_token(&app);
    let off = json!({"push": {"appointment_booked": false}});
    body(
        app.put("/v1/notification-preferences", &trainer, &off)
            .await,
        200,
    )
    .await;
    app.publish(&pair.booked()).await;
    app.wait_for_count(&deliveries("delivered"), 1).await;

    assert_eq!(inbox_titles(&app, &pair.trainer_token(&app)).await.len(), 1);
    // Deliveries are planned with the notification, so none can come later.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_deliveries").await,
        1
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].device_token, pair.iphone);
}

#[tokio::test]
async fn with_no_provider_configured_push_is_off_and_the_inbox_still_works() {
    let app = App::start().await;
    let pair = Pair::new();
    pair.register(&app).await;
    app.publish(&pair.booked()).await;
    app.wait_for_count("SELECT count(*) AS n FROM notifications", 2)
        .await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_deliveries").await,
        0
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_holds_up_neither_the_inbox_nor_the_other_provider() {
    let (fake, keys) = FakePush::start().await;
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let app = App::start_with(|settings| {
        fake.configure(settings, &keys);
        settings.push.apns.as_mut().unwrap().endpoint = silent_url;
    })
    .await;
    let pair = Pair::new();
    pair.register(&app).await;
    for _ in 0..3 {
        app.publish(&pair.booked()).await;
    }
    // The inbox fills, and FCM delivers, while APNs hangs.
    app.wait_for_count("SELECT count(*) AS n FROM notifications", 6)
        .await;
    let fcm_delivered = "SELECT count(*) AS n FROM push_deliveries \
                         WHERE provider = 'fcm' AND status = 'delivered'";
    app.wait_for_count(fcm_delivered, 3).await;
    assert_eq!(app.count(&deliveries("delivered")).await, 3);

    // Each hung attempt is cut off (the client's timeout) and kept for a
    // retry, and what is recorded never holds the device token (the APNs
    // URL does).
    let cut_off = "SELECT count(*) AS n FROM push_attempts \
                   WHERE provider = 'apns' AND outcome = 'retry' AND http_status IS NULL";
    app.wait_for_count(cut_off, 3).await;
    let leaked = format!(
        "SELECT count(*) AS n FROM push_attempts WHERE position('{}' in reason) > 0",
        pair.iphone
    );
    assert_eq!(app.count(&leaked).await, 0);
    drop(silent);
}

#[tokio::test]
async fn a_wrong_endpoint_or_topic_fails_the_push_and_keeps_the_phones() {
    let (fake, keys) = FakePush::start().await;
    let app = App::start_with(|settings| {
        fake.configure(settings, &keys);
        // A 404 that is not FCM's own answer.
        let fcm = settings.push.fcm.as_mut().unwrap();
        fcm.endpoint = format!("{}/not-fcm", fcm.endpoint);
    })
    .await;
    let mut pair = Pair::new();
    // What APNs calls a bad token for this topic (as after a topic or
    // sandbox mix-up).
    pair.iphone = "not-a-hex-token".to_owned();
    pair.register(&app).await;
    app.publish(&pair.booked()).await;
    let fcm = "SELECT count(*) AS n FROM push_attempts WHERE provider = 'fcm' \
               AND outcome = 'retry' AND http_status = 404";
    app.wait_for_count(fcm, 1).await;
    let apns = "SELECT count(*) AS n FROM push_attempts WHERE provider = 'apns' \
                AND outcome = 'refused' AND http_status = 400 AND reason = 'BadDeviceToken'";
    app.wait_for_count(apns, 1).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM devices").await, 2);
}

#[tokio::test]
async fn a_provider_redirect_is_not_followed() {
    let (fake, keys) = FakePush::start().await;
    let redirector = Redirector::to(&fake.fcm_url);
    let app = App::start_with(|settings| {
        fake.configure(settings, &keys);
        settings.push.fcm.as_mut().unwrap().endpoint = redirector.url.clone();
    })
    .await;
    let pair = Pair::new();
    pair.register(&app).await;
    app.publish(&pair.booked()).await;
    let redirected = "SELECT count(*) AS n FROM push_attempts \
                      WHERE provider = 'fcm' AND http_status = 307";
    app.wait_for_count(redirected, 1).await;
    // The iPhone's push went straight to APNs; nothing reached FCM's send.
    app.wait_for_count(&deliveries("delivered"), 1).await;
    let fcm_sends = fake
        .received()
        .iter()
        .filter(|r| r.provider == "fcm")
        .count();
    assert_eq!(fcm_sends, 0);
}

#[tokio::test]
async fn push_urls_must_be_https_unless_a_test_allows_plain_http() {
    let (fake, keys) = FakePush::start().await;
    let mut settings = spotter_platform::settings::load_from("notification", None).unwrap();
    fake.configure(&mut settings, &keys);
    assert!(
        Providers::from_settings(&settings.push).is_ok(),
        "the fakes are allowed"
    );
    settings.push.allow_plain_http_for_tests = false;
    let refused = |push: &PushSettings| Providers::from_settings(push).err().unwrap().to_string();
    assert!(refused(&settings.push).contains("push.fcm.endpoint"));
    // FCM's send endpoint over TLS, its token endpoint (from the key file) not.
    settings.push.fcm.as_mut().unwrap().endpoint = "https://fcm.googleapis.com".to_owned();
    assert!(refused(&settings.push).contains("token_uri"));
    settings.push.fcm = None;
    assert!(refused(&settings.push).contains("push.apns.endpoint"));
}

#[tokio::test]
async fn a_kind_turned_off_after_a_failed_attempt_is_not_retried() {
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    fake.script(&pair.iphone, &[Failure::Unavailable(3600)]);
    app.publish(&pair.booked()).await;
    let waiting =
        "SELECT count(*) AS n FROM push_attempts WHERE provider = 'apns' AND outcome = 'retry'";
    app.wait_for_count(waiting, 1).await;
    let off = json!({"push": {"appointment_booked": false}});
    body(
        app.put(
            "/v1/notification-preferences",
            &pair.physio_token(&app),
            &off,
        )
        .await,
        200,
    )
    .await;
    // An hour passes (the provider's Retry-After), and the worker is woken.
    app.execute("UPDATE push_deliveries SET next_attempt_at = now() WHERE status = 'pending'")
        .await
        .unwrap();
    app.execute("SELECT pg_notify('spotter_push', '')")
        .await
        .unwrap();
    let dropped = "SELECT count(*) AS n FROM push_attempts WHERE provider = 'apns' \
                   AND attempt = 2 AND outcome = 'turned_off'";
    app.wait_for_count(dropped, 1).await;
    assert_eq!(app.count(&deliveries("dropped")).await, 1);
    // The trainer, who kept it on, had theirs.
    let fcm_delivered = "SELECT count(*) AS n FROM push_deliveries \
                         WHERE provider = 'fcm' AND status = 'delivered'";
    app.wait_for_count(fcm_delivered, 1).await;
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].device_token, pair.android);
}

#[tokio::test]
async fn a_key_the_providers_do_not_trust_is_refused_and_the_push_kept() {
    let (fake, _trusted) = FakePush::start().await;
    let stranger = Keys::generate();
    let app = with_push(&fake, &stranger).await;
    let pair = Pair::new();
    pair.register(&app).await;
    app.publish(&pair.booked()).await;
    let refused = "SELECT count(*) AS n FROM push_attempts WHERE attempt = 1 AND outcome = 'retry' \
        AND ((provider = 'fcm' AND http_status = 400 AND reason = 'token endpoint: invalid_grant') \
          OR (provider = 'apns' AND http_status = 403 AND reason = 'InvalidProviderToken'))";
    app.wait_for_count(refused, 2).await;
    assert_eq!(app.count(&deliveries("pending")).await, 2);
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn two_replicas_send_each_push_once() {
    let (fake, keys) = FakePush::start().await;
    let mut app = with_push(&fake, &keys).await;
    app.start_replica().await;
    let pair = Pair::new();
    pair.register(&app).await;
    for _ in 0..30 {
        app.publish(&pair.booked()).await;
    }
    app.wait_for_count(&deliveries("delivered"), 60).await;
    let received = fake.received();
    assert_eq!(received.len(), 60);
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| match r.provider {
            "fcm" => r.payload["message"]["data"]["notification_id"].clone(),
            _ => r.payload["notification_id"].clone(),
        })
        .map(|id: Value| id.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "a notification was pushed twice");
}

/// A flare in the session log reaches the treating physio's phone at once
/// (high priority); the trainer's drop-back notice waits for the app.
/// Neither says what hurt. The referral service publishes one event per
/// flare; delivered twice, it still buzzes once.
#[tokio::test]
async fn a_flare_buzzes_the_physio_once_and_tells_the_trainer_quietly() {
    use spotter_contracts::referral::v1::{FlareSign, TrainingFlared};
    let (fake, keys) = FakePush::start().await;
    let app = with_push(&fake, &keys).await;
    let pair = Pair::new();
    pair.register(&app).await;
    let flare = TrainingFlared {
        referral_id: Uuid::now_v7().to_string(),
        trainer_id: pair.trainer.to_string(),
        client_id: Uuid::now_v7().to_string(),
        physio_id: pair.physio.to_string(),
        session_id: Uuid::now_v7().to_string(),
        signs: vec![FlareSign::PainAboveCeiling as i32],
        flares_in_week: 2,
        earlier_review_suggested: true,
        follow_up_appointment_id: Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let message = Uuid::now_v7();
    app.publish_as(&flare, message).await;
    app.wait_for_count(&deliveries("delivered"), 2).await;
    // Delivered again: skipped as already handled, so the physio's phone
    // buzzes once and each inbox holds one notice.
    app.publish_as(&flare, message).await;
    app.wait_for_duplicates(1).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM notifications").await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM push_deliveries").await,
        2
    );

    let received = fake.received();
    let apns: Vec<_> = received.iter().filter(|r| r.provider == "apns").collect();
    let fcm: Vec<_> = received.iter().filter(|r| r.provider == "fcm").collect();
    assert_eq!((apns.len(), fcm.len()), (1, 1), "{received:#?}");
    assert_eq!(apns[0].headers["apns-priority"], "10");
    assert_eq!(apns[0].payload["kind"], "training_flare");
    assert_eq!(fcm[0].payload["message"]["android"]["priority"], "NORMAL");
    assert_eq!(
        fcm[0].payload["message"]["data"]["kind"],
        "training_drop_back"
    );

    let physio = body(
        app.get("/v1/notifications", &pair.physio_token(&app)).await,
        200,
    )
    .await;
    let told = &physio["items"][0];
    assert_eq!(told["data"]["earlier_review_suggested"], true);
    assert_eq!(
        told["data"]["follow_up_appointment_id"],
        flare.follow_up_appointment_id.as_str()
    );
    assert!(
        told["body"]
            .as_str()
            .unwrap()
            .contains("see the client sooner")
    );
    for push in &received {
        let text = push.payload.to_string().to_lowercase();
        for health_word in ["knee", "pain", "rpe", "injury", "sore"] {
            assert!(!text.contains(health_word), "{text}");
        }
    }
}
