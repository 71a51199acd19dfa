//! An in-process dev stack for tests: the three services behind one port, each
//! with a fresh database, on broker names of its own. Test code: it panics on
//! set-up failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dev_process;
pub use dev_process::DevProcess;

use spotter_auth::Role;
use spotter_auth::testing::TestAuth;
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::BrokerCleanup;
use spotter_platform::settings::Settings;
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct TestStack {
    pub base_url: String,
    pub auth: TestAuth,
    pub client: reqwest::Client,
    pub prefix: String,
    pub databases: HashMap<&'static str, TestDatabase>,
    shutdown: CancellationToken,
    _broker_names: BrokerCleanup,
}

impl TestStack {
    pub async fn start() -> Self {
        let prefix = spotter_service::testing::broker_prefix();
        let mut databases = HashMap::new();
        let mut settings: HashMap<&'static str, Settings> = HashMap::new();
        for service in crate::SERVICES {
            let db =
                TestDatabase::create(service, &spotter_service::testing::migration_dirs(service))
                    .await
                    .unwrap();
            settings.insert(
                service,
                spotter_service::testing::settings(&db, &prefix).unwrap(),
            );
            databases.insert(service, db);
        }
        let auth = TestAuth::new();
        let base = settings["referral"].clone();
        let running =
            crate::start_stack(&base, |name| settings[name].clone(), auth.verifier.clone())
                .await
                .unwrap();
        let base_url = format!("http://127.0.0.1:{}", running.port());
        let shutdown = running.shutdown_token();
        tokio::spawn(running.run_until_stopped());
        Self {
            base_url,
            auth,
            // No pooled connections: a test that pauses (rabbitmqctl takes
            // seconds) would otherwise race the server's 5 s keep-alive close.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            prefix,
            databases,
            shutdown,
            // The services declare the test's exchange; nothing consumes yet.
            _broker_names: BrokerCleanup {
                settings: base.broker.clone(),
                consumers: Vec::new(),
            },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request as the app makes it: bearer token (if any), JSON body (if any).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        self.auth.token(role, sub, clinic)
    }

    /// Polls `/readyz` until it answers `want` (the broker connects in the
    /// background); fails the test after `within`.
    pub async fn wait_for_readiness(&self, want: u16, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let response = self.client.get(self.url("/readyz")).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            if status == want {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz still {status} after {within:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
