//! `FAULTS=edit-storm`: records created, changed and deleted in both zones, through the
//! Route 53 API, at every phase of the migration, and each checked against the final zones.
//!
//! The phases are read from the execution's history, and made deterministic by the fault
//! proxy's gates (`zonehop_world::faults::proxy`): every invoke of the function that ends a
//! phase waits until the storm has seen its task scheduled and written that phase's edits.
//!
//! | phase | written when | held |
//! | --- | --- | --- |
//! | `before-first-sync` | the first sync-records task is scheduled (the target zone exists) | sync-records |
//! | `between-syncs` | the second sync-records task is scheduled (after the NS TTL wait) | sync-records |
//! | `before-swap` | swap-nameservers is scheduled (Route 53 Domains), or the operator is asked (manual), after the second verify-zones | swap-nameservers |
//! | `window` | the first carry-edits task after the swap is scheduled (before any round, so before "safe") | carry-edits |
//! | `after-safe` | finalize is scheduled | finalize |
//!
//! Each phase: a create, a change and a deletion in the source; the same in the target (not
//! before the first sync, when the target holds nothing yet: a create only); and one RRset
//! edited in both zones differently (a conflict the target must win: both create it, both
//! change it, a deletion against a change, a change against a deletion). Every edit has its
//! own RRset otherwise. Changed and deleted RRsets are the zone's own ordinary records (no
//! apex, canary, kept subtree, delegation, alias or alias target, routing policy, wildcard
//! or cutover record), then, when the zone has too few, records the storm adds to the zone
//! before it is loaded (`storm-N.<domain>`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use zonehop::core::change::{Action, Change};
use zonehop::core::zone::{RecordKey, RecordSet, RrType, Zone};
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;
use zonehop_world::prober::expectations::Question;
use zonehop_world::prober::{now_ms, EditClock};
use zonehop_world::rehearsal::{scaled, Scenario, Stage};
use zonehop_world::{route53_in, source_access, target_access};

use crate::faults::Side;

/// A moment of the migration at which the storm edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    BeforeFirstSync,
    BetweenSyncs,
    BeforeSwap,
    Window,
    AfterSafe,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::BeforeFirstSync,
        Phase::BetweenSyncs,
        Phase::BeforeSwap,
        Phase::Window,
        Phase::AfterSafe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::BeforeFirstSync => "before-first-sync",
            Phase::BetweenSyncs => "between-syncs",
            Phase::BeforeSwap => "before-swap",
            Phase::Window => "window",
            Phase::AfterSafe => "after-safe",
        }
    }

    /// The phase a scheduled task of `function` ends, if it ends one; `after_ns_wait`: the
    /// execution has entered its NS TTL wait.
    pub fn ended_by(function: &str, after_ns_wait: bool) -> Option<Phase> {
        match function {
            "sync-records" if after_ns_wait => Some(Phase::BetweenSyncs),
            "sync-records" => Some(Phase::BeforeFirstSync),
            "swap-nameservers" => Some(Phase::BeforeSwap),
            "carry-edits" => Some(Phase::Window),
            "finalize" => Some(Phase::AfterSafe),
            _ => None,
        }
    }
}

/// The functions whose invokes the proxy holds for the storm.
pub const GATED: [&str; 4] = [
    "sync-records",
    "swap-nameservers",
    "carry-edits",
    "finalize",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Change,
    Delete,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Change => "change",
            Kind::Delete => "delete",
        }
    }
}

/// One edit of the storm.
#[derive(Debug, Clone)]
pub struct StormEdit {
    pub phase: Phase,
    pub side: Side,
    pub kind: Kind,
    /// The RRset as written (create, change), or as it stood before (delete).
    pub record: RecordSet,
    /// The other zone edits the same RRset differently in the same phase.
    pub conflict: bool,
}

impl StormEdit {
    /// What the edit leaves in its zone.
    fn result(&self) -> Option<&RecordSet> {
        (self.kind != Kind::Delete).then_some(&self.record)
    }
}

/// The storm of one rehearsal: the records it adds to the zone before loading, and its edits.
#[derive(Debug, Clone, Default)]
pub struct StormPlan {
    pub fodder: Vec<RecordSet>,
    pub edits: Vec<StormEdit>,
}

/// How many existing RRsets the storm changes or deletes.
const EXISTING_NEEDED: usize = 2 + 4 * 5;

/// The zone's own RRsets the storm may change or delete, in name order.
fn candidates(scenario: &Scenario, request: Option<&Value>) -> Vec<RecordSet> {
    let domain = &scenario.domain;
    let keep: Vec<Name> = scenario
        .keep
        .iter()
        .filter_map(|k| Name::parse(k).ok())
        .collect();
    let cuts: Vec<&Name> = scenario
        .records
        .iter()
        .filter(|r| r.rtype == RrType::NS && r.name != *domain)
        .map(|r| &r.name)
        .collect();
    let alias_targets: Vec<&Name> = scenario
        .records
        .iter()
        .filter_map(|r| r.alias_target.as_ref().map(|a| &a.dns_name))
        .collect();
    let cutover: Vec<Name> = request
        .and_then(|r| r["cutover"]["records"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().and_then(|n| Name::parse(n).ok()))
        .collect();
    let canary = domain.prepend("_zonehop").ok();
    let wildcard_parents = wildcard_parents(&scenario.records);
    let mut out: Vec<RecordSet> = scenario
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.rtype,
                RrType::A | RrType::AAAA | RrType::TXT | RrType::CNAME | RrType::MX
            ) && r.name != *domain
                && Some(&r.name) != canary.as_ref()
                && r.set_identifier.is_none()
                && r.alias_target.is_none()
                && !r.name.raw_labels().iter().any(|l| l.as_slice() == b"*")
                && !keep.iter().any(|k| r.name.is_at_or_below(k))
                && !cuts.iter().any(|c| r.name.is_at_or_below(c))
                && !alias_targets.contains(&&r.name)
                && !cutover.contains(&r.name)
                && !wildcard_parents.contains(&r.name.raw_labels()[1..].to_vec())
        })
        .cloned()
        .collect();
    out.sort_by_key(RecordSet::key);
    out.truncate(EXISTING_NEEDED);
    out
}

/// The names a wildcard of `records` stands under (`*.x.example.com`: `x.example.com`), as
/// labels: a name deleted there would be answered by the wildcard.
fn wildcard_parents(records: &[RecordSet]) -> Vec<Vec<Vec<u8>>> {
    records
        .iter()
        .map(|r| r.name.raw_labels())
        .filter(|labels| labels.first().is_some_and(|l| l.as_slice() == b"*"))
        .map(|labels| labels[1..].to_vec())
        .collect()
}

/// Hands out names and values no RRset of the zone holds.
struct Values<'a> {
    domain: &'a Name,
    /// Where new names go: the domain, or a name of the storm's own below it when the domain
    /// has a wildcard (which would answer a name before it is created).
    parent: Name,
    taken: Vec<Name>,
    n: u32,
    ttl: i64,
}

impl Values<'_> {
    fn name(&mut self, label: &str) -> Name {
        let mut i = 0;
        loop {
            let text = if i == 0 {
                format!("{label}.{}", self.parent.as_str())
            } else {
                format!("{label}-{i}.{}", self.parent.as_str())
            };
            let name = Name::parse(&text).unwrap_or_else(|_| self.domain.clone());
            if !self.taken.iter().any(|t| t.is_at_or_below(&name)) {
                self.taken.push(name.clone());
                return name;
            }
            i += 1;
        }
    }

    /// A new value of `rtype`, never handed out before.
    fn value(&mut self, rtype: RrType, what: &str) -> String {
        self.n += 1;
        let n = self.n;
        match rtype {
            RrType::A => format!("192.0.2.{}", 100 + n % 150),
            RrType::AAAA => format!("2001:db8::{n:x}"),
            RrType::CNAME => format!("storm-{n}.{}", self.domain.as_str()),
            RrType::MX => format!("10 storm-mx-{n}.{}", self.domain.as_str()),
            _ => format!("\"zonehop edit-storm {what} {n}\""),
        }
    }

    fn record(&mut self, name: Name, rtype: RrType, what: &str) -> RecordSet {
        let value = self.value(rtype, what);
        RecordSet::simple(name, rtype, self.ttl, &[value.as_str()])
    }
}

/// The storm for `scenario` (its records as exported; `request`: the user's, if any).
pub fn plan(scenario: &Scenario, request: Option<&Value>) -> StormPlan {
    let mut values = Values {
        domain: &scenario.domain,
        parent: scenario.domain.clone(),
        taken: scenario.records.iter().map(|r| r.name.clone()).collect(),
        n: 0,
        ttl: i64::from(scenario.ttl),
    };
    let mut fodder = Vec::new();
    if wildcard_parents(&scenario.records).contains(&scenario.domain.raw_labels()) {
        // Names below an existing one are not the apex wildcard's.
        let anchor = values.name("zonehop-storm");
        fodder.push(values.record(anchor.clone(), RrType::TXT, "anchor"));
        values.parent = anchor;
    }
    let mut existing = scaled(&candidates(scenario, request), scenario.ttl);
    let types = [RrType::A, RrType::TXT, RrType::CNAME];
    while existing.len() < EXISTING_NEEDED {
        let i = existing.len();
        let name = values.name(&format!("storm-{i}"));
        let record = values.record(name, types[i % types.len()], "fodder");
        fodder.push(record.clone());
        existing.push(record);
    }
    let mut existing = existing.into_iter();
    let mut edits = Vec::new();
    for phase in Phase::ALL {
        let sides: &[Side] = if phase == Phase::BeforeFirstSync {
            &[Side::Source]
        } else {
            &[Side::Source, Side::Target]
        };
        for side in [Side::Source, Side::Target] {
            let tag = format!("{} {}", phase.name(), side.name());
            let create_type = if side == Side::Source {
                RrType::A
            } else {
                RrType::TXT
            };
            let name = values.name(&format!("storm-{}-{}", phase.name(), side.name()));
            let edit = |kind, record| StormEdit {
                phase,
                side,
                kind,
                record,
                conflict: false,
            };
            edits.push(edit(Kind::Create, values.record(name, create_type, &tag)));
            if !sides.contains(&side) {
                continue;
            }
            if let Some(old) = existing.next() {
                let changed = values.record(old.name.clone(), old.rtype, &tag);
                edits.push(edit(Kind::Change, changed));
            }
            if let Some(old) = existing.next() {
                edits.push(edit(Kind::Delete, old));
            }
        }
        edits.extend(conflict(phase, &mut values, &mut existing));
    }
    StormPlan { fodder, edits }
}

/// The phase's RRset edited in both zones differently.
fn conflict(
    phase: Phase,
    values: &mut Values,
    existing: &mut impl Iterator<Item = RecordSet>,
) -> Vec<StormEdit> {
    let tag = format!("{} conflict", phase.name());
    let (old, source_kind, target_kind) = match phase {
        Phase::BeforeFirstSync => {
            let name = values.name(&format!("storm-{}-both", phase.name()));
            let old = RecordSet::simple(name, RrType::A, values.ttl, &[]);
            (old, Kind::Create, Kind::Create)
        }
        Phase::BeforeSwap => match existing.next() {
            Some(old) => (old, Kind::Delete, Kind::Change),
            None => return Vec::new(),
        },
        Phase::Window => match existing.next() {
            Some(old) => (old, Kind::Change, Kind::Delete),
            None => return Vec::new(),
        },
        Phase::BetweenSyncs | Phase::AfterSafe => match existing.next() {
            Some(old) => (old, Kind::Change, Kind::Change),
            None => return Vec::new(),
        },
    };
    [(Side::Source, source_kind), (Side::Target, target_kind)]
        .into_iter()
        .map(|(side, kind)| StormEdit {
            phase,
            side,
            kind,
            record: match kind {
                Kind::Delete => old.clone(),
                _ => values.record(
                    old.name.clone(),
                    old.rtype,
                    &format!("{tag} {}", side.name()),
                ),
            },
            conflict: true,
        })
        .collect()
}

/// The scenario with `edits` applied in order (the target's last, so that it wins).
pub fn apply(scenario: &Scenario, edits: &[&StormEdit]) -> Scenario {
    let mut records = scenario.records.clone();
    let mut ordered: Vec<&&StormEdit> = edits.iter().collect();
    ordered.sort_by_key(|e| e.side == Side::Target);
    for edit in ordered {
        records.retain(|r| r.key() != edit.record.key());
        records.extend(edit.result().cloned());
    }
    Scenario {
        records,
        ..scenario.clone()
    }
}

impl StormPlan {
    /// The scenario with the storm's own records added (loaded into the source zone).
    pub fn seeded(&self, scenario: &Scenario) -> Scenario {
        let mut records = scenario.records.clone();
        records.extend(self.fodder.iter().cloned());
        Scenario {
            records,
            ..scenario.clone()
        }
    }

    /// The seeded scenario once every edit is made and carried (the target wins conflicts).
    pub fn edited(&self, seeded: &Scenario) -> Scenario {
        apply(seeded, &self.edits.iter().collect::<Vec<_>>())
    }

    /// The seeded scenario as each zone holds it with its own edits only.
    pub fn per_zone(&self, seeded: &Scenario) -> Vec<Scenario> {
        [Side::Source, Side::Target]
            .into_iter()
            .map(|side| {
                let own: Vec<&StormEdit> = self.edits.iter().filter(|e| e.side == side).collect();
                apply(seeded, &own)
            })
            .collect()
    }

    /// What `key` must end as in the target (and the source): the target's edit of it if
    /// there is one, else the source's.
    pub fn must_end(&self, key: &RecordKey) -> Option<&RecordSet> {
        let edits = || self.edits.iter().filter(|e| e.record.key() == *key);
        edits()
            .find(|e| e.side == Side::Target)
            .or_else(|| edits().next())
            .and_then(StormEdit::result)
    }
}

/// One RRset's state in a zone, for the report: its values, or null when absent.
fn state(zone: Option<&Zone>, key: &RecordKey) -> Value {
    match zone.and_then(|z| z.get(key)) {
        Some(r) => json!(r.values().collect::<Vec<_>>()),
        None if zone.is_none() => json!("unknown"),
        None => Value::Null,
    }
}

/// True when `zone` holds `key` as `want` says (absent for `None`).
fn holds(zone: &Zone, key: &RecordKey, want: Option<&RecordSet>) -> bool {
    match (zone.get(key), want) {
        (None, None) => true,
        (Some(got), Some(want)) => got.same_content(want),
        _ => false,
    }
}

/// The storm while the rehearsal runs.
#[derive(Debug)]
pub struct Storm {
    pub plan: StormPlan,
    clock: EditClock,
    /// The fallback end of a change never seen carried (one propagation round).
    round_ms: i64,
    after_ns_wait: bool,
    /// Per phase, when its edits were written.
    made_ms: BTreeMap<Phase, i64>,
    /// Per RRset, when both zones first held it as it must end.
    carried_ms: BTreeMap<RecordKey, i64>,
    /// Per edit, why it could not be written.
    failed: BTreeMap<usize, String>,
    last_check: Option<std::time::Instant>,
    /// The zones as they ended (source, target).
    ended: Option<(Zone, Zone)>,
}

impl Storm {
    pub fn new(plan: StormPlan, clock: EditClock, round: std::time::Duration) -> Storm {
        Storm {
            plan,
            clock,
            round_ms: round.as_millis() as i64,
            after_ns_wait: false,
            made_ms: BTreeMap::new(),
            carried_ms: BTreeMap::new(),
            failed: BTreeMap::new(),
            last_check: None,
            ended: None,
        }
    }

    /// The execution entered a state.
    pub fn entered(&mut self, state: &str) {
        if state.starts_with("Wait Out") {
            self.after_ns_wait = true;
        }
    }

    /// The phase a task of `function` scheduled now ends, if its edits are still to write.
    pub fn due(&self, function: &str) -> Option<Phase> {
        Phase::ended_by(function, self.after_ns_wait).filter(|p| !self.made_ms.contains_key(p))
    }

    /// Whether `phase`'s edits are written.
    pub fn made(&self, phase: Phase) -> bool {
        self.made_ms.contains_key(&phase)
    }

    /// Writes `phase`'s edits through the Route 53 API (the source's, then the target's);
    /// returns a line for the log.
    pub async fn write(
        &mut self,
        phase: Phase,
        stage: &Stage,
        target_zone: Option<&str>,
    ) -> String {
        let made = now_ms();
        self.made_ms.insert(phase, made);
        let source = route53_in(&stage.base, &source_access()).await;
        let target = route53_in(&stage.base, &target_access()).await;
        let mut written = 0;
        for (i, edit) in self.plan.edits.iter().enumerate() {
            if edit.phase != phase {
                continue;
            }
            let question = Question {
                name: edit.record.name.clone(),
                rtype: edit.record.rtype,
            };
            self.clock.made_at(question, made, made + self.round_ms);
            let (client, zone) = match edit.side {
                Side::Source => (&source, Some(stage.source_id.as_str())),
                Side::Target => (&target, target_zone),
            };
            let Some(zone) = zone else {
                self.failed.insert(i, "no target zone yet".into());
                continue;
            };
            match write_one(client, zone, edit).await {
                Ok(()) => written += 1,
                Err(e) => {
                    self.failed.insert(i, e);
                }
            }
        }
        let failed = self.failed.len();
        format!(
            "  ⚡ edit-storm {}: {written} edit(s) written{}",
            phase.name(),
            if failed > 0 {
                format!(", {failed} failed so far")
            } else {
                String::new()
            }
        )
    }

    /// Every second at most: notes the RRsets both zones now hold as they must end.
    pub async fn tick(&mut self, stage: &Stage, target_zone: Option<&str>) {
        let pending = self
            .plan
            .edits
            .iter()
            .any(|e| self.made(e.phase) && !self.carried_ms.contains_key(&e.record.key()));
        if !pending
            || self
                .last_check
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return;
        }
        self.last_check = Some(std::time::Instant::now());
        if let Ok((source, target)) = read_both(stage, target_zone).await {
            self.note_carried(&source, &target);
        }
    }

    fn note_carried(&mut self, source: &Zone, target: &Zone) {
        let now = now_ms();
        for edit in &self.plan.edits {
            let key = edit.record.key();
            if !self.made(edit.phase) || self.carried_ms.contains_key(&key) {
                continue;
            }
            let want = self.plan.must_end(&key);
            if holds(source, &key, want) && holds(target, &key, want) {
                self.carried_ms.insert(key, now);
                self.clock.carried_at(
                    &Question {
                        name: edit.record.name.clone(),
                        rtype: edit.record.rtype,
                    },
                    now,
                );
            }
        }
    }

    /// Reads both zones as they ended (after the execution).
    pub async fn finish(&mut self, stage: &Stage, target_zone: Option<&str>) {
        if let Ok((source, target)) = read_both(stage, target_zone).await {
            self.note_carried(&source, &target);
            self.ended = Some((source, target));
        }
    }

    /// The edits that are not in the final target zone as required (`name type (phase,
    /// zone, kind)`), and those whose write failed; none of a phase never reached.
    pub fn lost(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| {
                (e["made"] == true && e["asRequired"] != true) || !e["writeError"].is_null()
            })
            .map(|e| {
                format!(
                    "{} {} ({}, {} zone, {})",
                    e["name"].as_str().unwrap_or("?"),
                    e["type"].as_str().unwrap_or("?"),
                    e["phase"].as_str().unwrap_or("?"),
                    e["zone"].as_str().unwrap_or("?"),
                    e["kind"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    /// The report's list: every edit, where it ended, and whether it was kept.
    pub fn entries(&self) -> Vec<Value> {
        let (source, target) = match &self.ended {
            Some((s, t)) => (Some(s), Some(t)),
            None => (None, None),
        };
        self.plan
            .edits
            .iter()
            .enumerate()
            .map(|(i, edit)| {
                let key = edit.record.key();
                let must = self.plan.must_end(&key);
                let made = self.made(edit.phase) && !self.failed.contains_key(&i);
                let as_required = target.map(|t| holds(t, &key, must));
                let kept = target.map(|t| holds(t, &key, edit.result()));
                json!({
                    "phase": edit.phase.name(),
                    "zone": edit.side.name(),
                    "kind": edit.kind.name(),
                    "name": edit.record.name.as_str(),
                    "type": edit.record.rtype.as_str(),
                    "value": edit.record.values().collect::<Vec<_>>(),
                    "conflict": edit.conflict,
                    "made": made,
                    "madeAt": self.made_ms.get(&edit.phase).map(|ms| crate::faults::iso_ms(*ms)),
                    "writeError": self.failed.get(&i),
                    "mustEnd": must.map(|r| r.values().collect::<Vec<_>>()),
                    "finalTarget": state(target, &key),
                    "finalSource": state(source, &key),
                    "kept": kept,
                    "asRequired": as_required,
                    "carriedAt": self.carried_ms.get(&key).map(|ms| crate::faults::iso_ms(*ms)),
                })
            })
            .collect()
    }

    /// Per phase and zone: edits made, and how many ended as required.
    pub fn per_phase(&self) -> Value {
        let entries = self.entries();
        let phases: Vec<Value> = Phase::ALL
            .iter()
            .map(|phase| {
                let mut out = json!({ "phase": phase.name() });
                for side in ["source", "target"] {
                    let of: Vec<&Value> = entries
                        .iter()
                        .filter(|e| e["phase"] == phase.name() && e["zone"] == side)
                        .collect();
                    let made = of.iter().filter(|e| e["made"] == true).count();
                    let ok = of
                        .iter()
                        .filter(|e| e["made"] == true && e["asRequired"] == true)
                        .count();
                    out[side] = json!({ "planned": of.len(), "made": made, "asRequired": ok });
                }
                out
            })
            .collect();
        json!(phases)
    }

    /// One line per phase for the rehearsal's summary, then where the prober's wrong
    /// answers fell (`observed`: the report's).
    pub fn lines(&self, observed: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        for p in self.per_phase().as_array().into_iter().flatten() {
            let side =
                |s: &str| format!("{} {}/{} as required", s, p[s]["asRequired"], p[s]["made"]);
            lines.push(format!(
                "  edit-storm {:<18} {}, {}",
                p["phase"].as_str().unwrap_or("?"),
                side("source"),
                side("target")
            ));
        }
        let entries = self.entries();
        let (mut lost, mut kept, mut other) = (0, 0, 0);
        for (question, n) in observed["problemsByQuestion"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let n = n.as_u64().unwrap_or(0);
            let edited: Vec<&Value> = entries
                .iter()
                .filter(|e| {
                    format!(
                        "{} {}",
                        e["name"].as_str().unwrap_or(""),
                        e["type"].as_str().unwrap_or("")
                    ) == *question
                })
                .collect();
            if edited.is_empty() {
                other += n;
            } else if edited.iter().any(|e| e["asRequired"] != true) {
                lost += n;
            } else {
                kept += n;
            }
        }
        lines.push(format!(
            "  edit-storm wrong answers: {lost} on RRsets not as required, {kept} on other edited RRsets, {other} elsewhere"
        ));
        lines
    }
}

async fn read_both(stage: &Stage, target_zone: Option<&str>) -> Result<(Zone, Zone), String> {
    let target_id = target_zone.ok_or("no target zone")?;
    let source = read_zone(
        &route53_in(&stage.base, &source_access()).await,
        &stage.source_id,
    )
    .await
    .map_err(|e| e.to_string())?;
    let target = read_zone(&route53_in(&stage.base, &target_access()).await, target_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok((source, target))
}

/// One edit, one change batch: an UPSERT, or the DELETE of the RRset as the zone holds it
/// now.
async fn write_one(
    client: &zonehop::adapters::route53::Route53,
    zone: &str,
    edit: &StormEdit,
) -> Result<(), String> {
    let change = match edit.kind {
        Kind::Create | Kind::Change => Change {
            action: Action::Upsert,
            record: edit.record.clone(),
        },
        Kind::Delete => {
            let now = read_zone(client, zone).await.map_err(|e| e.to_string())?;
            let record = now
                .get(&edit.record.key())
                .cloned()
                .ok_or_else(|| format!("{} is not in the zone to delete", edit.record.key()))?;
            Change {
                action: Action::Delete,
                record,
            }
        }
    };
    client
        .change_records(zone, &[change], "zonehop fault: edit-storm")
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", edit.record.key()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop_world::rehearsal::Scenario;

    #[test]
    fn every_phase_edits_both_zones_each_rrset_once_but_the_deliberate_conflicts() {
        let scenario = Scenario::example();
        let plan = plan(&scenario, None);
        let seeded = plan.seeded(&scenario);
        assert!(
            !plan.fodder.is_empty(),
            "the example zone has too few records"
        );
        let count = |phase: Phase, side: Side, kind: Kind| {
            plan.edits
                .iter()
                .filter(|e| e.phase == phase && e.side == side && e.kind == kind)
                .count()
        };
        for phase in Phase::ALL {
            for kind in [Kind::Create, Kind::Change, Kind::Delete] {
                assert!(count(phase, Side::Source, kind) >= 1, "{phase:?} {kind:?}");
                let target = count(phase, Side::Target, kind);
                if phase == Phase::BeforeFirstSync && kind != Kind::Create {
                    assert_eq!(target, 0, "the target holds nothing to change yet");
                } else {
                    assert!(target >= 1, "{phase:?} {kind:?}");
                }
            }
        }
        let mut by_key: BTreeMap<RecordKey, Vec<&StormEdit>> = BTreeMap::new();
        for e in &plan.edits {
            by_key.entry(e.record.key()).or_default().push(e);
        }
        for (key, edits) in &by_key {
            let conflict = edits.iter().all(|e| e.conflict);
            assert_eq!(edits.len(), if conflict { 2 } else { 1 }, "{key}");
            if conflict {
                assert_eq!(edits[0].phase, edits[1].phase);
                assert_ne!(edits[0].side, edits[1].side);
            }
            // Changed and deleted RRsets exist before; created ones do not.
            let existed = seeded.records.iter().any(|r| r.key() == *key);
            assert_eq!(
                existed,
                edits.iter().any(|e| e.kind != Kind::Create),
                "{key}"
            );
        }
        assert_eq!(by_key.values().filter(|e| e.len() == 2).count(), 5);
        let dmarc = Name::parse("_dmarc.example.com").expect("name");
        assert!(plan.edits.iter().any(|e| e.record.name == dmarc));
        for e in &plan.edits {
            let name = &e.record.name;
            assert!(!name.is_at_or_below(&Name::parse("dev.example.com").expect("n")));
            assert_ne!(name.as_str(), "www.example.com.", "an alias's target");
            assert_ne!(name.as_str(), "example.com.");
        }
    }

    #[test]
    fn the_target_wins_each_conflict_and_a_deletion_ends_absent() {
        let scenario = Scenario::example();
        let plan = plan(&scenario, None);
        let seeded = plan.seeded(&scenario);
        let edited = plan.edited(&seeded);
        for e in plan.edits.iter().filter(|e| e.conflict) {
            let must = plan.must_end(&e.record.key());
            let target = plan
                .edits
                .iter()
                .find(|x| x.record.key() == e.record.key() && x.side == Side::Target)
                .expect("the target's edit");
            assert_eq!(must, target.result());
            let ended = edited.records.iter().find(|r| r.key() == e.record.key());
            assert_eq!(ended, target.result(), "{}", e.record.key());
        }
        let window = plan
            .edits
            .iter()
            .find(|e| e.phase == Phase::Window && e.conflict && e.side == Side::Target)
            .expect("the window's conflict");
        assert_eq!(window.kind, Kind::Delete);
        assert_eq!(plan.must_end(&window.record.key()), None);
        let swap = plan
            .edits
            .iter()
            .find(|e| e.phase == Phase::BeforeSwap && e.conflict && e.side == Side::Source)
            .expect("the swap's conflict");
        assert_eq!(swap.kind, Kind::Delete);
        assert!(
            plan.must_end(&swap.record.key()).is_some(),
            "the target's change wins"
        );
        // Meanwhile, the source holds its own change of the window's conflict, the target
        // nothing.
        let per_zone = plan.per_zone(&seeded);
        let held = |zone: &Scenario| {
            zone.records
                .iter()
                .find(|r| r.key() == window.record.key())
                .cloned()
        };
        let source_change = plan
            .edits
            .iter()
            .find(|e| e.record.key() == window.record.key() && e.side == Side::Source)
            .expect("the source's change");
        assert_eq!(source_change.kind, Kind::Change);
        assert_eq!(held(&per_zone[0]), Some(source_change.record.clone()));
        assert_eq!(held(&per_zone[1]), None);
    }

    #[test]
    fn under_an_apex_wildcard_the_storm_writes_below_a_name_of_its_own_and_leaves_covered_names() {
        let mut scenario = Scenario::example();
        let n = |s: &str| Name::parse(s).expect("name");
        for (name, value) in [
            ("*.example.com", "192.0.2.9"),
            ("*.api.example.com", "192.0.2.8"),
        ] {
            scenario
                .records
                .push(RecordSet::simple(n(name), RrType::A, 2, &[value]));
        }
        let plan = plan(&scenario, None);
        let anchor = n("zonehop-storm.example.com");
        assert!(plan.fodder.iter().any(|r| r.name == anchor));
        let mail = n("mail.example.com");
        for e in &plan.edits {
            let existing = scenario.records.iter().any(|r| r.key() == e.record.key());
            assert!(
                existing || e.record.name.is_at_or_below(&anchor),
                "{} is the apex wildcard's before it is created",
                e.record.name
            );
            assert_ne!(
                e.record.name, mail,
                "mail.example.com is answered by *.example.com once deleted"
            );
        }
    }

    #[test]
    fn an_edit_not_in_the_final_target_or_never_written_is_lost_one_of_a_phase_never_reached_not() {
        let scenario = Scenario::example();
        let mut storm = Storm::new(
            plan(&scenario, None),
            EditClock::default(),
            std::time::Duration::from_secs(4),
        );
        storm.made_ms.insert(Phase::BeforeFirstSync, 1_000);
        let first = storm
            .plan
            .edits
            .iter()
            .position(|e| e.phase == Phase::BeforeFirstSync)
            .expect("an edit");
        storm.failed.insert(first, "refused".into());
        // The target ends with what the first phase's edits must leave, but for one.
        let seeded = storm.plan.seeded(&scenario);
        let phase_one: Vec<&StormEdit> = storm
            .plan
            .edits
            .iter()
            .filter(|e| e.phase == Phase::BeforeFirstSync)
            .collect();
        let ended = apply(&seeded, &phase_one);
        let missing = phase_one
            .iter()
            .find(|e| e.kind == Kind::Create && e.side == Side::Target && !e.conflict)
            .expect("the target's create");
        let target = Zone::new(
            ended
                .records
                .iter()
                .filter(|r| r.key() != missing.record.key())
                .cloned(),
        );
        storm.ended = Some((Zone::new(ended.records.clone()), target));
        let mut lost = storm.lost();
        lost.sort();
        let mut want = vec![
            format!(
                "{} {} (before-first-sync, {} zone, {})",
                storm.plan.edits[first].record.name,
                storm.plan.edits[first].record.rtype,
                storm.plan.edits[first].side.name(),
                storm.plan.edits[first].kind.name()
            ),
            format!(
                "{} TXT (before-first-sync, target zone, create)",
                missing.record.name
            ),
        ];
        want.sort();
        assert_eq!(lost, want);
        let per_phase = storm.per_phase();
        assert_eq!(per_phase[0]["target"]["made"], 2);
        assert_eq!(per_phase[0]["target"]["asRequired"], 1);
        assert_eq!(per_phase[1]["source"]["made"], 0, "never reached");
    }

    #[test]
    fn a_task_ends_its_phase_by_its_function_and_the_ns_wait() {
        assert_eq!(
            Phase::ended_by("sync-records", false),
            Some(Phase::BeforeFirstSync)
        );
        assert_eq!(
            Phase::ended_by("sync-records", true),
            Some(Phase::BetweenSyncs)
        );
        assert_eq!(
            Phase::ended_by("swap-nameservers", true),
            Some(Phase::BeforeSwap)
        );
        assert_eq!(Phase::ended_by("carry-edits", true), Some(Phase::Window));
        assert_eq!(Phase::ended_by("finalize", true), Some(Phase::AfterSafe));
        assert_eq!(Phase::ended_by("verify-zones", true), None);
        for f in GATED {
            assert!(Phase::ended_by(f, true).is_some(), "{f}");
        }
    }
}
