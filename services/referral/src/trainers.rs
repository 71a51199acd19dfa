//! `PUT/GET /v1/trainers/me`: a trainer's own profile, created on first use
//! from the token's subject. Its location decides which clinics can take the
//! trainer's referrals.

use crate::schema::trainers;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::Trainer;
use spotter_db::OrNotFound;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems};
use spotter_platform::problem::Problem;
use spotter_platform::validate::{Location, finish};
use spotter_platform::{ApiResult, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainerProfileInput {
    pub display_name: Text<100>,
    pub location: Location,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub certifications: Vec<Text<100>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrainerProfile {
    pub id: Uuid,
    pub display_name: String,
    pub location: Location,
    pub certifications: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = trainers)]
struct TrainerRow {
    id: Uuid,
    display_name: String,
    lat: f64,
    lon: f64,
    certifications: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TrainerRow> for TrainerProfile {
    fn from(row: TrainerRow) -> Self {
        Self {
            id: row.id,
            display_name: row.display_name,
            location: Location {
                lat: row.lat,
                lon: row.lon,
            },
            certifications: row.certifications,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const MAX_CERTIFICATIONS: usize = 20;

impl TrainerProfileInput {
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        self.location.check("location", &mut errors);
        if self.certifications.len() > MAX_CERTIFICATIONS {
            errors.push(spotter_platform::FieldError::new(
                "certifications",
                format!("at most {MAX_CERTIFICATIONS} certifications"),
            ));
        }
        finish(errors)
    }
}

#[utoipa::path(
    get,
    path = "/v1/trainers/me",
    tag = "trainers",
    responses(
        (status = 200, description = "The caller's profile", body = TrainerProfile),
        (status = 404, description = "No profile yet: PUT one first", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn get_me(
    trainer: Trainer,
    pool: web::Data<Pool>,
) -> ApiResult<web::Json<TrainerProfile>> {
    let mut conn = checkout(&pool).await?;
    let row = trainers::table
        .find(trainer.id)
        .select(TrainerRow::as_select())
        .first(&mut conn)
        .await
        .or_not_found()?;
    Ok(web::Json(row.into()))
}

#[utoipa::path(
    put,
    path = "/v1/trainers/me",
    tag = "trainers",
    request_body = TrainerProfileInput,
    responses(
        (status = 200, description = "The profile as stored", body = TrainerProfile),
        AuthProblems,
        InputProblems,
    ),
    security(("bearer" = []))
)]
pub async fn put_me(
    trainer: Trainer,
    pool: web::Data<Pool>,
    body: Json<TrainerProfileInput>,
) -> ApiResult<web::Json<TrainerProfile>> {
    let input = body.into_inner();
    input.validate()?;
    let certifications: Vec<String> = input
        .certifications
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let mut conn = checkout(&pool).await?;
    let row = diesel::insert_into(trainers::table)
        .values((
            trainers::id.eq(trainer.id),
            trainers::display_name.eq(input.display_name.as_str()),
            trainers::lat.eq(input.location.lat),
            trainers::lon.eq(input.location.lon),
            trainers::certifications.eq(&certifications),
        ))
        .on_conflict(trainers::id)
        .do_update()
        .set((
            trainers::display_name.eq(input.display_name.as_str()),
            trainers::lat.eq(input.location.lat),
            trainers::lon.eq(input.location.lon),
            trainers::certifications.eq(&certifications),
            trainers::updated_at.eq(diesel::dsl::now),
        ))
        .returning(TrainerRow::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(db_error)?;
    Ok(web::Json(row.into()))
}
