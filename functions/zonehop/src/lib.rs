//! zonehop's migration steps, and the ports they act through.
//!
//! Three layers, as in `docs/design.md`:
//! - the pure core is the `zonehop-core` crate (re-exported here as [`core`]): names, the
//!   zone model, plans, batches, the propagation verdict, the request, the canary;
//! - [`ports`]: one trait per capability (hosted zones, the registrar, DNS queries,
//!   executions, the clock), what the steps build on them (reading a zone, a change
//!   awaited until INSYNC, finding servers, comparing answers), and [`adapters`] that
//!   implement them: the AWS SDK, the wire, and in-memory twins for unit tests;
//! - [`steps`]: one module per Lambda, named as the Lambda. A step uses the core and the
//!   ports, never another step.
//!
//! [`Settings`] is the one configuration every function reads; [`Error`] names every
//! failure with the `errorType` the state machine's `Retry` and `Catch` match on.

pub use zonehop_core as core;

pub mod adapters;
pub mod error;
pub mod ports;
pub mod request;
pub mod runtime;
pub mod settings;
pub mod steps;

pub use error::Error;
pub use settings::Settings;
pub use zonehop_core::Name;
