//! The notification service alone, as production runs it (see deploy/).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = spotter_platform::settings::load("notification")?;
    spotter_platform::telemetry::init(&settings.log);
    let app = notification_service::Application::build(settings).await?;
    tracing::info!(port = app.port(), "notification service listening");
    app.run_until_stopped().await
}
