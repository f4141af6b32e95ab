//! What the local DNS internet serves, computed from one snapshot of moto: which knotd
//! serves which zones on which addresses, and the text of every zone file.
//!
//! The servers (each one knotd):
//! - one per set of hosted-zone name servers (`nsK.zN.zonehop-dns.test`), listening on the
//!   addresses of its four names and serving every hosted zone assigned to that set (a
//!   reusable delegation set serves several zones, as in Route 53);
//! - one per registry zone in use: every level from a TLD down to a public suffix that
//!   delegates a domain (`com.`; `kr.` and `co.kr.`; `test.` always), each delegating to the
//!   next; the suffix of a domain comes from the Public Suffix List ([`super::suffix`]);
//! - `zonehop-dns.test.` (the "infra" server): the address of every name server in use;
//! - the root `.`.
//!
//! Address plan inside the world's block 127.X.0.0/16: .0.1 root, .0.2 unbound, .0.3 kresd,
//! .0.4 infra, .1.1 to .15.254 registry (TLD and suffix) servers, .16.1 upwards hosted-zone
//! name servers, .255.254 the block's
//! reservation. Everything listens on port 53, because resolvers only follow delegations
//! to port 53.
//!
//! Who delegates a domain at its public suffix: its registration when there is one (in the
//! world's own [`super::registry::Registry`], which the rehearsal's operator edits for a
//! registrar outside AWS, else in Route 53 Domains), else the apex NS of the first hosted
//! zone of that name (accounts in the order given, then moto's listing order). moto
//! registers a domain with four fixed placeholder servers (`ns-2048.awscdn-64.net` ...) where
//! Route 53 would use its new zone's: until UpdateDomainNameservers replaces them, the
//! registration counts as absent. Zones below another served zone (`dev.example.com` under
//! `example.com`) get no delegation here: their parent's NS records in moto delegate them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use zonehop::core::zone::{RrType, Zone};
use zonehop::Name;

use super::render::{fnv1a, render_hosted_zone, zone_file_name, HostedZoneInput};
use super::suffix;
use super::Ttls;

/// The domain that holds the addresses of every name server in the world.
pub const NS_DOMAIN: &str = "zonehop-dns.test";

/// One hosted zone as read from moto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedZoneState {
    /// Bare id.
    pub id: String,
    pub name: Name,
    /// Index of the account in the world's options.
    pub account: usize,
    /// The zone's assigned name servers (GetHostedZone's DelegationSet).
    pub name_servers: Vec<Name>,
    pub records: Zone,
}

/// One name server of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredServer {
    pub name: Name,
    pub glue: Vec<IpAddr>,
}

/// Everything the world serves, as read from moto at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub zones: Vec<HostedZoneState>,
    /// Registered domain -> its name servers (Route 53 Domains).
    pub registrations: BTreeMap<Name, Vec<RegisteredServer>>,
}

/// A knotd of the world.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerKey {
    /// A set of hosted-zone name servers (sorted).
    Hosted(Vec<Name>),
    Infra,
    /// A registry server: a TLD (`com.`) or a public suffix below one (`co.kr.`).
    Suffix(SuffixKey),
    Root,
}
// The derived order (hosted, infra, registries deepest first, root) is the order changes are
// applied in: what a delegation points to is served before the delegation.

/// A registry zone, ordered deepest first (`co.kr.` before `kr.`: see [`ServerKey`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SuffixKey {
    depth: std::cmp::Reverse<usize>,
    zone: Name,
}

impl SuffixKey {
    pub fn new(zone: &Name) -> SuffixKey {
        SuffixKey {
            depth: std::cmp::Reverse(zone.label_count()),
            zone: zone.clone(),
        }
    }

    pub fn zone(&self) -> &Name {
        &self.zone
    }
}

/// One zone of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The file's name (without directory and extension).
    pub file_stem: String,
    pub text: String,
}

/// One knotd: its addresses and its zones (by zone-file name, `example.com.`, `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Unique, stable, file-name safe: the server's directory and its name in errors.
    pub role: String,
    pub addrs: Vec<Ipv4Addr>,
    pub zones: BTreeMap<String, ZoneSpec>,
}

/// What to serve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub servers: BTreeMap<ServerKey, ServerSpec>,
    /// Hosted zone id -> the addresses of its name servers.
    pub zone_servers: BTreeMap<String, Vec<Ipv4Addr>>,
    /// Where each delegated domain's delegation lives: domain -> TLD server address.
    pub delegated_at: BTreeMap<Name, Ipv4Addr>,
    /// Every name server of the world (hosted, TLD, infra, root) -> its address.
    pub names: BTreeMap<Name, Ipv4Addr>,
    pub warnings: Vec<String>,
}

/// Addresses handed out so far: stable for the life of the world.
#[derive(Debug, Clone)]
pub struct AddressBook {
    block: u8,
    names: BTreeMap<Name, Ipv4Addr>,
    next_hosted: u32,
    suffixes: BTreeMap<Name, Ipv4Addr>,
}

impl AddressBook {
    pub fn new(block: u8) -> AddressBook {
        AddressBook {
            block,
            names: BTreeMap::new(),
            next_hosted: 0,
            suffixes: BTreeMap::new(),
        }
    }

    pub fn block(&self) -> u8 {
        self.block
    }

    fn at(&self, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.block, c, d)
    }

    pub fn root(&self) -> Ipv4Addr {
        self.at(0, 1)
    }

    pub fn unbound(&self) -> Ipv4Addr {
        self.at(0, 2)
    }

    pub fn kresd(&self) -> Ipv4Addr {
        self.at(0, 3)
    }

    pub fn infra(&self) -> Ipv4Addr {
        self.at(0, 4)
    }

    /// Held for the world's life so that no other world takes the block.
    pub fn reservation(&self) -> Ipv4Addr {
        self.at(255, 254)
    }

    /// The address of a hosted-zone name server, allocated on first use.
    fn hosted(&mut self, name: &Name) -> Result<Ipv4Addr, String> {
        if let Some(addr) = self.names.get(name) {
            return Ok(*addr);
        }
        // 127.X.16.1 .. 127.X.254.254, skipping .0 and .255 host octets.
        let index = self.next_hosted;
        let (c, d) = (16 + index / 254, 1 + index % 254);
        let (Ok(c), Ok(d)) = (u8::try_from(c), u8::try_from(d)) else {
            return Err(format!(
                "no address left in 127.{}.0.0/16 for {name}",
                self.block
            ));
        };
        if c > 254 {
            return Err(format!(
                "no address left in 127.{}.0.0/16 for {name}",
                self.block
            ));
        }
        self.next_hosted += 1;
        let addr = self.at(c, d);
        self.names.insert(name.clone(), addr);
        Ok(addr)
    }

    /// The two addresses of a registry (TLD or public suffix) server, allocated on first
    /// use: 127.X.1.1 .. 127.X.15.254. Two, as a registry has several servers: a resolver or
    /// check-propagation may meet one silent while the other answers (`FAULTS=parent-dead`).
    fn suffix(&mut self, zone: &Name) -> Result<[Ipv4Addr; 2], String> {
        let first = self.suffix_addr(zone.clone())?;
        let second = self.suffix_addr(nic_servers(zone)[1].clone())?;
        Ok([first, second])
    }

    /// One registry address, allocated on first use for `key`.
    fn suffix_addr(&mut self, zone: Name) -> Result<Ipv4Addr, String> {
        if let Some(addr) = self.suffixes.get(&zone) {
            return Ok(*addr);
        }
        let index = self.suffixes.len();
        let (c, d) = (1 + index / 254, 1 + index % 254);
        match (u8::try_from(c), u8::try_from(d)) {
            (Ok(c), Ok(d)) if c < 16 => {
                let addr = self.at(c, d);
                self.suffixes.insert(zone, addr);
                Ok(addr)
            }
            _ => Err(format!(
                "{zone}: no registry server address left in 127.{}.1.0-127.{}.15.255, not served",
                self.block, self.block
            )),
        }
    }
}

fn name(s: &str) -> Name {
    // Only called with the constant names of this module.
    Name::parse(s).unwrap_or_else(|_| unreachable!("`{s}` is a valid name"))
}

/// The name of the server of a TLD or public suffix (in-bailiwick, so its glue is
/// accepted by every resolver).
pub fn nic_server(zone: &Name) -> Name {
    name(&format!("ns.zonehop-nic.{zone}"))
}

/// Both servers of a TLD or public suffix: [`nic_server`] and `ns2.zonehop-nic.<zone>`.
pub fn nic_servers(zone: &Name) -> [Name; 2] {
    [nic_server(zone), name(&format!("ns2.zonehop-nic.{zone}"))]
}

/// The root server's name.
pub fn root_server() -> Name {
    name(&format!("a.root.{NS_DOMAIN}"))
}

/// The infra server's name.
pub fn infra_server() -> Name {
    name(&format!("ns.{NS_DOMAIN}"))
}

fn ns_domain() -> Name {
    name(NS_DOMAIN)
}

fn tld_of(n: &Name) -> Name {
    let last = n.labels().last().unwrap_or_default().to_owned();
    name(&last)
}

/// moto gives a new registration four fixed servers (`ns-2048.awscdn-64.net` ...) instead
/// of its hosted zone's: such a registration delegates like no registration at all.
fn is_moto_placeholder(servers: &[RegisteredServer]) -> bool {
    !servers.is_empty()
        && servers.iter().all(|s| {
            let labels: Vec<&str> = s.name.labels().collect();
            labels.len() == 3 && labels[1].starts_with("awscdn-") && labels[2] == "net"
        })
}

/// The file-name-safe form of a name or id.
pub fn file_safe(s: &str) -> String {
    let cleaned: String = s
        .trim_end_matches('.')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "root".to_owned()
    } else {
        cleaned
    }
}

/// Zone text for the world's own zones: an SOA whose serial is a hash of the rest (knotd
/// reloads a file whatever its serial, measured; resolvers ignore it), then `body`.
fn infra_zone(zone: &str, primary: &Name, ttls: &Ttls, body: &str) -> String {
    let serial = u32::try_from(fnv1a(body.as_bytes()) % 0x7fff_ffff).unwrap_or(1) + 1;
    format!(
        "{zone} {} IN SOA {} hostmaster.{NS_DOMAIN}. {serial} 1800 900 604800 {}\n{body}",
        ttls.infrastructure,
        zone_file_name(primary),
        ttls.negative,
    )
}

fn push_rr(body: &mut String, owner: &str, ttl: u32, rtype: &str, value: &str) {
    let _ = writeln!(body, "{owner} {ttl} IN {rtype} {value}");
}

/// A delegation at a TLD or public suffix.
#[derive(Debug, Clone)]
struct Delegation {
    servers: Vec<Name>,
    glue: Vec<(Name, Ipv4Addr)>,
}

/// Computes what to serve. `suffixes` are public suffixes beyond the Public Suffix List's.
pub fn layout(
    snapshot: &Snapshot,
    book: &mut AddressBook,
    ttls: &Ttls,
    suffixes: &BTreeSet<Name>,
) -> Layout {
    let mut out = Layout::default();
    let ns_domain = ns_domain();

    // Hosted zones, grouped by their name-server set.
    let mut served_zones: Vec<&HostedZoneState> = Vec::new();
    let mut used_names: BTreeMap<Name, Ipv4Addr> = BTreeMap::new();
    for zone in &snapshot.zones {
        let label = format!("hosted zone {} ({})", zone.name, zone.id);
        if zone.name.is_at_or_below(&ns_domain) {
            out.warnings.push(format!(
                "{label}: {NS_DOMAIN} belongs to the world, not served"
            ));
            continue;
        }
        if suffix::is_public_suffix(&zone.name, suffixes) {
            out.warnings
                .push(format!("{label}: a TLD or public suffix, not served"));
            continue;
        }
        if zone.name_servers.is_empty() {
            out.warnings
                .push(format!("{label}: no name servers, not served"));
            continue;
        }
        let mut addrs = Vec::new();
        for ns in &zone.name_servers {
            match book.hosted(ns) {
                Ok(addr) => {
                    addrs.push(addr);
                    used_names.insert(ns.clone(), addr);
                }
                Err(e) => out.warnings.push(format!("{label}: {e}")),
            }
        }
        if addrs.len() != zone.name_servers.len() {
            continue;
        }
        let mut key_names = zone.name_servers.clone();
        key_names.sort();
        key_names.dedup();
        let first = key_names
            .first()
            .cloned()
            .unwrap_or_else(|| ns_domain.clone());
        let short = first
            .as_str()
            .strip_suffix(&format!(".{NS_DOMAIN}."))
            .map_or_else(|| file_safe(first.as_str()), file_safe);
        let server = out
            .servers
            .entry(ServerKey::Hosted(key_names))
            .or_insert_with(|| ServerSpec {
                role: format!("hosted-{short}"),
                addrs: addrs.clone(),
                zones: BTreeMap::new(),
            });
        let domain = zone_file_name(&zone.name);
        if server.zones.contains_key(&domain) {
            out.warnings.push(format!(
                "{label}: another zone of that name is already on the same name servers, not served"
            ));
            continue;
        }
        let rendered = render_hosted_zone(&HostedZoneInput {
            id: &zone.id,
            name: &zone.name,
            name_servers: &zone.name_servers,
            records: &zone.records,
        });
        out.warnings.extend(
            rendered
                .warnings
                .into_iter()
                .map(|w| format!("{label}: {w}")),
        );
        server.zones.insert(
            domain,
            ZoneSpec {
                file_stem: file_safe(&zone.id),
                text: rendered.text,
            },
        );
        out.zone_servers.insert(zone.id.clone(), addrs);
        served_zones.push(zone);
    }

    // Delegations at the TLDs and public suffixes.
    let served_names: BTreeSet<&Name> = served_zones.iter().map(|z| &z.name).collect();
    let registered: BTreeMap<&Name, &Vec<RegisteredServer>> = snapshot
        .registrations
        .iter()
        .filter(|(_, servers)| !servers.is_empty() && !is_moto_placeholder(servers))
        .collect();
    let mut domains: BTreeSet<Name> = served_names
        .iter()
        .filter(|n| !served_names.iter().any(|other| n.is_below(other)))
        .map(|n| (*n).clone())
        .collect();
    domains.extend(registered.keys().map(|n| (*n).clone()));
    let mut delegations: BTreeMap<Name, BTreeMap<Name, Delegation>> = BTreeMap::new();
    for domain in &domains {
        if domain.is_at_or_below(&ns_domain) || suffix::is_public_suffix(domain, suffixes) {
            continue;
        }
        if registered.keys().any(|r| domain.is_below(r)) {
            // The registered parent's delegation hides it: its parent zone delegates it.
            continue;
        }
        let delegation = if let Some(servers) = registered.get(domain) {
            Delegation {
                servers: servers.iter().map(|s| s.name.clone()).collect(),
                glue: servers
                    .iter()
                    .filter(|s| s.name.is_below(domain))
                    .flat_map(|s| {
                        s.glue.iter().filter_map(|ip| match ip {
                            IpAddr::V4(v4) if v4.is_loopback() => Some((s.name.clone(), *v4)),
                            _ => None,
                        })
                    })
                    .collect(),
            }
        } else if let Some(zone) = served_zones.iter().find(|z| z.name == *domain) {
            let apex_ns: Vec<Name> = zone
                .records
                .iter()
                .filter(|r| {
                    r.name == zone.name && r.rtype == RrType::NS && r.set_identifier.is_none()
                })
                .flat_map(|r| r.values().filter_map(|v| Name::parse(v.trim()).ok()))
                .collect();
            Delegation {
                servers: if apex_ns.is_empty() {
                    zone.name_servers.clone()
                } else {
                    apex_ns
                },
                glue: Vec::new(),
            }
        } else {
            continue;
        };
        let suffix = suffix::registry_of(domain, suffixes).unwrap_or_else(|| tld_of(domain));
        delegations
            .entry(suffix)
            .or_default()
            .insert(domain.clone(), delegation);
    }

    // The registries: every level from each TLD down to each suffix in use is a zone on a
    // knotd of its own, delegated from the level above (root -> kr. -> co.kr.), as on the
    // internet; `test.` always (it delegates zonehop-dns.test.).
    let mut zones_in_use: BTreeSet<Name> = BTreeSet::from([name("test")]);
    for suffix_zone in delegations.keys() {
        zones_in_use.extend(suffix::chain(suffix_zone));
    }
    let mut addrs: BTreeMap<Name, [Ipv4Addr; 2]> = BTreeMap::new();
    for zone in &zones_in_use {
        match book.suffix(zone) {
            Ok(addr) => {
                addrs.insert(zone.clone(), addr);
            }
            Err(e) => out.warnings.push(e),
        }
    }
    let no_delegations = BTreeMap::new();
    let mut root_body = String::new();
    let root_ns = root_server();
    push_rr(
        &mut root_body,
        ".",
        ttls.infrastructure,
        "NS",
        &zone_file_name(&root_ns),
    );
    push_rr(
        &mut root_body,
        &zone_file_name(&root_ns),
        ttls.infrastructure,
        "A",
        &book.root().to_string(),
    );
    for (zone, pair) in &addrs {
        let zone_ns = nic_server(zone);
        let mut body = String::new();
        push_nic_servers(&mut body, zone, pair, ttls);
        // The next levels down (`co.kr.` in `kr.`), with the glue of their servers.
        for (child, child_pair) in addrs
            .iter()
            .filter(|(c, _)| suffix::parent_of(c).as_ref() == Some(zone))
        {
            push_nic_servers(&mut body, child, child_pair, ttls);
        }
        let addr = &pair[0];
        if *zone == name("test") {
            let infra_ns = infra_server();
            push_rr(
                &mut body,
                &zone_file_name(&ns_domain),
                ttls.infrastructure,
                "NS",
                &zone_file_name(&infra_ns),
            );
            push_rr(
                &mut body,
                &zone_file_name(&infra_ns),
                ttls.infrastructure,
                "A",
                &book.infra().to_string(),
            );
        }
        write_delegations(
            &mut body,
            delegations.get(zone).unwrap_or(&no_delegations),
            ttls,
            *addr,
            &mut out.delegated_at,
        );
        out.servers.insert(
            ServerKey::Suffix(SuffixKey::new(zone)),
            ServerSpec {
                role: format!("tld-{}", file_safe(zone.as_str())),
                addrs: pair.to_vec(),
                zones: BTreeMap::from([(
                    zone_file_name(zone),
                    ZoneSpec {
                        file_stem: file_safe(zone.as_str()),
                        text: infra_zone(&zone_file_name(zone), &zone_ns, ttls, &body),
                    },
                )]),
            },
        );
        for (ns, addr) in nic_servers(zone).into_iter().zip(pair) {
            out.names.insert(ns, *addr);
        }
        if zone.label_count() == 1 {
            push_nic_servers(&mut root_body, zone, pair, ttls);
        }
    }

    // zonehop-dns.test.: every name server in use, and the world's own servers.
    let mut infra_body = String::new();
    let infra_ns = infra_server();
    push_rr(
        &mut infra_body,
        &zone_file_name(&ns_domain),
        ttls.infrastructure,
        "NS",
        &zone_file_name(&infra_ns),
    );
    out.names
        .extend(used_names.iter().map(|(n, a)| (n.clone(), *a)));
    out.names.insert(infra_ns.clone(), book.infra());
    out.names.insert(root_ns.clone(), book.root());
    let mut addresses: BTreeMap<Name, Ipv4Addr> = used_names
        .into_iter()
        .filter(|(n, _)| n.is_below(&ns_domain))
        .collect();
    addresses.insert(infra_ns.clone(), book.infra());
    addresses.insert(root_ns.clone(), book.root());
    for (ns, addr) in &addresses {
        push_rr(
            &mut infra_body,
            &zone_file_name(ns),
            ttls.infrastructure,
            "A",
            &addr.to_string(),
        );
    }
    out.servers.insert(
        ServerKey::Infra,
        ServerSpec {
            role: "infra".to_owned(),
            addrs: vec![book.infra()],
            zones: BTreeMap::from([(
                zone_file_name(&ns_domain),
                ZoneSpec {
                    file_stem: file_safe(NS_DOMAIN),
                    text: infra_zone(&zone_file_name(&ns_domain), &infra_ns, ttls, &infra_body),
                },
            )]),
        },
    );
    out.servers.insert(
        ServerKey::Root,
        ServerSpec {
            role: "root".to_owned(),
            addrs: vec![book.root()],
            zones: BTreeMap::from([(
                ".".to_owned(),
                ZoneSpec {
                    file_stem: "root".to_owned(),
                    text: infra_zone(".", &root_ns, ttls, &root_body),
                },
            )]),
        },
    );
    out
}

/// The NS set of a registry zone (its two servers) and their glue, in `body` (the zone's own
/// apex, or its parent's delegation).
fn push_nic_servers(body: &mut String, zone: &Name, addrs: &[Ipv4Addr; 2], ttls: &Ttls) {
    for (ns, addr) in nic_servers(zone).iter().zip(addrs) {
        push_rr(
            body,
            &zone_file_name(zone),
            ttls.infrastructure,
            "NS",
            &zone_file_name(ns),
        );
        push_rr(
            body,
            &zone_file_name(ns),
            ttls.infrastructure,
            "A",
            &addr.to_string(),
        );
    }
}

fn write_delegations(
    body: &mut String,
    delegations: &BTreeMap<Name, Delegation>,
    ttls: &Ttls,
    server: Ipv4Addr,
    delegated_at: &mut BTreeMap<Name, Ipv4Addr>,
) {
    for (domain, delegation) in delegations {
        let owner = zone_file_name(domain);
        for ns in &delegation.servers {
            push_rr(body, &owner, ttls.delegation, "NS", &zone_file_name(ns));
        }
        for (ns, addr) in &delegation.glue {
            push_rr(
                body,
                &zone_file_name(ns),
                ttls.delegation,
                "A",
                &addr.to_string(),
            );
        }
        delegated_at.insert(domain.clone(), server);
    }
}

/// The public suffixes a world adds to the Public Suffix List's (its options' own).
pub fn suffix_set(extra: &[String]) -> Result<BTreeSet<Name>, String> {
    extra
        .iter()
        .map(|s| Name::parse(s).map_err(|e| format!("public suffix `{s}`: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop::core::zone::RecordSet;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    fn ttls() -> Ttls {
        Ttls {
            delegation: 7,
            infrastructure: 11,
            negative: 3,
            resolver_max: None,
            resolver_max_negative: None,
        }
    }

    fn hosted(
        id: &str,
        domain: &str,
        account: usize,
        set: &str,
        apex_ns: Option<&str>,
    ) -> HostedZoneState {
        let servers: Vec<Name> = (1..=4)
            .map(|k| n(&format!("ns{k}.{set}.{NS_DOMAIN}")))
            .collect();
        let ns_values: Vec<String> = match apex_ns {
            Some(other) => (1..=4)
                .map(|k| format!("ns{k}.{other}.{NS_DOMAIN}."))
                .collect(),
            None => servers.iter().map(|s| s.as_str().to_owned()).collect(),
        };
        let ns_refs: Vec<&str> = ns_values.iter().map(String::as_str).collect();
        let soa = format!(
            "{} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
            servers[0]
        );
        HostedZoneState {
            id: id.to_owned(),
            name: n(domain),
            account,
            name_servers: servers,
            records: Zone::new([
                RecordSet::simple(n(domain), RrType::SOA, 900, &[&soa]),
                RecordSet::simple(n(domain), RrType::NS, 172_800, &ns_refs),
                RecordSet::simple(n(&format!("www.{domain}")), RrType::A, 60, &["192.0.2.1"]),
            ]),
        }
    }

    fn run(snapshot: &Snapshot) -> (Layout, AddressBook) {
        let mut book = AddressBook::new(9);
        let suffixes = suffix_set(&[]).expect("suffixes");
        let layout = layout(snapshot, &mut book, &ttls(), &suffixes);
        (layout, book)
    }

    fn suffix_key(zone: &str) -> ServerKey {
        ServerKey::Suffix(SuffixKey::new(&n(zone)))
    }

    fn zone_text<'a>(layout: &'a Layout, key: &ServerKey, zone: &str) -> &'a str {
        &layout.servers[key].zones[zone].text
    }

    fn delegation_lines(text: &str, owner: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{owner} ")) && l.contains(" IN NS "))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_lone_zone_is_delegated_by_its_own_apex_ns_and_its_servers_get_addresses() {
        let snapshot = Snapshot {
            zones: vec![hosted("Z1", "example.com", 0, "z1", None)],
            ..Snapshot::default()
        };
        let (layout, _) = run(&snapshot);
        let keys: Vec<&ServerKey> = layout.servers.keys().collect();
        assert_eq!(
            keys.len(),
            5,
            "hosted, infra, tld com, tld test, root: {keys:?}"
        );
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        assert_eq!(
            delegation_lines(com, "example.com."),
            (1..=4)
                .map(|k| format!("example.com. 7 IN NS ns{k}.z1.zonehop-dns.test."))
                .collect::<Vec<_>>()
        );
        let infra = zone_text(&layout, &ServerKey::Infra, "zonehop-dns.test.");
        assert!(
            infra.contains("ns1.z1.zonehop-dns.test. 11 IN A 127.9.16.1"),
            "{infra}"
        );
        assert!(
            infra.contains("ns4.z1.zonehop-dns.test. 11 IN A 127.9.16.4"),
            "{infra}"
        );
        assert!(
            infra.contains("a.root.zonehop-dns.test. 11 IN A 127.9.0.1"),
            "{infra}"
        );
        let root = zone_text(&layout, &ServerKey::Root, ".");
        assert!(root.contains("com. 11 IN NS ns.zonehop-nic.com."), "{root}");
        assert!(
            root.contains("test. 11 IN NS ns.zonehop-nic.test."),
            "{root}"
        );
        assert!(
            root.starts_with(". 11 IN SOA a.root.zonehop-dns.test. hostmaster.zonehop-dns.test. ")
        );
        let test = zone_text(&layout, &suffix_key("test"), "test.");
        assert!(
            test.contains("zonehop-dns.test. 11 IN NS ns.zonehop-dns.test."),
            "{test}"
        );
        assert!(
            test.contains("ns.zonehop-dns.test. 11 IN A 127.9.0.4"),
            "{test}"
        );
        assert_eq!(layout.zone_servers["Z1"].len(), 4);
        // TLD servers get addresses in name order: com. before test.
        assert_eq!(
            layout.delegated_at[&n("example.com")],
            Ipv4Addr::new(127, 9, 1, 1)
        );
    }

    #[test]
    fn the_first_account_wins_without_a_registration_and_a_registration_wins_over_it() {
        let mut snapshot = Snapshot {
            zones: vec![
                hosted("ZOLD", "example.com", 0, "z1", None),
                hosted("ZNEW", "example.com", 1, "z2", None),
            ],
            ..Snapshot::default()
        };
        let (layout, _) = run(&snapshot);
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        assert!(delegation_lines(com, "example.com.")[0].ends_with("ns1.z1.zonehop-dns.test."));

        // moto's placeholder servers on a fresh registration count as no registration.
        snapshot.registrations.insert(
            n("example.com"),
            ["ns-2048.awscdn-64.net", "ns-2051.awscdn-67.net"]
                .iter()
                .map(|s| RegisteredServer {
                    name: n(s),
                    glue: vec![],
                })
                .collect(),
        );
        let (layout, _) = run(&snapshot);
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        assert!(delegation_lines(com, "example.com.")[0].ends_with("ns1.z1.zonehop-dns.test."));

        snapshot.registrations.insert(
            n("example.com"),
            (1..=4)
                .map(|k| RegisteredServer {
                    name: n(&format!("ns{k}.z2.{NS_DOMAIN}")),
                    glue: vec![],
                })
                .collect(),
        );
        let (layout, _) = run(&snapshot);
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        let lines = delegation_lines(com, "example.com.");
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.contains(".z2.")), "{lines:?}");
    }

    #[test]
    fn a_child_zone_gets_no_delegation_at_the_tld_and_a_lone_subdomain_does() {
        let snapshot = Snapshot {
            zones: vec![
                hosted("Z1", "example.com", 0, "z1", None),
                hosted("Z3", "dev.example.com", 1, "z3", None),
                hosted("Z4", "api.other.org", 0, "z4", None),
            ],
            ..Snapshot::default()
        };
        let (layout, _) = run(&snapshot);
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        assert!(
            delegation_lines(com, "dev.example.com.").is_empty(),
            "{com}"
        );
        let org = zone_text(&layout, &suffix_key("org"), "org.");
        assert_eq!(delegation_lines(org, "api.other.org.").len(), 4, "{org}");
        assert_eq!(layout.zone_servers.len(), 3);
    }

    #[test]
    fn each_level_of_a_multi_label_suffix_is_a_zone_on_its_own_server() {
        let snapshot = Snapshot {
            zones: vec![
                hosted("Z1", "example.co.uk", 0, "z1", None),
                hosted("Z2", "example.co.kr", 0, "z2", None),
                hosted("Z3", "example.com.au", 0, "z3", None),
            ],
            ..Snapshot::default()
        };
        let (layout, _) = run(&snapshot);
        for (tld, suffix) in [("uk", "co.uk"), ("kr", "co.kr"), ("au", "com.au")] {
            let parent = &layout.servers[&suffix_key(tld)];
            let child = &layout.servers[&suffix_key(suffix)];
            assert_eq!(parent.zones.len(), 1);
            assert_eq!(child.zones.len(), 1);
            assert_ne!(parent.addrs, child.addrs, "{suffix}: a server of its own");
            let parent_text = &parent.zones[&format!("{tld}.")].text;
            assert!(
                parent_text.contains(&format!(
                    "{suffix}. 11 IN NS ns.zonehop-nic.{suffix}.\nns.zonehop-nic.{suffix}. 11 IN A {}",
                    child.addrs[0]
                )),
                "{parent_text}"
            );
            assert!(
                delegation_lines(parent_text, &format!("example.{suffix}.")).is_empty(),
                "the TLD does not delegate the domain: {parent_text}"
            );
            let child_text = &child.zones[&format!("{suffix}.")].text;
            assert_eq!(
                delegation_lines(child_text, &format!("example.{suffix}.")).len(),
                4,
                "{child_text}"
            );
            assert_eq!(
                layout.delegated_at[&n(&format!("example.{suffix}"))],
                child.addrs[0]
            );
            let root = zone_text(&layout, &ServerKey::Root, ".");
            assert!(
                root.contains(&format!("{tld}. 11 IN NS ns.zonehop-nic.{tld}.")),
                "{root}"
            );
            assert!(!root.contains(&format!(" {suffix}. ")), "{root}");
        }
    }

    #[test]
    fn a_registration_delegates_a_domain_no_hosted_zone_holds() {
        // The world's own registry (a registrar outside AWS) names the servers.
        let mut snapshot = Snapshot {
            zones: vec![hosted("Z1", "usa.gov", 0, "z1", None)],
            ..Snapshot::default()
        };
        snapshot.registrations.insert(
            n("usa.gov"),
            (1..=4)
                .map(|k| RegisteredServer {
                    name: n(&format!("ns{k}.z7.{NS_DOMAIN}")),
                    glue: vec![],
                })
                .collect(),
        );
        let (layout, _) = run(&snapshot);
        let gov = zone_text(&layout, &suffix_key("gov"), "gov.");
        let lines = delegation_lines(gov, "usa.gov.");
        assert_eq!(lines.len(), 4, "{gov}");
        assert!(lines.iter().all(|l| l.contains(".z7.")), "{lines:?}");
    }

    #[test]
    fn registry_servers_are_applied_deepest_first() {
        let mut keys = [suffix_key("kr"), suffix_key("co.kr"), ServerKey::Root];
        keys.sort();
        assert_eq!(
            keys,
            [suffix_key("co.kr"), suffix_key("kr"), ServerKey::Root]
        );
    }

    #[test]
    fn zones_on_one_reusable_set_share_a_server() {
        let mut a = hosted("ZA", "a.example", 0, "r1", None);
        let mut b = hosted("ZB", "b.example", 0, "r1", None);
        a.name_servers.reverse();
        b.name_servers.rotate_left(1);
        let (layout, _) = run(&Snapshot {
            zones: vec![a, b],
            ..Snapshot::default()
        });
        let hosted: Vec<&ServerSpec> = layout
            .servers
            .iter()
            .filter(|(k, _)| matches!(k, ServerKey::Hosted(_)))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(hosted.len(), 1);
        assert_eq!(hosted[0].zones.len(), 2);
        assert_eq!(hosted[0].role, "hosted-ns1.r1");
    }

    #[test]
    fn addresses_stay_put_across_snapshots() {
        let mut book = AddressBook::new(9);
        let suffixes = suffix_set(&[]).expect("suffixes");
        let one = Snapshot {
            zones: vec![hosted("Z1", "example.com", 0, "z1", None)],
            ..Snapshot::default()
        };
        let two = Snapshot {
            zones: vec![
                hosted("Z2", "example.net", 0, "z2", None),
                hosted("Z1", "example.com", 0, "z1", None),
            ],
            ..Snapshot::default()
        };
        let first = layout(&one, &mut book, &ttls(), &suffixes);
        let second = layout(&two, &mut book, &ttls(), &suffixes);
        assert_eq!(first.zone_servers["Z1"], second.zone_servers["Z1"]);
        assert_eq!(second.zone_servers["Z2"][0], Ipv4Addr::new(127, 9, 16, 5));
        assert_eq!(
            first.servers[&suffix_key("com")].addrs,
            second.servers[&suffix_key("com")].addrs
        );
    }

    #[test]
    fn the_apex_ns_in_moto_decides_without_a_registration() {
        // The source zone's own apex NS was pointed at the target's servers (step 7).
        let (layout, _) = run(&Snapshot {
            zones: vec![hosted("Z1", "example.com", 0, "z1", Some("z2"))],
            ..Snapshot::default()
        });
        let com = zone_text(&layout, &suffix_key("com"), "com.");
        assert!(delegation_lines(com, "example.com.")
            .iter()
            .all(|l| l.contains(".z2.")));
    }
}
