//! The sync plan: what to change in the target so that it holds what the source holds.
//!
//! Pure: two zones in, an ordered list of phases out. The apex SOA and NS of both zones
//! are never touched (each zone keeps its own), the subtrees kept in the source are left
//! out except their delegation, same-zone aliases are re-pointed at the target zone, and
//! whatever cannot move as is becomes a named [`Blocker`] before anything is written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{pack, BatchLimits, Cost};
pub use crate::change::{Action, Change};
use crate::name::Name;
use crate::zone::{bare_zone_id, RecordKey, RecordSet, RrType, Zone};

/// Route 53's limit on one value (characters).
pub const MAX_VALUE_CHARS: usize = 4_000;
/// Route 53's limit on values per record set.
pub const MAX_VALUES_PER_RECORD: usize = 400;

/// What to do with records that name a health check of the source account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthCheckPolicy {
    /// Refuse to move them (the default): the operator recreates the health checks in the
    /// target account first and fixes the ids in the source, or chooses `drop`.
    #[default]
    Block,
    /// Move them without their health check, with a warning per record.
    Drop,
    /// Move them with their health check ids: the records in the new zone go on naming the
    /// old account's health checks (Route 53 lets a record reference another account's
    /// health check through the API, not the console). Preflight checks each exists in the
    /// source account; a warning per record, and finalize's checklist names them: deleting
    /// one in the old account breaks the new zone's routing.
    Keep,
}

impl HealthCheckPolicy {
    pub fn is_default(&self) -> bool {
        *self == HealthCheckPolicy::default()
    }
}

/// Why a record cannot move as is. Each one stops the sync before any write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockReason {
    /// The record was created by a traffic policy instance, which cannot be migrated.
    TrafficPolicyRecord,
    /// An alias whose target is a traffic policy instance's record.
    AliasToTrafficPolicy,
    /// The record names a health check, which belongs to the source account.
    HealthCheck,
    /// With `healthChecks: keep`, the record names a health check the source account does
    /// not have (deleted, or another account's): the record would keep a dangling check.
    HealthCheckMissing,
    /// A same-zone alias whose target lies in a subtree kept in the source: after the
    /// split it would point into another zone, which Route 53 does not allow.
    AliasCrossesZoneCut,
    /// A same-zone alias whose target does not exist in the zone.
    AliasTargetMissing,
    /// Aliases that point at each other in a loop.
    AliasCycle,
    /// A value longer than Route 53's 4,000 characters.
    ValueTooLong,
    /// More than Route 53's 400 values in one record set.
    TooManyValues,
    /// One change alone exceeds a request's limits (an UPSERT counts twice).
    ChangeTooLarge,
    /// The source zone signs with DNSSEC: two providers cannot both sign (no multi-signer).
    DnssecSigning,
    /// The parent publishes a DS for the domain: after the swap, validating resolvers
    /// would answer SERVFAIL.
    DsAtParent,
    /// A kept subdomain (`keepInSource`) whose name holds a CNAME: a CNAME cannot be a
    /// zone's apex (the apex holds SOA and NS, and a CNAME must be alone at its name).
    KeptNameIsCname,
    /// A kept subdomain that is already delegated (an NS set at that name in the source):
    /// its records live in another zone already; keep nothing, or delegate it as it is.
    KeptNameAlreadyDelegated,
    /// A kept subdomain with no records at or below it: there is nothing to keep behind.
    KeptNameEmpty,
    /// A same-zone alias whose target is exactly a kept name: after the cut the parent
    /// holds only the delegation (NS) there, so the alias would have nothing to answer.
    AliasToCutApex,
    /// A record with IP-based routing (`CidrRoutingConfig`): it names a CIDR collection
    /// of the source account, which the target account cannot use.
    CidrCollection,
    /// The target would hold more records than the Route 53 quota of records per zone
    /// (`ZONEHOP_MAX_RECORDS_PER_ZONE`, 10,000 by default).
    TooManyRecords,
    /// The live delegation (the parent's servers) or the registration names other servers
    /// than the source zone's: the source zone may not be the one users reach. Refused
    /// unless the request says why it is right (`staleSourceReason`).
    StaleSource,
    /// A cutover record Route 53 would refuse beside what the source zone holds: a CNAME
    /// where other records exist, or other records where a CNAME exists.
    CutoverConflict,
    /// A probe resolver (`probe.resolvers`) gave no answer at all, three times: watching it
    /// during the window would show nothing. Fix the address or leave it out.
    ProbeResolverSilent,
    /// A server of the parent zone gave no answer at all, three times: its delegation could
    /// not be checked now, nor watched during the window.
    ParentServerSilent,
    /// `registrar.type: route53zone`: the parent zone's NS record for the domain is missing
    /// or names other servers than the source zone's. The parent zone is the registration
    /// itself, so no `staleSourceReason` can accept it.
    ParentDoesNotDelegate,
    /// The source holds a canary (`_zonehop.<domain>` TXT) that names no execution zonehop
    /// can look up (no `execution=`, or not an execution ARN): whether a migration runs
    /// cannot be told, so the lock is neither honoured nor taken over.
    CanaryUnreadable,
}

/// A record that cannot move as is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    pub reason: BlockReason,
    pub record: String,
    pub detail: String,
}

/// A record that moves, but not exactly as it is in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub record: String,
    pub detail: String,
}

/// What the planner needs besides the two zones.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The domain: the apex of both zones.
    pub apex: &'a Name,
    pub source_zone_id: &'a str,
    pub target_zone_id: &'a str,
    /// Subtrees that stay in the source account; only their delegation (NS, DS) moves.
    pub keep_in_source: &'a [Name],
    pub health_checks: HealthCheckPolicy,
    /// Records the target must hold beyond the source's (the canary, for instance). They
    /// replace a source record with the same key.
    pub extra_records: &'a [RecordSet],
    pub limits: BatchLimits,
}

/// The changes that make the target hold what the source holds, in phases that must be
/// applied in order; the changes inside one phase are independent of each other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPlan {
    pub phases: Vec<Vec<Change>>,
    pub blockers: Vec<Blocker>,
    pub warnings: Vec<Warning>,
    /// Records already in the target that the plan deletes or overwrites.
    pub overwrites: Vec<RecordKey>,
    /// What the target holds after the plan, apex SOA and NS aside.
    #[serde(skip)]
    pub desired: Zone,
}

impl SyncPlan {
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.phases.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.phases.iter().all(Vec::is_empty)
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes().filter(|c| c.action == action).count()
    }

    /// The requests to send, phase after phase, each within the limits.
    pub fn batches(&self, limits: BatchLimits) -> Vec<Vec<Change>> {
        self.phases
            .iter()
            .flat_map(|phase| pack(phase, limits))
            .collect()
    }

    /// The fewest requests any packing could use for this plan.
    pub fn lower_bound(&self, limits: BatchLimits) -> usize {
        self.phases
            .iter()
            .map(|phase| crate::batch::lower_bound(phase, limits))
            .sum()
    }
}

/// True for the apex SOA and NS, which every zone keeps as its own.
pub fn is_apex_soa_or_ns(record: &RecordSet, apex: &Name) -> bool {
    record.name == *apex && matches!(record.rtype, RrType::SOA | RrType::NS)
}

/// The kept subtree a name falls in, if any.
fn kept_subtree<'n>(name: &Name, keep: &'n [Name]) -> Option<&'n Name> {
    keep.iter().find(|k| name.is_at_or_below(k))
}

/// Plans the sync of `source` into `target`.
pub fn plan_sync(input: &PlanInput<'_>, source: &Zone, target: &Zone) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let source_id = bare_zone_id(input.source_zone_id);
    let mut desired = Zone::default();

    for record in source.iter() {
        if is_apex_soa_or_ns(record, input.apex) {
            continue;
        }
        if let Some(kept) = kept_subtree(&record.name, input.keep_in_source) {
            // The delegation at the cut lives in the parent; everything else stays behind.
            let is_delegation =
                record.name == *kept && matches!(record.rtype, RrType::NS | RrType::DS);
            if !is_delegation {
                continue;
            }
        }
        if let Some(moved) = admit(input, source, source_id, record, &mut plan) {
            desired.insert(moved);
        }
    }
    for extra in input.extra_records {
        desired.insert(extra.clone());
    }

    let depth = alias_depths(input, source, &desired, &mut plan);

    // Diff against what the target holds now; its apex SOA and NS are its own.
    let mut deletes_of_aliases = Vec::new();
    let mut deletes = Vec::new();
    for current in target.iter() {
        if is_apex_soa_or_ns(current, input.apex) || desired.get(&current.key()).is_some() {
            continue;
        }
        plan.overwrites.push(current.key());
        let change = Change {
            action: Action::Delete,
            record: current.clone(),
        };
        // An alias goes before the record it points at.
        if current.alias_target.is_some() {
            deletes_of_aliases.push(change);
        } else {
            deletes.push(change);
        }
    }
    let mut writes: BTreeMap<usize, Vec<Change>> = BTreeMap::new();
    for wanted in desired.iter() {
        let action = match target.get(&wanted.key()) {
            None => Action::Create,
            Some(current) if current.same_content(wanted) => continue,
            Some(_) => {
                plan.overwrites.push(wanted.key());
                Action::Upsert
            }
        };
        let level = depth.get(&wanted.key()).copied().unwrap_or(0);
        writes.entry(level).or_default().push(Change {
            action,
            record: wanted.clone(),
        });
    }
    plan.phases = [deletes_of_aliases, deletes]
        .into_iter()
        .chain(writes.into_values())
        .filter(|phase| !phase.is_empty())
        .collect();

    let too_large: Vec<Blocker> = plan
        .changes()
        .filter(|change| !Cost::of(change).fits(input.limits))
        .map(|change| Blocker {
            reason: BlockReason::ChangeTooLarge,
            record: change.record.key().to_string(),
            detail: format!(
                "{:?} of this record alone exceeds a request's limits ({} values, {} characters; an UPSERT counts twice): shorten it in the source, or delete it from the target by hand",
                change.action, input.limits.max_values, input.limits.max_chars
            ),
        })
        .collect();
    plan.blockers.extend(too_large);
    plan.blockers
        .sort_by(|a, b| (a.reason, &a.record).cmp(&(b.reason, &b.record)));
    plan.overwrites.sort();
    plan.desired = desired;
    plan
}

/// Decides whether one source record can move, and how it looks in the target.
fn admit(
    input: &PlanInput<'_>,
    source: &Zone,
    source_id: &str,
    record: &RecordSet,
    plan: &mut SyncPlan,
) -> Option<RecordSet> {
    let key = record.key().to_string();
    let mut block = |reason: BlockReason, detail: String| {
        plan.blockers.push(Blocker {
            reason,
            record: key.clone(),
            detail,
        });
    };
    if let Some(instance) = &record.traffic_policy_instance_id {
        block(
            BlockReason::TrafficPolicyRecord,
            format!("created by traffic policy instance {instance}; recreate the policy instance in the target account, then remove this record from the move"),
        );
        return None;
    }
    if let Some(too_long) = record
        .values()
        .find(|v| v.chars().count() > MAX_VALUE_CHARS)
    {
        block(
            BlockReason::ValueTooLong,
            format!(
                "a value of {} characters (Route 53 allows {MAX_VALUE_CHARS})",
                too_long.chars().count()
            ),
        );
    }
    if record.resource_records.len() > MAX_VALUES_PER_RECORD {
        block(
            BlockReason::TooManyValues,
            format!(
                "{} values (Route 53 allows {MAX_VALUES_PER_RECORD})",
                record.resource_records.len()
            ),
        );
    }
    let mut moved = record.clone();
    if let Some(check) = &record.health_check_id {
        match input.health_checks {
            HealthCheckPolicy::Block => block(
                BlockReason::HealthCheck,
                format!("uses health check {check} of the source account: set healthChecks to \"keep\" to move the record still naming it (the old account must then keep it), or \"drop\" to move the record without it and attach a health check of the target account after the migration"),
            ),
            HealthCheckPolicy::Drop => {
                moved.health_check_id = None;
                plan.warnings.push(Warning {
                    record: key.clone(),
                    detail: format!("moved without its health check {check}"),
                });
            }
            HealthCheckPolicy::Keep => plan.warnings.push(Warning {
                record: key.clone(),
                detail: format!("keeps health check {check} of the old account: deleting it there breaks this record's routing in the new zone"),
            }),
        }
    }
    if let Some(alias) = &mut moved.alias_target {
        if bare_zone_id(&alias.hosted_zone_id) == source_id {
            if let Some(kept) = kept_subtree(&alias.dns_name, input.keep_in_source) {
                if alias.dns_name == *kept {
                    block(
                        BlockReason::AliasToCutApex,
                        format!("aliases {kept}, the apex of a subtree that stays behind: after the cut the parent holds only its delegation there; alias a name inside the new zone, or replace the alias with the records"),
                    );
                } else {
                    block(
                        BlockReason::AliasCrossesZoneCut,
                        format!("aliases {} which stays behind in {kept}: replace the alias with the target's records, or keep its name in the source too", alias.dns_name),
                    );
                }
            }
            if let Some(policy_record) = source.iter().find(|r| {
                r.name == alias.dns_name
                    && r.rtype == record.rtype
                    && r.traffic_policy_instance_id.is_some()
            }) {
                block(
                    BlockReason::AliasToTrafficPolicy,
                    format!(
                        "aliases {}, a record of traffic policy instance {}",
                        policy_record.name,
                        policy_record
                            .traffic_policy_instance_id
                            .as_deref()
                            .unwrap_or_default()
                    ),
                );
            }
            // A same-zone alias must name the zone it lives in: the new one.
            alias.hosted_zone_id = bare_zone_id(input.target_zone_id).to_owned();
        }
    }
    Some(moved)
}

/// The kept subdomains that cannot become zones of their own: a CNAME at the name, a
/// name already delegated (NS), a subtree with no records. `cut_by_zonehop` are the kept
/// names whose delegation an earlier execution of zonehop made (to the child zone it made
/// for them): no blocker, delegate-subdomain adopts that cut on a second execution.
pub fn kept_name_blockers(source: &Zone, keep: &[Name], cut_by_zonehop: &[Name]) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    for kept in keep {
        let at = |rtype: RrType| source.iter().any(|r| r.name == *kept && r.rtype == rtype);
        if at(RrType::CNAME) {
            blockers.push(Blocker {
                reason: BlockReason::KeptNameIsCname,
                record: format!("{kept} CNAME"),
                detail: format!("{kept} holds a CNAME, which cannot be a zone's apex: keep a name below it, or move the CNAME with the rest"),
            });
        }
        if at(RrType::NS) && !cut_by_zonehop.contains(kept) {
            blockers.push(Blocker {
                reason: BlockReason::KeptNameAlreadyDelegated,
                record: format!("{kept} NS"),
                detail: format!("{kept} is already delegated to its own servers: its delegation moves as it is; remove it from keepInSource"),
            });
        }
        if !source.iter().any(|r| r.name.is_at_or_below(kept)) {
            blockers.push(Blocker {
                reason: BlockReason::KeptNameEmpty,
                record: kept.to_string(),
                detail: format!("no record at or below {kept}: there is nothing to keep behind; remove it from keepInSource (or check its spelling)"),
            });
        }
    }
    blockers
}

/// Kept names at or below a delegation to other servers: an NS set of the source below
/// the apex `apex` at a name that is not itself kept. The source zone does not answer
/// there (the delegated servers do), so a child zone made for the kept name would never
/// be reached, and verify-zones would fail after create-zone and delegate-subdomain wrote.
/// (A kept name that holds the NS itself is [`BlockReason::KeptNameAlreadyDelegated`] in
/// [`kept_name_blockers`].)
pub fn kept_below_delegations(source: &Zone, apex: &Name, keep: &[Name]) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    for kept in keep {
        for cut in source.iter().filter(|r| {
            r.rtype == RrType::NS
                && r.name != *apex
                && r.name != *kept
                && !keep.contains(&r.name)
                && kept.is_below(&r.name)
        }) {
            blockers.push(Blocker {
                reason: BlockReason::KeptNameAlreadyDelegated,
                record: format!("{kept}"),
                detail: format!(
                    "{kept} is below {}, which the source zone delegates to other servers ({}): the source does not answer there, so a zone kept for {kept} would never be reached; keep the delegated name itself, or remove {kept} from keepInSource",
                    cut.name,
                    cut.values().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    blockers
}

/// Same-zone aliases that the new cuts would split from their targets, in all three
/// shapes: an alias whose target is exactly a kept name ([`BlockReason::AliasToCutApex`]),
/// an alias outside a kept subtree whose target lies inside it, and an alias inside one
/// whose target lies outside it ([`BlockReason::AliasCrossesZoneCut`]).
pub fn aliases_across_cuts(source: &Zone, source_zone_id: &str, keep: &[Name]) -> Vec<Blocker> {
    let source_id = bare_zone_id(source_zone_id);
    let mut blockers = Vec::new();
    for record in source.iter() {
        let Some(alias) = record
            .alias_target
            .as_ref()
            .filter(|a| bare_zone_id(&a.hosted_zone_id) == source_id)
        else {
            continue;
        };
        let from = kept_subtree(&record.name, keep);
        let to = kept_subtree(&alias.dns_name, keep);
        let key = record.key().to_string();
        if let Some(kept) = keep.iter().find(|k| alias.dns_name == **k) {
            if from != Some(kept) || record.name == *kept {
                blockers.push(Blocker {
                    reason: BlockReason::AliasToCutApex,
                    record: key,
                    detail: format!("aliases {kept}, the apex of a subtree that stays behind: after the cut the parent holds only its delegation there; alias a name inside the new zone, or replace the alias with the records"),
                });
                continue;
            }
        }
        if from != to {
            let detail = match (from, to) {
                (Some(kept), _) => format!("lies in {kept}, which stays behind, and aliases {} outside it: after the cut they are in different zones; replace the alias with the records", alias.dns_name),
                (None, Some(kept)) => format!("aliases {} which stays behind in {kept}: replace the alias with the target's records, or keep its name in the source too", alias.dns_name),
                (None, None) => continue,
            };
            blockers.push(Blocker {
                reason: BlockReason::AliasCrossesZoneCut,
                record: key,
                detail,
            });
        }
    }
    blockers
}

/// Records with IP-based routing: their CIDR collection belongs to the source account.
pub fn cidr_blockers(source: &Zone) -> Vec<Blocker> {
    source
        .iter()
        .filter_map(|r| {
            let config = r.cidr_routing_config.as_ref()?;
            Some(Blocker {
                reason: BlockReason::CidrCollection,
                record: r.key().to_string(),
                detail: format!("routes by CIDR collection {} (location {}) of the source account, which the target account cannot use: create the collection in the target account and recreate the record there after the migration, or remove the routing first", config.collection_id, config.location_name),
            })
        })
        .collect()
}

/// For every record, how many same-zone aliases lie between it and a plain record, so that
/// targets are written in an earlier phase than the aliases that point at them. Reports
/// aliases whose target is missing and aliases that loop.
fn alias_depths(
    input: &PlanInput<'_>,
    source: &Zone,
    desired: &Zone,
    plan: &mut SyncPlan,
) -> BTreeMap<RecordKey, usize> {
    let target_id = bare_zone_id(input.target_zone_id);
    // A same-zone alias points at every record set of its target's name and type
    // (weighted or latency sets included).
    let mut by_name_type: BTreeMap<(&Name, RrType), Vec<RecordKey>> = BTreeMap::new();
    for record in desired.iter() {
        by_name_type
            .entry((&record.name, record.rtype))
            .or_default()
            .push(record.key());
    }
    let mut edges: BTreeMap<RecordKey, Vec<RecordKey>> = BTreeMap::new();
    for record in desired.iter() {
        let Some(alias) = record
            .alias_target
            .as_ref()
            .filter(|a| bare_zone_id(&a.hosted_zone_id) == target_id)
        else {
            continue;
        };
        let targets = by_name_type
            .get(&(&alias.dns_name, record.rtype))
            .cloned()
            .unwrap_or_default();
        let reported_elsewhere = kept_subtree(&alias.dns_name, input.keep_in_source).is_some()
            || source
                .iter()
                .any(|r| r.name == alias.dns_name && r.traffic_policy_instance_id.is_some());
        if targets.is_empty() && !reported_elsewhere {
            plan.blockers.push(Blocker {
                reason: BlockReason::AliasTargetMissing,
                record: record.key().to_string(),
                detail: format!(
                    "aliases {} {}, which is not in the zone",
                    alias.dns_name, record.rtype
                ),
            });
        }
        edges.insert(record.key(), targets);
    }

    enum Mark {
        InProgress,
        Done(usize),
    }
    let no_edges: Vec<RecordKey> = Vec::new();
    let mut marks: BTreeMap<RecordKey, Mark> = BTreeMap::new();
    // Iterative depth-first search: an export may hold long chains, and Lambda stacks are small.
    for root in desired.iter().map(RecordSet::key) {
        if marks.contains_key(&root) {
            continue;
        }
        marks.insert(root.clone(), Mark::InProgress);
        let mut stack: Vec<(RecordKey, usize)> = vec![(root, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let children = edges.get(node).unwrap_or(&no_edges);
            if let Some(child) = children.get(*next) {
                *next += 1;
                match marks.get(child) {
                    None => {
                        marks.insert(child.clone(), Mark::InProgress);
                        stack.push((child.clone(), 0));
                    }
                    Some(Mark::InProgress) => plan.blockers.push(Blocker {
                        reason: BlockReason::AliasCycle,
                        record: node.to_string(),
                        detail: format!("aliases {child}, which leads back here"),
                    }),
                    Some(Mark::Done(_)) => {}
                }
                continue;
            }
            let depth = children
                .iter()
                .map(|c| match marks.get(c) {
                    Some(Mark::Done(d)) => d + 1,
                    _ => 1,
                })
                .max()
                .unwrap_or(0);
            let done = node.clone();
            stack.pop();
            marks.insert(done, Mark::Done(depth));
        }
    }
    marks
        .into_iter()
        .map(|(key, mark)| match mark {
            Mark::Done(d) => (key, d),
            Mark::InProgress => (key, 0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::load_export;
    use crate::zone::AliasTarget;
    use std::collections::BTreeSet;

    const SOURCE_ID: &str = "Z0OLDEXAMPLE";
    const TARGET_ID: &str = "Z1NEWEXAMPLE";

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    fn every_kind() -> Zone {
        load_export(include_str!("../testdata/every-kind.json")).expect("export loads")
    }

    fn plan_with(
        source: &Zone,
        target: &Zone,
        keep: &[Name],
        policy: HealthCheckPolicy,
    ) -> SyncPlan {
        let apex = n("example.com");
        plan_sync(
            &PlanInput {
                apex: &apex,
                source_zone_id: SOURCE_ID,
                target_zone_id: TARGET_ID,
                keep_in_source: keep,
                health_checks: policy,
                extra_records: &[],
                limits: BatchLimits::ROUTE53,
            },
            source,
            target,
        )
    }

    fn same_zone_alias(name: &str, target: &str) -> RecordSet {
        RecordSet::alias(
            n(name),
            RrType::A,
            AliasTarget {
                hosted_zone_id: format!("/hostedzone/{SOURCE_ID}"),
                dns_name: n(target),
                evaluate_target_health: false,
            },
        )
    }

    fn a(name: &str, ip: &str) -> RecordSet {
        RecordSet::simple(n(name), RrType::A, 300, &[ip])
    }

    fn target_zone_with_apex() -> Zone {
        Zone::new([
            RecordSet::simple(
                n("example.com"),
                RrType::NS,
                172_800,
                &["ns-new-1.example.net."],
            ),
            RecordSet::simple(
                n("example.com"),
                RrType::SOA,
                900,
                &["ns-new-1.example.net. hostmaster. 1 7200 900 1209600 86400"],
            ),
        ])
    }

    #[test]
    fn given_an_empty_target_the_plan_creates_everything_but_the_apex_soa_and_ns() {
        let source = every_kind();
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Drop);
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        assert_eq!(plan.count(Action::Create), source.len() - 2);
        assert_eq!(plan.count(Action::Upsert) + plan.count(Action::Delete), 0);
        assert!(plan
            .changes()
            .all(|c| !is_apex_soa_or_ns(&c.record, &n("example.com"))));
    }

    #[test]
    fn the_target_apex_soa_and_ns_are_never_touched() {
        let plan = plan_with(
            &Zone::default(),
            &target_zone_with_apex(),
            &[],
            HealthCheckPolicy::Block,
        );
        assert!(plan.is_empty());
    }

    #[test]
    fn same_zone_aliases_point_at_the_new_zone_and_aws_resource_aliases_keep_their_zone() {
        let plan = plan_with(
            &every_kind(),
            &Zone::default(),
            &[],
            HealthCheckPolicy::Drop,
        );
        let alias_of = |name: &str| {
            plan.changes()
                .find(|c| c.record.name == n(name) && c.record.alias_target.is_some())
                .and_then(|c| c.record.alias_target.clone())
                .expect("alias in plan")
        };
        assert_eq!(alias_of("alias-www.example.com").hosted_zone_id, TARGET_ID);
        assert_eq!(alias_of("example.com").hosted_zone_id, "Z35SXDOTRQ7X7K");
    }

    #[test]
    fn alias_targets_are_written_in_an_earlier_phase_than_their_aliases() {
        // c -> b -> a, listed in the worst order.
        let source = Zone::new([
            same_zone_alias("c.example.com", "b.example.com"),
            same_zone_alias("b.example.com", "a.example.com"),
            a("a.example.com", "192.0.2.1"),
        ]);
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        let phase_of = |name: &str| {
            plan.phases
                .iter()
                .position(|p| p.iter().any(|c| c.record.name == n(name)))
                .expect("in a phase")
        };
        assert!(phase_of("a.example.com") < phase_of("b.example.com"));
        assert!(phase_of("b.example.com") < phase_of("c.example.com"));
        // The batches keep that order.
        let order: Vec<Name> = plan
            .batches(BatchLimits::ROUTE53)
            .into_iter()
            .flatten()
            .map(|c| c.record.name)
            .collect();
        assert_eq!(
            order,
            [n("a.example.com"), n("b.example.com"), n("c.example.com")]
        );
    }

    #[test]
    fn an_alias_to_a_weighted_name_waits_for_every_weighted_set() {
        let mut w1 = a("api.example.com", "192.0.2.1");
        w1.set_identifier = Some("one".into());
        w1.weight = Some(1);
        let mut w2 = same_zone_alias("api.example.com", "lb.example.com");
        w2.set_identifier = Some("two".into());
        w2.weight = Some(1);
        let source = Zone::new([
            same_zone_alias("front.example.com", "api.example.com"),
            w1,
            w2,
            a("lb.example.com", "192.0.2.9"),
        ]);
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        assert_eq!(plan.phases.len(), 3);
        assert!(plan.phases[2]
            .iter()
            .all(|c| c.record.name == n("front.example.com")));
    }

    #[test]
    fn alias_loops_and_missing_alias_targets_are_blockers() {
        let source = Zone::new([
            same_zone_alias("x.example.com", "y.example.com"),
            same_zone_alias("y.example.com", "x.example.com"),
            same_zone_alias("z.example.com", "gone.example.com"),
        ]);
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        let reasons: Vec<BlockReason> = plan.blockers.iter().map(|b| b.reason).collect();
        assert!(reasons.contains(&BlockReason::AliasCycle), "{reasons:?}");
        assert!(
            reasons.contains(&BlockReason::AliasTargetMissing),
            "{reasons:?}"
        );
    }

    #[test]
    fn kept_subtrees_stay_behind_except_their_delegation() {
        let mut source = every_kind();
        source.insert(RecordSet::simple(
            n("dev.example.com"),
            RrType::NS,
            300,
            &["ns-child-1.example.net."],
        ));
        let plan = plan_with(
            &source,
            &Zone::default(),
            &[n("dev.example.com")],
            HealthCheckPolicy::Drop,
        );
        let moved_dev: Vec<String> = plan
            .changes()
            .filter(|c| c.record.name.is_at_or_below(&n("dev.example.com")))
            .map(|c| c.record.key().to_string())
            .collect();
        assert_eq!(moved_dev, ["dev.example.com. NS"]);
    }

    #[test]
    fn an_alias_that_would_cross_the_new_zone_cut_is_a_blocker() {
        let source = Zone::new([
            a("api.dev.example.com", "192.0.2.1"),
            same_zone_alias("api.example.com", "api.dev.example.com"),
        ]);
        let plan = plan_with(
            &source,
            &Zone::default(),
            &[n("dev.example.com")],
            HealthCheckPolicy::Block,
        );
        assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
        assert_eq!(plan.blockers[0].reason, BlockReason::AliasCrossesZoneCut);
        assert!(plan.blockers[0].record.starts_with("api.example.com."));
    }

    #[test]
    fn health_checks_block_by_default_and_drop_with_a_warning_when_asked() {
        let source = every_kind();
        let blocked = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        assert_eq!(blocked.blockers.len(), 1);
        assert_eq!(blocked.blockers[0].reason, BlockReason::HealthCheck);
        assert!(blocked.blockers[0].detail.contains("healthChecks"));

        let dropped = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Drop);
        assert!(dropped.blockers.is_empty());
        assert_eq!(dropped.warnings.len(), 1);
        assert!(dropped
            .changes()
            .all(|c| c.record.health_check_id.is_none()));

        // keep: the record moves naming the same health check, with a warning that says
        // what deleting it in the old account would do.
        let kept = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Keep);
        assert!(kept.blockers.is_empty(), "{:?}", kept.blockers);
        assert_eq!(kept.warnings.len(), 1);
        assert!(kept.warnings[0]
            .detail
            .contains("breaks this record's routing"));
        let checked: Vec<&RecordSet> = source
            .iter()
            .filter(|r| r.health_check_id.is_some())
            .collect();
        assert_eq!(checked.len(), 1);
        assert!(kept.changes().any(|c| c.record.key() == checked[0].key()
            && c.record.health_check_id == checked[0].health_check_id));
    }

    #[test]
    fn traffic_policy_records_and_aliases_to_them_are_blockers() {
        let mut policy = a("tp.example.com", "192.0.2.1");
        policy.traffic_policy_instance_id = Some("tpi-1".into());
        let source = Zone::new([policy, same_zone_alias("www.example.com", "tp.example.com")]);
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        let reasons: BTreeSet<BlockReason> = plan.blockers.iter().map(|b| b.reason).collect();
        assert_eq!(
            reasons,
            BTreeSet::from([
                BlockReason::TrafficPolicyRecord,
                BlockReason::AliasToTrafficPolicy
            ])
        );
    }

    #[test]
    fn records_over_route53_limits_are_blockers() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let many: Vec<String> = (0..=MAX_VALUES_PER_RECORD)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let source = Zone::new([
            RecordSet::simple(n("long.example.com"), RrType::TXT, 60, &[&long]),
            RecordSet::simple(n("many.example.com"), RrType::A, 60, &many),
        ]);
        let plan = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Block);
        let reasons: BTreeSet<BlockReason> = plan.blockers.iter().map(|b| b.reason).collect();
        assert!(reasons.contains(&BlockReason::ValueTooLong));
        assert!(reasons.contains(&BlockReason::TooManyValues));
    }

    #[test]
    fn a_target_that_already_matches_needs_no_change() {
        let source = every_kind();
        let first = plan_with(&source, &Zone::default(), &[], HealthCheckPolicy::Drop);
        let mut target = target_zone_with_apex();
        for change in first.changes() {
            target.insert(change.record.clone());
        }
        let again = plan_with(&source, &target, &[], HealthCheckPolicy::Drop);
        assert!(again.is_empty(), "{:?}", again.phases);
        assert!(again.overwrites.is_empty());
    }

    #[test]
    fn differing_and_extra_target_records_are_upserted_and_deleted_first() {
        let source = Zone::new([
            a("www.example.com", "192.0.2.1"),
            a("api.example.com", "192.0.2.2"),
        ]);
        let mut target = target_zone_with_apex();
        target.insert(a("www.example.com", "192.0.2.99"));
        target.insert(RecordSet::simple(
            n("api.example.com"),
            RrType::CNAME,
            60,
            &["elsewhere.example.net."],
        ));
        target.insert(a("old.example.com", "192.0.2.3"));
        let plan = plan_with(&source, &target, &[], HealthCheckPolicy::Block);
        assert_eq!(plan.count(Action::Upsert), 1);
        assert_eq!(plan.count(Action::Delete), 2);
        assert_eq!(plan.count(Action::Create), 1);
        // The CNAME at api must be gone before the A at api is created.
        assert!(plan.phases[0].iter().all(|c| c.action == Action::Delete));
        let overwritten: Vec<String> = plan.overwrites.iter().map(ToString::to_string).collect();
        assert_eq!(
            overwritten,
            [
                "api.example.com. CNAME",
                "old.example.com. A",
                "www.example.com. A"
            ]
        );
    }

    #[test]
    fn names_differing_only_in_case_or_escaping_are_the_same_record() {
        let source = Zone::new([RecordSet::simple(
            n("*.example.com"),
            RrType::A,
            60,
            &["192.0.2.1"],
        )]);
        let mut target = Zone::default();
        target.insert(RecordSet::simple(
            n("\\052.EXAMPLE.com."),
            RrType::A,
            60,
            &["192.0.2.1"],
        ));
        assert!(plan_with(&source, &target, &[], HealthCheckPolicy::Block).is_empty());
    }

    #[test]
    fn extra_records_are_added_to_what_the_target_must_hold() {
        let apex = n("example.com");
        let canary = RecordSet::simple(
            n("_zonehop.example.com"),
            RrType::TXT,
            60,
            &["\"side=new\""],
        );
        let plan = plan_sync(
            &PlanInput {
                apex: &apex,
                source_zone_id: SOURCE_ID,
                target_zone_id: TARGET_ID,
                keep_in_source: &[],
                health_checks: HealthCheckPolicy::Block,
                extra_records: std::slice::from_ref(&canary),
                limits: BatchLimits::ROUTE53,
            },
            &Zone::default(),
            &Zone::default(),
        );
        assert_eq!(
            plan.changes().map(|c| &c.record).collect::<Vec<_>>(),
            [&canary]
        );
    }

    #[test]
    fn an_upsert_too_large_for_one_request_is_a_blocker() {
        let big: Vec<String> = (0..5)
            .map(|i| format!("\"{}{}\"", i, "y".repeat(3_500)))
            .collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        let source = Zone::new([RecordSet::simple(
            n("big.example.com"),
            RrType::TXT,
            60,
            &big,
        )]);
        let mut target = Zone::default();
        target.insert(RecordSet::simple(
            n("big.example.com"),
            RrType::TXT,
            60,
            &["\"small\""],
        ));
        let plan = plan_with(&source, &target, &[], HealthCheckPolicy::Block);
        assert_eq!(plan.blockers.len(), 1);
        assert_eq!(plan.blockers[0].reason, BlockReason::ChangeTooLarge);
    }

    fn cname(name: &str, target: &str) -> RecordSet {
        RecordSet::simple(n(name), RrType::CNAME, 300, &[target])
    }

    fn reasons(blockers: &[Blocker]) -> Vec<BlockReason> {
        blockers.iter().map(|b| b.reason).collect()
    }

    #[test]
    fn a_kept_name_holding_a_cname_cannot_become_a_zone() {
        let source = Zone::new([cname("dev.example.com", "elsewhere.example.net.")]);
        let blockers = kept_name_blockers(&source, &[n("dev.example.com")], &[]);
        assert_eq!(reasons(&blockers), [BlockReason::KeptNameIsCname]);
    }

    #[test]
    fn a_kept_name_already_delegated_is_a_blocker() {
        let source = Zone::new([RecordSet::simple(
            n("dev.example.com"),
            RrType::NS,
            300,
            &["ns1.example.net."],
        )]);
        let blockers = kept_name_blockers(&source, &[n("dev.example.com")], &[]);
        assert_eq!(reasons(&blockers), [BlockReason::KeptNameAlreadyDelegated]);
        // ... unless the cut is the one an earlier execution of zonehop made (a second
        // execution after a failure adopts it).
        let blockers =
            kept_name_blockers(&source, &[n("dev.example.com")], &[n("dev.example.com")]);
        assert!(blockers.is_empty(), "{blockers:?}");
    }

    #[test]
    fn a_kept_name_with_no_records_is_a_blocker_and_one_with_records_below_is_not() {
        let source = Zone::new([a("www.example.com", "192.0.2.1")]);
        let blockers = kept_name_blockers(&source, &[n("dev.example.com")], &[]);
        assert_eq!(reasons(&blockers), [BlockReason::KeptNameEmpty]);
        let source = Zone::new([a("api.dev.example.com", "192.0.2.1")]);
        assert!(kept_name_blockers(&source, &[n("dev.example.com")], &[]).is_empty());
    }

    #[test]
    fn an_alias_to_exactly_the_kept_name_is_a_blocker_in_the_plan_and_in_preflight() {
        let source = Zone::new([
            a("dev.example.com", "192.0.2.1"),
            same_zone_alias("www.example.com", "dev.example.com"),
        ]);
        let keep = [n("dev.example.com")];
        let plan = plan_with(&source, &Zone::default(), &keep, HealthCheckPolicy::Block);
        assert_eq!(reasons(&plan.blockers), [BlockReason::AliasToCutApex]);
        let blockers = aliases_across_cuts(&source, SOURCE_ID, &keep);
        assert_eq!(reasons(&blockers), [BlockReason::AliasToCutApex]);
    }

    #[test]
    fn aliases_across_a_new_cut_are_blockers_in_both_directions() {
        let keep = [n("dev.example.com")];
        let into = Zone::new([
            a("api.dev.example.com", "192.0.2.1"),
            same_zone_alias("api.example.com", "api.dev.example.com"),
        ]);
        let out_of = Zone::new([
            a("api.example.com", "192.0.2.1"),
            same_zone_alias("api.dev.example.com", "api.example.com"),
        ]);
        for source in [into, out_of] {
            let blockers = aliases_across_cuts(&source, SOURCE_ID, &keep);
            assert_eq!(reasons(&blockers), [BlockReason::AliasCrossesZoneCut]);
        }
        let inside = Zone::new([
            a("api.dev.example.com", "192.0.2.1"),
            same_zone_alias("www.dev.example.com", "api.dev.example.com"),
            same_zone_alias("x.dev.example.com", "dev.example.com"),
        ]);
        assert!(aliases_across_cuts(&inside, SOURCE_ID, &keep).is_empty());
    }

    #[test]
    fn records_routed_by_a_cidr_collection_are_blockers() {
        let blockers = cidr_blockers(&every_kind());
        assert!(!blockers.is_empty());
        assert!(blockers.iter().all(
            |b| b.reason == BlockReason::CidrCollection && b.detail.contains("CIDR collection")
        ));
    }

    #[test]
    fn the_health_check_advice_never_says_to_use_a_target_account_id_in_the_source() {
        let mut record = a("hc.example.com", "192.0.2.1");
        record.health_check_id = Some("hc-1".into());
        let plan = plan_with(
            &Zone::new([record]),
            &Zone::default(),
            &[],
            HealthCheckPolicy::Block,
        );
        let detail = &plan.blockers[0].detail;
        assert!(!detail.contains("use its id"), "{detail}");
        assert!(detail.contains("drop"), "{detail}");
    }
}
