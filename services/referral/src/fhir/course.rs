//! What a caller may see of one referral, loaded once for any FHIR view of
//! it. A referral holds a handful of visits and guidance versions, so the
//! whole course costs the same few indexed reads whichever resource is
//! asked for. The access rules are the JSON API's (`referrals::access`).

use crate::deadlines::{self, Awaiting};
use crate::domain::vocabulary::TimelineCause;
use crate::guidance::{self, GuidanceView};
use crate::referrals::access::{sees_health_detail, sees_visit_at};
use crate::referrals::model::Referral;
use crate::referrals::store::{find_visible, injury};
use crate::referrals::view::InjuryView;
use crate::referrals::visits::{self, Visit};
use crate::schema::{clients, referral_timeline};
use crate::screening;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_auth::Caller;
use spotter_db::db_error;
use spotter_platform::ApiResult;
use uuid::Uuid;

pub struct Course {
    pub referral: Referral,
    /// The visits the caller may see (a clinic: its own only), in time order.
    pub visits: Vec<Visit>,
    pub awaiting: Vec<Awaiting>,
    /// Only for the trainer and the treating physio.
    pub health: Option<Health>,
}

pub struct Health {
    pub client_name: String,
    pub injury: InjuryView,
    /// Every guidance version, oldest first.
    pub guidance: Vec<GuidanceView>,
    /// The triage answers as stored (a QuestionnaireResponse).
    pub screening: Option<serde_json::Value>,
    /// The trainer cancelled because the client withdrew consent.
    pub consent_withdrawn: bool,
}

impl Course {
    /// 404 when the referral is not the caller's to see; the caller
    /// audits what it returns.
    pub async fn load(conn: &mut AsyncPgConnection, caller: &Caller, id: Uuid) -> ApiResult<Self> {
        let referral = find_visible(conn, caller, id, false).await?;
        let visits = visits::of(conn, id)
            .await
            .map_err(db_error)?
            .into_iter()
            .filter(|visit| sees_visit_at(caller, visit.clinic_id))
            .collect();
        let awaiting = deadlines::awaiting(conn, &referral)
            .await
            .map_err(db_error)?;
        let health = if sees_health_detail(caller, &referral) {
            Some(Health::load(conn, &referral).await?)
        } else {
            None
        };
        Ok(Self {
            referral,
            visits,
            awaiting,
            health,
        })
    }
}

impl Health {
    async fn load(conn: &mut AsyncPgConnection, referral: &Referral) -> ApiResult<Self> {
        let id = referral.id;
        let client_name = clients::table
            .find(referral.client_id)
            .select(clients::display_name)
            .first(conn)
            .await
            .map_err(db_error)?;
        let injury = injury(conn, id).await.map_err(db_error)?;
        let mut guidance = guidance::all(conn, id).await?;
        guidance.reverse();
        let screening = screening::store::response(conn, id)
            .await
            .map_err(db_error)?;
        let consent_withdrawn = diesel::select(diesel::dsl::exists(
            referral_timeline::table
                .filter(referral_timeline::referral_id.eq(id))
                .filter(referral_timeline::cause.eq(TimelineCause::ConsentWithdrawn.as_str())),
        ))
        .get_result(conn)
        .await
        .map_err(db_error)?;
        Ok(Self {
            client_name,
            injury,
            guidance,
            screening,
            consent_withdrawn,
        })
    }
}
