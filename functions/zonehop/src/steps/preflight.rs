//! DESIGN step 1: check everything before anything changes, then take the domain's lock.
//!
//! Every field of the request, both zones, DNSSEC (signing, or a DS at the parent), every
//! record that cannot move as is (the plan's blockers, the kept names, aliases across the
//! new cuts, CIDR collections, the records quota, cutover records beside the source's),
//! the live delegation and the registration (a stale source) are checked. Every request
//! problem is reported at once in one `InvalidRequest`, every blocker at once in one
//! `MigrationBlocked`.
//! Only when every check passes is the canary `_zonehop.<domain> TXT "side=old"
//! "execution=<id>"` written in the source zone: it is what the probe resolvers are asked
//! for later, and the lock that refuses a second execution for the same domain while one
//! runs. `dryRun` stops before the canary.

use crate::settings::Settings;
use std::net::SocketAddr;
use zonehop_core::canary::{canary_execution, is_readable_execution};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::dns::lookup::{parent_addresses, parse_resolver, resolver_for};
use crate::ports::dns::DnsClient;
use crate::ports::executions::Executions;
use crate::ports::hosted_zones::{
    change_and_wait, check_is_public_zone_of, left_by_an_earlier_execution, made_by_create_zone,
    read_zone, HostedZone, HostedZones,
};
use crate::ports::ledger::{lock_holder, Ledger, Lock};
use crate::ports::registrar::Registrar;
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::canary::CANARY_LABEL;
use zonehop_core::change::{Action, Change};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::name::Name;
use zonehop_core::plan::{
    aliases_across_cuts, cidr_blockers, kept_below_delegations, kept_name_blockers, plan_sync,
    BlockReason, Blocker, HealthCheckPolicy, PlanInput, SyncPlan, Warning,
};
use zonehop_core::propagation::window_after_switch;
use zonehop_core::propagation::Pacing;
use zonehop_core::request::{
    cutover_problems, parse_domain, parse_keep_in_source, CutoverRecord, NsTtl, ProbeConfig,
    RegistrarFields, RegistrarKind, RegistrarRef, ZoneRef, MAX_PROBE_RESOLVERS,
};
use zonehop_core::validate::summarize;
use zonehop_core::zone::{bare_zone_id, RecordSet, RrType, Zone};

/// The request's `cutover`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cutover {
    #[serde(default)]
    pub records: Vec<CutoverRecord>,
}

/// The migration request, as preflight checks it (DESIGN "The request"). Every field the
/// design documents is accepted, and nothing else: a misspelt field (`dryrun`,
/// `keepInSorce`) is refused, never ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreflightRequest {
    pub domain: String,
    pub source: ZoneRef,
    #[serde(default)]
    pub target: ZoneRef,
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    /// When given, `type` is required: the state machine replaces its default registrar
    /// object whole, and later states read `$.registrar.type`.
    #[serde(default, deserialize_with = "registrar_with_type")]
    pub registrar: RegistrarRef,
    #[serde(default)]
    pub ns_ttl: NsTtl,
    #[serde(default)]
    pub cutover: Option<Cutover>,
    #[serde(default)]
    pub probe: ProbeConfig,
    #[serde(default)]
    pub health_checks: HealthCheckPolicy,
    #[serde(default)]
    pub dry_run: bool,
    /// The resolver that finds the parent's servers (else `ZONEHOP_RESOLVER`).
    #[serde(default)]
    pub resolver: Option<String>,
    /// This execution (the state machine passes `$$.Execution.Id`).
    #[serde(default)]
    pub execution_id: Option<String>,
    /// check-propagation's pacing, checked here so that a bad one stops the run before any
    /// change rather than after the swap.
    #[serde(default, deserialize_with = "strict_pacing")]
    pub pacing: Option<Pacing>,
    /// Read by sync-records; accepted here because preflight gets the whole request.
    #[serde(default)]
    pub max_overwrites: usize,
    /// Why a live delegation or registration that does not name the source zone's servers
    /// is right (a zone being rebuilt, a registrar that rewrites names): without it, such a
    /// stale source stops the migration (`StaleSource`).
    #[serde(default)]
    pub stale_source_reason: Option<String>,
    /// The state machine's own defaults object, which its `Apply Defaults` state leaves in
    /// the state it passes here; ignored.
    #[serde(default, skip_serializing)]
    pub defaults: Option<serde_json::Value>,
}

/// `pacing`, refusing unknown keys (`Pacing` itself is shared with check-propagation).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PacingFields {
    min_wait: i64,
    max_wait: i64,
}

fn strict_pacing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pacing>, D::Error> {
    Ok(Option::<PacingFields>::deserialize(d)?.map(|p| Pacing {
        min_wait: p.min_wait,
        max_wait: p.max_wait,
    }))
}

fn registrar_with_type<'de, D: Deserializer<'de>>(d: D) -> Result<RegistrarRef, D::Error> {
    let fields = RegistrarFields::deserialize(d)?;
    if fields.kind.is_none() {
        return Err(serde::de::Error::missing_field("type"));
    }
    Ok(RegistrarRef::from(fields))
}

/// One wait of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wait {
    pub step: String,
    pub seconds: i64,
    pub why: String,
}

/// preflight's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightOutput {
    pub source_records: usize,
    pub records_to_move: usize,
    pub kept_in_source: Vec<String>,
    pub live_delegation: Vec<String>,
    pub registration: Vec<String>,
    pub warnings: Vec<Warning>,
    pub timeline: Vec<Wait>,
    pub canary_written: bool,
    /// The apex NS TTL before any change: what lower-ns-ttl's wait must cover.
    pub source_ns_ttl: i64,
}

fn warning(record: &str, detail: String) -> Warning {
    Warning {
        record: record.to_owned(),
        detail,
    }
}

/// The request once every field is checked.
#[derive(Debug)]
struct Checked {
    domain: Name,
    keep: Vec<Name>,
    source_id: String,
    target_id: Option<String>,
    resolver: SocketAddr,
    cutover: Vec<RecordSet>,
}

/// What the checks found: every blocker and every warning, not only the first.
#[derive(Debug, Default)]
struct Findings {
    blockers: Vec<Blocker>,
    warnings: Vec<Warning>,
}

impl Findings {
    fn block(&mut self, reason: BlockReason, record: &str, detail: String) {
        self.blockers.push(Blocker {
            reason,
            record: record.to_owned(),
            detail,
        });
    }
}

/// Runs every check; writes the canary only when all pass (and not on a dry run).
/// Everything preflight reads (and the two it writes: the ledger's lock and the canary).
#[derive(Debug)]
pub struct PreflightPorts<'a, S, T, G, D, E, L> {
    pub source: &'a S,
    pub target: &'a T,
    pub registrar: &'a G,
    pub dns: &'a D,
    pub executions: &'a E,
    pub ledger: &'a L,
}

pub async fn preflight<
    S: HostedZones,
    T: HostedZones,
    G: Registrar,
    D: DnsClient,
    E: Executions,
    L: Ledger,
    C: Clock,
>(
    ports: PreflightPorts<'_, S, T, G, D, E, L>,
    clock: &C,
    request: &PreflightRequest,
    settings: &Settings,
) -> Result<PreflightOutput, Error> {
    let PreflightPorts {
        source,
        target,
        registrar,
        dns,
        executions,
        ledger,
    } = ports;
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let registrar = &Retrying::new(registrar, settings.retry, &stats);
    let executions = &Retrying::new(executions, settings.retry, &stats);

    let checked = check_request(request, settings)?;
    let (source_zone, records) = read_zones(source, target, &checked).await?;
    let mut findings = Findings::default();
    let plan = check_records(source, &checked, &records, request, settings, &mut findings).await?;
    let (live, parent_ns_ttl) = check_delegation(dns, &checked, settings, &mut findings).await?;
    check_probe_resolvers(
        dns,
        &checked.domain,
        &request.probe.resolvers,
        &mut findings,
    )
    .await;
    let registration = registrar_servers(registrar, &checked.domain, request).await?;
    let resumed = resumed_target(
        target,
        &checked,
        &source_zone.name_servers,
        [live.as_slice(), registration.as_slice()],
    )
    .await?;
    check_stale_source(
        &checked.domain,
        &source_zone.name_servers,
        &live,
        request,
        (&registration, resumed.as_ref()),
        &mut findings,
    );
    let me = request
        .execution_id
        .clone()
        .unwrap_or_else(|| "direct-invocation".to_owned());
    let canary_name = check_lock(executions, &checked.domain, &records, &me, &mut findings).await?;
    let replacing =
        check_ledger_lock(executions, ledger, &checked.domain, &me, &mut findings).await?;
    if !findings.blockers.is_empty() {
        let mut blockers = findings.blockers;
        blockers.sort_by(|a, b| (a.reason, &a.record).cmp(&(b.reason, &b.record)));
        blockers.dedup();
        return Err(Error::MigrationBlocked { blockers });
    }

    let source_ns_ttl = records
        .iter()
        .find(|r| r.name == checked.domain && r.rtype == RrType::NS)
        .and_then(|r| r.ttl)
        .unwrap_or(0);
    let mut output = PreflightOutput {
        source_records: records.len(),
        records_to_move: plan.changes().count(),
        kept_in_source: checked.keep.iter().map(ToString::to_string).collect(),
        live_delegation: live,
        registration,
        warnings: findings.warnings,
        timeline: timeline(
            &records,
            source_ns_ttl,
            parent_ns_ttl,
            request.ns_ttl.during,
            request.registrar.lower_ns_ttl,
        ),
        canary_written: false,
        source_ns_ttl,
    };
    if request.dry_run {
        return Ok(output);
    }
    // The one atomic step: of two executions that got this far at the same time, exactly
    // one takes the lock; the other writes nothing.
    if let Lock::HeldBy(other) = ledger
        .take_lock(&checked.domain, &me, replacing.as_deref())
        .await?
    {
        return Err(Error::MigrationInProgress {
            domain: checked.domain.to_string(),
            execution: other,
        });
    }
    let canary = RecordSet::simple(
        canary_name,
        RrType::TXT,
        request.ns_ttl.during.min(60),
        &["\"side=old\"", &format!("\"execution={me}\"")],
    );
    // A retry of this execution finds its own canary and writes nothing (invariant 3).
    let held = records
        .get(&canary.key())
        .is_some_and(|current| current.same_content(&canary));
    if !held {
        write_canary(source, clock, &checked.source_id, canary, settings).await?;
    }
    output.canary_written = true;
    Ok(output)
}

/// The request, every field, before any call: every problem in one `InvalidRequest`.
fn check_request(request: &PreflightRequest, settings: &Settings) -> Result<Checked, Error> {
    let mut problems: Vec<String> = Vec::new();
    let mut note = |result: Result<(), String>| {
        if let Err(problem) = result {
            problems.push(problem);
        }
    };
    let domain = parse_domain(&request.domain).map_err(|e| e.0);
    let keep = match &domain {
        Ok(domain) => parse_keep_in_source(domain, &request.keep_in_source).map_err(|e| e.0),
        Err(_) => Ok(Vec::new()),
    };
    let source_id = request
        .source
        .required_id("source")
        .map(|id| bare_zone_id(id).to_owned())
        .map_err(|e| e.0);
    note(request.source.access.validate("source").map_err(|e| e.0));
    note(request.target.access.validate("target").map_err(|e| e.0));
    note(request.registrar.validate().map_err(|e| e.0));
    for problem in request.ns_ttl.problems() {
        note(Err(problem.0));
    }
    if let Some(pacing) = &request.pacing {
        note(pacing.validate().map_err(|e| e.0));
    }
    let cutover = match (&request.cutover, &domain) {
        (Some(cutover), Ok(domain)) => cutover_problems(domain, &cutover.records),
        _ => Ok(Vec::new()),
    };
    if let (Ok(sets), Ok(domain), Ok(keep)) = (&cutover, &domain, &keep) {
        for problem in cutover_names(domain, keep, sets) {
            note(Err(problem));
        }
    }
    let resolvers = &request.probe.resolvers;
    if resolvers.is_empty() {
        note(Err(
            "probe.resolvers is empty: give the resolvers to watch".into()
        ));
    }
    if resolvers.len() > MAX_PROBE_RESOLVERS {
        note(Err(format!(
            "probe.resolvers has {} resolvers; at most {MAX_PROBE_RESOLVERS}",
            resolvers.len()
        )));
    }
    for (i, resolver) in resolvers.iter().enumerate() {
        if parse_resolver(resolver).is_err() {
            note(Err(format!(
                "probe.resolvers[{i}] is not an address (192.0.2.53 or 192.0.2.53:53)"
            )));
        }
    }
    let resolver =
        resolver_for(request.resolver.as_deref(), settings.resolver).map_err(|e| match e {
            Error::InvalidRequest(message) => message,
            other => other.to_string(),
        });
    let target_id = match &request.target.hosted_zone_id {
        Some(_) => request
            .target
            .required_id("target")
            .map(|id| Some(bare_zone_id(id).to_owned()))
            .map_err(|e| e.0),
        None => Ok(None),
    };
    if let (Ok(Some(target)), Ok(source)) = (&target_id, &source_id) {
        if target == source {
            note(Err(format!("source and target are the same zone {source}")));
        }
    }
    if request
        .stale_source_reason
        .as_deref()
        .is_some_and(|reason| reason.trim().is_empty())
    {
        note(Err(
            "staleSourceReason is empty: say why the source zone is the right one, or leave it out"
                .into(),
        ));
    }
    match (domain, keep, source_id, target_id, resolver, cutover) {
        (Ok(domain), Ok(keep), Ok(source_id), Ok(target_id), Ok(resolver), Ok(cutover))
            if problems.is_empty() =>
        {
            Ok(Checked {
                domain,
                keep,
                source_id,
                target_id,
                resolver,
                cutover,
            })
        }
        (domain, keep, source_id, target_id, resolver, cutover) => {
            let mut all: Vec<String> = [
                domain.err(),
                keep.err(),
                source_id.err(),
                target_id.err(),
                resolver.err(),
            ]
            .into_iter()
            .flatten()
            .collect();
            all.extend(problems);
            all.extend(cutover.err().unwrap_or_default());
            Err(Error::InvalidRequest(summarize(&all)))
        }
    }
}

/// Cutover names zonehop cannot write as asked, known from the request alone:
/// - a name inside a kept subtree (`keepInSource`): cutover writes the target zone, the
///   domain's, but a kept subtree is served by its own child zone in the source account,
///   so the record would never be answered. Refused rather than written into the child:
///   the child zone is the operator's after the move, and cutover's rollback and TTL
///   restore know only the target; change the record in the child zone instead;
/// - the canary's name `_zonehop.<domain>` (or below it): zonehop's own record, which
///   finalize deletes.
fn cutover_names(domain: &Name, keep: &[Name], sets: &[RecordSet]) -> Vec<String> {
    let canary = domain.prepend(CANARY_LABEL).ok();
    let mut problems = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        let field = format!("cutover.records[{index}]");
        if let Some(kept) = keep.iter().find(|k| set.name.is_at_or_below(k)) {
            problems.push(format!(
                "{field}: {} is inside the kept subtree {kept}, which its own zone in the source account serves: cutover writes only the target zone, where it would never be answered; change it in the kept zone, or remove it from cutover.records",
                set.name
            ));
        }
        if canary.as_ref().is_some_and(|c| set.name.is_at_or_below(c)) {
            problems.push(format!(
                "{field}: {} is zonehop's own canary name (finalize deletes it): choose another name",
                set.name
            ));
        }
    }
    problems
}

/// Both zones exist, are public and are named as the domain; the source's records.
async fn read_zones<S: HostedZones, T: HostedZones>(
    source: &S,
    target: &T,
    checked: &Checked,
) -> Result<(HostedZone, Zone), Error> {
    let source_zone = source.get_zone(&checked.source_id).await?;
    check_is_public_zone_of(&source_zone, &checked.domain)?;
    if let Some(id) = &checked.target_id {
        let zone = target.get_zone(id).await?;
        check_is_public_zone_of(&zone, &checked.domain)?;
    }
    let records = read_zone(source, &checked.source_id).await?;
    Ok((source_zone, records))
}

/// The kept names an earlier execution already cut: the source delegates each to the child
/// zone zonehop made for it (a public zone of that name in the source account, its
/// CallerReference `zonehop-child-…`, the delegation naming exactly its servers).
/// delegate-subdomain adopts such a cut on a second execution (`alreadyDelegated`).
async fn cut_by_zonehop<S: HostedZones>(
    source: &S,
    records: &Zone,
    keep: &[Name],
) -> Result<Vec<Name>, Error> {
    let mut out = Vec::new();
    for kept in keep {
        let Some(ns) = records
            .iter()
            .find(|r| r.name == *kept && r.rtype == RrType::NS)
        else {
            continue;
        };
        for zone in source.zones_named(kept).await? {
            if zone.private || !zone.caller_reference.starts_with("zonehop-child-") {
                continue;
            }
            let child = source.get_zone(&zone.id).await?;
            if zonehop_core::delegation::same_servers(ns.values(), &child.name_servers) {
                out.push(kept.clone());
                break;
            }
        }
    }
    Ok(out)
}

/// DNSSEC signing, every record that cannot move (the plan's blockers), the kept names,
/// aliases across the new cuts, CIDR collections, the records quota and the cutover
/// records beside the source's.
async fn check_records<S: HostedZones>(
    source: &S,
    checked: &Checked,
    records: &Zone,
    request: &PreflightRequest,
    settings: &Settings,
    findings: &mut Findings,
) -> Result<SyncPlan, Error> {
    let domain = &checked.domain;
    if source.dnssec_signing(&checked.source_id).await? {
        findings.block(
            BlockReason::DnssecSigning,
            domain.as_str(),
            "the source zone signs with DNSSEC: remove the DS at the registrar, wait its TTL, then disable signing (DisableHostedZoneDNSSEC), and start again".into(),
        );
    }
    let plan_target = checked
        .target_id
        .clone()
        .unwrap_or_else(|| "ZTARGET".to_owned());
    let input = PlanInput {
        apex: domain,
        source_zone_id: &checked.source_id,
        target_zone_id: &plan_target,
        keep_in_source: &checked.keep,
        health_checks: request.health_checks,
        extra_records: &[],
        limits: zonehop_core::batch::BatchLimits::ROUTE53,
    };
    let plan = plan_sync(&input, records, &Zone::default());
    findings.blockers.extend(plan.blockers.iter().cloned());
    findings.warnings.extend(plan.warnings.iter().cloned());
    let cut_by_zonehop = cut_by_zonehop(source, records, &checked.keep).await?;
    findings
        .blockers
        .extend(kept_name_blockers(records, &checked.keep, &cut_by_zonehop));
    findings
        .blockers
        .extend(kept_below_delegations(records, domain, &checked.keep));
    findings.blockers.extend(aliases_across_cuts(
        records,
        &checked.source_id,
        &checked.keep,
    ));
    findings.blockers.extend(cidr_blockers(records));
    if request.health_checks == HealthCheckPolicy::Keep {
        check_kept_health_checks(source, &plan.desired, findings).await?;
    }
    // The target holds what moves, its own apex SOA and NS, and the canary.
    let target_records = plan.desired.len() + 3;
    if target_records > settings.max_records_per_zone {
        findings.block(
            BlockReason::TooManyRecords,
            domain.as_str(),
            format!(
                "the target would hold {target_records} record sets, over the {} of the Route 53 quota of records per hosted zone (ZONEHOP_MAX_RECORDS_PER_ZONE): ask AWS to raise the target account's quota, then set ZONEHOP_MAX_RECORDS_PER_ZONE to it",
                settings.max_records_per_zone
            ),
        );
    }
    check_cutover_beside_source(domain, &checked.cutover, records, findings);
    Ok(plan)
}

/// With `healthChecks: keep`, every health check a moving record names must exist in the
/// source account (GetHealthCheck), or the record would keep a dangling check in the new
/// zone: each missing one blocks the migration by the records that name it.
async fn check_kept_health_checks<S: HostedZones>(
    source: &S,
    moving: &Zone,
    findings: &mut Findings,
) -> Result<(), Error> {
    let mut by_check: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for record in moving.iter() {
        if let Some(check) = &record.health_check_id {
            by_check
                .entry(check.as_str())
                .or_default()
                .push(record.key().to_string());
        }
    }
    for (check, records) in by_check {
        if !source.health_check_exists(check).await? {
            for record in records {
                findings.block(
                    BlockReason::HealthCheckMissing,
                    &record,
                    format!("names health check {check}, which the source account does not have (GetHealthCheck: NoSuchHealthCheck): with healthChecks \"keep\" the record would keep a check nobody runs; fix the record's HealthCheckId in the source zone, or choose \"drop\""),
                );
            }
        }
    }
    Ok(())
}

/// Cutover records Route 53 would refuse beside what the source zone holds (and the
/// target, a copy of it, will): a CNAME where other records are, other records where a
/// CNAME is, a simple set where a routing-policy set of the same name and type is; and a
/// record at or below a delegation to other servers, which would never be answered.
fn check_cutover_beside_source(
    domain: &Name,
    cutover: &[RecordSet],
    records: &Zone,
    findings: &mut Findings,
) {
    for record in cutover {
        if let Some(cut) = records.iter().find(|r| {
            r.rtype == RrType::NS && r.name != *domain && record.name.is_at_or_below(&r.name)
        }) {
            findings.block(
                BlockReason::CutoverConflict,
                &record.key().to_string(),
                format!(
                    "{} is at or below {}, which the source zone delegates to other servers: resolvers ask those servers, so the record would never be answered; change it in the delegated zone, or remove it from cutover.records",
                    record.name, cut.name
                ),
            );
        }
        let beside = |cname: bool| {
            records.iter().any(|r| {
                r.name == record.name
                    && (r.rtype == RrType::CNAME) == cname
                    && r.rtype != record.rtype
            })
        };
        let conflict = if record.rtype == RrType::CNAME {
            beside(false)
        } else {
            beside(true)
        };
        if let Some(routed) = records
            .iter()
            .find(|r| r.name == record.name && r.rtype == record.rtype && r.has_routing_policy())
        {
            // Cutover UPSERTs one simple record set; Route 53 refuses a simple set beside
            // routing-policy sets of the same name and type. zonehop does not replace a
            // whole routed set (its weights, health checks and identifiers are the
            // operator's), so it is refused here, before any write.
            findings.block(
                BlockReason::CutoverConflict,
                &record.key().to_string(),
                format!(
                    "the source zone holds a routing-policy set at {} {} ({}): cutover writes one simple record set, which Route 53 refuses beside it; change the routed set by hand after the move, or remove it from cutover.records",
                    record.name,
                    record.rtype,
                    routed.key()
                ),
            );
        }
        if conflict {
            findings.block(
                BlockReason::CutoverConflict,
                &record.key().to_string(),
                format!(
                    "the source zone holds {} at {}, and a CNAME must be alone at its name: Route 53 would refuse this cutover record; change it, or remove the other records first",
                    if record.rtype == RrType::CNAME { "other records" } else { "a CNAME" },
                    record.name
                ),
            );
        }
    }
}

/// The live delegation and any DS, from the parent's own servers: the servers it names
/// and the largest NS TTL it gives.
async fn check_delegation<D: DnsClient>(
    dns: &D,
    checked: &Checked,
    settings: &Settings,
    findings: &mut Findings,
) -> Result<(Vec<String>, i64), Error> {
    let domain = &checked.domain;
    let resolver = checked.resolver;
    let mut live: Vec<String> = Vec::new();
    let mut parent_ns_ttl = 0i64;
    let mut ds_seen = false;
    for ip in parent_addresses(dns, resolver, domain).await? {
        let addr = SocketAddr::new(ip, settings.dns_port);
        match answered(dns, addr, domain, RrType::NS, false).await {
            Ok(answer) => {
                for r in answer.delegation(domain) {
                    parent_ns_ttl = parent_ns_ttl.max(i64::from(r.ttl));
                    live.push(r.data);
                }
            }
            Err(error) => findings.block(
                BlockReason::ParentServerSilent,
                &addr.to_string(),
                format!("no answer to {domain} NS in {SILENT_ATTEMPTS} attempts ({error}); if the parent's server is down for a while, start again once it answers"),
            ),
        }
        if let Ok(answer) = dns.query(addr, domain, RrType::DS, false).await {
            ds_seen |= !answer.rrset(domain, "DS").is_empty();
        }
    }
    if ds_seen {
        findings.block(
            BlockReason::DsAtParent,
            domain.as_str(),
            "the parent publishes a DS for the domain: remove it at the registrar (Route 53 Domains: DisassociateDelegationSignerFromDomain; a parent hosted zone: delete its DS record for the domain), wait its TTL, then start again".into(),
        );
    }
    Ok((canonical_servers(&live), parent_ns_ttl))
}

/// How many times preflight asks a server before calling it silent.
const SILENT_ATTEMPTS: u32 = 3;

/// The first answer of up to [`SILENT_ATTEMPTS`] queries, or the last error.
async fn answered<D: DnsClient>(
    dns: &D,
    server: SocketAddr,
    name: &Name,
    rtype: RrType,
    recursion: bool,
) -> Result<crate::ports::dns::DnsAnswer, String> {
    let mut last = String::new();
    for _ in 0..SILENT_ATTEMPTS {
        match dns.query(server, name, rtype, recursion).await {
            Ok(answer) => return Ok(answer),
            Err(error) => last = error.to_string(),
        }
    }
    Err(last)
}

/// Every probe resolver must answer (anything: an answer, NXDOMAIN, SERVFAIL) a question
/// about the domain now, or it could show nothing during the window.
async fn check_probe_resolvers<D: DnsClient>(
    dns: &D,
    domain: &Name,
    probes: &[String],
    findings: &mut Findings,
) {
    for probe in probes {
        let Ok(addr) = parse_resolver(probe) else {
            continue; // check_request named it already
        };
        if let Err(error) = answered(dns, addr, domain, RrType::SOA, true).await {
            findings.block(
                BlockReason::ProbeResolverSilent,
                probe,
                format!("no answer to {domain} SOA in {SILENT_ATTEMPTS} attempts ({error}): fix the address, or leave it out of probe.resolvers"),
            );
        }
    }
}

/// The registration's name servers (Route 53 Domains only; a manual registrar is not read).
async fn registrar_servers<G: Registrar>(
    registrar: &G,
    domain: &Name,
    request: &PreflightRequest,
) -> Result<Vec<String>, Error> {
    match request.registrar.kind {
        RegistrarKind::Route53domains | RegistrarKind::Route53zone => {
            registrar.name_servers(domain).await
        }
        RegistrarKind::Manual => Ok(Vec::new()),
    }
}

/// The target zone when the live delegation or the registration already names its servers
/// (not the source's): an earlier execution swapped and ended (aborted, failed after the
/// switch or after "safe"), and this one resumes the migration. Only looked for then: the
/// request's target zone, else the one zonehop created for the domain (create-zone adopts
/// it, `left_by_an_earlier_execution`).
async fn resumed_target<T: HostedZones>(
    target: &T,
    checked: &Checked,
    source_name_servers: &[String],
    seen: [&[String]; 2],
) -> Result<Option<HostedZone>, Error> {
    let source_servers = canonical_servers(source_name_servers);
    let elsewhere = seen
        .iter()
        .any(|servers| !servers.is_empty() && canonical_servers(servers) != source_servers);
    if !elsewhere {
        return Ok(None);
    }
    let zone = match &checked.target_id {
        Some(id) => target.get_zone(id).await?,
        None => {
            let existing = target.zones_named(&checked.domain).await?;
            match left_by_an_earlier_execution(&existing, made_by_create_zone) {
                Some(zone) => target.get_zone(&zone.id).await?,
                None => return Ok(None),
            }
        }
    };
    let servers = canonical_servers(&zone.name_servers);
    let resumes = !servers.is_empty()
        && seen
            .iter()
            .any(|seen| !seen.is_empty() && canonical_servers(seen) == servers);
    Ok(resumes.then_some(zone))
}

/// A live delegation or registration that names other servers than the source zone's is
/// a blocker, unless the request says why it is right (then a warning), or they are the
/// servers of the target zone an earlier execution swapped to (`resumed`: a warning, and
/// this execution resumes the migration).
fn check_stale_source(
    domain: &Name,
    source_name_servers: &[String],
    live: &[String],
    request: &PreflightRequest,
    (registration, resumed): (&[String], Option<&HostedZone>),
    findings: &mut Findings,
) {
    let source_servers = canonical_servers(source_name_servers);
    let target_servers = resumed.map(|z| canonical_servers(&z.name_servers));
    let resumes = |servers: &[String]| {
        target_servers
            .as_deref()
            .is_some_and(|target| canonical_servers(servers) == target)
    };
    if let Some(zone) = resumed {
        findings.warnings.push(warning(
            domain.as_str(),
            format!(
                "the delegation already names the servers of the target zone {} (an earlier execution swapped before it ended): this execution resumes the migration from there",
                zone.id
            ),
        ));
    }
    let mut stale: Vec<String> = Vec::new();
    if live != source_servers.as_slice() && !resumes(live) {
        stale.push(format!(
            "the live delegation is {live:?}, not the source zone's servers {source_servers:?}"
        ));
    }
    if request.registrar.kind == RegistrarKind::Route53zone
        && canonical_servers(registration) != source_servers
        && !resumes(registration)
    {
        // The parent zone is the registration: nothing can make another delegation right.
        findings.block(
            BlockReason::ParentDoesNotDelegate,
            domain.as_str(),
            format!(
                "the parent zone {} delegates {domain} to {registration:?}, not to the source zone's servers {source_servers:?}: give the source zone the parent delegates to, or the parent zone that delegates to this one",
                request.registrar.parent_zone_id().unwrap_or_default()
            ),
        );
    }
    if request.registrar.kind == RegistrarKind::Route53domains
        && canonical_servers(registration) != source_servers
        && !resumes(registration)
    {
        stale.push(format!(
            "the registration names {registration:?}, not the source zone's servers {source_servers:?}"
        ));
    }
    for detail in stale {
        match &request.stale_source_reason {
            Some(reason) => findings.warnings.push(warning(
                domain.as_str(),
                format!("{detail}; accepted: {reason}"),
            )),
            None => findings.block(
                BlockReason::StaleSource,
                domain.as_str(),
                format!("{detail}: the source zone may not be the one users reach. Give the zone the domain is delegated to, or set staleSourceReason to say why this one is right"),
            ),
        }
    }
}

/// The lock: a canary of another execution that still runs refuses this one; one of an
/// execution that has ended is taken over (with a warning). Returns the canary's name.
async fn check_lock<E: Executions>(
    executions: &E,
    domain: &Name,
    records: &Zone,
    me: &str,
    findings: &mut Findings,
) -> Result<Name, Error> {
    let canary_name = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    if let Some(existing) = records
        .iter()
        .find(|r| r.name == canary_name && r.rtype == RrType::TXT)
    {
        let execution = canary_execution(existing);
        if !execution.as_deref().is_some_and(is_readable_execution) {
            findings.block(
                BlockReason::CanaryUnreadable,
                &existing.key().to_string(),
                format!(
                    "the canary {} holds {} value(s) that name no execution zonehop can look up (it expects \"execution=arn:aws:states:...:execution:MACHINE:NAME\"), so whether a migration of {domain} runs cannot be told: check the state machine's running executions; if none migrates {domain}, delete the record {} TXT from the source zone and start again",
                    canary_name,
                    existing.resource_records.len(),
                    canary_name
                ),
            );
            return Ok(canary_name);
        }
        if let Some(other) = execution.filter(|other| other != me) {
            if executions.is_running(&other).await? {
                return Err(Error::MigrationInProgress {
                    domain: domain.to_string(),
                    execution: other,
                });
            }
            findings.warnings.push(warning(
                canary_name.as_str(),
                format!("a canary of execution {other}, which no longer runs, is taken over"),
            ));
        }
    }
    Ok(canary_name)
}

/// The ledger's lock: held by another execution that still runs, it refuses this one; held
/// by one that has ended, it is taken over (with a warning) and that execution is returned.
async fn check_ledger_lock<E: Executions, L: Ledger>(
    executions: &E,
    ledger: &L,
    domain: &Name,
    me: &str,
    findings: &mut Findings,
) -> Result<Option<String>, Error> {
    let Some(holder) = lock_holder(ledger, domain).await? else {
        return Ok(None);
    };
    if holder == me {
        return Ok(None);
    }
    if executions.is_running(&holder).await? {
        return Err(Error::MigrationInProgress {
            domain: domain.to_string(),
            execution: holder,
        });
    }
    findings.warnings.push(warning(
        domain.as_str(),
        format!("the ledger's lock of execution {holder}, which no longer runs, is taken over"),
    ));
    Ok(Some(holder))
}

/// Each wait of the migration, and why.
/// `parent_lowered`: the parent's NS TTL for the domain is lowered to `during` too (a
/// `route53zone` parent with `lowerNsTtl`): lower-ns-ttl then waits out the larger of the
/// two old TTLs, and the window after the switch is bounded by the lowered one.
fn timeline(
    records: &Zone,
    source_ns_ttl: i64,
    parent_ns_ttl: i64,
    during: i64,
    parent_lowered: bool,
) -> Vec<Wait> {
    let largest_record_ttl = records.iter().filter_map(|r| r.ttl).max().unwrap_or(0);
    let (first, parent_ns_ttl) = if parent_lowered && parent_ns_ttl > during {
        (
            Wait {
                step: "lower-ns-ttl".into(),
                seconds: source_ns_ttl.max(parent_ns_ttl),
                why: format!("resolvers may hold the old apex NS set ({source_ns_ttl} s) and the parent's delegation ({parent_ns_ttl} s) for their TTLs after both are lowered to {during} s"),
            },
            during,
        )
    } else {
        (
            Wait {
                step: "lower-ns-ttl".into(),
                seconds: source_ns_ttl,
                why: format!("resolvers may hold the old apex NS set for its TTL ({source_ns_ttl} s) after it is lowered to {during} s"),
            },
            parent_ns_ttl,
        )
    };
    vec![
        first,
        Wait {
            step: "check-propagation".into(),
            seconds: window_after_switch(parent_ns_ttl, during, largest_record_ttl),
            why: format!(
                "after the parent switches: its NS TTL ({parent_ns_ttl} s) plus the larger of the old NS TTL ({during} s) and the largest record TTL ({largest_record_ttl} s)"
            ),
        },
    ]
}

/// The canary `_zonehop.<domain> TXT "side=old" "execution=<id>"`, awaited INSYNC.
async fn write_canary<S: HostedZones, C: Clock>(
    source: &S,
    clock: &C,
    source_id: &str,
    canary: RecordSet,
    settings: &Settings,
) -> Result<(), Error> {
    let change = [Change {
        action: Action::Upsert,
        record: canary,
    }];
    change_and_wait(
        source,
        clock,
        source_id,
        &change,
        "zonehop: canary and lock",
        settings.in_sync_timeout,
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_names_its_execution() {
        let canary = RecordSet::simple(
            Name::parse("_zonehop.example.com").expect("name"),
            RrType::TXT,
            60,
            &[
                "\"side=old\"",
                "\"execution=arn:aws:states:us-east-1:1:execution:m:run-1\"",
            ],
        );
        assert_eq!(
            canary_execution(&canary).as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:m:run-1")
        );
    }
}
