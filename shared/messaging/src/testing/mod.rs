//! Broker names of a test's own, removed when the test ends.

mod cluster;
pub use cluster::LocalCluster;

use crate::topology::{RETRY_DELAYS, delay_queue, parked_queue};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use spotter_platform::settings::BrokerSettings;

/// Deletes the test's exchange, the system queues and the test's own
/// `consumers` (work, retry, parked) on drop, all under the test's prefix, so
/// the shared broker does not fill up with leftovers.
pub struct BrokerCleanup {
    pub settings: BrokerSettings,
    pub consumers: Vec<String>,
}

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        let mut queues = Vec::new();
        let system = crate::topology::SYSTEM_QUEUES
            .iter()
            .map(|q| q.name.to_owned());
        for consumer in self.consumers.iter().cloned().chain(system) {
            let queue = settings.queue_name(&consumer);
            queues.push(parked_queue(&queue));
            queues.extend((0..RETRY_DELAYS.len()).map(|step| delay_queue(&queue, step)));
            queues.push(queue);
        }
        spotter_platform::testing::block_on_own_thread(async move {
            let properties = lapin::ConnectionProperties::default();
            let Some(url) = settings.addresses().into_iter().next() else {
                return;
            };
            let Ok(conn) = lapin::Connection::connect(&url, properties).await else {
                return;
            };
            if let Ok(channel) = conn.create_channel().await {
                for queue in queues {
                    let _ = channel
                        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = channel
                    .exchange_delete(
                        settings.exchange.as_str().into(),
                        ExchangeDeleteOptions::default(),
                    )
                    .await;
            }
            let _ = conn.close(200, "cleaned up".into()).await;
        });
    }
}

/// Runs `rabbitmqctl` (installed with RabbitMQ) and returns its output.
pub fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Closes every broker connection whose client-given name contains `needle`
/// (a test's own prefix: the broker is shared with other tests). Returns how
/// many were closed.
pub fn close_connections_named(needle: &str) -> anyhow::Result<usize> {
    let listing = rabbitmqctl(&[
        "list_connections",
        "-q",
        "--no-table-headers",
        "pid",
        "client_properties",
    ])?;
    let mut closed = 0;
    for line in listing.lines() {
        let mut fields = line.split('\t');
        if let (Some(pid), Some(properties)) = (fields.next(), fields.next())
            && properties.contains(needle)
        {
            rabbitmqctl(&["close_connection", pid.trim(), "test cuts this connection"])?;
            closed += 1;
        }
    }
    Ok(closed)
}

/// Messages ready in `queue` (not counting unacknowledged ones), as the
/// broker answers a passive declare: exact, unlike `rabbitmqctl list_queues`,
/// whose quorum-queue counts lag by seconds.
pub use crate::broker::{consumers_of, ready_messages};

/// Stops RabbitMQ's application for a serial test (`make test-serial`) and
/// always starts it again on drop, even when the test fails.
pub struct BrokerRestart;

impl BrokerRestart {
    pub fn stop() -> anyhow::Result<Self> {
        rabbitmqctl(&["stop_app"])?;
        Ok(Self)
    }
}

impl Drop for BrokerRestart {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["start_app"]);
        let _ = rabbitmqctl(&["await_startup", "--timeout", "60"]);
    }
}

/// Publishes `event` as its producer's outbox relay would (same properties),
/// under `message_id`: tests play the other services with it.
pub async fn publish_event<E: spotter_contracts::Event>(
    channel: &lapin::Channel,
    exchange: &str,
    event: &E,
    message_id: uuid::Uuid,
) -> anyhow::Result<()> {
    use lapin::BasicProperties;
    use lapin::options::BasicPublishOptions;
    use lapin::types::ShortString;
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(message_id.to_string()))
        .with_type(ShortString::from(E::TYPE_NAME))
        .with_content_type("application/x-protobuf".into())
        .with_correlation_id(ShortString::from(event.referral_id()))
        .with_delivery_mode(2);
    let confirm = channel
        .basic_publish(
            exchange.into(),
            event.routing_key().as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &event.encode_to_vec(),
            properties,
        )
        .await?;
    anyhow::ensure!(
        crate::broker::confirmed(confirm).await,
        "{} was not routed to any queue",
        E::TYPE_NAME
    );
    Ok(())
}

/// A queue of the test's own bound to every event on the exchange: what the
/// other services would hear, in order.
pub struct EventTap {
    channel: lapin::Channel,
    queue: String,
}

impl EventTap {
    /// Call before the events of interest are published (the queue only holds
    /// what arrives after it is bound).
    pub async fn bind(
        connection: &lapin::Connection,
        settings: &BrokerSettings,
    ) -> anyhow::Result<Self> {
        use lapin::options::{ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions};
        use lapin::types::FieldTable;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let queue = settings.queue_name("test.tap");
        channel
            .queue_declare(
                queue.as_str().into(),
                // Exclusive: gone with the tap's connection, even when the test
                // fails (auto-delete would need a consumer; basic_get is none).
                QueueDeclareOptions {
                    exclusive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                settings.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Self { channel, queue })
    }

    /// The channel, for publishing as another service.
    pub fn channel(&self) -> &lapin::Channel {
        &self.channel
    }

    /// The next event of type `E` (others are skipped), waiting up to `within`.
    pub async fn next<E: spotter_contracts::Event>(
        &self,
        within: std::time::Duration,
    ) -> anyhow::Result<E> {
        self.next_matching::<E>(within, |_| true).await
    }

    /// The next event of type `E` that `wanted` accepts, waiting up to `within`.
    pub async fn next_matching<E: spotter_contracts::Event>(
        &self,
        within: std::time::Duration,
        wanted: impl Fn(&E) -> bool,
    ) -> anyhow::Result<E> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
                .await?;
            match got {
                Some(message) => {
                    message.delivery.ack(BasicAckOptions::default()).await?;
                    let kind = message
                        .delivery
                        .properties
                        .kind()
                        .as_ref()
                        .map(|k| k.to_string());
                    if kind.as_deref() == Some(E::TYPE_NAME) {
                        let event = E::decode(message.delivery.data.as_slice())?;
                        if wanted(&event) {
                            return Ok(event);
                        }
                    }
                }
                None => {
                    anyhow::ensure!(
                        tokio::time::Instant::now() < deadline,
                        "no {} within {within:?}",
                        E::TYPE_NAME
                    );
                    // basic_get does not wait: poll the queue at a short interval.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// Every event of type `E` that has arrived so far, without waiting.
    pub async fn drain<E: spotter_contracts::Event>(&self) -> anyhow::Result<Vec<E>> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let mut events = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
            .await?
        {
            message.delivery.ack(BasicAckOptions::default()).await?;
            if message
                .delivery
                .properties
                .kind()
                .as_ref()
                .map(|k| k.as_str())
                == Some(E::TYPE_NAME)
            {
                events.push(E::decode(message.delivery.data.as_slice())?);
            }
        }
        Ok(events)
    }
}

/// The per-service broker users as `make run` and `make test` make them
/// (deploy/local/broker-users.sh), with topic permissions on a test's own
/// `exchange`: each may publish only `<service>.*` there. Those permissions
/// are cleared again on drop; the users stay (they are the machine's).
pub struct ServiceUsers {
    exchange: String,
}

pub const SERVICES: [&str; 3] = ["referral", "booking", "notification"];

impl ServiceUsers {
    pub fn grant(exchange: &str) -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/local/broker-users.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(exchange)
            .stdout(std::process::Stdio::null())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "deploy/local/broker-users.sh failed (it needs rabbitmqctl, as root)"
        );
        Self {
            exchange: exchange.to_owned(),
        }
    }
}

impl Drop for ServiceUsers {
    fn drop(&mut self) {
        for service in SERVICES {
            let _ = std::process::Command::new("rabbitmqctl")
                .args(["-q", "clear_topic_permissions", "-p", "/"])
                .arg(format!("spotter-{service}"))
                .arg(&self.exchange)
                .status();
        }
    }
}
