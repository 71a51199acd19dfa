//! Listing appointments in diary order (start time), filtered, with a cursor
//! that stays correct when appointments are added between pages.

use super::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::schema::appointments;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_db::db_error;
use spotter_platform::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use spotter_platform::validate::finish;
use spotter_platform::{ApiResult, FieldError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Whose appointments a caller may list.
pub enum Scope {
    Physio(Uuid),
    Trainer(Uuid),
    Clinic(Uuid),
    Everyone,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AppointmentQuery {
    /// Starting at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Starting before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only appointments in this status.
    #[param(value_type = Option<AppointmentStatus>)]
    pub status: Option<String>,
    /// Only this physio's (clinic views).
    pub physio_id: Option<Uuid>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page: the last item's start (µs
    /// since 1970) and id.
    #[param(
        max_length = 80,
        pattern = r"^[0-9]{1,18}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentPage {
    pub items: Vec<Appointment>,
    pub next_cursor: Option<String>,
}

struct Cursor {
    starts_at: DateTime<Utc>,
    id: Uuid,
}

fn encode(a: &Appointment) -> String {
    format!("{}_{}", a.starts_at.timestamp_micros(), a.id)
}

/// Reads what [`encode`] wrote, and only that (the `cursor` parameter's
/// pattern): at most 18 digits keep the time within chrono's range.
fn decode(text: &str) -> Option<Cursor> {
    let (micros, id) = text.split_once('_')?;
    if micros.is_empty() || micros.len() > 18 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only the hyphenated form `encode` writes, not the others `parse_str` takes.
    if id.len() != 36 {
        return None;
    }
    Some(Cursor {
        starts_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: Uuid::parse_str(id).ok()?,
    })
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    query: &AppointmentQuery,
) -> ApiResult<AppointmentPage> {
    let mut errors = Vec::new();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if let Some(status) = &query.status
        && status.parse::<AppointmentStatus>().is_err()
    {
        errors.push(FieldError::new("status", "is not an appointment status"));
    }
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => {
            let decoded = decode(text);
            if decoded.is_none() {
                errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this API returned",
                ));
            }
            decoded
        }
    };
    finish(errors)?;

    let mut rows = appointments::table
        .select(Appointment::as_select())
        .order((appointments::starts_at.asc(), appointments::id.asc()))
        .limit(limit + 1)
        .into_boxed();
    rows = match scope {
        Scope::Physio(id) => rows.filter(appointments::physio_id.eq(id)),
        Scope::Trainer(id) => rows.filter(appointments::trainer_id.eq(id)),
        Scope::Clinic(id) => rows.filter(appointments::clinic_id.eq(id)),
        Scope::Everyone => rows,
    };
    if let Some(from) = query.from {
        rows = rows.filter(appointments::starts_at.ge(from));
    }
    if let Some(to) = query.to {
        rows = rows.filter(appointments::starts_at.lt(to));
    }
    if let Some(status) = &query.status {
        rows = rows.filter(appointments::status.eq(status.clone()));
    }
    if let Some(physio_id) = query.physio_id {
        rows = rows.filter(appointments::physio_id.eq(physio_id));
    }
    if let Some(after) = cursor {
        rows = rows.filter(
            appointments::starts_at
                .gt(after.starts_at)
                .or(appointments::starts_at
                    .eq(after.starts_at)
                    .and(appointments::id.gt(after.id))),
        );
    }
    let mut items = rows.load(conn).await.map_err(db_error)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(encode)
    } else {
        None
    };
    Ok(AppointmentPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter's pattern, and nothing else: a cursor the API wrote
    /// reads back; digits chrono cannot hold, or anything else, do not.
    #[test]
    fn only_a_cursor_the_api_wrote_reads_back() {
        let id = Uuid::now_v7();
        assert!(decode(&format!("1764662400000000_{id}")).is_some());
        for text in [
            format!("1234567890123456789_{id}"),
            format!("-5_{id}"),
            format!("_{id}"),
            "1764662400000000_x".to_owned(),
            format!("1764662400000000_{}", id.simple()),
            String::new(),
        ] {
            assert!(decode(&text).is_none(), "{text}");
        }
    }
}
