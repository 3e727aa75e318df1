//! Who is calling: the tokens the service is configured with, the middleware that checks the
//! bearer token of every `/v1` request (and `/metrics`), and the one rule that turns the
//! outcome and a request's `texterId` into the engine's [`Caller`].
//!
//! The trust model: the service token (`SPOKE_BATCHES_TOKEN`) authenticates a backend (Spoke's
//! server), which names in `texterId` the user it has authenticated; the service then checks
//! that user against the assignment. Acting as an administrator, with no texter, takes the
//! operator token (`SPOKE_BATCHES_OPERATOR_TOKEN`). With neither configured the service only
//! listens on loopback, and every caller is trusted as in development.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::engine::Caller;
use crate::error_code::ErrorCode;
use crate::spoke_config::Environment;

/// The environment variable of the service token.
pub const SERVICE_TOKEN_VAR: &str = "SPOKE_BATCHES_TOKEN";
/// The environment variable of the operator token.
pub const OPERATOR_TOKEN_VAR: &str = "SPOKE_BATCHES_OPERATOR_TOKEN";
/// The fewest characters a token may have.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The SHA-256 of a token. Tokens are compared through their digests, so the comparison takes
/// the same time whatever the presented token's length or content.
#[derive(Clone)]
struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn of(token: &str) -> Self {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, other: &TokenDigest) -> bool {
        constant_time_eq::constant_time_eq_32(&self.0, &other.0)
    }
}

/// Why the configured tokens cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A token shorter than [`MIN_TOKEN_CHARS`].
    #[error(
        "{variable} has {length} characters; a token needs at least {MIN_TOKEN_CHARS} (for example \
         `openssl rand -hex 32`)"
    )]
    TooShort {
        /// The variable holding it.
        variable: &'static str,
        /// Its length in characters.
        length: usize,
    },
    /// A token no client could send in an `Authorization` header.
    #[error("{variable} may hold only printable ASCII characters without spaces")]
    NotPrintable {
        /// The variable holding it.
        variable: &'static str,
    },
    /// Both tokens are the same, which would make every backend an operator.
    #[error("{SERVICE_TOKEN_VAR} and {OPERATOR_TOKEN_VAR} must differ")]
    Same,
}

/// The tokens the service accepts.
#[derive(Clone, Default)]
pub struct AccessTokens {
    service: Option<TokenDigest>,
    operator: Option<TokenDigest>,
}

impl AccessTokens {
    /// No token: development on loopback.
    pub fn none() -> Self {
        AccessTokens::default()
    }

    /// The service token and the operator token (either may be absent; an empty one counts as
    /// absent).
    pub fn new(service: Option<&str>, operator: Option<&str>) -> Result<Self, TokenError> {
        let service = service.filter(|token| !token.is_empty());
        let operator = operator.filter(|token| !token.is_empty());
        if service.is_some() && service == operator {
            return Err(TokenError::Same);
        }
        Ok(AccessTokens {
            service: service
                .map(|token| checked(SERVICE_TOKEN_VAR, token))
                .transpose()?,
            operator: operator
                .map(|token| checked(OPERATOR_TOKEN_VAR, token))
                .transpose()?,
        })
    }

    /// The tokens of `SPOKE_BATCHES_TOKEN` and `SPOKE_BATCHES_OPERATOR_TOKEN`.
    pub fn from_env(env: &Environment) -> Result<Self, TokenError> {
        AccessTokens::new(env.get(SERVICE_TOKEN_VAR), env.get(OPERATOR_TOKEN_VAR))
    }

    /// Whether any token is configured (else the service is in development mode).
    pub fn any(&self) -> bool {
        self.service.is_some() || self.operator.is_some()
    }

    /// What the `Authorization` header of a request proves.
    fn authenticate(&self, authorization: Option<&HeaderValue>) -> Result<Authenticated, ApiError> {
        if !self.any() {
            return Ok(Authenticated::Development);
        }
        let presented = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let Some(presented) = presented else {
            return Err(unauthorized(
                "send Authorization: Bearer <token> (the service's SPOKE_BATCHES_TOKEN, or \
                 SPOKE_BATCHES_OPERATOR_TOKEN to act as an administrator)",
            ));
        };
        let presented = TokenDigest::of(presented);
        // Both comparisons always run, so the time taken does not tell which token matched.
        let operator = self
            .operator
            .as_ref()
            .is_some_and(|token| token.matches(&presented));
        let service = self
            .service
            .as_ref()
            .is_some_and(|token| token.matches(&presented));
        match (operator, service) {
            (true, _) => Ok(Authenticated::Operator),
            (false, true) => Ok(Authenticated::Service),
            (false, false) => Err(unauthorized("the bearer token is wrong")),
        }
    }
}

fn checked(variable: &'static str, token: &str) -> Result<TokenDigest, TokenError> {
    if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(TokenError::NotPrintable { variable });
    }
    let length = token.chars().count();
    if length < MIN_TOKEN_CHARS {
        return Err(TokenError::TooShort { variable, length });
    }
    Ok(TokenDigest::of(token))
}

fn unauthorized(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
}

/// Who a request is from, as the token middleware established it. Handlers take it as an
/// extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticated {
    /// No token is configured (loopback only): every caller is trusted.
    Development,
    /// The service token: a backend acting for the texter it names.
    Service,
    /// The operator token: an administrator.
    Operator,
}

impl Authenticated {
    /// The engine's caller for an operation on behalf of `texter_id`: the texter when one is
    /// named; without one, the operator, which takes the operator token (or development mode).
    pub fn caller(self, texter_id: Option<i64>) -> Result<Caller, ApiError> {
        match (self, texter_id) {
            (_, Some(id)) => Ok(Caller::User(id)),
            (Authenticated::Development | Authenticated::Operator, None) => Ok(Caller::Operator),
            (Authenticated::Service, None) => Err(ApiError::bad_request(
                "texterId is required: with the service token every texter operation names the \
                 texter your server has authenticated (acting as an administrator takes \
                 SPOKE_BATCHES_OPERATOR_TOKEN)",
            )),
        }
    }

    /// Ok for the operator (or in development mode); 403 for a backend.
    pub fn require_operator(self, what: &str) -> Result<(), ApiError> {
        match self {
            Authenticated::Development | Authenticated::Operator => Ok(()),
            Authenticated::Service => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!("{what} takes the operator token (SPOKE_BATCHES_OPERATOR_TOKEN)"),
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Only a route outside the token middleware lacks it: fail closed.
        parts.extensions.get::<Authenticated>().copied().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler asked who is calling outside the token check");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "the service could not tell who is calling (a bug in the service); nothing was done",
            )
        })
    }
}

/// Checks `Authorization: Bearer <token>` against `tokens` when a token is configured and records who is
/// calling in the request's extensions.
pub(super) async fn require_token(
    State(tokens): State<AccessTokens>,
    mut request: Request,
    next: Next,
) -> Response {
    match tokens.authenticate(request.headers().get(header::AUTHORIZATION)) {
        Ok(authenticated) => {
            request.extensions_mut().insert(authenticated);
            next.run(request).await
        }
        Err(refusal) => {
            let mut response = refusal.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "service-token-0123456789";
    const OPERATOR: &str = "operator-token-0123456789";

    fn bearer(token: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
    }

    #[test]
    fn short_blank_unprintable_and_shared_tokens_are_refused() {
        assert!(matches!(
            AccessTokens::new(Some(" "), None),
            Err(TokenError::NotPrintable {
                variable: SERVICE_TOKEN_VAR
            })
        ));
        assert!(matches!(
            AccessTokens::new(None, Some("short-token")),
            Err(TokenError::TooShort {
                variable: OPERATOR_TOKEN_VAR,
                length: 11
            })
        ));
        assert!(matches!(
            AccessTokens::new(Some("0123456789abcdé!"), None),
            Err(TokenError::NotPrintable { .. })
        ));
        assert!(matches!(
            AccessTokens::new(Some(SERVICE), Some(SERVICE)),
            Err(TokenError::Same)
        ));
        // Exactly the minimum is fine; empty means unset.
        assert!(AccessTokens::new(Some(&"x".repeat(MIN_TOKEN_CHARS)), None).is_ok());
        assert!(!AccessTokens::new(Some(""), Some("")).unwrap().any());
    }

    #[test]
    fn each_token_proves_its_own_role() {
        let tokens = AccessTokens::new(Some(SERVICE), Some(OPERATOR)).unwrap();
        assert_eq!(
            tokens.authenticate(Some(&bearer(SERVICE))).unwrap(),
            Authenticated::Service
        );
        assert_eq!(
            tokens.authenticate(Some(&bearer(OPERATOR))).unwrap(),
            Authenticated::Operator
        );
        for wrong in [&SERVICE[1..], "service-token-012345678X", ""] {
            assert!(tokens.authenticate(Some(&bearer(wrong))).is_err(), "{wrong}");
        }
        assert!(tokens.authenticate(None).is_err());
        let operator_only = AccessTokens::new(None, Some(OPERATOR)).unwrap();
        assert_eq!(
            operator_only.authenticate(Some(&bearer(OPERATOR))).unwrap(),
            Authenticated::Operator
        );
        assert!(operator_only.authenticate(Some(&bearer(SERVICE))).is_err());
        assert_eq!(
            AccessTokens::none().authenticate(None).unwrap(),
            Authenticated::Development
        );
    }

    #[test]
    fn a_backend_must_name_its_texter_and_an_operator_need_not() {
        assert_eq!(Authenticated::Service.caller(Some(5)).unwrap(), Caller::User(5));
        let refused = Authenticated::Service.caller(None).unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(Authenticated::Operator.caller(None).unwrap(), Caller::Operator);
        assert_eq!(Authenticated::Operator.caller(Some(5)).unwrap(), Caller::User(5));
        assert_eq!(Authenticated::Development.caller(None).unwrap(), Caller::Operator);
        assert!(Authenticated::Service.require_operator("the dashboard").is_err());
        assert!(Authenticated::Operator.require_operator("the dashboard").is_ok());
    }
}
