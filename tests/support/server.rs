//! The service on a real socket for tests, served by the binary's own accept loop
//! (`service::serve_until`), so its timeouts, connection cap and shutdown are the ones tested.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use spoke_batches::engine::Engine;
use spoke_batches::service::{AccessTokens, AppState, ServeLimits, serve_until};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::db::TestDb;
use super::loaded;

/// How a test server runs.
pub struct ServerOptions<'a> {
    /// The process environment the engine sees.
    pub env: &'a [(&'a str, &'a str)],
    /// `SPOKE_BATCHES_TOKEN`.
    pub token: Option<&'a str>,
    /// `SPOKE_BATCHES_OPERATOR_TOKEN`.
    pub operator_token: Option<&'a str>,
    /// The service's clock, fixed; `None` reads the wall clock.
    pub fixed_now: Option<DateTime<Utc>>,
    /// Timeouts and the connection cap.
    pub limits: ServeLimits,
    /// `--public-metrics`.
    pub public_metrics: bool,
    /// `--request-timeout-ms`.
    pub request_timeout: Duration,
}

impl Default for ServerOptions<'_> {
    fn default() -> Self {
        ServerOptions {
            env: &[],
            token: None,
            operator_token: None,
            fixed_now: None,
            limits: ServeLimits::default(),
            public_metrics: false,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A running service; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The address it listens on.
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Serves `db` with the shipped strategies and `hostile`, the environment `env`, and
    /// `token` (the service token) required on `/v1` when set.
    pub async fn start(db: &TestDb, env: &[(&str, &str)], token: Option<&str>) -> TestServer {
        TestServer::start_with(
            db,
            ServerOptions {
                env,
                token,
                ..ServerOptions::default()
            },
        )
        .await
    }

    /// Serves `db` as `options` say.
    pub async fn start_with(db: &TestDb, options: ServerOptions<'_>) -> TestServer {
        let engine = db.engine(options.env).await;
        TestServer::serve(engine, options).await
    }

    /// Serves `engine`, one a test built itself (extra or broken components), as `options` say
    /// (their `env` is the engine's business, so it is not used here).
    pub async fn serve(engine: Engine, options: ServerOptions<'_>) -> TestServer {
        let sandbox = Arc::clone(&loaded().await.sandbox);
        let tokens = AccessTokens::new(options.token, options.operator_token).expect("valid test tokens");
        let mut state = AppState::new(engine, sandbox, tokens, options.request_timeout)
            .with_public_metrics(options.public_metrics);
        if let Some(now) = options.fixed_now {
            state = state.with_fixed_now(now);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, signal) = oneshot::channel();
        let limits = options.limits;
        let task = tokio::spawn(serve_until(listener, state, limits, async {
            let _ = signal.await;
        }));
        TestServer {
            base: format!("http://{address}"),
            address,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signals a shutdown (as SIGTERM does) and waits up to `bound` for the service to stop;
    /// whether it did.
    pub async fn shut_down_within(mut self, bound: Duration) -> bool {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match tokio::time::timeout(bound, &mut self.task).await {
            Ok(served) => {
                served.expect("serve task").expect("serve");
                true
            }
            Err(_) => false,
        }
    }
}
