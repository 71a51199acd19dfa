//! `spotter`: the dev stack, dev tokens, the demo, and each service alone.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    spotter::cli::run().await
}
