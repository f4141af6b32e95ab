//! zonehop's pure core: the decisions of a migration as functions of data.
//!
//! Nothing here talks to AWS, opens a socket, sleeps or reads the clock (the crate has no
//! such dependency, so the compiler holds it). The ports and the steps that use this core
//! are in the `zonehop` crate.
//!
//! - [`name`]: Route 53 names compared canonically (case, trailing dot, octal escapes);
//! - [`zone`]: every record set ListResourceRecordSets returns; [`export`]: CLI exports;
//! - [`change`], [`plan`], [`batch`]: what to change, and how to pack it into requests;
//! - [`propagation`]: the "safe to retire the old side" verdict and the adaptive wait;
//! - [`request`]: the migration request and its checks; [`canary`]: the canary and lock;
//! - [`answers`]: DNS answers, the questions to ask and their comparison; [`possible`]: what
//!   a record set may answer (routed sets, aliases); [`delegation`]: name-server sets;
//! - [`backoff`]: how long to wait before a retry; [`validate`]: record sets checked as
//!   Route 53 checks them.

pub mod access;
pub mod answers;
pub mod backoff;
pub mod batch;
pub mod canary;
pub mod change;
pub mod delegation;
pub mod drift;
pub mod export;
pub mod json;
pub mod name;
pub mod plan;
pub mod possible;
pub mod propagation;
pub mod request;
pub mod validate;
pub mod zone;

pub use name::Name;
