//! The `spotter` command line: the dev stack, dev tokens, the demo, the load
//! benchmark, and each service alone. A library module so the end-to-end
//! tests can build the same command into their own package.

use crate::{bench, demo, dev, token};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spotter",
    about = "Spotter: trainers and physiotherapists, connected"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// All three services in one process behind one listener (development only).
    Dev(dev::DevArgs),
    /// Play the whole loop against a running `spotter dev`, step by step.
    Demo(demo::DemoArgs),
    /// Load a running stack like the app would and print its figures beside their targets.
    // Boxed: its many knobs would make every other variant as large.
    Bench(Box<bench::BenchArgs>),
    /// Print a JWT the dev stack accepts.
    Token(token::TokenArgs),
    /// One service alone, configured from SPOTTER_* variables (production shape).
    Serve {
        #[arg(value_parser = ["referral", "booking", "notification"])]
        service: String,
    },
    /// Bring one service's database up to date, then exit (deploy/k8s runs it
    /// in an init container before the service starts); configured from the
    /// same SPOTTER_* variables as the service.
    Migrate {
        #[arg(value_parser = ["referral", "booking", "notification"])]
        service: String,
    },
}

/// Parses the arguments and runs the command.
pub async fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await,
        Command::Token(args) => token::print(&args),
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(*args).await,
        Command::Serve { service } => crate::serve(&service).await,
        Command::Migrate { service } => crate::migrate(&service).await,
    }
}
