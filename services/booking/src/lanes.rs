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
use spotter_messaging::Broker;
use std::time::Duration;
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
