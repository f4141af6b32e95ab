//! zonehop's local world for tests and benchmarks: moto server over HTTP, the accounts
//! the tests act in, and deterministic generated zones.

pub mod counting;
pub mod deployment;
pub mod dnsworld;
pub mod faults;
pub mod fleet;
pub mod http;
pub mod keepalive;
pub mod lambda;
pub mod logs;
pub mod moto;
pub mod observability;
pub mod prober;
pub mod registrar;
pub mod rehearsal;
pub mod stepfunctions;
pub mod zonegen;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_route53::config::Credentials;
use zonehop::core::request::AccountAccess;

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// The role the tests use in the source account (moto keeps each account apart).
pub fn source_access() -> AccountAccess {
    AccountAccess {
        role_arn: Some("arn:aws:iam::111111111111:role/zonehop".to_owned()),
        external_id: Some("zonehop-test".to_owned()),
    }
}

/// The role the tests use in the target account.
pub fn target_access() -> AccountAccess {
    AccountAccess {
        role_arn: Some("arn:aws:iam::222222222222:role/zonehop".to_owned()),
        external_id: Some("zonehop-test".to_owned()),
    }
}

/// A base SDK configuration that talks to the emulator at `endpoint` only.
pub async fn base_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "AKIAZONEHOPTEST00000",
            "zonehop-test-secret",
            None,
            None,
            "tests",
        ))
        .load()
        .await
}

/// A Route 53 adapter acting in the account of `access`, against the emulator.
pub async fn route53_in(
    base: &SdkConfig,
    access: &AccountAccess,
) -> zonehop::adapters::route53::Route53 {
    let config = zonehop::adapters::accounts::config_with_role(base, access, "zonehop-tests").await;
    zonehop::adapters::route53::Route53::new(zonehop::adapters::accounts::route53_client(&config))
}

/// Creates a zone for `domain` in the account of `access` and fills it with `records`
/// through plain ChangeResourceRecordSets calls (independent of the sync under test).
/// Returns the zone's id.
pub async fn seed_zone(
    base: &SdkConfig,
    access: &AccountAccess,
    domain: &zonehop::Name,
    records: &[zonehop::core::zone::RecordSet],
) -> String {
    try_seed_zone(base, access, domain, records)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`seed_zone`] that says what failed instead of panicking (a rehearsal reports it).
pub async fn try_seed_zone(
    base: &SdkConfig,
    access: &AccountAccess,
    domain: &zonehop::Name,
    records: &[zonehop::core::zone::RecordSet],
) -> Result<String, String> {
    use aws_sdk_route53::error::DisplayErrorContext;
    let config = zonehop::adapters::accounts::config_with_role(base, access, "zonehop-tests").await;
    let client = zonehop::adapters::accounts::route53_client(&config);
    let created = client
        .create_hosted_zone()
        .name(domain.as_str())
        .caller_reference(format!("seed-{}-{}", domain, std::process::id()))
        .send()
        .await
        .map_err(|e| format!("create the zone {domain}: {}", DisplayErrorContext(&e)))?;
    let zone_id = zonehop::core::zone::bare_zone_id(
        created
            .hosted_zone()
            .ok_or_else(|| format!("create the zone {domain}: no zone in the reply"))?
            .id(),
    )
    .to_owned();
    // Plain targets first, then aliases by chain depth, 100 record sets a call.
    let mut pending: Vec<&zonehop::core::zone::RecordSet> = records.iter().collect();
    let mut written: std::collections::BTreeSet<(zonehop::Name, zonehop::core::zone::RrType)> =
        std::collections::BTreeSet::new();
    while !pending.is_empty() {
        let (ready, later): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|r| match &r.alias_target {
                Some(a)
                    if zonehop::core::zone::bare_zone_id(&a.hosted_zone_id) == zone_id
                        || a.hosted_zone_id == "SOURCE" =>
                {
                    written.contains(&(a.dns_name.clone(), r.rtype))
                }
                _ => true,
            });
        if ready.is_empty() {
            let stuck: Vec<String> = later.iter().take(5).map(|r| r.key().to_string()).collect();
            return Err(format!(
                "the records of {domain} have an alias loop or an alias to a missing record: {}",
                stuck.join(", ")
            ));
        }
        for chunk in ready.chunks(100) {
            let changes = chunk
                .iter()
                .map(|r| {
                    let mut r = (*r).clone();
                    if let Some(a) = &mut r.alias_target {
                        if a.hosted_zone_id == "SOURCE" {
                            a.hosted_zone_id = zone_id.clone();
                        }
                    }
                    let set = zonehop::adapters::route53::record_to_sdk(&r)
                        .map_err(|e| format!("{}: {e}", r.key()))?;
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Create)
                        .resource_record_set(set)
                        .build()
                        .map_err(|e| format!("{}: {e}", r.key()))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let batch = aws_sdk_route53::types::ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .map_err(|e| format!("a change batch for {domain}: {e}"))?;
            client
                .change_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .change_batch(batch)
                .send()
                .await
                .map_err(|e| {
                    format!("load the records of {domain}: {}", DisplayErrorContext(&e))
                })?;
        }
        for r in &ready {
            written.insert((r.name.clone(), r.rtype));
        }
        pending = later;
    }
    Ok(zone_id)
}

/// The sync-records request the tests use: `domain` from the source account's zone into the
/// target account's zone, which zonehop created (not adopted), everything else by default.
pub fn sync_request(
    domain: &str,
    source_id: &str,
    target_id: &str,
) -> zonehop::steps::sync_records::SyncRequest {
    use zonehop::core::request::ZoneRef;
    zonehop::steps::sync_records::SyncRequest {
        execution_id: None,
        domain: domain.to_owned(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.to_owned()),
            access: source_access(),
        },
        target: zonehop::steps::sync_records::SyncTarget {
            zone: ZoneRef {
                hosted_zone_id: Some(target_id.to_owned()),
                access: target_access(),
            },
            adopted: false,
        },
        keep_in_source: Vec::new(),
        health_checks: Default::default(),
        max_overwrites: 0,
        extra_records: Vec::new(),
        dry_run: false,
    }
}

/// A zone's records ready for [`seed_zone`]: the apex SOA and NS left to the new zone, and
/// same-zone aliases (those into the domain) marked `SOURCE`, which `seed_zone` replaces by
/// the new zone's id. Exports name the exporter's zone.
pub fn records_to_seed(
    zone: &zonehop::core::zone::Zone,
    domain: &zonehop::Name,
) -> Vec<zonehop::core::zone::RecordSet> {
    zone.iter()
        .filter(|r| !zonehop::core::plan::is_apex_soa_or_ns(r, domain))
        .map(|r| {
            let mut r = r.clone();
            if let Some(alias) = &mut r.alias_target {
                if alias.dns_name.is_at_or_below(domain) {
                    alias.hosted_zone_id = "SOURCE".into();
                }
            }
            r
        })
        .collect()
}
