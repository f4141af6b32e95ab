//! `zonehop resume DOMAIN`: the manual registrar path. The execution waits in
//! `Ask Operator To Swap Nameservers` with a task token in its history; before sending it
//! back, ask the parent zone's own servers (found through a resolver, asked directly, as
//! check-propagation asks them) what they delegate the domain to. Only when every one of them
//! names exactly the target zone's servers is the token sent.

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;
use zonehop::core::delegation::canonical_servers;
use zonehop::core::zone::RrType;
use zonehop::ports::dns::lookup::parent_addresses;
use zonehop::ports::dns::DnsClient;
use zonehop::Name;

use crate::history::{state_visits, HistoryEvent};
use crate::progress::{operator_request, OPERATOR_STATE};

/// What the execution asks of the operator, while it waits: the servers to set and the
/// token that resumes it (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Waiting {
    pub name_servers: Vec<String>,
    pub task_token: String,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("name_servers", &self.name_servers)
            .field("task_token", &"(hidden)")
            .finish()
    }
}

/// The request of the operator's state the execution is in now, if it is in it.
pub fn waiting(history: &[HistoryEvent]) -> Option<Waiting> {
    if history.iter().any(HistoryEvent::ends_execution) {
        return None;
    }
    let open = state_visits(history)
        .into_iter()
        .rev()
        .find(|v| v.name == OPERATOR_STATE)
        .filter(|v| v.exited.is_none())?;
    let request: Value = history
        .iter()
        .filter(|e| e.timestamp >= open.entered)
        .find_map(operator_request)?;
    let task_token = request["taskToken"].as_str()?.to_owned();
    let name_servers = request["nameServers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    Some(Waiting {
        name_servers: canonical_servers(&name_servers),
        task_token,
    })
}

/// What one parent server delegates the domain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentView {
    pub server: SocketAddr,
    /// Canonical server names; empty when it did not answer with a delegation.
    pub name_servers: Vec<String>,
    /// Why it gave none (timeout, an rcode).
    pub problem: Option<String>,
}

/// Asks each server of the zone above `domain` (found through `resolver`, asked on `port`)
/// for the domain's delegation.
pub async fn parent_views<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    port: u16,
    domain: &Name,
) -> Result<Vec<ParentView>, zonehop::Error> {
    let addresses: Vec<IpAddr> = parent_addresses(dns, resolver, domain).await?;
    let mut views = Vec::new();
    for ip in addresses {
        let server = SocketAddr::new(ip, port);
        let view = match dns.query(server, domain, RrType::NS, false).await {
            Ok(answer) => {
                let names: Vec<String> = answer
                    .delegation(domain)
                    .iter()
                    .map(|r| r.data.clone())
                    .collect();
                ParentView {
                    server,
                    problem: names
                        .is_empty()
                        .then(|| format!("no delegation ({})", answer.rcode)),
                    name_servers: canonical_servers(&names),
                }
            }
            Err(e) => ParentView {
                server,
                name_servers: Vec::new(),
                problem: Some(e.to_string()),
            },
        };
        views.push(view);
    }
    Ok(views)
}

/// True when every parent server names exactly `wanted` (canonical).
pub fn all_name(views: &[ParentView], wanted: &[String]) -> bool {
    !views.is_empty() && views.iter().all(|v| v.name_servers == wanted)
}
