//! Broker names of a test's own, removed when the test ends.

use crate::topology::{RETRY_DELAYS, parked_queue, retry_queue};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use secrecy::ExposeSecret;
use spotter_platform::settings::BrokerSettings;

/// Deletes the test's exchange and consumer queues (work, retry, parked) on drop,
/// so the shared broker does not fill up with leftovers.
pub struct BrokerCleanup {
    pub settings: BrokerSettings,
    pub consumers: Vec<String>,
}

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        let mut queues = Vec::new();
        for consumer in &self.consumers {
            let queue = settings.queue_name(consumer);
            queues.push(parked_queue(&queue));
            queues.extend((0..RETRY_DELAYS.len()).map(|step| retry_queue(&queue, step)));
            queues.push(queue);
        }
        spotter_platform::testing::block_on_own_thread(async move {
            let properties = lapin::ConnectionProperties::default();
            let Ok(conn) =
                lapin::Connection::connect(settings.url.expose_secret(), properties).await
            else {
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
pub async fn ready_messages(connection: &lapin::Connection, queue: &str) -> anyhow::Result<u32> {
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "counted".into()).await;
    Ok(declared.message_count())
}

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
