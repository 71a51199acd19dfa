//! A trainer's clients: `POST/GET /v1/clients`, `GET /v1/clients/{id}`.
//! Only ever the caller's own; another trainer's client does not exist.

use crate::quotas;
use crate::schema::clients;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::Trainer;
use spotter_db::OrNotFound;
use spotter_db::db_error;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, checkout};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::settings::QuotaSettings;
use spotter_platform::validate::finish;
use spotter_platform::{ApiResult, FieldError, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub display_name: Text<100>,
    /// An address with a domain, e.g. `sam@example.com`.
    // The type's own pattern (no control characters) and this rule, in one.
    #[schema(value_type = Option<String>, max_length = 254,
        pattern = r"^[^@\u0000-\u001F\u007F-\u009F]*[^@\s\u0000-\u001F\u007F-\u009F][^@\u0000-\u001F\u007F-\u009F]*@[^\u0000-\u001F\u007F-\u009F]*\.[^\u0000-\u001F\u007F-\u009F]*$")]
    pub email: Option<Text<254>>,
    /// 6 to 15 digits; spaces, `+`, `-` and brackets allowed between them.
    #[schema(value_type = Option<String>, max_length = 32,
        pattern = r"^[ +()\-]*([0-9][ +()\-]*){6,15}$")]
    pub phone: Option<Text<32>>,
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct Client {
    pub id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NewClient {
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if let Some(email) = &self.email {
            let plausible = email
                .as_str()
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
            if !plausible {
                errors.push(FieldError::new("email", "is not an email address"));
            }
        }
        if let Some(phone) = &self.phone {
            let digits = phone.as_str().chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .as_str()
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c));
            if !allowed || !(6..=15).contains(&digits) {
                errors.push(FieldError::new("phone", "is not a phone number"));
            }
        }
        finish(errors)
    }
}

#[utoipa::path(
    post,
    path = "/v1/clients",
    tag = "clients",
    request_body = NewClient,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (one client)")),
    responses(
        (status = 201, description = "The client", body = Client),
        (status = 429, description = "Quota `new_clients_per_day` used up: `frees_at` and `Retry-After` say when", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems
    ),
    security(("bearer" = []))
)]
pub async fn create(
    trainer: Trainer,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    quotas: web::Data<QuotaSettings>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let raw = body.into_inner();
    let input: NewClient = from_value(raw.clone())?;
    input.validate()?;
    let mut conn = checkout(&pool).await?;
    create_once(&mut conn, trainer.id, &key, &raw, async |conn| {
        quotas::take_turn(conn, trainer.id).await?;
        quotas::new_clients(conn, &quotas, trainer.id).await?;
        insert(conn, trainer.id, &input).await
    })
    .await
    .map(Created::response)
}

async fn insert(
    conn: &mut diesel_async::AsyncPgConnection,
    trainer_id: Uuid,
    input: &NewClient,
) -> ApiResult<Client> {
    diesel::insert_into(clients::table)
        .values((
            clients::id.eq(Uuid::now_v7()),
            clients::trainer_id.eq(trainer_id),
            clients::display_name.eq(input.display_name.as_str()),
            clients::email.eq(input.email.as_ref().map(Text::as_str)),
            clients::phone.eq(input.phone.as_ref().map(Text::as_str)),
        ))
        .returning(Client::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)
}

#[utoipa::path(
    get,
    path = "/v1/clients",
    tag = "clients",
    params(PageParams),
    responses((status = 200, description = "The caller's clients, newest first", body = Page<Client>), AuthProblems),
    security(("bearer" = []))
)]
pub async fn list(
    trainer: Trainer,
    pool: web::Data<Pool>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<Client>>> {
    let (limit, before) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let mut query = clients::table
        .filter(clients::trainer_id.eq(trainer.id))
        .order(clients::id.desc())
        .limit(limit + 1)
        .select(Client::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(clients::id.lt(before));
    }
    let rows = query.load(&mut conn).await.map_err(db_error)?;
    Ok(web::Json(Page::from_rows(rows, limit, |c| c.id)))
}

#[utoipa::path(
    get,
    path = "/v1/clients/{client_id}",
    tag = "clients",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "The client", body = Client), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn get(
    trainer: Trainer,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Client>> {
    let mut conn = checkout(&pool).await?;
    let client = clients::table
        .find(path.into_inner())
        .filter(clients::trainer_id.eq(trainer.id))
        .select(Client::as_select())
        .first(&mut conn)
        .await
        .or_not_found()?;
    Ok(web::Json(client))
}
