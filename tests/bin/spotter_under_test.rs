//! The `spotter` command, built into this package so its tests can run it
//! (`spotter dev`, `spotter serve <service>`) as processes of their own:
//! Cargo hands tests the paths of their own package's binaries only. The same
//! code as the `spotter` binary (`spotter::cli`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    spotter::cli::run().await
}
