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
