//! Reading coded values (docs/architecture.md, "HTTP conventions") back from
//! text columns. A column's CHECK holds the same names as the Rust enum, so a
//! failure here means corrupt data: a deserialization error, which the
//! handler reports as a 500, never a guess.

use diesel::result::{Error, QueryResult};
use std::str::FromStr;

/// One coded value, e.g. `decode::<Side>(&row.side)`.
pub fn decode<T>(value: &str) -> QueryResult<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .parse()
        .map_err(|err| Error::DeserializationError(Box::new(err)))
}

/// A text array of coded values.
pub fn decode_all<T>(values: &[String]) -> QueryResult<Vec<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    values.iter().map(|value| decode(value)).collect()
}
