//! Cursor pagination for every list (docs/architecture.md,
//! "HTTP conventions"): `?limit=` (1–100) and `?cursor=` →
//! `{ "items": [...], "next_cursor": ... }`.
//!
//! Ids are UUID v7, which sort by creation time, so the cursor is simply the
//! last id of the page: stable under inserts, no offsets that shift.

use crate::problem::{ApiError, FieldError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The validated limit and the id to continue after.
    pub fn parse(&self) -> Result<(i64, Option<Uuid>), ApiError> {
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        // An empty cursor is no UUID: refused like any other the API never
        // returned, as the schema says (omit it for the first page).
        let cursor = match self.cursor.as_deref() {
            None => None,
            Some(text) => match Uuid::parse_str(text) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this API returned",
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok((limit, cursor))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` was fetched with `limit + 1` so we know whether more follow.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| id_of(last).to_string())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_empty_cursor_is_no_cursor_and_is_refused() {
        let params = PageParams {
            limit: None,
            cursor: Some(String::new()),
        };
        match params.parse() {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "cursor"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn limit_out_of_range_names_the_parameter() {
        for limit in [0, 101, -1] {
            let params = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            match params.parse() {
                Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "limit"),
                other => panic!("{limit}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_published_limit_is_the_enforced_one() {
        use utoipa::IntoParams;
        let params = PageParams::into_params(|| None);
        let limit = serde_json::to_value(&params[0]).unwrap();
        assert_eq!(limit["name"], "limit");
        assert_eq!(limit["schema"]["maximum"].as_f64(), Some(MAX_LIMIT as f64));
        assert_eq!(limit["schema"]["minimum"].as_f64(), Some(1.0));
    }

    #[test]
    fn a_full_page_points_at_its_last_item() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_rows(ids.clone(), 2, |id| *id);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(ids[1].to_string()));
        let last = Page::from_rows(ids[..2].to_vec(), 2, |id| *id);
        assert_eq!(last.next_cursor, None);
    }
}
