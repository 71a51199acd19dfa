//! The booking service alone, on a test's own database and broker names, with
//! a tap on the exchange to hear what it tells the saga and a channel to play
//! the referral service.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use booking_service::Booking;
use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_auth::testing::TestAuth;
use spotter_contracts::common::v1::{BodyRegion, Location, Priority};
use spotter_contracts::referral::v1::{ReferralCancelled, ReferralRequested};
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::{BrokerCleanup, EventTap, publish_event};
use spotter_platform::settings::Settings;
use spotter_service::Application;
use std::path::Path;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

pub struct BookingApp {
    pub base_url: String,
    pub auth: TestAuth,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub settings: Settings,
    pub tap: EventTap,
    pub admin: String,
    shutdowns: Vec<CancellationToken>,
    _tap_connection: lapin::Connection,
    _broker_names: BrokerCleanup,
}

fn migration_dirs() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    vec![
        root.join("shared/messaging/migrations"),
        root.join("services/booking/migrations"),
    ]
}

impl BookingApp {
    pub async fn start() -> Self {
        let db = TestDatabase::create("booking", &migration_dirs())
            .await
            .unwrap();
        let prefix = spotter_service::testing::broker_prefix();
        let settings = spotter_service::testing::settings(&db, &prefix).unwrap();
        let auth = TestAuth::new();
        let (base_url, shutdown) = launch(&settings, &auth).await;
        // The tap (and the test playing the referral service) has its own connection.
        let connection = lapin::Connection::connect(
            secrecy::ExposeSecret::expose_secret(&settings.broker.url),
            lapin::ConnectionProperties::default(),
        )
        .await
        .unwrap();
        declare_topology(&connection, &settings).await;
        let tap = EventTap::bind(&connection, &settings.broker).await.unwrap();
        let admin = auth.token(Role::PlatformAdmin, Uuid::now_v7(), None);
        Self {
            base_url,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            db,
            tap,
            admin,
            shutdowns: vec![shutdown],
            _tap_connection: connection,
            _broker_names: BrokerCleanup {
                settings: settings.broker.clone(),
                consumers: Vec::new(),
            },
            settings,
            auth,
        }
    }

    /// Another replica on the same database and queues (another process in
    /// production); returns its base URL.
    pub async fn start_replica(&mut self) -> String {
        let (base_url, shutdown) = launch(&self.settings, &self.auth).await;
        self.shutdowns.push(shutdown);
        base_url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    /// A clinic in UTC (so wall clock = UTC in assertions) near central London,
    /// with no minimum notice.
    pub async fn clinic(&self) -> Uuid {
        let created = body(
            self.post(
                "/admin/v1/clinics",
                &self.admin,
                &json!({"name": "Thames Physio", "timezone": "UTC", "location": {"lat": 51.5, "lon": -0.12}, "service_radius_km": 20.0}),
            )
            .await,
            201,
        )
        .await;
        let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
        let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 14});
        body(
            self.put(
                &format!("/admin/v1/clinics/{id}/booking-policy"),
                &self.admin,
                &policy,
            )
            .await,
            200,
        )
        .await;
        id
    }

    pub async fn physio(&self, clinic: Uuid, specialties: &[&str]) -> Uuid {
        let id = Uuid::now_v7();
        let new = json!({"user_id": id, "display_name": "Alex Physio", "specialties": specialties});
        body(
            self.post(
                &format!("/admin/v1/clinics/{clinic}/physios"),
                &self.admin,
                &new,
            )
            .await,
            201,
        )
        .await;
        id
    }

    pub async fn hours(&self, physio: Uuid, hours: Value) {
        body(
            self.put(
                &format!("/admin/v1/physios/{physio}/weekly-hours"),
                &self.admin,
                &json!({"hours": hours}),
            )
            .await,
            200,
        )
        .await;
    }

    /// Publishes a `ReferralRequested` as the referral service would.
    pub async fn request(&self, referral: &Referral) -> Uuid {
        let message_id = Uuid::now_v7();
        self.request_as(referral, message_id).await;
        message_id
    }

    pub async fn request_as(&self, referral: &Referral, message_id: Uuid) {
        publish_event(
            self.tap.channel(),
            &self.settings.broker.exchange,
            &referral.event(),
            message_id,
        )
        .await
        .unwrap();
    }

    pub async fn cancel_referral(&self, referral: &Referral) {
        let event = ReferralCancelled {
            referral_id: referral.id.to_string(),
            trainer_id: referral.trainer.to_string(),
            ..Default::default()
        };
        publish_event(
            self.tap.channel(),
            &self.settings.broker.exchange,
            &event,
            Uuid::now_v7(),
        )
        .await
        .unwrap();
    }

    /// A query on the service's database, counted.
    pub async fn count(&self, sql: &str) -> i64 {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let url = secrecy::ExposeSecret::expose_secret(&self.db.settings.url).to_owned();
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

impl Drop for BookingApp {
    fn drop(&mut self) {
        for shutdown in &self.shutdowns {
            shutdown.cancel();
        }
    }
}

async fn launch(settings: &Settings, auth: &TestAuth) -> (String, CancellationToken) {
    let app = Application::<Booking>::build_with_verifier(settings.clone(), auth.verifier.clone())
        .await
        .unwrap();
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    (base_url, shutdown)
}

/// As any process does when it connects: the exchange and every system
/// queue, so nothing published next can miss the booking consumer's queue.
async fn declare_topology(connection: &lapin::Connection, settings: &Settings) {
    let channel = connection.create_channel().await.unwrap();
    spotter_messaging::topology::declare_all(&channel, &settings.broker)
        .await
        .unwrap();
}

/// A referral as the referral service would ask booking to book it.
#[derive(Clone)]
pub struct Referral {
    pub id: Uuid,
    pub trainer: Uuid,
    pub client: Uuid,
    pub region: BodyRegion,
    pub priority: Priority,
    pub lat: f64,
    pub lon: f64,
    pub attempt: u32,
}

impl Referral {
    /// A routine knee referral from a trainer a few km from the test clinic.
    pub fn knee() -> Self {
        Self {
            id: Uuid::now_v7(),
            trainer: Uuid::now_v7(),
            client: Uuid::now_v7(),
            region: BodyRegion::Knee,
            priority: Priority::Routine,
            lat: 51.52,
            lon: -0.10,
            attempt: 1,
        }
    }

    pub fn event(&self) -> ReferralRequested {
        let mut event = ReferralRequested {
            referral_id: self.id.to_string(),
            trainer_id: self.trainer.to_string(),
            client_id: self.client.to_string(),
            trainer_location: Some(Location {
                lat: self.lat,
                lon: self.lon,
            }),
            requested_at: Some(prost_types::Timestamp {
                seconds: Utc::now().timestamp(),
                nanos: 0,
            }),
            attempt: self.attempt,
            ..Default::default()
        };
        event.set_priority(self.priority);
        event.set_body_region(self.region);
        event
    }
}

/// ISO weekday number (1 = Monday) of `days` from today, in UTC.
pub fn weekday_in(days: i64) -> u32 {
    (Utc::now() + Duration::days(days))
        .weekday()
        .number_from_monday()
}

/// `HH:MM` on the day `days` from today at `hour`, as a UTC instant.
pub fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    let day = (Utc::now() + Duration::days(days)).date_naive();
    day.and_hms_opt(hour, minute, 0).unwrap().and_utc()
}

pub async fn body(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("application/problem+json".to_owned())
    );
    body(response, status).await
}

pub fn timestamp_of(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().unwrap();
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}
