//! The zone model: every record set that ListResourceRecordSets can return.
//!
//! The serde form of [`RecordSet`] is exactly the JSON of `aws route53
//! list-resource-record-sets` (PascalCase, `TTL`, `ResourceRecords: [{"Value": ..}]`), so a
//! user's export loads without translation and our own exports can be fed back to the CLI.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::name::Name;

/// The record types Route 53 serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(clippy::upper_case_acronyms)]
pub enum RrType {
    A,
    AAAA,
    CAA,
    CNAME,
    DS,
    HTTPS,
    MX,
    NAPTR,
    NS,
    PTR,
    SOA,
    SPF,
    SRV,
    SSHFP,
    SVCB,
    TLSA,
    TXT,
}

impl RrType {
    /// Every type, in Route 53's own order of the list above.
    pub const ALL: [RrType; 17] = [
        RrType::A,
        RrType::AAAA,
        RrType::CAA,
        RrType::CNAME,
        RrType::DS,
        RrType::HTTPS,
        RrType::MX,
        RrType::NAPTR,
        RrType::NS,
        RrType::PTR,
        RrType::SOA,
        RrType::SPF,
        RrType::SRV,
        RrType::SSHFP,
        RrType::SVCB,
        RrType::TLSA,
        RrType::TXT,
    ];

    /// The type's mnemonic, as Route 53 and zone files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RrType::A => "A",
            RrType::AAAA => "AAAA",
            RrType::CAA => "CAA",
            RrType::CNAME => "CNAME",
            RrType::DS => "DS",
            RrType::HTTPS => "HTTPS",
            RrType::MX => "MX",
            RrType::NAPTR => "NAPTR",
            RrType::NS => "NS",
            RrType::PTR => "PTR",
            RrType::SOA => "SOA",
            RrType::SPF => "SPF",
            RrType::SRV => "SRV",
            RrType::SSHFP => "SSHFP",
            RrType::SVCB => "SVCB",
            RrType::TLSA => "TLSA",
            RrType::TXT => "TXT",
        }
    }

    /// Parses a mnemonic (case-insensitive).
    pub fn parse(s: &str) -> Option<RrType> {
        RrType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// Types whose whole value is one domain name, compared as names (case, trailing dot).
    fn value_is_a_name(self) -> bool {
        matches!(self, RrType::CNAME | RrType::NS | RrType::PTR)
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of a record set, as Route 53 spells it (`"10 mail.example.com."`, `"\"v=spf1 -all\""`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRecord {
    #[serde(rename = "Value")]
    pub value: String,
}

/// An alias: Route 53 answers with the target's records (and the target's TTL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasTarget {
    /// The zone of the target: the record's own zone for a same-zone alias, or the fixed
    /// zone id of an AWS service (ELB, CloudFront, S3 website...) otherwise.
    pub hosted_zone_id: String,
    #[serde(rename = "DNSName")]
    pub dns_name: Name,
    pub evaluate_target_health: bool,
}

/// GeoLocation routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeoLocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision_code: Option<String>,
}

/// Coordinates of a geoproximity record (Route 53 keeps them as decimal strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Coordinates {
    pub latitude: String,
    pub longitude: String,
}

/// GeoProximity routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeoProximityLocation {
    #[serde(rename = "AWSRegion", default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_zone_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<i32>,
}

/// IP-based (CIDR) routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CidrRoutingConfig {
    pub collection_id: String,
    pub location_name: String,
}

/// Failover role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Failover {
    Primary,
    Secondary,
}

/// One record set, as ListResourceRecordSets returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordSet {
    pub name: Name,
    #[serde(rename = "Type")]
    pub rtype: RrType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_location: Option<GeoLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_answer: Option<bool>,
    #[serde(rename = "TTL", default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_records: Vec<ResourceRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<AliasTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_routing_config: Option<CidrRoutingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_proximity_location: Option<GeoProximityLocation>,
}

/// What identifies a record set inside a zone: Route 53 allows one simple record set per
/// name and type, or several with distinct `SetIdentifier`s when a routing policy is set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    pub name: Name,
    pub rtype: RrType,
    pub set_identifier: Option<String>,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)?;
        if let Some(id) = &self.set_identifier {
            write!(f, " [{id}]")?;
        }
        Ok(())
    }
}

impl RecordSet {
    /// The default location of a geolocation or IP-based routed set (`*`): what answers a
    /// resolver no other location matches.
    pub fn is_default_location(&self) -> bool {
        self.geo_location
            .as_ref()
            .is_some_and(|g| g.country_code.as_deref() == Some("*"))
            || self
                .cidr_routing_config
                .as_ref()
                .is_some_and(|c| c.location_name == "*")
    }

    /// A simple (no routing policy) record set with values.
    pub fn simple(name: Name, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
        RecordSet {
            name,
            rtype,
            set_identifier: None,
            weight: None,
            region: None,
            geo_location: None,
            failover: None,
            multi_value_answer: None,
            ttl: Some(ttl),
            resource_records: values
                .iter()
                .map(|v| ResourceRecord {
                    value: (*v).to_owned(),
                })
                .collect(),
            alias_target: None,
            health_check_id: None,
            traffic_policy_instance_id: None,
            cidr_routing_config: None,
            geo_proximity_location: None,
        }
    }

    /// An alias record set.
    pub fn alias(name: Name, rtype: RrType, target: AliasTarget) -> RecordSet {
        RecordSet {
            ttl: None,
            resource_records: Vec::new(),
            alias_target: Some(target),
            ..RecordSet::simple(name, rtype, 0, &[])
        }
    }

    pub fn key(&self) -> RecordKey {
        RecordKey {
            name: self.name.clone(),
            rtype: self.rtype,
            set_identifier: self.set_identifier.clone(),
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.resource_records.iter().map(|r| r.value.as_str())
    }

    /// True when the record set has a routing policy (and so a `SetIdentifier`).
    pub fn has_routing_policy(&self) -> bool {
        self.set_identifier.is_some()
    }

    /// The same record set with its values in a canonical order and spelling, so that two
    /// record sets that Route 53 would serve identically compare equal.
    pub fn normalized(&self) -> RecordSet {
        let mut out = self.clone();
        if self.rtype.value_is_a_name() {
            for record in &mut out.resource_records {
                if let Ok(name) = Name::parse(&record.value) {
                    record.value = name.as_str().to_owned();
                }
            }
        }
        out.resource_records.sort();
        out.resource_records.dedup();
        if let Some(alias) = &mut out.alias_target {
            alias.hosted_zone_id = bare_zone_id(&alias.hosted_zone_id).to_owned();
        }
        out
    }

    /// True when both record sets would be served identically.
    pub fn same_content(&self, other: &RecordSet) -> bool {
        self.normalized() == other.normalized()
    }

    /// Number of `ResourceRecord` values this record set counts for in a change batch
    /// (an alias counts as one).
    pub fn value_count(&self) -> usize {
        if self.alias_target.is_some() {
            1
        } else {
            self.resource_records.len()
        }
    }

    /// Characters summed over the `Value` elements, as Route 53 counts them for a batch.
    pub fn value_chars(&self) -> usize {
        self.values().map(|v| v.chars().count()).sum()
    }
}

/// Checks that `value` is a value Route 53 accepts for a record of type `rtype` (in its
/// own presentation format): [`crate::validate::check_value`], which cites the Route 53
/// documentation for each type. The error says what is wrong, without repeating the value.
pub fn validate_value(rtype: RrType, value: &str) -> Result<(), String> {
    crate::validate::check_value(rtype, value)
}

/// `Z123` from `/hostedzone/Z123` (the API returns both spellings in different places).
pub fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
        .trim_start_matches("hostedzone/")
}

/// All record sets of one hosted zone, indexed by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    records: BTreeMap<RecordKey, RecordSet>,
}

impl Zone {
    pub fn new(records: impl IntoIterator<Item = RecordSet>) -> Zone {
        Zone {
            records: records.into_iter().map(|r| (r.key(), r)).collect(),
        }
    }

    pub fn get(&self, key: &RecordKey) -> Option<&RecordSet> {
        self.records.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RecordSet> {
        self.records.values()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn insert(&mut self, record: RecordSet) {
        self.records.insert(record.key(), record);
    }

    pub fn remove(&mut self, key: &RecordKey) -> Option<RecordSet> {
        self.records.remove(key)
    }

    /// The record sets in Route 53's listing order: by name with labels reversed, then type.
    pub fn in_listing_order(&self) -> Vec<&RecordSet> {
        let mut out: Vec<&RecordSet> = self.records.values().collect();
        out.sort_by(|a, b| {
            let ka: Vec<&str> = a
                .name
                .labels()
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let kb: Vec<&str> = b
                .name
                .labels()
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            ka.cmp(&kb)
                .then(a.rtype.cmp(&b.rtype))
                .then(a.set_identifier.cmp(&b.set_identifier))
        });
        out
    }
}

impl FromIterator<RecordSet> for Zone {
    fn from_iter<T: IntoIterator<Item = RecordSet>>(iter: T) -> Self {
        Zone::new(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    #[test]
    fn values_compare_as_sets_and_name_values_canonically() {
        let a = RecordSet::simple(
            n("x.example.com"),
            RrType::A,
            60,
            &["192.0.2.2", "192.0.2.1"],
        );
        let b = RecordSet::simple(
            n("x.example.com"),
            RrType::A,
            60,
            &["192.0.2.1", "192.0.2.2"],
        );
        assert!(a.same_content(&b));
        let c = RecordSet::simple(n("x.example.com"), RrType::CNAME, 60, &["WWW.Example.com"]);
        let d = RecordSet::simple(n("x.example.com"), RrType::CNAME, 60, &["www.example.com."]);
        assert!(c.same_content(&d));
    }

    #[test]
    fn a_different_ttl_is_a_different_record_set() {
        let a = RecordSet::simple(n("x.example.com"), RrType::A, 60, &["192.0.2.1"]);
        let b = RecordSet::simple(n("x.example.com"), RrType::A, 300, &["192.0.2.1"]);
        assert!(!a.same_content(&b));
    }

    #[test]
    fn txt_values_are_case_sensitive() {
        let a = RecordSet::simple(n("x.example.com"), RrType::TXT, 60, &["\"Abc\""]);
        let b = RecordSet::simple(n("x.example.com"), RrType::TXT, 60, &["\"abc\""]);
        assert!(!a.same_content(&b));
    }

    #[test]
    fn alias_zone_ids_compare_without_the_hostedzone_prefix() {
        let target = |id: &str| AliasTarget {
            hosted_zone_id: id.to_owned(),
            dns_name: n("lb.example.com"),
            evaluate_target_health: false,
        };
        let a = RecordSet::alias(n("x.example.com"), RrType::A, target("/hostedzone/Z1"));
        let b = RecordSet::alias(n("x.example.com"), RrType::A, target("Z1"));
        assert!(a.same_content(&b));
    }

    #[test]
    fn listing_order_is_by_reversed_labels_then_type() {
        let zone = Zone::new([
            RecordSet::simple(n("b.example.com"), RrType::A, 60, &["192.0.2.1"]),
            RecordSet::simple(n("a.b.example.com"), RrType::A, 60, &["192.0.2.1"]),
            RecordSet::simple(n("example.com"), RrType::TXT, 60, &["\"x\""]),
            RecordSet::simple(n("example.com"), RrType::A, 60, &["192.0.2.1"]),
        ]);
        let order: Vec<String> = zone
            .in_listing_order()
            .iter()
            .map(|r| format!("{} {}", r.name, r.rtype))
            .collect();
        assert_eq!(
            order,
            [
                "example.com. A",
                "example.com. TXT",
                "b.example.com. A",
                "a.b.example.com. A"
            ]
        );
    }

    #[test]
    fn values_are_checked_against_their_type() {
        for (rtype, value) in [
            (RrType::A, "192.0.2.1"),
            (RrType::AAAA, "2001:db8::1"),
            (RrType::CNAME, "www.example.net."),
            (RrType::MX, "10 mail.example.com."),
            (RrType::SRV, "10 5 5060 sip.example.com."),
            (RrType::CAA, "0 issue \"amazon.com\""),
            (RrType::TXT, "\"v=spf1 -all\""),
            (
                RrType::SOA,
                "ns-1.example.net. hostmaster.example.com. 1 7200 900 1209600 86400",
            ),
        ] {
            assert_eq!(validate_value(rtype, value), Ok(()), "{rtype} {value}");
        }
        for (rtype, value) in [
            (RrType::A, "192.0.2.1.5"),
            (RrType::A, "example.com"),
            (RrType::AAAA, "192.0.2.1"),
            (RrType::CNAME, "a b"),
            (RrType::MX, "ten mail.example.com."),
            (RrType::CAA, "0"),
            (RrType::TXT, " "),
            (RrType::A, "192.0.2.1\n"),
        ] {
            assert!(validate_value(rtype, value).is_err(), "{rtype} {value:?}");
        }
    }
}
