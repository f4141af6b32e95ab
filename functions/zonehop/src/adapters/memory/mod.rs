//! In-memory twins of every port, for unit tests, benchmarks and local experiments: no
//! AWS, no sockets, no real time.
//!
//! - [`MemoryZones`]: Route 53's hosted zones ([`crate::ports::hosted_zones::HostedZones`]),
//!   refusing what Route 53 refuses, all or nothing;
//! - [`MemoryRegistrar`]: Route 53 Domains ([`crate::ports::registrar::Registrar`]);
//! - [`ScriptedDns`]: DNS servers answering from a table a test changes between calls, or
//!   from handlers (such as [`zone_answer`] over a [`MemoryZones`] zone), or not at all
//!   ([`crate::ports::dns::DnsClient`]);
//! - [`MemoryExecutions`]: which Step Functions executions run
//!   ([`crate::ports::executions::Executions`]);
//! - [`MemoryLedger`]: the ledger ([`crate::ports::ledger::Ledger`]) with its atomic lock;
//! - [`ManualClock`]: a clock a test sets and advances ([`crate::ports::clock::Clock`]).
//!
//! Each twin records the calls it received, and can be told to fail the next calls of an
//! operation with a given error, so that tests can count writes (invariant 3) and exercise
//! retries.

mod clock;
mod dns;
mod executions;
mod ledger;
mod registrar;
mod zones;

pub use clock::ManualClock;
pub use dns::{zone_answer, AnyServer, DnsHandler, Query, ScriptedDns};
pub use executions::MemoryExecutions;
pub use ledger::MemoryLedger;
pub use registrar::{MemoryRegistrar, RegistrarOp};
pub use zones::{MemoryZones, ZoneCall, ZoneOp};

use crate::error::Error;

/// An error a twin can be told to return instead of doing a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `Throttling` (transient).
    Throttled,
    /// `PriorRequestNotComplete` (transient).
    PriorRequestNotComplete,
    /// A timeout or a connection failure (transient).
    Timeout,
    /// A 5xx (transient).
    ServiceUnavailable,
    /// `AccessDenied` (permanent).
    AccessDenied,
    /// Any other API error code (permanent), e.g. `InvalidDomainName`.
    Aws { code: String, message: String },
}

impl Fault {
    /// The error the adapter on the real API would return for this fault.
    pub fn to_error(&self, operation: &str) -> Error {
        let operation = operation.to_owned();
        match self {
            Fault::Throttled => Error::Throttled {
                operation,
                attempts: 1,
            },
            Fault::PriorRequestNotComplete => Error::PriorRequestNotComplete {
                operation,
                attempts: 1,
            },
            Fault::Timeout => Error::Timeout {
                operation,
                message: "injected timeout".into(),
            },
            Fault::ServiceUnavailable => Error::ServiceUnavailable {
                operation,
                message: "injected 503".into(),
            },
            Fault::AccessDenied => Error::AccessDenied {
                operation,
                message: "injected AccessDenied".into(),
            },
            Fault::Aws { code, message } => Error::Aws {
                operation,
                code: code.clone(),
                message: message.clone(),
            },
        }
    }
}

/// Faults waiting to be returned, per operation (first in, first out).
#[derive(Debug)]
struct Faults<Op> {
    pending: Vec<(Op, u32, Fault)>,
}

impl<Op> Default for Faults<Op> {
    fn default() -> Self {
        Faults {
            pending: Vec::new(),
        }
    }
}

impl<Op: PartialEq + Copy> Faults<Op> {
    fn add(&mut self, op: Op, times: u32, fault: Fault) {
        if times > 0 {
            self.pending.push((op, times, fault));
        }
    }

    /// The fault to return for this call of `op`, if one is pending (and counts it down).
    fn take(&mut self, op: Op) -> Option<Fault> {
        let index = self.pending.iter().position(|(o, _, _)| *o == op)?;
        let entry = &mut self.pending[index];
        entry.1 -= 1;
        let fault = entry.2.clone();
        if entry.1 == 0 {
            self.pending.remove(index);
        }
        Some(fault)
    }
}

/// Locks a mutex, recovering the data of a poisoned one (a test that panicked elsewhere).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
