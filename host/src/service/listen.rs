//! Before serving: whether the service may listen where it was asked to, and the bound
//! listener.

use std::net::SocketAddr;

use super::state::AppState;

/// Why the service would not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A public address without a token.
    #[error(
        "refusing to listen on {0} without a token: set SPOKE_BATCHES_TOKEN, or listen on a loopback \
         address such as 127.0.0.1"
    )]
    PublicWithoutToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// Checks that the service may listen on `address`.
pub fn check_exposure(address: SocketAddr, state: &AppState) -> Result<(), ServeError> {
    if !state.tokens.any() && !address.ip().is_loopback() {
        return Err(ServeError::PublicWithoutToken(address));
    }
    Ok(())
}

/// Binds `address`.
pub async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| ServeError::Bind {
            address,
            reason: error.to_string(),
        })
}
