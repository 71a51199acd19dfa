//! `spotter dev` as a newcomer runs it: the real binary in a process of its
//! own, on databases and broker names of the test's own, with its dev key.
//! It can be SIGKILLed and started again on the same port.

use secrecy::ExposeSecret;
use spotter_auth::{Role, SigningKey, dev_token, ensure_dev_keys};
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::{BrokerCleanup, ServiceUsers};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use uuid::Uuid;

pub struct DevProcess {
    pub base_url: String,
    pub keys_dir: PathBuf,
    /// Taken by a test that signals the process and waits for it itself.
    pub child: Option<Child>,
    binary: PathBuf,
    port: u16,
    db_prefix: String,
    broker_prefix: String,
    key: SigningKey,
    service_accounts: bool,
    /// `--work-elsewhere`: the service whose work runs in `serve`'s process.
    work_elsewhere: Option<&'static str>,
    /// The `spotter serve` processes `serve` started, stopped with this.
    served: Vec<Child>,
    databases: Vec<TestDatabase>,
    _service_users: Option<ServiceUsers>,
    broker_names: BrokerCleanup,
}

impl DevProcess {
    /// Starts `binary dev` (the `spotter` command) on a free port, on
    /// databases made here from the migrated templates (fast): `spotter dev`
    /// finds them under the names its `--db-prefix` gives.
    pub async fn start(binary: &Path) -> Self {
        Self::start_with(binary, true, None).await
    }

    /// `spotter dev --work-elsewhere <service>` (`make bench-load`'s shape):
    /// the service's HTTP API is served here, its work only once `serve`
    /// starts a process for it.
    pub async fn start_working_elsewhere(binary: &Path, service: &'static str) -> Self {
        Self::start_with(binary, true, Some(service)).await
    }

    /// As `make run` on a newcomer's machine: `spotter dev --service-accounts`
    /// creates and migrates its databases itself (they are still dropped
    /// afterwards), each service connected as its own database role and
    /// broker user, which may publish only that service's events on this
    /// test's exchange.
    pub async fn start_from_nothing(binary: &Path) -> Self {
        Self::start_with(binary, false, None).await
    }

    /// The database `spotter dev` gives `service`.
    pub fn database(&self, service: &str) -> String {
        format!("{}{service}", self.db_prefix)
    }

    /// Runs one SQL statement in `service`'s database (a test standing in
    /// for the clock); the rows it touched.
    pub async fn execute(&self, service: &str, sql: &str) -> usize {
        let name = self.database(service);
        let database = self.databases.iter().find(|d| d.name() == name);
        database
            .unwrap_or_else(|| panic!("no database {name}"))
            .execute(sql)
            .await
            .unwrap()
    }

    async fn start_with(
        binary: &Path,
        premade_databases: bool,
        work_elsewhere: Option<&'static str>,
    ) -> Self {
        let service_accounts = !premade_databases;
        let id = Uuid::new_v4().simple().to_string();
        let keys_dir = std::env::temp_dir().join(format!("spotter-keys-{id}"));
        let key = ensure_dev_keys(&keys_dir).unwrap().key;
        let db_prefix = format!("spotter_dev_{}_", &id[..12]);
        let mut databases = Vec::new();
        for service in crate::SERVICES {
            let name = format!("{db_prefix}{service}");
            let database = if premade_databases {
                let dirs = spotter_service::testing::migration_dirs(service);
                TestDatabase::create_named(name, service, &dirs).await
            } else {
                TestDatabase::claim(name)
            };
            databases.push(database.unwrap());
        }
        let broker_prefix = format!("t{id}.");
        let mut broker = spotter_platform::settings::load_from("test", None)
            .unwrap()
            .broker;
        broker.exchange = format!("{broker_prefix}spotter.events");
        broker.queue_prefix = broker_prefix.clone();
        let mut process = Self {
            base_url: String::new(),
            keys_dir,
            child: None,
            binary: binary.to_owned(),
            port: 0,
            db_prefix,
            broker_prefix,
            key,
            service_accounts,
            work_elsewhere,
            served: Vec::new(),
            databases,
            _service_users: service_accounts.then(|| ServiceUsers::grant(&broker.exchange)),
            broker_names: BrokerCleanup {
                settings: broker,
                consumers: Vec::new(),
            },
        };
        process.spawn();
        process
    }

    /// Starts the process and waits for its banner.
    fn spawn(&mut self) {
        let mut child = Command::new(&self.binary)
            .args(["dev", "--port", &self.port.to_string()])
            .args(["--db-prefix", &self.db_prefix])
            .arg("--keys-dir")
            .arg(&self.keys_dir)
            .args(
                self.work_elsewhere
                    .iter()
                    .flat_map(|service| ["--work-elsewhere", service]),
            )
            .env(
                "SPOTTER_BROKER__EXCHANGE",
                format!("{}spotter.events", self.broker_prefix),
            )
            .env("SPOTTER_BROKER__QUEUE_PREFIX", &self.broker_prefix)
            .env("SPOTTER_LOG__LEVEL", "warn")
            .env(
                "SPOTTER_DEV_SERVICE_ACCOUNTS",
                self.service_accounts.to_string(),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base_url = loop {
            let line = lines
                .next()
                .expect("spotter dev exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("Spotter dev stack listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so its later lines never hit a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.port = base_url.rsplit(':').next().unwrap().parse().unwrap();
        self.base_url = base_url;
        self.child = Some(child);
    }

    /// Starts `spotter serve <service>` beside the stack, on the service's
    /// database and the stack's queues (as `make bench-load` runs booking).
    /// It runs until this value drops.
    pub fn serve(&mut self, service: &str) {
        let database = self
            .databases
            .iter()
            .find(|d| d.name() == self.database(service))
            .unwrap_or_else(|| panic!("no database for {service}"));
        let child = Command::new(&self.binary)
            .args(["serve", service])
            .env("SPOTTER_SERVER__PORT", "0")
            .env(
                "SPOTTER_DATABASE__URL",
                database.settings.url.expose_secret(),
            )
            .env(
                "SPOTTER_BROKER__URL",
                self.broker_names.settings.url.expose_secret(),
            )
            .env(
                "SPOTTER_BROKER__EXCHANGE",
                &self.broker_names.settings.exchange,
            )
            .env("SPOTTER_BROKER__QUEUE_PREFIX", &self.broker_prefix)
            // No token reaches it in these tests: it trusts a key nobody holds
            // (a serve process refuses the dev key, by design).
            .env(
                "SPOTTER_AUTH__JWKS",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../deploy/local/no-callers-jwks.json"),
            )
            .env("SPOTTER_AUTH__ISSUER", "https://no-callers.spotter.invalid")
            .env("SPOTTER_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.served.push(child);
    }

    /// Consumers attached to one of the stack's queues (`name` without the
    /// test's prefix) right now; `None` while the stack has not declared it.
    pub async fn consumers_of(&self, name: &str) -> Option<u32> {
        let url = self.broker_names.settings.url.expose_secret().to_owned();
        let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let queue = format!("{}{name}", self.broker_prefix);
        // A passive declare of a missing queue is refused: not declared yet.
        let consumers = spotter_messaging::testing::consumers_of(&connection, &queue)
            .await
            .ok();
        let _ = connection.close(200, "counted".into()).await;
        consumers
    }

    /// SIGKILL: every service in it dies at once, nothing graceful.
    pub fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts it again, on the same port.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// A token signed with the dev key, as `spotter token` makes it.
    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        dev_token(
            &self.key,
            role,
            sub,
            clinic,
            std::time::Duration::from_secs(3600),
        )
        .unwrap()
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        for child in self.child.iter_mut().chain(&mut self.served) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.keys_dir);
    }
}
