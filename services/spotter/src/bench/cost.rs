//! Phase 4: what one booking costs as the network grows. The flags go to
//! the far-away clinic, whose region is otherwise empty, one at a time on an
//! idle stack, so their flag→booked time is the cost of booking itself; the
//! rest of the network only matters by how much of it booking looks at.
//! Measured on the network as it is, then with it seeded to ~1,000 clinics
//! and ~100,000 future appointments (see `seed`).

use super::Knobs;
use super::flag::{Flagger, ROUTINE_PAIN};
use super::report::{Tally, ms};
use super::seed::BookingDb;
use super::subjects::Subjects;
use std::time::Duration;

pub struct Cost {
    base: Option<Duration>,
    seeded: Option<Duration>,
}

impl Cost {
    /// Seeded median ÷ base median.
    pub fn ratio(&self) -> Option<f64> {
        let (base, seeded) = (self.base?, self.seeded?);
        (base > Duration::ZERO).then(|| seeded.as_secs_f64() / base.as_secs_f64())
    }
}

pub async fn run(
    flagger: &Flagger,
    solo: &Subjects,
    mut db: Option<&mut BookingDb>,
    knobs: &Knobs,
    grace: Duration,
) -> anyhow::Result<Cost> {
    let flags = knobs.cost_flags.max(1);
    solo.prepare(2 * flags).await?;
    let size = match db.as_deref_mut() {
        Some(db) => Some(db.network().await?),
        None => None,
    };
    if let Some(db) = db.as_deref_mut() {
        db.checkpoint().await;
    }
    let base = measure(flagger, solo, flags, grace).await?;
    report("base network", size, &base);
    let base = base.percentile(0.5);

    let Some(db) = db else {
        println!(
            "  seeded network: skipped (the booking database is not reachable or not the stack's)"
        );
        return Ok(Cost { base, seeded: None });
    };
    let seeded = seeded_median(db, flagger, solo, knobs, flags, grace).await;
    // Always off again, even when seeding or measuring failed: the next
    // run's phases 1–3 measure the base network.
    db.set_seed_enabled(false).await?;
    let (seeded, seeded_size) = match seeded {
        Ok(measured) => measured,
        Err(err) => {
            println!("  seeded network: not measured: {err:#}");
            (None, None)
        }
    };
    let cost = Cost { base, seeded };
    match cost.ratio() {
        Some(ratio) => println!(
            "  seeded ÷ base: {ratio:.2}× the cost{}",
            growth(size, seeded_size)
        ),
        None => println!("  seeded ÷ base: not measured"),
    }
    Ok(cost)
}

/// ", on a network 91× the clinics and 40× the appointments"
fn growth(base: Option<(i64, i64)>, seeded: Option<(i64, i64)>) -> String {
    match (base, seeded) {
        (Some((c0, a0)), Some((c1, a1))) if c0 > 0 && a0 > 0 => format!(
            ", on a network {:.0}× the clinics and {:.0}× the future appointments",
            c1 as f64 / c0 as f64,
            a1 as f64 / a0 as f64
        ),
        _ => String::new(),
    }
}

async fn seeded_median(
    db: &mut BookingDb,
    flagger: &Flagger,
    solo: &Subjects,
    knobs: &Knobs,
    flags: usize,
    grace: Duration,
) -> anyhow::Result<(Option<Duration>, Option<(i64, i64)>)> {
    db.ensure_seed(knobs.seed_clinics, knobs.seed_appointments)
        .await?;
    db.set_seed_enabled(true).await?;
    let size = db.network().await?;
    db.checkpoint().await;
    let seeded = measure(flagger, solo, flags, grace).await?;
    report("seeded network", Some(size), &seeded);
    Ok((seeded.percentile(0.5), Some(size)))
}

/// `flags` flags, one after the other, each waited for.
async fn measure(
    flagger: &Flagger,
    solo: &Subjects,
    flags: usize,
    grace: Duration,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for _ in 0..flags {
        let slot = solo.take().await?;
        tally.add(flagger.flag(&slot, ROUTINE_PAIN, grace).await);
    }
    Ok(tally)
}

fn report(what: &str, size: Option<(i64, i64)>, tally: &Tally) {
    let size = size.map_or(String::new(), |(clinics, appointments)| {
        format!(" ({clinics} clinics taking referrals, {appointments} future booked appointments)")
    });
    println!(
        "  {what}{size}: median {} over {} of {} flags booked",
        tally.percentile(0.5).map_or("–".to_owned(), ms),
        tally.latencies.len(),
        tally.latencies.len() + tally.not_booked + tally.failed
    );
    if let Some(err) = &tally.first_error {
        println!("    first failure: {err}");
    }
}
