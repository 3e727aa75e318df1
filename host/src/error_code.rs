//! Every error code a client can receive, from the CLI or the HTTP API, in one enum: the one
//! source of the list. `EngineError`, `ApiError` and `CliError` carry an [`ErrorCode`], never a
//! free string, and a test checks the README's lists against this enum both ways.
//!
//! This file imports nothing of the crate, so every layer may use it.

use serde::{Serialize, Serializer};

/// Declares [`ErrorCode`], its wire text and [`ErrorCode::ALL`] from one list, so a code cannot
/// be added to the enum and forgotten in the list the README is checked against.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A stable code clients match on, serialized as its text (`"NOT_FOUND"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code's text, as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    // The engine's (CLI and HTTP).
    /// An unknown id (or, on the service, path).
    NotFound => "NOT_FOUND",
    /// Not the caller's assignment, the caller is suspended, or an operator endpoint.
    Forbidden => "FORBIDDEN",
    /// A malformed request or an argument out of range.
    BadRequest => "BAD_REQUEST",
    /// The batch type is not enabled for the campaign.
    UnknownBatchType => "UNKNOWN_BATCH_TYPE",
    /// The strategy named (or the campaign's default) is not loaded.
    UnknownStrategy => "UNKNOWN_STRATEGY",
    /// Spoke's INVALID_JOIN.
    InvalidJoin => "INVALID_JOIN",
    /// Spoke's FAILEDJOIN_TOOMANYTEXTERS.
    FailedJoinTooManyTexters => "FAILEDJOIN_TOOMANYTEXTERS",
    /// The strategy failed (or every instance slot is busy); nothing was assigned.
    StrategyFailed => "STRATEGY_FAILED",
    /// The strategy the request would use failed to load.
    StrategyUnavailable => "STRATEGY_UNAVAILABLE",
    /// The request ran past its time before writing anything.
    Timeout => "TIMEOUT",
    /// The commit failed midway: whether the change was made is unknown.
    OutcomeUnknown => "OUTCOME_UNKNOWN",
    /// Settings stored in the database cannot be used.
    BadConfig => "BAD_CONFIG",
    /// The database failed or did not answer.
    Database => "DATABASE",
    /// A bug in the host; the request was rolled back.
    Internal => "INTERNAL",

    // The HTTP service's own.
    /// No or wrong bearer token.
    Unauthorized => "UNAUTHORIZED",
    /// A page of another origin called a service without a token.
    CrossOrigin => "CROSS_ORIGIN",
    /// A `Host` that is not the service's own, on a service without a token.
    BadHost => "BAD_HOST",
    /// A known path with another method.
    MethodNotAllowed => "METHOD_NOT_ALLOWED",
    /// The request was not received and answered in time (its body trickled in).
    RequestTimeout => "REQUEST_TIMEOUT",
    /// A body over the size limit.
    PayloadTooLarge => "PAYLOAD_TOO_LARGE",
    /// A POST that is not JSON.
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",

    // The command line's own.
    /// A malformed command line.
    BadArgument => "BAD_ARGUMENT",
    /// The async runtime could not start.
    Runtime => "RUNTIME",
    /// A configured token cannot be used.
    BadToken => "BAD_TOKEN",
    /// The sandbox (the wasmtime engine) could not be set up.
    Sandbox => "SANDBOX",
    /// The strategies folder cannot be read.
    StrategiesFolder => "STRATEGIES_FOLDER",
    /// A public listen address without a token.
    UnsafeListen => "UNSAFE_LISTEN",
    /// The listen address cannot be bound.
    Listen => "LISTEN",
    /// A folder cannot be watched for changes.
    Watch => "WATCH",
    /// The service failed while serving.
    Serve => "SERVE",
    /// A strategy or folder name that cannot be used.
    BadName => "BAD_NAME",
    /// The target exists (a strategy's folder, a non-empty `--out`).
    Exists => "EXISTS",
    /// Building a new strategy failed.
    BuildFailed => "BUILD_FAILED",
    /// Creating a new strategy failed otherwise.
    Scaffold => "SCAFFOLD",
    /// A component file failed to load.
    LoadFailed => "LOAD_FAILED",
    /// `test` found no fixture files.
    NoFixtures => "NO_FIXTURES",
    /// A fixture file cannot be read or asserts nothing.
    BadFixture => "BAD_FIXTURE",
    /// Seeding the demo failed.
    Seed => "SEED",
    /// `spoke-extension` has no loaded strategy to write folders for.
    NoStrategies => "NO_STRATEGIES",
    /// Writing files failed.
    Io => "IO",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Tests compare a code with its text (`assert_eq!(error.code(), "NOT_FOUND")`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ErrorCode;

    /// The codes the README names: in the CLI's "Error codes:" paragraph and in the HTTP
    /// service's error table (the rows that start with a status).
    fn readme_codes() -> BTreeSet<String> {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap_or_default();
        let mut sections = String::new();
        let mut in_paragraph = false;
        for line in readme.lines() {
            if line.starts_with("Error codes:") {
                in_paragraph = true;
            } else if line.trim().is_empty() {
                in_paragraph = false;
            }
            let status_row = line
                .strip_prefix("| ")
                .is_some_and(|rest| rest.len() > 3 && rest[..3].bytes().all(|b| b.is_ascii_digit()));
            if in_paragraph || status_row {
                sections.push_str(line);
                sections.push('\n');
            }
        }
        sections
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|word| word.len() > 1 && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_readme_lists_exactly_the_codes_of_the_enum() {
        let readme = readme_codes();
        assert!(readme.len() > 10, "the README's error-code lists were not found");
        let ours: BTreeSet<String> = ErrorCode::ALL.iter().map(|code| code.to_string()).collect();
        let undocumented: Vec<_> = ours.difference(&readme).collect();
        let unknown: Vec<_> = readme.difference(&ours).collect();
        assert!(
            undocumented.is_empty(),
            "codes the README does not list: {undocumented:?}"
        );
        assert!(
            unknown.is_empty(),
            "codes the README lists that do not exist: {unknown:?}"
        );
    }

    #[test]
    fn every_code_is_distinct_and_serializes_as_its_text() {
        let texts: BTreeSet<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(texts.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_string()))
            );
        }
    }
}
