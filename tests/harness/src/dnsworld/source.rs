//! Reading what the world serves from moto: every public hosted zone of the served
//! accounts with its records, and the registrations of the registrar account; and the
//! registrations of the world's own registry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_sdk_route53::error::DisplayErrorContext;
use zonehop::adapters::accounts::{config_with_role, route53_client};
use zonehop::adapters::route53::Route53;
use zonehop::core::backoff::RetryPolicy;
use zonehop::core::request::AccountAccess;
use zonehop::core::zone::bare_zone_id;
use zonehop::ports::hosted_zones::read_zone;
use zonehop::ports::retry::{RetryStats, Retrying};
use zonehop::{Error, Name};

use super::layout::{HostedZoneState, RegisteredServer, Snapshot};
use super::registry::Registry;
use super::WorldError;

/// A poll is repeated soon anyway: retry briefly, then report.
const POLL_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base: Duration::from_millis(50),
    cap: Duration::from_millis(400),
};

struct Account {
    client: aws_sdk_route53::Client,
    adapter: Route53,
}

/// The clients of the served accounts and of the registrar.
pub struct Source {
    accounts: Vec<Account>,
    registrar: Option<aws_sdk_route53domains::Client>,
    registry: Registry,
    /// Zone id -> its assigned name servers (they never change).
    name_servers: HashMap<String, Vec<Name>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("accounts", &self.accounts.len())
            .field("registrar", &self.registrar.is_some())
            .finish()
    }
}

fn aws_error(operation: &str, message: String) -> WorldError {
    WorldError::Aws {
        operation: operation.to_owned(),
        message,
    }
}

fn from_zonehop(operation: &str, error: &Error) -> WorldError {
    aws_error(operation, error.to_string())
}

impl Source {
    pub async fn new(
        aws: &SdkConfig,
        accounts: &[AccountAccess],
        registrar: Option<&AccountAccess>,
        registry: Registry,
    ) -> Source {
        let mut clients = Vec::with_capacity(accounts.len());
        for access in accounts {
            let config = config_with_role(aws, access, "zonehop-dnsworld").await;
            let client = route53_client(&config);
            clients.push(Account {
                adapter: Route53::new(client.clone()),
                client,
            });
        }
        let registrar = match registrar {
            Some(access) => {
                let config = config_with_role(aws, access, "zonehop-dnsworld").await;
                let conf = aws_sdk_route53domains::config::Builder::from(&config)
                    .region(Region::new("us-east-1"))
                    .build();
                Some(aws_sdk_route53domains::Client::from_conf(conf))
            }
            None => None,
        };
        Source {
            accounts: clients,
            registrar,
            registry,
            name_servers: HashMap::new(),
        }
    }

    /// Everything to serve, now.
    pub async fn snapshot(&mut self) -> Result<Snapshot, WorldError> {
        let mut snapshot = Snapshot::default();
        let stats = RetryStats::default();
        for (index, account) in self.accounts.iter().enumerate() {
            let mut marker: Option<String> = None;
            loop {
                let page = account
                    .client
                    .list_hosted_zones()
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error("ListHostedZones", DisplayErrorContext(&e).to_string())
                    })?;
                for zone in page.hosted_zones() {
                    if zone.config().is_some_and(|c| c.private_zone()) {
                        continue;
                    }
                    let id = bare_zone_id(zone.id()).to_owned();
                    let name = Name::parse(zone.name()).map_err(|e| {
                        aws_error("ListHostedZones", format!("zone name {}: {e}", zone.name()))
                    })?;
                    if !self.name_servers.contains_key(&id) {
                        match account.client.get_hosted_zone().id(&id).send().await {
                            Ok(out) => {
                                let servers = out
                                    .delegation_set()
                                    .map(|d| d.name_servers().to_vec())
                                    .unwrap_or_default()
                                    .iter()
                                    .filter_map(|s| Name::parse(s).ok())
                                    .collect();
                                self.name_servers.insert(id.clone(), servers);
                            }
                            // Deleted since the listing: it is simply gone.
                            Err(e)
                                if e.as_service_error()
                                    .is_some_and(|s| s.is_no_such_hosted_zone()) =>
                            {
                                continue
                            }
                            Err(e) => {
                                return Err(aws_error(
                                    "GetHostedZone",
                                    DisplayErrorContext(&e).to_string(),
                                ))
                            }
                        }
                    }
                    let records =
                        match read_zone(&Retrying::new(&account.adapter, POLL_RETRY, &stats), &id)
                            .await
                        {
                            Ok(records) => records,
                            Err(Error::ZoneNotFound { .. }) => continue,
                            Err(e) => return Err(from_zonehop("ListResourceRecordSets", &e)),
                        };
                    snapshot.zones.push(HostedZoneState {
                        name_servers: self.name_servers.get(&id).cloned().unwrap_or_default(),
                        id,
                        name,
                        account: index,
                        records,
                    });
                }
                match page.next_marker() {
                    Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        if let Some(domains) = &self.registrar {
            let mut marker: Option<String> = None;
            loop {
                let page = domains
                    .list_domains()
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| aws_error("ListDomains", DisplayErrorContext(&e).to_string()))?;
                for summary in page.domains() {
                    let Some(domain) = summary.domain_name() else {
                        continue;
                    };
                    let detail = domains
                        .get_domain_detail()
                        .domain_name(domain)
                        .send()
                        .await
                        .map_err(|e| {
                            aws_error("GetDomainDetail", DisplayErrorContext(&e).to_string())
                        })?;
                    let servers = detail
                        .nameservers()
                        .iter()
                        .filter_map(|ns| {
                            Some(RegisteredServer {
                                name: Name::parse(ns.name()).ok()?,
                                glue: ns
                                    .glue_ips()
                                    .iter()
                                    .filter_map(|ip| ip.parse::<IpAddr>().ok())
                                    .collect(),
                            })
                        })
                        .collect();
                    if let Ok(name) = Name::parse(domain) {
                        snapshot.registrations.insert(name, servers);
                    }
                }
                match page.next_page_marker() {
                    Some(next) => marker = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        // The registry's registrations win: a domain registered outside AWS is not
        // Route 53 Domains' to delegate.
        snapshot.registrations.extend(self.registry.registrations());
        Ok(snapshot)
    }
}
