//! How a connection planned its prepared statements: a hot statement that
//! PostgreSQL plans afresh on every run pays a planning each time
//! (docs/architecture.md, "What one flow costs", plans kept).

/// How a prepared statement of one connection was planned.
#[derive(Debug, diesel::QueryableByName)]
pub struct Plans {
    /// The statement's name, for `EXPLAIN EXECUTE` on the same connection.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
    /// Runs with the one plan kept for the statement (generic plans).
    #[diesel(sql_type = diesel::sql_types::BigInt, column_name = "generic_plans")]
    pub kept: i64,
    /// Runs planned afresh for their values (custom plans): a hot statement
    /// planned afresh on every run pays a planning each time.
    #[diesel(sql_type = diesel::sql_types::BigInt, column_name = "custom_plans")]
    pub planned_afresh: i64,
}

/// How `conn` planned its prepared statement whose text contains `marker`
/// (bound, so this query never finds itself).
pub async fn plans_of(
    conn: &mut diesel_async::AsyncPgConnection,
    marker: &str,
) -> diesel::QueryResult<Plans> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements \
          WHERE strpos(statement, $1) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(marker)
    .get_result(conn)
    .await
}

/// The lines of the plan `conn` keeps for its prepared statement `name`
/// (as from `plans_of`), run with `args` (SQL literals, e.g. `'(1, 2, 3)'`).
/// Leaves the connection keeping one plan for every statement.
pub async fn kept_plan(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    args: &str,
) -> diesel::QueryResult<Vec<String>> {
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    #[derive(diesel::QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    conn.batch_execute("SET plan_cache_mode = force_generic_plan")
        .await?;
    let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN EXECUTE {name}({args})"))
        .load(conn)
        .await?;
    Ok(plan.into_iter().map(|p| p.line).collect())
}
