//! `spotter serve <service>` built into this package, so its tests can start
//! each service as a separate process (Cargo hands tests the path of their
//! own package's binaries only). The same code as the `spotter` binary's.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: spotter-serve <referral|booking|notification>"))?;
    spotter::serve(&service).await
}
