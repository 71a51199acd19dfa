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
use spotter_service::testing::service::Api;
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct TestStack {
    /// Its HTTP API (also reached through `Deref`: `stack.post(…)`).
    pub api: Api,
    pub auth: TestAuth,
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
        let running = crate::start_stack(
            &base,
            |name| settings[name].clone(),
            auth.verifier.clone(),
            &[],
        )
        .await
        .unwrap();
        let base_url = format!("http://127.0.0.1:{}", running.port());
        let shutdown = running.shutdown_token();
        tokio::spawn(running.run_until_stopped());
        Self {
            api: Api::new(base_url),
            auth,
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

    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        self.auth.token(role, sub, clinic)
    }

    /// Polls `/readyz` until it reads `want`: `ready`, `degraded` (200, the
    /// broker away) or `not-ready` (503, a database away); the broker
    /// connects in the background. Fails the test after `within`.
    pub async fn wait_for_readiness(&self, want: &str, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let response = self.client.get(self.url("/readyz")).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            let state = match status {
                200 => body["status"].as_str().unwrap_or("?").to_owned(),
                503 => "not-ready".to_owned(),
                other => other.to_string(),
            };
            if state == want {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz still {state} after {within:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl std::ops::Deref for TestStack {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
