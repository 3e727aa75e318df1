//! How many contacts each assignment holds, kept exact by triggers on `campaign_contact`
//! (`migrations/*/0004_holdings.sql`), so a batch request reads a texter's count by primary key
//! instead of counting every contact they ever held.
//!
//! The host's own schema gets the table and its triggers from its migrations; a schema Spoke
//! created gets them from `migrate --holdings` ([`Database::install_holdings`]). Without them
//! the engine counts, as Spoke does ([`Database::has_holdings`] tells which).

use sqlx::{Postgres, QueryBuilder, Sqlite};

use super::{Database, DbError};

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

impl Database {
    /// Whether the holdings table and every trigger that keeps it exist in the current schema.
    pub async fn has_holdings(&self) -> Result<bool, DbError> {
        Ok(match self {
            Database::Postgres(pool) => {
                let mut query =
                    QueryBuilder::<Postgres>::new("SELECT to_regclass(current_schema() || '.' || ");
                query
                    .push_bind(HOLDINGS_TABLE)
                    .push(") IS NOT NULL AND (SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal ")
                    .push("AND tgenabled <> 'D' AND tgrelid = to_regclass(current_schema() || '.campaign_contact') ")
                    .push("AND tgname = ANY(")
                    .push_bind(POSTGRES_TRIGGERS.map(str::to_string).to_vec())
                    .push(")) = ")
                    .push_bind(POSTGRES_TRIGGERS.len() as i64);
                query.build_query_scalar::<bool>().fetch_one(pool).await?
            }
            Database::Sqlite(pool) => {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT COUNT(*) FROM sqlite_master WHERE (type = 'table' AND name = ",
                );
                query
                    .push_bind(HOLDINGS_TABLE)
                    .push(") OR (type = 'trigger' AND name IN (");
                let mut names = query.separated(", ");
                for name in SQLITE_TRIGGERS {
                    names.push_bind(name);
                }
                query.push("))");
                let found = query.build_query_scalar::<i64>().fetch_one(pool).await?;
                found == 1 + SQLITE_TRIGGERS.len() as i64
            }
        })
    }

    /// Creates the holdings table and its triggers on a schema that lacks them (such as one
    /// Spoke created) and counts every assignment's contacts into it, in one transaction; on a
    /// schema that has them, counts afresh. Returns whether they were missing. On PostgreSQL,
    /// writers of `campaign_contact` wait while it runs (readers do not).
    pub async fn install_holdings(&self) -> Result<bool, DbError> {
        let missing = !self.has_holdings().await?;
        match self {
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::raw_sql(POSTGRES_SQL).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Database::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::raw_sql(SQLITE_SQL).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(missing)
    }
}
