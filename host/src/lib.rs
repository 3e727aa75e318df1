//! spoke-batches: runs Spoke's dynamic-assignment batch strategies as sandboxed WebAssembly
//! components.
//!
//! - [`sandbox`]: the wasmtime sandbox, the WIT bindings and strategy calls.
//! - [`registry`]: the strategies folder, loaded.
//! - [`filter`]: query descriptors as validated values, and their in-memory meaning.
//! - [`question`]: the questions a strategy asks about its request's data, and their answers.
//! - [`source`]: what answers a strategy's questions about contacts.
//! - [`model`]: Spoke's rows.
//! - [`error_code`]: every error code a client can receive, in one enum.
//! - [`metrics`] and [`traffic`]: what the host counts, for `/metrics` and the dashboard.
//! - [`service`]: the HTTP service; [`cli`]: the command line.

pub mod authoring;
pub mod cli;
pub mod db;
pub mod demo;
pub mod engine;
pub mod error_code;
pub mod filter;
pub mod metrics;
pub mod model;
pub mod question;
pub mod registry;
pub mod reload;
pub mod request_time;
pub mod sandbox;
pub mod service;
pub mod source;
pub mod spoke_config;
pub mod spoke_extension;
pub mod timezones;
pub mod traffic;
