//! What a server may answer, derived from the zone as the API holds it, and the judging of
//! one answer against it (issue #22).
//!
//! Two servers of identical zones may answer a routed record set (weighted, latency,
//! geolocation, failover, multivalue, IP-based) or an alias to an AWS resource differently
//! by design, so those answers are not compared with the old zone's first server: each
//! server's answer is judged by what the record set may give. A routed set gives one of
//! its members' answers (a multivalue set, some of its members' values); a member is its
//! values, or what its alias target gives; an alias to another name of the zone gives what
//! that name gives, to any depth; an alias to an AWS resource gives what the resource
//! answers (looked up through the resolver where it can be, and what the old servers
//! answered for the same question in any case: both zones alias the same target, which the
//! API comparison holds).
//!
//! Values are compared in a canonical form ([`canonical_data`]), because the API spells them
//! as Route 53 does and the wire adapter as DNS presentation does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::answers::DnsAnswer;
use crate::name::Name;
use crate::zone::{RecordSet, RrType, Zone};

/// How deep alias chains are followed (Route 53 refuses loops on write; an export may not).
const MAX_ALIAS_DEPTH: usize = 16;

/// The most values a multivalue answer carries (Route 53 answers up to 8 healthy records).
pub const MULTIVALUE_MAX: usize = 8;

/// What one record set, or one member of it, may answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Possible {
    /// These values (canonical), with this TTL: a plain record set, or the end of an alias
    /// chain.
    Values { ttl: u32, values: BTreeSet<String> },
    /// One of these answers: a routed set's members (weighted, latency, failover,
    /// geolocation, geoproximity, IP-based).
    AnyOf(Vec<Possible>),
    /// A multivalue answer: at least one and at most [`MULTIVALUE_MAX`] of these values,
    /// each with one of these TTLs.
    SomeOf {
        values: BTreeSet<String>,
        ttls: BTreeSet<u32>,
    },
    /// Whatever the AWS resource `target` answers (its TTL is the resource's).
    Resource { target: Name },
    /// No data (NOERROR, empty): geolocation or IP-based routing without a default
    /// location answers so for a resolver that no location matches.
    NoData,
}

impl Possible {
    /// True for a plain answer: the same on every server of identical zones, so that the old
    /// zone's first server is the reference.
    pub fn is_plain(&self) -> bool {
        matches!(self, Possible::Values { .. })
    }

    /// True when `got` (each record's TTL and canonical data) is an answer this may give.
    /// `resource` holds the values an AWS resource is known to answer.
    pub fn admits(&self, got: &[(u32, String)], resource: &BTreeSet<String>) -> bool {
        match self {
            Possible::Values { ttl, values } => {
                got.iter().all(|(t, _)| t == ttl)
                    && got.iter().map(|(_, d)| d).collect::<BTreeSet<_>>()
                        == values.iter().collect::<BTreeSet<_>>()
            }
            Possible::AnyOf(members) => members.iter().any(|m| m.admits(got, resource)),
            Possible::SomeOf { values, ttls } => {
                let distinct: BTreeSet<&String> = got.iter().map(|(_, d)| d).collect();
                !got.is_empty()
                    && distinct.len() <= MULTIVALUE_MAX
                    && got
                        .iter()
                        .all(|(t, d)| ttls.contains(t) && values.contains(d))
            }
            Possible::Resource { .. } => {
                !got.is_empty() && got.iter().all(|(_, d)| resource.contains(d))
            }
            Possible::NoData => got.is_empty(),
        }
    }

    /// The AWS resources whose answers this may give.
    pub fn resources(&self) -> BTreeSet<&Name> {
        match self {
            Possible::Resource { target } => BTreeSet::from([target]),
            Possible::AnyOf(members) => members.iter().flat_map(Possible::resources).collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The members of a routed set (`AnyOf`) that admit `got`, by index; empty otherwise.
    pub fn members_admitting(
        &self,
        got: &[(u32, String)],
        resource: &BTreeSet<String>,
    ) -> Vec<usize> {
        match self {
            Possible::AnyOf(members) => members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.admits(got, resource))
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Possible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Possible::Values { ttl, values } => {
                let list: Vec<&str> = values.iter().map(String::as_str).collect();
                write!(f, "{ttl} {}", list.join(" | "))
            }
            Possible::AnyOf(members) => {
                let list: Vec<String> = members.iter().map(|m| format!("({m})")).collect();
                write!(f, "one of {}", list.join(" or "))
            }
            Possible::SomeOf { values, .. } => {
                let list: Vec<&str> = values.iter().map(String::as_str).collect();
                write!(f, "some of {}", list.join(" | "))
            }
            Possible::Resource { target } => write!(f, "what {target} answers"),
            Possible::NoData => f.write_str("no data"),
        }
    }
}

/// The record sets of one zone by name and type, to follow aliases through.
#[derive(Debug)]
pub struct ZoneIndex<'a> {
    domain: &'a Name,
    sets: BTreeMap<(&'a Name, RrType), Vec<&'a RecordSet>>,
}

impl<'a> ZoneIndex<'a> {
    pub fn new(domain: &'a Name, zone: &'a Zone) -> ZoneIndex<'a> {
        let mut sets: BTreeMap<(&Name, RrType), Vec<&RecordSet>> = BTreeMap::new();
        for record in zone.iter() {
            sets.entry((&record.name, record.rtype))
                .or_default()
                .push(record);
        }
        ZoneIndex { domain, sets }
    }

    /// What the record sets of `name` and `rtype` may answer; `None` when the zone holds
    /// none, or an alias chain from them loops, runs too deep or ends at a missing target.
    pub fn possible(&self, name: &Name, rtype: RrType) -> Option<Possible> {
        self.possible_at(name, rtype, 0, &mut BTreeSet::new())
    }

    /// True when the record sets of `name` and `rtype` answer differently by design (a
    /// routing policy, an AWS resource, or an alias chain that reaches one).
    pub fn varies(&self, name: &Name, rtype: RrType) -> bool {
        self.possible(name, rtype).is_some_and(|p| !p.is_plain())
            // A chain that cannot be followed: its first record set decides.
            || self
                .sets
                .get(&(name, rtype))
                .is_some_and(|sets| sets.iter().any(|r| r.has_routing_policy()))
    }

    fn possible_at(
        &self,
        name: &Name,
        rtype: RrType,
        depth: usize,
        seen: &mut BTreeSet<(Name, RrType)>,
    ) -> Option<Possible> {
        let records = self.sets.get(&(name, rtype))?;
        if depth >= MAX_ALIAS_DEPTH || !seen.insert((name.clone(), rtype)) {
            return None;
        }
        let answer = self.possible_of_sets(records, depth, seen);
        seen.remove(&(name.clone(), rtype));
        answer
    }

    fn possible_of_sets(
        &self,
        records: &[&RecordSet],
        depth: usize,
        seen: &mut BTreeSet<(Name, RrType)>,
    ) -> Option<Possible> {
        if let [only] = records {
            if !only.has_routing_policy() {
                return self.member(only, depth, seen);
            }
        }
        let members: Vec<Possible> = records
            .iter()
            .map(|r| self.member(r, depth, seen))
            .collect::<Option<_>>()?;
        if records.iter().any(|r| r.multi_value_answer == Some(true)) {
            let mut values = BTreeSet::new();
            let mut ttls = BTreeSet::new();
            for member in &members {
                if let Possible::Values { ttl, values: v } = member {
                    ttls.insert(*ttl);
                    values.extend(v.iter().cloned());
                }
            }
            return Some(Possible::SomeOf { values, ttls });
        }
        let mut members = members;
        if no_default_location(records) {
            members.push(Possible::NoData);
        }
        members.sort();
        members.dedup();
        Some(Possible::AnyOf(members))
    }

    /// What one record set answers: its values, or its alias target's answer.
    fn member(
        &self,
        record: &RecordSet,
        depth: usize,
        seen: &mut BTreeSet<(Name, RrType)>,
    ) -> Option<Possible> {
        let Some(alias) = &record.alias_target else {
            let ttl = record
                .ttl
                .map_or(300, |t| u32::try_from(t.max(0)).unwrap_or(u32::MAX));
            return Some(Possible::Values {
                ttl,
                values: record
                    .values()
                    .map(|v| canonical_data(record.rtype, v))
                    .collect(),
            });
        };
        if alias.dns_name.is_at_or_below(self.domain) {
            self.possible_at(&alias.dns_name, record.rtype, depth + 1, seen)
        } else {
            Some(Possible::Resource {
                target: alias.dns_name.clone(),
            })
        }
    }
}

/// Geolocation or IP-based routing without a default location (`*`): a resolver that no
/// location matches gets no data.
fn no_default_location(records: &[&RecordSet]) -> bool {
    let geo = records.iter().any(|r| r.geo_location.is_some());
    let cidr = records.iter().any(|r| r.cidr_routing_config.is_some());
    let default = records.iter().any(|r| r.is_default_location());
    (geo || cidr) && !default
}

/// One value in a form that the API's spelling and the wire's presentation share:
/// addresses parsed, names canonical (case, trailing dot), character strings decoded
/// (`"a" "b"` stays two strings), other types' fields lowercased with trailing dots dropped.
pub fn canonical_data(rtype: RrType, text: &str) -> String {
    let text = text.trim();
    match rtype {
        RrType::A => text
            .parse::<Ipv4Addr>()
            .map_or_else(|_| text.to_ascii_lowercase(), |a| a.to_string()),
        RrType::AAAA => text
            .parse::<Ipv6Addr>()
            .map_or_else(|_| text.to_ascii_lowercase(), |a| a.to_string()),
        RrType::CNAME | RrType::NS | RrType::PTR => {
            Name::parse(text).map_or_else(|_| text.to_ascii_lowercase(), |n| n.as_str().to_owned())
        }
        RrType::TXT | RrType::SPF => character_strings(text)
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" "),
        _ => text
            .split_whitespace()
            .map(|t| t.trim_end_matches('.').to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The character strings of a TXT value: quoted strings (`\"`, `\\` and `\ooo`, Route 53's
/// octal escapes, decoded) or bare words.
fn character_strings(text: &str) -> Vec<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut s = Vec::new();
        while i < bytes.len() {
            let b = bytes[i];
            if (quoted && b == b'"') || (!quoted && b.is_ascii_whitespace()) {
                i += 1;
                break;
            }
            if b == b'\\' && i + 1 < bytes.len() {
                let digits = &bytes[i + 1..bytes.len().min(i + 4)];
                if digits.len() == 3 && digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let code = digits
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    s.push(u8::try_from(code).unwrap_or(b'?'));
                    i += 4;
                } else {
                    s.push(bytes[i + 1]);
                    i += 2;
                }
                continue;
            }
            s.push(b);
            i += 1;
        }
        out.push(s);
    }
    out
}

/// An answer's records of exactly this name and type: their TTL and canonical data.
pub fn answered(answer: &DnsAnswer, name: &Name, rtype: RrType) -> Vec<(u32, String)> {
    answer
        .rrset(name, rtype.as_str())
        .into_iter()
        .map(|r| (r.ttl, canonical_data(rtype, &r.data)))
        .collect()
}

/// The SOA minimum (the negative-caching TTL's bound) of an SOA value or presentation.
pub fn soa_minimum(soa: &str) -> Option<u32> {
    soa.split_whitespace().nth(6)?.parse().ok()
}

/// The SOA minimum an NXDOMAIN answer carries in its authority section.
pub fn negative_minimum(answer: &DnsAnswer) -> Option<u32> {
    answer
        .authorities
        .iter()
        .find(|r| r.rtype == "SOA")
        .and_then(|r| soa_minimum(&r.data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::DnsRecord;
    use crate::zone::{AliasTarget, CidrRoutingConfig, Failover, GeoLocation};

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    fn a(name: &str, ttl: i64, values: &[&str]) -> RecordSet {
        RecordSet::simple(n(name), RrType::A, ttl, values)
    }

    fn routed(mut r: RecordSet, id: &str) -> RecordSet {
        r.set_identifier = Some(id.to_owned());
        r
    }

    fn weighted(name: &str, id: &str, values: &[&str]) -> RecordSet {
        let mut r = routed(a(name, 60, values), id);
        r.weight = Some(10);
        r
    }

    fn alias(name: &str, to: &str) -> RecordSet {
        RecordSet::alias(
            n(name),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "ZSELF".into(),
                dns_name: n(to),
                evaluate_target_health: false,
            },
        )
    }

    fn got(ttl: u32, values: &[&str]) -> Vec<(u32, String)> {
        values.iter().map(|v| (ttl, (*v).to_owned())).collect()
    }

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn possible(zone: &Zone, name: &str) -> Possible {
        let domain = n("example.com");
        ZoneIndex::new(&domain, zone)
            .possible(&n(name), RrType::A)
            .expect("possible")
    }

    #[test]
    fn a_weighted_set_admits_each_members_answer_and_nothing_else() {
        // GIVEN a weighted set of two members
        let zone = Zone::new([
            weighted("w.example.com", "blue", &["192.0.2.1"]),
            weighted("w.example.com", "green", &["192.0.2.2", "192.0.2.3"]),
        ]);
        let p = possible(&zone, "w.example.com");
        // THEN either member's whole answer is admitted
        assert!(p.admits(&got(60, &["192.0.2.1"]), &none()));
        assert!(p.admits(&got(60, &["192.0.2.3", "192.0.2.2"]), &none()));
        // AND a lying server's address, a mix of members, a part of one, a wrong TTL and no
        // data are not
        for wrong in [
            got(60, &["198.51.100.66"]),
            got(60, &["192.0.2.1", "192.0.2.2"]),
            got(60, &["192.0.2.2"]),
            got(300, &["192.0.2.1"]),
            got(60, &[]),
        ] {
            assert!(!p.admits(&wrong, &none()), "{wrong:?} admitted by {p}");
        }
        assert!(!p.is_plain());
    }

    #[test]
    fn a_multivalue_set_admits_some_of_its_values_up_to_eight() {
        let mut records = Vec::new();
        for i in 1..=10 {
            let mut r = routed(
                a("mv.example.com", 60, &[&format!("192.0.2.{i}")]),
                &format!("m{i:02}"),
            );
            r.multi_value_answer = Some(true);
            records.push(r);
        }
        let p = possible(&Zone::new(records), "mv.example.com");
        assert!(p.admits(&got(60, &["192.0.2.3", "192.0.2.9"]), &none()));
        let eight: Vec<String> = (1..=8).map(|i| format!("192.0.2.{i}")).collect();
        let eight: Vec<&str> = eight.iter().map(String::as_str).collect();
        assert!(p.admits(&got(60, &eight), &none()));
        let nine: Vec<String> = (1..=9).map(|i| format!("192.0.2.{i}")).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert!(!p.admits(&got(60, &nine), &none()), "more than 8");
        assert!(!p.admits(&got(60, &["192.0.2.3", "198.51.100.66"]), &none()));
        assert!(!p.admits(&got(60, &[]), &none()));
    }

    #[test]
    fn failover_admits_primary_or_secondary_and_geolocation_without_default_admits_no_data() {
        let mut primary = routed(a("fo.example.com", 60, &["192.0.2.40"]), "p");
        primary.failover = Some(Failover::Primary);
        let mut secondary = routed(a("fo.example.com", 60, &["192.0.2.41"]), "s");
        secondary.failover = Some(Failover::Secondary);
        let geo = |id: &str, country: &str, v: &str| {
            let mut r = routed(a("geo.example.com", 60, &[v]), id);
            r.geo_location = Some(GeoLocation {
                continent_code: None,
                country_code: Some(country.into()),
                subdivision_code: None,
            });
            r
        };
        let zone = Zone::new([
            primary,
            secondary,
            geo("de", "DE", "192.0.2.50"),
            geo("us", "US", "192.0.2.51"),
        ]);
        let fo = possible(&zone, "fo.example.com");
        assert!(fo.admits(&got(60, &["192.0.2.41"]), &none()));
        assert!(
            !fo.admits(&got(60, &[]), &none()),
            "failover always answers"
        );
        let g = possible(&zone, "geo.example.com");
        assert!(g.admits(&got(60, &[]), &none()), "no location matched");
        assert!(g.admits(&got(60, &["192.0.2.51"]), &none()));
        assert!(!g.admits(&got(60, &["192.0.2.52"]), &none()));

        // WITH a default location, no data is no longer an answer
        let mut cidr_default = routed(a("cidr.example.com", 60, &["192.0.2.71"]), "d");
        cidr_default.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c".into(),
            location_name: "*".into(),
        });
        let c = possible(&Zone::new([cidr_default]), "cidr.example.com");
        assert!(!c.admits(&got(60, &[]), &none()));
    }

    #[test]
    fn an_alias_chain_of_any_depth_is_judged_by_its_final_target() {
        // GIVEN latency -> weighted (same zone) -> an ELB, and a plain chain of depth three
        let elb = "my-lb-1.us-east-1.elb.amazonaws.com";
        let mut elb_member = RecordSet::alias(
            n("w.example.com"),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                dns_name: n(elb),
                evaluate_target_health: false,
            },
        );
        elb_member.set_identifier = Some("elb".into());
        let zone = Zone::new([
            elb_member,
            weighted("w.example.com", "v", &["192.0.2.9"]),
            routed(alias("route.example.com", "w.example.com"), "east"),
            alias("one.example.com", "two.example.com"),
            alias("two.example.com", "three.example.com"),
            a("three.example.com", 120, &["192.0.2.3"]),
            alias("to-route.example.com", "route.example.com"),
        ]);
        let domain = n("example.com");
        let index = ZoneIndex::new(&domain, &zone);
        // THEN the plain chain is plain, with the last target's TTL
        assert_eq!(
            index.possible(&n("one.example.com"), RrType::A),
            Some(Possible::Values {
                ttl: 120,
                values: BTreeSet::from(["192.0.2.3".to_owned()])
            })
        );
        assert!(!index.varies(&n("one.example.com"), RrType::A));
        // AND an alias to a same-zone alias of a routed set varies (two hops)
        assert!(index.varies(&n("to-route.example.com"), RrType::A));
        let p = index
            .possible(&n("to-route.example.com"), RrType::A)
            .expect("p");
        assert_eq!(p.resources(), BTreeSet::from([&n(elb)]));
        // AND it admits the ELB's answers or the plain member's, nothing else
        let elb_answers = BTreeSet::from(["192.0.2.77".to_owned(), "198.51.100.7".to_owned()]);
        assert!(p.admits(&got(60, &["198.51.100.7"]), &elb_answers));
        assert!(p.admits(&got(60, &["192.0.2.9"]), &elb_answers));
        assert!(!p.admits(&got(60, &["198.51.100.66"]), &elb_answers));
        assert!(
            !p.admits(&got(60, &["198.51.100.7"]), &none()),
            "an ELB answer is admitted only when the ELB is known to give it"
        );
    }

    #[test]
    fn an_alias_loop_or_a_missing_target_has_no_possible_answer() {
        let zone = Zone::new([
            alias("a.example.com", "b.example.com"),
            alias("b.example.com", "a.example.com"),
            alias("c.example.com", "nothing.example.com"),
        ]);
        let domain = n("example.com");
        let index = ZoneIndex::new(&domain, &zone);
        assert_eq!(index.possible(&n("a.example.com"), RrType::A), None);
        assert_eq!(index.possible(&n("c.example.com"), RrType::A), None);
    }

    #[test]
    fn values_compare_in_one_form_whatever_their_spelling() {
        assert_eq!(
            canonical_data(RrType::CNAME, "WWW.Example.com"),
            canonical_data(RrType::CNAME, "www.example.com.")
        );
        assert_eq!(
            canonical_data(RrType::AAAA, "2001:DB8:0::1"),
            canonical_data(RrType::AAAA, "2001:db8::1")
        );
        // Route 53's octal escape and the wire's quoted form of the same string
        assert_eq!(
            canonical_data(RrType::TXT, "\"a\\042b\""),
            canonical_data(RrType::TXT, "\"a\\\"b\"")
        );
        assert_ne!(
            canonical_data(RrType::TXT, "\"ab\""),
            canonical_data(RrType::TXT, "\"a\" \"b\""),
            "string boundaries count"
        );
        assert_ne!(
            canonical_data(RrType::TXT, "\"Ab\""),
            canonical_data(RrType::TXT, "\"ab\""),
            "TXT is case-sensitive"
        );
        assert_eq!(
            canonical_data(RrType::MX, "10 Mail.Example.com."),
            canonical_data(RrType::MX, "10 mail.example.com")
        );
    }

    #[test]
    fn the_negative_caching_minimum_is_read_from_the_authority_soa() {
        let answer = DnsAnswer {
            rcode: "NXDOMAIN".into(),
            authoritative: true,
            answers: Vec::new(),
            authorities: vec![DnsRecord {
                name: n("example.com"),
                rtype: "SOA".into(),
                ttl: 300,
                data: "ns1.example.net. hostmaster.example.com. 7 7200 900 1209600 300".into(),
            }],
        };
        assert_eq!(negative_minimum(&answer), Some(300));
        assert_eq!(soa_minimum("ns1. h. 1 2 3"), None);
    }
}
