//! The ports: one trait per capability the steps need, and the operations built on each
//! that several steps share. Adapters are in [`crate::adapters`].

pub mod carry;
pub mod clock;
pub mod dns;
pub mod executions;
pub mod hosted_zones;
pub mod ledger;
pub mod parent_zone;
pub mod registrar;
pub mod retry;
