//! Deterministic generated zones: the same input always gives the same records.

use zonehop::core::zone::{
    AliasTarget, CidrRoutingConfig, Coordinates, Failover, GeoLocation, GeoProximityLocation,
    RecordSet, RrType,
};
use zonehop::Name;

fn name(label: &str, domain: &Name) -> Name {
    Name::parse(&format!("{label}.{domain}")).expect("generated names are valid")
}

/// A TXT value of `len` characters, split into quoted strings of at most 255 as Route 53
/// requires, like a DKIM key.
pub fn long_txt(seed: usize, len: usize) -> String {
    let text: String = (0..len)
        .map(|i| char::from(b'a' + ((i * 31 + seed * 7) % 26) as u8))
        .collect();
    text.as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn routed(mut r: RecordSet, id: String) -> RecordSet {
    r.set_identifier = Some(id);
    r
}

/// A zone of about `groups * 40` record sets with every type Route 53 serves, every
/// routing policy, wildcards, same-zone alias chains and aliases to AWS resources. No
/// health checks (they belong to an account; tests of them build their own records).
pub fn every_kind(domain: &Name, source_zone_id: &str, groups: usize) -> Vec<RecordSet> {
    let mut out = Vec::new();
    let a = |l: &str, ttl: i64, v: &str| RecordSet::simple(name(l, domain), RrType::A, ttl, &[v]);
    for g in 0..groups {
        let ip = format!("198.51.{}.{}", g / 250, g % 250 + 1);
        let host = format!("host{g}");
        out.push(a(&host, 300, &ip));
        out.push(RecordSet::simple(
            name(&host, domain),
            RrType::AAAA,
            300,
            &[&format!("2001:db8::{g:x}")],
        ));
        out.push(RecordSet::simple(
            name(&format!("*.w{g}"), domain),
            RrType::A,
            60,
            &[&ip],
        ));
        out.push(RecordSet::simple(
            name(&format!("www{g}"), domain),
            RrType::CNAME,
            300,
            &[name(&host, domain).as_str()],
        ));
        out.push(RecordSet::simple(
            name(&host, domain),
            RrType::CAA,
            3600,
            &[
                "0 issue \"amazon.com\"",
                "0 iodef \"mailto:sec@example.com\"",
            ],
        ));
        out.push(RecordSet::simple(
            name(&format!("m{g}"), domain),
            RrType::MX,
            300,
            &[
                &format!("10 {}", name(&host, domain)),
                &format!("20 mx2.{domain}"),
            ],
        ));
        out.push(RecordSet::simple(
            name(&format!("t{g}"), domain),
            RrType::TXT,
            300,
            &["\"v=spf1 -all\"", &long_txt(g, 300 + g % 100)],
        ));
        out.push(RecordSet::simple(
            name(&format!("t{g}"), domain),
            RrType::SPF,
            300,
            &["\"v=spf1 -all\""],
        ));
        out.push(RecordSet::simple(
            name(&format!("sub{g}"), domain),
            RrType::NS,
            3600,
            &["ns1.elsewhere.example.net.", "ns2.elsewhere.example.net."],
        ));
        out.push(RecordSet::simple(
            name(&format!("sub{g}"), domain),
            RrType::DS,
            3600,
            &[&format!("{} 13 2 {:064X}", 1000 + g, g * 7919)],
        ));
        out.push(RecordSet::simple(
            name(&host, domain),
            RrType::HTTPS,
            300,
            &["1 . alpn=\"h2,h3\""],
        ));
        out.push(RecordSet::simple(
            name(&format!("svc{g}"), domain),
            RrType::SVCB,
            300,
            &[&format!("1 {} port=8443", name(&host, domain))],
        ));
        out.push(RecordSet::simple(
            name(&format!("sip{g}"), domain),
            RrType::NAPTR,
            300,
            &["100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."],
        ));
        out.push(RecordSet::simple(
            name(&format!("_sip._udp.s{g}"), domain),
            RrType::SRV,
            300,
            &[&format!("10 60 5060 {}", name(&host, domain))],
        ));
        out.push(
            RecordSet::simple(
                name(&format!("{}.rev", g % 250 + 1), domain),
                RrType::PTR,
                300,
                &[name(&host, domain).as_str()],
            )
            .clone(),
        );
        out.push(RecordSet::simple(
            name(&host, domain),
            RrType::SSHFP,
            300,
            &[&format!("4 2 {:064x}", g * 104_729)],
        ));
        out.push(RecordSet::simple(
            name(&format!("_443._tcp.{host}"), domain),
            RrType::TLSA,
            300,
            &[&format!("3 1 1 {:064X}", g * 31)],
        ));
        // Routing policies.
        let mut w1 = routed(a(&format!("api{g}"), 60, &ip), "blue".into());
        w1.weight = Some(70);
        let mut w2 = routed(a(&format!("api{g}"), 60, "192.0.2.2"), "green".into());
        w2.weight = Some(30);
        let mut l1 = routed(a(&format!("lat{g}"), 60, &ip), "eu".into());
        l1.region = Some("eu-west-1".into());
        let mut l2 = routed(a(&format!("lat{g}"), 60, "192.0.2.3"), "us".into());
        l2.region = Some("us-east-1".into());
        let mut f1 = routed(a(&format!("fo{g}"), 60, &ip), "primary".into());
        f1.failover = Some(Failover::Primary);
        let mut f2 = routed(a(&format!("fo{g}"), 60, "192.0.2.4"), "secondary".into());
        f2.failover = Some(Failover::Secondary);
        let mut geo1 = routed(a(&format!("geo{g}"), 60, &ip), "de".into());
        geo1.geo_location = Some(GeoLocation {
            continent_code: None,
            country_code: Some("DE".into()),
            subdivision_code: None,
        });
        let mut geo2 = routed(a(&format!("geo{g}"), 60, "192.0.2.5"), "eu".into());
        geo2.geo_location = Some(GeoLocation {
            continent_code: Some("EU".into()),
            country_code: None,
            subdivision_code: None,
        });
        let mut geo3 = routed(a(&format!("geo{g}"), 60, "192.0.2.6"), "default".into());
        geo3.geo_location = Some(GeoLocation {
            continent_code: None,
            country_code: Some("*".into()),
            subdivision_code: None,
        });
        let mut p1 = routed(a(&format!("prox{g}"), 60, &ip), "region".into());
        p1.geo_proximity_location = Some(GeoProximityLocation {
            aws_region: Some("us-east-1".into()),
            local_zone_group: None,
            coordinates: None,
            bias: Some(10),
        });
        let mut p2 = routed(a(&format!("prox{g}"), 60, "192.0.2.7"), "coords".into());
        p2.geo_proximity_location = Some(GeoProximityLocation {
            aws_region: None,
            local_zone_group: None,
            coordinates: Some(Coordinates {
                latitude: "49.22".into(),
                longitude: "-74.01".into(),
            }),
            bias: None,
        });
        let mut c1 = routed(a(&format!("cidr{g}"), 60, &ip), "office".into());
        c1.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c8c02a84-aaaa-bbbb-cccc-3a3a3a3a3a3a".into(),
            location_name: "office".into(),
        });
        let mut c2 = routed(a(&format!("cidr{g}"), 60, "192.0.2.8"), "default".into());
        c2.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c8c02a84-aaaa-bbbb-cccc-3a3a3a3a3a3a".into(),
            location_name: "*".into(),
        });
        let mut mv1 = routed(a(&format!("mv{g}"), 60, &ip), "one".into());
        mv1.multi_value_answer = Some(true);
        let mut mv2 = routed(a(&format!("mv{g}"), 60, "192.0.2.9"), "two".into());
        mv2.multi_value_answer = Some(true);
        out.extend([
            w1, w2, l1, l2, f1, f2, geo1, geo2, geo3, p1, p2, c1, c2, mv1, mv2,
        ]);
        // Aliases: a chain of two inside the zone, one to an AWS load balancer.
        let same_zone = |target: &str| AliasTarget {
            hosted_zone_id: source_zone_id.to_owned(),
            dns_name: name(target, domain),
            evaluate_target_health: false,
        };
        out.push(RecordSet::alias(
            name(&format!("alias{g}"), domain),
            RrType::A,
            same_zone(&host),
        ));
        out.push(RecordSet::alias(
            name(&format!("alias2-{g}"), domain),
            RrType::A,
            same_zone(&format!("alias{g}")),
        ));
        out.push(RecordSet::alias(
            name(&format!("alias-api{g}"), domain),
            RrType::A,
            same_zone(&format!("api{g}")),
        ));
        out.push(RecordSet::alias(
            name(&format!("lb{g}"), domain),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                dns_name: Name::parse(&format!("dualstack.lb-{g}.us-east-1.elb.amazonaws.com"))
                    .expect("name"),
                evaluate_target_health: true,
            },
        ));
    }
    out
}

/// The benchmark zone (DESIGN "sync" goal): 10,000 record sets, a quarter of them TXT
/// values of 255 to 400 characters: 5,990 A, 1,000 AAAA, 500 CNAME, 2,500 TXT, 10 MX.
pub fn bench_zone(domain: &Name) -> Vec<RecordSet> {
    let mut out = Vec::with_capacity(10_000);
    for i in 0..5_990 {
        out.push(RecordSet::simple(
            name(&format!("a{i}"), domain),
            RrType::A,
            300,
            &[&format!(
                "10.{}.{}.{}",
                i / 65_536,
                (i / 256) % 256,
                i % 256
            )],
        ));
    }
    for i in 0..1_000 {
        out.push(RecordSet::simple(
            name(&format!("v6-{i}"), domain),
            RrType::AAAA,
            300,
            &[&format!("2001:db8::{i:x}")],
        ));
    }
    for i in 0..500 {
        out.push(RecordSet::simple(
            name(&format!("c{i}"), domain),
            RrType::CNAME,
            300,
            &[name(&format!("a{i}"), domain).as_str()],
        ));
    }
    for i in 0..2_500 {
        out.push(RecordSet::simple(
            name(&format!("t{i}"), domain),
            RrType::TXT,
            300,
            &[&long_txt(i, 255 + (i * 37) % 146)],
        ));
    }
    for i in 0..10 {
        out.push(RecordSet::simple(
            name(&format!("mx{i}"), domain),
            RrType::MX,
            300,
            &[&format!("10 mail{i}.{domain}")],
        ));
    }
    out
}
