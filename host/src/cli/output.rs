//! What a command answers and how it reaches the terminal: every command ends with one
//! [`Answer`], printed once by [`print_answer`]; a failure is one `{"error":{...}}` object.
//! Writing never panics: a reader that went away (`seed ... | head`) loses the line quietly.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::CliError;
use crate::error_code::ErrorCode;

/// What a command that ran answers.
#[derive(Debug)]
pub enum Answer {
    /// The command's one JSON object; it succeeded.
    Json(Value),
    /// A verdict (`test`, `check`): its report, and whether it passed (the exit status).
    Verdict {
        /// The report, as JSON (`--json`) or for people.
        report: Report,
        /// Whether everything passed.
        passed: bool,
    },
    /// `serve` stopped (Ctrl-C or SIGTERM). Its one JSON object, the address, was printed when
    /// it began listening: a service's answer cannot wait for its end.
    Stopped,
}

/// A verdict's report.
#[derive(Debug)]
pub enum Report {
    /// One JSON object.
    Json(Value),
    /// Text for people.
    Text(String),
}

/// `value` as JSON: a value that cannot be serialized (a bug) is an `INTERNAL` error, never a
/// `null` answer.
pub fn to_json(value: impl Serialize) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|error| {
        CliError::new(
            ErrorCode::Internal,
            format!("the answer could not be written as JSON (a bug in spoke-batches): {error}"),
        )
    })
}

/// Prints what a command answered; whether it succeeded.
pub fn print_answer(answer: Result<Answer, CliError>) -> bool {
    match answer {
        Ok(Answer::Json(value)) => {
            print_stdout(&value.to_string());
            true
        }
        Ok(Answer::Verdict { report, passed }) => {
            match report {
                Report::Json(value) => print_stdout(&value.to_string()),
                Report::Text(text) => print_stdout(&text),
            }
            passed
        }
        Ok(Answer::Stopped) => true,
        Err(error) => {
            print_error(error.code, &error.message);
            false
        }
    }
}

/// Prints the one JSON object of a failed command.
pub fn print_error(code: ErrorCode, message: &str) {
    print_stdout(&json!({"error": {"code": code, "message": message}}).to_string());
}

/// Writes `text` and a newline to stderr, dropping it quietly when stderr is closed.
pub fn print_stderr(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Writes `text` and a newline to stdout. A reader that went away (`seed ... | head`) is not an
/// error of the command's: the work is done, so the line is dropped quietly instead of
/// panicking as `println!` would.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::to_json;
    use crate::error_code::ErrorCode;

    #[test]
    fn a_value_that_cannot_be_json_is_an_internal_error_not_null() {
        // JSON object keys must be strings: a map keyed by pairs cannot be written.
        let unwritable = BTreeMap::from([((1, 2), 3)]);
        let error = to_json(unwritable).map(|value| value.to_string()).unwrap_err();
        assert_eq!(error.code, ErrorCode::Internal);
        assert!(error.message.contains("a bug"), "{}", error.message);
    }
}
