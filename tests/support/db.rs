//! Databases for tests: a fresh SQLite file per test, and a fresh PostgreSQL schema per test
//! when `TEST_DATABASE_URL` is set (required under `CI=true`: the suite fails, never skips).

use std::sync::Arc;

use spoke_batches::db::Database;
use spoke_batches::engine::Engine;
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::spoke_config::Environment;
use sqlx::Row as _;

use super::loaded;

/// One test's database.
pub struct TestDb {
    /// Its URL (what the CLI would be given).
    pub url: String,
    /// The connected, migrated database.
    pub db: Database,
    /// The PostgreSQL schema to drop at the end, and the server's URL to drop it through.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!(
        "sb_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    /// A new SQLite database in a temporary file, with Spoke's schema.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("spoke.sqlite").display());
        let db = Database::connect(&url).await.expect("open sqlite");
        db.prepare_schema().await.expect("migrate sqlite");
        TestDb {
            url,
            db,
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A new schema in the PostgreSQL of `TEST_DATABASE_URL`, with Spoke's schema; `None` when
    /// the variable is unset outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let Some(base) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            assert!(
                std::env::var("CI").map(|ci| ci != "true").unwrap_or(true),
                "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI"
            );
            eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL run of this test");
            return None;
        };
        let schema = unique_name();
        let admin = Database::connect(&base)
            .await
            .expect("connect to TEST_DATABASE_URL");
        let Database::Postgres(pool) = &admin else {
            panic!("TEST_DATABASE_URL must be a postgres:// URL");
        };
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(pool)
            .await
            .expect("create schema");
        pool.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        // The application name tags the test's connections, so a panicking test's schema can be
        // dropped after its connections are ended (see `Drop`).
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}&application_name={schema}");
        let db = Database::connect(&url).await.expect("connect to the test schema");
        db.prepare_schema().await.expect("migrate postgres");
        Some(TestDb {
            url,
            db,
            schema: Some((schema, base)),
            _dir: None,
        })
    }

    /// The PostgreSQL schema of this test, if it runs on PostgreSQL.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_ref().map(|(schema, _)| schema.as_str())
    }

    /// Runs SQL statements (test data, trusted).
    pub async fn exec(&self, sql: &str) {
        let result = match &self.db {
            Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        };
        result.unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// Adds users `first..first + count` (no membership).
    pub async fn add_users(&self, first: i64, count: i64) {
        let users: Vec<String> = (first..first + count)
            .map(|id| format!("({id}, 'u{id}', 'User', '{id}', '+1777{id:07}', 'u{id}@example.org')"))
            .collect();
        self.exec(&format!(
            r#"INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES {}"#,
            users.join(", ")
        ))
        .await;
    }

    /// The integer the query returns (in its first column).
    pub async fn int(&self, sql: &str) -> i64 {
        let cast = format!("SELECT CAST(({sql}) AS BIGINT)");
        let result = match &self.db {
            Database::Postgres(pool) => sqlx::query(&cast)
                .fetch_one(pool)
                .await
                .map(|row| row.get::<i64, _>(0)),
            Database::Sqlite(pool) => sqlx::query(&cast)
                .fetch_one(pool)
                .await
                .map(|row| row.get::<i64, _>(0)),
        };
        result.unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// `(id, assignment_id)` of every contact, by id.
    pub async fn assignments(&self) -> Vec<(i64, Option<i64>)> {
        let sql =
            "SELECT CAST(id AS BIGINT), CAST(assignment_id AS BIGINT) FROM campaign_contact ORDER BY id";
        let result = match &self.db {
            Database::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            Database::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        };
        result.unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// An engine on this database serving the shipped strategies, `hostile` and `overreach`,
    /// with `env` as the process environment.
    pub async fn engine(&self, env: &[(&str, &str)]) -> Engine {
        let mut registry = StrategyRegistry::default();
        for strategy in &loaded().await.strategies {
            registry.insert(strategy.path(), Ok(Arc::clone(strategy)));
        }
        Engine::new(
            self.db.clone(),
            SharedRegistry::new(registry),
            Environment::from_pairs(env.iter().copied()),
        )
    }

    /// Drops the PostgreSQL schema (the SQLite file goes with its directory).
    pub async fn cleanup(mut self) {
        if let (Some((schema, _)), Database::Postgres(pool)) = (self.schema.take(), &self.db) {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(pool)
                .await;
            pool.close().await;
        }
    }
}

/// A test that panicked before [`TestDb::cleanup`] still drops its schema: on a connection of
/// its own (the test's runtime is unwinding), after ending the test's connections, whose open
/// transactions would otherwise hold the locks the drop waits for.
impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((schema, base)) = self.schema.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                use sqlx::Connection as _;
                let mut connection = sqlx::PgConnection::connect(&base)
                    .await
                    .map_err(|error| error.to_string())?;
                let sql = format!(
                    "SET lock_timeout = '10s'; \
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                       WHERE application_name = '{schema}' AND pid <> pg_backend_pid(); \
                     DROP SCHEMA IF EXISTS {schema} CASCADE;"
                );
                sqlx::raw_sql(&sql)
                    .execute(&mut connection)
                    .await
                    .map_err(|error| format!("{schema}: {error}"))?;
                connection.close().await.map_err(|error| error.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop the test schema: {error}");
        }
    }
}

/// Defines `mod $name { sqlite, postgres }`: the async test `$body(TestDb)` on each database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::support::db::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(db) = $crate::support::db::TestDb::postgres().await {
                        super::$name(&db).await;
                        db.cleanup().await;
                    }
                }
            }
        )+
    };
}
