//! DNS servers as a script: fixed answers a test changes between calls, handlers that
//! answer from live data (a [`super::MemoryZones`] zone through [`zone_answer`]), and
//! silent servers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use zonehop_core::answers::{DnsAnswer, DnsRecord};
use zonehop_core::name::Name;
use zonehop_core::zone::{bare_zone_id, RrType, Zone};

use super::lock;
use crate::ports::dns::{DnsClient, DnsError};

/// Answers a server's questions from live data; `None` leaves the question to the
/// server's default (REFUSED).
pub type DnsHandler = Arc<dyn Fn(&Name, RrType) -> Option<DnsAnswer> + Send + Sync>;

/// Answers for any server (see [`ScriptedDns::serve_any_with`]).
pub type AnyServer = Arc<dyn Fn(SocketAddr, &Name, RrType) -> Option<DnsAnswer> + Send + Sync>;

/// One query received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub server: SocketAddr,
    pub name: Name,
    pub rtype: RrType,
    pub recursion: bool,
}

#[derive(Default)]
struct State {
    answers: BTreeMap<(SocketAddr, Name, RrType), DnsAnswer>,
    handlers: BTreeMap<SocketAddr, DnsHandler>,
    any_server: Vec<AnyServer>,
    silent: BTreeSet<SocketAddr>,
    /// Queries still to be left unanswered, per server (a server that drops a few packets).
    drops: BTreeMap<SocketAddr, u32>,
    queries: Vec<Query>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("answers", &self.answers.len())
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("silent", &self.silent)
            .field("queries", &self.queries.len())
            .finish_non_exhaustive()
    }
}

/// DNS servers that answer as scripted. A query is answered, in this order: a silent
/// server (or one told to drop its next queries) times out; a fixed answer for the exact
/// (server, name, type); the server's handler; the fallback for any server; a server the
/// script knows answers REFUSED; any other address times out (nothing listens).
#[derive(Debug, Default)]
pub struct ScriptedDns {
    state: Mutex<State>,
    /// The zones' servers publish AAAA addresses too ([`ScriptedDns::publish_ipv6`]).
    ipv6_published: Arc<AtomicBool>,
    /// This host has no IPv6 route ([`ScriptedDns::set_ipv6_route`]).
    no_ipv6_route: AtomicBool,
}

/// The timeout a silent server gives (what the wire adapter reports after its attempts).
const SILENT_TIMEOUT_MS: u64 = 2_000;

impl ScriptedDns {
    pub fn new() -> ScriptedDns {
        ScriptedDns::default()
    }

    /// The servers of [`ScriptedDns::serve_zones`] publish an AAAA address each
    /// ([`super::MemoryZones::server_address6`]), and answer on it as on their IPv4 one.
    pub fn publish_ipv6(&self, published: bool) {
        self.ipv6_published.store(published, Ordering::SeqCst);
    }

    /// Whether this host has an IPv6 route ([`DnsClient::reaches`]; by default it has).
    pub fn set_ipv6_route(&self, route: bool) {
        self.no_ipv6_route.store(!route, Ordering::SeqCst);
    }

    /// `server` answers `answer` to `name`/`rtype` (replacing any previous answer).
    pub fn answer(&self, server: SocketAddr, name: &Name, rtype: RrType, answer: DnsAnswer) {
        lock(&self.state)
            .answers
            .insert((server, name.clone(), rtype), answer);
    }

    /// Forgets the fixed answer of `server` to `name`/`rtype`.
    pub fn forget(&self, server: SocketAddr, name: &Name, rtype: RrType) {
        lock(&self.state)
            .answers
            .remove(&(server, name.clone(), rtype));
    }

    /// `server` answers what `handler` says (after its fixed answers).
    pub fn serve_with(&self, server: SocketAddr, handler: DnsHandler) {
        lock(&self.state).handlers.insert(server, handler);
    }

    /// Any server without a fixed answer or a handler of its own asks the fallbacks, in the
    /// order they were added (e.g. every address of a [`super::MemoryZones`] name server).
    pub fn serve_any_with(&self, fallback: AnyServer) {
        lock(&self.state).any_server.push(fallback);
    }

    /// `server` stops answering (every query times out) or answers again.
    pub fn set_silent(&self, server: SocketAddr, silent: bool) {
        let mut state = lock(&self.state);
        if silent {
            state.silent.insert(server);
        } else {
            state.silent.remove(&server);
        }
    }

    /// `server` leaves its next `count` queries unanswered, then answers again.
    pub fn drop_next(&self, server: SocketAddr, count: u32) {
        lock(&self.state).drops.insert(server, count);
    }

    /// Every query received so far.
    pub fn queries(&self) -> Vec<Query> {
        lock(&self.state).queries.clone()
    }

    /// How many queries `server` received.
    pub fn queries_to(&self, server: SocketAddr) -> usize {
        lock(&self.state)
            .queries
            .iter()
            .filter(|q| q.server == server)
            .count()
    }

    fn respond(&self, server: SocketAddr, name: &Name, rtype: RrType) -> Option<DnsAnswer> {
        let (fixed, handler, any) = {
            let mut state = lock(&self.state);
            let dropping = match state.drops.get_mut(&server) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    true
                }
                _ => false,
            };
            if dropping || state.silent.contains(&server) {
                return None;
            }
            (
                state.answers.get(&(server, name.clone(), rtype)).cloned(),
                state.handlers.get(&server).cloned(),
                state.any_server.clone(),
            )
        };
        // Handlers run without the lock: they may read other twins.
        if let Some(answer) = fixed {
            return Some(answer);
        }
        if let Some(answer) = handler.as_ref().and_then(|h| h(name, rtype)) {
            return Some(answer);
        }
        if let Some(answer) = any.iter().find_map(|h| h(server, name, rtype)) {
            return Some(answer);
        }
        let known = {
            let state = lock(&self.state);
            handler.is_some() || state.answers.keys().any(|(s, _, _)| *s == server)
        };
        known.then(|| DnsAnswer {
            rcode: "REFUSED".into(),
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
        })
    }
}

impl DnsClient for ScriptedDns {
    fn reaches(&self, server: SocketAddr) -> bool {
        !(server.is_ipv6() && self.no_ipv6_route.load(Ordering::SeqCst))
    }

    async fn query(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RrType,
        recursion: bool,
    ) -> Result<DnsAnswer, DnsError> {
        lock(&self.state).queries.push(Query {
            server,
            name: name.clone(),
            rtype,
            recursion,
        });
        self.respond(server, name, rtype).ok_or(DnsError::Timeout {
            server,
            timeout_ms: SILENT_TIMEOUT_MS,
        })
    }
}

fn record(name: &Name, rtype: &str, ttl: i64, data: &str) -> DnsRecord {
    DnsRecord {
        name: name.clone(),
        rtype: rtype.to_owned(),
        ttl: u32::try_from(ttl.max(0)).unwrap_or(u32::MAX),
        data: data.to_owned(),
    }
}

/// What Route 53's authoritative server for `zone` (apex `apex`, id `zone_id`) answers to
/// `name`/`rtype`: the RRset (all record sets of the name and type, whatever their routing
/// policy); a CNAME for any other type at its name; a referral (NS in the authority
/// section, not authoritative) below a delegation; NODATA or NXDOMAIN with the SOA;
/// REFUSED outside the zone. A same-zone alias answers its target's values and TTL; an
/// alias to an AWS resource answers `alias:<target>` with TTL 60.
pub fn zone_answer(
    zone: &Zone,
    apex: &Name,
    zone_id: &str,
    name: &Name,
    rtype: RrType,
) -> DnsAnswer {
    let mut out = DnsAnswer {
        rcode: "NOERROR".into(),
        authoritative: true,
        answers: Vec::new(),
        authorities: Vec::new(),
    };
    if !name.is_at_or_below(apex) {
        out.rcode = "REFUSED".into();
        out.authoritative = false;
        return out;
    }
    // The closest delegation at or above the name (not the apex).
    let cut = zone
        .iter()
        .filter(|r| r.rtype == RrType::NS && r.name != *apex && name.is_at_or_below(&r.name))
        .max_by_key(|r| r.name.label_count());
    if let Some(cut) = cut {
        let parent_side = rtype == RrType::DS && *name == cut.name;
        if !parent_side {
            out.authoritative = false;
            out.authorities = cut
                .values()
                .map(|v| record(&cut.name, "NS", cut.ttl.unwrap_or(0), v))
                .collect();
            return out;
        }
    }
    let values_of = |name: &Name, rtype: RrType| -> Vec<DnsRecord> {
        zone.iter()
            .filter(|r| r.name == *name && r.rtype == rtype)
            .flat_map(|r| match &r.alias_target {
                Some(alias) if bare_zone_id(&alias.hosted_zone_id) == bare_zone_id(zone_id) => zone
                    .iter()
                    .filter(|t| t.name == alias.dns_name && t.rtype == rtype)
                    .flat_map(|t| {
                        t.values()
                            .map(|v| record(name, rtype.as_str(), t.ttl.unwrap_or(0), v))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>(),
                Some(alias) => vec![record(
                    name,
                    rtype.as_str(),
                    60,
                    &format!("alias:{}", alias.dns_name),
                )],
                None => r
                    .values()
                    .map(|v| record(name, rtype.as_str(), r.ttl.unwrap_or(0), v))
                    .collect(),
            })
            .collect()
    };
    out.answers = values_of(name, rtype);
    if out.answers.is_empty() && rtype != RrType::CNAME {
        out.answers = values_of(name, RrType::CNAME);
    }
    if out.answers.is_empty() {
        if !zone.iter().any(|r| r.name.is_at_or_below(name)) {
            out.rcode = "NXDOMAIN".into();
        }
        out.authorities = zone
            .iter()
            .filter(|r| r.name == *apex && r.rtype == RrType::SOA)
            .flat_map(|r| {
                r.values()
                    .map(|v| record(apex, "SOA", r.ttl.unwrap_or(0), v))
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    out
}

impl ScriptedDns {
    /// Plays Route 53's servers for every zone of `zones`, live: each address of a name
    /// server `ns-N.memory.test.` ([`super::MemoryZones::server_address`]) answers for the
    /// zone that lists it, as [`zone_answer`] says; and `resolver` answers the A queries for
    /// those names (its other answers are scripted as usual, and come first).
    pub fn serve_zones(&self, zones: Arc<super::MemoryZones>, resolver: SocketAddr) {
        let servers = Arc::clone(&zones);
        self.serve_any_with(Arc::new(move |addr, name, rtype| {
            let zone = servers.zones().into_iter().find(|z| {
                z.name_servers.iter().any(|ns| {
                    Name::parse(ns).ok().is_some_and(|n| {
                        super::MemoryZones::server_address(&n) == Some(addr.ip())
                            || super::MemoryZones::server_address6(&n) == Some(addr.ip())
                    })
                })
            })?;
            let records = servers.records(&zone.id).ok()?;
            Some(zone_answer(&records, &zone.name, &zone.id, name, rtype))
        }));
        let previous = lock(&self.state).handlers.get(&resolver).cloned();
        let ipv6 = Arc::clone(&self.ipv6_published);
        self.serve_with(
            resolver,
            Arc::new(move |name, rtype| {
                if let Some(answer) = previous.as_ref().and_then(|h| h(name, rtype)) {
                    return Some(answer);
                }
                let ip = super::MemoryZones::server_address(name)?;
                let answers = match rtype {
                    RrType::A => vec![record(name, "A", 300, &ip.to_string())],
                    RrType::AAAA if ipv6.load(Ordering::SeqCst) => {
                        super::MemoryZones::server_address6(name)
                            .map(|v6| record(name, "AAAA", 300, &v6.to_string()))
                            .into_iter()
                            .collect()
                    }
                    _ => Vec::new(),
                };
                Some(DnsAnswer {
                    rcode: "NOERROR".into(),
                    authoritative: false,
                    answers,
                    authorities: Vec::new(),
                })
            }),
        );
    }
}
