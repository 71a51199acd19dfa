//! Loading what a caller may see of a referral, and the facts about its
//! injury that other parts need. Handlers, the guidance and the consumer
//! all read through here, so none of them imports another's handlers.

use super::access::visible_to;
use super::model::{Referral, find_for_update, move_to};
use super::view::InjuryView;
use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::BodyRegion;
use crate::domain::vocabulary::TimelineCause;
use crate::events::{self, Where};
use crate::schema::{injury_reports, referrals, trainers};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_auth::Caller;
use spotter_db::coded::{decode, decode_all};
use spotter_db::db_error;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// The referral if the caller may see it (404 otherwise, as if it did not exist).
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    lock: bool,
) -> ApiResult<Referral> {
    let found = if lock {
        find_for_update(conn, id).await.map_err(db_error)?
    } else {
        referrals::table
            .find(id)
            .select(Referral::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(db_error)?
    };
    match found {
        Some(r) if visible_to(caller, &r) => Ok(r),
        _ => Err(ApiError::NotFound),
    }
}

pub async fn injury(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<InjuryView> {
    let row: (
        String,
        String,
        i16,
        chrono::NaiveDate,
        String,
        String,
        Vec<String>,
        String,
        DateTime<Utc>,
    ) = injury_reports::table
        .find(id)
        .select((
            injury_reports::body_region,
            injury_reports::side,
            injury_reports::pain_level,
            injury_reports::onset_date,
            injury_reports::mechanism,
            injury_reports::description,
            injury_reports::red_flags,
            injury_reports::consent_method,
            injury_reports::consent_recorded_at,
        ))
        .first(conn)
        .await?;
    Ok(InjuryView {
        body_region: decode(&row.0)?,
        side: decode(&row.1)?,
        pain_level: row.2,
        onset_date: row.3,
        mechanism: row.4,
        description: row.5,
        red_flags: decode_all(&row.6)?,
        consent_method: decode(&row.7)?,
        consent_recorded_at: row.8,
    })
}

/// The body region of a referral's injury (to ask booking for a specialist).
pub async fn body_region(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<BodyRegion> {
    let name: String = injury_reports::table
        .find(id)
        .select(injury_reports::body_region)
        .first(conn)
        .await?;
    decode(&name)
}

/// Forgets the appointment and asks booking again, as a new attempt (so
/// booking knows it is no redelivery): after a clinic-side cancellation, or
/// (`only_clinic`) the rebooking a trainer confirms after a missed
/// appointment, which goes to the same clinic only.
pub async fn send_back_to_booking(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    to: Status,
    cause: TimelineCause,
    only_clinic: Option<Uuid>,
) -> QueryResult<Referral> {
    diesel::update(referrals::table.find(referral.id))
        .set((
            referrals::appointment_id.eq(None::<Uuid>),
            referrals::appointment_starts_at.eq(None::<DateTime<Utc>>),
            referrals::appointment_ends_at.eq(None::<DateTime<Utc>>),
            referrals::physio_id.eq(None::<Uuid>),
            referrals::clinic_id.eq(None::<Uuid>),
            referrals::target_missed.eq(None::<bool>),
            referrals::attempt.eq(referral.attempt + 1),
        ))
        .execute(conn)
        .await?;
    let moved = move_to(conn, referral.id, to, cause).await?;
    let region = body_region(conn, referral.id).await?;
    let (lat, lon): (f64, f64) = trainers::table
        .find(referral.trainer_id)
        .select((trainers::lat, trainers::lon))
        .first(conn)
        .await?;
    let mut event = events::requested(&moved, region, Where { lat, lon });
    if let Some(clinic) = only_clinic {
        event.only_clinic_id = clinic.to_string();
    }
    spotter_messaging::enqueue(conn, &event).await?;
    Ok(moved)
}
