//! spoke-batches: runs Spoke's dynamic-assignment batch strategies as sandboxed WebAssembly
//! components.
//!
//! - [`runtime`]: the wasmtime sandbox, the WIT bindings and strategy calls.
//! - [`registry`]: the strategies folder, loaded.
//! - [`filter`]: query descriptors as validated values, and their in-memory meaning.
//! - [`source`]: what answers a strategy's questions about contacts.
//! - [`model`]: Spoke's rows.

pub mod check;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod engine;
pub mod filter;
pub mod fixtures;
pub mod metrics;
pub mod model;
pub mod registry;
pub mod reload;
pub mod request_time;
pub mod runtime;
pub mod scaffold;
pub mod service;
pub mod source;
pub mod spoke_extension;
pub mod timezones;
