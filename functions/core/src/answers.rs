//! What DNS servers answer, and how two answers are compared: the questions to ask about a
//! zone, an answer reduced to the set that is compared, and a difference between servers.
//! Pure: the asking is `zonehop::ports::dns`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::canary::CANARY_LABEL;
use crate::name::Name;
use crate::plan::is_apex_soa_or_ns;
use crate::possible::{answered, negative_minimum, soa_minimum, Possible, ZoneIndex};
use crate::zone::{RecordSet, RrType, Zone};

/// One record of an answer, in presentation form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: Name,
    pub rtype: String,
    pub ttl: u32,
    pub data: String,
}

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsAnswer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`...
    pub rcode: String,
    pub authoritative: bool,
    pub answers: Vec<DnsRecord>,
    pub authorities: Vec<DnsRecord>,
}

impl DnsAnswer {
    /// The delegation of `domain` in this answer: its NS records, from the authority section
    /// (a parent's referral) or the answer section (an authoritative answer). What a parent
    /// server says the domain is delegated to.
    pub fn delegation(&self, domain: &Name) -> Vec<DnsRecord> {
        self.authorities
            .iter()
            .chain(self.answers.iter())
            .filter(|r| r.name == *domain && r.rtype == "NS")
            .cloned()
            .collect()
    }

    /// The answer records of exactly this name and type, sorted: what "the RRset" is.
    pub fn rrset(&self, name: &Name, rtype: &str) -> Vec<DnsRecord> {
        let mut set: Vec<DnsRecord> = self
            .answers
            .iter()
            .filter(|r| r.name == *name && r.rtype == rtype)
            .cloned()
            .collect();
        set.sort();
        set.dedup();
        set
    }
}

/// One RRset a server answers differently from the old zone's reference server, or
/// unlike anything it may answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `old ns1.example.net (192.0.2.1:53)`, `new ...`, or `api` for routing policies.
    pub server: String,
    /// The reference's answer, or what the server may answer (`may answer: ...`).
    pub old: Vec<String>,
    pub new: Vec<String>,
    /// For a made-up name (under a wildcard, or one that does not exist), the question's
    /// label ([`Question::label`]): what it stands for, the same from one round to the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stands_for: Option<String>,
}

impl Difference {
    /// The label of the question that differed: what a difference is tracked by across
    /// rounds.
    pub fn label(&self) -> String {
        self.stands_for
            .clone()
            .unwrap_or_else(|| question_label(&self.name, &self.rtype))
    }
}

/// A question's label: `www.example.com. A`.
pub fn question_label(name: &str, rtype: &str) -> String {
    format!(
        "{}. {rtype}",
        name.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// How the answers to a question are judged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expect {
    /// Exactly what the old zone's first server answers, TTLs included: a plain record set,
    /// a same-zone alias chain that ends in one, a delegation, a wildcard of those.
    Reference,
    /// An answer the record set may give ([`Possible`]), each server judged alone: a routed
    /// set, an alias to an AWS resource, a chain that reaches either.
    Possible(Possible),
    /// A name that does not exist: NXDOMAIN from every server, with its zone's SOA minimum
    /// (from the API; the reference's where the API's cannot be read).
    NoSuchName {
        old_minimum: Option<u32>,
        new_minimum: Option<u32>,
    },
}

/// An RRset to ask every server about (a DNS question, and how to read its answer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Question {
    pub name: Name,
    pub rtype: RrType,
    /// A delegation (NS below the apex): the parent answers it as a referral, so the
    /// set is read from the authority section.
    pub referral: bool,
    pub expect: Expect,
    /// For a made-up name: the wildcard it is synthesized from, or the name below which it
    /// does not exist.
    pub stands_for: Option<Name>,
}

impl Question {
    /// A question judged against the reference (the old zone's first server).
    pub fn exact(name: Name, rtype: RrType, referral: bool) -> Question {
        Question {
            name,
            rtype,
            referral,
            expect: Expect::Reference,
            stands_for: None,
        }
    }

    /// `www.example.com. A`; a synthesized name under a wildcard has the wildcard's label
    /// (an edit of the wildcard explains it), a name that does not exist
    /// `example.com. (no such name below)`.
    pub fn label(&self) -> String {
        match (&self.stands_for, &self.expect) {
            (Some(parent), Expect::NoSuchName { .. }) => {
                format!("{} (no such name below)", parent.as_str())
            }
            (Some(wildcard), _) => question_label(wildcard.as_str(), self.rtype.as_str()),
            (None, _) => question_label(self.name.as_str(), self.rtype.as_str()),
        }
    }
}

/// A label for the made-up names of [`questions`]: 64 random bits, so that no zone holds it
/// and no server can know in advance which made-up name will be asked.
pub fn fresh_label() -> String {
    format!("zonehop-{:016x}", rand::random::<u64>())
}

/// The questions of a zone pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Questions {
    /// Every RRset, then a synthesized name under each wildcard RRset, then one name that
    /// does not exist: an order that stays the same from one round to the next.
    pub asked: Vec<Question>,
    /// Record sets (of both zones) whose answers vary by design, compared through the API
    /// as well.
    pub by_api: usize,
    /// Questions judged by what they may answer (routed sets and AWS aliases).
    pub judged: usize,
    /// Questions about made-up names (under wildcards, and the one that does not exist).
    pub synthesized: usize,
    pub warnings: Vec<String>,
}

/// The RRsets to ask every server about, how each answer is judged, and the number of
/// record sets whose answers vary by design (compared through the API too). Both zones'
/// names count, so a record missing on either side is asked for. `fresh` is a label that
/// no name of either zone has (random, so a server cannot know it in advance): the
/// synthesized names under wildcards and the name that does not exist are made with it.
pub fn questions(
    domain: &Name,
    keep: &[Name],
    source: &Zone,
    target: &Zone,
    fresh: &str,
) -> Questions {
    let canary = domain.prepend(CANARY_LABEL).ok();
    let old = ZoneIndex::new(domain, source);
    let new = ZoneIndex::new(domain, target);
    let mut asked: BTreeMap<(Name, RrType), Question> = BTreeMap::new();
    let mut out = Questions::default();
    // Names the zone does not answer itself: below a delegation or a kept subtree.
    let cuts: Vec<&Name> = source
        .iter()
        .chain(target.iter())
        .filter(|r| r.rtype == RrType::NS && r.name != *domain)
        .map(|r| &r.name)
        .chain(keep.iter())
        .collect();
    let below_a_cut = |name: &Name| cuts.iter().any(|c| name.is_at_or_below(c));
    for record in source.iter().chain(target.iter()) {
        if is_apex_soa_or_ns(record, domain) || Some(&record.name) == canary.as_ref() {
            continue;
        }
        if record.rtype == RrType::SOA {
            continue;
        }
        if let Some(kept) = keep.iter().find(|k| record.name.is_at_or_below(k)) {
            // Below a cut the child answers; at the cut only the parent's delegation counts.
            let delegation =
                record.name == *kept && matches!(record.rtype, RrType::NS | RrType::DS);
            if !delegation {
                continue;
            }
        }
        let referral = record.rtype == RrType::NS && record.name != *domain;
        if !referral
            && (old.varies(&record.name, record.rtype) || new.varies(&record.name, record.rtype))
        {
            out.by_api += 1;
        }
        let key = (record.name.clone(), record.rtype);
        if asked.contains_key(&key) {
            continue;
        }
        let expect = if referral {
            Expect::Reference
        } else {
            expect_of(&old, &new, &record.name, record.rtype)
        };
        asked.insert(
            key,
            Question {
                name: record.name.clone(),
                rtype: record.rtype,
                referral,
                expect,
                stands_for: None,
            },
        );
    }
    let mut synthesized = Vec::new();
    for question in asked.values() {
        let Some(parent) = wildcard_parent(&question.name) else {
            continue;
        };
        if question.referral
            || matches!(question.rtype, RrType::NS | RrType::DS)
            || below_a_cut(&parent)
        {
            continue;
        }
        if let Ok(name) = parent.prepend(fresh) {
            synthesized.push(Question {
                name,
                rtype: question.rtype,
                referral: false,
                expect: question.expect.clone(),
                stands_for: Some(question.name.clone()),
            });
        }
    }
    if let Some(question) = no_such_name(domain, source, target, &asked, fresh, &below_a_cut) {
        if let Expect::NoSuchName {
            old_minimum: Some(old),
            new_minimum: Some(new),
        } = question.expect
        {
            if old != new {
                out.warnings.push(format!(
                    "the zones' SOA minimum differs (old {old} s, new {new} s): resolvers keep a name that does not exist for up to {new} s once the new servers answer"
                ));
            }
        }
        synthesized.push(question);
    }
    out.synthesized = synthesized.len();
    out.asked = asked.into_values().chain(synthesized).collect();
    out.judged = out
        .asked
        .iter()
        .filter(|q| matches!(q.expect, Expect::Possible(_)))
        .count();
    out
}

/// How the answers about `name`/`rtype` are judged: against the reference when both zones
/// answer it plainly, else by what either zone's record sets may answer.
fn expect_of(old: &ZoneIndex<'_>, new: &ZoneIndex<'_>, name: &Name, rtype: RrType) -> Expect {
    let sides: Vec<Possible> = [old.possible(name, rtype), new.possible(name, rtype)]
        .into_iter()
        .flatten()
        .collect();
    let varies = old.varies(name, rtype) || new.varies(name, rtype);
    if !varies || sides.is_empty() {
        return Expect::Reference;
    }
    let mut sides = sides;
    sides.dedup();
    match sides.len() {
        1 => Expect::Possible(sides.remove(0)),
        _ => Expect::Possible(Possible::AnyOf(sides)),
    }
}

/// `example.com.` for `\052.example.com.`.
fn wildcard_parent(name: &Name) -> Option<Name> {
    let rest = name.as_str().strip_prefix("\\052.")?;
    Name::parse(rest).ok()
}

/// A name that does not exist, made with `fresh`: below the apex unless a wildcard there
/// would synthesize it, else below the first name of the zone that no wildcard covers.
fn no_such_name(
    domain: &Name,
    source: &Zone,
    target: &Zone,
    asked: &BTreeMap<(Name, RrType), Question>,
    fresh: &str,
    below_a_cut: &dyn Fn(&Name) -> bool,
) -> Option<Question> {
    let has_wildcard = |parent: &Name| {
        parent
            .prepend("*")
            .is_ok_and(|w| source.iter().chain(target.iter()).any(|r| r.name == w))
    };
    let parent = std::iter::once(domain)
        .chain(asked.keys().map(|(name, _)| name))
        .find(|name| {
            !has_wildcard(name) && wildcard_parent(name).is_none() && !below_a_cut(name)
        })?;
    let minimum = |zone: &Zone| {
        zone.iter()
            .find(|r| r.name == *domain && r.rtype == RrType::SOA)
            .and_then(|r| r.values().next().and_then(soa_minimum))
    };
    Some(Question {
        name: parent.prepend(fresh).ok()?,
        rtype: RrType::A,
        referral: false,
        expect: Expect::NoSuchName {
            old_minimum: minimum(source),
            new_minimum: minimum(target),
        },
        stands_for: Some(parent.clone()),
    })
}

/// True for a record set whose answers vary by design, so that two servers of identical
/// zones may answer differently and the API compares them too: a routing policy
/// (weighted, latency, geolocation, failover, multivalue, IP-based), an alias to an AWS
/// resource (a load balancer's, CloudFront's or S3's addresses rotate), and an alias
/// chain in the zone, of any depth, that reaches either.
pub fn compared_by_api(record: &RecordSet, zone: &ZoneIndex<'_>) -> bool {
    record.has_routing_policy()
        || (record.alias_target.is_some() && zone.varies(&record.name, record.rtype))
}

/// Judges one server's reply to a question not judged against the reference: `None` when
/// it is an answer the question may get, else what was expected and what came. `old_side`
/// tells which zone the server serves; `resource` is what the question's AWS resources are
/// known to answer; `reference_minimum` is the SOA minimum the old zone's first server gave
/// for a name that does not exist.
pub fn judge(
    question: &Question,
    reply: Result<&DnsAnswer, &str>,
    old_side: bool,
    resource: &BTreeSet<String>,
    reference_minimum: Option<u32>,
) -> Option<(Vec<String>, Vec<String>)> {
    let shown = || answer_set_of(reply, question);
    match &question.expect {
        Expect::Reference => None,
        Expect::Possible(possible) => {
            let admitted = match reply {
                Ok(answer) if answer.rcode == "NOERROR" => {
                    possible.admits(&answered(answer, &question.name, question.rtype), resource)
                }
                _ => false,
            };
            (!admitted).then(|| (vec![format!("may answer: {possible}")], shown()))
        }
        Expect::NoSuchName {
            old_minimum,
            new_minimum,
        } => {
            let expected = if old_side { *old_minimum } else { *new_minimum }.or(reference_minimum);
            let got = match reply {
                Ok(answer) if answer.rcode == "NXDOMAIN" => negative_minimum(answer),
                _ => return Some((vec![format!("NXDOMAIN")], shown())),
            };
            match expected {
                Some(minimum) if got != Some(minimum) => Some((
                    vec![format!("NXDOMAIN, SOA minimum {minimum}")],
                    vec![format!(
                        "NXDOMAIN, SOA minimum {}",
                        got.map_or_else(|| "absent".to_owned(), |m| m.to_string())
                    )],
                )),
                _ => None,
            }
        }
    }
}

/// What a server said about one RRset, reduced to what is compared.
pub fn answer_set(answer: &Result<DnsAnswer, String>, question: &Question) -> Vec<String> {
    answer_set_of(answer.as_ref().map_err(String::as_str), question)
}

/// [`answer_set`] of a borrowed answer (or why there is none).
pub fn answer_set_of(answer: Result<&DnsAnswer, &str>, question: &Question) -> Vec<String> {
    match answer {
        Err(e) => vec![format!("no answer: {e}")],
        Ok(a) if a.rcode != "NOERROR" => vec![a.rcode.clone()],
        Ok(a) => {
            let records: Vec<DnsRecord> = if question.referral {
                let mut set: Vec<DnsRecord> = a
                    .authorities
                    .iter()
                    .filter(|r| r.name == question.name && r.rtype == "NS")
                    .cloned()
                    .collect();
                set.sort();
                set
            } else {
                a.rrset(&question.name, question.rtype.as_str())
            };
            records
                .into_iter()
                .map(|r| format!("{} {}", r.ttl, normalize_data(&r)))
                .collect()
        }
    }
}

/// Names inside record data compare without case (servers may answer either).
fn normalize_data(record: &DnsRecord) -> String {
    match record.rtype.as_str() {
        "CNAME" | "NS" | "PTR" => record.data.to_ascii_lowercase(),
        _ => record.data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::AliasTarget;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    fn alias(name: &str, zone: &str, to: &str) -> RecordSet {
        let mut r = RecordSet::simple(n(name), RrType::A, 60, &[]);
        r.resource_records.clear();
        r.ttl = None;
        r.alias_target = Some(AliasTarget {
            hosted_zone_id: zone.into(),
            dns_name: n(to),
            evaluate_target_health: false,
        });
        r
    }

    fn a(name: &str, values: &[&str]) -> RecordSet {
        RecordSet::simple(n(name), RrType::A, 60, values)
    }

    fn weighted(name: &str, id: &str, value: &str) -> RecordSet {
        let mut r = a(name, &[value]);
        r.set_identifier = Some(id.into());
        r.weight = Some(10);
        r
    }

    fn soa(minimum: u32) -> RecordSet {
        RecordSet::simple(
            n("example.com"),
            RrType::SOA,
            900,
            &[&format!(
                "ns1.example.net. hostmaster.example.com. 1 7200 900 1209600 {minimum}"
            )],
        )
    }

    fn reply(
        rcode: &str,
        answers: &[(&str, &str, u32, &str)],
        soa_minimum: Option<u32>,
    ) -> DnsAnswer {
        DnsAnswer {
            rcode: rcode.into(),
            authoritative: true,
            answers: answers
                .iter()
                .map(|(name, rtype, ttl, data)| DnsRecord {
                    name: n(name),
                    rtype: (*rtype).into(),
                    ttl: *ttl,
                    data: (*data).into(),
                })
                .collect(),
            authorities: soa_minimum
                .map(|m| DnsRecord {
                    name: n("example.com"),
                    rtype: "SOA".into(),
                    ttl: m,
                    data: format!(
                        "ns1.example.net. hostmaster.example.com. 9 7200 900 1209600 {m}"
                    ),
                })
                .into_iter()
                .collect(),
        }
    }

    /// The usa.gov shape: a latency set aliasing two weighted sets of the zone, whose
    /// members alias load balancers; an AWS alias; a plain name; a wildcard.
    fn zone() -> Zone {
        let elb = |name: &str, id: &str, lb: &str| {
            let mut r = alias(name, "Z35SXDOTRQ7X7K", lb);
            r.set_identifier = Some(id.into());
            r.weight = Some(100);
            r
        };
        let latency = |id: &str, to: &str| {
            let mut r = alias("route.example.com", "ZSELF", to);
            r.set_identifier = Some(id.into());
            r.region = Some(format!("us-{id}-1"));
            r
        };
        Zone::new([
            soa(300),
            a("www.example.com", &["192.0.2.2"]),
            elb("east.example.com", "b", "east-lb.elb.amazonaws.com"),
            elb("east.example.com", "w", "west-lb.elb.amazonaws.com"),
            elb("west.example.com", "b", "west-lb.elb.amazonaws.com"),
            latency("east", "east.example.com"),
            latency("west", "west.example.com"),
            alias("cdn.example.com", "Z2FDTNDATAQYW2", "d111.cloudfront.net"),
            weighted("w.example.com", "blue", "192.0.2.21"),
            weighted("w.example.com", "green", "192.0.2.20"),
            RecordSet::simple(n("*.wild.example.com"), RrType::TXT, 60, &["\"wild\""]),
        ])
    }

    fn asked(questions: &Questions, label: &str) -> Question {
        questions
            .asked
            .iter()
            .find(|q| q.label() == label)
            .unwrap_or_else(|| panic!("no {label} in {:?}", questions.asked))
            .clone()
    }

    #[test]
    fn every_routed_set_and_alias_is_asked_over_dns_as_well_as_compared_through_the_api() {
        // GIVEN a zone whose names are mostly routed and aliased
        let domain = n("example.com");
        let zone = zone();
        // WHEN the questions are made
        let q = questions(&domain, &[], &zone, &zone, "zh-fresh");
        // THEN every RRset is asked: the plain one against the reference, the routed sets,
        // the chain through them and the AWS alias by what they may answer
        assert_eq!(asked(&q, "www.example.com. A").expect, Expect::Reference);
        for judged in [
            "route.example.com. A",
            "east.example.com. A",
            "w.example.com. A",
            "cdn.example.com. A",
        ] {
            assert!(
                matches!(asked(&q, judged).expect, Expect::Possible(_)),
                "{judged}"
            );
        }
        assert_eq!(q.judged, 5, "route, east, west, cdn, w");
        // AND the API still compares each varying record set (both zones count)
        assert_eq!(q.by_api, 2 * 8);
    }

    #[test]
    fn a_wildcard_is_asked_through_a_made_up_name_under_it_and_a_name_that_does_not_exist_below_the_apex(
    ) {
        let domain = n("example.com");
        let zone = zone();
        let q = questions(&domain, &[], &zone, &zone, "zh-fresh");
        let wild = asked(&q, "\\052.wild.example.com. TXT");
        assert_eq!(
            wild.name,
            n("*.wild.example.com"),
            "the literal wildcard is asked too"
        );
        let synthesized: Vec<&Question> =
            q.asked.iter().filter(|q| q.stands_for.is_some()).collect();
        assert_eq!(synthesized.len(), 2, "{synthesized:?}");
        assert_eq!(q.synthesized, 2);
        assert_eq!(synthesized[0].name, n("zh-fresh.wild.example.com"));
        assert_eq!(synthesized[0].label(), "\\052.wild.example.com. TXT");
        assert_eq!(synthesized[1].name, n("zh-fresh.example.com"));
        assert_eq!(
            synthesized[1].expect,
            Expect::NoSuchName {
                old_minimum: Some(300),
                new_minimum: Some(300)
            }
        );
        // AND the made-up names come last, so that the order stays from round to round
        let fresh_again = questions(&domain, &[], &zone, &zone, "zh-other");
        let labels = |q: &Questions| q.asked.iter().map(Question::label).collect::<Vec<_>>();
        assert_eq!(labels(&q), labels(&fresh_again));
    }

    #[test]
    fn with_a_wildcard_at_the_apex_the_name_that_does_not_exist_is_made_below_a_name_no_wildcard_covers(
    ) {
        let domain = n("example.com");
        let zone = Zone::new([
            soa(60),
            RecordSet::simple(n("*.example.com"), RrType::A, 60, &["192.0.2.99"]),
            a("api.example.com", &["192.0.2.1"]),
            RecordSet::simple(n("*.api.example.com"), RrType::A, 60, &["192.0.2.98"]),
            a("www.example.com", &["192.0.2.2"]),
        ]);
        let q = questions(&domain, &[], &zone, &zone, "zh-x");
        let nx = q.asked.last().expect("a question");
        assert_eq!(nx.name, n("zh-x.www.example.com"));
        assert_eq!(nx.label(), "www.example.com. (no such name below)");
    }

    #[test]
    fn differing_soa_minimums_are_a_warning_and_each_side_is_held_to_its_own() {
        let domain = n("example.com");
        let q = questions(
            &domain,
            &[],
            &Zone::new([soa(300)]),
            &Zone::new([soa(86400)]),
            "zh",
        );
        assert_eq!(q.warnings.len(), 1, "{:?}", q.warnings);
        let nx = q.asked.last().expect("nx").clone();
        let name = nx.name.to_string();
        let none = BTreeSet::new();
        let old_ok = reply("NXDOMAIN", &[], Some(300));
        let new_ok = reply("NXDOMAIN", &[], Some(86400));
        assert_eq!(judge(&nx, Ok(&old_ok), true, &none, None), None);
        assert_eq!(judge(&nx, Ok(&new_ok), false, &none, None), None);
        assert!(judge(&nx, Ok(&old_ok), false, &none, None).is_some());
        // A server that answers a name that does not exist, or NODATA, is wrong
        let lying = reply("NOERROR", &[(&name, "A", 60, "198.51.100.66")], None);
        assert!(judge(&nx, Ok(&lying), false, &none, None).is_some());
        let nodata = reply("NOERROR", &[], Some(86400));
        assert!(judge(&nx, Ok(&nodata), false, &none, None).is_some());
        assert!(judge(&nx, Err("timeout"), false, &none, None).is_some());
    }

    #[test]
    fn a_routed_set_is_judged_by_its_members_on_each_side_and_a_lying_server_fails() {
        let domain = n("example.com");
        let zone = zone();
        let q = questions(&domain, &[], &zone, &zone, "zh");
        let w = asked(&q, "w.example.com. A");
        let none = BTreeSet::new();
        // GIVEN the old server answers the blue member and the new one the green one
        let blue = reply("NOERROR", &[("w.example.com", "A", 60, "192.0.2.21")], None);
        let green = reply("NOERROR", &[("w.example.com", "A", 60, "192.0.2.20")], None);
        // THEN both are answers the set may give, though they differ
        assert_eq!(judge(&w, Ok(&blue), true, &none, None), None);
        assert_eq!(judge(&w, Ok(&green), false, &none, None), None);
        // AND a lying server, an NXDOMAIN and a silence are not
        let lie = reply(
            "NOERROR",
            &[("w.example.com", "A", 60, "198.51.100.66")],
            None,
        );
        let (expected, got) = judge(&w, Ok(&lie), false, &none, None).expect("a difference");
        assert!(
            expected[0].starts_with("may answer: one of"),
            "{expected:?}"
        );
        assert_eq!(got, ["60 198.51.100.66"]);
        let nx = reply("NXDOMAIN", &[], Some(300));
        assert!(judge(&w, Ok(&nx), false, &none, None).is_some());
        assert!(judge(&w, Err("timeout"), false, &none, None).is_some());
    }

    #[test]
    fn an_aws_alias_admits_what_the_resource_answers_and_nothing_else() {
        let domain = n("example.com");
        let zone = zone();
        let q = questions(&domain, &[], &zone, &zone, "zh");
        let route = asked(&q, "route.example.com. A");
        let Expect::Possible(p) = &route.expect else {
            panic!("judged");
        };
        assert_eq!(
            p.resources().len(),
            2,
            "both load balancers, through two levels"
        );
        let lb = BTreeSet::from(["192.0.2.7".to_owned(), "198.51.100.8".to_owned()]);
        let ok = reply(
            "NOERROR",
            &[
                ("route.example.com", "A", 60, "198.51.100.8"),
                ("route.example.com", "A", 60, "192.0.2.7"),
            ],
            None,
        );
        assert_eq!(judge(&route, Ok(&ok), false, &lb, None), None);
        let lie = reply(
            "NOERROR",
            &[("route.example.com", "A", 60, "198.51.100.66")],
            None,
        );
        assert!(judge(&route, Ok(&lie), false, &lb, None).is_some());
        let partly = reply(
            "NOERROR",
            &[
                ("route.example.com", "A", 60, "192.0.2.7"),
                ("route.example.com", "A", 60, "198.51.100.66"),
            ],
            None,
        );
        assert!(judge(&route, Ok(&partly), false, &lb, None).is_some());
    }

    #[test]
    fn answers_that_vary_by_design_are_compared_through_the_api_too() {
        let domain = n("example.com");
        let mut weighted = RecordSet::simple(n("w.example.com"), RrType::A, 60, &["192.0.2.1"]);
        weighted.set_identifier = Some("blue".into());
        weighted.weight = Some(10);
        let zone = Zone::new([
            RecordSet::simple(n("www.example.com"), RrType::A, 60, &["192.0.2.2"]),
            weighted,
            alias(
                "lb.example.com",
                "Z35SXDOTRQ7X7K",
                "my-lb-1.us-east-1.elb.amazonaws.com",
            ),
            alias("to-w.example.com", "ZSELF", "w.example.com"),
            alias("to-www.example.com", "ZSELF", "www.example.com"),
        ]);
        let q = questions(&domain, &[], &zone, &zone, "zh-fresh");
        let plain: Vec<String> = q
            .asked
            .iter()
            .filter(|q| q.expect == Expect::Reference)
            .map(|q| q.name.to_string())
            .collect();
        assert_eq!(plain, ["to-www.example.com.", "www.example.com."]);
        assert_eq!(
            q.by_api,
            2 * 3,
            "the weighted set and both varying aliases, on each side"
        );
    }
}
