//! DESIGN step 8: gather the evidence of one propagation round and judge it.
//!
//! The parent's servers are asked directly for the delegation; the probe resolvers are
//! asked for the canary `_zonehop.<domain> TXT` only. The checker never asks a resolver
//! for the domain's NS set: unbound would then follow the child's NS TTL, and knot-resolver
//! would keep re-caching the old servers' own NS set (measured), so the checker itself
//! would hold resolvers on the old side.

use crate::ports::clock::{Clock, SystemClock};
use crate::ports::dns::lookup::address_of;
use crate::ports::dns::lookup::parent_zone;
use crate::settings::Settings;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use zonehop_core::request::ProbeConfig;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::dns::lookup::{parse_resolver, resolver_for};
use crate::ports::dns::DnsClient;
use crate::ports::hosted_zones::{read_zone, HostedZones};
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::canary::CANARY_LABEL;
use zonehop_core::name::Name;
use zonehop_core::propagation::{judge, Evidence, LoopState, Pacing};
use zonehop_core::request::{parse_domain, ZoneRef};
use zonehop_core::zone::{bare_zone_id, RrType};

/// check-propagation's input: the request's fields, and the previous round's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    pub probe: ProbeConfig,
    /// The resolver that finds the parent zone and its servers' addresses (else
    /// `ZONEHOP_RESOLVER`).
    #[serde(default)]
    pub resolver: Option<String>,
    #[serde(default)]
    pub pacing: Option<Pacing>,
    /// What the previous round returned as `state` (absent on the first round).
    #[serde(default)]
    pub state: Option<RoundState>,
}

/// The loop state plus when each probe resolver was first seen on the new side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundState {
    #[serde(flatten)]
    pub judge: LoopState,
    #[serde(default)]
    pub resolver_moved_at: BTreeMap<String, i64>,
}

/// One probe resolver's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolverView {
    pub resolver: String,
    /// `new`, `old`, or what went wrong.
    pub side: String,
    pub moved_at: Option<i64>,
}

/// check-propagation's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationOutput {
    pub safe: bool,
    /// Seconds since the epoch (the state machine's Wait uses `nextWaitSeconds`).
    pub safe_at: Option<i64>,
    pub parent_switch_seen_at: Option<i64>,
    pub checked_at: i64,
    pub next_wait_seconds: i64,
    pub parent_on_new: usize,
    pub parent_total: usize,
    pub resolvers_on_new: usize,
    pub resolvers_total: usize,
    pub resolvers: Vec<ResolverView>,
    pub state: RoundState,
}

/// A round's metrics as one line of CloudWatch's embedded metric format (dimension `Domain`).
pub fn metrics_line(
    namespace: &str,
    domain: &Name,
    now: i64,
    parent_on_new: usize,
    resolvers_on_new: usize,
    safe_at: Option<i64>,
) -> String {
    serde_json::json!({
        "_aws": {"Timestamp": now * 1000, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Domain"]],
            "Metrics": [{"Name": "ParentServersOnNew"}, {"Name": "ResolversOnNew"}, {"Name": "SecondsToSafe"}]}]},
        "Domain": domain.as_str().trim_end_matches('.'),
        "ParentServersOnNew": parent_on_new,
        "ResolversOnNew": resolvers_on_new,
        "SecondsToSafe": safe_at.map_or(-1, |at| (at - now).max(0)),
    })
    .to_string()
}

/// One round: evidence, verdict, next wait.
pub async fn check_propagation<S: HostedZones, T: HostedZones, D: DnsClient>(
    source: &S,
    target: &T,
    dns: &D,
    request: &PropagationRequest,
    settings: &Settings,
) -> Result<PropagationOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;
    let probes = request
        .probe
        .resolvers
        .iter()
        .map(|r| parse_resolver(r).map(|addr| (r.clone(), addr)))
        .collect::<Result<Vec<_>, _>>()?;
    if probes.is_empty() {
        return Err(Error::InvalidRequest(
            "probe.resolvers is empty: give at least one resolver".into(),
        ));
    }
    let pacing = request.pacing.unwrap_or_default();
    pacing.validate()?;

    // The TTLs of the old side, from the API.
    let target_zone = target.get_zone(&target_id).await?;
    let old = read_zone(source, &source_id).await?;
    let old_ns_ttl = old
        .iter()
        .filter(|r| r.name == domain && r.rtype == RrType::NS)
        .filter_map(|r| r.ttl)
        .max()
        .unwrap_or(0);
    let largest_record_ttl = old.iter().filter_map(|r| r.ttl).max().unwrap_or(0);
    let mut new_servers: Vec<String> = target_zone
        .name_servers
        .iter()
        .filter_map(|s| Name::parse(s).ok())
        .map(|n| n.to_string())
        .collect();
    new_servers.sort();

    // The parent's servers, asked directly for the delegation.
    let (_, parent_servers) = parent_zone(dns, resolver, &domain).await?;
    let mut parent_total = 0;
    let mut parent_on_new = 0;
    let mut parent_ns_ttl = 0i64;
    for server in &parent_servers {
        for ip in address_of(dns, resolver, server).await? {
            parent_total += 1;
            let addr = SocketAddr::new(ip, settings.dns_port);
            // A parent server that does not answer counts as not (yet) on the new set.
            let Ok(answer) = dns.query(addr, &domain, RrType::NS, false).await else {
                continue;
            };
            let referral: Vec<_> = answer
                .authorities
                .iter()
                .chain(answer.answers.iter())
                .filter(|r| r.name == domain && r.rtype == "NS")
                .collect();
            let mut names: Vec<String> = referral
                .iter()
                .filter_map(|r| Name::parse(&r.data).ok())
                .map(|n| n.to_string())
                .collect();
            names.sort();
            names.dedup();
            parent_ns_ttl =
                parent_ns_ttl.max(referral.iter().map(|r| i64::from(r.ttl)).max().unwrap_or(0));
            if names == new_servers {
                parent_on_new += 1;
            }
        }
    }

    // The canary, through every probe resolver.
    let canary = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    let now = SystemClock.now_epoch();
    let mut state = request.state.clone().unwrap_or_default();
    let mut views = Vec::new();
    for (label, addr) in &probes {
        let side = match dns.query(*addr, &canary, RrType::TXT, true).await {
            Ok(answer) => {
                let texts: Vec<String> = answer
                    .rrset(&canary, "TXT")
                    .into_iter()
                    .map(|r| r.data)
                    .collect();
                if texts.iter().any(|t| t.contains("side=new")) {
                    "new".to_owned()
                } else if texts.iter().any(|t| t.contains("side=old")) {
                    "old".to_owned()
                } else {
                    format!("{} without a canary", answer.rcode)
                }
            }
            Err(e) => format!("no answer: {e}"),
        };
        if side == "new" {
            state.resolver_moved_at.entry(label.clone()).or_insert(now);
        } else {
            // Back on the old side (a cache that flapped): not moved after all.
            state.resolver_moved_at.remove(label);
        }
        views.push(ResolverView {
            resolver: label.clone(),
            moved_at: state.resolver_moved_at.get(label).copied(),
            side,
        });
    }
    let resolvers_on_new = views.iter().filter(|v| v.side == "new").count();

    let evidence = Evidence {
        now,
        parent_on_new,
        parent_total,
        parent_ns_ttl,
        old_ns_ttl,
        largest_record_ttl,
        resolvers_on_new,
        resolvers_total: views.len(),
    };
    let verdict = judge(&state.judge, &evidence, pacing);
    state.judge = verdict.state.clone();
    // One line in CloudWatch's embedded metric format: the dashboard's propagation graph.
    println!(
        "{}",
        metrics_line(
            &settings.metric_namespace,
            &domain,
            now,
            parent_on_new,
            resolvers_on_new,
            verdict.safe_at
        )
    );
    Ok(PropagationOutput {
        safe: verdict.safe,
        safe_at: verdict.safe_at,
        parent_switch_seen_at: state.judge.parent_switch_seen_at,
        checked_at: now,
        next_wait_seconds: verdict.next_wait_seconds,
        parent_on_new,
        parent_total,
        resolvers_on_new,
        resolvers_total: views.len(),
        resolvers: views,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_logs_its_metrics_in_the_embedded_metric_format() {
        let domain = Name::parse("example.com").expect("name");
        let line: serde_json::Value = serde_json::from_str(&metrics_line(
            "zonehop-test",
            &domain,
            1_000,
            3,
            2,
            Some(1_090),
        ))
        .expect("one JSON object");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "zonehop-test");
        assert_eq!(line["_aws"]["Timestamp"], 1_000_000);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Domain"]]));
        assert_eq!(line["Domain"], "example.com");
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(line[name].is_number(), "{name} has no value");
        }
        assert_eq!(line["ParentServersOnNew"], 3);
        assert_eq!(line["SecondsToSafe"], 90);
        let unknown: serde_json::Value =
            serde_json::from_str(&metrics_line("z", &domain, 1_000, 0, 0, None)).expect("json");
        assert_eq!(unknown["SecondsToSafe"], -1);
    }
}
