//! A whole migration's world in memory, for the steps' unit tests: the source and target
//! accounts (two `MemoryZones`), the registration (`MemoryRegistrar`), the DNS
//! (`ScriptedDns`: every zone's servers answer from the zone live, the parent `com.`
//! servers follow the registration, the resolver finds them), executions and a clock.
//! No AWS, no sockets, no real time.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use zonehop::adapters::memory::{
    ManualClock, MemoryExecutions, MemoryLedger, MemoryRegistrar, MemoryZones, ScriptedDns,
};
use zonehop::core::access::Work;
use zonehop::core::answers::{DnsAnswer, DnsRecord};
use zonehop::core::backoff::RetryPolicy;
use zonehop::core::name::Name;
use zonehop::core::zone::{RecordSet, RrType, Zone};
use zonehop::ports::hosted_zones::HostedZone;
use zonehop::Settings;

pub const EXECUTION: &str = "arn:aws:states:us-east-1:111111111111:execution:zonehop:run-1";
/// The recursive resolver the functions use to find servers.
pub const RESOLVER: &str = "192.0.2.53:53";
/// The probe resolvers the tests' requests name.
pub const PROBE_RESOLVERS: [&str; 4] = [
    "203.0.113.1:53",
    "203.0.113.2:53",
    "203.0.113.3:53",
    "192.0.2.54:53",
];
/// The `com.` servers.
pub const PARENT: [(&str, &str); 2] = [
    ("a.gtld.test.", "198.51.100.1"),
    ("b.gtld.test.", "198.51.100.2"),
];
/// The TTL the parent gives the delegation.
pub const PARENT_NS_TTL: u32 = 172_800;

pub fn n(s: &str) -> Name {
    Name::parse(s).expect("a valid name")
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

pub fn a(name: &str, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), RrType::A, ttl, values)
}

pub fn rr(name: &str, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), rtype, ttl, values)
}

/// Settings for unit tests: the resolver above, fast retries, a short settle.
pub fn settings() -> Settings {
    Settings {
        retry: RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        },
        resolver: Some(addr(RESOLVER)),
        verify_settle: Duration::from_secs(1),
        serving_timeout: Duration::ZERO,
        ..Settings::default()
    }
}

/// A request from its JSON, as the state machine sends it.
pub fn request<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a well-formed request")
}

pub fn answer(records: Vec<DnsRecord>, authorities: Vec<DnsRecord>) -> DnsAnswer {
    DnsAnswer {
        rcode: "NOERROR".into(),
        authoritative: authorities.is_empty(),
        answers: records,
        authorities,
    }
}

pub fn record(name: &str, rtype: &str, ttl: u32, data: &str) -> DnsRecord {
    DnsRecord {
        name: n(name),
        rtype: rtype.into(),
        ttl,
        data: data.into(),
    }
}

/// The wrong address a lying server answers in these tests.
pub const LIE: &str = "198.51.100.66";

/// `server` lies: it answers `name` A with [`LIE`] alone, whatever the zones hold.
pub fn lie_about(dns: &ScriptedDns, server: SocketAddr, name: &str) {
    dns.answer(
        server,
        &n(name),
        RrType::A,
        answer(vec![record(name, "A", 60, LIE)], Vec::new()),
    );
}

/// The delegation a parent server answers for `domain`: a referral to `servers`.
pub fn referral(domain: &str, servers: &[String], ttl: u32) -> DnsAnswer {
    answer(
        Vec::new(),
        servers
            .iter()
            .map(|s| record(domain, "NS", ttl, s))
            .collect(),
    )
}

pub struct World {
    pub domain: Name,
    pub source: Arc<MemoryZones>,
    pub target: Arc<MemoryZones>,
    pub registrar: Arc<MemoryRegistrar>,
    pub dns: ScriptedDns,
    pub executions: MemoryExecutions,
    pub ledger: MemoryLedger,
    pub clock: ManualClock,
    pub source_zone: HostedZone,
}

/// The source zone's records besides its apex SOA and NS.
pub fn example_records() -> Vec<RecordSet> {
    vec![
        a("example.com", 300, &["192.0.2.10"]),
        a("www.example.com", 60, &["192.0.2.11", "192.0.2.12"]),
        rr("example.com", RrType::MX, 3_600, &["10 mail.example.com."]),
        a("mail.example.com", 300, &["192.0.2.20"]),
        rr("example.com", RrType::TXT, 300, &["\"v=spf1 mx -all\""]),
        rr("api.example.com", RrType::CNAME, 300, &["www.example.com."]),
        a("dev.example.com", 60, &["192.0.2.30"]),
        a("api.dev.example.com", 60, &["192.0.2.31"]),
    ]
}

/// A failover pair for app.example.com whose primary names health check `check`.
pub fn failover_pair(check: &str) -> Vec<RecordSet> {
    use zonehop::core::zone::Failover;
    let mut primary = a("app.example.com", 60, &["192.0.2.40"]);
    primary.set_identifier = Some("primary".into());
    primary.failover = Some(Failover::Primary);
    primary.health_check_id = Some(check.into());
    let mut secondary = a("app.example.com", 60, &["192.0.2.41"]);
    secondary.set_identifier = Some("secondary".into());
    secondary.failover = Some(Failover::Secondary);
    vec![primary, secondary]
}

/// Preflight's ports on a [`World`], with a registration of the test's choice.
pub type WorldPreflightPorts<'a, G> = zonehop::steps::preflight::PreflightPorts<
    'a,
    MemoryZones,
    MemoryZones,
    G,
    ScriptedDns,
    MemoryExecutions,
    MemoryLedger,
>;

impl World {
    /// Preflight's ports on this world, with `registrar` as the registration (the world's
    /// own `MemoryRegistrar`, or a parent zone).
    pub fn preflight_ports<'a, G>(&'a self, registrar: &'a G) -> WorldPreflightPorts<'a, G> {
        zonehop::steps::preflight::PreflightPorts {
            source: &*self.source,
            target: &*self.target,
            registrar,
            dns: &self.dns,
            executions: &self.executions,
            ledger: &self.ledger,
        }
    }
}

impl World {
    /// example.com in the source account with [`example_records`], registered with its
    /// servers; the target account empty.
    pub fn new() -> World {
        let domain = n("example.com");
        let source = Arc::new(MemoryZones::new());
        let target = Arc::new(MemoryZones::new());
        let registrar = Arc::new(MemoryRegistrar::new());
        let source_zone = source.add_zone(&domain);
        source
            .put_records(&source_zone.id, example_records())
            .expect("source zone");
        registrar.register(&domain, &source_zone.name_servers);
        let dns = ScriptedDns::new();
        let resolver = addr(RESOLVER);
        dns.serve_zones(Arc::clone(&source), resolver);
        dns.serve_zones(Arc::clone(&target), resolver);
        // The probe resolvers the tests name answer (nothing in particular) until a test
        // scripts them or silences one.
        for probe in PROBE_RESOLVERS {
            dns.serve_with(
                addr(probe),
                Arc::new(|_: &Name, _: RrType| Some(answer(Vec::new(), Vec::new()))),
            );
        }
        // The resolver knows com. and its servers.
        dns.answer(
            resolver,
            &n("com."),
            RrType::NS,
            answer(
                PARENT
                    .iter()
                    .map(|(name, _)| record("com.", "NS", 172_800, name))
                    .collect(),
                Vec::new(),
            ),
        );
        for (name, ip) in PARENT {
            dns.answer(
                resolver,
                &n(name),
                RrType::A,
                answer(vec![record(name, "A", 172_800, ip)], Vec::new()),
            );
            // Each parent server delegates as the registration says, live.
            let registrar = Arc::clone(&registrar);
            let delegated = domain.clone();
            dns.serve_with(
                SocketAddr::new(ip.parse().expect("ip"), 53),
                Arc::new(move |name, rtype| {
                    if *name != delegated {
                        return None;
                    }
                    let servers = registrar.servers_of(&delegated)?;
                    Some(match rtype {
                        RrType::NS => referral(delegated.as_str(), &servers, PARENT_NS_TTL),
                        _ => answer(Vec::new(), Vec::new()),
                    })
                }),
            );
        }
        World {
            domain,
            source,
            target,
            registrar,
            dns,
            executions: MemoryExecutions::new(),
            ledger: MemoryLedger::new(),
            clock: ManualClock::at(1_750_000_000),
            source_zone,
        }
    }

    pub fn parent_addresses() -> Vec<SocketAddr> {
        PARENT
            .iter()
            .map(|(_, ip)| SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), 53))
            .collect()
    }

    pub fn source_id(&self) -> &str {
        &self.source_zone.id
    }

    /// The source and target sides of a request.
    pub fn zones_json(&self, target_id: Option<&str>) -> Value {
        json!({
            "domain": "example.com",
            "source": { "hostedZoneId": self.source_id() },
            "target": { "hostedZoneId": target_id },
        })
    }

    /// Adds fields to [`World::zones_json`].
    pub fn with(&self, target_id: Option<&str>, extra: Value) -> Value {
        let mut base = self.zones_json(target_id);
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        base
    }

    /// Source zone records, now.
    pub fn source_records(&self) -> Zone {
        self.source.records(self.source_id()).expect("source zone")
    }

    /// Every write accepted by either account or the registrar.
    pub fn writes(&self) -> usize {
        self.source.writes() + self.target.writes() + self.registrar.writes()
    }

    /// The canary of the target (what sync-records adds).
    pub fn new_canary() -> RecordSet {
        rr("_zonehop.example.com", RrType::TXT, 60, &["\"side=new\""])
    }
}

impl World {
    /// create-zone for example.com in the target account, as the state machine runs it.
    pub async fn create_target(&self) -> zonehop::steps::create_zone::CreateZoneOutput {
        zonehop::steps::create_zone::create_zone(
            &*self.target,
            &request(json!({ "domain": "example.com", "target": {}, "executionId": EXECUTION })),
            &settings(),
        )
        .await
        .expect("create-zone succeeds")
    }
}

/// The apex NS record of a zone.
pub fn apex_ns(zone: &Zone, apex: &Name) -> RecordSet {
    zone.iter()
        .find(|r| r.name == *apex && r.rtype == RrType::NS)
        .cloned()
        .expect("an apex NS")
}

impl World {
    /// Forgets every call the twins received so far.
    pub fn clear_calls(&self) {
        self.source.clear_calls();
        self.target.clear_calls();
        self.registrar.clear_calls();
    }
}

/// Asserts that every call the twins received since the last [`World::clear_calls`] is an
/// action `work` is granted (`zonehop_core::access`, which the session policies, the member
/// role and the function roles of the templates are held to), and that every record it
/// wrote has a type and a name its session policy allows.
pub fn assert_least_privilege(work: Work, w: &World) {
    let allowed = work.actions();
    let names = work.record_names(&w.domain);
    let like = |pattern: &str, name: &str| match pattern.strip_prefix('*') {
        Some(suffix) => name.ends_with(suffix),
        None => pattern == name,
    };
    for zones in [&w.source, &w.target] {
        for call in zones.calls() {
            let action = format!("route53:{}", call.op.as_str());
            assert!(
                allowed.contains(&action.as_str()),
                "{work:?} called {action}, which its policy does not grant"
            );
            for (name, rtype) in &call.written {
                if let Some(types) = work.record_types() {
                    assert!(
                        types.contains(&rtype.to_string().as_str()),
                        "{work:?} wrote a {rtype} record ({name}), outside its record types {types:?}"
                    );
                }
                let normalized = name.as_str().trim_end_matches('.');
                assert!(
                    names.iter().any(|p| like(p, normalized)),
                    "{work:?} wrote {normalized}, outside its record names {names:?}"
                );
            }
        }
    }
    for op in w.registrar.ops() {
        let action = format!("route53domains:{}", op.as_str());
        assert!(
            allowed.contains(&action.as_str()),
            "{work:?} called {action}, which its policy does not grant"
        );
    }
}
