//! `spotter bench`: drives an already running stack over HTTP exactly as the
//! mobile app would, under load, and prints how it copes beside the
//! machine's own database limit (pgbench) measured in the same run. It
//! asserts nothing: speed is measured, not tested.
//!
//! A flag is timed from just before its POST to the moment booking's
//! `AppointmentBooked` for it is seen on the broker, so every figure covers
//! the whole saga (referral → outbox → broker → booking → outbox → broker),
//! not one service.

mod backlog;
mod cost;
mod flag;
mod load;
mod machine;
mod network;
mod report;
mod seed;
mod subjects;
mod tap;

use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct BenchArgs {
    /// Where the stack listens (`spotter dev`, or the gateway).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The dev stack's key pair (the same as `spotter dev` uses).
    #[arg(long, env = "SPOTTER_DEV_KEYS", default_value = ".spotter/dev-keys")]
    keys_dir: PathBuf,
    /// RabbitMQ, where bookings are watched.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    broker_url: String,
    /// The stack's topic exchange.
    #[arg(long, default_value = "spotter.events")]
    exchange: String,
    /// The stack's queue prefix (`SPOTTER_BROKER__QUEUE_PREFIX`), to read how
    /// far the referral and notification services are behind booking.
    #[arg(long, default_value = "")]
    queue_prefix: String,
    /// The process holding booking's work (`spotter serve booking`, or
    /// `spotter dev`): its VmRSS/VmHWM are printed beside the target.
    #[arg(long)]
    pid: Option<u32>,
    /// Another process of the stack (e.g. the `spotter dev` serving the rest):
    /// its memory is printed too, for the record.
    #[arg(long)]
    stack_pid: Option<u32>,
    #[command(flatten)]
    pg: PgArgs,
    #[command(flatten)]
    knobs: Knobs,
}

/// PostgreSQL, for seeding the booking database and for pgbench.
#[derive(Args, Clone)]
pub struct PgArgs {
    /// PostgreSQL's host (TCP; no password: trust or ~/.pgpass).
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
    /// The database role (`make bench-load` passes $USER, as the services use).
    #[arg(long, default_value = "root")]
    pg_user: String,
    /// The stack's booking database (seeded for the network-size phase).
    #[arg(long, default_value = "spotter_booking")]
    booking_db: String,
    /// A scratch database for pgbench (created if missing, re-initialised each run).
    #[arg(long, default_value = "spotter_bench_pgbench")]
    pgbench_db: String,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: PathBuf,
}

/// Sizes and durations. The defaults keep a whole run within about 4 minutes
/// on a stack that meets its targets.
#[derive(Args, Clone)]
pub struct Knobs {
    /// Open loop: flags per second, issued on schedule whatever the stack does.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Open loop: how long flags are issued.
    #[arg(long, default_value = "20s")]
    open_for: humantime::Duration,
    /// How long after its phase a flag may still be booked before it counts as not booked.
    #[arg(long, default_value = "30s")]
    grace: humantime::Duration,
    /// Closed loop: workers, each flagging and waiting for the booking in turn.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Closed loop: how long it runs.
    #[arg(long, default_value = "20s")]
    closed_for: humantime::Duration,
    /// Urgent under backlog: routine flags posted as fast as possible first.
    #[arg(long, default_value_t = 3000)]
    burst: usize,
    /// Urgent under backlog: POSTs in flight while the burst is posted.
    #[arg(long, default_value_t = 32)]
    burst_in_flight: usize,
    /// Urgent under backlog: urgent flags per second while the burst drains.
    #[arg(long, default_value_t = 5.0)]
    urgent_rate: f64,
    /// Urgent under backlog: the longest the burst is given to drain.
    #[arg(long, default_value = "90s")]
    drain_timeout: humantime::Duration,
    /// Cost vs network size: a pause first, so the stack is idle again (the
    /// notification service still works through phase 3's bookings).
    #[arg(long, default_value = "5s")]
    settle: humantime::Duration,
    /// Cost vs network size: sequential flags per measurement (the median is printed).
    #[arg(long, default_value_t = 20)]
    cost_flags: usize,
    /// Cost vs network size: clinics accepting referrals once seeded.
    #[arg(long, default_value_t = 1000)]
    seed_clinics: i64,
    /// Cost vs network size: future booked appointments in the seeded clinics.
    #[arg(long, default_value_t = 100_000)]
    seed_appointments: i64,
    /// pgbench: how long it runs (`-T`, seconds).
    #[arg(long, default_value_t = 15)]
    pgbench_secs: u32,
    /// pgbench: scale of the scratch database (`-i -s`).
    #[arg(long, default_value_t = 10)]
    pgbench_scale: u32,
    /// Network: physios per clinic (10 clinics in 5 cities).
    #[arg(long, default_value_t = 4)]
    physios_per_clinic: usize,
    /// Network: trainers per city. Enough that each stays within the default
    /// fair-use limits (50 open referrals, 100 new clients a day, 120 writes
    /// a minute) across a whole run, as a real network of trainers would:
    /// the bench measures the flag path with its quota checks in place.
    #[arg(long, default_value_t = 40)]
    trainers_per_city: usize,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let k = &args.knobs;
    let watched: Vec<u32> = args.pid.into_iter().chain(args.stack_pid).collect();
    let rss_before: Vec<_> = watched.iter().map(|&pid| machine::rss(pid)).collect();
    let api = crate::dev_api::Api::new(&args.url, &args.keys_dir)?;
    api.ready().await?;

    // Bound before the first flag (an event is only routed to a queue that
    // exists), and before set-up changes anything: a wrong exchange fails fast.
    let tap = Arc::new(tap::Tap::open(&args.broker_url, &args.exchange).await?);

    println!("▶ set-up: 10 clinics in 5 cities, a far-away clinic of its own, trainers");
    // One file per stack address: each stack retires only its own clinics.
    let url = args.url.trim_end_matches('/');
    let stack: String = url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let state_file = args.keys_dir.join(format!("bench-clinics-{stack}"));
    let net = network::build(&api, k.physios_per_clinic, k.trainers_per_city, &state_file).await?;
    let flagger = flag::Flagger::new(api.clone(), tap.clone());
    let mut db = seed::BookingDb::connect(&args.pg, &net.clinic_ids).await;
    if let Some(db) = db.as_mut() {
        // Phases 1–3 measure the base network, whatever an earlier run seeded.
        db.set_seed_enabled(false).await?;
    }
    let subjects = Arc::new(subjects::Subjects::new(api.clone(), net.trainers));
    let grace: Duration = *k.grace;

    println!("\n▶ 1. open loop: {} flags/s for {}", k.rate, k.open_for);
    let open = load::open_loop(&flagger, &subjects, k.rate, *k.open_for, grace).await?;

    println!(
        "\n▶ 2. closed loop: {} workers for {}",
        k.workers, k.closed_for
    );
    let flows = load::closed_loop(&flagger, &subjects, k.workers, *k.closed_for, grace).await?;
    tap.print_downstream(&args.queue_prefix, "after the closed loop")
        .await;

    println!(
        "\n▶ 3. urgent under backlog: {} routine flags at once, then {} urgent/s while they drain",
        k.burst, k.urgent_rate
    );
    let urgent = backlog::run(&flagger, &subjects, k, grace).await?;
    tap.print_downstream(&args.queue_prefix, "once the burst is booked")
        .await;

    println!(
        "\n▶ 4. cost of one flag vs network size (after {} to settle)",
        k.settle
    );
    tokio::time::sleep(*k.settle).await;
    let solo = subjects::Subjects::new(api.clone(), vec![net.solo_trainer]);
    let cost = cost::run(&flagger, &solo, db.as_mut(), k, grace).await?;

    let rss_after: Vec<_> = watched.iter().map(|&pid| machine::rss(pid)).collect();
    for ((pid, before), after) in watched.iter().zip(&rss_before).zip(&rss_after) {
        println!(
            "\n▶ memory of process {pid} ({})",
            machine::command_line(*pid)
        );
        report::rss_line("before", Some(before));
        report::rss_line("after load", Some(after));
    }

    println!("\n▶ 5. the machine's own limit: pgbench -N on a scratch database");
    let tps = match machine::pgbench(&args.pg, k.pgbench_scale, k.pgbench_secs).await {
        Ok(tps) => {
            println!("  pgbench tps = {tps:.0}");
            Some(tps)
        }
        Err(err) => {
            println!("  pgbench did not run: {err:#}");
            None
        }
    };

    report::table(&report::Summary {
        rate: k.rate,
        open_p99: open.percentile(0.99),
        urgent_p99: urgent.percentile(0.99),
        cost_ratio: cost.ratio(),
        flows_per_s: flows,
        pgbench_tps: tps,
        // The first watched process is --pid's, when there is one.
        rss_after: args
            .pid
            .zip(rss_after.into_iter().next())
            .and_then(|(pid, rss)| Some((machine::command_line(pid), rss.ok()?))),
    });
    Ok(())
}
