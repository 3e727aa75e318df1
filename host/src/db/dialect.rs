//! What differs between PostgreSQL and SQLite for the host: how a unit of work begins, how the
//! claim query locks rows, a few spellings, and the four ways a statement is executed (the only
//! code that names a dialect's concrete connection, so every statement above it is generic).

use std::future::Future;
use std::sync::LazyLock;

use sqlx::{Pool, Postgres, QueryBuilder, Sqlite, Transaction};

use super::rows::assignment_context_sql;
use super::tx::Tx;

/// A database the host runs on.
pub trait Dialect: sqlx::Database {
    /// A short name for messages and metrics.
    const NAME: &'static str;

    /// Appended to the claim subquery: concurrent claims skip each other's rows instead of
    /// waiting (PostgreSQL), or nothing where the write transaction already serializes them
    /// (SQLite).
    const CLAIM_LOCK: &'static str;

    /// Appended to a `SELECT` of one row (an assignment, a campaign, an organization) to keep
    /// it locked until the transaction ends, so the operations that lock it take turns. On
    /// PostgreSQL it is `FOR NO KEY UPDATE`: it excludes its own kind and every update, but
    /// not the key-share locks of foreign-key checks, so Spoke's inserts that refer to the row
    /// (contacts of a campaign, messages of an assignment) never wait for it. SQLite's write
    /// transaction already keeps every other writer out.
    const ROW_LOCK: &'static str;

    /// Reads `campaign.due_by` as a timestamp. Spoke on SQLite stores JavaScript dates as
    /// integer milliseconds; column defaults and other writers store text.
    const DUE_BY: &'static str;

    /// The comma-joined `role` values of the rows a subquery reads (roles hold no comma).
    const ROLE_LIST: &'static str;

    /// Begins a transaction that will write: on SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading a read lock.
    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send;

    /// Begins work that writes, as a transaction ([`Dialect::begin_transaction`]).
    fn begin_write(pool: &Pool<Self>) -> impl Future<Output = sqlx::Result<Tx<Self>>> + Send {
        async move { Ok(Tx::new(Self::begin_transaction(pool).await?)) }
    }

    /// Begins work that only reads, in autocommit.
    ///
    /// Every statement of the host, in this work or in a transaction, sees what was committed
    /// when it started: on PostgreSQL that is READ COMMITTED, the default isolation the host
    /// never changes; on SQLite a statement reads as of its start, and a writing operation's
    /// `BEGIN IMMEDIATE` keeps every other writer out until it ends. Two things rest on it: a
    /// read-only operation needs no transaction of its own, and an answer read one statement
    /// before the strategy asks, on the same connection with nothing written in between (the
    /// questions asked ahead, `engine/ahead.rs`), is one the strategy could have read itself.
    fn begin_read(pool: &Pool<Self>) -> impl Future<Output = sqlx::Result<Tx<Self>>> + Send {
        async move { Ok(Tx::autocommit(pool.acquire().await?)) }
    }

    /// Appends `column IN (values)` for a long list of values (the texting-hours offsets): one
    /// array bind on PostgreSQL, which parses and plans faster than 200 binds; one bind per value
    /// on SQLite.
    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>);

    /// The statement of an assignment's context (`rows::assignment_context_sql`) in this
    /// dialect, rendered once: a generic function cannot keep a static per dialect, an
    /// implementation can.
    fn assignment_context_sql() -> &'static [String; 2];

    /// Runs `query`, which returns exactly one row.
    fn fetch_one(
        connection: &mut Self::Connection,
        query: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = sqlx::Result<Self::Row>> + Send;

    /// Runs `query`, which returns at most one row.
    fn fetch_optional(
        connection: &mut Self::Connection,
        query: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = sqlx::Result<Option<Self::Row>>> + Send;

    /// Runs `query` and returns every row.
    fn fetch_all(
        connection: &mut Self::Connection,
        query: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send;

    /// Runs `query`, which returns no rows, and returns how many rows it changed.
    fn execute(
        connection: &mut Self::Connection,
        query: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;
}

// The two implementations below spell the same four executions twice: sqlx's executor traits
// are implemented per connection type, and bounding a generic version by them
// (`for<'c> &'c mut Connection: Executor<'c>`) would have to be repeated by every caller.

/// The four ways a statement runs: the same text for each dialect, but not one generic body,
/// because sqlx implements `Executor` per concrete connection type (a generic body would need
/// that bound, `for<'c> &'c mut Connection: Executor<'c>`, repeated at every caller).
macro_rules! execution {
    () => {
        async fn fetch_one(
            connection: &mut Self::Connection,
            mut query: QueryBuilder<'static, Self>,
        ) -> sqlx::Result<Self::Row> {
            query.build().fetch_one(connection).await
        }

        async fn fetch_optional(
            connection: &mut Self::Connection,
            mut query: QueryBuilder<'static, Self>,
        ) -> sqlx::Result<Option<Self::Row>> {
            query.build().fetch_optional(connection).await
        }

        async fn fetch_all(
            connection: &mut Self::Connection,
            mut query: QueryBuilder<'static, Self>,
        ) -> sqlx::Result<Vec<Self::Row>> {
            query.build().fetch_all(connection).await
        }

        async fn execute(
            connection: &mut Self::Connection,
            mut query: QueryBuilder<'static, Self>,
        ) -> sqlx::Result<u64> {
            Ok(query.build().execute(connection).await?.rows_affected())
        }
    };
}

impl Dialect for Postgres {
    const NAME: &'static str = "postgres";
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    const ROW_LOCK: &'static str = " FOR NO KEY UPDATE";
    const DUE_BY: &'static str = "due_by";
    const ROLE_LIST: &'static str = "string_agg(role, ',')";

    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send {
        pool.begin()
    }

    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        query
            .push(" AND ")
            .push(column)
            .push(" = ANY(")
            .push_bind(values)
            .push(")");
    }

    fn assignment_context_sql() -> &'static [String; 2] {
        static SQL: LazyLock<[String; 2]> =
            LazyLock::new(|| assignment_context_sql(Postgres::DUE_BY, Postgres::ROLE_LIST));
        &SQL
    }

    execution!();
}

impl Dialect for Sqlite {
    const NAME: &'static str = "sqlite";
    const CLAIM_LOCK: &'static str = "";
    const ROW_LOCK: &'static str = "";
    const DUE_BY: &'static str = "CASE WHEN typeof(due_by) IN ('integer', 'real') \
         THEN datetime(due_by / 1000, 'unixepoch') ELSE datetime(due_by) END AS due_by";
    const ROLE_LIST: &'static str = "group_concat(role, ',')";

    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send {
        pool.begin_with("BEGIN IMMEDIATE")
    }

    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        query.push(" AND ").push(column).push(" IN (");
        let mut list = query.separated(", ");
        for value in values {
            list.push_bind(value);
        }
        query.push(")");
    }

    fn assignment_context_sql() -> &'static [String; 2] {
        static SQL: LazyLock<[String; 2]> =
            LazyLock::new(|| assignment_context_sql(Sqlite::DUE_BY, Sqlite::ROLE_LIST));
        &SQL
    }

    execution!();
}
