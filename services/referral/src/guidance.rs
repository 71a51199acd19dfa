//! The physio's guidance back to the trainer: what to avoid, what to do, how
//! hard, when to review. Versioned: posting again makes a new current version;
//! older ones stay readable. Every read and write is audited.

use crate::audit::{self, action};
use crate::domain::lifecycle::{Decision, Happening, decide};
use crate::domain::vocabulary::Clearance;
use crate::events::{self, GuidanceFacts};
use crate::referrals::api::find_visible;
use crate::referrals::model::move_to;
use crate::schema::{guidance, referrals};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::{Caller, Physio, Role, Trainer};
use spotter_db::db_error;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, checkout};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text, Within};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Avoid {
    pub movement: Text<100>,
    pub reason: Text<300>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub name: Text<100>,
    pub sets: Within<1, 20>,
    pub reps: Within<1, 100>,
    #[serde(default = "Within::lowest")]
    pub hold_seconds: Within<0, 600>,
    /// Sessions per week.
    pub per_week: Within<1, 14>,
    #[serde(default)]
    pub notes: Option<Text<300, 0>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadLimits {
    /// Highest rate of perceived exertion allowed.
    pub max_rpe: Within<1, 10>,
    /// Stop when pain reaches this.
    pub pain_ceiling: Within<0, 10>,
}

/// The most avoid entries, and the most exercises, one version may list.
const MAX_ITEMS: usize = 30;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuidance {
    pub clearance: Clearance,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub avoid: Vec<Avoid>,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub exercises: Vec<Exercise>,
    pub load_limits: LoadLimits,
    /// When the physio wants to see the client again; in the future, within a year.
    pub review_on: NaiveDate,
    #[serde(default = "no_notes")]
    pub notes_for_trainer: Text<2000, 0>,
}

fn no_notes() -> Text<2000, 0> {
    Text::default()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuidanceView {
    pub id: Uuid,
    pub version: i32,
    pub physio_id: Uuid,
    pub clearance: Clearance,
    pub avoid: Vec<Avoid>,
    pub exercises: Vec<Exercise>,
    pub load_limits: LoadLimits,
    pub review_on: NaiveDate,
    pub notes_for_trainer: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = guidance)]
struct GuidanceRow {
    id: Uuid,
    version: i32,
    physio_id: Uuid,
    #[diesel(deserialize_as = String)]
    clearance: Clearance,
    avoid: serde_json::Value,
    exercises: serde_json::Value,
    load_limits: serde_json::Value,
    review_on: NaiveDate,
    notes_for_trainer: String,
    created_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
}

impl GuidanceRow {
    fn view(self) -> ApiResult<GuidanceView> {
        let parse = |e: serde_json::Error| ApiError::Internal(e.into());
        Ok(GuidanceView {
            id: self.id,
            version: self.version,
            physio_id: self.physio_id,
            clearance: self.clearance,
            avoid: serde_json::from_value(self.avoid).map_err(parse)?,
            exercises: serde_json::from_value(self.exercises).map_err(parse)?,
            load_limits: serde_json::from_value(self.load_limits).map_err(parse)?,
            review_on: self.review_on,
            notes_for_trainer: self.notes_for_trainer,
            created_at: self.created_at,
            acknowledged_at: self.acknowledged_at,
        })
    }
}

impl NewGuidance {
    /// What the types cannot say: list lengths and the review date.
    fn validate(&self, today: NaiveDate) -> ApiResult<()> {
        let mut errors = Vec::new();
        if self.avoid.len() > MAX_ITEMS {
            errors.push(FieldError::new("avoid", format!("at most {MAX_ITEMS}")));
        }
        if self.exercises.len() > MAX_ITEMS {
            errors.push(FieldError::new("exercises", format!("at most {MAX_ITEMS}")));
        }
        if self.review_on <= today {
            errors.push(FieldError::new("review_on", "must be in the future"));
        } else if self.review_on > today + Duration::days(366) {
            errors.push(FieldError::new("review_on", "must be within a year"));
        }
        finish(errors)
    }
}

/// The latest version, if any (caller audits the read).
pub async fn current(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> ApiResult<Option<GuidanceView>> {
    let row = guidance::table
        .filter(guidance::referral_id.eq(referral_id))
        .order(guidance::version.desc())
        .select(GuidanceRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(db_error)?;
    row.map(GuidanceRow::view).transpose()
}

fn to_json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/guidance",
    tag = "guidance",
    params(
        ("referral_id" = Uuid, Path, description = "The referral"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first response (and share one version)"),
    ),
    request_body = NewGuidance,
    responses(
        (status = 201, description = "The new current version; the trainer is told", body = GuidanceView),
        (status = 409, description = "The client has not been assessed yet", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn share(
    physio: Physio,
    caller: Caller,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let raw = body.into_inner();
    let input: NewGuidance = from_value(raw.clone())?;
    input.validate(Utc::now().date_naive())?;
    let mut conn = checkout(&pool).await?;
    create_once(&mut conn, physio.id, &key, &raw, async |conn| {
        write_guidance(conn, &caller, physio.id, id, &input).await
    })
    .await
    .map(Created::response)
}

/// Versions and stores the guidance, moves the referral, audits, and tells
/// the saga, in the caller's transaction.
async fn write_guidance(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    physio_id: Uuid,
    id: Uuid,
    input: &NewGuidance,
) -> ApiResult<GuidanceView> {
    // Only the physio the client saw: anyone else finds nothing.
    let referral = find_visible(conn, caller, id, true).await?;
    let Decision::Apply(to) = decide(referral.status, Happening::GuidanceShared) else {
        return Err(ApiError::Conflict(format!(
            "guidance follows an assessment; this referral is {}",
            referral.status
        )));
    };
    let version = guidance::table
        .filter(guidance::referral_id.eq(id))
        .select(diesel::dsl::max(guidance::version))
        .first::<Option<i32>>(conn)
        .await
        .map_err(db_error)?
        .unwrap_or(0)
        + 1;
    let row: GuidanceRow = diesel::insert_into(guidance::table)
        .values((
            guidance::id.eq(Uuid::now_v7()),
            guidance::referral_id.eq(id),
            guidance::version.eq(version),
            guidance::physio_id.eq(physio_id),
            guidance::clearance.eq(input.clearance.as_str()),
            guidance::avoid.eq(to_json(&input.avoid)?),
            guidance::exercises.eq(to_json(&input.exercises)?),
            guidance::load_limits.eq(to_json(&input.load_limits)?),
            guidance::review_on.eq(input.review_on),
            guidance::notes_for_trainer.eq(input.notes_for_trainer.as_str()),
        ))
        .returning(GuidanceRow::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)?;
    let moved = move_to(conn, id, to, &format!("guidance_v{version}_shared"))
        .await
        .map_err(db_error)?;
    if moved.first_guidance_at.is_none() {
        diesel::update(referrals::table.find(id))
            .set(referrals::first_guidance_at.eq(row.created_at))
            .execute(conn)
            .await
            .map_err(db_error)?;
    }
    audit::record(conn, caller, action::GUIDANCE_WRITE, id)
        .await
        .map_err(db_error)?;
    let facts = GuidanceFacts {
        guidance_id: row.id,
        version,
        physio_id,
        clearance: row.clearance,
        review_on: row.review_on,
        at: row.created_at,
    };
    spotter_messaging::enqueue(conn, &events::guidance_shared(&moved, &facts))
        .await
        .map_err(db_error)?;
    row.view()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuidanceHistory {
    /// The latest version, or null before any was shared.
    pub current: Option<GuidanceView>,
    /// Every version, newest first.
    pub versions: Vec<GuidanceView>,
}

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}/guidance",
    tag = "guidance",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses((status = 200, description = "Current guidance and every earlier version", body = GuidanceHistory), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn history(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<GuidanceHistory>> {
    if !matches!(caller.role, Role::Trainer | Role::Physio) {
        return Err(ApiError::NotFound); // health detail: the trainer and the physio only
    }
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let versions = spotter_db::transaction(&mut conn, async |conn| {
        find_visible(conn, &caller, id, false).await?;
        let rows = guidance::table
            .filter(guidance::referral_id.eq(id))
            .order(guidance::version.desc())
            .select(GuidanceRow::as_select())
            .load(conn)
            .await
            .map_err(db_error)?;
        audit::record(conn, &caller, action::GUIDANCE_READ, id)
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(GuidanceRow::view)
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(web::Json(GuidanceHistory {
        current: <[GuidanceView]>::first(&versions).cloned(),
        versions,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/guidance/acknowledge",
    tag = "guidance",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "The current guidance, acknowledged; the physio is told", body = GuidanceView),
        (status = 409, description = "No unacknowledged guidance", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    _trainer: Trainer,
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<GuidanceView>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let acknowledged = spotter_db::transaction(&mut conn, async |conn| {
        let referral = find_visible(conn, &caller, id, true).await?;
        let Decision::Apply(to) = decide(referral.status, Happening::GuidanceAcknowledged) else {
            return Err(ApiError::Conflict(format!(
                "there is no new guidance to acknowledge; this referral is {}",
                referral.status
            )));
        };
        let latest: GuidanceRow = guidance::table
            .filter(guidance::referral_id.eq(id))
            .order(guidance::version.desc())
            .select(GuidanceRow::as_select())
            .first(conn)
            .await
            .map_err(db_error)?;
        let now = Utc::now();
        let row: GuidanceRow = diesel::update(guidance::table.find(latest.id))
            .set(guidance::acknowledged_at.eq(now))
            .returning(GuidanceRow::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        let moved = move_to(
            conn,
            id,
            to,
            &format!("guidance_v{}_acknowledged", row.version),
        )
        .await
        .map_err(db_error)?;
        audit::record(conn, &caller, action::GUIDANCE_READ, id)
            .await
            .map_err(db_error)?;
        let facts = GuidanceFacts {
            guidance_id: row.id,
            version: row.version,
            physio_id: row.physio_id,
            clearance: row.clearance,
            review_on: row.review_on,
            at: now,
        };
        spotter_messaging::enqueue(conn, &events::guidance_acknowledged(&moved, &facts))
            .await
            .map_err(db_error)?;
        row.view()
    })
    .await?;
    Ok(web::Json(acknowledged))
}
