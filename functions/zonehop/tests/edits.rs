//! No edit lost (issue #20, invariant 6), on the in-memory twins and the manual clock: a
//! creation, a change and a deletion in either zone, at every phase of a migration (before
//! the first sync-records pass, between the two passes, between the second pass and the
//! first carry round, in the window, after "safe" before finalize), ends in both zones as
//! it was made; the same record set edited differently on both sides (a deletion against a
//! change included) ends as the new side made it.

mod common;

use common::*;
use serde_json::json;
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::core::drift::own_records;
use zonehop::core::zone::{RecordKey, RecordSet, RrType, Zone};
use zonehop::steps::carry_edits::{carry_edits, CarryOutput};
use zonehop::steps::finalize::{finalize, FinalizeOutput};
use zonehop::steps::sync_records::{sync_records, SyncOutput};

/// The steps of a migration that write to the zones' records, in order; an edit made
/// before step `i` is made in phase `i`.
const STEPS: [&str; 5] = [
    "sync-records (first pass)",
    "sync-records (second pass)",
    "carry-edits (first round after the swap)",
    "carry-edits (a later round)",
    "finalize (after safe)",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

/// One edit: the record set to write, or the key to delete.
#[derive(Debug, Clone)]
enum Edit {
    Put(Side, Box<RecordSet>),
    Delete(Side, RecordKey),
}

struct Migration {
    w: World,
    target: String,
    step: usize,
    finalized: Option<FinalizeOutput>,
    syncs: Vec<SyncOutput>,
    carries: Vec<CarryOutput>,
}

impl Migration {
    async fn new() -> Migration {
        let w = World::new();
        let target = w.create_target().await.hosted_zone_id;
        Migration {
            w,
            target,
            step: 0,
            finalized: None,
            syncs: Vec::new(),
            carries: Vec::new(),
        }
    }

    fn edit(&self, edit: &Edit) {
        let zone = |side: Side| match side {
            Side::Source => (&*self.w.source, self.w.source_id().to_owned()),
            Side::Target => (&*self.w.target, self.target.clone()),
        };
        match edit {
            Edit::Put(side, record) => {
                let (zones, id) = zone(*side);
                zones.put_records(&id, [(**record).clone()]).expect("edit");
            }
            Edit::Delete(side, key) => {
                let (zones, id) = zone(*side);
                zones.remove_record(&id, key).expect("edit");
            }
        }
    }

    /// Runs the next step, a round's wait after the last.
    async fn next(&mut self) {
        let w = &self.w;
        w.clock.advance(600);
        match self.step {
            0 | 1 => {
                let out = sync_records(
                    &*w.source,
                    &*w.target,
                    &w.ledger,
                    &w.clock,
                    &request(json!({
                        "domain": "example.com",
                        "source": { "hostedZoneId": w.source_id() },
                        "target": { "hostedZoneId": self.target, "adopted": false },
                        "extraRecords": [World::new_canary()],
                    })),
                    &settings(),
                )
                .await
                .expect("synced");
                self.syncs.push(out);
            }
            2 | 3 => {
                let out = carry_edits(
                    &*w.source,
                    &*w.target,
                    &w.ledger,
                    &w.clock,
                    &request(w.with(Some(&self.target), json!({}))),
                    &settings(),
                )
                .await
                .expect("carried");
                self.carries.push(out);
            }
            _ => {
                let out = finalize(
                    &*w.source,
                    &*w.target,
                    NO_PARENT,
                    (&w.ledger, &w.clock),
                    &request(w.with(
                        Some(&self.target),
                        json!({ "nsTtl": { "during": 300, "after": 86400 } }),
                    )),
                    &settings(),
                )
                .await
                .expect("finalized");
                self.finalized = Some(out);
            }
        }
        self.step += 1;
    }

    /// Runs every step, making `edits` just before step `phase`.
    async fn run(edits: &[Edit], phase: usize) -> Migration {
        let mut m = Migration::new().await;
        for step in 0..STEPS.len() {
            if step == phase {
                for edit in edits {
                    m.edit(edit);
                }
            }
            m.next().await;
        }
        m
    }

    fn records(&self, side: Side) -> Vec<RecordSet> {
        let zone = match side {
            Side::Source => self.w.source_records(),
            Side::Target => self.w.target.records(&self.target).expect("target"),
        };
        without_own(&zone)
    }
}

fn without_own(zone: &Zone) -> Vec<RecordSet> {
    let apex = n("example.com");
    let own = own_records(&apex);
    zone.iter().filter(|r| !own(&r.key())).cloned().collect()
}

/// `records` with `edits` made (in order).
fn expected(mut records: Vec<RecordSet>, edits: &[Edit]) -> Vec<RecordSet> {
    for edit in edits {
        match edit {
            Edit::Put(_, record) => {
                records.retain(|r| r.key() != record.key());
                records.push((**record).clone());
            }
            Edit::Delete(_, key) => records.retain(|r| r.key() != *key),
        }
    }
    without_own(&Zone::new(records))
}

fn key(name: &str, rtype: RrType) -> RecordKey {
    RecordKey {
        name: n(name),
        rtype,
        set_identifier: None,
    }
}

/// A creation, a change and a deletion on `side`, each on a record set of its own. Before the
/// first pass the new zone holds nothing to change or delete, so it only creates there.
fn edits_of(side: Side, phase: usize) -> Vec<Edit> {
    match side {
        Side::Source => vec![
            Edit::Put(side, Box::new(a("s-new.example.com", 60, &["192.0.2.101"]))),
            Edit::Put(side, Box::new(a("www.example.com", 60, &["192.0.2.111"]))),
            Edit::Delete(side, key("mail.example.com", RrType::A)),
        ],
        Side::Target if phase == 0 => vec![
            Edit::Put(side, Box::new(a("t-new.example.com", 60, &["192.0.2.102"]))),
            Edit::Put(
                side,
                Box::new(rr(
                    "_acme-challenge.example.com",
                    RrType::TXT,
                    60,
                    &["\"t0k3n\""],
                )),
            ),
        ],
        Side::Target => vec![
            Edit::Put(side, Box::new(a("t-new.example.com", 60, &["192.0.2.102"]))),
            Edit::Put(side, Box::new(a("example.com", 300, &["192.0.2.110"]))),
            Edit::Delete(side, key("example.com", RrType::TXT)),
        ],
    }
}

#[tokio::test(start_paused = true)]
async fn every_edit_of_either_side_at_every_phase_ends_in_both_zones_as_made() {
    for (phase, step) in STEPS.iter().enumerate() {
        for sides in [
            vec![Side::Source],
            vec![Side::Target],
            vec![Side::Source, Side::Target],
        ] {
            let edits: Vec<Edit> = sides.iter().flat_map(|s| edits_of(*s, phase)).collect();
            let m = Migration::run(&edits, phase).await;
            let want = expected(example_records(), &edits);
            let context = format!("edits of {sides:?} before {step}");
            assert_eq!(m.records(Side::Target), want, "new zone, {context}");
            assert_eq!(m.records(Side::Source), want, "old zone, {context}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_set_edited_differently_on_both_sides_ends_as_the_new_side_made_it() {
    // From the first pass on, both zones hold www, mail and the apex A.
    for (phase, step) in STEPS.iter().enumerate().skip(1) {
        let source = [
            Edit::Put(
                Side::Source,
                Box::new(a("www.example.com", 60, &["192.0.2.121"])),
            ),
            Edit::Delete(Side::Source, key("mail.example.com", RrType::A)),
            Edit::Put(
                Side::Source,
                Box::new(a("example.com", 300, &["192.0.2.124"])),
            ),
        ];
        let target = [
            Edit::Put(
                Side::Target,
                Box::new(a("www.example.com", 60, &["192.0.2.122"])),
            ),
            Edit::Put(
                Side::Target,
                Box::new(a("mail.example.com", 300, &["192.0.2.123"])),
            ),
            Edit::Delete(Side::Target, key("example.com", RrType::A)),
        ];
        let edits: Vec<Edit> = source.iter().chain(target.iter()).cloned().collect();
        let m = Migration::run(&edits, phase).await;
        // The target's edits, made last, are what both zones must hold.
        let want = expected(example_records(), &edits);
        assert!(want.contains(&a("www.example.com", 60, &["192.0.2.122"])));
        assert!(want.contains(&a("mail.example.com", 300, &["192.0.2.123"])));
        assert!(!want
            .iter()
            .any(|r| r.key() == key("example.com", RrType::A)));
        let context = format!("conflicts before {step}");
        assert_eq!(m.records(Side::Target), want, "new zone, {context}");
        assert_eq!(m.records(Side::Source), want, "old zone, {context}");
        // The step that met them reports each conflict with both versions.
        let conflicts = match phase {
            1 => m.syncs[1].carry.conflict_count,
            2 | 3 => m.carries[phase - 2].carried.conflict_count,
            _ => {
                m.finalized
                    .as_ref()
                    .expect("finalized")
                    .carry
                    .conflict_count
            }
        };
        assert_eq!(conflicts, 3, "{context}");
    }
}

#[tokio::test(start_paused = true)]
async fn finalize_says_from_when_an_edit_in_the_old_zone_is_no_longer_carried() {
    let m = Migration::run(&[], STEPS.len()).await;
    let out = m.finalized.expect("finalized");
    let until = out.carried_until.expect("a last carry");
    assert_eq!(until, zonehop::ports::clock::Clock::now_epoch(&m.w.clock));
    assert!(
        out.decommission_checklist[0].contains("no longer carried"),
        "{:?}",
        out.decommission_checklist
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_sync_pass_keeps_what_was_created_in_the_new_zone_meanwhile() {
    // The bug this replaces: the second pass made the new zone hold the old one's records
    // exactly, deleting what had been created in the new zone since the first.
    let edits = [Edit::Put(
        Side::Target,
        Box::new(a("fresh.example.com", 60, &["192.0.2.150"])),
    )];
    let m = Migration::run(&edits, 1).await;
    assert_eq!(m.syncs[1].carry.to_source, 1, "{:?}", m.syncs[1]);
    assert_eq!(m.syncs[1].deletes, 0, "{:?}", m.syncs[1]);
    assert!(m
        .records(Side::Source)
        .contains(&a("fresh.example.com", 60, &["192.0.2.150"])));
}
