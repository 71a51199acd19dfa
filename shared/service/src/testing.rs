//! Settings for a test: its own database per service, its own exchange and
//! queue names, a free port. PostgreSQL and RabbitMQ are shared by every test
//! running at once; names are what keep them apart.

use spotter_platform::settings::Settings;

/// A unique prefix for one test's broker names (exchange, queues, connections).
pub fn broker_prefix() -> String {
    format!("t{}.", uuid::Uuid::new_v4().simple())
}

/// Defaults, with the database replaced, the broker names prefixed and port 0.
pub fn settings(
    database: &spotter_db::testing::TestDatabase,
    prefix: &str,
) -> anyhow::Result<Settings> {
    let mut settings = spotter_platform::settings::load_from("test", None)?;
    settings.server.port = 0;
    settings.database = database.settings.clone();
    settings.database.max_connections = 12;
    settings.broker.exchange = format!("{prefix}spotter.events");
    settings.broker.queue_prefix = prefix.to_owned();
    settings.auth.dev_mode = true;
    Ok(settings)
}

/// A service's migration folders in the order start-up applies them: the
/// shared crates' tables, then the service's own.
pub fn migration_dirs(service: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    vec![
        root.join("shared/db/migrations"),
        root.join("shared/messaging/migrations"),
        root.join("services").join(service).join("migrations"),
    ]
}

/// One service running alone for a test, on its own database and broker
/// names, with a tap on the exchange (to hear what it tells the saga) whose
/// channel also publishes as the other services would. Everything it made is
/// removed when it drops. Test code: it panics on set-up failures.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod service {
    use crate::{Application, ServiceDefinition};
    use secrecy::ExposeSecret;
    use serde_json::Value;
    use spotter_auth::Role;
    use spotter_auth::testing::TestAuth;
    use spotter_db::testing::TestDatabase;
    use spotter_messaging::testing::{BrokerCleanup, EventTap, publish_event};
    use spotter_platform::settings::Settings;
    use std::marker::PhantomData;
    use tokio_util::sync::CancellationToken;
    use uuid::Uuid;

    pub struct TestService<S> {
        /// Its HTTP API (also reached through `Deref`: `app.post(…)`).
        pub api: Api,
        pub auth: TestAuth,
        pub db: TestDatabase,
        pub settings: Settings,
        pub tap: EventTap,
        /// A platform admin's token.
        pub admin: String,
        shutdowns: Vec<CancellationToken>,
        _tap_connection: lapin::Connection,
        _broker_names: BrokerCleanup,
        _service: PhantomData<fn() -> S>,
    }

    impl<S: ServiceDefinition> TestService<S> {
        pub async fn start() -> Self {
            Self::start_with(|_| {}).await
        }

        /// Starts it with the test's own changes to the settings (a push
        /// provider pointed at a fake, say).
        pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
            let db = TestDatabase::create(S::NAME, &super::migration_dirs(S::NAME))
                .await
                .unwrap();
            let prefix = super::broker_prefix();
            let mut settings = super::settings(&db, &prefix).unwrap();
            configure(&mut settings);
            let auth = TestAuth::new();
            let (base_url, shutdown) = launch::<S>(&settings, &auth).await;
            let connection = lapin::Connection::connect(
                &settings.broker.addresses()[0],
                lapin::ConnectionProperties::default(),
            )
            .await
            .unwrap();
            // As any process does when it connects: the exchange and every
            // system queue, so nothing published next misses a consumer.
            let channel = connection.create_channel().await.unwrap();
            spotter_messaging::topology::declare_all(&channel, &settings.broker)
                .await
                .unwrap();
            let tap = EventTap::bind(&connection, &settings.broker).await.unwrap();
            let admin = auth.token(Role::PlatformAdmin, Uuid::now_v7(), None);
            Self {
                api: Api::new(base_url),
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
                _service: PhantomData,
            }
        }

        /// Another replica on the same database and queues; its base URL.
        pub async fn start_replica(&mut self) -> String {
            let (base_url, shutdown) = launch::<S>(&self.settings, &self.auth).await;
            self.shutdowns.push(shutdown);
            base_url
        }

        /// Publishes `event` as its producing service would.
        pub async fn publish<E: spotter_contracts::Event>(&self, event: &E) -> Uuid {
            let id = Uuid::now_v7();
            self.publish_as(event, id).await;
            id
        }

        /// The same, under a given message id (to play a redelivery).
        pub async fn publish_as<E: spotter_contracts::Event>(&self, event: &E, id: Uuid) {
            publish_event(
                self.tap.channel(),
                &self.settings.broker.exchange,
                event,
                id,
            )
            .await
            .unwrap();
        }

        /// `SELECT count(*) AS n …` on the service's database.
        pub async fn count(&self, sql: &str) -> i64 {
            use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let url = self.db.settings.url.expose_secret().to_owned();
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            diesel::sql_query(sql)
                .get_result::<Count>(&mut conn)
                .await
                .unwrap()
                .n
        }

        /// Runs one statement on the service's database (to play what the
        /// API would never do: a racing writer, a clock moving on).
        pub async fn execute(&self, sql: &str) -> Result<usize, diesel::result::Error> {
            use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
            let url = self.db.settings.url.expose_secret().to_owned();
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            diesel::sql_query(sql).execute(&mut conn).await
        }

        /// The clock reaches the next stage of `subject`'s one running
        /// deadline (docs/architecture.md, "Deadlines"): its due time is
        /// moved to now, which wakes the workers. The weekly adherence
        /// deadline beside it keeps its own calendar (a week's end is what
        /// it counts up to; its tests move it themselves).
        pub async fn deadline_falls_due(&self, subject: uuid::Uuid) {
            let moved = self
                .execute(&format!(
                    "UPDATE deadlines SET due_at = now() \
                     WHERE subject_id = '{subject}' AND kind <> 'adherence_week'"
                ))
                .await
                .unwrap();
            assert_eq!(moved, 1, "one running deadline for {subject}");
        }

        /// Waits (bounded) until the consumers have skipped `want`
        /// deliveries as already handled (`spotter_messages_consumed_total`,
        /// outcome `duplicate`): a redelivery has been looked at, so that
        /// it changed nothing can be asserted, not merely hoped.
        pub async fn wait_for_duplicates(&self, want: u64) {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let metrics = self
                    .anonymous(reqwest::Method::GET, "/metrics")
                    .await
                    .text()
                    .await
                    .unwrap_or_default();
                let skipped: f64 = metrics
                    .lines()
                    .filter(|line| {
                        line.starts_with("spotter_messages_consumed_total{")
                            && line.contains(r#"outcome="duplicate""#)
                    })
                    .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                if skipped >= want as f64 {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{skipped} duplicate deliveries skipped, wanted {want}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }

        /// Waits (bounded) until `count(sql)` reaches `want`.
        pub async fn wait_for_count(&self, sql: &str, want: i64) {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let n = self.count(sql).await;
                if n == want {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{sql}: {n}, wanted {want}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }

    impl<S> std::ops::Deref for TestService<S> {
        type Target = Api;

        fn deref(&self) -> &Api {
            &self.api
        }
    }

    /// A running API as the app calls it: a base URL, bearer tokens, JSON.
    pub struct Api {
        pub base_url: String,
        pub client: reqwest::Client,
    }

    impl Api {
        pub fn new(base_url: String) -> Self {
            Self {
                base_url,
                // No pooled connections: a pause in a test would race the
                // server's keep-alive close, and a killed server leaves none.
                client: reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap(),
            }
        }

        pub fn url(&self, path: &str) -> String {
            format!("{}{path}", self.base_url)
        }

        /// Without a token (health, metrics, the OpenAPI document).
        pub async fn anonymous(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
            self.client
                .request(method, self.url(path))
                .send()
                .await
                .unwrap()
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

        /// A POST under an `Idempotency-Key`, as an app retrying it sends it.
        pub async fn post_once(
            &self,
            path: &str,
            token: &str,
            key: &str,
            body: &Value,
        ) -> reqwest::Response {
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(body)
                .send()
                .await
                .unwrap()
        }

        pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
            self.send(reqwest::Method::PUT, path, token, Some(body))
                .await
        }

        pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
            self.send(reqwest::Method::PATCH, path, token, Some(body))
                .await
        }
    }

    impl<S> Drop for TestService<S> {
        fn drop(&mut self) {
            for shutdown in &self.shutdowns {
                shutdown.cancel();
            }
        }
    }

    async fn launch<S: ServiceDefinition>(
        settings: &Settings,
        auth: &TestAuth,
    ) -> (String, CancellationToken) {
        let app = Application::<S>::build_with_verifier(settings.clone(), auth.verifier.clone())
            .await
            .unwrap();
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let shutdown = app.shutdown_token();
        tokio::spawn(app.run_until_stopped());
        (base_url, shutdown)
    }

    /// Reads server-sent events (`id:` and JSON `data:`) until `count` have
    /// arrived; fails the test if one takes over 20 s.
    pub async fn read_events(response: reqwest::Response, count: usize) -> Vec<(String, Value)> {
        use futures_util::StreamExt;
        let mut bytes = response.bytes_stream();
        let mut buffer = String::new();
        let mut events = Vec::new();
        while events.len() < count {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), bytes.next())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .unwrap();
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let id = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .map(str::to_owned);
                let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
                if let (Some(id), Some(data)) = (id, data) {
                    events.push((id, serde_json::from_str(data).unwrap()));
                }
            }
        }
        events
    }

    /// Asserts the status and returns the JSON body (null when empty).
    pub async fn body(response: reqwest::Response, status: u16) -> Value {
        let actual = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Asserts an RFC 9457 problem with `status` and returns it.
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
}

/// Dates for tests, from one "today" per test process (nextest runs each test
/// in a process of its own): a test that sets hours for "tomorrow" and then
/// asserts on "tomorrow" means the same day even if midnight UTC passes in
/// between, and nothing is pinned to a calendar date that will one day be
/// in the past.
pub mod clock {
    use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
    use std::sync::LazyLock;

    static TODAY: LazyLock<NaiveDate> = LazyLock::new(|| Utc::now().date_naive());

    /// Today (UTC) as this test process first saw it.
    pub fn today() -> NaiveDate {
        *TODAY
    }

    /// ISO weekday (1 = Monday) `days` after `today()`.
    pub fn weekday_in(days: i64) -> u32 {
        (today() + Duration::days(days))
            .weekday()
            .number_from_monday()
    }

    /// `hour:minute` UTC on the day `days` after `today()` (an hour or minute
    /// out of range is clamped: these are test fixtures).
    pub fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
        let time =
            chrono::NaiveTime::from_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or_default();
        (today() + Duration::days(days)).and_time(time).and_utc()
    }

    /// Well ahead of any test's run, yet never a fixed date: a year from now.
    pub fn a_year_ahead() -> DateTime<Utc> {
        Utc::now() + Duration::days(365)
    }
}

pub use spotter_db::testing::plans::{Plans, kept_plan, plans_of};
