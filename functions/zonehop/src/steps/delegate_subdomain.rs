//! DESIGN step 3: split a subdomain that stays behind into its own zone in the source
//! account, without a moment in which it stops resolving.
//!
//! The child zone is created and filled first, and its servers are asked over DNS until
//! each answers every moved RRset exactly as the parent's servers do. Only then does ONE
//! atomic change on the parent delete the moved records and create the delegation, so a
//! resolver sees either the parent's own answer or a referral to a child that already
//! answers the same (invariant 2). The output carries the exact reverse change.

use std::time::{Duration, Instant};
use zonehop_core::delegation::same_servers;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::dns::compare::compare_until_settled;
use crate::ports::dns::lookup::{resolver_for, server_addresses};
use crate::ports::dns::DnsClient;
use crate::ports::hosted_zones::{
    apply_batches, change_and_wait, check_is_public_zone_of, left_by_an_earlier_execution,
    read_zone, HostedZone, HostedZones,
};
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use zonehop_core::answers::Question;
use zonehop_core::batch::{BatchLimits, Cost};
use zonehop_core::change::{Action, Change};
use zonehop_core::name::Name;
use zonehop_core::plan::{plan_sync, BlockReason, Blocker, HealthCheckPolicy, PlanInput};
use zonehop_core::request::{parse_domain, ZoneRef};
use zonehop_core::zone::{bare_zone_id, RecordSet, RrType, Zone};

/// delegate-subdomain's input (one element of the Map over `keepInSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelegateRequest {
    pub domain: String,
    pub source: ZoneRef,
    /// The subdomain that stays in the source account, e.g. `dev.example.com`.
    pub subdomain: String,
    /// Makes the child zone's CallerReference unique to this migration.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// TTL of the NS delegation created in the parent (seconds).
    #[serde(default = "default_delegation_ttl")]
    pub delegation_ttl: i64,
    /// The resolver that finds the servers' addresses (else `ZONEHOP_RESOLVER`).
    #[serde(default)]
    pub resolver: Option<String>,
}

fn default_delegation_ttl() -> i64 {
    300
}

/// delegate-subdomain's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegateOutput {
    pub subdomain: String,
    pub child_zone_id: String,
    pub name_servers: Vec<String>,
    /// Record sets that now live in the child zone.
    pub moved_records: usize,
    /// True when an earlier run had already made the cut.
    pub already_delegated: bool,
    /// Applied to the parent zone as one change, this undoes the cut exactly.
    pub reverse_change: Vec<Change>,
}

/// The child zone's CallerReference: stable for a subdomain and execution.
pub fn child_caller_reference(subdomain: &Name, execution_id: Option<&str>) -> String {
    let mut hash = Sha256::new();
    hash.update(b"child\n");
    hash.update(subdomain.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(execution_id.unwrap_or("").as_bytes());
    let hex: String = hash
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("zonehop-child-{hex}")
}

/// The records the parent holds for the subtree, the delegation at the cut excluded.
pub fn subtree(parent: &Zone, cut: &Name) -> Vec<RecordSet> {
    parent
        .iter()
        .filter(|r| r.name.is_at_or_below(cut))
        .filter(|r| !(r.name == *cut && matches!(r.rtype, RrType::NS | RrType::DS)))
        .cloned()
        .collect()
}

/// Same-zone aliases that the cut would leave pointing into another zone, either way.
pub fn aliases_across_the_cut(parent: &Zone, parent_id: &str, cut: &Name) -> Vec<Blocker> {
    parent
        .iter()
        .filter_map(|r| {
            let alias = r.alias_target.as_ref()?;
            if bare_zone_id(&alias.hosted_zone_id) != parent_id {
                return None;
            }
            let inside = r.name.is_at_or_below(cut);
            let target_inside = alias.dns_name.is_at_or_below(cut);
            (inside != target_inside).then(|| Blocker {
                reason: BlockReason::AliasCrossesZoneCut,
                record: r.key().to_string(),
                detail: format!(
                    "aliases {} across the new cut at {cut}: replace the alias with the target's records before splitting",
                    alias.dns_name
                ),
            })
        })
        .collect()
}

/// The one change that makes the cut: delete the moved records, create the delegation.
pub fn cut_change(
    moved: &[RecordSet],
    cut: &Name,
    name_servers: &[String],
    ttl: i64,
) -> Vec<Change> {
    let mut servers: Vec<String> = name_servers
        .iter()
        .map(|s| Name::parse(s).map_or_else(|_| s.clone(), |n| n.to_string()))
        .collect();
    servers.sort();
    let values: Vec<&str> = servers.iter().map(String::as_str).collect();
    // Delete aliases first: within one change Route 53 applies them in order.
    let mut ordered: Vec<&RecordSet> = moved.iter().collect();
    ordered.sort_by_key(|r| r.alias_target.is_none());
    ordered
        .into_iter()
        .map(|r| Change {
            action: Action::Delete,
            record: r.clone(),
        })
        .chain(std::iter::once(Change {
            action: Action::Create,
            record: RecordSet::simple(cut.clone(), RrType::NS, ttl, &values),
        }))
        .collect()
}

/// The change that undoes `cut`: delete the delegation, create the moved records again.
pub fn reverse_of(cut: &[Change]) -> Vec<Change> {
    let mut reverse: Vec<Change> = cut
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| Change {
            action: Action::Delete,
            record: c.record.clone(),
        })
        .collect();
    // Alias targets before aliases when they come back.
    let mut creates: Vec<Change> = cut
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| Change {
            action: Action::Create,
            record: c.record.clone(),
        })
        .collect();
    creates.sort_by_key(|c| c.record.alias_target.is_some());
    reverse.extend(creates);
    reverse
}

fn rezone_aliases(records: &[RecordSet], from: &str, to: &str) -> Vec<RecordSet> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(alias) = &mut r.alias_target {
                if bare_zone_id(&alias.hosted_zone_id) == from {
                    alias.hosted_zone_id = to.to_owned();
                }
            }
            r
        })
        .collect()
}

/// Runs the whole step for one subdomain: check, create and fill the child zone, prove over
/// DNS that it answers like the parent, then make the cut.
pub async fn delegate_subdomain<R: HostedZones, D: DnsClient, C: Clock>(
    r53: &R,
    dns: &D,
    clock: &C,
    request: &DelegateRequest,
    settings: &Settings,
) -> Result<DelegateOutput, Error> {
    let stats = RetryStats::default();
    let r53 = &Retrying::new(r53, settings.retry, &stats);
    let (domain, cut, parent_id) = checked(request)?;
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;

    let parent_zone = r53.get_zone(&parent_id).await?;
    check_is_public_zone_of(&parent_zone, &domain)?;
    let parent = read_zone(r53, &parent_id).await?;
    let blockers = aliases_across_the_cut(&parent, &parent_id, &cut);
    if !blockers.is_empty() {
        return Err(Error::MigrationBlocked { blockers });
    }
    let moved = subtree(&parent, &cut);

    let child = find_or_create_child(r53, &cut, request.execution_id.as_deref()).await?;
    let delegation = parent
        .iter()
        .find(|r| r.name == cut && r.rtype == RrType::NS)
        .cloned();

    if let Some(existing) = &delegation {
        if !same_servers(existing.values(), &child.name_servers) {
            return Err(Error::InvalidRequest(format!(
                "{cut} is already delegated to other servers ({}): it is already its own zone; leave it out of keepInSource",
                existing.values().collect::<Vec<_>>().join(", ")
            )));
        }
        if moved.is_empty() {
            // An earlier run made the cut: report it again, from the child's contents.
            return already_cut(r53, request, &cut, &child, &parent_id, existing).await;
        }
    }

    fill_child(r53, clock, &moved, &cut, &child, &parent_id, settings).await?;
    prove_child_answers(dns, resolver, &parent_zone, &child, &cut, &moved, settings).await?;
    make_the_cut(
        r53,
        clock,
        request,
        &cut,
        &child,
        &parent_id,
        &moved,
        delegation.as_ref(),
        settings,
    )
    .await
}

/// The request's domain, subdomain and parent zone id, each checked.
fn checked(request: &DelegateRequest) -> Result<(Name, Name, String), Error> {
    let domain = parse_domain(&request.domain)?;
    let cut = Name::parse(&request.subdomain)
        .map_err(|e| Error::InvalidRequest(format!("subdomain `{}`: {e}", request.subdomain)))?;
    if !cut.is_below(&domain) {
        return Err(Error::InvalidRequest(format!(
            "subdomain `{cut}` is not below {domain}"
        )));
    }
    zonehop_core::request::validate_ns_ttl("delegationTtl", request.delegation_ttl)?;
    request.source.access.validate("source")?;
    let parent_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    Ok((domain, cut, parent_id))
}

/// The output of a re-run after the cut was made: read back from the child's contents.
async fn already_cut<R: HostedZones>(
    r53: &R,
    request: &DelegateRequest,
    cut: &Name,
    child: &HostedZone,
    parent_id: &str,
    existing: &RecordSet,
) -> Result<DelegateOutput, Error> {
    let in_child = read_zone(r53, &child.id).await?;
    let records: Vec<RecordSet> = in_child
        .iter()
        .filter(|r| !zonehop_core::plan::is_apex_soa_or_ns(r, cut))
        .cloned()
        .collect();
    let records = rezone_aliases(&records, &child.id, parent_id);
    let cut_change = cut_change(
        &records,
        cut,
        &child.name_servers,
        existing.ttl.unwrap_or(request.delegation_ttl),
    );
    Ok(DelegateOutput {
        subdomain: cut.to_string(),
        child_zone_id: child.id.clone(),
        name_servers: child.name_servers.clone(),
        moved_records: records.len(),
        already_delegated: true,
        reverse_change: reverse_of(&cut_change),
    })
}

/// Fills the child: the subtree, with same-zone aliases naming the child; then checks that
/// nothing is left to change.
async fn fill_child<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    moved: &[RecordSet],
    cut: &Name,
    child: &HostedZone,
    parent_id: &str,
    settings: &Settings,
) -> Result<(), Error> {
    let wanted: Zone = rezone_aliases(moved, parent_id, &child.id)
        .into_iter()
        .collect();
    let in_child = read_zone(r53, &child.id).await?;
    let input = PlanInput {
        apex: cut,
        source_zone_id: &child.id,
        target_zone_id: &child.id,
        keep_in_source: &[],
        health_checks: HealthCheckPolicy::Block,
        extra_records: &[],
        limits: settings.limits,
    };
    let plan = plan_sync(&input, &wanted, &in_child);
    if !plan.blockers.is_empty() {
        return Err(Error::MigrationBlocked {
            blockers: plan.blockers,
        });
    }
    let batches = plan.batches(settings.limits);
    apply_batches(r53, clock, &child.id, cut, &batches, settings).await?;
    let after = read_zone(r53, &child.id).await?;
    let left = plan_sync(&input, &wanted, &after);
    if !left.is_empty() {
        return Err(Error::TargetDiverged {
            zone_id: child.id.clone(),
            differences: left
                .changes()
                .map(|c| format!("{:?} {}", c.action, c.record.key()))
                .collect(),
        });
    }
    Ok(())
}

/// Proves over DNS that every child server answers every moved RRset like the parent.
async fn prove_child_answers<D: DnsClient>(
    dns: &D,
    resolver: std::net::SocketAddr,
    parent_zone: &HostedZone,
    child: &HostedZone,
    cut: &Name,
    moved: &[RecordSet],
    settings: &Settings,
) -> Result<(), Error> {
    let parent_servers =
        server_addresses(dns, resolver, parent_zone, "parent", settings.dns_port).await?;
    let child_servers = wait_until_serving(dns, resolver, child, cut, settings).await?;
    let mut questions: Vec<Question> = moved
        .iter()
        .filter(|r| !r.has_routing_policy())
        .map(|r| Question::exact(r.name.clone(), r.rtype, r.rtype == RrType::NS))
        .collect();
    questions.sort();
    questions.dedup();
    // As verify-zones: a server may answer from before the last change for a moment (the
    // child was filled just now); only a difference that persists counts.
    let differences = compare_until_settled(
        dns,
        &parent_servers,
        &child_servers,
        &questions,
        32,
        settings.verify_settle,
        None,
    )
    .await
    .differences;
    if differences.is_empty() {
        Ok(())
    } else {
        Err(Error::ZonesDiffer { differences })
    }
}

/// The cut: one atomic change on the parent deletes the moved records and creates the
/// delegation (invariant 2).
#[allow(clippy::too_many_arguments)]
async fn make_the_cut<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    request: &DelegateRequest,
    cut: &Name,
    child: &HostedZone,
    parent_id: &str,
    moved: &[RecordSet],
    delegation: Option<&RecordSet>,
    settings: &Settings,
) -> Result<DelegateOutput, Error> {
    let change = cut_change(moved, cut, &child.name_servers, request.delegation_ttl);
    let change = match delegation {
        // A delegation already there (to this child) stays; only the moved records go.
        Some(_) => change
            .into_iter()
            .filter(|c| c.action == Action::Delete)
            .collect(),
        None => change,
    };
    if !Cost::of_batch(&change).fits(BatchLimits::ROUTE53) {
        return Err(Error::MigrationBlocked {
            blockers: vec![Blocker {
                reason: BlockReason::ChangeTooLarge,
                record: cut.to_string(),
                detail: "the subtree is too large to move in one atomic change (1,000 values, 32,000 characters): split it into smaller subdomains".into(),
            }],
        });
    }
    let comment = format!("zonehop: delegate {cut} to its own zone {}", child.id);
    change_and_wait(
        r53,
        clock,
        parent_id,
        &change,
        &comment,
        settings.in_sync_timeout,
    )
    .await?;

    let full_cut = cut_change(
        moved,
        cut,
        &child.name_servers,
        delegation
            .and_then(|d| d.ttl)
            .unwrap_or(request.delegation_ttl),
    );
    Ok(DelegateOutput {
        subdomain: cut.to_string(),
        child_zone_id: child.id.clone(),
        name_servers: child.name_servers.clone(),
        moved_records: moved.len(),
        already_delegated: false,
        reverse_change: reverse_of(&full_cut),
    })
}

async fn find_or_create_child<R: HostedZones>(
    r53: &R,
    cut: &Name,
    execution_id: Option<&str>,
) -> Result<HostedZone, Error> {
    // `r53` is the step's own `Retrying` port: wrapping it again would multiply the
    // attempts (8 x 8 under persistent throttling).
    let reference = child_caller_reference(cut, execution_id);
    let existing = r53.zones_named(cut).await?;
    if let Some(ours) = existing.iter().find(|z| z.caller_reference == reference) {
        return r53.get_zone(&ours.id).await;
    }
    if let Some(earlier) =
        left_by_an_earlier_execution(&existing, |r| r.starts_with("zonehop-child-"))
    {
        // A child zone an execution that failed before the cut created: filled again below.
        return r53.get_zone(&earlier.id).await;
    }
    let others: Vec<String> = existing
        .iter()
        .filter(|z| !z.private)
        .map(|z| z.id.clone())
        .collect();
    if !others.is_empty() {
        return Err(Error::ZoneAlreadyExists {
            domain: cut.to_string(),
            existing: others,
        });
    }
    let comment = format!("zonehop: {cut}, kept in this account");
    match r53.create_zone(cut, &reference, &comment).await {
        Ok(zone) => Ok(zone),
        Err(Error::Aws { code, .. }) if code == "HostedZoneAlreadyExists" => {
            let again = r53.zones_named(cut).await?;
            let ours = again
                .into_iter()
                .find(|z| z.caller_reference == reference)
                .ok_or_else(|| Error::ZoneAlreadyExists {
                    domain: cut.to_string(),
                    existing: Vec::new(),
                })?;
            r53.get_zone(&ours.id).await
        }
        Err(other) => Err(other),
    }
}

/// Waits until the child's server names resolve and every server answers the child's SOA
/// authoritatively (a zone just created may take a moment to be served), and returns them.
async fn wait_until_serving<D: DnsClient>(
    dns: &D,
    resolver: std::net::SocketAddr,
    child: &HostedZone,
    apex: &Name,
    settings: &Settings,
) -> Result<Vec<crate::ports::dns::compare::Server>, Error> {
    let started = Instant::now();
    let pause = Duration::from_millis(250);
    let servers = loop {
        match server_addresses(dns, resolver, child, "child", settings.dns_port).await {
            Ok(servers) => break servers,
            Err(error) if started.elapsed() + pause < settings.serving_timeout => {
                tracing::info!(%error, "child name servers do not resolve yet");
                tokio::time::sleep(pause).await;
            }
            Err(error) => return Err(error),
        }
    };
    for server in &servers {
        loop {
            match dns.query(server.addr, apex, RrType::SOA, false).await {
                Ok(answer) if answer.authoritative && answer.rcode == "NOERROR" => break,
                outcome => {
                    if started.elapsed() > settings.serving_timeout {
                        return Err(Error::DnsLookupFailed {
                            name: apex.to_string(),
                            message: format!(
                                "{} does not serve the child zone after {} s: {outcome:?}",
                                server.label,
                                settings.serving_timeout.as_secs()
                            ),
                        });
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop_core::zone::AliasTarget;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    fn alias(name: &str, target: &str) -> RecordSet {
        RecordSet::alias(
            n(name),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "ZPARENT".into(),
                dns_name: n(target),
                evaluate_target_health: false,
            },
        )
    }

    #[test]
    fn aliases_that_would_cross_the_cut_are_found_in_both_directions() {
        let parent = Zone::new([
            RecordSet::simple(n("www.example.com"), RrType::A, 60, &["192.0.2.1"]),
            RecordSet::simple(n("api.dev.example.com"), RrType::A, 60, &["192.0.2.2"]),
            alias("in.dev.example.com", "www.example.com"),
            alias("out.example.com", "api.dev.example.com"),
            alias("ok.dev.example.com", "api.dev.example.com"),
        ]);
        let found: Vec<String> = aliases_across_the_cut(&parent, "ZPARENT", &n("dev.example.com"))
            .into_iter()
            .map(|b| b.record)
            .collect();
        assert_eq!(found, ["in.dev.example.com. A", "out.example.com. A"]);
    }

    #[test]
    fn the_cut_is_one_change_and_its_reverse_restores_the_parent_exactly() {
        let moved = vec![
            RecordSet::simple(n("dev.example.com"), RrType::A, 60, &["192.0.2.5"]),
            alias("web.dev.example.com", "dev.example.com"),
        ];
        let cut = cut_change(
            &moved,
            &n("dev.example.com"),
            &["ns2.child.test".into(), "ns1.child.test".into()],
            300,
        );
        assert_eq!(cut.len(), 3);
        assert_eq!(cut[0].action, Action::Delete);
        assert!(cut[0].record.alias_target.is_some(), "aliases go first");
        let delegation = &cut[2];
        assert_eq!(delegation.action, Action::Create);
        assert_eq!(
            delegation.record.values().collect::<Vec<_>>(),
            ["ns1.child.test.", "ns2.child.test."]
        );

        let reverse = reverse_of(&cut);
        assert_eq!(reverse[0].action, Action::Delete);
        assert_eq!(reverse[0].record, delegation.record);
        let recreated: Vec<&RecordSet> = reverse[1..].iter().map(|c| &c.record).collect();
        assert_eq!(recreated, [&moved[0], &moved[1]], "targets before aliases");
        assert!(reverse[1..].iter().all(|c| c.action == Action::Create));
    }

    #[test]
    fn the_subtree_excludes_the_delegation_at_the_cut() {
        let parent = Zone::new([
            RecordSet::simple(n("dev.example.com"), RrType::NS, 300, &["ns1.child.test."]),
            RecordSet::simple(n("dev.example.com"), RrType::A, 60, &["192.0.2.5"]),
            RecordSet::simple(n("a.dev.example.com"), RrType::A, 60, &["192.0.2.6"]),
            RecordSet::simple(n("www.example.com"), RrType::A, 60, &["192.0.2.1"]),
        ]);
        let keys: Vec<String> = subtree(&parent, &n("dev.example.com"))
            .iter()
            .map(|r| r.key().to_string())
            .collect();
        assert_eq!(keys, ["a.dev.example.com. A", "dev.example.com. A"]);
    }
}
