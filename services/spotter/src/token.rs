//! `spotter token`: a dev token signed with the dev stack's key.

use clap::Args;
use spotter_auth::{Role, dev_token, ensure_dev_keys};
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Args)]
pub struct TokenArgs {
    /// trainer, physio, clinic_admin or platform_admin.
    #[arg(long)]
    role: Role,
    /// The user's id (a UUID); a physio's id is also its physio id.
    #[arg(long)]
    sub: Uuid,
    /// Required for physio and clinic_admin.
    #[arg(long)]
    clinic: Option<Uuid>,
    /// How long the token lives, e.g. 1h, 30m, 7d.
    #[arg(long, default_value = "1h")]
    ttl: humantime::Duration,
    /// Where the dev stack keeps its key pair.
    #[arg(long, env = "SPOTTER_DEV_KEYS", default_value = ".spotter/dev-keys")]
    keys_dir: PathBuf,
}

pub fn print(args: &TokenArgs) -> anyhow::Result<()> {
    if matches!(args.role, Role::Physio | Role::ClinicAdmin) && args.clinic.is_none() {
        anyhow::bail!("--clinic is required for {}", args.role);
    }
    let keys = ensure_dev_keys(&args.keys_dir)?;
    let token = dev_token(&keys.key, args.role, args.sub, args.clinic, *args.ttl)?;
    println!("{token}");
    Ok(())
}
