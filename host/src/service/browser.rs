//! What keeps a web page from using the service through its visitor's browser.
//!
//! Without a token the service trusts whoever reaches its loopback address, and a browser on
//! the same machine reaches it too: a page elsewhere can post to `127.0.0.1` (CSRF), or have its
//! own name resolve to `127.0.0.1` and read the answers (DNS rebinding). So without a token the
//! service answers only requests addressed to a loopback name or its listen address (`Host`),
//! and refuses requests a page of another origin sent (`Origin`, `Sec-Fetch-Site`). On every
//! instance each POST must be `Content-Type: application/json`, a type no page can send to
//! another origin without the CORS preflight that the service never grants.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::error_code::ErrorCode;

/// Refuses, on an instance without a token, requests addressed to another name or sent by a
/// page of another origin.
pub(super) async fn refuse_foreign_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.tokens.any() {
        return next.run(request).await;
    }
    let host = request_host(&request);
    if !host
        .as_ref()
        .is_some_and(|host| is_local_name(host, state.listen))
    {
        let shown = host.map_or_else(|| "none".to_string(), |host| format!("`{host}`"));
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::BadHost,
            format!(
                "without a token this service answers only requests addressed to localhost or a \
                 loopback address; the Host is {shown} (set SPOKE_BATCHES_TOKEN to serve other names)"
            ),
        )
        .into_response();
    }
    if let Some(reason) = foreign_origin(request.headers(), host.as_ref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::CrossOrigin,
            format!("requests from another site's page are refused: {reason}"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Refuses a POST whose body is not declared JSON.
pub(super) async fn require_json_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && !is_json(request.headers()) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "every POST needs Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

/// `application/json` or `application/<something>+json`, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// The authority the request was addressed to: `Host`, or the URI's (HTTP/2).
fn request_host(request: &Request) -> Option<Authority> {
    match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok()?.parse().ok(),
        None => request.uri().authority().cloned(),
    }
}

/// Whether `authority` names this machine: `localhost`, a loopback address or the listen
/// address, on any port.
fn is_local_name(authority: &Authority, listen: Option<SocketAddr>) -> bool {
    let host = authority.host();
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    literal
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || listen.is_some_and(|listen| listen.ip() == ip))
}

/// Why the request came from a page of another origin, if it did.
fn foreign_origin(headers: &HeaderMap, host: Option<&Authority>) -> Option<String> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Some("Sec-Fetch-Site is cross-site".to_string());
    }
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().unwrap_or("(not text)");
    let same = text
        .parse::<Uri>()
        .ok()
        .zip(host)
        .is_some_and(|(origin, host)| same_authority(&origin, host));
    (!same).then(|| format!("Origin `{text}` is not this service"))
}

/// Whether the origin `http://host[:port]` is the authority the request was addressed to.
fn same_authority(origin: &Uri, host: &Authority) -> bool {
    let Some(authority) = origin.authority() else {
        return false;
    };
    let scheme_port = match origin.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    authority.host().eq_ignore_ascii_case(host.host())
        && authority.port_u16().unwrap_or(scheme_port) == host.port_u16().unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(text: &str) -> Authority {
        text.parse().unwrap()
    }

    #[test]
    fn local_names_are_loopback_names_and_the_listen_address() {
        let listen: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        for local in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "192.0.2.7:80",
        ] {
            assert!(is_local_name(&authority(local), Some(listen)), "{local}");
        }
        for foreign in [
            "evil.example",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "10.0.0.1:8080",
        ] {
            assert!(!is_local_name(&authority(foreign), Some(listen)), "{foreign}");
        }
        assert!(!is_local_name(&authority("192.0.2.7"), None));
    }

    #[test]
    fn only_the_same_origin_is_the_same_origin() {
        let host = authority("127.0.0.1:8080");
        let mut headers = HeaderMap::new();
        assert_eq!(
            foreign_origin(&headers, Some(&host)),
            None,
            "no Origin: not a cross-site page"
        );
        for (origin, foreign) in [
            ("http://127.0.0.1:8080", false),
            ("http://127.0.0.1", true),
            ("http://localhost:8080", true),
            ("https://evil.example", true),
            ("null", true),
        ] {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
            assert_eq!(
                foreign_origin(&headers, Some(&host)).is_some(),
                foreign,
                "{origin}"
            );
        }
        let mut cross = HeaderMap::new();
        cross.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(foreign_origin(&cross, Some(&host)).is_some());
    }

    #[test]
    fn json_is_application_json_with_or_without_parameters() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("text/json", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }
}
