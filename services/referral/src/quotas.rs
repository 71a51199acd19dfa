//! Fair use (docs/architecture.md, "Fair use"): what one trainer may hold or
//! add, so that one account, or a script holding its token, cannot fill
//! every diary in a region. Limits are settings (`[quotas]`); a refusal says
//! which quota was hit and what frees it (`ApiError::Quota`).
//!
//! A trainer's requests are checked one at a time, so two sent at once
//! cannot both take the last place: a report holds the trainer's row (which
//! it reads anyway), a new client an advisory lock (a trainer may add clients
//! before having a profile row). Each count reads an index bounded by its quota.

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::BodyRegion;
use crate::schema::clients;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::{db_error, prepared};
use spotter_platform::settings::QuotaSettings;
use spotter_platform::{ApiError, ApiResult, QuotaHit};
use uuid::Uuid;

/// Holds `trainer`'s client quota checks in turn until the transaction ends.
pub async fn take_turn(conn: &mut AsyncPgConnection, trainer: Uuid) -> ApiResult<()> {
    prepared(
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(hashtextextended('quota:' || $1::text, 0))",
        )
        .bind::<diesel::sql_types::Uuid, _>(trainer),
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// For a new report of `client`'s `region`: at most
/// `open_referrals_per_trainer` referrals open at once, and one open referral
/// per client and body region (a second flag for the same knee adds nothing a
/// clinic needs and would book a second appointment). One statement over the
/// trainer's open referrals (index `referrals (trainer_id, status)`), so it
/// reads at most the quota's worth of rows; a client's referrals are among
/// their trainer's. The caller holds the trainer's turn (`write_report` reads
/// the trainer's row `FOR NO KEY UPDATE`).
///
/// The same statement finds the client's latest discharged referral for
/// that region (index `referrals_discharged_by_client`): the new one
/// follows it (`previous_referral_id`), so the physio sees the history.
pub async fn new_referral(
    conn: &mut AsyncPgConnection,
    quotas: &QuotaSettings,
    trainer: Uuid,
    client: Uuid,
    region: BodyRegion,
) -> ApiResult<Option<Uuid>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    #[derive(QueryableByName)]
    struct Open {
        #[diesel(sql_type = BigInt)]
        open: i64,
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        same_region: Option<Uuid>,
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        discharged: Option<Uuid>,
    }
    // Every value is read as `(SELECT $n)`, which the planner cannot look
    // into, so its plan is the same for every trainer and the database keeps
    // one plan for the statement. Seen as values, a trainer with few
    // referrals looked cheaper to plan for afresh, and the database planned
    // this statement anew on most flags, which cost more than running it
    // (docs/architecture.md, "What one flow costs").
    let found: Open = prepared(diesel::sql_query(
        "SELECT count(*) AS open, \
                (array_agg(r.id) FILTER (WHERE r.client_id = (SELECT $2) AND i.body_region = (SELECT $3)))[1] \
                  AS same_region, \
                (SELECT d.id FROM referrals d JOIN injury_reports di ON di.referral_id = d.id \
                  WHERE d.client_id = (SELECT $2) AND d.status = 'discharged' AND di.body_region = (SELECT $3) \
                  ORDER BY d.discharged_at DESC LIMIT 1) AS discharged \
           FROM referrals r JOIN injury_reports i ON i.referral_id = r.id \
          WHERE r.trainer_id = (SELECT $1) AND r.status = ANY((SELECT $4)::text[])",
    )
    .bind::<diesel::sql_types::Uuid, _>(trainer)
    .bind::<diesel::sql_types::Uuid, _>(client)
    .bind::<Text, _>(region.as_str())
    .bind::<Array<Text>, _>(Status::OPEN.map(Status::as_str).to_vec()))
    .get_result(conn)
    .await
    .map_err(db_error)?;
    if let Some(open) = found.same_region {
        return Err(ApiError::Quota(QuotaHit {
            quota: "open_referral_per_body_region".to_owned(),
            limit: 1,
            frees_at: None,
            frees_when: format!(
                "when referral {open}, open for this client's {}, is acknowledged or cancelled (a report triaged to emergency or a doctor's care is always recorded)",
                region.as_str()
            ),
            open_referral_id: Some(open),
        }));
    }
    let limit = quotas.open_referrals_per_trainer;
    if found.open < i64::from(limit) {
        return Ok(found.discharged);
    }
    Err(ApiError::Quota(QuotaHit {
        quota: "open_referrals".to_owned(),
        limit,
        frees_at: None,
        frees_when: "when one of your open referrals is acknowledged or cancelled".to_owned(),
        open_referral_id: None,
    }))
}

/// At most `new_clients_per_day` clients added in any 24 hours (by the
/// database's clock, which stamped them); frees up when the newest
/// `limit`-th of them turns a day old. Reads one row through
/// `clients (trainer_id, created_at)`.
pub async fn new_clients(
    conn: &mut AsyncPgConnection,
    quotas: &QuotaSettings,
    trainer: Uuid,
) -> ApiResult<()> {
    use diesel::sql_types::Timestamptz;
    let limit = quotas.new_clients_per_day;
    let day = Duration::hours(24);
    // The SQL fragment's text is constant: the statement stays prepared.
    let limiting: Option<chrono::DateTime<Utc>> = prepared(
        clients::table
            .filter(clients::trainer_id.eq(trainer))
            .filter(
                clients::created_at.gt(diesel::dsl::sql::<Timestamptz>("now() - interval '1 day'")),
            )
            .order(clients::created_at.desc())
            .offset(i64::from(limit) - 1) // at least 1: QuotaSettings::check
            .limit(1)
            .select(clients::created_at),
    )
    .get_result(conn)
    .await
    .optional()
    .map_err(db_error)?;
    match limiting {
        Some(at) => Err(ApiError::Quota(QuotaHit {
            quota: "new_clients_per_day".to_owned(),
            limit,
            frees_at: Some(at + day),
            frees_when: "a day after the oldest client added in the last 24 hours".to_owned(),
            open_referral_id: None,
        })),
        None => Ok(()),
    }
}
