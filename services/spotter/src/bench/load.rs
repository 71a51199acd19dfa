//! Phases 1 and 2: the open loop (a fixed arrival rate, as real trainers
//! arrive whatever the system is doing) and the closed loop (as many
//! completed flows as workers waiting on each can get through).

use super::flag::{Flagger, Outcome, ROUTINE_PAIN};
use super::report::Tally;
use super::subjects::Subjects;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Open loop: `rate` flags per second for `run_for`, each in a task of its
/// own issued on schedule, so a slow stack builds a queue (and its latency
/// shows it) instead of slowing the arrivals down, which would hide it.
pub async fn open_loop(
    flagger: &Flagger,
    subjects: &Subjects,
    rate: f64,
    run_for: Duration,
    grace: Duration,
) -> anyhow::Result<Tally> {
    anyhow::ensure!(rate > 0.0, "--rate must be positive");
    let count = (rate * run_for.as_secs_f64()).round() as usize;
    let slots = subjects.take_many(count).await?;
    let start = Instant::now();
    let deadline = start + run_for + grace;
    let mut tasks = Vec::with_capacity(count);
    for (i, slot) in slots.into_iter().enumerate() {
        sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let flagger = flagger.clone();
        tasks.push(tokio::spawn(async move {
            match flagger.post(&slot, ROUTINE_PAIN).await {
                Ok(posted) => flagger.booked(&posted, deadline).await,
                Err(err) => Outcome::Failed(format!("{err:#}")),
            }
        }));
    }
    let issued_in = start.elapsed();
    let mut tally = Tally::default();
    for task in tasks {
        tally.add(
            task.await
                .unwrap_or_else(|e| Outcome::Failed(e.to_string())),
        );
    }
    println!(
        "  {count} routine flags issued in {:.1} s ({:.1}/s achieved)",
        issued_in.as_secs_f64(),
        count as f64 / issued_in.as_secs_f64().max(f64::EPSILON)
    );
    tally.print("open loop");
    if tally.not_booked > 0 {
        println!(
            "  ({} not booked within the {} s grace after the run)",
            tally.not_booked,
            grace.as_secs()
        );
    }
    Ok(tally)
}

/// Closed loop: `workers` each flag and wait for the booking, over and
/// over, for `run_for`. Returns the booked flows per second (bookings seen
/// within the run's window).
pub async fn closed_loop(
    flagger: &Flagger,
    subjects: &Arc<Subjects>,
    workers: usize,
    run_for: Duration,
    wait: Duration,
) -> anyhow::Result<f64> {
    // A guess at the flags needed; beyond it a worker makes a client on the
    // way (one POST per ten flags), which the rate then includes.
    subjects.prepare(workers * 20).await?;
    let start = Instant::now();
    let end = start + run_for;
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (flagger, subjects) = (flagger.clone(), subjects.clone());
        tasks.push(tokio::spawn(async move {
            let (mut tally, mut in_window) = (Tally::default(), 0usize);
            while Instant::now() < end {
                let slot = match subjects.take().await {
                    Ok(slot) => slot,
                    Err(err) => {
                        tally.add(Outcome::Failed(format!("making a client: {err:#}")));
                        break;
                    }
                };
                let outcome = flagger.flag(&slot, ROUTINE_PAIN, wait).await;
                if matches!(outcome, Outcome::Booked { at, .. } if at <= end) {
                    in_window += 1;
                }
                tally.add(outcome);
            }
            (tally, in_window)
        }));
    }
    let (mut tally, mut in_window) = (Tally::default(), 0);
    for task in tasks {
        match task.await {
            Ok((worker, n)) => {
                tally.merge(worker);
                in_window += n;
            }
            Err(err) => tally.add(Outcome::Failed(err.to_string())),
        }
    }
    let flows = in_window as f64 / run_for.as_secs_f64();
    tally.print("closed loop");
    println!("  sustained: {flows:.1} booked flows/s ({in_window} booked within the run)");
    Ok(flows)
}
