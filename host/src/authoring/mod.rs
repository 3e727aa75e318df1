//! The strategy author's tools: `check` (a component against the contract and its base
//! checks), `test` (a strategy's fixtures) and `new` (a strategy crate or JavaScript/TypeScript
//! package from its template).

pub mod check;
pub mod fixtures;
pub mod scaffold;

pub use scaffold::Language;
