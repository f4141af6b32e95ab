//! Keeping the two zones one during the window: what changed in either zone since the
//! last round, and what to copy where.
//!
//! Both zones are compared in the target's form (the source's records as sync-records
//! would write them: same-zone alias targets renamed to the target zone). The *baseline*
//! is what the two zones agreed on after the last round, as one fingerprint per record
//! set ([`Baseline`]). For each record set on which the zones differ now:
//! - the source's version matches the baseline: the target changed; copy it to the source;
//! - the target's version matches the baseline: the source changed; copy it to the target;
//! - neither matches (both changed, differently): a **conflict**; the new side (the target)
//!   wins, and both versions are reported.
//!
//! A record set is "absent" on a side when that side has none with its key; a deletion is
//! a change like any other, carried as a DELETE. The apex SOA and NS and the canary are
//! each side's own and never compared; the record sets under a kept subtree live in their
//! child zone, and only the delegation at the cut is in either zone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::change::{Action, Change};
use crate::name::Name;
use crate::zone::{RecordKey, RecordSet, RrType, Zone};

/// What both zones agreed on: a fingerprint of each record set, by a fingerprint of its
/// key. 16 bytes per record set (160 KB for 10,000), kept in the ledger between rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline(pub BTreeMap<u64, u64>);

fn fingerprint(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

fn key_print(key: &RecordKey) -> u64 {
    fingerprint(key.to_string().as_bytes())
}

fn content_print(record: &RecordSet) -> u64 {
    let text = serde_json::to_string(&record.normalized()).expect("a record set serializes");
    fingerprint(text.as_bytes())
}

impl Baseline {
    /// The baseline of a zone both sides hold (in the target's form).
    pub fn of(zone: &Zone, own: &impl Fn(&RecordKey) -> bool) -> Baseline {
        Baseline(
            zone.iter()
                .filter(|r| !own(&r.key()))
                .map(|r| (key_print(&r.key()), content_print(r)))
                .collect(),
        )
    }

    /// True when `record` (or its absence) is what the baseline holds for `key`.
    fn holds(&self, key: &RecordKey, record: Option<&RecordSet>) -> bool {
        self.0.get(&key_print(key)).copied() == record.map(content_print)
    }

    /// Serialized as "KKKKKKKKKKKKKKKK:CCCCCCCCCCCCCCCC" hex pairs, `chunk` per string (the
    /// ledger keeps each string in one item, under DynamoDB's 400 KB).
    pub fn to_chunks(&self, chunk: usize) -> Vec<String> {
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(k, c)| format!("{k:016x}:{c:016x}"))
            .collect();
        pairs.chunks(chunk.max(1)).map(|c| c.join(",")).collect()
    }

    /// The inverse of [`Baseline::to_chunks`]; `None` when a chunk is not one.
    pub fn from_chunks<'a>(chunks: impl IntoIterator<Item = &'a str>) -> Option<Baseline> {
        let mut map = BTreeMap::new();
        for chunk in chunks {
            for pair in chunk.split(',').filter(|p| !p.is_empty()) {
                let (k, c) = pair.split_once(':')?;
                map.insert(
                    u64::from_str_radix(k, 16).ok()?,
                    u64::from_str_radix(c, 16).ok()?,
                );
            }
        }
        Some(Baseline(map))
    }
}

/// Both versions of a record set that changed differently on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub record: String,
    /// The source's version (`None`: deleted there), in the source's form.
    pub source: Option<RecordSet>,
    /// The target's version, which won.
    pub target: Option<RecordSet>,
}

/// What one round copies, and the baseline once it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftPlan {
    pub to_target: Vec<Change>,
    pub to_source: Vec<Change>,
    pub conflicts: Vec<Conflict>,
    pub after: Baseline,
}

/// The zones as the drift planner sees them.
#[derive(Debug)]
pub struct Sides<'a> {
    /// The source zone as it is.
    pub source: &'a Zone,
    /// The source zone in the target's form (sync-records' `desired`, without extras).
    pub source_as_target: &'a Zone,
    /// The target zone as it is.
    pub target: &'a Zone,
    /// The target zone in the source's form.
    pub target_as_source: &'a Zone,
}

/// The record sets that are each side's own: the apex SOA and NS, and the canary.
pub fn own_records(apex: &Name) -> impl Fn(&RecordKey) -> bool + '_ {
    move |key: &RecordKey| {
        (key.name == *apex && matches!(key.rtype, RrType::SOA | RrType::NS))
            || (key.name.is_below(apex)
                && key.name.labels().next() == Some(crate::canary::CANARY_LABEL)
                && key.name.label_count() == apex.label_count() + 1)
    }
}

/// What to copy where so that both zones hold the same again.
pub fn plan_drift(sides: &Sides<'_>, baseline: &Baseline, apex: &Name) -> DriftPlan {
    let keys = compared_keys(sides, apex);
    let mut plan = DriftPlan::default();
    let mut agreed: BTreeMap<u64, u64> = BTreeMap::new();
    for key in keys {
        let s = sides.source_as_target.get(&key);
        let t = sides.target.get(&key);
        let same = match (s, t) {
            (Some(s), Some(t)) => s.same_content(t),
            (None, None) => true,
            _ => false,
        };
        let winner = if same {
            s
        } else if baseline.holds(&key, s) {
            carry(
                &mut plan.to_source,
                &key,
                sides.target_as_source.get(&key),
                sides.source,
            );
            t
        } else if baseline.holds(&key, t) {
            carry(&mut plan.to_target, &key, s, sides.target);
            s
        } else {
            plan.conflicts.push(Conflict {
                record: key.to_string(),
                source: sides.source.get(&key).cloned(),
                target: t.cloned(),
            });
            carry(
                &mut plan.to_source,
                &key,
                sides.target_as_source.get(&key),
                sides.source,
            );
            t
        };
        if let Some(record) = winner {
            agreed.insert(key_print(&key), content_print(record));
        }
    }
    plan.after = Baseline(agreed);
    plan
}

/// The record sets on which the two zones differ now (in the target's form, each side's
/// own records aside): edits that are not carried yet. A difference between the old and the
/// new servers on one of these is explained by an edit, not by a server.
pub fn differing_keys(sides: &Sides<'_>, apex: &Name) -> Vec<RecordKey> {
    compared_keys(sides, apex)
        .into_iter()
        .filter(
            |k| match (sides.source_as_target.get(k), sides.target.get(k)) {
                (Some(s), Some(t)) => !s.same_content(t),
                (None, None) => false,
                _ => true,
            },
        )
        .collect()
}

/// Every record set of either zone (in the target's form), each side's own aside, sorted.
fn compared_keys(sides: &Sides<'_>, apex: &Name) -> Vec<RecordKey> {
    let own = own_records(apex);
    let mut keys: Vec<RecordKey> = sides
        .source_as_target
        .iter()
        .chain(sides.target.iter())
        .map(RecordSet::key)
        .filter(|k| !own(k))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Makes `into` hold `wanted` (already in `into`'s form) under `key`.
fn carry(changes: &mut Vec<Change>, key: &RecordKey, wanted: Option<&RecordSet>, into: &Zone) {
    match (wanted, into.get(key)) {
        (Some(wanted), _) => changes.push(Change {
            action: Action::Upsert,
            record: wanted.clone(),
        }),
        (None, Some(current)) => changes.push(Change {
            action: Action::Delete,
            record: current.clone(),
        }),
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    fn a(name: &str, ip: &str) -> RecordSet {
        RecordSet::simple(n(name), RrType::A, 300, &[ip])
    }

    fn zone(records: &[RecordSet]) -> Zone {
        Zone::new(records.iter().cloned())
    }

    /// Plans a round for zones without aliases (the two forms are the same).
    fn round(source: &Zone, target: &Zone, baseline: &Baseline) -> DriftPlan {
        plan_drift(
            &Sides {
                source,
                source_as_target: source,
                target,
                target_as_source: target,
            },
            baseline,
            &n("example.com"),
        )
    }

    fn base(records: &[RecordSet]) -> Baseline {
        Baseline::of(&zone(records), &own_records(&n("example.com")))
    }

    #[test]
    fn an_edit_on_either_side_is_carried_to_the_other() {
        let start = [
            a("www.example.com", "192.0.2.1"),
            a("api.example.com", "192.0.2.2"),
        ];
        let baseline = base(&start);
        // The target changed www; the source added mail and deleted api.
        let target = zone(&[
            a("www.example.com", "192.0.2.9"),
            a("api.example.com", "192.0.2.2"),
        ]);
        let source = zone(&[
            a("www.example.com", "192.0.2.1"),
            a("mail.example.com", "192.0.2.3"),
        ]);
        let plan = round(&source, &target, &baseline);
        assert!(plan.conflicts.is_empty());
        assert_eq!(plan.to_source.len(), 1);
        assert_eq!(plan.to_source[0].action, Action::Upsert);
        assert_eq!(plan.to_source[0].record, a("www.example.com", "192.0.2.9"));
        let mut to_target: Vec<(String, Action)> = plan
            .to_target
            .iter()
            .map(|c| (c.record.name.to_string(), c.action))
            .collect();
        to_target.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            to_target,
            [
                ("api.example.com.".to_owned(), Action::Delete),
                ("mail.example.com.".to_owned(), Action::Upsert),
            ]
        );
        // Once applied, both hold the same and the next round has nothing to do.
        let agreed = [
            a("www.example.com", "192.0.2.9"),
            a("mail.example.com", "192.0.2.3"),
        ];
        let both = zone(&agreed);
        assert_eq!(plan.after, base(&agreed));
        let next = round(&both, &both, &plan.after);
        assert!(
            next.to_source.is_empty() && next.to_target.is_empty() && next.conflicts.is_empty()
        );
    }

    #[test]
    fn the_same_record_changed_differently_on_both_sides_is_a_conflict_the_new_side_wins() {
        let baseline = base(&[a("www.example.com", "192.0.2.1")]);
        let source = zone(&[a("www.example.com", "192.0.2.7")]);
        let target = zone(&[a("www.example.com", "192.0.2.8")]);
        let plan = round(&source, &target, &baseline);
        assert_eq!(plan.conflicts.len(), 1);
        let conflict = &plan.conflicts[0];
        assert_eq!(conflict.source, Some(a("www.example.com", "192.0.2.7")));
        assert_eq!(conflict.target, Some(a("www.example.com", "192.0.2.8")));
        assert!(plan.to_target.is_empty());
        assert_eq!(plan.to_source[0].record, a("www.example.com", "192.0.2.8"));
        // Deleted on the new side, changed on the old: the deletion wins.
        let target = zone(&[]);
        let plan = round(&source, &target, &baseline);
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.to_source[0].action, Action::Delete);
        assert_eq!(plan.to_source[0].record, a("www.example.com", "192.0.2.7"));
    }

    #[test]
    fn the_apex_soa_ns_and_the_canary_are_each_sides_own() {
        let apex = n("example.com");
        let own = own_records(&apex);
        for (name, rtype) in [
            ("example.com", RrType::NS),
            ("example.com", RrType::SOA),
            ("_zonehop.example.com", RrType::TXT),
        ] {
            let key = RecordKey {
                name: n(name),
                rtype,
                set_identifier: None,
            };
            assert!(own(&key), "{name} {rtype}");
        }
        let deeper = RecordKey {
            name: n("_zonehop.dev.example.com"),
            rtype: RrType::TXT,
            set_identifier: None,
        };
        assert!(!own(&deeper));
        let source = zone(&[RecordSet::simple(
            n("_zonehop.example.com"),
            RrType::TXT,
            60,
            &["\"side=old\""],
        )]);
        let target = zone(&[RecordSet::simple(
            n("_zonehop.example.com"),
            RrType::TXT,
            60,
            &["\"side=new\""],
        )]);
        let plan = round(&source, &target, &Baseline::default());
        assert!(
            plan.to_source.is_empty() && plan.to_target.is_empty() && plan.conflicts.is_empty()
        );
    }

    #[test]
    fn the_keys_the_zones_differ_on_are_the_edits_not_yet_carried() {
        let source = zone(&[
            a("www.example.com", "192.0.2.1"),
            a("old.example.com", "192.0.2.2"),
            a("same.example.com", "192.0.2.3"),
        ]);
        let target = zone(&[
            a("www.example.com", "192.0.2.9"),
            a("new.example.com", "192.0.2.4"),
            a("same.example.com", "192.0.2.3"),
            RecordSet::simple(
                n("_zonehop.example.com"),
                RrType::TXT,
                60,
                &["\"side=new\""],
            ),
        ]);
        let sides = Sides {
            source: &source,
            source_as_target: &source,
            target: &target,
            target_as_source: &target,
        };
        let keys: Vec<String> = differing_keys(&sides, &n("example.com"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            keys,
            [
                "new.example.com. A",
                "old.example.com. A",
                "www.example.com. A"
            ]
        );
    }

    #[test]
    fn the_baseline_survives_its_chunks() {
        let records: Vec<RecordSet> = (0..250)
            .map(|i| a(&format!("h{i}.example.com"), "192.0.2.1"))
            .collect();
        let baseline = base(&records);
        let chunks = baseline.to_chunks(100);
        assert_eq!(chunks.len(), 3);
        let back = Baseline::from_chunks(chunks.iter().map(String::as_str)).expect("parses");
        assert_eq!(back, baseline);
        assert_eq!(Baseline::from_chunks(["nonsense"]), None);
    }
}
