//! Small validated values several services take at the edge.

use crate::problem::FieldError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The latest calendar date it is anywhere on Earth at `now` (UTC+14). A
/// date a caller writes is their own zone's, which the server does not
/// know: "not in the future" refuses only a date past this one, so a
/// trainer in Auckland can give today's date before it is today in UTC.
pub fn latest_date_anywhere(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(14)).date_naive()
}

/// The earliest calendar date it is anywhere on Earth at `at` (UTC−12):
/// "not before `at`" refuses only a date before this one.
pub fn earliest_date_anywhere(at: DateTime<Utc>) -> NaiveDate {
    (at - Duration::hours(12)).date_naive()
}

/// A WGS84 position. Trainers and clinics both have one; matching measures
/// great-circle distance between them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    /// Degrees.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Degrees.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

impl Location {
    /// Field errors for an out-of-range position, reported under `field`.
    pub fn check(&self, field: &str, errors: &mut Vec<FieldError>) {
        if !(-90.0..=90.0).contains(&self.lat) {
            errors.push(FieldError::new(
                format!("{field}.lat"),
                "must be between -90 and 90",
            ));
        }
        if !(-180.0..=180.0).contains(&self.lon) {
            errors.push(FieldError::new(
                format!("{field}.lon"),
                "must be between -180 and 180",
            ));
        }
    }
}

/// `Ok(())` when nothing was reported, else the 422 naming every field.
pub fn finish(errors: Vec<FieldError>) -> Result<(), crate::ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::ApiError::Validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_coordinates_name_the_nested_field() {
        let mut errors = Vec::new();
        Location {
            lat: 91.0,
            lon: -181.0,
        }
        .check("location", &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["location.lat", "location.lon"]);
    }

    #[test]
    fn a_date_is_judged_by_the_zones_it_can_be_in() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        // 11:00 UTC on 1 December: already the 2nd in Kiribati (UTC+14),
        // still the 30th in UTC-12 (23:00).
        let now = at("2026-12-01T11:00:00Z");
        assert_eq!(latest_date_anywhere(now), day("2026-12-02"));
        assert_eq!(earliest_date_anywhere(now), day("2026-11-30"));
        // 09:00 UTC: the 2nd has begun nowhere yet.
        let now = at("2026-12-01T09:00:00Z");
        assert_eq!(latest_date_anywhere(now), day("2026-12-01"));
        assert_eq!(earliest_date_anywhere(now), day("2026-11-30"));
        let now = at("2026-12-01T13:00:00Z");
        assert_eq!(earliest_date_anywhere(now), day("2026-12-01"));
    }
}
