//! Properties of the pure core, for any input: the export loader and the name parser never
//! panic; an export written back and loaded again is the same zone; every batch the packer
//! makes obeys Route 53's limits; a plan applied to the target makes it hold the source.
//!
//! The number of cases comes from `PROPTEST_CASES` (64 here by default, so `make test-unit`
//! stays fast); `make bench-properties` runs 20,000 of each.

use proptest::prelude::*;

use zonehop_core::batch::{pack, BatchLimits, Cost};
use zonehop_core::change::{Action, Change};
use zonehop_core::export::{load_export, to_export};
use zonehop_core::name::Name;
use zonehop_core::plan::{is_apex_soa_or_ns, plan_sync, HealthCheckPolicy, PlanInput};
use zonehop_core::zone::{RecordSet, RrType, Zone};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn apex() -> Name {
    Name::parse("example.com").expect("the apex parses")
}

/// A label of the characters Route 53 writes as they are, or an escape.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9-]{0,10}",
        Just("\\052".to_owned()),
        Just("_dmarc".to_owned()),
        "[A-Z]{1,4}",
    ]
}

fn name_below_apex() -> impl Strategy<Value = Name> {
    prop::collection::vec(label(), 0..3).prop_map(|labels| {
        let mut text = labels.join(".");
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str("example.com.");
        Name::parse(&text).expect("generated names parse")
    })
}

/// A value valid for its type.
fn value_of(rtype: RrType) -> BoxedStrategy<String> {
    match rtype {
        RrType::A => any::<[u8; 4]>()
            .prop_map(|o| std::net::Ipv4Addr::from(o).to_string())
            .boxed(),
        RrType::AAAA => any::<[u16; 8]>()
            .prop_map(|s| std::net::Ipv6Addr::from(s).to_string())
            .boxed(),
        RrType::MX => (0u16..100, label())
            .prop_map(|(p, l)| format!("{p} {l}.example.net."))
            .boxed(),
        RrType::CNAME => label().prop_map(|l| format!("{l}.example.net.")).boxed(),
        // One string of at most 255 characters, as Route 53 takes it.
        _ => "[a-zA-Z0-9=; -]{1,255}"
            .prop_map(|t| format!("\"{t}\""))
            .boxed(),
    }
}

fn record_set() -> impl Strategy<Value = RecordSet> {
    (
        name_below_apex(),
        prop::sample::select(vec![RrType::A, RrType::AAAA, RrType::MX, RrType::TXT]),
        0i64..100_000,
    )
        .prop_flat_map(|(name, rtype, ttl)| {
            prop::collection::vec(value_of(rtype), 1..6).prop_map(move |values| {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                RecordSet::simple(name.clone(), rtype, ttl, &refs)
            })
        })
}

fn zone() -> impl Strategy<Value = Zone> {
    prop::collection::vec(record_set(), 0..25).prop_map(Zone::new)
}

/// A zone's apex SOA and NS, as Route 53 creates them.
fn apex_records(server: &str) -> [RecordSet; 2] {
    [
        RecordSet::simple(apex(), RrType::NS, 172_800, &[server]),
        RecordSet::simple(
            apex(),
            RrType::SOA,
            900,
            &[&format!(
                "{server} hostmaster.example.com. 1 7200 900 1209600 86400"
            )],
        ),
    ]
}

/// Applies changes to a zone the way Route 53 does, in order.
fn apply(zone: &mut Zone, changes: &[Change]) {
    for change in changes {
        match change.action {
            Action::Create | Action::Upsert => zone.insert(change.record.clone()),
            Action::Delete => {
                zone.remove(&change.record.key());
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_export_loader_never_panics_on_any_text(text in ".{0,400}") {
        let _ = load_export(&text);
    }

    #[test]
    fn the_export_loader_never_panics_on_any_json_record_set(
        name in ".{0,80}",
        rtype in "[A-Z]{1,6}",
        ttl in any::<i64>(),
        values in prop::collection::vec(".{0,40}", 0..4),
    ) {
        let record = serde_json::json!({
            "Name": name,
            "Type": rtype,
            "TTL": ttl,
            "ResourceRecords": values.iter().map(|v| serde_json::json!({"Value": v})).collect::<Vec<_>>(),
        });
        let _ = load_export(&serde_json::Value::Array(vec![record]).to_string());
    }

    #[test]
    fn names_never_panic_and_canonical_names_parse_to_themselves(text in "(\\\\[0-9]{0,3}|[a-zA-Z0-9.*_-]|.){0,300}") {
        if let Ok(name) = Name::parse(&text) {
            let again = Name::parse(name.as_str()).expect("a canonical name parses");
            prop_assert_eq!(again, name);
        }
    }

    #[test]
    fn an_export_written_back_and_loaded_again_is_the_same_zone(zone in zone()) {
        let again = load_export(&to_export(&zone)).expect("our own export loads");
        prop_assert_eq!(again, zone);
    }

    #[test]
    fn every_batch_obeys_the_limits_and_keeps_every_change(
        records in prop::collection::vec(record_set(), 1..60),
        upserts in prop::collection::vec(any::<bool>(), 60),
        max_values in 12usize..1_000,
        max_chars in 4_000usize..32_000,
    ) {
        let limits = BatchLimits { max_values, max_chars };
        let changes: Vec<Change> = records
            .into_iter()
            .zip(upserts)
            .map(|(record, upsert)| Change {
                action: if upsert { Action::Upsert } else { Action::Create },
                record,
            })
            .filter(|c| Cost::of(c).fits(limits))
            .collect();
        let batches = pack(&changes, limits);
        for batch in &batches {
            prop_assert!(Cost::of_batch(batch).fits(limits), "{:?}", Cost::of_batch(batch));
            prop_assert!(!batch.is_empty());
        }
        prop_assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), changes.len());
    }

    #[test]
    fn a_plan_applied_to_the_target_makes_it_hold_the_source(source in zone(), target in zone()) {
        let mut source = source;
        let mut target = target;
        for record in apex_records("ns-old.example.net.") {
            source.insert(record);
        }
        for record in apex_records("ns-new.example.net.") {
            target.insert(record);
        }
        let apex = apex();
        let input = PlanInput {
            apex: &apex,
            source_zone_id: "ZOLD",
            target_zone_id: "ZNEW",
            keep_in_source: &[],
            health_checks: HealthCheckPolicy::Block,
            extra_records: &[],
            limits: BatchLimits::ROUTE53,
        };
        let plan = plan_sync(&input, &source, &target);
        prop_assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        let mut applied = target.clone();
        for batch in plan.batches(BatchLimits::ROUTE53) {
            apply(&mut applied, &batch);
        }
        // Route 53 serves a record set's values as a set: compare them so.
        let moved: Vec<RecordSet> = applied.iter().filter(|r| !is_apex_soa_or_ns(r, &apex)).map(RecordSet::normalized).collect();
        let wanted: Vec<RecordSet> = source.iter().filter(|r| !is_apex_soa_or_ns(r, &apex)).map(RecordSet::normalized).collect();
        prop_assert_eq!(moved, wanted);
        // The target's own apex SOA and NS are untouched.
        for record in target.iter().filter(|r| is_apex_soa_or_ns(r, &apex)) {
            prop_assert_eq!(applied.get(&record.key()), Some(record));
        }
        // Planning again finds nothing left to change.
        prop_assert!(plan_sync(&input, &source, &applied).is_empty());
    }
}
