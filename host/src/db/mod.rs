//! The database: connecting to PostgreSQL or SQLite, Spoke's schema (created only where it is
//! absent), the query-descriptor compiler and the statements the engine runs.
//!
//! Its files, from the bottom up: `tx` (the unit of work), `rows` (column lists and reading
//! rows back), `dialect` (what differs between the two databases, including how a statement is
//! executed), `compile` (query descriptors and questions to SQL), `statements` (every statement,
//! built once for both dialects) and `queries` (the [`Queries`] trait the engine calls); beside
//! them, `holdings` (the table that keeps each assignment's count of contacts).

mod compile;
mod dialect;
mod holdings;
mod queries;
mod rows;
mod statements;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool};

pub use compile::{push_claim, push_where};
pub use dialect::Dialect;
pub use holdings::HOLDINGS_TABLE;
pub use queries::Queries;
pub use rows::{AssignmentContext, ContactStates};
pub use tx::Tx;

/// The default database: a SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://spoke-batches.sqlite";

/// An index spoke-batches adds to Spoke's `campaign_contact` (Spoke's migrations have neither):
/// migrations create them on the host's own schema, `migrate --claim-index` on one Spoke created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostIndex {
    /// The unassigned contacts of a campaign by status, in id order (migration 0002): the claim
    /// and the capped counts read about a batch's worth of entries whatever the campaign's size.
    Claim,
    /// An assignment's contacts by status (migration 0003): "does this texter have replies
    /// waiting" and "how many of their contacts still need a first text" read the matching
    /// contacts only, not every contact the texter ever held.
    AssignmentStatus,
}

impl HostIndex {
    /// Every index the host adds.
    pub const ALL: [HostIndex; 2] = [HostIndex::Claim, HostIndex::AssignmentStatus];

    /// The index's name, as its migration creates it.
    pub fn name(self) -> &'static str {
        match self {
            HostIndex::Claim => "campaign_contact_claim_index",
            HostIndex::AssignmentStatus => "campaign_contact_assignment_status_index",
        }
    }

    /// What it indexes, as its migration does.
    fn on(self) -> &'static str {
        match self {
            HostIndex::Claim => {
                "ON campaign_contact (campaign_id, message_status, is_opted_out, (CAST(id AS BIGINT))) \
                 WHERE assignment_id IS NULL"
            }
            HostIndex::AssignmentStatus => "ON campaign_contact (assignment_id, message_status)",
        }
    }
}

/// A connection pool to Spoke's tables.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL (production).
    Postgres(PgPool),
    /// SQLite (the embedded default).
    Sqlite(SqlitePool),
}

/// A database problem, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no database the host supports.
    #[error(
        "`{0}` is not a database URL; use postgres://user@host/db or sqlite://path (sqlite::memory: for a throwaway database)"
    )]
    BadUrl(String),
    /// The database refused the connection or a statement.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrating the schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Asked to migrate a database whose Spoke tables were not created by this host.
    #[error(
        "this database already has Spoke's tables, created by Spoke itself; spoke-batches never \
         alters an existing Spoke schema (it works on it as it is)"
    )]
    ForeignSchema,
}

/// What the schema looked like and what was done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// The tables were missing (or ours and behind) and migrations ran.
    Migrated,
    /// Spoke's tables exist and were not created by this host: left untouched.
    ExistingSpoke,
}

/// A pooled connection idle for longer than this is pinged before use; one used more recently
/// is not. sqlx pings on every acquire by default, a round trip per request (~0.1 ms, 2% of a
/// batch request on PostgreSQL) to catch connections the server dropped, which happens to
/// idle ones (a restart, an idle timeout); the pool also pings each connection as it comes
/// back.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Whether `connection` may be handed out: pinged when it idled past [`PING_AFTER_IDLE`]
/// (an error discards it and the pool tries another).
async fn ping_if_idle<C: sqlx::Connection>(
    connection: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> sqlx::Result<bool> {
    if meta.idle_for >= PING_AFTER_IDLE {
        connection.ping().await?;
    }
    Ok(true)
}

impl Database {
    /// Connects to `url` (`postgres://…`, `postgresql://…` or `sqlite:…`); a SQLite file is
    /// created if missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(false)
                .before_acquire(|connection, meta| Box::pin(ping_if_idle(connection, meta)))
                .connect_with(options)
                .await?;
            Ok(Database::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(false);
            // An in-memory database lives in its one connection.
            let connections = if url.contains(":memory:") { 1 } else { 4 };
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .test_before_acquire(false)
                .before_acquire(|connection, meta| Box::pin(ping_if_idle(connection, meta)))
                .connect_with(options)
                .await?;
            Ok(Database::Sqlite(pool))
        } else {
            Err(DbError::BadUrl(url.to_string()))
        }
    }

    /// Which dialect this is.
    pub fn dialect_name(&self) -> &'static str {
        match self {
            Database::Postgres(_) => Postgres::NAME,
            Database::Sqlite(_) => Sqlite::NAME,
        }
    }

    /// Creates Spoke's tables where they are absent, or brings this host's own schema up to
    /// date; leaves a schema created by Spoke itself untouched.
    pub async fn prepare_schema(&self) -> Result<SchemaState, DbError> {
        let (spoke, ours) = self.tables_present().await?;
        if spoke && !ours {
            return Ok(SchemaState::ExistingSpoke);
        }
        self.run_migrations().await?;
        Ok(SchemaState::Migrated)
    }

    /// Runs the migrations on request (the `migrate` command); refuses on a schema created by
    /// Spoke itself.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let (spoke, ours) = self.tables_present().await?;
        if spoke && !ours {
            return Err(DbError::ForeignSchema);
        }
        self.run_migrations().await
    }

    /// Whether `campaign_contact` has `index` (from its migration, or from
    /// [`Database::create_index`] on a schema Spoke created). Without the host's indexes every
    /// request still works, but slows down as campaigns grow and texters hold more contacts.
    pub async fn has_index(&self, index: HostIndex) -> Result<bool, DbError> {
        Ok(match self {
            Database::Postgres(pool) => {
                let mut query = QueryBuilder::<Postgres>::new(
                    "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND i.indisvalid AND c.relname = ",
                );
                query.push_bind(index.name());
                query.build_query_scalar::<i64>().fetch_one(pool).await? > 0
            }
            Database::Sqlite(pool) => {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ",
                );
                query.push_bind(index.name());
                query.build_query_scalar::<i64>().fetch_one(pool).await? > 0
            }
        })
    }

    /// Creates `index` on a schema that lacks it, such as one Spoke created; returns whether it
    /// had to. On PostgreSQL the index is built `CONCURRENTLY`, so Spoke keeps writing
    /// meanwhile, and an invalid index left by an interrupted build is rebuilt.
    pub async fn create_index(&self, index: HostIndex) -> Result<bool, DbError> {
        if self.has_index(index).await? {
            return Ok(false);
        }
        let (name, on) = (index.name(), index.on());
        match self {
            Database::Postgres(pool) => {
                // Not valid but present: an earlier concurrent build was interrupted.
                sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                    .execute(pool)
                    .await?;
                sqlx::raw_sql(&format!("CREATE INDEX CONCURRENTLY {name} {on}"))
                    .execute(pool)
                    .await?;
            }
            Database::Sqlite(pool) => {
                sqlx::raw_sql(&format!("CREATE INDEX IF NOT EXISTS {name} {on}"))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(true)
    }

    /// Whether the holdings table (`holdings`) and every trigger that keeps it exist in the
    /// current schema: with them a batch request reads its texter's count of contacts, without
    /// them it counts.
    pub async fn has_holdings(&self) -> Result<bool, DbError> {
        Ok(match self {
            Database::Postgres(pool) => holdings::present_on_postgres(pool).await?,
            Database::Sqlite(pool) => holdings::present_on_sqlite(pool).await?,
        })
    }

    /// Creates the holdings table and its triggers on a schema that lacks them (such as one
    /// Spoke created) and counts every assignment's contacts into it, in one transaction; on a
    /// schema that has them, counts afresh. Returns whether they were missing. On PostgreSQL,
    /// writers of `campaign_contact` wait while it runs (readers do not).
    pub async fn install_holdings(&self) -> Result<bool, DbError> {
        let missing = !self.has_holdings().await?;
        match self {
            Database::Postgres(pool) => holdings::install_on_postgres(pool).await?,
            Database::Sqlite(pool) => holdings::install_on_sqlite(pool).await?,
        }
        Ok(missing)
    }

    async fn run_migrations(&self) -> Result<(), DbError> {
        match self {
            Database::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
            Database::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// Whether `campaign_contact` and sqlx's migration table exist.
    async fn tables_present(&self) -> Result<(bool, bool), DbError> {
        Ok(match self {
            Database::Postgres(pool) => {
                let present = |table: &'static str| async move {
                    let mut query = QueryBuilder::<Postgres>::new("SELECT to_regclass(");
                    query.push_bind(table).push(")::text IS NOT NULL");
                    query.build_query_scalar::<bool>().fetch_one(pool).await
                };
                (
                    present("campaign_contact").await?,
                    present("_sqlx_migrations").await?,
                )
            }
            Database::Sqlite(pool) => {
                let present = |table: &'static str| async move {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ",
                    );
                    query.push_bind(table);
                    query
                        .build_query_scalar::<i64>()
                        .fetch_one(pool)
                        .await
                        .map(|count| count > 0)
                };
                (
                    present("campaign_contact").await?,
                    present("_sqlx_migrations").await?,
                )
            }
        })
    }
}
