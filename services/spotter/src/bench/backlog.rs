//! Phase 3: urgent flags while a routine backlog drains. A burst of
//! routine flags is posted as fast as the stack takes them; once all are
//! in, urgent flags arrive at a steady rate until the burst is booked. An
//! urgent flag should not wait behind the routine ones (booking's urgent
//! lane): its flag→booked time is what this phase is about.

use super::Knobs;
use super::flag::{Flagger, Outcome, Posted, ROUTINE_PAIN, URGENT_PAIN};
use super::report::Tally;
use super::subjects::Subjects;
use futures_util::future::join_all;
use futures_util::{StreamExt, stream};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Returns the urgent flags' tally.
pub async fn run(
    flagger: &Flagger,
    subjects: &Arc<Subjects>,
    knobs: &Knobs,
    grace: Duration,
) -> anyhow::Result<Tally> {
    anyhow::ensure!(knobs.urgent_rate > 0.0, "--urgent-rate must be positive");
    let drain_timeout: Duration = *knobs.drain_timeout;
    let urgent_max = (knobs.urgent_rate * drain_timeout.as_secs_f64()).ceil() as usize + 1;
    let routine = subjects.take_many(knobs.burst).await?;
    // Made now, so the urgent flags need no set-up while the clock runs.
    let urgent = subjects.take_many(urgent_max).await?;

    let start = Instant::now();
    let deadline = start + drain_timeout;
    let posted: Vec<anyhow::Result<Posted>> = stream::iter(&routine)
        .map(|slot| flagger.post(slot, ROUTINE_PAIN))
        .buffer_unordered(knobs.burst_in_flight.max(1))
        .collect()
        .await;
    let posted_in = start.elapsed();
    let mut routine_tally = Tally::default();
    let mut waits = Vec::new();
    for p in posted {
        match p {
            Ok(posted) => waits.push(posted),
            Err(err) => routine_tally.add(Outcome::Failed(format!("{err:#}"))),
        }
    }
    println!(
        "  {} routine flags posted in {:.1} s ({:.0}/s)",
        waits.len(),
        posted_in.as_secs_f64(),
        waits.len() as f64 / posted_in.as_secs_f64().max(f64::EPSILON)
    );

    let drained = CancellationToken::new();
    let urgents = tokio::spawn(urgent_flags(
        flagger.clone(),
        urgent,
        knobs.urgent_rate,
        drained.clone(),
        deadline,
        grace,
    ));
    let outcomes = join_all(waits.iter().map(|p| flagger.booked(p, deadline))).await;
    drained.cancel();
    let pending_when_urgents_began = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Booked { at, .. } if *at <= start + posted_in))
        .count();
    let last_booked = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Booked { at, .. } => Some(*at),
            _ => None,
        })
        .max();
    for outcome in outcomes {
        routine_tally.add(outcome);
    }
    let urgent_tally = urgents.await.unwrap_or_else(|err| {
        let mut failed = Tally::default();
        failed.add(Outcome::Failed(err.to_string()));
        failed
    });

    println!(
        "  backlog when the urgent flags began: {pending_when_urgents_began} routine not yet booked"
    );
    match last_booked {
        Some(last) if routine_tally.not_booked == 0 => println!(
            "  routine drain time: {:.1} s (first POST to last booking)",
            (last - start).as_secs_f64()
        ),
        _ => println!(
            "  routine drain: not drained within {} s ({} not booked)",
            drain_timeout.as_secs(),
            routine_tally.not_booked
        ),
    }
    routine_tally.print("routine burst");
    urgent_tally.print("urgent");
    Ok(urgent_tally)
}

/// Urgent flags at `rate` from now until the burst has drained (at least
/// one, so the phase always has a figure), each waited for up to `grace`.
async fn urgent_flags(
    flagger: Flagger,
    slots: Vec<super::subjects::Slot>,
    rate: f64,
    drained: CancellationToken,
    deadline: Instant,
    grace: Duration,
) -> Tally {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, slot) in slots.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if i > 0 && (drained.is_cancelled() || due > deadline) {
            break;
        }
        tokio::select! {
            () = sleep_until(due) => {}
            () = drained.cancelled(), if i > 0 => break,
        }
        let flagger = flagger.clone();
        tasks.push(tokio::spawn(async move {
            flagger.flag(&slot, URGENT_PAIN, grace).await
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.add(
            task.await
                .unwrap_or_else(|e| Outcome::Failed(e.to_string())),
        );
    }
    tally
}
