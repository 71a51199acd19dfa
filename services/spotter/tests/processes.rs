//! The production shape: each service its own process (`spotter serve …`)
//! with its own database, configured only through `SPOTTER_*` variables and
//! an identity provider's JWKS (no dev key), talking only through RabbitMQ.
//! Includes killing the booking process while referrals are in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Datelike, Duration, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use spotter_auth::{Role, SigningKey, token_for};
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::BrokerCleanup;
use spotter_service::testing::service::body;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use uuid::Uuid;

const SPOTTER: &str = env!("CARGO_BIN_EXE_spotter");
const ISSUER: &str = "https://idp.spotter.test";

/// One `spotter serve <service>` process and the port it listens on.
struct Process {
    child: Child,
    port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Shape {
    key: SigningKey,
    jwks: PathBuf,
    prefix: String,
    databases: HashMap<&'static str, TestDatabase>,
    processes: HashMap<&'static str, Process>,
    http: reqwest::Client,
    _broker_names: BrokerCleanup,
}

impl Shape {
    async fn start() -> Self {
        let key = SigningKey::generate("e2e-idp-key").unwrap();
        let jwks =
            std::env::temp_dir().join(format!("spotter-jwks-{}.json", Uuid::new_v4().simple()));
        std::fs::write(&jwks, serde_json::to_vec(&key.jwks()).unwrap()).unwrap();
        let prefix = spotter_service::testing::broker_prefix();
        let mut databases = HashMap::new();
        for service in spotter::SERVICES {
            let db =
                TestDatabase::create(service, &spotter_service::testing::migration_dirs(service))
                    .await
                    .unwrap();
            databases.insert(service, db);
        }
        let mut broker = spotter_platform::settings::load_from("test", None)
            .unwrap()
            .broker;
        broker.exchange = format!("{prefix}spotter.events");
        broker.queue_prefix = prefix.clone();
        let mut shape = Self {
            key,
            jwks,
            prefix,
            databases,
            processes: HashMap::new(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            _broker_names: BrokerCleanup {
                settings: broker,
                consumers: Vec::new(),
            },
        };
        for service in spotter::SERVICES {
            shape.launch(service);
        }
        shape
    }

    /// Starts (or restarts) one service and waits until it listens.
    fn launch(&mut self, service: &'static str) {
        let mut child = Command::new(SPOTTER)
            .args(["serve", service])
            .env("SPOTTER_SERVER__PORT", "0")
            .env(
                "SPOTTER_DATABASE__URL",
                self.databases[service].settings.url.expose_secret(),
            )
            .env(
                "SPOTTER_BROKER__EXCHANGE",
                format!("{}spotter.events", self.prefix),
            )
            .env("SPOTTER_BROKER__QUEUE_PREFIX", &self.prefix)
            .env("SPOTTER_AUTH__JWKS", &self.jwks)
            .env("SPOTTER_AUTH__ISSUER", ISSUER)
            .env("SPOTTER_LOG__FORMAT", "json")
            .env("SPOTTER_LOG__LEVEL", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the service exited before listening")
                .unwrap();
            if let Ok(log) = serde_json::from_str::<Value>(&line)
                && log["message"] == "listening"
            {
                break u16::try_from(log["port"].as_u64().unwrap()).unwrap();
            }
        };
        // Keep draining its logs so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.processes.insert(service, Process { child, port });
    }

    fn kill(&mut self, service: &str) {
        let mut process = self.processes.remove(service).unwrap();
        process.child.kill().unwrap(); // SIGKILL: no graceful anything
        process.child.wait().unwrap();
    }

    fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        token_for(
            &self.key,
            ISSUER,
            "spotter",
            role,
            sub,
            clinic,
            std::time::Duration::from_secs(3600),
        )
        .unwrap()
    }

    /// Routes by path prefix, as the production gateway does.
    fn url(&self, path: &str) -> String {
        let route = path.split('?').next().unwrap_or(path);
        let service = if referral_service::owns_path(route) {
            "referral"
        } else if booking_service::owns_path(route) {
            "booking"
        } else {
            "notification"
        };
        format!("http://127.0.0.1:{}{path}", self.processes[service].port)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        payload: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(payload) = payload {
            request = request.json(payload);
        }
        request.send().await.unwrap()
    }
}

impl Drop for Shape {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.jwks);
    }
}

#[tokio::test]
async fn separate_processes_run_the_loop_and_survive_a_killed_booking_service() {
    use reqwest::Method;
    let mut shape = Shape::start().await;
    let admin = shape.token(Role::PlatformAdmin, Uuid::now_v7(), None);
    let clinic = json!({"name": "Thames Physio", "timezone": "UTC", "location": {"lat": 51.51, "lon": -0.12}, "service_radius_km": 15.0});
    let clinic: Uuid = body(
        shape
            .call(Method::POST, "/admin/v1/clinics", &admin, Some(&clinic))
            .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let clinic_admin = shape.token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 14});
    body(
        shape
            .call(
                Method::PUT,
                &format!("/admin/v1/clinics/{clinic}/booking-policy"),
                &clinic_admin,
                Some(&policy),
            )
            .await,
        200,
    )
    .await;
    let physio = Uuid::now_v7();
    let new_physio = json!({"user_id": physio, "display_name": "Alex", "specialties": ["knee"]});
    body(
        shape
            .call(
                Method::POST,
                &format!("/admin/v1/clinics/{clinic}/physios"),
                &clinic_admin,
                Some(&new_physio),
            )
            .await,
        201,
    )
    .await;
    let tomorrow = (Utc::now() + Duration::days(1))
        .weekday()
        .number_from_monday();
    let hours = json!({"hours": [{"weekday": tomorrow, "start": "07:00", "end": "21:00"}]});
    body(
        shape
            .call(
                Method::PUT,
                &format!("/admin/v1/physios/{physio}/weekly-hours"),
                &clinic_admin,
                Some(&hours),
            )
            .await,
        200,
    )
    .await;
    let trainer = shape.token(Role::Trainer, Uuid::now_v7(), None);
    let profile = json!({"display_name": "Sam", "location": {"lat": 51.52, "lon": -0.1}});
    body(
        shape
            .call(Method::PUT, "/v1/trainers/me", &trainer, Some(&profile))
            .await,
        200,
    )
    .await;
    let client = body(
        shape
            .call(
                Method::POST,
                "/v1/clients",
                &trainer,
                Some(&json!({"display_name": "Jo"})),
            )
            .await,
        201,
    )
    .await["id"]
        .clone();
    let report = json!({
        "client_id": client, "body_region": "knee", "side": "left", "pain_level": 5,
        "onset_date": Utc::now().date_naive().to_string(), "mechanism": "fall", "description": "sore knee",
        "red_flags": [], "consent": {"obtained": true, "method": "written"}
    });

    // Ten referrals flagged, and the booking process killed while they are in flight.
    let mut referrals = Vec::new();
    for i in 0..10 {
        if i == 3 {
            shape.kill("booking");
        }
        let created = body(
            shape
                .call(Method::POST, "/v1/injury-reports", &trainer, Some(&report))
                .await,
            201,
        )
        .await;
        referrals.push(created["id"].as_str().unwrap().to_owned());
    }
    shape.launch("booking");

    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mine = body(
            shape
                .call(Method::GET, "/v1/referrals?limit=100", &trainer, None)
                .await,
            200,
        )
        .await;
        let booked = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "booked")
            .count();
        if booked == referrals.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{booked} of {} booked after the restart",
            referrals.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // None booked twice: one appointment per referral in the clinic's diary.
    let diary = body(
        shape
            .call(
                Method::GET,
                &format!("/admin/v1/clinics/{clinic}/appointments?limit=100"),
                &clinic_admin,
                None,
            )
            .await,
        200,
    )
    .await;
    let mut booked_referrals: Vec<&str> = diary["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["referral_id"].as_str().unwrap())
        .collect();
    assert_eq!(booked_referrals.len(), referrals.len());
    booked_referrals.sort_unstable();
    booked_referrals.dedup();
    assert_eq!(
        booked_referrals.len(),
        referrals.len(),
        "a referral was booked twice"
    );

    // And the rest of the loop works across the processes.
    let physio_token = shape.token(Role::Physio, physio, Some(clinic));
    let first = &referrals[0];
    let referral = body(
        shape
            .call(
                Method::GET,
                &format!("/v1/referrals/{first}"),
                &trainer,
                None,
            )
            .await,
        200,
    )
    .await;
    let appointment = referral["appointment"]["id"].as_str().unwrap().to_owned();
    body(
        shape
            .call(
                Method::POST,
                &format!("/v1/appointments/{appointment}/complete"),
                &physio_token,
                Some(&json!({})),
            )
            .await,
        200,
    )
    .await;
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while body(
        shape
            .call(
                Method::GET,
                &format!("/v1/referrals/{first}"),
                &trainer,
                None,
            )
            .await,
        200,
    )
    .await["status"]
        != "assessed"
    {
        assert!(Instant::now() < deadline, "not assessed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let inbox = body(
        shape
            .call(Method::GET, "/v1/notifications?limit=100", &trainer, None)
            .await,
        200,
    )
    .await;
    let booked_notices = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "appointment_booked")
        .count();
    assert_eq!(
        booked_notices,
        referrals.len(),
        "one notification per booking, none doubled"
    );
}
