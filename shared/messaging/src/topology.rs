//! The broker topology, declared in one place. Declarations are idempotent, so
//! every process declares what it uses at each (re)connect.
//!
//! Per consumer `<prefix><service>.<purpose>`:
//! * the work queue: durable quorum queue bound to the events it handles;
//! * `….delay.<n>`: delay lines (message TTL) that dead-letter back into the
//!   work queue, one per back-off step; quorum queues like the rest, so a
//!   cluster node going down never takes a delay line with it;
//! * `….parked`: where poison messages and those out of attempts wait for an
//!   operator (listed and replayed through the admin API).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

/// Every service's consumer queue and the events it takes: the whole system's
/// topology in one place. Each process declares all of it at every connect, so
/// an event published before its consumer ever started waits in that
/// consumer's queue instead of being delivered only to the queues that exist.
pub struct QueueSpec {
    /// `<service>.<purpose>`; the configured prefix is added in front.
    pub name: &'static str,
    pub routing_keys: &'static [&'static str],
}

pub const SYSTEM_QUEUES: &[QueueSpec] = &[
    // Booking's lanes (docs/architecture.md, "Booking lanes"): RabbitMQ 3.10's
    // quorum queues have no priorities, so urgent requests get a queue (and
    // consumers) of their own and never wait behind a routine backlog.
    // Cancellations ride the urgent lane: cheap, and they should take effect
    // before a booking that is no longer wanted.
    QueueSpec {
        name: "booking.referrals.urgent",
        routing_keys: &[
            "referral.referral_requested.v1.urgent",
            "referral.referral_cancelled.v1",
        ],
    },
    QueueSpec {
        name: "booking.referrals.routine",
        routing_keys: &[
            "referral.referral_requested.v1.routine",
            // Requests published without a lane (by a referral service from
            // before lanes, during a rolling upgrade) are booked as routine
            // is: the handler reads the priority from the message itself.
            "referral.referral_requested.v1",
        ],
    },
    // Guidance's review dates become follow-ups (docs/architecture.md,
    // "Follow-ups"): no lane, as nothing waits on it the way a first
    // booking does.
    QueueSpec {
        name: "booking.follow-ups",
        routing_keys: &["referral.guidance_shared.v1"],
    },
    QueueSpec {
        name: "referral.booking-events",
        routing_keys: &[
            "booking.referral_waitlisted.v1",
            "booking.appointment_booked.v1",
            "booking.appointment_cancelled.v1",
            "booking.appointment_rescheduled.v1",
            "booking.appointment_completed.v1",
            "booking.appointment_no_show.v1",
            "booking.physio_access_ended.v1",
            "booking.deadline_reached.v1",
            "booking.follow_up_booked.v1",
            "booking.follow_up_moved.v1",
            "booking.follow_up_waitlisted.v1",
        ],
    },
    QueueSpec {
        name: "notification.events",
        // Everyone hears about everything that concerns them.
        routing_keys: &["referral.*.v1", "booking.*.v1"],
    },
];

/// Queues of earlier versions, with the keys they were bound by. At every
/// connect they are unbound, so they stop filling. They are not deleted: a
/// replica of the earlier version may still be draining one during a rolling
/// upgrade, and RabbitMQ cannot delete a quorum queue only if it is empty.
/// Once one is empty an operator deletes it (docs/architecture.md, "Booking
/// lanes"). `booking.referrals` became the two booking lanes.
pub const RETIRED_QUEUES: &[QueueSpec] = &[QueueSpec {
    name: "booking.referrals",
    routing_keys: &[
        "referral.referral_requested.v1",
        "referral.referral_cancelled.v1",
    ],
}];

/// Unbinds every retired queue that exists here. Returns the names of those
/// found, with how many messages each still holds.
pub async fn retire_old_queues(
    connection: &lapin::Connection,
    settings: &spotter_platform::settings::BrokerSettings,
) -> lapin::Result<Vec<(String, u32)>> {
    let mut found = Vec::new();
    for queue in RETIRED_QUEUES {
        let name = settings.queue_name(queue.name);
        // A channel of its own: asking after a queue that does not exist
        // closes the channel that asked.
        let channel = connection.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let Ok(declared) = channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await
        else {
            continue; // never existed here
        };
        for key in queue.routing_keys {
            channel
                .queue_unbind(
                    name.as_str().into(),
                    settings.exchange.as_str().into(),
                    (*key).into(),
                    FieldTable::default(),
                )
                .await?;
        }
        let _ = channel.close(200, "retired".into()).await;
        found.push((name, declared.message_count()));
    }
    Ok(found)
}

/// The events the system queue `name` takes, for its consumer to bind exactly
/// as declared (empty for a name that is not a system queue).
pub fn routing_keys_of(name: &str) -> Vec<String> {
    SYSTEM_QUEUES
        .iter()
        .find(|q| q.name == name)
        .map(|q| q.routing_keys.iter().map(|k| (*k).to_owned()).collect())
        .unwrap_or_default()
}

/// Declares the exchange and every system queue (idempotent).
pub async fn declare_all(
    channel: &Channel,
    settings: &spotter_platform::settings::BrokerSettings,
) -> lapin::Result<()> {
    declare_exchange(channel, &settings.exchange).await?;
    for queue in SYSTEM_QUEUES {
        declare_consumer_queues(
            channel,
            &settings.exchange,
            &settings.queue_name(queue.name),
            queue.routing_keys,
        )
        .await?;
    }
    Ok(())
}

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

/// The one topic exchange all events go through (docs/architecture.md,
/// "Messaging"). Durable, so it survives a broker restart together with the
/// queues bound to it.
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

pub fn delay_queue(queue: &str, step: usize) -> String {
    format!("{queue}.delay.{step}")
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
        channel
            .queue_declare(
                delay_queue(queue, step).as_str().into(),
                durable,
                delay_line_arguments(queue, *delay),
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

/// A delay line: nobody consumes it; each message expires after `delay` and
/// is dead-lettered back into the work `queue`. A quorum queue (message TTL
/// needs RabbitMQ 3.10), replicated like the work queue. Its dead-lettering is
/// at-least-once: the broker keeps an expired message until the work queue
/// has confirmed it, where the default would drop it if that hop failed,
/// and at-least-once requires `reject-publish` on overflow.
fn delay_line_arguments(queue: &str, delay: Duration) -> FieldTable {
    let mut arguments = FieldTable::default();
    let text = |value: &str| AMQPValue::LongString(value.into());
    arguments.insert("x-queue-type".into(), text("quorum"));
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
    );
    arguments.insert("x-dead-letter-exchange".into(), text(""));
    arguments.insert("x-dead-letter-routing-key".into(), text(queue));
    arguments.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    arguments.insert("x-overflow".into(), text("reject-publish"));
    arguments
}
