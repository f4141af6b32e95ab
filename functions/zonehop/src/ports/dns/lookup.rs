//! Finding servers through a resolver: the resolver a function uses, the addresses of a
//! zone's name servers, and the zone above a domain with its servers.

use std::net::{IpAddr, SocketAddr};

use zonehop_core::name::Name;
use zonehop_core::zone::RrType;

use crate::error::Error;
use crate::ports::dns::compare::Server;
use crate::ports::dns::DnsClient;
use crate::ports::hosted_zones::HostedZone;

/// Parses `host:port` or a bare address (port 53).
pub fn parse_resolver(text: &str) -> Result<SocketAddr, Error> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            Error::InvalidRequest(format!(
                "resolver `{text}` is not an address (192.0.2.53 or 192.0.2.53:53)"
            ))
        })
}

/// The resolver a function uses: the request's `resolver`, else the configuration's.
pub fn resolver_for(
    requested: Option<&str>,
    configured: Option<SocketAddr>,
) -> Result<SocketAddr, Error> {
    match requested {
        Some(text) => parse_resolver(text),
        None => configured.ok_or_else(|| {
            Error::InvalidRequest(
                "no resolver: set `resolver` in the request or ZONEHOP_RESOLVER".into(),
            )
        }),
    }
}

/// The addresses of a zone's name servers, found through the resolver.
pub async fn server_addresses<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    zone: &HostedZone,
    side: &str,
    port: u16,
) -> Result<Vec<Server>, Error> {
    let mut servers = Vec::new();
    for ns in &zone.name_servers {
        let name =
            Name::parse(ns).map_err(|e| Error::InvalidRequest(format!("name server {ns}: {e}")))?;
        let answer = dns
            .query(resolver, &name, RrType::A, true)
            .await
            .map_err(|e| Error::DnsLookupFailed {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let addresses: Vec<IpAddr> = answer
            .answers
            .iter()
            .filter(|r| r.rtype == "A")
            .filter_map(|r| r.data.parse().ok())
            .collect();
        if addresses.is_empty() {
            return Err(Error::DnsLookupFailed {
                name: name.to_string(),
                message: format!("{} without an address", answer.rcode),
            });
        }
        for ip in addresses {
            servers.push(Server {
                label: format!("{side} {} ({ip})", name.as_str().trim_end_matches('.')),
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    Ok(servers)
}

/// A zone's servers to ask, on every address they publish, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct ZoneServers {
    /// Each server's IPv4 addresses, then its IPv6 ones (when `ipv6` and reachable).
    pub servers: Vec<Server>,
    /// How many of `servers` are IPv6 addresses.
    pub ipv6: usize,
    /// IPv6 addresses published and not asked (no route from this host), and AAAA
    /// lookups that failed: reported, not failed.
    pub warnings: Vec<String>,
}

/// The addresses of a zone's name servers, IPv4 and (with `ipv6`) IPv6, found through the
/// resolver: every address a server publishes is a server to ask, since a resolver may ask
/// any of them. IPv4 is required as by [`server_addresses`]; an AAAA lookup that fails, and
/// an IPv6 address this host has no route to (a Lambda outside a dual-stack VPC), leave the
/// server asked over IPv4 only, with a warning.
pub async fn zone_servers<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    zone: &HostedZone,
    side: &str,
    port: u16,
    ipv6: bool,
) -> Result<ZoneServers, Error> {
    let mut out = ZoneServers {
        servers: server_addresses(dns, resolver, zone, side, port).await?,
        ..ZoneServers::default()
    };
    if !ipv6 {
        return Ok(out);
    }
    let mut unreachable = Vec::new();
    for ns in &zone.name_servers {
        let name =
            Name::parse(ns).map_err(|e| Error::InvalidRequest(format!("name server {ns}: {e}")))?;
        let shown = name.as_str().trim_end_matches('.').to_owned();
        let addresses: Vec<IpAddr> = match dns.query(resolver, &name, RrType::AAAA, true).await {
            Ok(answer) => answer
                .answers
                .iter()
                .filter(|r| r.rtype == "AAAA")
                .filter_map(|r| r.data.parse().ok())
                .collect(),
            Err(e) => {
                out.warnings.push(format!(
                    "{side} server {shown}: its IPv6 addresses could not be found ({e}); asked over IPv4 only"
                ));
                continue;
            }
        };
        for ip in addresses {
            let addr = SocketAddr::new(ip, port);
            if !dns.reaches(addr) {
                unreachable.push(format!("{shown} ({ip})"));
                continue;
            }
            out.ipv6 += 1;
            out.servers.push(Server {
                label: format!("{side} {shown} ({ip})"),
                addr,
            });
        }
    }
    if !unreachable.is_empty() {
        out.warnings.push(format!(
            "{side} servers' IPv6 addresses not asked, no IPv6 route from where this function runs: {}",
            unreachable.join(", ")
        ));
    }
    Ok(out)
}

/// The zone above `domain` (the registry's: `com.`, `co.uk.`) and its servers' names,
/// found by asking the resolver for NS sets above the domain only.
pub async fn parent_zone<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    domain: &Name,
) -> Result<(Name, Vec<Name>), Error> {
    let labels: Vec<&str> = domain.labels().collect();
    for skip in 1..labels.len() {
        let candidate = Name::parse(&labels[skip..].join("."))
            .map_err(|e| Error::InvalidRequest(format!("domain {domain}: {e}")))?;
        let answer = dns
            .query(resolver, &candidate, RrType::NS, true)
            .await
            .map_err(|e| Error::DnsLookupFailed {
                name: candidate.to_string(),
                message: e.to_string(),
            })?;
        let servers: Vec<Name> = answer
            .rrset(&candidate, "NS")
            .iter()
            .filter_map(|r| Name::parse(&r.data).ok())
            .collect();
        if !servers.is_empty() {
            return Ok((candidate, servers));
        }
    }
    Err(Error::DnsLookupFailed {
        name: domain.to_string(),
        message: "no parent zone with NS records above it".into(),
    })
}

/// The IPv4 addresses of `name`, through the resolver.
pub async fn address_of<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    name: &Name,
) -> Result<Vec<std::net::IpAddr>, Error> {
    let answer = dns
        .query(resolver, name, RrType::A, true)
        .await
        .map_err(|e| Error::DnsLookupFailed {
            name: name.to_string(),
            message: e.to_string(),
        })?;
    Ok(answer
        .answers
        .iter()
        .filter(|r| r.rtype == "A")
        .filter_map(|r| r.data.parse().ok())
        .collect())
}

/// The addresses of the servers of the zone above `domain` (the registry's, or a parent
/// zone's), found through the resolver: the servers that publish the domain's live
/// delegation. Fails when a server has no address.
pub async fn parent_addresses<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    domain: &Name,
) -> Result<Vec<IpAddr>, Error> {
    let (_, servers) = parent_zone(dns, resolver, domain).await?;
    let mut addresses = Vec::new();
    for server in &servers {
        let found = address_of(dns, resolver, server).await?;
        if found.is_empty() {
            return Err(Error::DnsLookupFailed {
                name: server.to_string(),
                message: "no address".into(),
            });
        }
        addresses.extend(found);
    }
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}
