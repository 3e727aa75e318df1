//! The service on a real socket for tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spoke_batches::service::{AppState, router};

use super::db::TestDb;
use super::loaded;

/// A running service; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The address it listens on.
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Serves `db` with the shipped strategies and `hostile`, the environment `env`, and
    /// `token` required on `/v1` when set.
    pub async fn start(db: &TestDb, env: &[(&str, &str)], token: Option<&str>) -> TestServer {
        let engine = db.engine(env).await;
        let sandbox = Arc::clone(&loaded().await.sandbox);
        let state = AppState::new(
            engine,
            sandbox,
            token.map(str::to_string),
            Duration::from_secs(10),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        TestServer {
            base: format!("http://{address}"),
            address,
            task,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
