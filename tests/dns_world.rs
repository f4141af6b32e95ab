//! The local DNS internet against moto: what moto's Route 53 holds is answered by the
//! zone's own four servers, through a TLD delegation, by unbound and kresd; changes are
//! served within a second; child zones and registrations delegate like on the internet.
//!
//! Port 53 needs root or a namespace:
//! `unshare -rn sh -c 'ip link set lo up; cargo test -p zonehop-tests --test dns_world'`.
//! Queries go through `dig`, always to 127.X addresses of the world.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType as SdkRrType,
};
use zonehop::adapters::accounts::{config_with_role, route53_client};
use zonehop::core::request::AccountAccess;
use zonehop::core::zone::{AliasTarget, RecordSet, RrType};
use zonehop::Name;
use zonehop_world::dnsworld::render::fixture_values;
use zonehop_world::dnsworld::{DnsWorld, Registry, Ttls, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::registrar::{register, registrar_access, set_name_servers};
use zonehop_world::{seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("valid name")
}

/// One record of a dig answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rr {
    name: String,
    ttl: u32,
    rtype: String,
    data: String,
}

/// What dig printed.
#[derive(Debug, Clone)]
struct Answer {
    status: String,
    authoritative: bool,
    answer: Vec<Rr>,
    authority: Vec<Rr>,
}

impl Answer {
    /// The data of the answer records of one type, sorted.
    fn data(&self, rtype: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.data.clone())
            .collect();
        out.sort();
        out
    }

    fn ttls(&self, rtype: &str) -> Vec<u32> {
        self.answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.ttl)
            .collect()
    }
}

fn parse_rr(line: &str) -> Option<Rr> {
    let mut rest = line.trim_start();
    let mut fields = Vec::new();
    for _ in 0..4 {
        let end = rest.find(char::is_whitespace)?;
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Some(Rr {
        name: fields[0].to_owned(),
        ttl: fields[1].parse().ok()?,
        rtype: fields[3].to_owned(),
        data: rest.trim_end().to_owned(),
    })
}

/// Asks `server` with dig; `recurse` sets RD.
async fn dig(server: SocketAddr, name: &str, rtype: &str, recurse: bool) -> Answer {
    assert!(
        server.ip().to_string().starts_with("127."),
        "only the world is asked"
    );
    let out = tokio::process::Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .arg(if recurse { "+rec" } else { "+norec" })
        .args(["+tries=1", "+time=3", name, rtype])
        .output()
        .await
        .expect("dig runs (apt-get install bind9-dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut answer = Answer {
        status: "NO REPLY".to_owned(),
        authoritative: false,
        answer: Vec::new(),
        authority: Vec::new(),
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(header) = line.strip_prefix(";; ->>HEADER<<- ") {
            if let Some(status) = header.split(", ").find_map(|p| p.strip_prefix("status: ")) {
                answer.status = status.to_owned();
            }
        } else if let Some(flags) = line.strip_prefix(";; flags: ") {
            let flags = flags.split(';').next().unwrap_or_default();
            answer.authoritative = flags.split_whitespace().any(|f| f == "aa");
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";;") || line.trim().is_empty() {
            section = if line.trim().is_empty() { "" } else { section };
        } else if let Some(rr) = parse_rr(line) {
            match section {
                "answer" => answer.answer.push(rr),
                "authority" => answer.authority.push(rr),
                _ => {}
            }
        }
    }
    answer
}

async fn r53_client(moto: &Moto, access: &AccountAccess) -> aws_sdk_route53::Client {
    let config = config_with_role(&moto.config().await, access, "dns-world-test").await;
    route53_client(&config)
}

/// One UPSERT of a simple record set.
async fn upsert(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    name: &str,
    rtype: &str,
    ttl: i64,
    values: &[&str],
) {
    let records = values
        .iter()
        .map(|v| ResourceRecord::builder().value(*v).build().expect("record"))
        .collect::<Vec<_>>();
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(SdkRrType::from(rtype))
        .ttl(ttl)
        .set_resource_records(Some(records))
        .build()
        .expect("record set");
    client
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("upsert");
}

async fn name_servers(client: &aws_sdk_route53::Client, zone_id: &str) -> Vec<String> {
    let out = client
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .expect("get hosted zone");
    out.delegation_set()
        .expect("delegation set")
        .name_servers()
        .to_vec()
}

fn simple(name: &str, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), rtype, ttl, values)
}

fn alias(name: &str, zone: &str, target: &str) -> RecordSet {
    RecordSet::alias(
        n(name),
        RrType::A,
        AliasTarget {
            hosted_zone_id: zone.to_owned(),
            dns_name: n(target),
            evaluate_target_health: false,
        },
    )
}

const ELB: &str = "dualstack.my-lb-123.us-east-1.elb.amazonaws.com.";

/// Every type, a wildcard, an alias chain, an alias to an ELB, TXT with several strings and
/// an octal escape, a weighted pair.
fn every_kind() -> Vec<RecordSet> {
    let mut heavy = simple("api.example.com", RrType::A, 60, &["192.0.2.21"]);
    heavy.set_identifier = Some("blue".into());
    heavy.weight = Some(70);
    let mut light = simple("api.example.com", RrType::A, 60, &["192.0.2.20"]);
    light.set_identifier = Some("amber".into());
    light.weight = Some(30);
    vec![
        simple(
            "www.example.com",
            RrType::A,
            120,
            &["192.0.2.10", "192.0.2.11"],
        ),
        simple("www.example.com", RrType::AAAA, 120, &["2001:db8::10"]),
        simple("app.example.com", RrType::CNAME, 300, &["www.example.com"]),
        simple(
            "example.com",
            RrType::MX,
            300,
            &["10 mail.example.com.", "20 mail2.example.com."],
        ),
        simple(
            "example.com",
            RrType::TXT,
            300,
            &[
                "\"v=spf1 include:_spf.example.com -all\"",
                "\"part one\" \"part two\"",
                "\"caf\\303\\251\"",
            ],
        ),
        simple("example.com", RrType::SPF, 300, &["\"v=spf1 -all\""]),
        simple(
            "example.com",
            RrType::CAA,
            3600,
            &["0 issue \"amazon.com\""],
        ),
        simple("example.com", RrType::HTTPS, 300, &["1 . alpn=\"h2,h3\""]),
        simple("\\052.example.com", RrType::A, 60, &["192.0.2.80"]),
        alias("one.example.com", "SOURCE", "www.example.com"),
        alias("two.example.com", "SOURCE", "one.example.com"),
        alias("lb.example.com", "Z35SXDOTRQ7X7K", ELB),
        simple(
            "secure.example.com",
            RrType::DS,
            3600,
            &["12345 13 2 3F6B8C6E1B2A9D4C5E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D"],
        ),
        simple(
            "secure.example.com",
            RrType::NS,
            3600,
            &["ns1.secure-dns.example.net."],
        ),
        simple(
            "sip.example.com",
            RrType::NAPTR,
            300,
            &["100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."],
        ),
        simple(
            "10.rev.example.com",
            RrType::PTR,
            300,
            &["www.example.com."],
        ),
        simple(
            "_sip._udp.example.com",
            RrType::SRV,
            300,
            &["10 60 5060 sip.example.com."],
        ),
        simple(
            "host.example.com",
            RrType::SSHFP,
            300,
            &["4 2 123456789abcdef67890123456789abcdef67890123456789abcdef123456789"],
        ),
        simple(
            "svc.example.com",
            RrType::SVCB,
            300,
            &["1 svc-backend.example.com. alpn=\"h2\" port=8443"],
        ),
        simple(
            "_443._tcp.www.example.com",
            RrType::TLSA,
            300,
            &["3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
        ),
        simple("out.example.com", RrType::NS, 60, &["ns.out.example.com."]),
        simple("ns.out.example.com", RrType::A, 60, &["192.0.2.53"]),
        heavy,
        light,
    ]
}

/// (name, type, TTL, data as dig prints it).
fn expected_answers() -> Vec<(&'static str, &'static str, u32, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let elb = fixture_values(RrType::A, &n(ELB)).expect("fixture");
    vec![
        (
            "www.example.com",
            "A",
            120,
            s(&["192.0.2.10", "192.0.2.11"]),
        ),
        ("www.example.com", "AAAA", 120, s(&["2001:db8::10"])),
        ("app.example.com", "CNAME", 300, s(&["www.example.com."])),
        (
            "example.com",
            "MX",
            300,
            s(&["10 mail.example.com.", "20 mail2.example.com."]),
        ),
        (
            "example.com",
            "TXT",
            300,
            s(&[
                "\"caf\\195\\169\"",
                "\"part one\" \"part two\"",
                "\"v=spf1 include:_spf.example.com -all\"",
            ]),
        ),
        ("example.com", "SPF", 300, s(&["\"v=spf1 -all\""])),
        ("example.com", "CAA", 3600, s(&["0 issue \"amazon.com\""])),
        ("example.com", "HTTPS", 300, s(&["1 . alpn=\"h2,h3\""])),
        ("anything.example.com", "A", 60, s(&["192.0.2.80"])),
        // An alias chain answers with the last target's records and TTL.
        (
            "two.example.com",
            "A",
            120,
            s(&["192.0.2.10", "192.0.2.11"]),
        ),
        ("lb.example.com", "A", 60, elb),
        (
            "sip.example.com",
            "NAPTR",
            300,
            s(&["100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."]),
        ),
        ("10.rev.example.com", "PTR", 300, s(&["www.example.com."])),
        (
            "_sip._udp.example.com",
            "SRV",
            300,
            s(&["10 60 5060 sip.example.com."]),
        ),
        (
            "host.example.com",
            "SSHFP",
            300,
            s(&["4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF1 23456789"]),
        ),
        (
            "svc.example.com",
            "SVCB",
            300,
            s(&["1 svc-backend.example.com. alpn=\"h2\" port=8443"]),
        ),
        (
            "_443._tcp.www.example.com",
            "TLSA",
            300,
            s(&["3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01234567 89ABCDEF"]),
        ),
        // Weighted: the smallest SetIdentifier ("amber").
        ("api.example.com", "A", 60, s(&["192.0.2.20"])),
    ]
}

fn fast_ttls() -> Ttls {
    Ttls {
        resolver_max: Some(5),
        resolver_max_negative: Some(1),
        ..Ttls::uniform(2)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_zone_is_answered_by_its_four_servers_and_by_both_resolvers() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let zone_id = seed_zone(&base, &source_access(), &n("example.com"), &every_kind()).await;
    let world = DnsWorld::start(WorldOptions::new(base, vec![source_access()]).ttls(fast_ttls()))
        .await
        .expect("the world starts");
    eprintln!(
        "world started in {:?} ({})",
        world.started_in(),
        world.block()
    );
    assert_eq!(world.warnings(), Vec::<String>::new());
    let servers = world.zone_servers(&zone_id);
    assert_eq!(servers.len(), 4, "four name servers");
    for (k, server) in servers.iter().enumerate() {
        let name = format!("ns{}.z1.zonehop-dns.test", k + 1);
        assert_eq!(world.addr_of(&name), Some(server.ip()), "{name}");
    }

    for (name, rtype, ttl, data) in expected_answers() {
        for server in &servers {
            let answer = dig(*server, name, rtype, false).await;
            assert_eq!(answer.status, "NOERROR", "{name} {rtype} at {server}");
            assert!(answer.authoritative, "{name} {rtype} at {server}: AA");
            assert_eq!(answer.data(rtype), data, "{name} {rtype} at {server}");
            assert!(
                answer.ttls(rtype).iter().all(|t| *t == ttl),
                "{name} {rtype} at {server}: TTL {ttl} expected, {:?}",
                answer.answer
            );
        }
        for resolver in world.resolvers() {
            let answer = dig(resolver.addr, name, rtype, true).await;
            assert_eq!(
                answer.status, "NOERROR",
                "{name} {rtype} via {}",
                resolver.name
            );
            assert_eq!(
                answer.data(rtype),
                data,
                "{name} {rtype} via {}",
                resolver.name
            );
        }
    }

    // A delegation to an address outside 127.0.0.0/8 is refused by both resolvers, at once.
    for resolver in world.resolvers() {
        let asked = Instant::now();
        let answer = dig(resolver.addr, "x.out.example.com", "A", true).await;
        assert_eq!(answer.status, "SERVFAIL", "via {}", resolver.name);
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "via {}",
            resolver.name
        );
    }

    // The DS of a delegated subdomain comes from the parent side, authoritatively.
    let ds = dig(servers[0], "secure.example.com", "DS", false).await;
    assert!(ds.authoritative);
    assert_eq!(ds.data("DS").len(), 1, "{ds:?}");
    // The apex NS and SOA are moto's.
    let ns = dig(servers[2], "example.com", "NS", false).await;
    assert_eq!(
        ns.data("NS"),
        (1..=4)
            .map(|k| format!("ns{k}.z1.zonehop-dns.test."))
            .collect::<Vec<_>>()
    );
    // The TLD delegates the zone by its apex NS (no registrar in this world).
    let com = world
        .delegation_server("example.com")
        .expect("delegated at com.");
    let referral = dig(com, "www.example.com", "A", false).await;
    assert!(!referral.authoritative);
    assert_eq!(referral.authority.len(), 4, "{referral:?}");
    world.settle().await.expect("settles");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_moto_is_served_within_a_second() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let zone_id = seed_zone(
        &base,
        &source_access(),
        &n("example.com"),
        &[simple("www.example.com", RrType::A, 60, &["192.0.2.10"])],
    )
    .await;
    let world = DnsWorld::start(WorldOptions::new(base, vec![source_access()]).ttls(fast_ttls()))
        .await
        .expect("the world starts");
    let servers = world.zone_servers(&zone_id);
    let client = r53_client(&moto, &source_access()).await;
    let mut latencies = Vec::new();
    for round in 1..=5u8 {
        let value = format!("192.0.2.{}", 100 + round);
        upsert(&client, &zone_id, "www.example.com", "A", 60, &[&value]).await;
        let changed = Instant::now();
        loop {
            let mut served = 0;
            for server in &servers {
                if dig(*server, "www.example.com", "A", false).await.data("A") == [value.clone()] {
                    served += 1;
                }
            }
            if served == servers.len() {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "round {round}: not served by all four servers within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let applied = world
            .stats()
            .last_change
            .map(|t| t.saturating_duration_since(changed));
        latencies.push((changed.elapsed(), applied));
    }
    // A new name, through settle().
    upsert(
        &client,
        &zone_id,
        "new.example.com",
        "TXT",
        60,
        &["\"fresh\""],
    )
    .await;
    world.settle().await.expect("settles");
    assert_eq!(
        dig(servers[3], "new.example.com", "TXT", false)
            .await
            .data("TXT"),
        ["\"fresh\""]
    );

    // A zone created later gets its servers; deleted, they stop.
    let other_id = seed_zone(&moto.config().await, &source_access(), &n("other.net"), &[]).await;
    world.settle().await.expect("settles");
    let other_servers = world.zone_servers(&other_id);
    assert_eq!(other_servers.len(), 4);
    assert_eq!(
        dig(other_servers[0], "other.net", "SOA", false)
            .await
            .status,
        "NOERROR"
    );
    client
        .delete_hosted_zone()
        .id(&other_id)
        .send()
        .await
        .expect("delete the zone");
    world.settle().await.expect("settles");
    assert!(world.zone_servers(&other_id).is_empty());
    assert_eq!(
        dig(other_servers[0], "other.net", "SOA", false)
            .await
            .status,
        "NO REPLY"
    );

    let stats = world.stats();
    eprintln!(
        "change-to-served latencies (seen by dig, reloaded by the world): {latencies:?}; last poll took {:?}; {} changes applied",
        stats.last_poll, stats.changes_applied
    );
    assert!(stats.changes_applied >= 6, "{stats:?}");
    assert!(stats.last_change.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_zones_and_multi_label_suffixes_resolve_through_both_resolvers() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let parent_id = seed_zone(
        &base,
        &source_access(),
        &n("example.com"),
        &[simple("www.example.com", RrType::A, 60, &["192.0.2.10"])],
    )
    .await;
    seed_zone(
        &base,
        &source_access(),
        &n("example.co.uk"),
        &[simple("www.example.co.uk", RrType::A, 60, &["192.0.2.44"])],
    )
    .await;
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access(), target_access()]).ttls(fast_ttls()),
    )
    .await
    .expect("the world starts");

    // The child zone appears in the other account while the world runs, and its parent
    // delegates it by NS records, as on the internet.
    let child_id = seed_zone(
        &base,
        &target_access(),
        &n("dev.example.com"),
        &[simple(
            "api.dev.example.com",
            RrType::A,
            60,
            &["198.51.100.6"],
        )],
    )
    .await;
    let child_client = r53_client(&moto, &target_access()).await;
    let child_servers = name_servers(&child_client, &child_id).await;
    let delegation: Vec<String> = child_servers.iter().map(|s| format!("{s}.")).collect();
    let delegation: Vec<&str> = delegation.iter().map(String::as_str).collect();
    let parent_client = r53_client(&moto, &source_access()).await;
    upsert(
        &parent_client,
        &parent_id,
        "dev.example.com",
        "NS",
        60,
        &delegation,
    )
    .await;
    world.settle().await.expect("settles");
    assert_eq!(world.zone_servers(&child_id).len(), 4);
    assert!(
        world.delegation_server("dev.example.com").is_none(),
        "its parent delegates it"
    );

    for resolver in world.resolvers() {
        let child = dig(resolver.addr, "api.dev.example.com", "A", true).await;
        assert_eq!(
            child.data("A"),
            ["198.51.100.6"],
            "via {}: {child:?}",
            resolver.name
        );
        let uk = dig(resolver.addr, "www.example.co.uk", "A", true).await;
        assert_eq!(
            uk.data("A"),
            ["192.0.2.44"],
            "via {}: {uk:?}",
            resolver.name
        );
        let suffix = dig(resolver.addr, "co.uk", "NS", true).await;
        assert_eq!(
            suffix.data("NS"),
            ["ns.zonehop-nic.co.uk.", "ns2.zonehop-nic.co.uk."],
            "via {}",
            resolver.name
        );
    }
}

async fn canary(resolver: SocketAddr) -> Vec<String> {
    dig(resolver, "_zonehop.example.com", "TXT", true)
        .await
        .data("TXT")
}

/// Polls `resolver` until it returns `want` for the canary, up to `limit`.
async fn wait_for_canary(resolver: SocketAddr, want: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if canary(resolver).await == [want.to_owned()] {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_in_route53_domains_switches_the_tld_delegation() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source_id = seed_zone(
        &base,
        &source_access(),
        &n("example.com"),
        &[simple(
            "_zonehop.example.com",
            RrType::TXT,
            1,
            &["\"side=old\""],
        )],
    )
    .await;
    let target_id = seed_zone(
        &base,
        &target_access(),
        &n("example.com"),
        &[simple(
            "_zonehop.example.com",
            RrType::TXT,
            1,
            &["\"side=new\""],
        )],
    )
    .await;
    let source = r53_client(&moto, &source_access()).await;
    let target = r53_client(&moto, &target_access()).await;
    let old_servers = name_servers(&source, &source_id).await;
    let new_servers = name_servers(&target, &target_id).await;
    let dotted = |v: &[String]| v.iter().map(|s| format!("{s}.")).collect::<Vec<_>>();
    // As zonehop's step 6 would: short apex NS TTLs on both sides.
    for (client, id, servers) in [
        (&source, &source_id, &old_servers),
        (&target, &target_id, &new_servers),
    ] {
        let values = dotted(servers);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        upsert(client, id, "example.com", "NS", 2, &values).await;
    }
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access(), target_access()])
            .registrar(registrar_access())
            .ttls(fast_ttls()),
    )
    .await
    .expect("the world starts");
    let com = world
        .delegation_server("example.com")
        .expect("delegated at com.");
    let delegated = |answer: &Answer| {
        let mut names: Vec<String> = answer.authority.iter().map(|r| r.data.clone()).collect();
        names.sort();
        names
    };
    // No registration: the first account's zone is delegated.
    let before = dig(com, "example.com", "NS", false).await;
    assert_eq!(delegated(&before), dotted(&old_servers));
    for resolver in world.resolvers() {
        assert_eq!(
            canary(resolver.addr).await,
            ["\"side=old\""],
            "{}",
            resolver.name
        );
    }

    // moto registers with placeholder servers: still the old side.
    register(&base, "example.com").await;
    world.settle().await.expect("settles");
    assert_eq!(
        delegated(&dig(com, "example.com", "NS", false).await),
        dotted(&old_servers)
    );

    // The registration now names the target's servers: the TLD follows it.
    set_name_servers(&base, "example.com", &new_servers).await;
    world.settle().await.expect("settles");
    assert_eq!(
        delegated(&dig(com, "example.com", "NS", false).await),
        dotted(&new_servers)
    );

    let resolvers = world.resolvers();
    let unbound = resolvers
        .iter()
        .find(|r| r.name == "unbound")
        .expect("unbound");
    let moved = wait_for_canary(unbound.addr, "\"side=new\"", Duration::from_secs(20)).await;
    eprintln!("unbound moved to the new side after {moved:?}");
    assert!(
        moved.is_some(),
        "unbound follows the parent's delegation TTL"
    );

    // kresd keeps asking the old servers their own NS set; as zonehop's step 7 does, the
    // old zone's apex NS points at the new servers.
    let values = dotted(&new_servers);
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    upsert(&source, &source_id, "example.com", "NS", 2, &values).await;
    world.settle().await.expect("settles");
    let kresd = resolvers.iter().find(|r| r.name == "kresd").expect("kresd");
    let moved = wait_for_canary(kresd.addr, "\"side=new\"", Duration::from_secs(30)).await;
    eprintln!("kresd moved to the new side after {moved:?}");
    assert!(
        moved.is_some(),
        "kresd moves once the old apex NS points at the new servers"
    );
}

/// The servers a referral names (its authority section's NS records), sorted.
fn referred_to(answer: &Answer, owner: &str) -> Vec<String> {
    let mut names: Vec<String> = answer
        .authority
        .iter()
        .filter(|r| r.rtype == "NS" && r.name == owner)
        .map(|r| r.data.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_kr_domain_is_delegated_through_kr_and_co_kr_by_the_registry_an_operator_edits() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let canary = |side: &str| {
        vec![simple(
            "_zonehop.example.co.kr",
            RrType::TXT,
            1,
            &[&format!("\"side={side}\"")],
        )]
    };
    let source_id = seed_zone(&base, &source_access(), &n("example.co.kr"), &canary("old")).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.co.kr"), &canary("new")).await;
    let old_servers = name_servers(&r53_client(&moto, &source_access()).await, &source_id).await;
    let new_servers = name_servers(&r53_client(&moto, &target_access()).await, &target_id).await;
    let dotted = |v: &[String]| v.iter().map(|s| format!("{s}.")).collect::<Vec<_>>();

    // The registrar is outside AWS (Route 53 Domains does not register .kr): the world's
    // registry names the TARGET's servers, although the first account's zone has the name.
    let registry = Registry::new();
    registry
        .set_name_servers("example.co.kr", &new_servers)
        .expect("registered");
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access(), target_access()])
            .registrar(registrar_access())
            .registry(registry)
            .ttls(fast_ttls()),
    )
    .await
    .expect("the world starts");

    // root -> kr. -> co.kr. -> the domain, each level a server of its own (two names each,
    // as a registry has several servers).
    let kr = world.addr_of("ns.zonehop-nic.kr").expect("a kr. server");
    let co_kr = world
        .addr_of("ns.zonehop-nic.co.kr")
        .expect("a co.kr. server");
    assert_ne!(kr, co_kr);
    let at = |ip| SocketAddr::new(ip, 53);
    let root = dig(world.root_addr(), "www.example.co.kr", "A", false).await;
    assert_eq!(
        referred_to(&root, "kr."),
        ["ns.zonehop-nic.kr.", "ns2.zonehop-nic.kr."],
        "{root:?}"
    );
    let from_kr = dig(at(kr), "www.example.co.kr", "A", false).await;
    assert_eq!(
        referred_to(&from_kr, "co.kr."),
        ["ns.zonehop-nic.co.kr.", "ns2.zonehop-nic.co.kr."],
        "{from_kr:?}"
    );
    assert!(referred_to(&from_kr, "example.co.kr.").is_empty());
    assert_eq!(world.delegation_server("example.co.kr"), Some(at(co_kr)));
    let from_co_kr = dig(at(co_kr), "www.example.co.kr", "A", false).await;
    assert_eq!(
        referred_to(&from_co_kr, "example.co.kr."),
        dotted(&new_servers),
        "the registration decides, not the hosted zones: {from_co_kr:?}"
    );
    for resolver in world.resolvers() {
        let answer = dig(resolver.addr, "_zonehop.example.co.kr", "TXT", true).await;
        assert_eq!(answer.data("TXT"), ["\"side=new\""], "{}", resolver.name);
    }

    // The operator changes the registration at the registrar: served within a poll.
    world
        .registry()
        .set_name_servers("example.co.kr", &old_servers)
        .expect("changed");
    world.settle().await.expect("settles");
    let from_co_kr = dig(at(co_kr), "www.example.co.kr", "A", false).await;
    assert_eq!(
        referred_to(&from_co_kr, "example.co.kr."),
        dotted(&old_servers)
    );
    assert_eq!(
        world.registry().name_servers("example.co.kr"),
        Some(dotted(&old_servers))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_dies_is_reported_by_the_next_settle() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    seed_zone(&base, &source_access(), &n("example.com"), &[]).await;
    let world = DnsWorld::start(WorldOptions::new(base, vec![source_access()]))
        .await
        .expect("the world starts");
    world.settle().await.expect("settles");
    let (_, pid) = world
        .processes()
        .into_iter()
        .find(|(role, _)| role == "tld-com")
        .expect("the com. server runs");
    let killed = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let error = world.settle().await.expect_err("a dead server is an error");
    let message = error.to_string();
    eprintln!("settle after the kill: {message}");
    assert!(message.contains("tld-com exited unexpectedly"), "{message}");
    assert!(
        message.contains("knotd") || message.contains("info:"),
        "its output: {message}"
    );
    // And it stays an error.
    assert!(world.settle().await.is_err());
}

/// The process id of a daemon of the world, by role.
fn pid_of(world: &DnsWorld, role: &str) -> Option<u32> {
    world
        .processes()
        .into_iter()
        .find(|(r, _)| r == role)
        .map(|(_, pid)| pid)
}

/// What each of `servers` answers for `name` A (RD=0), in order.
async fn a_at_each(servers: &[SocketAddr], name: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for server in servers {
        out.push(dig(*server, name, "A", false).await.data("A"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_keeps_its_stale_copy_while_the_other_three_follow_moto() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let zone_id = seed_zone(
        &base,
        &source_access(),
        &n("example.com"),
        &[simple("www.example.com", RrType::A, 60, &["192.0.2.10"])],
    )
    .await;
    let world = DnsWorld::start(WorldOptions::new(base, vec![source_access()]).ttls(fast_ttls()))
        .await
        .expect("the world starts");
    let client = r53_client(&moto, &source_access()).await;
    let names = name_servers(&client, &zone_id).await;
    let servers = world.zone_servers(&zone_id);
    assert_eq!(names.len(), 4);
    let frozen_name = names[2].clone();
    let frozen_addr = world.addr_of(&frozen_name).expect("its address");
    let frozen_at = servers
        .iter()
        .position(|s| s.ip() == frozen_addr)
        .expect("one of the zone's four");
    let set_role = world
        .processes()
        .into_iter()
        .map(|(role, _)| role)
        .find(|role| role.starts_with("hosted-"))
        .expect("the zone's server runs");
    let frozen_role = format!(
        "frozen-{}",
        frozen_name
            .trim_end_matches('.')
            .trim_end_matches(".zonehop-dns.test")
    );
    let old = vec!["192.0.2.10".to_owned()];
    let new = vec!["192.0.2.20".to_owned()];

    let asked = Instant::now();
    world
        .freeze_server(&frozen_name)
        .await
        .expect("the server freezes");
    let froze_in = asked.elapsed();
    let live_pid = pid_of(&world, &set_role).expect("the live server runs");
    assert!(
        pid_of(&world, &frozen_role).is_some(),
        "{:?}",
        world.processes()
    );
    assert_eq!(
        a_at_each(&servers, "www.example.com").await,
        vec![old.clone(); 4],
        "all four answer the same just after the freeze"
    );
    let refused = world.freeze_server(&frozen_name).await;
    assert!(
        matches!(refused, Err(ref e) if e.to_string().contains("already frozen")),
        "{refused:?}"
    );
    assert!(world
        .freeze_server("ns9.nowhere.zonehop-dns.test")
        .await
        .is_err());

    upsert(
        &client,
        &zone_id,
        "www.example.com",
        "A",
        60,
        &["192.0.2.20"],
    )
    .await;
    let asked = Instant::now();
    world.settle().await.expect("settles with a frozen server");
    let settled_in = asked.elapsed();
    let mut expected = vec![new.clone(); 4];
    expected[frozen_at] = old.clone();
    assert_eq!(a_at_each(&servers, "www.example.com").await, expected);
    // Only the frozen copy answers on its address (no second knotd shares it), and only
    // the live server on the three others.
    for _ in 0..10 {
        assert_eq!(a_at_each(&servers, "www.example.com").await, expected);
    }
    // A change reaches the live server by a reload, not a restart; the frozen copy stays.
    upsert(
        &client,
        &zone_id,
        "new.example.com",
        "A",
        60,
        &["192.0.2.30"],
    )
    .await;
    world.settle().await.expect("settles");
    assert_eq!(pid_of(&world, &set_role), Some(live_pid));
    let mut expected_new = vec![vec!["192.0.2.30".to_owned()]; 4];
    expected_new[frozen_at] = Vec::new();
    assert_eq!(a_at_each(&servers, "new.example.com").await, expected_new);
    assert_eq!(
        dig(servers[frozen_at], "new.example.com", "A", false)
            .await
            .status,
        "NXDOMAIN"
    );

    // Unfrozen, the address follows moto again.
    let asked = Instant::now();
    world
        .unfreeze_server(&frozen_name)
        .await
        .expect("the server unfreezes");
    let unfroze_in = asked.elapsed();
    assert!(pid_of(&world, &frozen_role).is_none());
    assert_eq!(
        a_at_each(&servers, "www.example.com").await,
        vec![new.clone(); 4]
    );
    assert!(world.unfreeze_server(&frozen_name).await.is_err());
    world.settle().await.expect("settles");
    eprintln!(
        "freeze took {froze_in:?}, settle with a frozen server {settled_in:?}, unfreeze {unfroze_in:?}"
    );

    // A frozen server that dies is reported like any other daemon.
    world
        .freeze_server(&frozen_name)
        .await
        .expect("freezes again");
    let pid = pid_of(&world, &frozen_role).expect("the frozen server runs");
    let killed = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let error = world.settle().await.expect_err("a dead server is an error");
    let message = error.to_string();
    assert!(
        message.contains(&format!("{frozen_role} exited unexpectedly")),
        "{message}"
    );
}
