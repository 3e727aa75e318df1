//! Unit tests of the command line: flags reach their settings, and `--now` is checked first.

use std::time::Duration;

use clap::Parser as _;

use super::args::{Cli, Command, ServeArgs, request_time};
use super::run::execute;
use crate::sandbox::SandboxLimits;

#[test]
fn every_limit_flag_reaches_the_sandbox_limits() {
    let cli = Cli::parse_from([
        "spoke-batches",
        "--fuel-per-call",
        "7",
        "--deadline-ms",
        "8",
        "--memory-mib",
        "9",
        "--host-calls-per-call",
        "10",
        "--log-bytes-per-call",
        "11",
        "--component-bytes",
        "12",
        "--concurrent-instances",
        "13",
        "--compile-timeout-ms",
        "14",
        "--core-instances-per-slot",
        "15",
        "--memories-per-slot",
        "16",
        "--tables-per-slot",
        "17",
        "strategies",
    ]);
    let limits = cli.limits();
    let expected = SandboxLimits {
        fuel_per_call: 7,
        deadline: Duration::from_millis(8),
        memory_bytes: 9 << 20,
        host_calls_per_call: 10,
        log_bytes_per_call: 11,
        component_bytes: 12,
        concurrent_instances: 13,
        compile_timeout: Duration::from_millis(14),
        core_instances_per_slot: 15,
        memories_per_slot: 16,
        tables_per_slot: 17,
        ..SandboxLimits::default()
    };
    assert_eq!(limits, expected);
    let defaults = Cli::parse_from(["spoke-batches", "strategies"]).limits();
    assert_eq!(defaults, SandboxLimits::default());
}

#[test]
fn the_serve_edge_flags_have_their_defaults_and_take_values() {
    let edges = |args: &[&str]| match Cli::parse_from(args).command {
        Command::Serve(ServeArgs {
            header_read_timeout_ms,
            max_connections,
            shutdown_timeout_ms,
            public_metrics,
            ..
        }) => (
            header_read_timeout_ms,
            max_connections,
            shutdown_timeout_ms,
            public_metrics,
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(edges(&["spoke-batches", "serve"]), (10_000, 1_024, 30_000, false));
    let set = [
        "spoke-batches",
        "serve",
        "--header-read-timeout-ms",
        "5",
        "--max-connections",
        "7",
        "--shutdown-timeout-ms",
        "0",
        "--public-metrics",
    ];
    assert_eq!(edges(&set), (5, 7, 0, true));
    for zero in ["--header-read-timeout-ms", "--max-connections"] {
        assert!(
            Cli::try_parse_from(["spoke-batches", "serve", zero, "0"]).is_err(),
            "{zero} 0"
        );
    }
}

#[tokio::test]
async fn a_now_out_of_range_is_a_bad_request_before_anything_loads() {
    for now in [
        "+262142-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ] {
        for command in ["request-batch", "explain", "replay", "has-unassigned"] {
            // A database and a strategies folder that do not exist: the check comes first.
            let cli = Cli::parse_from([
                "spoke-batches",
                "--database-url",
                "postgres://nobody@127.0.0.1:1/none",
                "--strategies",
                "/nonexistent",
                command,
                "--assignment-id",
                "1",
                "--now",
                now,
            ]);
            let error = execute(cli).await.unwrap_err();
            assert_eq!(
                error.code, "BAD_REQUEST",
                "{command} --now {now}: {}",
                error.message
            );
            assert!(error.message.contains("2200-01-01"), "{}", error.message);
        }
    }
    let inside = request_time(Some("2199-12-31T23:59:59Z".parse().unwrap())).unwrap();
    assert_eq!(inside.to_rfc3339(), "2199-12-31T23:59:59+00:00");
}
