//! Who gets flagged: every flag is for a distinct (client, body region), as
//! in real life a client is not flagged twice for the same knee at once.
//! A client created here serves one flag per body region; clients are made
//! ahead of each phase so that the timed part does no set-up work.

use crate::dev_api::{Api, id_of};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde_json::json;
use spotter_platform::vocabulary::BodyRegion;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// Client creations in flight while preparing: quick, without crowding the stack.
const CREATING_IN_FLIGHT: usize = 8;
/// Clients a closed-loop worker makes when no slot is ready: enough
/// trainers (twice the default workers) that consecutive flags stay with
/// different trainers. Making one client at a time would queue its every
/// region back to back, and the workers would then flag for one trainer at
/// once, each waiting for the last (a trainer's flags take turns, for the
/// quotas): a bench artifact, not the load of a network.
const REFILL_CLIENTS: usize = 8 * CREATING_IN_FLIGHT;

pub struct Slot {
    pub trainer: Arc<str>,
    pub client: Uuid,
    pub region: &'static str,
}

pub struct Subjects {
    api: Api,
    /// Trainer tokens; clients are spread over them in turn.
    trainers: Vec<Arc<str>>,
    next_trainer: AtomicUsize,
    ready: Mutex<VecDeque<Slot>>,
    /// One refill at a time: workers that find no slot wait for it.
    refilling: tokio::sync::Mutex<()>,
}

impl Subjects {
    pub fn new(api: Api, trainers: Vec<Arc<str>>) -> Self {
        Self {
            api,
            trainers,
            next_trainer: AtomicUsize::new(0),
            ready: Mutex::new(VecDeque::new()),
            refilling: tokio::sync::Mutex::new(()),
        }
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, VecDeque<Slot>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes sure at least `flags` slots are ready.
    pub async fn prepare(&self, flags: usize) -> anyhow::Result<()> {
        let missing = flags.saturating_sub(self.ready().len());
        let clients = missing.div_ceil(BodyRegion::ALL.len());
        let made: Vec<(Arc<str>, Uuid)> = stream::iter(0..clients)
            .map(|_| self.new_client())
            .buffer_unordered(CREATING_IN_FLIGHT)
            .try_collect()
            .await?;
        // Region by region across the new clients: consecutive flags go to
        // different trainers, hence different cities and clinics.
        let mut ready = self.ready();
        for region in BodyRegion::ALL {
            for (trainer, client) in &made {
                ready.push_back(Slot {
                    trainer: trainer.clone(),
                    client: *client,
                    region: region.as_str(),
                });
            }
        }
        Ok(())
    }

    /// The next slot, making clients when none is ready (closed loop only:
    /// it cannot know ahead how many flags it will get through).
    pub async fn take(&self) -> anyhow::Result<Slot> {
        loop {
            if let Some(slot) = self.ready().pop_front() {
                return Ok(slot);
            }
            let _turn = self.refilling.lock().await;
            if self.ready().is_empty() {
                self.prepare(REFILL_CLIENTS * BodyRegion::ALL.len()).await?;
            }
        }
    }

    /// `n` slots, made ahead.
    pub async fn take_many(&self, n: usize) -> anyhow::Result<Vec<Slot>> {
        self.prepare(n).await?;
        let mut ready = self.ready();
        let n = n.min(ready.len());
        Ok(ready.drain(..n).collect())
    }

    async fn new_client(&self) -> anyhow::Result<(Arc<str>, Uuid)> {
        anyhow::ensure!(!self.trainers.is_empty(), "no trainers to flag for");
        let n = self.next_trainer.fetch_add(1, Ordering::Relaxed);
        let trainer = self.trainers[n % self.trainers.len()].clone();
        let body = json!({"display_name": format!("bench client {n}")});
        let created = self
            .api
            .ok(Method::POST, "/v1/clients", &trainer, Some(&body))
            .await?;
        Ok((trainer, id_of(&created)?))
    }
}
