//! The dashboard page (`GET /`) and the files it loads, all embedded in the binary: the page's
//! own HTML, script and stylesheet (`host/dashboard/`) and the charting library, uPlot, which
//! `build.rs` installs from the npm registry as pinned by `host/dashboard/package-lock.json`.
//! Nothing is fetched from elsewhere at run time: the page works with no network, and its
//! Content-Security-Policy lets it load nothing but this service's own files.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::error_code::ErrorCode;

/// Where the page's files are served, under [`ASSETS`].
pub const ASSETS: &str = "/dashboard";

const INDEX: &str = include_str!("../../dashboard/index.html");

/// The page's files by name: content type and bytes.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../dashboard/dashboard.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../../dashboard/dashboard.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/dashboard/node_modules/uplot/dist/uPlot.iife.min.js"
        )),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/dashboard/node_modules/uplot/dist/uPlot.min.css"
        )),
    ),
    (
        "uPlot.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/dashboard/node_modules/uplot/LICENSE")),
    ),
];

/// The page may run its own scripts and styles and call this service; nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `GET /`: the page.
pub async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX.as_bytes())
}

/// `GET /dashboard/{file}`: one of the page's files.
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => respond(content_type, bytes),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("the dashboard has no file `{name}`"),
        )
        .into_response(),
    }
}

fn respond(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The files change with the binary: the browser asks again on each page load.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_this_module_serves() {
        for reference in INDEX.split(['"', '\'']).filter(|text| text.starts_with(ASSETS)) {
            let name = reference
                .strip_prefix(ASSETS)
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or_default();
            assert!(
                FILES.iter().any(|(file, _, _)| *file == name),
                "index.html loads {reference}, which is not served"
            );
        }
        assert!(INDEX.contains("/dashboard/uPlot.iife.min.js"));
    }

    #[test]
    fn the_charting_library_keeps_its_licence() {
        let licence = FILES
            .iter()
            .find(|(file, _, _)| *file == "uPlot.LICENSE.txt")
            .map(|(_, _, bytes)| String::from_utf8_lossy(bytes))
            .unwrap_or_default();
        assert!(licence.contains("MIT License"), "{licence}");
    }
}
