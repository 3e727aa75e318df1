//! The accept loop and its connections: what a client may hold and for how long.
//!
//! `axum::serve` has no header read timeout, no connection cap and no end to a graceful
//! shutdown, so one client trickling a request could hold the process open after SIGTERM, and
//! a few hundred idle connections could use up its file descriptors. Here:
//! - at most `max_connections` are open at once: a permit is taken *before* accepting, so the
//!   ones past the cap wait in the kernel's backlog and the process never runs out of
//!   descriptors;
//! - a connection with no request being answered is closed once it has been quiet for the
//!   header read timeout (a silent client, a request head or an HTTP/2 preface trickled byte by
//!   byte, an idle keep-alive connection); hyper's own HTTP/1 header read timeout is set too;
//! - a request must be read and answered within the header read timeout plus the request
//!   timeout, so a body trickled after a prompt head cannot hold its connection either;
//! - on shutdown the listener closes, every connection is asked to finish its request in flight
//!   and close, and those still open at the shutdown deadline are dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::service::Service as HyperService;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::ApiError;
use super::router::router;
use super::state::AppState;
use crate::error_code::ErrorCode;

/// How long clients may take and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may go without a request being answered on it (a request head
    /// must arrive within this time of opening the connection or of the previous answer).
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight before dropping them.
    pub shutdown_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1_024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight within the shutdown
/// deadline.
pub async fn serve(listener: TcpListener, state: AppState, limits: ServeLimits) -> std::io::Result<()> {
    serve_until(listener, state, limits, shutdown_signal()).await
}

/// Serves until `shutdown` completes, then finishes the requests in flight within the
/// shutdown deadline. The binary's [`serve`], with the signal given (tests).
pub async fn serve_until(
    listener: TcpListener,
    mut state: AppState,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    state.listen = Some(listener.local_addr()?);
    // Reading the body may take as long as a head may; the engine has the request timeout.
    let request_bound = limits.header_read_timeout.saturating_add(state.request_timeout);
    let app = router(state);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    wait_after_accept_error(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let tracked = Tracked {
            inner: TowerToHyperService::new(app.clone()),
            activity: Arc::new(Activity::new()),
            request_bound,
        };
        connections.spawn(serve_connection(
            stream,
            peer,
            tracked,
            limits.header_read_timeout,
            closing_seen.clone(),
            permit,
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for the requests in flight");
    }
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            dropped = connections.len(),
            deadline_ms = limits.shutdown_timeout.as_millis(),
            "dropping the connections still open at the shutdown deadline"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// After a failed accept: a refused or reset connection is the client's business; anything
/// else (out of file descriptors, say) is logged and waited out rather than ending the loop.
async fn wait_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection, HTTP/1.1 or HTTP/2, until it closes, falls quiet or the shutdown drops it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Tracked,
    quiet_limit: Duration,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::clone(&service.activity);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(quiet_limit);
    builder.http2().timer(TokioTimer::new());
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let mut asked_to_close = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            changed = closing.changed(), if !asked_to_close => {
                asked_to_close = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = activity.quiet_for(quiet_limit) => {
                tracing::debug!(%peer, "closing a connection quiet for the header read timeout");
                return;
            }
        }
    }
}

/// Whether a connection has a request being answered, and since when it has not.
struct Activity {
    in_flight: Mutex<usize>,
    /// `Some(since)` while no request is being answered.
    quiet_since: watch::Sender<Option<Instant>>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: Mutex::new(0),
            quiet_since: watch::Sender::new(Some(Instant::now())),
        }
    }

    fn begin(self: &Arc<Self>) -> Answering {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        *in_flight += 1;
        if *in_flight == 1 {
            self.quiet_since.send_replace(None);
        }
        Answering(Arc::clone(self))
    }

    /// Completes once no request has been answered for `limit`.
    async fn quiet_for(&self, limit: Duration) {
        let mut quiet_since = self.quiet_since.subscribe();
        loop {
            let since = *quiet_since.borrow_and_update();
            let changed = quiet_since.changed();
            match since {
                Some(since) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(since + limit) => return,
                        _ = changed => {}
                    }
                }
                None => {
                    let _ = changed.await;
                }
            }
        }
    }
}

/// A request being answered; the connection is quiet again once every one is dropped.
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        let mut in_flight = self.0.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        *in_flight = in_flight.saturating_sub(1);
        if *in_flight == 0 {
            self.0.quiet_since.send_replace(Some(Instant::now()));
        }
    }
}

/// The router, with each request counted in the connection's [`Activity`] and bounded in time.
#[derive(Clone)]
struct Tracked {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
    /// How long a request may take from its head to its answer.
    request_bound: Duration,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl HyperService<hyper::Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let answering = self.activity.begin();
        let response = self.inner.call(request);
        let bound = self.request_bound;
        Box::pin(async move {
            // Dropping a handler mid-operation rolls its transaction back, as the engine's own
            // request timeout does.
            let response = tokio::time::timeout(bound, response)
                .await
                .unwrap_or_else(|_| Ok(too_slow(bound)));
            drop(answering);
            response
        })
    }
}

/// The answer to a request not received and answered within `bound`: its body trickled in.
fn too_slow(bound: Duration) -> Response {
    // hyper closes an HTTP/1 connection whose request body was left unread.
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        format!(
            "the request was not received and answered within {} ms; send its body promptly",
            bound.as_millis()
        ),
    )
    .into_response()
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
