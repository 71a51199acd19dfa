//! Keeping hot statements prepared on their connection.
//!
//! diesel prepares a statement once per connection and reuses it only when it
//! can prove the SQL text is fixed for the statement's type. It cannot for raw
//! SQL (`sql_query`), any `UPDATE` (a changeset may skip `None` fields), an
//! insert with an optional column or several rows, or a `sql::<T>` fragment.
//! Those it parses, plans and closes again on every execution: one more round
//! trip and one more parse each time (docs/architecture.md, "What one flow
//! costs").
//!
//! [`Prepared`] tells diesel-async that the statement may be cached anyway.
//! The cache is keyed by the SQL text and the bind types, so this is right
//! for any statement, but each distinct text stays prepared on the connection
//! for its life: use it only where the texts come from a small fixed set
//! (constant SQL, a changeset with a few optional fields, a batch whose size
//! is small), never for SQL built from values.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// A statement diesel-async keeps prepared on each connection, keyed by its
/// SQL text (see the module's note on when that is right).
#[derive(Debug, Clone, Copy)]
#[must_use = "a statement does nothing until it is executed or loaded"]
pub struct Prepared<Q>(Q);

/// Keeps `query` prepared on each connection that runs it.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the statement cache then keys the statement by its SQL text,
/// so two texts of one query type (different skipped fields, another batch
/// size) are two statements.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}
