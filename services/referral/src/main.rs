//! The referral service alone, as production runs it (see deploy/).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = spotter_platform::settings::load("referral")?;
    spotter_platform::telemetry::init(&settings.log);
    let app = referral_service::Application::build(settings).await?;
    tracing::info!(port = app.port(), "referral service listening");
    app.run_until_stopped().await
}
