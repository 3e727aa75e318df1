//! How many contacts each assignment holds, kept exact by triggers on `campaign_contact`
//! (`migrations/*/0004_holdings.sql`), so a batch request reads a texter's count by primary key
//! instead of counting every contact they ever held.
//!
//! The host's own schema gets the table and its triggers from its migrations; a schema Spoke
//! created gets them from `migrate --holdings` ([`super::Database::install_holdings`]). Without
//! them the engine counts, as Spoke does ([`super::Database::has_holdings`] tells which).

use sqlx::{PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool};

/// The table the triggers keep.
pub const HOLDINGS_TABLE: &str = "spoke_batches_holdings";

/// The triggers that keep it, by dialect.
const POSTGRES_TRIGGERS: [&str; 4] = [
    "spoke_batches_holdings_insert",
    "spoke_batches_holdings_update",
    "spoke_batches_holdings_delete",
    "spoke_batches_holdings_truncate",
];
const SQLITE_TRIGGERS: [&str; 3] = [
    "spoke_batches_holdings_insert",
    "spoke_batches_holdings_update",
    "spoke_batches_holdings_delete",
];

/// The migration that creates them; it can run again on a schema that has them, and then
/// counts afresh.
const POSTGRES_SQL: &str = include_str!("../../migrations/postgres/0004_holdings.sql");
const SQLITE_SQL: &str = include_str!("../../migrations/sqlite/0004_holdings.sql");

/// Whether the holdings table and every trigger that keeps it exist in the current schema.
pub(super) async fn present_on_postgres(pool: &PgPool) -> sqlx::Result<bool> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT to_regclass(current_schema() || '.' || ");
    query
        .push_bind(HOLDINGS_TABLE)
        .push(") IS NOT NULL AND (SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal ")
        .push("AND tgenabled <> 'D' AND tgrelid = to_regclass(current_schema() || '.campaign_contact') ")
        .push("AND tgname = ANY(")
        .push_bind(POSTGRES_TRIGGERS.map(str::to_string).to_vec())
        .push(")) = ")
        .push_bind(POSTGRES_TRIGGERS.len() as i64);
    query.build_query_scalar::<bool>().fetch_one(pool).await
}

/// The same on SQLite.
pub(super) async fn present_on_sqlite(pool: &SqlitePool) -> sqlx::Result<bool> {
    let mut query =
        QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM sqlite_master WHERE (type = 'table' AND name = ");
    query
        .push_bind(HOLDINGS_TABLE)
        .push(") OR (type = 'trigger' AND name IN (");
    let mut names = query.separated(", ");
    for name in SQLITE_TRIGGERS {
        names.push_bind(name);
    }
    query.push("))");
    let found = query.build_query_scalar::<i64>().fetch_one(pool).await?;
    Ok(found == 1 + SQLITE_TRIGGERS.len() as i64)
}

/// Creates the table and its triggers (or replaces them) and counts every assignment's
/// contacts into it, in one transaction; writers of `campaign_contact` wait meanwhile.
pub(super) async fn install_on_postgres(pool: &PgPool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(POSTGRES_SQL).execute(&mut *tx).await?;
    tx.commit().await
}

/// The same on SQLite, in one write transaction.
pub(super) async fn install_on_sqlite(pool: &SqlitePool) -> sqlx::Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(SQLITE_SQL).execute(&mut *tx).await?;
    tx.commit().await
}
