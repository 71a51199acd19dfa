//! Booking's lanes (docs/architecture.md, "Booking lanes"): referral
//! requests arrive on `booking.referrals.urgent` or `.routine`, each a quorum
//! queue with its own consumers, so an urgent request never waits behind a
//! routine backlog. Both lanes run the same handler; what differs is the
//! queue and how many deliveries each takes at once.
//!
//! `/metrics` shows, per lane, the queue's depth and the age of the request
//! at its head (the one taken last, i.e. how long it had waited), so an
//! operator sees a backlog and how far behind it is.

use prometheus::core::Collector;
use prometheus::{GaugeVec, IntGaugeVec, Opts};
use spotter_messaging::{Admission, Admitted, Broker};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Urgent,
    Routine,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Urgent, Lane::Routine];

    pub fn queue(self) -> &'static str {
        match self {
            Lane::Urgent => "booking.referrals.urgent",
            Lane::Routine => "booking.referrals.routine",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lane::Urgent => spotter_contracts::lane::URGENT,
            Lane::Routine => spotter_contracts::lane::ROUTINE,
        }
    }

    /// Deliveries in flight per replica. Bookings at different physios run
    /// side by side (each takes only its physio's diary lock), so the routine
    /// lane can use most of the pool; the urgent lane keeps its own share so
    /// it is never starved of connections by a routine backlog.
    pub fn concurrency(self) -> u16 {
        match self {
            Lane::Urgent => 4,
            Lane::Routine => 8,
        }
    }
}

/// Urgent first within one process: while an urgent request is being
/// booked here, the routine lane starts no new request (those already
/// running finish), so the urgent one shares the database and the CPU with
/// as little routine work as possible. A routine request waits at most
/// `ROUTINE_YIELDS_AT_MOST`, so a flood of urgent requests slows the routine
/// lane down but never stops it. Replicas do not wait for each other's
/// urgent work.
#[derive(Clone)]
pub struct UrgentFirst {
    urgent_running: Arc<watch::Sender<usize>>,
}

const ROUTINE_YIELDS_AT_MOST: Duration = Duration::from_secs(1);

impl Default for UrgentFirst {
    fn default() -> Self {
        Self {
            urgent_running: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl UrgentFirst {
    /// When a delivery of `lane` may start (`ConsumerSpec::admission`).
    pub fn admission(&self, lane: Lane) -> Admission {
        let running = self.urgent_running.clone();
        match lane {
            Lane::Urgent => Arc::new(move |_| {
                running.send_modify(|n| *n += 1);
                let done: Admitted = Box::new(UrgentDone(running.clone()));
                Box::pin(std::future::ready(done))
            }),
            Lane::Routine => Arc::new(move |_| {
                let mut urgent = running.subscribe();
                Box::pin(async move {
                    let none_urgent = urgent.wait_for(|&n| n == 0);
                    let _ = tokio::time::timeout(ROUTINE_YIELDS_AT_MOST, none_urgent).await;
                    Box::new(()) as Admitted
                })
            }),
        }
    }

    #[cfg(test)]
    fn urgent_running(&self) -> usize {
        *self.urgent_running.borrow()
    }
}

/// One urgent request settled: the routine lane may go on once none runs.
struct UrgentDone(Arc<watch::Sender<usize>>);

impl Drop for UrgentDone {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Per-lane gauges, cheap to clone (they share their values).
#[derive(Clone)]
pub struct LaneMetrics {
    depth: IntGaugeVec,
    head_age: GaugeVec,
}

impl LaneMetrics {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            depth: IntGaugeVec::new(
                Opts::new(
                    "booking_lane_depth",
                    "Referral requests waiting in each booking lane's queue",
                ),
                &["lane"],
            )?,
            head_age: GaugeVec::new(
                Opts::new(
                    "booking_lane_oldest_age_seconds",
                    "How long the request at the head of each booking lane had waited \
                     since it was requested (0 when the lane is empty)",
                ),
                &["lane"],
            )?,
        })
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        // Both lanes' series exist from the start: an empty lane reads 0,
        // not "no data", until the first probe.
        for lane in Lane::ALL {
            self.depth.with_label_values(&[lane.name()]);
            self.head_age.with_label_values(&[lane.name()]);
        }
        vec![
            Box::new(self.depth.clone()),
            Box::new(self.head_age.clone()),
        ]
    }

    /// A request taken from `lane` had waited `waited` since it was requested.
    pub fn taken(&self, lane: Lane, waited: chrono::Duration) {
        let seconds = waited.num_milliseconds().max(0) as f64 / 1000.0;
        self.head_age.with_label_values(&[lane.name()]).set(seconds);
    }

    fn depth_seen(&self, lane: Lane, depth: u32) {
        self.depth
            .with_label_values(&[lane.name()])
            .set(i64::from(depth));
        if depth == 0 {
            // Nothing waits: nothing is late.
            self.head_age.with_label_values(&[lane.name()]).set(0.0);
        }
    }
}

const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Reads each lane's depth from the broker every few seconds until `shutdown`.
pub async fn probe_depths(broker: Broker, metrics: LaneMetrics, shutdown: CancellationToken) {
    loop {
        for lane in Lane::ALL {
            let queue = broker.settings().queue_name(lane.queue());
            match broker.queue_depth(&queue).await {
                Ok(depth) => metrics.depth_seen(lane, depth),
                Err(err) => tracing::debug!(error = %err, %queue, "lane depth unknown for now"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn routine_requests_wait_while_an_urgent_one_runs() {
        let gate = UrgentFirst::default();
        let (urgent, routine) = (gate.admission(Lane::Urgent), gate.admission(Lane::Routine));
        // Nothing urgent: a routine request starts at once.
        tokio::time::timeout(Duration::from_millis(100), routine(None))
            .await
            .unwrap();

        let first = urgent(None).await;
        let second = urgent(None).await;
        assert_eq!(gate.urgent_running(), 2);
        let mut waiting = tokio::spawn(routine(None));
        drop(first);
        // One urgent request still runs: the routine one still waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut waiting)
                .await
                .is_err()
        );
        drop(second);
        tokio::time::timeout(Duration::from_millis(500), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(gate.urgent_running(), 0);
    }

    #[tokio::test]
    async fn a_flood_of_urgent_requests_slows_routine_ones_but_never_stops_them() {
        let gate = UrgentFirst::default();
        let _held = gate.admission(Lane::Urgent)(None).await;
        let started = std::time::Instant::now();
        gate.admission(Lane::Routine)(None).await;
        let waited = started.elapsed();
        assert!(waited >= ROUTINE_YIELDS_AT_MOST, "{waited:?}");
        assert!(waited < ROUTINE_YIELDS_AT_MOST * 3, "{waited:?}");
    }
}
