//! zonehop's migration logic.
//!
//! A pure core that knows no AWS and no sockets:
//! [`name`] (canonical Route 53 names), [`zone`] (the record model), [`export`] (CLI
//! exports), [`plan`] (what to change), [`batch`] (how to pack it into requests),
//! [`retry`] (backoff). Around it, adapters behind narrow traits: [`hosted_zones`] is the
//! port to Route 53 and [`route53`] its SDK adapter; [`accounts`] reaches the source and
//! target accounts. The operations each Lambda runs are [`create_zone`] and [`sync`];
//! their errors are [`Error`], each with the `errorType` the state machine matches.

pub mod accounts;
pub mod batch;
pub mod check_propagation;
pub mod create_zone;
pub mod delegate;
pub mod dns;
pub mod error;
pub mod executions;
pub mod export;
pub mod finish;
pub mod hosted_zones;
pub mod name;
pub mod plan;
pub mod preflight;
pub mod propagation;
pub mod registrar;
pub mod request;
pub mod retry;
pub mod route53;
pub mod runtime;
pub mod swap;
pub mod sync;
pub mod verify;
pub mod zone;

pub use error::Error;
pub use name::Name;
