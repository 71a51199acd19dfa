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

/// Stores a `coded!` enum in a text column (under a CHECK of its names) by
/// those names: diesel's `ToSql`/`FromSql<Text, Pg>`. For an enum declared
/// with `#[derive(AsExpression, FromSqlRow)] #[diesel(sql_type = Text)]`, so
/// it can be used in filters and read as `Option<T>` from a nullable column.
#[macro_export]
macro_rules! text_coded {
    ($ty:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    &mut out.reborrow(),
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?;
                // The column's CHECK allows nothing else: a new value needs a
                // migration there too.
                Ok(text.parse()?)
            }
        }
    };
}

/// A text array of coded values, read into a `Vec` of a `coded!` enum:
/// `#[diesel(deserialize_as = CodeList)]` on the model's field. Diesel calls
/// the inherent `try_into` below (the orphan rule rules out `TryFrom` for a
/// foreign `Vec<T>`).
#[derive(Debug, diesel::deserialize::FromSqlRow)]
pub struct CodeList(Vec<String>);

impl diesel::deserialize::FromSql<diesel::sql_types::Array<diesel::sql_types::Text>, diesel::pg::Pg>
    for CodeList
{
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        <Vec<String> as diesel::deserialize::FromSql<
            diesel::sql_types::Array<diesel::sql_types::Text>,
            diesel::pg::Pg,
        >>::from_sql(bytes)
        .map(CodeList)
    }
}

impl CodeList {
    /// Each name as its code ([`decode_all`]): an unknown one is corrupt data.
    pub fn try_into<T>(self) -> QueryResult<Vec<T>>
    where
        T: FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        decode_all(&self.0)
    }
}
