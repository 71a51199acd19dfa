//! The broker topology, declared in one place. Declarations are idempotent, so
//! every process declares what it uses at each (re)connect.
//!
//! Per consumer `<prefix><service>.<purpose>`:
//! * the work queue: durable quorum queue bound to the events it handles;
//! * `….retry.<n>`: delay lines (message TTL) that dead-letter back into the
//!   work queue, one per back-off step;
//! * `….parked`: where poison messages and those out of attempts wait for an
//!   operator (listed and replayed through the admin API).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

/// Back-off steps for transient failures; one more failure after the last parks.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
];

/// Redeliveries the broker allows before dead-lettering to the parking queue.
/// This catches what our own retry path cannot: a consumer that crashes on a
/// message before it can ack or park it, again and again.
pub const DELIVERY_LIMIT: i64 = 10;

/// The one topic exchange all events go through (DESIGN §4). Durable, so it
/// survives a broker restart together with the queues bound to it.
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> lapin::Result<()> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

pub fn parked_queue(queue: &str) -> String {
    format!("{queue}.parked")
}

pub fn retry_queue(queue: &str, step: usize) -> String {
    format!("{queue}.retry.{step}")
}

/// Declares a consumer's queues and binds its work queue to `routing_keys`.
pub async fn declare_consumer_queues(
    channel: &Channel,
    exchange: &str,
    queue: &str,
    routing_keys: &[&str],
) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut parked_args = FieldTable::default();
    parked_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(parked_queue(queue).as_str().into(), durable, parked_args)
        .await?;

    let mut work_args = FieldTable::default();
    // Quorum: replicated, and confirms mean a quorum has the message.
    work_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    // No default on 3.x: without it a crash-looping message is redelivered forever.
    work_args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    // Past the limit the broker moves the message to our parking queue.
    work_args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    work_args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(parked_queue(queue).as_str().into()),
    );
    channel
        .queue_declare(queue.into(), durable, work_args)
        .await?;

    for (step, delay) in RETRY_DELAYS.iter().enumerate() {
        let mut retry_args = FieldTable::default();
        // A delay line: nobody consumes it; expired messages flow back to work.
        retry_args.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        );
        retry_args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        retry_args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.into()),
        );
        channel
            .queue_declare(
                retry_queue(queue, step).as_str().into(),
                durable,
                retry_args,
            )
            .await?;
    }

    for key in routing_keys {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
