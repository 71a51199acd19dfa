//! Tallies of outcomes, percentiles, and the closing table of measured
//! figures beside their targets. Nothing is asserted: the table is read.

use super::flag::Outcome;
use super::machine::Rss;
use std::time::Duration;

#[derive(Default)]
pub struct Tally {
    /// flag → booked, of the flags that were booked.
    pub latencies: Vec<Duration>,
    pub not_booked: usize,
    pub failed: usize,
    pub first_error: Option<String>,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Booked { latency, .. } => self.latencies.push(latency),
            Outcome::NotBooked => self.not_booked += 1,
            Outcome::Failed(err) => {
                self.failed += 1;
                self.first_error.get_or_insert(err);
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.not_booked += other.not_booked;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Nearest-rank percentile (`q` in 0..=1) of the booked flags.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        percentile(&self.latencies, q)
    }

    /// `booked n: p50 … p99 … max …; not booked …; failed …`
    pub fn print(&self, what: &str) {
        let pct = |q| self.percentile(q).map_or("–".to_owned(), ms);
        println!(
            "  {what}: {} booked — flag→booked p50 {}, p99 {}, max {}",
            self.latencies.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
        if self.not_booked > 0 || self.failed > 0 {
            println!(
                "  {what}: {} not booked in time, {} POSTs failed{}",
                self.not_booked,
                self.failed,
                self.first_error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (first: {})", short(e)))
            );
        }
    }
}

pub fn percentile(values: &[Duration], q: f64) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

pub fn rss_line(when: &str, rss: Option<&anyhow::Result<Rss>>) {
    match rss {
        Some(Ok(rss)) => println!(
            "  {when:<11} VmRSS {:>7.1} MB   VmHWM {:>7.1} MB",
            rss.rss_mb(),
            rss.hwm_mb()
        ),
        Some(Err(err)) => println!("  {when:<11} unreadable: {err:#}"),
        None => {}
    }
}

pub struct Summary {
    pub rate: f64,
    pub open_p99: Option<Duration>,
    pub urgent_p99: Option<Duration>,
    pub cost_ratio: Option<f64>,
    pub flows_per_s: f64,
    pub pgbench_tps: Option<f64>,
    /// The `--pid` process's command line and its memory after the load.
    pub rss_after: Option<(String, Rss)>,
}

pub fn table(s: &Summary) {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "not measured".to_owned());
    let rows = [
        (
            format!("flag→booked p99 at {} flags/s (open loop)", s.rate),
            or_dash(s.open_p99.map(ms)),
            "≤ 250 ms at 50 flags/s".to_owned(),
        ),
        (
            "urgent flag→booked p99 under a routine backlog".to_owned(),
            or_dash(s.urgent_p99.map(ms)),
            "≤ 250 ms".to_owned(),
        ),
        (
            "booking cost, seeded network ÷ base network".to_owned(),
            or_dash(s.cost_ratio.map(|r| format!("{r:.2}×"))),
            "≤ 1.5×".to_owned(),
        ),
        (
            "sustained booked flows/s (closed loop)".to_owned(),
            format!("{:.1}/s", s.flows_per_s),
            "(read against pgbench, below)".to_owned(),
        ),
        (
            "booked flows/s ÷ pgbench tps (same machine)".to_owned(),
            or_dash(
                s.pgbench_tps
                    .map(|tps| format!("{:.3}", s.flows_per_s / tps)),
            ),
            "≥ 0.125".to_owned(),
        ),
        (
            "peak RSS of the --pid process (VmHWM)".to_owned(),
            or_dash(
                s.rss_after
                    .as_ref()
                    .map(|(_, r)| format!("{:.1} MB", r.hwm_mb())),
            ),
            "≤ 50 MB (booking)".to_owned(),
        ),
    ];
    println!("\n▶ figures beside their targets (printed, not asserted)");
    println!("  {:<50} {:>14}   target", "", "measured");
    for (what, measured, target) in rows {
        println!("  {what:<50} {measured:>14}   {target}");
    }
    if let Some((command, _)) = &s.rss_after {
        // `spotter dev` alone holds all three services, not booking alone.
        println!("  (the --pid process: `{command}`)");
    }
}
