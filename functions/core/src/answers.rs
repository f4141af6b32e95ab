//! What DNS servers answer, and how two answers are compared: the questions to ask about a
//! zone, an answer reduced to the set that is compared, and a difference between servers.
//! Pure: the asking is `zonehop::ports::dns`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::canary::CANARY_LABEL;
use crate::name::Name;
use crate::plan::is_apex_soa_or_ns;
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

/// One RRset a server answers differently from the old zone's reference server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `old ns1.example.net (192.0.2.1:53)`, `new ...`, or `api` for routing policies.
    pub server: String,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// An RRset to ask every server about (a DNS question, and how to read its answer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Question {
    pub name: Name,
    pub rtype: RrType,
    /// A delegation (NS below the apex): the parent answers it as a referral, so the
    /// set is read from the authority section.
    pub referral: bool,
}

/// The RRsets to compare over DNS, and the number of routing-policy record sets left to
/// the API. Both zones' names count, so a record missing on either side is asked for.
pub fn questions(
    domain: &Name,
    keep: &[Name],
    source: &Zone,
    target: &Zone,
) -> (Vec<Question>, usize) {
    let canary = domain.prepend(CANARY_LABEL).ok();
    let mut set = BTreeSet::new();
    let mut routed = 0;
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
        if compared_by_api(record, domain, source) || compared_by_api(record, domain, target) {
            routed += 1;
            continue;
        }
        set.insert(Question {
            name: record.name.clone(),
            rtype: record.rtype,
            referral: record.rtype == RrType::NS && record.name != *domain,
        });
    }
    (set.into_iter().collect(), routed)
}

/// True for a record set whose answers vary by design, so that two servers of identical
/// zones may answer differently and only the API can compare them: a routing policy
/// (weighted, latency, geolocation, failover, multivalue, IP-based), an alias to an AWS
/// resource (a load balancer's, CloudFront's or S3's addresses rotate), and an alias to a
/// name of the zone that has routed record sets.
pub fn compared_by_api(record: &RecordSet, domain: &Name, zone: &Zone) -> bool {
    if record.has_routing_policy() {
        return true;
    }
    let Some(alias) = &record.alias_target else {
        return false;
    };
    if !alias.dns_name.is_at_or_below(domain) {
        return true;
    }
    zone.iter()
        .any(|other| other.name == alias.dns_name && other.has_routing_policy())
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

    #[test]
    fn answers_that_vary_by_design_are_left_to_the_api() {
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
        let (asked, by_api) = questions(&domain, &[], &zone, &zone);
        let names: Vec<String> = asked.iter().map(|q| q.name.to_string()).collect();
        assert_eq!(names, ["to-www.example.com.", "www.example.com."]);
        assert_eq!(
            by_api,
            2 * 3,
            "the weighted set and both varying aliases, on each side"
        );
    }
}
