//! Where a delivery goes after its handler ran: acked, to the delay queue of
//! its attempt, or parked; and the confirmed republish that takes it there.

use crate::broker::{BROKER_TIMEOUT, confirmed};
use crate::delivery::{ATTEMPT_HEADER, PARK_REASON_HEADER, PARKED_ID_HEADER, ROUTING_KEY_HEADER};
use crate::topology::{self, RETRY_DELAYS};
use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::types::AMQPValue;
use lapin::{BasicProperties, Channel};
use uuid::Uuid;

/// What became of one delivery's handling.
pub(super) enum Outcome {
    Done,
    /// Already handled (the inbox had it): acked like `Done`.
    Duplicate,
    Retry(String),
    Park(String),
}

/// Where a settled delivery goes next, when not simply acked.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NextStop {
    pub(super) queue: String,
    /// The attempt number the message carries onward.
    pub(super) attempt: u32,
    /// Set when the message is parked: why, for the operator.
    pub(super) park_reason: Option<String>,
}

/// Handled messages stop here; transient failures go to the delay queue of
/// their attempt until the steps run out, then park like permanent ones.
pub(super) fn next_stop(outcome: Outcome, queue: &str, attempt: u32) -> Option<NextStop> {
    let park = |reason: String| NextStop {
        queue: topology::parked_queue(queue),
        attempt,
        park_reason: Some(reason),
    };
    match outcome {
        Outcome::Done | Outcome::Duplicate => None,
        Outcome::Park(reason) => Some(park(reason)),
        Outcome::Retry(reason) => {
            let step = usize::try_from(attempt)
                .unwrap_or(usize::MAX)
                .saturating_sub(1);
            Some(if step < RETRY_DELAYS.len() {
                NextStop {
                    queue: topology::delay_queue(queue, step),
                    attempt: attempt + 1,
                    park_reason: None,
                }
            } else {
                park(format!("out of attempts after {attempt}: {reason}"))
            })
        }
    }
}

/// Republishes a delivery, unchanged but for our headers, straight to the
/// stop's queue (default exchange), waiting for the broker's confirm.
pub(super) async fn forward(publisher: &Channel, delivery: &Delivery, stop: &NextStop) -> bool {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(stop.attempt));
    // Retries come back through a delay queue under the work queue's name;
    // the first hop records the event's own routing key for the dead-letter list.
    if !headers.inner().contains_key(ROUTING_KEY_HEADER) {
        headers.insert(
            ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(delivery.routing_key.as_str().into()),
        );
    }
    if let Some(reason) = &stop.park_reason {
        let reason: String = reason.chars().take(1000).collect();
        headers.insert(
            PARK_REASON_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
        );
        // Names this parking, so recording it survives redelivery (see parked.rs).
        headers.insert(
            PARKED_ID_HEADER.into(),
            AMQPValue::LongString(Uuid::now_v7().to_string().into()),
        );
    }
    let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
    let published = tokio::time::timeout(
        BROKER_TIMEOUT,
        publisher.basic_publish(
            "".into(),
            stop.queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &delivery.data,
            properties,
        ),
    )
    .await;
    match published {
        Ok(Ok(confirm)) => confirmed(confirm).await,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_walk_the_delay_queues_then_park() {
        let stops: Vec<_> = (1..=4)
            .map(|attempt| next_stop(Outcome::Retry("db down".into()), "q", attempt).unwrap())
            .collect();
        assert_eq!(stops[0].queue, "q.delay.0");
        assert_eq!(stops[0].attempt, 2);
        assert_eq!(stops[1].queue, "q.delay.1");
        assert_eq!(stops[2].queue, "q.delay.2");
        assert_eq!(stops[2].park_reason, None);
        assert_eq!(stops[3].queue, "q.parked");
        assert_eq!(
            stops[3].park_reason.as_deref(),
            Some("out of attempts after 4: db down")
        );
    }

    #[test]
    fn permanent_failures_park_at_once_and_successes_stop() {
        let stop = next_stop(Outcome::Park("bad body".into()), "q", 1).unwrap();
        assert_eq!(stop.queue, "q.parked");
        assert_eq!(stop.park_reason.as_deref(), Some("bad body"));
        assert_eq!(next_stop(Outcome::Done, "q", 1), None);
    }
}
