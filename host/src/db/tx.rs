//! The unit of work every statement runs on: a transaction, or a pooled connection in
//! autocommit for work that only reads. How each kind begins is the dialect's
//! ([`super::dialect::Dialect::begin_write`], [`super::dialect::Dialect::begin_read`]).

use sqlx::pool::PoolConnection;
use sqlx::{Database, Transaction};

/// A unit of work on Spoke's tables: a transaction, or a connection in autocommit where the
/// work only reads. Dropping it rolls an open transaction back.
pub struct Tx<DB: Database> {
    work: Work<DB>,
}

enum Work<DB: Database> {
    Transaction(Transaction<'static, DB>),
    Autocommit(PoolConnection<DB>),
}

impl<DB: Database> Tx<DB> {
    /// Wraps an open transaction.
    pub fn new(transaction: Transaction<'static, DB>) -> Self {
        Tx {
            work: Work::Transaction(transaction),
        }
    }

    /// Wraps a connection in autocommit: every statement commits as it completes.
    pub fn autocommit(connection: PoolConnection<DB>) -> Self {
        Tx {
            work: Work::Autocommit(connection),
        }
    }

    /// The connection the next statement runs on.
    pub(super) fn connection(&mut self) -> &mut DB::Connection {
        match &mut self.work {
            Work::Transaction(transaction) => transaction,
            Work::Autocommit(connection) => connection,
        }
    }

    /// Ends the work: commits (with `commit`) or rolls back a transaction; autocommit work has
    /// nothing left to end.
    pub(super) async fn end(self, commit: bool) -> sqlx::Result<()> {
        match self.work {
            Work::Transaction(transaction) if commit => transaction.commit().await,
            Work::Transaction(transaction) => transaction.rollback().await,
            Work::Autocommit(_) => Ok(()),
        }
    }
}
