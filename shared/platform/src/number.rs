//! [`Within`]: a whole number checked against its range by its type, so the
//! range enforced is the range the OpenAPI schema publishes; [`Kilograms`]
//! likewise for a load.

use serde::{Deserialize, Deserializer, Serialize, de};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// An integer from `MIN` to `MAX`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Within<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Within<MIN, MAX> {
    pub fn new(value: i64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!("must be between {MIN} and {MAX}"))
        }
    }

    /// The lowest value (for `#[serde(default = "Within::lowest")]`).
    pub const fn lowest() -> Self {
        Self(MIN)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// For an `INTEGER` column; ranges kept in one never exceed it.
    pub fn get_i32(self) -> i32 {
        i32::try_from(self.0).unwrap_or(if self.0 < 0 { i32::MIN } else { i32::MAX })
    }

    /// For a `SMALLINT` column (a 0–10 scale); ranges kept in one never
    /// exceed it.
    pub fn get_i16(self) -> i16 {
        i16::try_from(self.0).unwrap_or(if self.0 < 0 { i16::MIN } else { i16::MAX })
    }
}

/// A stored value outside its range: corrupt data, never the caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutOfRange(String);

/// For diesel's `#[diesel(deserialize_as = i32)]` on a model field.
impl<const MIN: i64, const MAX: i64> TryFrom<i32> for Within<MIN, MAX> {
    type Error = OutOfRange;
    fn try_from(value: i32) -> Result<Self, OutOfRange> {
        Self::new(i64::from(value)).map_err(OutOfRange)
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Within<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(WholeNumber)?;
        Self::new(value).map_err(de::Error::custom)
    }
}

/// For a plain integer field: `#[serde(deserialize_with = "whole")]`, so
/// `7.0` reads as 7 (see [`WholeNumber`]).
pub fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(WholeNumber)
}

/// JSON has one number type, and JSON Schema counts `30.0` as an integer;
/// so does this, while `30.5` is refused.
struct WholeNumber;

impl de::Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
        Ok(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
        i64::try_from(value).map_err(|_| E::custom("is too large"))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
        // Every whole f64 within ±2^63 converts exactly.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
            #[allow(clippy::cast_possible_truncation)] // whole and in range, checked above
            Ok(value as i64)
        } else {
            Err(E::custom("must be a whole number"))
        }
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for Within<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for Within<MIN, MAX> {
    /// One component per range (`Integer0To10`).
    fn name() -> Cow<'static, str> {
        let min = if MIN < 0 {
            format!("Minus{}", MIN.unsigned_abs())
        } else {
            MIN.to_string()
        };
        Cow::Owned(format!("Integer{min}To{MAX}"))
    }
}

/// A weight lifted or carried, in kilograms: from 0 (body weight) to 1000,
/// in steps as fine as the plates (two decimals at most are kept).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Kilograms(f64);

impl Kilograms {
    pub const MAX: f64 = 1000.0;
    /// Body weight only.
    pub const ZERO: Self = Self(0.0);

    pub fn new(value: f64) -> Result<Self, String> {
        if value.is_finite() && (0.0..=Self::MAX).contains(&value) {
            Ok(Self((value * 100.0).round() / 100.0))
        } else {
            Err(format!("must be between 0 and {} kg", Self::MAX))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Kilograms {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::new(value).map_err(de::Error::custom)
    }
}

impl utoipa::PartialSchema for Kilograms {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .minimum(Some(0.0))
            .maximum(Some(Self::MAX))
            .description(Some("Kilograms (0 for body weight)"))
            .into()
    }
}

impl utoipa::ToSchema for Kilograms {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;
    use crate::problem::ApiError;

    #[derive(Debug, Deserialize)]
    struct Pain {
        #[allow(dead_code)] // read by the derive; the test asserts the error
        level: Within<0, 10>,
    }

    #[derive(Debug, Deserialize)]
    struct Lift {
        #[allow(dead_code)] // read by the derive; the test asserts the error
        load: Kilograms,
    }

    #[test]
    fn a_load_is_a_non_negative_weight_named_when_wrong() {
        assert!(parse_json::<Lift>(br#"{"load": 22.5}"#).is_ok());
        assert!(parse_json::<Lift>(br#"{"load": 0}"#).is_ok());
        for bad in [
            &br#"{"load": -1}"#[..],
            br#"{"load": 1000.5}"#,
            br#"{"load": "heavy"}"#,
        ] {
            let Err(ApiError::Validation(errors)) = parse_json::<Lift>(bad) else {
                panic!("expected a validation error");
            };
            assert_eq!(errors[0].field, "load");
        }
    }

    #[test]
    fn out_of_range_is_a_422_naming_the_field() {
        assert!(parse_json::<Pain>(br#"{"level": 10}"#).is_ok());
        let Err(ApiError::Validation(errors)) = parse_json::<Pain>(br#"{"level": 11}"#) else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "level");
        assert_eq!(errors[0].message, "must be between 0 and 10");
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_still_whole() {
        assert!(parse_json::<Pain>(br#"{"level": 7.0}"#).is_ok());
        let Err(ApiError::Validation(errors)) = parse_json::<Pain>(br#"{"level": 7.5}"#) else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "level");
        assert!(errors[0].message.contains("whole number"), "{errors:?}");
    }

    #[test]
    fn the_schema_publishes_the_range() {
        use utoipa::{PartialSchema, ToSchema};
        let schema = serde_json::to_value(Within::<-5, 10>::schema()).unwrap();
        assert_eq!(
            (schema["minimum"].as_f64(), schema["maximum"].as_f64()),
            (Some(-5.0), Some(10.0))
        );
        assert_eq!(Within::<-5, 10>::name(), "IntegerMinus5To10");
    }
}
