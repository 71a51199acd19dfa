//! Watches the broker for bookings: an exclusive, auto-delete, server-named
//! queue of the benchmark's own, bound to the exchange for
//! `AppointmentBooked`, consumed without acks. Each booking is stamped the
//! moment its delivery is read, so a flag's time ends when the rest of the
//! system could first act on the booking.
//!
//! A booking can arrive before its POST has even returned (the referral's
//! outbox relay and booking can be quicker than the response): bookings
//! nobody waits for yet are kept with their time until someone asks.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use prost::Message;
use spotter_contracts::Event;
use spotter_contracts::booking::v1::AppointmentBooked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;
use tokio::time::Instant;

#[derive(Default)]
struct Seen {
    /// Bookings that arrived before anyone waited for them.
    early: HashMap<String, Instant>,
    /// Referrals waited for, not yet booked.
    waiting: HashMap<String, oneshot::Sender<Instant>>,
}

pub struct Tap {
    seen: Arc<Mutex<Seen>>,
    // Closing the connection (on drop) deletes the queue.
    connection: Connection,
    consumer: tokio::task::JoinHandle<()>,
}

/// The queues where the rest of the saga waits behind booking: how many of
/// booking's events the referral and notification services have not yet
/// taken. A stack that books faster than it records the bookings builds a
/// backlog here, which the flag→booked times alone would not show.
const DOWNSTREAM: [&str; 2] = ["referral.booking-events", "notification.events"];

fn locked(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tap {
    /// Prints how many messages wait in the downstream queues (`prefix`: the
    /// stack's queue prefix).
    pub async fn print_downstream(&self, prefix: &str, when: &str) {
        let mut waiting = Vec::new();
        for queue in DOWNSTREAM {
            let name = format!("{prefix}{queue}");
            let depth = spotter_messaging::broker::ready_messages(&self.connection, &name).await;
            waiting.push(match depth {
                Ok(n) => format!("{queue} {n}"),
                Err(err) => format!("{queue} unknown ({err:#})"),
            });
        }
        println!("  waiting {when}: {}", waiting.join(", "));
    }

    pub async fn open(broker_url: &str, exchange: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        let properties =
            ConnectionProperties::default().with_connection_name("spotter-bench".into());
        let connection = Connection::connect(broker_url, properties)
            .await
            .context("connecting to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let queue = queue.name().clone();
        channel
            .queue_bind(
                queue.clone(),
                exchange.into(),
                AppointmentBooked::ROUTING_KEY.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| {
                format!("binding to exchange {exchange}: is the stack using it? (see --exchange)")
            })?;
        let mut deliveries = channel
            .basic_consume(
                queue,
                "spotter-bench".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let consumer = tokio::spawn(async move {
            while let Some(delivery) = deliveries.next().await {
                let at = Instant::now();
                let delivery = match delivery {
                    Ok(delivery) => delivery,
                    Err(err) => {
                        eprintln!("  ! the broker tap failed: {err}; later bookings go unseen");
                        return;
                    }
                };
                match AppointmentBooked::decode(delivery.data.as_slice()) {
                    Ok(booked) => arrived(&record, booked.referral_id, at),
                    Err(err) => eprintln!("  ! undecodable AppointmentBooked: {err}"),
                }
            }
        });
        Ok(Self {
            seen,
            connection,
            consumer,
        })
    }

    /// When the referral's booking was seen, waiting until `deadline` at most.
    pub async fn booked_at(&self, referral_id: &str, deadline: Instant) -> Option<Instant> {
        let receiver = {
            let mut seen = locked(&self.seen);
            if let Some(at) = seen.early.remove(referral_id) {
                return Some(at);
            }
            let (sender, receiver) = oneshot::channel();
            seen.waiting.insert(referral_id.to_owned(), sender);
            receiver
        };
        match tokio::time::timeout_at(deadline, receiver).await {
            Ok(Ok(at)) => Some(at),
            _ => {
                locked(&self.seen).waiting.remove(referral_id);
                None
            }
        }
    }
}

fn arrived(seen: &Mutex<Seen>, referral_id: String, at: Instant) {
    let mut seen = locked(seen);
    match seen.waiting.remove(&referral_id) {
        Some(waiter) => {
            let _ = waiter.send(at);
        }
        // A redelivered duplicate keeps the first time.
        None => {
            seen.early.entry(referral_id).or_insert(at);
            // Bookings of other flows (another client of the stack) would
            // otherwise pile up: forget what nobody asked for in minutes.
            if seen.early.len() > 100_000 {
                seen.early
                    .retain(|_, t| t.elapsed() < std::time::Duration::from_secs(300));
            }
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.consumer.abort();
    }
}
