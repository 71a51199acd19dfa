//! The production shape: each service its own process (`spotter serve …`)
//! with its own database, configured only through `SPOTTER_*` variables and
//! an identity provider's JWKS (no dev key), talking only through RabbitMQ,
//! reached through the nginx gateway of `deploy/nginx/`.

use super::gateway::Gateway;
use secrecy::ExposeSecret;
use serde_json::Value;
use spotter_auth::{Role, SigningKey, token_for};
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::BrokerCleanup;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use uuid::Uuid;

pub const SPOTTER: &str = env!("CARGO_BIN_EXE_spotter-under-test");
const ISSUER: &str = "https://idp.spotter.test";

impl Drop for ProcessStack {
    /// With `SPOTTER_E2E_LOGS=<file>`, everything the processes logged is
    /// written there when the stack ends: what to read when a test fails.
    fn drop(&mut self) {
        if let Ok(path) = std::env::var("SPOTTER_E2E_LOGS") {
            let _ = std::fs::write(path, self.logs());
        }
    }
}

/// One service process and the port it listens on.
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

pub struct ProcessStack {
    pub base_url: String,
    key: SigningKey,
    jwks: tempfile::NamedTempFile,
    prefix: String,
    databases: HashMap<&'static str, TestDatabase>,
    processes: HashMap<&'static str, Process>,
    /// Further processes of a service, beside the first: those of
    /// `start_with_replicas` behind the gateway too, those of
    /// `start_replica` reached only through the broker.
    replicas: Vec<Process>,
    /// Where each service listens; a restarted one comes back on its port,
    /// so the gateway's upstreams stay right.
    ports: HashMap<&'static str, u16>,
    /// Every line every process has logged so far.
    logs: Logs,
    /// The broker node list the processes use, when not the test settings'.
    broker_url: Option<String>,
    _gateway: Gateway,
    _broker_names: BrokerCleanup,
}

type Logs = std::sync::Arc<std::sync::Mutex<String>>;

impl ProcessStack {
    pub async fn start() -> Self {
        Self::start_with_replicas(1).await
    }

    /// `replicas` processes of each service, every one of them an upstream
    /// of the gateway. `kill` and `restart` act on the first of a service's;
    /// the others keep serving meanwhile.
    pub async fn start_with_replicas(replicas: usize) -> Self {
        Self::start_on(replicas, None).await
    }

    /// As `start_with_replicas`, on the broker(s) of `broker_url` (a
    /// comma-separated list of a cluster's nodes) instead of the test
    /// settings' broker.
    pub async fn start_on(replicas: usize, broker_url: Option<String>) -> Self {
        let key = SigningKey::generate("e2e-idp-key").unwrap();
        let jwks = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(jwks.path(), serde_json::to_vec(&key.jwks()).unwrap()).unwrap();
        let prefix = spotter_service::testing::broker_prefix();
        let mut databases = HashMap::new();
        for service in spotter::SERVICES {
            let dirs = spotter_service::testing::migration_dirs(service);
            databases.insert(service, TestDatabase::create(service, &dirs).await.unwrap());
        }
        let mut broker = spotter_platform::settings::load_from("test", None)
            .unwrap()
            .broker;
        broker.exchange = format!("{prefix}spotter.events");
        broker.queue_prefix = prefix.clone();
        let mut processes = HashMap::new();
        let mut others = Vec::new();
        let mut ports = HashMap::new();
        let mut upstreams = Vec::new();
        let logs = Logs::default();
        for service in spotter::SERVICES {
            for nth in 0..replicas.max(1) {
                let process = launch(
                    service,
                    0,
                    &databases[service],
                    &prefix,
                    &jwks,
                    &logs,
                    broker_url.as_deref(),
                );
                upstreams.push((service, process.port));
                if nth == 0 {
                    ports.insert(service, process.port);
                    processes.insert(service, process);
                } else {
                    others.push(process);
                }
            }
        }
        let gateway = Gateway::start(&upstreams);
        Self {
            base_url: format!("http://127.0.0.1:{}", gateway.port),
            key,
            jwks,
            prefix,
            databases,
            processes,
            replicas: others,
            ports,
            logs,
            broker_url,
            _gateway: gateway,
            _broker_names: BrokerCleanup {
                settings: broker,
                consumers: Vec::new(),
            },
        }
    }

    /// SIGKILL: no graceful anything.
    pub fn kill(&mut self, service: &str) {
        let mut process = self.processes.remove(service).unwrap();
        process.child.kill().unwrap();
        process.child.wait().unwrap();
    }

    /// Starts a killed service again, on its old port.
    pub fn restart(&mut self, service: &'static str) {
        let port = self.ports[service];
        let process = launch(
            service,
            port,
            &self.databases[service],
            &self.prefix,
            &self.jwks,
            &self.logs,
            self.broker_url.as_deref(),
        );
        self.processes.insert(service, process);
    }

    /// Another process of `service` on its own port, sharing its database
    /// and queues: replicas as production runs them.
    pub fn start_replica(&mut self, service: &'static str) {
        let replica = launch(
            service,
            0,
            &self.databases[service],
            &self.prefix,
            &self.jwks,
            &self.logs,
            self.broker_url.as_deref(),
        );
        self.replicas.push(replica);
    }

    /// Runs one SQL statement in `service`'s database (a test standing in
    /// for the clock); the rows it touched.
    pub async fn execute(&self, service: &str, sql: &str) -> usize {
        self.databases[service].execute(sql).await.unwrap()
    }

    /// A queue's name on the broker: the test's own prefix before it.
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// What the processes have logged so far, at `debug` (more than
    /// production's `info`, so a leak at any level shows).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// A service's own address, bypassing the gateway (its `/openapi.json`).
    pub fn direct_url(&self, service: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[service])
    }

    /// A token from the identity provider the services trust.
    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
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
}

/// Starts one service and waits until its log says it listens.
fn launch(
    service: &'static str,
    port: u16,
    database: &TestDatabase,
    prefix: &str,
    jwks: &tempfile::NamedTempFile,
    logs: &Logs,
    broker_url: Option<&str>,
) -> Process {
    let mut command = Command::new(SPOTTER);
    if let Some(url) = broker_url {
        command.env("SPOTTER_BROKER__URL", url);
    }
    let mut child = command
        .args(["serve", service])
        .env("SPOTTER_SERVER__PORT", port.to_string())
        .env(
            "SPOTTER_DATABASE__URL",
            database.settings.url.expose_secret(),
        )
        .env(
            "SPOTTER_BROKER__EXCHANGE",
            format!("{prefix}spotter.events"),
        )
        .env("SPOTTER_BROKER__QUEUE_PREFIX", prefix)
        .env("SPOTTER_AUTH__JWKS", jwks.path())
        .env("SPOTTER_AUTH__ISSUER", ISSUER)
        .env("SPOTTER_LOG__FORMAT", "json")
        .env("SPOTTER_LOG__LEVEL", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the service exited before listening")
            .unwrap();
        append(logs, &line);
        if let Ok(log) = serde_json::from_str::<Value>(&line)
            && log["message"] == "listening"
        {
            break u16::try_from(log["port"].as_u64().unwrap()).unwrap();
        }
    };
    // Keep reading its logs (also so it never blocks on a full pipe).
    let logs = logs.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            append(&logs, &line);
        }
    });
    Process { child, port }
}

fn append(logs: &Logs, line: &str) {
    let mut logs = logs.lock().unwrap();
    logs.push_str(line);
    logs.push('\n');
}
