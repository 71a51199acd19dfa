//! Small validated values several services take at the edge.

use crate::problem::FieldError;
use serde::{Deserialize, Serialize};

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
}
