//! What differs between PostgreSQL and SQLite for the host: how a unit of work begins and how
//! the claim query locks rows. Everything else is the same SQL for both.

use std::future::Future;

use sqlx::{Pool, Postgres, QueryBuilder, Sqlite, Transaction};

use super::queries::Tx;

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

    /// Begins a transaction that will write: on SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading a read lock.
    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send;

    /// Begins work that writes, as a transaction ([`Dialect::begin_transaction`]).
    fn begin_write(pool: &Pool<Self>) -> impl Future<Output = sqlx::Result<Tx<Self>>> + Send {
        async move { Ok(Tx::new(Self::begin_transaction(pool).await?)) }
    }

    /// Rows changed by a statement.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Appends `column IN (values)` for a long list of values (the texting-hours offsets): one
    /// array bind on PostgreSQL, which parses and plans faster than 200 binds; one bind per value
    /// on SQLite.
    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>);

    /// Begins work that only reads, in autocommit: each statement sees what was committed
    /// when it started, which is all a read-only operation here needs.
    fn begin_read(pool: &Pool<Self>) -> impl Future<Output = sqlx::Result<Tx<Self>>> + Send {
        async move { Ok(Tx::autocommit(pool.acquire().await?)) }
    }
}

impl Dialect for Postgres {
    const NAME: &'static str = "postgres";
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    const ROW_LOCK: &'static str = " FOR NO KEY UPDATE";
    const DUE_BY: &'static str = "due_by";

    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send {
        pool.begin()
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        query
            .push(" AND ")
            .push(column)
            .push(" = ANY(")
            .push_bind(values)
            .push(")");
    }
}

impl Dialect for Sqlite {
    const NAME: &'static str = "sqlite";
    const CLAIM_LOCK: &'static str = "";
    const ROW_LOCK: &'static str = "";
    const DUE_BY: &'static str = "CASE WHEN typeof(due_by) IN ('integer', 'real') \
         THEN datetime(due_by / 1000, 'unixepoch') ELSE datetime(due_by) END AS due_by";

    fn begin_transaction(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send {
        pool.begin_with("BEGIN IMMEDIATE")
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn push_in_list(query: &mut QueryBuilder<'_, Self>, column: &str, values: Vec<String>) {
        query.push(" AND ").push(column).push(" IN (");
        let mut list = query.separated(", ");
        for value in values {
            list.push_bind(value);
        }
        query.push(")");
    }
}
