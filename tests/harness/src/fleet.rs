//! A fleet rehearsal (`make rehearse-fleet`): many domains migrated in one execution of
//! `statemachine/fleet.asl.json`, whose Distributed Map runs `statemachine/migration.asl.json`
//! for each domain as a child execution, on moto's interpreter with the real function binaries
//! and one DNS world serving every zone. Every domain's source zone lives in one source
//! account and every target zone lands in one target account (an account consolidation: the
//! hard case for Route 53's per-account rate).
//!
//! The functions reach moto through the fault proxy, which puts every Route 53 call to the
//! account that signed it and, when asked, refuses what exceeds Route 53's per-account rate
//! with `Throttling`, as Route 53 does (`faults::rate`). The report: per domain its status
//! (rolled back or not), error, window and cost from its own execution's history; totals; the
//! calls per second to each account, peak and mean, against the budget; the wall time
//! against the sum of the domains' own execution times.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zonehop::core::export::load_export;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::Name;

use crate::dnsworld::Registry;
use crate::faults::proxy::{FaultProxy, ProxyPlan};
use crate::faults::rate::{rates, RateLimit};
use crate::registrar::{registrar_access, try_register, try_set_name_servers};
use crate::rehearsal::{
    example_zone_file, migration_machine, scale_apex, scaled, scaled_world,
    try_functions_started_behind, SetupError,
};
use crate::stepfunctions::{LocalStepFunctions, ACCOUNT, REGION};
use crate::{records_to_seed, repo_root, route53_in, source_access, target_access, try_seed_zone};

/// The fleet state machine: the one deployed.
pub fn fleet_state_machine_file() -> std::path::PathBuf {
    repo_root().join("statemachine/fleet.asl.json")
}

/// The source and target accounts every domain of a fleet rehearsal shares.
pub const SOURCE_ACCOUNT: &str = "111111111111";
pub const TARGET_ACCOUNT: &str = "222222222222";

/// One domain of a fleet.
#[derive(Debug, Clone)]
pub struct FleetDomain {
    pub domain: Name,
    /// The zone's record sets (no apex SOA/NS).
    pub records: Vec<RecordSet>,
    /// Subdomains that stay in the source account.
    pub keep: Vec<String>,
    /// What kind of zone it is, for the report.
    pub shape: String,
    /// The rehearsal makes this domain's request one that preflight refuses (a kept
    /// subdomain outside the domain): a failure that must stop no other domain.
    pub refused: bool,
}

fn rr(name: String, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(
        Name::parse(&name).expect("generated names are valid"),
        rtype,
        ttl,
        values,
    )
}

/// A zone of `size` record sets: A, AAAA, CNAME, TXT and MX in turn, names under `domain`.
fn plain_zone(domain: &Name, size: usize) -> Vec<RecordSet> {
    let d = domain.as_str().trim_end_matches('.');
    (0..size)
        .map(|i| match i % 5 {
            0 => rr(
                format!("h{i}.{d}"),
                RrType::A,
                300,
                &[&format!("198.51.{}.{}", i / 250, i % 250 + 1)],
            ),
            1 => rr(
                format!("h{i}.{d}"),
                RrType::AAAA,
                300,
                &[&format!("2001:db8::{i:x}")],
            ),
            2 => rr(
                format!("www{i}.{d}"),
                RrType::CNAME,
                300,
                &[&format!("h{}.{d}.", i - 2)],
            ),
            3 => rr(
                format!("t{i}.{d}"),
                RrType::TXT,
                300,
                &[&crate::zonegen::long_txt(i, 40 + i % 200)],
            ),
            _ => rr(
                format!("m{i}.{d}"),
                RrType::MX,
                3600,
                &[&format!("10 mail{i}.{d}.")],
            ),
        })
        .collect()
}

/// The bundled example zone (an alias, MX, SPF, CAA, `dev.` kept behind) renamed to `domain`.
fn example_zone(domain: &Name) -> Result<Vec<RecordSet>, String> {
    let path = example_zone_file();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.replace("example.com", domain.as_str().trim_end_matches('.'));
    let zone = load_export(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(records_to_seed(&zone, domain))
}

/// `n` generated domains of mixed sizes and shapes, the same for the same `n`: in turn the
/// example zone with a subdomain kept in the source account, plain zones of 10, 60 and 250
/// record sets, and every fifth under `.co.uk` (a two-label public suffix).
pub fn generated(n: usize) -> Vec<FleetDomain> {
    (0..n)
        .map(|i| {
            let suffix = if i % 5 == 4 { "co.uk" } else { "com" };
            let domain = Name::parse(&format!("fleet{i:03}.{suffix}")).expect("a valid name");
            let d = domain.as_str().trim_end_matches('.').to_owned();
            let (records, keep, shape) = match i % 4 {
                0 => (
                    example_zone(&domain).expect("the bundled example zone loads"),
                    vec![format!("dev.{d}")],
                    "example zone, dev. kept in the source".to_owned(),
                ),
                1 => (plain_zone(&domain, 10), vec![], "10 record sets".to_owned()),
                2 => (plain_zone(&domain, 60), vec![], "60 record sets".to_owned()),
                _ => (
                    plain_zone(&domain, 250),
                    vec![],
                    "250 record sets".to_owned(),
                ),
            };
            FleetDomain {
                domain,
                records,
                keep,
                shape,
                refused: false,
            }
        })
        .collect()
}

/// The zones of a directory: each `DOMAIN.json` is a list-resource-record-sets export of
/// DOMAIN. Sorted by domain.
pub fn from_dir(dir: &Path) -> Result<Vec<FleetDomain>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let scenario = crate::rehearsal::Scenario::from_export(&path, &stem, vec![])
            .map_err(|e| e.to_string())?;
        out.push(FleetDomain {
            shape: format!(
                "{} ({} record sets)",
                path.display(),
                scenario.records.len()
            ),
            domain: scenario.domain,
            records: scenario.records,
            keep: vec![],
            refused: false,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no DOMAIN.json export in this directory",
            dir.display()
        ));
    }
    out.sort_by(|a, b| a.domain.cmp(&b.domain));
    Ok(out)
}

/// How to run a fleet rehearsal.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Every TTL capped at this many seconds (as `make rehearse` does).
    pub ttl: u32,
    /// The fleet's `maxConcurrency` (None: the state machine's default).
    pub max_concurrency: Option<u32>,
    pub tolerated_failure_percentage: u32,
    /// Route 53's per-account rate, emulated by the proxy (None: moto's, unlimited).
    pub rate: Option<RateLimit>,
    /// The budget the report compares the peaks with (calls a second per account).
    pub budget_per_second: f64,
    /// The requests reach the fleet as an S3 object (ItemReader) instead of inline.
    pub via_s3: bool,
    /// Each target zone is made before the fleet starts (as an IaC pipeline would) and adopted
    /// by its request's `target.hostedZoneId`; false: create-zone makes it during the fleet.
    /// Why: the local DNS world serves a new zone's name servers only from its next read of
    /// moto, which with a hundred zones takes seconds, and verify-zones, asking the new
    /// servers moments after the zone was made, then cannot resolve their names
    /// (`DnsLookupFailed`); in AWS a new zone's servers are long-lived hosts that always
    /// resolve. Measured: 2 of the first 6 domains of N=50 failed so.
    pub targets_made_first: bool,
    /// The functions' own pace (`ZONEHOP_ROUTE53_CALLS_PER_SECOND`, which the caller puts in
    /// the environment `cargo lambda watch` inherits), for the report.
    pub pace: Option<f64>,
    pub timeout: Duration,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            ttl: 2,
            max_concurrency: None,
            tolerated_failure_percentage: 10,
            rate: Some(RateLimit {
                per_second: 5.0,
                burst: 5.0,
            }),
            budget_per_second: 5.0,
            via_s3: false,
            pace: None,
            targets_made_first: true,
            timeout: Duration::from_secs(3_600),
        }
    }
}

/// What the rehearsal prints as it goes.
pub trait Narrator {
    fn say(&mut self, line: &str);
}

impl<F: FnMut(&str)> Narrator for F {
    fn say(&mut self, line: &str) {
        self(line)
    }
}

/// Runs a fleet rehearsal: returns the fleet report (see the module's doc). `log` is where
/// `cargo lambda watch` and the functions log (moto's log beside it).
pub async fn rehearse_fleet(
    domains: &[FleetDomain],
    options: &FleetOptions,
    log: &Path,
    say: &mut dyn Narrator,
) -> Result<Value, SetupError> {
    let moto_port = crate::lambda::try_free_port().map_err(SetupError::LocalAws)?;
    let proxy = FaultProxy::start(moto_port, ProxyPlan::default())
        .await
        .map_err(|e| SetupError::LocalAws(e.to_string()))?;
    say.say(&format!(
        "· start moto, cargo lambda watch and the functions (they reach moto through the metering proxy at {})",
        proxy.endpoint()
    ));
    let local = try_functions_started_behind(log, moto_port, &proxy).await?;
    let base = local.moto.config().await;
    let source = route53_in(&base, &source_access()).await;
    say.say(&format!(
        "· load {} zones ({} record sets) into the source account {SOURCE_ACCOUNT}, register each in the emulated Route 53 Domains",
        domains.len(),
        domains.iter().map(|d| d.records.len()).sum::<usize>()
    ));
    let mut source_ids = Vec::with_capacity(domains.len());
    for d in domains {
        let id = seed(&base, &source, d, options.ttl).await?;
        source_ids.push(id);
    }
    let mut target_ids: Vec<Option<String>> = vec![None; domains.len()];
    if options.targets_made_first {
        say.say(&format!(
            "· make each target zone in the target account {TARGET_ACCOUNT} first (adopted by the requests)"
        ));
        let target = route53_in(&base, &target_access()).await;
        for (d, slot) in domains.iter().zip(target_ids.iter_mut()) {
            let zone = target
                .create_zone(
                    &d.domain,
                    &format!("zonehop-fleet-rehearsal-{}", d.domain),
                    "zonehop fleet rehearsal: made before the fleet, as an IaC pipeline would",
                )
                .await
                .map_err(|e| {
                    SetupError::SourceZone(format!("{}: the target zone: {e}", d.domain))
                })?;
            *slot = Some(zone.id);
        }
    }
    say.say("· start the DNS internet over both accounts (knotd root, registries, one server set per zone; unbound, kresd)");
    let world = scaled_world(
        &base,
        vec![source_access(), target_access()],
        Registry::new(),
        options.ttl,
    )
    .await?;
    let migration = migration_machine(&local).await?;
    let fleet = local
        .sfn
        .create_state_machine_from_file(
            "fleet",
            &fleet_state_machine_file(),
            &[("MigrationStateMachineArn".to_owned(), migration.clone())].into(),
        )
        .await
        .map_err(|e| SetupError::StateMachine(e.to_string()))?;
    let resolvers: Vec<String> = world
        .resolvers()
        .iter()
        .map(|r| r.addr.to_string())
        .collect();
    let requests: Vec<Value> = domains
        .iter()
        .zip(source_ids.iter().zip(&target_ids))
        .map(|(d, (id, target))| request(d, id, target.as_deref(), &resolvers, options.ttl))
        .collect();
    let mut input = json!({ "toleratedFailurePercentage": options.tolerated_failure_percentage });
    if let Some(c) = options.max_concurrency {
        input["maxConcurrency"] = json!(c);
    }
    if options.via_s3 {
        put_requests(&local, &requests).await?;
        input["requestsFrom"] = json!({ "bucket": FLEET_BUCKET, "key": FLEET_KEY });
    } else {
        input["requests"] = json!(requests);
    }
    proxy.limit_route53_rate(options.rate);
    say.say(&format!(
        "· start the fleet: {} domains, maxConcurrency {}, Route 53 limited to {} per account (the emulated limit)",
        domains.len(),
        options
            .max_concurrency
            .map_or("the default".to_owned(), |c| c.to_string()),
        options.rate.map_or("nothing".to_owned(), |r| format!(
            "{}/s, burst {}",
            r.per_second, r.burst
        ))
    ));
    let started_ms = crate::prober::now_ms();
    let started = Instant::now();
    let arn = local
        .sfn
        .start_execution(&fleet, "fleet", &input)
        .await
        .map_err(|e| SetupError::StateMachine(e.to_string()))?;
    let execution = follow(
        &local,
        &arn,
        &migration,
        domains.len(),
        options.timeout,
        say,
    )
    .await?;
    let wall = started.elapsed();
    let ended_ms = crate::prober::now_ms();
    proxy.limit_route53_rate(None);
    let summary = fleet_summary(&execution);
    let mut rows = Vec::new();
    let memory = zonehop_operator::cost::deployed_memory();
    for (d, entry) in domains.iter().zip(summary_entries(&summary, domains)) {
        rows.push(domain_row(&local, d, &entry, &memory).await);
    }
    let calls = proxy.route53_calls();
    let accounts: Vec<Value> = rates(&calls, started_ms, ended_ms)
        .iter()
        .map(|r| {
            let mut v = r.to_json();
            v["role"] = json!(match r.account.as_str() {
                SOURCE_ACCOUNT => "source",
                TARGET_ACCOUNT => "target",
                _ => "other",
            });
            v["withinBudget"] = json!((r.peak_per_second as f64) <= options.budget_per_second);
            v
        })
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| f(r)).count();
    let sum_seconds: f64 = rows
        .iter()
        .filter_map(|r| r["durationSeconds"].as_f64())
        .sum();
    let usd: f64 = rows
        .iter()
        .filter_map(|r| r["cost"]["usdAtAwsPrices"].as_f64())
        .sum();
    let totals = json!({
        "domains": rows.len(),
        "succeeded": count(&|r| r["status"] == "SUCCEEDED"),
        "failed": count(&|r| r["status"] != "SUCCEEDED" && r["rolledBack"] != true),
        "rolledBack": count(&|r| r["rolledBack"] == true),
        "throttlingFailures": count(&|r| r["error"]["errorType"] == "Throttled"),
        "usdAtAwsPrices": (usd * 1_000_000.0).round() / 1_000_000.0,
    });
    Ok(json!({
        "fleetExecution": arn,
        "fleetStatus": execution.status.to_string(),
        "fleetError": execution.error,
        "fleetCause": execution.cause,
        "maxConcurrency": summary_value(&execution, "maxConcurrency").or(options.max_concurrency.map(|c| json!(c))),
        "toleratedFailurePercentage": options.tolerated_failure_percentage,
        "requestsFrom": if options.via_s3 { "s3" } else { "inline" },
        "targetZones": if options.targets_made_first { "made before the fleet, adopted" } else { "made by create-zone" },
        "ttlSeconds": options.ttl,
        "totals": totals,
        "rate": {
            "emulatedLimit": options.rate.map(|r| json!({"perSecond": r.per_second, "burst": r.burst})),
            "budgetPerSecond": options.budget_per_second,
            "functionPacePerAccount": options.pace,
            "accounts": accounts,
            "note": "Route 53 calls of the functions only, put to the account whose role session signed them; peakPerSecond: the most calls sent (throttled ones included) in one whole second from the fleet's start; peakSlidingSecond: in any 1-second window",
        },
        "wallSeconds": (wall.as_secs_f64() * 10.0).round() / 10.0,
        "sumOfDomainSeconds": (sum_seconds * 10.0).round() / 10.0,
        "domains": rows,
    }))
}

const FLEET_BUCKET: &str = "zonehop-fleet-requests";
const FLEET_KEY: &str = "fleet/requests.json";

/// Puts the request list in moto's S3 (path-style, as the ItemReader reads it).
async fn put_requests(local: &LocalStepFunctions, requests: &[Value]) -> Result<(), SetupError> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKIAZONEHOPTEST00000/20250101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=0"
    );
    let headers = [("Authorization", auth.as_str())];
    let port = local.moto.port();
    for (path, body) in [
        (format!("/{FLEET_BUCKET}"), String::new()),
        (
            format!("/{FLEET_BUCKET}/{FLEET_KEY}"),
            Value::from(requests.to_vec()).to_string(),
        ),
    ] {
        let reply = crate::http::request(port, "PUT", &path, &headers, &body)
            .await
            .map_err(|e| SetupError::LocalAws(format!("S3 PUT {path}: {e}")))?;
        if reply.status >= 300 {
            return Err(SetupError::LocalAws(format!(
                "S3 PUT {path}: HTTP {}: {}",
                reply.status,
                reply.body.lines().next().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// Seeds one domain's source zone (TTLs scaled, the apex NS and SOA too) and registers the
/// domain with its servers; returns the zone id.
async fn seed(
    base: &aws_config::SdkConfig,
    source: &zonehop::adapters::route53::Route53,
    d: &FleetDomain,
    ttl: u32,
) -> Result<String, SetupError> {
    let zone_error = |m: String| SetupError::SourceZone(format!("{}: {m}", d.domain));
    let id = try_seed_zone(base, &source_access(), &d.domain, &scaled(&d.records, ttl))
        .await
        .map_err(zone_error)?;
    scale_apex(base, &source_access(), &id, &d.domain, ttl)
        .await
        .map_err(zone_error)?;
    let servers = source
        .get_zone(&id)
        .await
        .map_err(|e| zone_error(e.to_string()))?
        .name_servers;
    let registered = d.domain.as_str().trim_end_matches('.');
    let refused = |message: String| SetupError::Registration {
        domain: registered.to_owned(),
        message,
    };
    try_register(base, registered).await.map_err(refused)?;
    try_set_name_servers(base, registered, &servers)
        .await
        .map_err(refused)?;
    Ok(id)
}

/// One domain's migration request, as `make rehearse` writes it.
fn request(
    d: &FleetDomain,
    source_id: &str,
    target_id: Option<&str>,
    resolvers: &[String],
    ttl: u32,
) -> Value {
    let access = |a: &zonehop::core::request::AccountAccess, id: Option<&str>| json!({ "hostedZoneId": id, "roleArn": a.role_arn, "externalId": a.external_id });
    let keep: Vec<String> = if d.refused {
        // Outside the domain: preflight refuses the request (InvalidRequest), nothing written.
        vec!["not-under-this-domain.example.org".to_owned()]
    } else {
        d.keep.clone()
    };
    json!({
        "domain": d.domain.as_str().trim_end_matches('.'),
        "source": access(&source_access(), Some(source_id)),
        "target": access(&target_access(), target_id),
        "keepInSource": keep,
        "registrar": {
            "type": "route53domains",
            "roleArn": registrar_access().role_arn,
            "externalId": registrar_access().external_id,
        },
        "nsTtl": { "during": ttl, "after": 60 },
        "probe": { "resolvers": resolvers },
        "resolver": resolvers.first(),
        "pacing": { "minWait": 1, "maxWait": ttl.max(1) + 1 },
        "dryRun": false
    })
}

/// Waits for the fleet's end, saying every 15 s how many domains ended.
async fn follow(
    local: &LocalStepFunctions,
    arn: &str,
    migration: &str,
    n: usize,
    timeout: Duration,
    say: &mut dyn Narrator,
) -> Result<crate::stepfunctions::Execution, SetupError> {
    let started = Instant::now();
    let mut last_said = Instant::now();
    loop {
        let history = local
            .sfn
            .history(arn)
            .await
            .map_err(|e| SetupError::StateMachine(e.to_string()))?;
        if history.iter().any(|e| e.ends_execution()) {
            return local
                .sfn
                .wait_for_end(arn, Duration::from_secs(30))
                .await
                .map_err(|e| SetupError::StateMachine(e.to_string()));
        }
        if started.elapsed() > timeout {
            return Err(SetupError::StateMachine(format!(
                "the fleet execution was still running after {} s",
                timeout.as_secs()
            )));
        }
        if last_said.elapsed() >= Duration::from_secs(15) {
            last_said = Instant::now();
            let children = local
                .sfn
                .list_executions(migration)
                .await
                .unwrap_or_default();
            let ended = children.iter().filter(|(_, s)| s != "RUNNING").count();
            let running = children.len() - ended;
            say.say(&format!(
                "  {:>5.0} s: {ended} of {n} domains ended, {running} running",
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The fleet's summary: its output, or (it ended FAILED on the tolerated share) the output of
/// its `Fleet Summary` state.
fn fleet_summary(execution: &crate::stepfunctions::Execution) -> Value {
    if let Some(output) = &execution.output {
        if output.get("domains").is_some() {
            return output.clone();
        }
    }
    execution
        .history
        .iter()
        .rev()
        .find(|e| e.state_exited() == Some("Fleet Summary"))
        .and_then(crate::stepfunctions::HistoryEvent::output)
        .unwrap_or(Value::Null)
}

fn summary_value(execution: &crate::stepfunctions::Execution, key: &str) -> Option<Value> {
    execution
        .history
        .iter()
        .find(|e| e.state_exited() == Some("Apply Fleet Defaults"))
        .and_then(crate::stepfunctions::HistoryEvent::output)
        .and_then(|o| o.get(key).cloned())
}

/// The summary's entry of each domain, in the domains' order (Null when missing: an item the
/// Map lost).
fn summary_entries(summary: &Value, domains: &[FleetDomain]) -> Vec<Value> {
    let by_domain: BTreeMap<String, Value> = summary["domains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["domain"].as_str()?.to_owned(), e.clone())))
        .collect();
    domains
        .iter()
        .map(|d| {
            by_domain
                .get(d.domain.as_str().trim_end_matches('.'))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// One domain's row: the fleet summary's entry, and from its own execution's history whether
/// it rolled back, its error, window, duration and cost.
async fn domain_row(
    local: &LocalStepFunctions,
    d: &FleetDomain,
    entry: &Value,
    memory: &BTreeMap<String, u32>,
) -> Value {
    let mut row = json!({
        "domain": d.domain.as_str().trim_end_matches('.'),
        "shape": d.shape,
        "recordSets": d.records.len(),
        "status": entry["status"].as_str().unwrap_or("MISSING"),
        "executionArn": entry["executionArn"],
        "rolledBack": false,
        "error": entry.get("error").filter(|e| !e.is_null()).map(|e| json!({"errorType": e, "cause": entry["cause"]})),
        "window": entry["window"],
    });
    let Some(arn) = entry["executionArn"].as_str() else {
        return row;
    };
    let Ok(execution) = local.sfn.describe_execution(arn).await else {
        return row;
    };
    let error = zonehop_operator::report::error(&execution.history);
    if !error.is_null() {
        row["rolledBack"] = error["rolledBack"].clone();
        row["error"] = error;
    }
    row["durationSeconds"] = json!(execution
        .duration()
        .map(|d| (d.as_secs_f64() * 10.0).round() / 10.0));
    row["cost"] = zonehop_operator::cost::execution_cost(&execution.history, memory);
    if let (Some(seen), Some(safe)) = (
        entry["window"]["parentSwitchSeenAt"].as_f64(),
        entry["window"]["safeAt"].as_f64(),
    ) {
        row["window"]["seconds"] = json!(safe - seen);
    }
    row
}

/// The lines `make rehearse-fleet` prints at the end.
pub fn summary_lines(report: &Value) -> Vec<String> {
    let t = &report["totals"];
    let mut lines = vec![
        format!(
            "fleet {}: {} domains: {} succeeded, {} failed, {} rolled back ({} failed of throttling)",
            report["fleetStatus"].as_str().unwrap_or("?"),
            t["domains"],
            t["succeeded"],
            t["failed"],
            t["rolledBack"],
            t["throttlingFailures"]
        ),
        format!(
            "Route 53 calls per second per account (budget {}/s{}):",
            report["rate"]["budgetPerSecond"],
            report["rate"]["emulatedLimit"]
                .as_object()
                .map_or(String::new(), |l| format!(
                    ", emulated limit {}/s burst {}",
                    l["perSecond"], l["burst"]
                ))
        ),
    ];
    for a in report["rate"]["accounts"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {} ({}): {} calls, peak {}/s (sliding {}/s), mean {}/s, throttled {}{}",
            a["account"].as_str().unwrap_or("?"),
            a["role"].as_str().unwrap_or("?"),
            a["calls"],
            a["peakPerSecond"],
            a["peakSlidingSecond"],
            a["meanPerSecond"],
            a["throttled"],
            if a["withinBudget"] == true {
                ", within the budget"
            } else {
                ", OVER the budget"
            }
        ));
    }
    lines.push(format!(
        "wall time {} s against {} s summed over the domains' own executions (maxConcurrency {})",
        report["wallSeconds"], report["sumOfDomainSeconds"], report["maxConcurrency"]
    ));
    for row in report["domains"].as_array().into_iter().flatten() {
        if row["status"] != "SUCCEEDED" {
            lines.push(format!(
                "  {} {}{}: {}",
                row["domain"].as_str().unwrap_or("?"),
                row["status"].as_str().unwrap_or("?"),
                if row["rolledBack"] == true {
                    ", rolled back"
                } else {
                    ""
                },
                row["error"]["errorType"].as_str().unwrap_or("?")
            ));
        }
    }
    lines
}

/// The account moto's interpreter and the harness act in (the state machines live there).
pub const TOOLING_ACCOUNT: &str = ACCOUNT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleets_mix_sizes_shapes_and_suffixes_and_are_stable() {
        let fleet = generated(10);
        assert_eq!(fleet.len(), 10);
        let shapes: std::collections::BTreeSet<&str> =
            fleet.iter().map(|d| d.shape.as_str()).collect();
        assert_eq!(shapes.len(), 4, "{shapes:?}");
        assert!(fleet.iter().any(|d| d.domain.as_str() == "fleet004.co.uk."));
        assert!(fleet
            .iter()
            .all(|d| d.records.iter().all(|r| r.name.is_at_or_below(&d.domain))));
        assert_eq!(fleet[3].records.len(), 250);
        assert_eq!(
            generated(10)
                .iter()
                .map(|d| d.records.len())
                .collect::<Vec<_>>(),
            fleet.iter().map(|d| d.records.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_directory_without_exports_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("zonehop-fleet-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let err = from_dir(&dir).expect_err("no exports");
        assert!(err.contains("no DOMAIN.json"), "{err}");
        let _ = std::fs::remove_dir(&dir);
    }
}
