//! The strategy author's tools: `check` (a component against the contract and its base
//! checks), `test` (a strategy's fixtures) and `new` (a strategy crate from the template).

pub mod check;
pub mod fixtures;
pub mod scaffold;
