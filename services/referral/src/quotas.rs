//! Fair use (docs/architecture.md, "Fair use"): what one trainer may hold or
//! add, so that one account, or a script holding its token, cannot fill
//! every diary in a region. Limits are settings (`[quotas]`); a refusal says
//! which quota was hit and what frees it (`ApiError::Quota`).
//!
//! A trainer's requests are checked one at a time (a transaction advisory
//! lock on the trainer), so two flags sent at once cannot both take the last
//! place. Each count reads an index bounded by its quota.

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::BodyRegion;
use crate::schema::{clients, injury_reports, referrals};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::db_error;
use spotter_platform::settings::QuotaSettings;
use spotter_platform::{ApiError, ApiResult, QuotaHit};
use uuid::Uuid;

/// Holds `trainer`'s quota checks in turn until the transaction ends.
pub async fn take_turn(conn: &mut AsyncPgConnection, trainer: Uuid) -> ApiResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('quota:' || $1::text, 0))")
        .bind::<diesel::sql_types::Uuid, _>(trainer)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn open_statuses() -> Vec<&'static str> {
    Status::OPEN.iter().map(|s| s.as_str()).collect()
}

/// At most `open_referrals_per_trainer` referrals open at once.
pub async fn open_referrals(
    conn: &mut AsyncPgConnection,
    quotas: &QuotaSettings,
    trainer: Uuid,
) -> ApiResult<()> {
    let limit = quotas.open_referrals_per_trainer;
    let open: i64 = referrals::table
        .filter(referrals::trainer_id.eq(trainer))
        .filter(referrals::status.eq_any(open_statuses()))
        .count()
        .get_result(conn)
        .await
        .map_err(db_error)?;
    if open < i64::from(limit) {
        return Ok(());
    }
    Err(ApiError::Quota(QuotaHit {
        quota: "open_referrals".to_owned(),
        limit,
        frees_at: None,
        frees_when: "when one of your open referrals is acknowledged or cancelled".to_owned(),
        open_referral_id: None,
    }))
}

/// One open referral per client and body region: a second flag for the same
/// knee adds nothing a clinic needs and would book a second appointment.
pub async fn one_per_body_region(
    conn: &mut AsyncPgConnection,
    client: Uuid,
    region: BodyRegion,
) -> ApiResult<()> {
    let open: Option<Uuid> = referrals::table
        .inner_join(injury_reports::table)
        .filter(referrals::client_id.eq(client))
        .filter(referrals::status.eq_any(open_statuses()))
        .filter(injury_reports::body_region.eq(region.as_str()))
        .select(referrals::id)
        .first(conn)
        .await
        .optional()
        .map_err(db_error)?;
    let Some(open) = open else { return Ok(()) };
    Err(ApiError::Quota(QuotaHit {
        quota: "open_referral_per_body_region".to_owned(),
        limit: 1,
        frees_at: None,
        frees_when: format!(
            "when referral {open}, open for this client's {}, is acknowledged or cancelled (a report with a red flag is always recorded)",
            region.as_str()
        ),
        open_referral_id: Some(open),
    }))
}

/// At most `new_clients_per_day` clients added in any 24 hours; frees up
/// when the oldest of them turns a day old.
pub async fn new_clients(
    conn: &mut AsyncPgConnection,
    quotas: &QuotaSettings,
    trainer: Uuid,
) -> ApiResult<()> {
    let limit = quotas.new_clients_per_day;
    let day = Duration::hours(24);
    let recent: Vec<chrono::DateTime<Utc>> = clients::table
        .filter(clients::trainer_id.eq(trainer))
        .filter(clients::created_at.gt(Utc::now() - day))
        .order(clients::created_at.asc())
        .select(clients::created_at)
        .limit(i64::from(limit))
        .load(conn)
        .await
        .map_err(db_error)?;
    match recent.as_slice().first() {
        Some(oldest) if recent.len() >= limit as usize => Err(ApiError::Quota(QuotaHit {
            quota: "new_clients_per_day".to_owned(),
            limit,
            frees_at: Some(*oldest + day),
            frees_when: "a day after the oldest client added in the last 24 hours".to_owned(),
            open_referral_id: None,
        })),
        _ => Ok(()),
    }
}
