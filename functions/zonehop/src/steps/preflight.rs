//! DESIGN step 1: check everything before anything changes, then take the domain's lock.
//!
//! Every field of the request, both zones, DNSSEC (signing, or a DS at the parent), every
//! record that cannot move as is, the live delegation and the registration are checked.
//! Only when every check passes is the canary `_zonehop.<domain> TXT "side=old"
//! "execution=<id>"` written in the source zone: it is what the probe resolvers are asked
//! for later, and the lock that refuses a second execution for the same domain while one
//! runs. `dryRun` stops before the canary.

use crate::settings::Settings;
use std::net::SocketAddr;
use zonehop_core::canary::canary_execution;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::dns::lookup::{address_of, parent_zone, parse_resolver, resolver_for};
use crate::ports::dns::DnsClient;
use crate::ports::executions::Executions;
use crate::ports::hosted_zones::{
    change_and_wait, check_is_public_zone_of, read_zone, HostedZones,
};
use crate::ports::registrar::Registrar;
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::canary::CANARY_LABEL;
use zonehop_core::change::{Action, Change};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::plan::{plan_sync, BlockReason, Blocker, HealthCheckPolicy, PlanInput, Warning};
use zonehop_core::request::{
    cutover_records, parse_domain, parse_keep_in_source, CutoverRecord, NsTtl, ProbeConfig,
    RegistrarKind, RegistrarRef, ZoneRef,
};
use zonehop_core::zone::{bare_zone_id, RecordSet, RrType};

/// The request's `cutover`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cutover {
    #[serde(default)]
    pub records: Vec<CutoverRecord>,
}

/// The migration request, as preflight checks it (DESIGN "The request").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightRequest {
    pub domain: String,
    pub source: ZoneRef,
    #[serde(default)]
    pub target: ZoneRef,
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    #[serde(default)]
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
    #[serde(default)]
    pub pacing: Option<zonehop_core::propagation::Pacing>,
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

/// Runs every check; writes the canary only when all pass (and not on a dry run).
pub async fn preflight<
    S: HostedZones,
    T: HostedZones,
    G: Registrar,
    D: DnsClient,
    E: Executions,
>(
    source: &S,
    target: &T,
    registrar: &G,
    dns: &D,
    executions: &E,
    request: &PreflightRequest,
    settings: &Settings,
) -> Result<PreflightOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let registrar = &Retrying::new(registrar, settings.retry, &stats);
    let executions = &Retrying::new(executions, settings.retry, &stats);
    // The request, every field, before any call.
    let domain = parse_domain(&request.domain)?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    request.registrar.access.validate("registrar")?;
    request.ns_ttl.validate()?;
    if let Some(pacing) = &request.pacing {
        pacing.validate()?;
    }
    if let Some(cutover) = &request.cutover {
        cutover_records(&domain, &cutover.records)?;
    }
    if request.probe.resolvers.is_empty() {
        return Err(Error::InvalidRequest(
            "probe.resolvers is empty: give the resolvers to watch".into(),
        ));
    }
    for resolver in &request.probe.resolvers {
        parse_resolver(resolver)?;
    }
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;
    let target_id = match &request.target.hosted_zone_id {
        Some(_) => Some(bare_zone_id(request.target.required_id("target")?).to_owned()),
        None => None,
    };
    if target_id.as_deref() == Some(source_id.as_str()) {
        return Err(Error::InvalidRequest(format!(
            "source and target are the same zone {source_id}"
        )));
    }

    // The zones.
    let source_zone = source.get_zone(&source_id).await?;
    check_is_public_zone_of(&source_zone, &domain)?;
    if let Some(id) = &target_id {
        let zone = target.get_zone(id).await?;
        check_is_public_zone_of(&zone, &domain)?;
    }
    let records = read_zone(source, &source_id).await?;
    let mut blockers: Vec<Blocker> = Vec::new();
    if source.dnssec_signing(&source_id).await? {
        blockers.push(Blocker {
            reason: BlockReason::DnssecSigning,
            record: domain.to_string(),
            detail: "the source zone signs with DNSSEC: remove the DS at the registrar, wait its TTL, then disable signing (DisableHostedZoneDNSSEC), and start again".into(),
        });
    }
    let plan_target = target_id.clone().unwrap_or_else(|| "ZTARGET".to_owned());
    let input = PlanInput {
        apex: &domain,
        source_zone_id: &source_id,
        target_zone_id: &plan_target,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        extra_records: &[],
        limits: zonehop_core::batch::BatchLimits::ROUTE53,
    };
    let plan = plan_sync(&input, &records, &zonehop_core::zone::Zone::default());
    blockers.extend(plan.blockers.iter().cloned());
    let mut warnings = plan.warnings.clone();

    // The live delegation and any DS, from the parent's own servers.
    let (_, parent_servers) = parent_zone(dns, resolver, &domain).await?;
    let mut live: Vec<String> = Vec::new();
    let mut parent_ns_ttl = 0i64;
    let mut ds_seen = false;
    for server in &parent_servers {
        for ip in address_of(dns, resolver, server).await? {
            let addr = SocketAddr::new(ip, settings.dns_port);
            if let Ok(answer) = dns.query(addr, &domain, RrType::NS, false).await {
                for r in answer.authorities.iter().chain(answer.answers.iter()) {
                    if r.name == domain && r.rtype == "NS" {
                        live.push(r.data.clone());
                        parent_ns_ttl = parent_ns_ttl.max(i64::from(r.ttl));
                    }
                }
            }
            if let Ok(answer) = dns.query(addr, &domain, RrType::DS, false).await {
                ds_seen |= !answer.rrset(&domain, "DS").is_empty();
            }
        }
    }
    let live = canonical_servers(&live);
    if ds_seen {
        blockers.push(Blocker {
            reason: BlockReason::DsAtParent,
            record: domain.to_string(),
            detail: "the parent publishes a DS for the domain: remove it at the registrar (Route 53 Domains: DisassociateDelegationSignerFromDomain), wait its TTL, then start again".into(),
        });
    }
    let source_servers = canonical_servers(&source_zone.name_servers);
    if live != source_servers {
        warnings.push(warning(
            domain.as_str(),
            format!("the live delegation is {live:?}, not the source zone's servers {source_servers:?}: the source zone may not be the one users reach"),
        ));
    }
    let registration = match request.registrar.kind {
        RegistrarKind::Route53domains => registrar.name_servers(&domain).await?,
        RegistrarKind::Manual => Vec::new(),
    };
    if request.registrar.kind == RegistrarKind::Route53domains && registration != source_servers {
        warnings.push(warning(
            domain.as_str(),
            format!("the registration names {registration:?}, not the source zone's servers"),
        ));
    }

    // The lock: a canary of another execution that still runs refuses this one.
    let canary_name = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    let me = request
        .execution_id
        .clone()
        .unwrap_or_else(|| "direct-invocation".to_owned());
    if let Some(existing) = records
        .iter()
        .find(|r| r.name == canary_name && r.rtype == RrType::TXT)
    {
        if let Some(other) = canary_execution(existing).filter(|other| *other != me) {
            if executions.is_running(&other).await? {
                return Err(Error::MigrationInProgress {
                    domain: domain.to_string(),
                    execution: other,
                });
            }
            warnings.push(warning(
                canary_name.as_str(),
                format!("a canary of execution {other}, which no longer runs, is taken over"),
            ));
        }
    }
    if !blockers.is_empty() {
        return Err(Error::MigrationBlocked { blockers });
    }

    let source_ns_ttl = records
        .iter()
        .find(|r| r.name == domain && r.rtype == RrType::NS)
        .and_then(|r| r.ttl)
        .unwrap_or(0);
    let largest_record_ttl = records.iter().filter_map(|r| r.ttl).max().unwrap_or(0);
    let timeline = vec![
        Wait {
            step: "lower-ns-ttl".into(),
            seconds: source_ns_ttl,
            why: format!("resolvers may hold the old apex NS set for its TTL ({source_ns_ttl} s) after it is lowered to {} s", request.ns_ttl.during),
        },
        Wait {
            step: "check-propagation".into(),
            seconds: parent_ns_ttl + request.ns_ttl.during.max(largest_record_ttl),
            why: format!(
                "after the parent switches: its NS TTL ({parent_ns_ttl} s) plus the larger of the old NS TTL ({} s) and the largest record TTL ({largest_record_ttl} s)",
                request.ns_ttl.during
            ),
        },
    ];
    let mut output = PreflightOutput {
        source_records: records.len(),
        records_to_move: plan.changes().count(),
        kept_in_source: keep.iter().map(ToString::to_string).collect(),
        live_delegation: live,
        registration,
        warnings,
        timeline,
        canary_written: false,
        source_ns_ttl,
    };
    if request.dry_run {
        return Ok(output);
    }
    let canary = RecordSet::simple(
        canary_name,
        RrType::TXT,
        request.ns_ttl.during.min(60),
        &["\"side=old\"", &format!("\"execution={me}\"")],
    );
    let change = [Change {
        action: Action::Upsert,
        record: canary,
    }];
    change_and_wait(
        source,
        &source_id,
        &change,
        "zonehop: canary and lock",
        settings.in_sync_timeout,
    )
    .await?;
    output.canary_written = true;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop_core::name::Name;

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
