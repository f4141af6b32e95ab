//! Route 53 Domains in memory: registrations and their name servers.

use std::collections::BTreeMap;
use std::sync::Mutex;

use zonehop_core::delegation::canonical_servers;
use zonehop_core::name::Name;

use super::{lock, Fault, Faults};
use crate::error::Error;
use crate::ports::registrar::Registrar;

/// The Route 53 Domains operations [`MemoryRegistrar`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegistrarOp {
    GetDomainDetail,
    UpdateDomainNameservers,
    GetOperationDetail,
}

impl RegistrarOp {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrarOp::GetDomainDetail => "GetDomainDetail",
            RegistrarOp::UpdateDomainNameservers => "UpdateDomainNameservers",
            RegistrarOp::GetOperationDetail => "GetOperationDetail",
        }
    }
}

#[derive(Debug, Clone)]
struct Operation {
    domain: Name,
    servers: Vec<String>,
    polls: u32,
    fails: bool,
    status: &'static str,
}

#[derive(Debug, Default)]
struct State {
    domains: BTreeMap<Name, Vec<String>>,
    operations: BTreeMap<String, Operation>,
    next_operation: u32,
    polls_until_done: u32,
    fail_next_operations: u32,
    calls: Vec<(RegistrarOp, Option<&'static str>)>,
    faults: Faults<RegistrarOp>,
}

/// Registrations in memory. `UpdateDomainNameservers` returns an operation that
/// GetOperationDetail reports `SUBMITTED`, then `IN_PROGRESS`, for the configured number
/// of polls (0 by default), then `SUCCESSFUL` (the name servers change at that moment) or
/// `FAILED` when told to ([`MemoryRegistrar::fail_next_operations`]). An update while
/// another operation on the domain is unfinished fails as Route 53 Domains'
/// `DuplicateRequest` does, which the adapter maps to `PriorRequestNotComplete`.
#[derive(Debug, Default)]
pub struct MemoryRegistrar {
    state: Mutex<State>,
}

impl MemoryRegistrar {
    pub fn new() -> MemoryRegistrar {
        MemoryRegistrar::default()
    }

    /// Registers `domain`, delegated to `servers`.
    pub fn register(&self, domain: &Name, servers: &[String]) {
        lock(&self.state)
            .domains
            .insert(domain.clone(), canonical_servers(servers));
    }

    /// Drops `domain`'s registration (another account holds it, or nobody).
    pub fn forget(&self, domain: &Name) {
        lock(&self.state).domains.remove(domain);
    }

    /// The name servers the registration names now.
    pub fn servers_of(&self, domain: &Name) -> Option<Vec<String>> {
        lock(&self.state).domains.get(domain).cloned()
    }

    /// Each operation answers this many in-flight statuses before its final one.
    pub fn set_polls_until_done(&self, polls: u32) {
        lock(&self.state).polls_until_done = polls;
    }

    /// The next `count` operations end `FAILED`, leaving the name servers as they were.
    pub fn fail_next_operations(&self, count: u32) {
        lock(&self.state).fail_next_operations = count;
    }

    /// The next `times` calls of `op` fail with `fault`.
    pub fn fail_next(&self, op: RegistrarOp, times: u32, fault: Fault) {
        lock(&self.state).faults.add(op, times, fault);
    }

    /// How many calls of `op` were received (failed ones included).
    pub fn count(&self, op: RegistrarOp) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|(o, _)| *o == op)
            .count()
    }

    /// Forgets the calls received so far (the registrations stay).
    pub fn clear_calls(&self) {
        lock(&self.state).calls.clear();
    }

    /// Every call received, in order (failed ones included).
    pub fn ops(&self) -> Vec<RegistrarOp> {
        lock(&self.state).calls.iter().map(|(op, _)| *op).collect()
    }

    /// The accepted UpdateDomainNameservers calls.
    pub fn writes(&self) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|(o, e)| *o == RegistrarOp::UpdateDomainNameservers && e.is_none())
            .count()
    }

    fn begin(&self, op: RegistrarOp) -> Result<(), Error> {
        let mut state = lock(&self.state);
        let error = state.faults.take(op).map(|f| f.to_error(op.as_str()));
        state
            .calls
            .push((op, error.as_ref().map(Error::error_type)));
        error.map_or(Ok(()), Err)
    }

    fn failed(state: &mut State, error: Error) -> Error {
        if let Some(last) = state.calls.last_mut() {
            last.1 = Some(error.error_type());
        }
        error
    }
}

fn not_found(operation: &str, domain: &Name) -> Error {
    // Route 53 Domains answers InvalidInput, which the adapter maps to ChangeRejected.
    Error::ChangeRejected {
        operation: operation.to_owned(),
        message: format!("domain {domain} not found in this account"),
    }
}

impl Registrar for MemoryRegistrar {
    async fn name_servers(&self, domain: &Name) -> Result<Vec<String>, Error> {
        self.begin(RegistrarOp::GetDomainDetail)?;
        let mut state = lock(&self.state);
        match state.domains.get(domain).cloned() {
            Some(servers) => Ok(servers),
            // As the adapter names GetDomainDetail's InvalidInput.
            None => Err(MemoryRegistrar::failed(
                &mut state,
                Error::DomainNotRegistered {
                    domain: domain.as_str().trim_end_matches('.').to_owned(),
                    message: format!("domain {domain} not found in this account"),
                },
            )),
        }
    }

    async fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<String, Error> {
        self.begin(RegistrarOp::UpdateDomainNameservers)?;
        let mut state = lock(&self.state);
        if !state.domains.contains_key(domain) {
            let error = not_found("UpdateDomainNameservers", domain);
            return Err(MemoryRegistrar::failed(&mut state, error));
        }
        let busy = state
            .operations
            .values()
            .any(|o| o.domain == *domain && matches!(o.status, "SUBMITTED" | "IN_PROGRESS"));
        if busy {
            let error = Error::PriorRequestNotComplete {
                operation: "UpdateDomainNameservers".into(),
                attempts: 1,
            };
            return Err(MemoryRegistrar::failed(&mut state, error));
        }
        let fails = state.fail_next_operations > 0;
        state.fail_next_operations = state.fail_next_operations.saturating_sub(1);
        state.next_operation += 1;
        let id = format!("op-{:08}", state.next_operation);
        let operation = Operation {
            domain: domain.clone(),
            servers: canonical_servers(servers),
            polls: 0,
            fails,
            status: "SUBMITTED",
        };
        state.operations.insert(id.clone(), operation);
        Ok(id)
    }

    async fn operation_status(&self, operation_id: &str) -> Result<String, Error> {
        self.begin(RegistrarOp::GetOperationDetail)?;
        let mut state = lock(&self.state);
        let polls_until_done = state.polls_until_done;
        let Some(operation) = state.operations.get_mut(operation_id) else {
            let error = Error::ChangeRejected {
                operation: "GetOperationDetail".into(),
                message: format!("no operation {operation_id}"),
            };
            return Err(MemoryRegistrar::failed(&mut state, error));
        };
        if matches!(operation.status, "SUBMITTED" | "IN_PROGRESS") {
            operation.polls += 1;
            if operation.polls > polls_until_done {
                operation.status = if operation.fails {
                    "FAILED"
                } else {
                    "SUCCESSFUL"
                };
                if !operation.fails {
                    let (domain, servers) = (operation.domain.clone(), operation.servers.clone());
                    let status = operation.status;
                    state.domains.insert(domain, servers);
                    return Ok(status.to_owned());
                }
            } else if operation.polls > 1 {
                operation.status = "IN_PROGRESS";
            }
        }
        Ok(operation.status.to_owned())
    }
}
