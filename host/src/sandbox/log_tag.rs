//! Who a strategy's log lines are from in the host's log: its name, its version and the
//! assignment of the request being decided.

/// The fields of a strategy's lines in the host's log.
pub(super) struct LogTag {
    /// The strategy's name.
    pub(super) strategy: String,
    /// Its version.
    pub(super) version: String,
    /// The assignment of the request being decided (none for the load-time probe).
    pub(super) assignment: Option<i64>,
}

impl LogTag {
    /// Writes a line the strategy logged (within its budget) to the host's log, at its level.
    pub(super) fn emit(&self, level: &'static str, message: &str) {
        let LogTag {
            strategy,
            version,
            assignment,
        } = self;
        macro_rules! line {
            ($macro:ident) => {
                tracing::$macro!(
                    target: "spoke_batches::strategy",
                    strategy = %strategy,
                    version = %version,
                    assignment = *assignment,
                    "{message}"
                )
            };
        }
        match level {
            "debug" => line!(debug),
            "warn" => line!(warn),
            "error" => line!(error),
            _ => line!(info),
        }
    }
}
