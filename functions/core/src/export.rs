//! Zone exports in the format of `aws route53 list-resource-record-sets`.
//!
//! Users hand us their exports, and a rehearsal leaves its final zones in the same format,
//! so the two directions live together here.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::zone::{validate_value, RecordKey, RecordSet, Zone};

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A key given twice in one object, or a byte-order mark before the text.
    #[error("the export is refused: {0}")]
    Strict(String),
    /// One page of a listing that continues (`IsTruncated`, `NextRecordName`): the rest of
    /// the zone is missing.
    #[error("the export is one page of a longer listing ({next}): the rest of the zone is missing. Export the whole zone with `aws route53 list-resource-record-sets --hosted-zone-id ZONE_ID` without --max-items (the CLI follows every page itself)")]
    Truncated { next: String },
    /// Record sets Route 53 could never hold (`crate::validate`): the first problems and
    /// the count.
    #[error("the export holds what Route 53 refuses: {0}")]
    NotAsRoute53Holds(String),
    /// The text is not JSON, or not of the export's shape.
    #[error("not a list-resource-record-sets export: {0}")]
    Malformed(String),
    /// One record set in it is invalid (bad name, unknown type, ...).
    #[error("record set #{index} of the export is invalid: {message}")]
    BadRecord { index: usize, message: String },
    /// Two record sets with the same name, type and SetIdentifier (Route 53 holds one).
    #[error("record set #{index} of the export ({key}) repeats record set #{first}")]
    DuplicateRecordSet {
        index: usize,
        first: usize,
        key: String,
    },
    /// A negative TTL (Route 53 takes 0 to 2147483647).
    #[error("record set #{index} of the export ({key}) has a negative TTL")]
    NegativeTtl { index: usize, key: String },
    /// A record set with neither values nor an alias target.
    #[error("record set #{index} of the export ({key}) has no values and no alias target")]
    NoValues { index: usize, key: String },
    /// A value Route 53 would refuse for the record's type.
    #[error("record set #{index} of the export ({key}), value #{value}: {message}")]
    InvalidValue {
        index: usize,
        key: String,
        value: usize,
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Export<T> {
    resource_record_sets: Vec<T>,
}

/// Reads an export: the CLI's `{"ResourceRecordSets": [...]}` object, or a bare array of
/// record sets (what `--query ResourceRecordSets` prints). Refuses what Route 53 itself
/// would refuse (the emulator accepts it): a record set given twice, a negative TTL, a
/// record set without values or alias target, a value invalid for its type.
pub fn load_export(json: &str) -> Result<Zone, ExportError> {
    let value = crate::json::parse_strict(json).map_err(|e| match e {
        crate::json::StrictJsonError::DuplicateKey { .. }
        | crate::json::StrictJsonError::ByteOrderMark => ExportError::Strict(e.to_string()),
        other => ExportError::Malformed(other.to_string()),
    })?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut object) => {
            // One page of a listing that continues: `--max-items`, or a page of the API.
            let truncated = object.get("IsTruncated") == Some(&serde_json::Value::Bool(true));
            let next = ["NextRecordName", "NextToken"]
                .into_iter()
                .find_map(|key| object.get(key).map(|v| format!("{key} {v}")));
            if truncated || next.is_some() {
                return Err(ExportError::Truncated {
                    next: next.unwrap_or_else(|| "IsTruncated true".to_owned()),
                });
            }
            match object.remove("ResourceRecordSets") {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(ExportError::Malformed(
                        "no `ResourceRecordSets` array in the object".to_owned(),
                    ))
                }
            }
        }
        _ => {
            return Err(ExportError::Malformed(
                "expected an object or an array".to_owned(),
            ))
        }
    };
    let mut records = Vec::with_capacity(items.len());
    let mut seen: BTreeMap<RecordKey, usize> = BTreeMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let record: RecordSet =
            serde_json::from_value(item).map_err(|e| ExportError::BadRecord {
                index,
                message: e.to_string(),
            })?;
        check_record(index, &record)?;
        if let Some(&first) = seen.get(&record.key()) {
            return Err(ExportError::DuplicateRecordSet {
                index,
                first,
                key: record.key().to_string(),
            });
        }
        seen.insert(record.key(), index);
        records.push(record);
    }
    Ok(Zone::new(records))
}

/// What Route 53 refuses in one record set and the emulator lets through.
fn check_record(index: usize, record: &RecordSet) -> Result<(), ExportError> {
    let key = || record.key().to_string();
    if record.ttl.is_some_and(|ttl| ttl < 0) {
        return Err(ExportError::NegativeTtl { index, key: key() });
    }
    if record.alias_target.is_none() && record.resource_records.is_empty() {
        return Err(ExportError::NoValues { index, key: key() });
    }
    for (value, rr) in record.resource_records.iter().enumerate() {
        validate_value(record.rtype, &rr.value).map_err(|message| ExportError::InvalidValue {
            index,
            key: key(),
            value,
            message,
        })?;
    }
    Ok(())
}

/// Checks a loaded export as the zone of `apex`, as Route 53 would hold it
/// ([`crate::validate::problems`]): every record set's TTL (0..2147483647), values and
/// their count, no NS at a wildcard, a CNAME alone at its name and not at the apex, no SOA
/// below the apex. Every problem is found; the message lists the first ones and the count.
pub fn check_export(zone: &Zone, apex: &crate::name::Name) -> Result<(), ExportError> {
    let sets: Vec<&crate::zone::RecordSet> = zone.iter().collect();
    let problems = crate::validate::problems(apex, &sets);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ExportError::NotAsRoute53Holds(crate::validate::summarize(
            &problems,
        )))
    }
}

/// Writes a zone as the CLI would print it, in Route 53's listing order.
pub fn to_export(zone: &Zone) -> String {
    let export = Export {
        resource_record_sets: zone.in_listing_order(),
    };
    // Serializing plain data to a String cannot fail.
    serde_json::to_string_pretty(&export).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::zone::{Failover, RrType};

    /// An export with every type Route 53 serves and every routing policy, as the CLI
    /// prints it (escaped wildcard, `/hostedzone/` prefixes, long DKIM value).
    pub(crate) const EVERY_KIND: &str = include_str!("../testdata/every-kind.json");

    #[test]
    fn loads_every_type_and_routing_policy_from_a_cli_export() {
        let zone = load_export(EVERY_KIND).expect("export loads");
        let types: std::collections::BTreeSet<RrType> = zone.iter().map(|r| r.rtype).collect();
        assert_eq!(types.len(), RrType::ALL.len(), "every type is present");

        let wildcard = zone
            .iter()
            .find(|r| r.name == Name::parse("*.example.com").expect("name"))
            .expect("the escaped wildcard loads as *.example.com");
        assert_eq!(wildcard.name.as_str(), "\\052.example.com.");

        let by_id = |id: &str| {
            zone.iter()
                .find(|r| r.set_identifier.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("record with SetIdentifier {id}"))
        };
        assert_eq!(by_id("weighted-a").weight, Some(70));
        assert_eq!(by_id("latency-eu").region.as_deref(), Some("eu-west-1"));
        assert_eq!(by_id("failover-primary").failover, Some(Failover::Primary));
        assert!(by_id("failover-primary").health_check_id.is_some());
        assert_eq!(
            by_id("geo-de")
                .geo_location
                .as_ref()
                .and_then(|g| g.country_code.as_deref()),
            Some("DE")
        );
        assert_eq!(
            by_id("geoprox-1")
                .geo_proximity_location
                .as_ref()
                .and_then(|g| g.bias),
            Some(25)
        );
        assert_eq!(
            by_id("cidr-office")
                .cidr_routing_config
                .as_ref()
                .map(|c| c.location_name.as_str()),
            Some("office")
        );
        assert_eq!(by_id("mv-1").multi_value_answer, Some(true));
        let alias = zone
            .iter()
            .find(|r| {
                r.name == Name::parse("example.com").expect("name") && r.alias_target.is_some()
            })
            .expect("apex alias");
        assert!(alias
            .alias_target
            .as_ref()
            .is_some_and(|a| a.evaluate_target_health));
    }

    #[test]
    fn an_export_round_trips_through_our_own_writer() {
        let zone = load_export(EVERY_KIND).expect("export loads");
        let again = load_export(&to_export(&zone)).expect("our export loads");
        assert_eq!(zone, again);
    }

    #[test]
    fn a_bare_array_is_accepted() {
        let zone = load_export(
            r#"[{"Name":"a.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.1"}]}]"#,
        )
        .expect("array loads");
        assert_eq!(zone.len(), 1);
    }

    #[test]
    fn bad_exports_name_the_record_at_fault() {
        assert!(matches!(
            load_export("nope"),
            Err(ExportError::Malformed(_))
        ));
        assert!(matches!(load_export("{}"), Err(ExportError::Malformed(_))));
        let bad_type = r#"[{"Name":"a.example.com.","Type":"A","TTL":1,"ResourceRecords":[{"Value":"192.0.2.1"}]},
                           {"Name":"b.example.com.","Type":"LOC","TTL":1,"ResourceRecords":[]}]"#;
        match load_export(bad_type) {
            Err(ExportError::BadRecord { index, .. }) => assert_eq!(index, 1),
            other => panic!("expected BadRecord, got {other:?}"),
        }
        let bad_name = r#"[{"Name":"a..example.com.","Type":"A","TTL":1}]"#;
        assert!(matches!(
            load_export(bad_name),
            Err(ExportError::BadRecord { index: 0, .. })
        ));
    }

    #[test]
    fn an_export_route53_could_never_hold_is_refused_listing_every_problem() {
        let apex = Name::parse("example.com").expect("name");
        assert!(check_export(&load_export(EVERY_KIND).expect("loads"), &apex).is_ok());
        let export = r#"[
            {"Name":"www.example.com.","Type":"CNAME","TTL":60,"ResourceRecords":[{"Value":"lb.example.net."}]},
            {"Name":"www.example.com.","Type":"AAAA","TTL":60,"ResourceRecords":[{"Value":"2001:db8::1"}]},
            {"Name":"\\052.example.com.","Type":"NS","TTL":60,"ResourceRecords":[{"Value":"ns1.example.net."}]},
            {"Name":"big.example.com.","Type":"A","TTL":2147483648,"ResourceRecords":[{"Value":"192.0.2.1"}]}
        ]"#;
        let zone = load_export(export).expect("each record set alone loads");
        let message = check_export(&zone, &apex).expect_err("refused").to_string();
        for expected in ["a CNAME beside AAAA", "wildcard", "TTL 2147483648"] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
    }

    #[test]
    fn a_truncated_page_a_duplicate_key_or_a_bom_is_refused_by_name() {
        let page = r#"{"ResourceRecordSets": [], "IsTruncated": true, "NextRecordName": "m.example.com.", "MaxItems": "100"}"#;
        let message = load_export(page).expect_err("one page").to_string();
        assert!(message.contains("NextRecordName"), "{message}");
        assert!(message.contains("without --max-items"), "{message}");
        let twice = r#"[{"Name":"a.example.com.","Type":"A","TTL":60,"TTL":30,"ResourceRecords":[{"Value":"192.0.2.1"}]}]"#;
        let message = load_export(twice).expect_err("twice").to_string();
        assert!(message.contains("`TTL` is given twice"), "{message}");
        let bom = format!("\u{feff}{EVERY_KIND}");
        let message = load_export(&bom).expect_err("BOM").to_string();
        assert!(message.contains("byte-order mark"), "{message}");
    }

    #[test]
    fn values_route53_refuses_in_an_export_are_refused() {
        for (rtype, value) in [
            ("TXT", "no quotes"),
            ("TXT", &*format!("\\\"{}\\\"", "a".repeat(300))),
            ("CAA", "0 issue \\\"amazon.com"),
        ] {
            let r = one(&format!(
                r#"{{"Name":"a.example.com.","Type":"{rtype}","TTL":60,"ResourceRecords":[{{"Value":"{value}"}}]}}"#
            ));
            assert!(
                matches!(r, Err(ExportError::InvalidValue { .. })),
                "{rtype} {value:?}: {r:?}"
            );
        }
    }

    fn one(json_record: &str) -> Result<Zone, ExportError> {
        load_export(&format!("[{json_record}]"))
    }

    #[test]
    fn a_record_set_given_twice_is_refused() {
        let a = r#"{"Name":"a.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.1"}]}"#;
        let again = r#"{"Name":"A.example.com","Type":"A","TTL":30,"ResourceRecords":[{"Value":"192.0.2.2"}]}"#;
        match load_export(&format!("[{a},{again}]")) {
            Err(ExportError::DuplicateRecordSet { index, first, .. }) => {
                assert_eq!((index, first), (1, 0));
            }
            other => panic!("expected DuplicateRecordSet, got {other:?}"),
        }
    }

    #[test]
    fn a_negative_ttl_is_refused() {
        let r = one(
            r#"{"Name":"a.example.com.","Type":"A","TTL":-1,"ResourceRecords":[{"Value":"192.0.2.1"}]}"#,
        );
        assert!(
            matches!(r, Err(ExportError::NegativeTtl { index: 0, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn a_record_set_without_values_is_refused() {
        let r = one(r#"{"Name":"a.example.com.","Type":"A","TTL":60,"ResourceRecords":[]}"#);
        assert!(
            matches!(r, Err(ExportError::NoValues { index: 0, .. })),
            "{r:?}"
        );
        let r = one(r#"{"Name":"a.example.com.","Type":"TXT","TTL":60}"#);
        assert!(matches!(r, Err(ExportError::NoValues { .. })), "{r:?}");
    }

    #[test]
    fn values_invalid_for_their_type_are_refused() {
        for (rtype, value) in [
            ("A", "2001:db8::1"),
            ("A", "192.0.2.256"),
            ("AAAA", "192.0.2.1"),
            ("MX", "mail.example.com."),
            ("CNAME", "two words"),
            ("SRV", "10 5 99999 sip.example.com."),
            ("TXT", ""),
        ] {
            let r = one(&format!(
                r#"{{"Name":"a.example.com.","Type":"{rtype}","TTL":60,"ResourceRecords":[{{"Value":"{value}"}}]}}"#
            ));
            assert!(
                matches!(
                    r,
                    Err(ExportError::InvalidValue {
                        index: 0,
                        value: 0,
                        ..
                    })
                ),
                "{rtype} {value:?}: {r:?}"
            );
        }
    }
}
