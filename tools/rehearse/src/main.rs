//! `make rehearse`: a whole migration on one machine, through the same state machine and
//! function binaries as in AWS.
//!
//! moto plays Route 53, Route 53 Domains and Step Functions (its interpreter runs
//! `statemachine/migration.asl.json`), `cargo lambda watch` serves the twelve function
//! binaries behind the Lambda Invoke API, and the DNS world (knotd root, TLD and zone
//! servers; unbound and kresd) answers on loopback from what moto holds. TTLs are scaled down
//! to seconds so that the propagation window passes in well under a minute.
//!
//!     make rehearse [ZONE=export.json DOMAIN=example.com KEEP=dev.example.com] [REGISTRAR=manual]
//!     make rehearse ZONE=export.json REQUEST=request.json
//!     make rehearse FAULTS=api-faults=20,resolver-outage,probe-dead,edit-target
//!
//! With `FAULTS=` (`--faults`) the rehearsal injects faults as the execution goes
//! (`src/faults.rs`, `zonehop_world::faults`; README.md, "Faults", says what each must
//! produce) and the report lists them with what the migration did about each. An unknown
//! fault name exits 2 before anything starts. `REHEARSAL_TIMEOUT=SECONDS` bounds the wait
//! for the execution (default 600).
//!
//! With `REQUEST=` the execution runs the user's own request, checked first as written (as
//! `zonehop start` checks it: preflight's parse and checks over the state machine's own
//! defaults; refused: exit 1 before anything starts, the error in report.json). Its domain,
//! keepInSource and registrar type are the rehearsal's; only the zones, roles and resolvers
//! are the local world's (listed in report.json's `supplied`) and only durations are scaled
//! like the zone's TTLs (listed in `scaled`, from and to): see `Stage::user_request`. A
//! request that is not JSON is refused as StartExecution refuses it (`InvalidExecutionInput`,
//! exit 1, nothing started). An export Route 53 could never hold (`check_export`) exits 2
//! before anything starts.
//!
//! The registrar follows the domain: `route53domains` where Route 53 Domains registers its
//! public suffix (the list AWS publishes, `tests/world/route53domains-tlds.txt`), `manual`
//! otherwise (`.gov`, `.co.kr`); `REGISTRAR=` overrides. With `manual` the request names no
//! Route 53 Domains registration: the domain is registered at the DNS world's own registry,
//! the execution asks an operator, and the rehearsal plays the operator once the request is
//! printed (it sets the name servers at that registry).
//!
//! Prints the phases and the propagation as the execution goes, then a summary; leaves
//! `report.json` (and the same as a self-contained page, `report.html`), `source-zone.json`, `target-zone.json`, `child-<subdomain>.json` and
//! `functions.log` in `REPORT_DIR` (default `target/rehearsal`). Exits 0 when the migration
//! succeeded, 1 when it failed, 2 on bad arguments or when the local world could not be set
//! up (one line: what failed, what to do).

mod faults;
mod storm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zonehop::core::export::to_export;
use zonehop::core::request::RegistrarKind;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;
use zonehop_operator::history::HistoryEvent;
use zonehop_operator::progress::Progress;
use zonehop_operator::report;
use zonehop_operator::sfn::Sfn;
use zonehop_operator::watch::{follow, FollowOptions, Operator, View};
use zonehop_operator::OperatorError;
use zonehop_world::faults::proxy::FaultProxy;
use zonehop_world::faults::{Fault, Faults};
use zonehop_world::prober::{summary_lines, Probing};
use zonehop_world::rehearsal::{
    choose_registrar, example_zone_file, projected_cost, try_functions_started,
    try_functions_started_behind, Scenario, SetupError, Stage,
};
use zonehop_world::stepfunctions::LocalStepFunctions;
use zonehop_world::{route53_in, source_access, target_access};

/// How long the execution may take before the rehearsal gives up on it
/// (`REHEARSAL_TIMEOUT=SECONDS` overrides).
fn execution_timeout() -> Duration {
    std::env::var("REHEARSAL_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(600), Duration::from_secs)
}

struct Args {
    zone: PathBuf,
    domain: String,
    keep: Vec<String>,
    /// `None`: chosen from the domain.
    registrar: Option<RegistrarKind>,
    /// `--request FILE`: the user's own request.
    request: Option<PathBuf>,
    domain_given: bool,
    /// `--faults LIST` (FAULTS=).
    faults: Faults,
    /// `--again 1` (AGAIN=1): once the first execution has ended, a second one of the same
    /// request, faults off.
    again: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        zone: example_zone_file(),
        domain: "example.com".into(),
        keep: Vec::new(),
        registrar: None,
        request: None,
        domain_given: false,
        faults: Faults::default(),
        again: false,
    };
    let mut keep_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--zone" => args.zone = PathBuf::from(value),
            "--domain" => {
                args.domain_given = true;
                args.domain = value;
            }
            "--request" => args.request = (!value.is_empty()).then(|| PathBuf::from(value)),
            "--faults" => args.faults = Faults::parse(&value).map_err(|e| format!("FAULTS: {e}"))?,
            "--again" => {
                args.again = match value.as_str() {
                    "1" | "yes" | "true" => true,
                    "0" | "no" | "false" | "" => false,
                    other => return Err(format!("AGAIN={other}: 1 or 0")),
                }
            }
            "--keep" => {
                keep_given = true;
                args.keep.extend(
                    value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            "--registrar" => {
                args.registrar = match value.as_str() {
                    "route53domains" => Some(RegistrarKind::Route53domains),
                    "manual" => Some(RegistrarKind::Manual),
                    "route53zone" => Some(RegistrarKind::Route53zone),
                    // `make rehearse REGISTRAR=` (empty): chosen from the domain.
                    "" => None,
                    other => {
                        return Err(format!(
                            "--registrar {other}: route53domains, manual or route53zone"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown option {other} (--zone, --domain, --keep, --registrar, --request, --faults, --again)"
                ))
            }
        }
    }
    if !keep_given && args.zone == example_zone_file() {
        args.keep = vec!["dev.example.com".into()];
    }
    Ok(args)
}

enum UserRequestError {
    /// The arguments contradict the request: exit 2.
    Usage(String),
    /// The file is not JSON: refused as StartExecution refuses it.
    NotJson(String),
    /// The request as written fails the checks preflight makes first (over the state
    /// machine's defaults): refused with preflight's error, before anything starts.
    Refused(zonehop::Error),
}

/// Reads `--request FILE` and checks it as written, as `zonehop start` does (a key given
/// twice, a byte-order mark, every field as preflight checks it, over the state machine's
/// own defaults), before anything starts or is scaled; its domain, keepInSource and
/// registrar type become the rehearsal's (a DOMAIN, KEEP or REGISTRAR that contradicts
/// them is a usage error).
async fn read_user_request(args: &mut Args) -> Result<Option<Value>, UserRequestError> {
    let Some(path) = &args.request else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserRequestError::Usage(format!("cannot read {}: {e}", path.display())))?;
    if let Err(zonehop::core::json::StrictJsonError::Syntax { .. }) =
        zonehop::core::json::parse_strict(&text)
    {
        let cause = serde_json::from_str::<Value>(&text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(UserRequestError::NotJson(cause));
    }
    let request = zonehop_operator::request::check(&text)
        .await
        .map_err(UserRequestError::Refused)?;
    if let Some(domain) = request["domain"].as_str() {
        let same = domain
            .trim_end_matches('.')
            .eq_ignore_ascii_case(args.domain.trim_end_matches('.'));
        if args.domain_given && !same {
            return Err(UserRequestError::Usage(format!(
                "DOMAIN={} but the request's domain is {domain}",
                args.domain
            )));
        }
        args.domain = domain.to_owned();
    }
    if let Some(keep) = request["keepInSource"].as_array() {
        args.keep = keep
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    } else if request.get("keepInSource").is_none() {
        args.keep.clear();
    }
    match request.pointer("/registrar/type").and_then(Value::as_str) {
        Some("route53domains") => args.registrar = Some(RegistrarKind::Route53domains),
        Some("manual") => args.registrar = Some(RegistrarKind::Manual),
        Some("route53zone") => args.registrar = Some(RegistrarKind::Route53zone),
        _ => {}
    }
    Ok(Some(request))
}

/// A request refused before anything started: said in one line, and in `report.json`
/// (status FAILED, the error preflight would end the execution with, nothing written).
fn refused_before_start(error: &zonehop::Error, args: &Args) -> ExitCode {
    eprintln!(
        "rehearse: the request is refused before anything started ({}): {error}",
        error.error_type()
    );
    let report_dir = std::env::var_os("REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| zonehop_world::repo_root().join("target/rehearsal"));
    let report = json!({
        "status": "FAILED",
        "error": { "errorType": error.error_type(), "cause": error.to_string() },
        "refusedBeforeStart": true,
        "request": args.request.as_ref().map(|p| p.display().to_string()),
    });
    if std::fs::create_dir_all(&report_dir).is_ok() {
        for stale in [
            "report.json",
            "report.html",
            "source-zone.json",
            "target-zone.json",
        ] {
            let _ = std::fs::remove_file(report_dir.join(stale));
        }
        let _ = std::fs::write(
            report_dir.join("report.json"),
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        );
    }
    ExitCode::FAILURE
}

/// What a rehearsal found, whatever became of it.
struct Outcome {
    status: &'static str,
    error: Value,
    report: Value,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    let user_request = match read_user_request(&mut args).await {
        Ok(request) => request,
        Err(UserRequestError::Refused(error)) => return refused_before_start(&error, &args),
        Err(UserRequestError::Usage(e)) => {
            eprintln!("rehearse: {e}");
            return ExitCode::from(2);
        }
        Err(UserRequestError::NotJson(cause)) => {
            // What StartExecution answers to an input that is not JSON; nothing was started.
            eprintln!("rehearse: the request is refused: InvalidExecutionInput: {cause}");
            return ExitCode::FAILURE;
        }
    };
    let scenario = match Scenario::from_export(&args.zone, &args.domain, args.keep.clone()) {
        Ok(scenario) => scenario,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    // REGISTRAR=route53zone moves a subdomain: the bundled example (example.com, a
    // registered domain) becomes app.example.com, below a parent zone example.com.
    let scenario = if args.registrar == Some(RegistrarKind::Route53zone)
        && !args.domain_given
        && args.zone == example_zone_file()
    {
        let app = Name::parse("app.example.com").expect("a valid name");
        say("REGISTRAR=route53zone: the example zone is rehearsed as app.example.com, whose parent example.com is a hosted zone");
        scenario.rerooted(&app)
    } else {
        scenario
    };
    // operator-silent is the manual registrar's fault; registrar-* Route 53 Domains'.
    if args.faults.iter().any(Fault::needs_manual_registrar) {
        if args.registrar == Some(RegistrarKind::Route53domains) {
            eprintln!("rehearse: FAULTS=operator-silent needs the manual registrar, not REGISTRAR=route53domains");
            return ExitCode::from(2);
        }
        args.registrar = Some(RegistrarKind::Manual);
    }
    let scenario = match choose_registrar(&scenario.domain, args.registrar) {
        Ok((registrar, why)) => {
            say(&format!(
                "registrar: {}: {why}",
                serde_json::to_value(registrar)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ));
            Scenario {
                registrar,
                ..scenario
            }
        }
        Err(e) => {
            eprintln!("rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    if scenario.registrar == RegistrarKind::Manual
        && (args.faults.contains(Fault::RegistrarSlow)
            || args.faults.contains(Fault::RegistrarFails))
    {
        eprintln!("rehearse: FAULTS=registrar-slow and registrar-fails are Route 53 Domains' operation: not with the manual registrar");
        return ExitCode::from(2);
    }
    // edit-storm: the records it changes and deletes are the zone's own, and those it adds
    // to the zone before it is loaded when the zone has too few.
    let storm_plan = args
        .faults
        .contains(Fault::EditStorm)
        .then(|| storm::plan(&scenario, user_request.as_ref()));
    let scenario = match &storm_plan {
        Some(plan) => {
            if !plan.fodder.is_empty() {
                say(&format!(
                    "edit-storm: {} record set(s) added to the zone for the storm to change and delete (storm-N.{})",
                    plan.fodder.len(),
                    scenario.domain.as_str().trim_end_matches('.')
                ));
            }
            plan.seeded(&scenario)
        }
        None => scenario,
    };
    let report_dir = std::env::var_os("REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| zonehop_world::repo_root().join("target/rehearsal"));
    if let Err(e) = std::fs::create_dir_all(&report_dir) {
        eprintln!("rehearse: cannot create {}: {e}", report_dir.display());
        return ExitCode::from(2);
    }
    // Any file a previous rehearsal left would read as this one's.
    for stale in std::fs::read_dir(&report_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = stale.file_name().to_string_lossy().into_owned();
        let ours = [
            "report.json",
            "report.html",
            "source-zone.json",
            "target-zone.json",
        ]
        .contains(&name.as_str())
            || (name.starts_with("child-") && name.ends_with(".json"));
        if ours {
            let _ = std::fs::remove_file(stale.path());
        }
    }

    let started = Instant::now();
    let (outcome, setup_failed) = match rehearse(
        &scenario,
        &report_dir,
        user_request.as_ref(),
        &args.faults,
        storm_plan,
        args.again,
    )
    .await
    {
        Ok(outcome) => (outcome, false),
        Err(e) => {
            eprintln!("rehearse: setup failed: {e}");
            let error = json!({ "errorType": "RehearsalSetupFailed", "cause": e.to_string() });
            let outcome = Outcome {
                status: "FAILED",
                report: json!({}),
                error,
            };
            (outcome, true)
        }
    };
    let mut report = outcome.report;
    // With AGAIN=1 the top level is the first execution's and `again` the second's, whose
    // end (judged with the lost edits and the prober across both) is the rehearsal's.
    let judged = if report.get("again").is_some() {
        &mut report["again"]
    } else {
        &mut report
    };
    judged["status"] = json!(outcome.status);
    judged["error"] = outcome.error;
    report["domain"] = json!(args.domain);
    report["zoneFile"] = json!(args.zone.display().to_string());
    report["keepInSource"] = json!(args.keep);
    report["registrar"] = json!(scenario.registrar);
    if !args.faults.is_empty() && report.get("faults").is_none() {
        report["faults"] = json!(args
            .faults
            .iter()
            .map(|f| json!({ "fault": f.name(), "injected": false }))
            .collect::<Vec<_>>());
    }
    report["rehearsalSeconds"] = json!(started.elapsed().as_secs_f64().round());
    let path = report_dir.join("report.json");
    if let Err(e) = std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        eprintln!("rehearse: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    // The same page an operator gets from `report` on a real execution.
    let html = report_dir.join("report.html");
    if let Err(e) = std::fs::write(&html, zonehop_report::render_html(&report)) {
        eprintln!("rehearse: cannot write {}: {e}", html.display());
        return ExitCode::FAILURE;
    }
    println!();
    println!(
        "rehearsal {} in {:.0} s; report and final zones in {}",
        outcome.status,
        started.elapsed().as_secs_f64(),
        report_dir.display()
    );
    if setup_failed {
        ExitCode::from(2)
    } else if outcome.status == "SUCCEEDED" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn say(line: &str) {
    println!("{line}");
}

/// The rehearsal; `Err` when its world could not be set up (nothing was executed).
async fn rehearse(
    scenario: &Scenario,
    report_dir: &Path,
    user_request: Option<&Value>,
    fault_list: &Faults,
    storm_plan: Option<storm::StormPlan>,
    again: bool,
) -> Result<Outcome, SetupError> {
    let log = report_dir.join("functions.log");
    say(&format!(
        "rehearsing the migration of {} ({} record sets; staying in the source account: {})",
        scenario.domain,
        scenario.records.len(),
        if scenario.keep.is_empty() {
            "nothing".to_owned()
        } else {
            scenario.keep.join(", ")
        }
    ));
    say("· start moto (Route 53, Route 53 Domains, Step Functions) and cargo lambda watch");
    say(&format!(
        "  (logs: {} and functions-moto.log beside it; the first start builds the functions)",
        log.display()
    ));
    let (local, proxy) = if fault_list.need_proxy() {
        let moto_port = zonehop_world::lambda::try_free_port().map_err(SetupError::LocalAws)?;
        let proxy = FaultProxy::start(moto_port, faults::proxy_plan(fault_list))
            .await
            .map_err(|e| SetupError::LocalAws(e.to_string()))?;
        say(&format!(
            "  (the functions reach moto through the fault proxy at {})",
            proxy.endpoint()
        ));
        let local = try_functions_started_behind(&log, moto_port, &proxy).await?;
        (local, Some(proxy))
    } else {
        (try_functions_started(&log).await?, None)
    };
    let stage = Stage::build(&local, scenario, |step| say(&format!("· {step}"))).await?;
    let resolvers = stage.resolver_names();
    say(&format!(
        "  probe resolvers: {}",
        resolvers
            .iter()
            .map(|(addr, name)| format!("{name} {addr}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // What the local world cannot serve as Route 53 would is not rehearsed by DNS (both
    // sides lack it alike): say so rather than let verify-zones' success hide it.
    let world_warnings = stage.world.warnings();
    if !world_warnings.is_empty() {
        say(&format!(
            "  ! the local DNS world serves {} record set(s) unlike Route 53 (report.json: worldWarnings), e.g. {}",
            world_warnings.len(),
            world_warnings[0]
        ));
    }

    let (request, changed) = match user_request {
        Some(user) => {
            let user = stage.user_request(scenario, user);
            for scaled in &user.scaled {
                say(&format!(
                    "  scaled {}: {} -> {} s",
                    scaled["field"].as_str().unwrap_or_default(),
                    scaled["from"],
                    scaled["to"]
                ));
            }
            let changed = json!({ "scaled": user.scaled, "supplied": user.supplied });
            (user.request, changed)
        }
        None => (stage.request(scenario), json!({})),
    };
    // cutover-fails (and a crash or abort at cutover) need the phase to run.
    let request = match faults::with_drill_cutover(fault_list, request, &stage.domain) {
        (request, Some(line)) => {
            say(&format!("  {line}"));
            request
        }
        (request, None) => request,
    };
    // Invariant 6, observed: every resolver is asked for the zone's names from before the
    // first write until the execution has ended (tests/src/prober).
    let edits = faults::edits(fault_list, &stage.domain, scenario.ttl);
    let (edited, per_zone) = match &storm_plan {
        Some(plan) => (plan.edited(scenario), plan.per_zone(scenario)),
        None => (
            faults::edited_scenario(scenario, &edits),
            faults::per_zone_scenarios(scenario, &edits),
        ),
    };
    let probing = Probing::start_with_edits(
        &stage.world.resolvers(),
        scenario,
        &request,
        &edited,
        &per_zone,
    )
    .await;
    say(&format!("  {}", probing.describe()));
    let round = Duration::from_secs(request["pacing"]["maxWait"].as_u64().unwrap_or(3) + 1);
    let mut fault_run = faults::FaultRun::new(fault_list.clone(), proxy, round, edits);
    fault_run.set_excuses(probing.excuses());
    fault_run.set_edit_clock(probing.edit_clock());
    if let Some(plan) = storm_plan {
        say(&format!(
            "  edit-storm: {} edits planned over 5 phases",
            plan.edits.len()
        ));
        fault_run.set_storm(storm::Storm::new(plan, probing.edit_clock(), round));
    }
    if !fault_run.is_empty() {
        say(&format!(
            "  faults: {}",
            fault_list
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let name = format!(
        "rehearsal-{}-{}",
        stage
            .domain
            .as_str()
            .trim_end_matches('.')
            .replace('.', "-"),
        std::process::id()
    );
    say(&format!(
        "· start the execution {name} of statemachine/migration.asl.json"
    ));
    say("");
    // The same watch and report code as `zonehop watch` and `zonehop report` on an
    // execution in AWS, here through aws-sdk-sfn against moto.
    let sfn = Sfn::new(&stage.base);
    let driver = Driver {
        local: &local,
        stage: &stage,
        sfn: &sfn,
        request: &request,
    };
    let mut progress = Progress::default();
    let mut view = View::new();
    let (started_arn, execution) = driver
        .execute(&name, &mut fault_run, &mut progress, &mut view)
        .await;
    // AGAIN=1: whatever the first execution's end, the same request again in the same
    // world, faults off; the prober goes on across both.
    let second = match (&execution, again) {
        (Ok((arn, history)), true) => {
            let (first, _) = report::from_history(arn, history, &resolvers);
            fault_run.disarm(&stage).await;
            let again_name = format!("{name}-again");
            say("");
            say(&format!(
                "· AGAIN=1: the first execution ended {}; start {again_name} with the same request, faults off",
                first["status"].as_str().unwrap_or("?")
            ));
            say("");
            let mut quiet = faults::FaultRun::new(Faults::default(), None, round, Vec::new());
            let mut again_progress = Progress::default();
            let (_, ended) = driver
                .execute(&again_name, &mut quiet, &mut again_progress, &mut view)
                .await;
            Some((ended, again_progress))
        }
        _ => None,
    };
    // The prober judges the cutover by every execution's phases.
    let phases: Vec<zonehop_operator::progress::Phase> = progress
        .phases
        .iter()
        .chain(second.iter().flat_map(|(_, p)| p.phases.iter()))
        .cloned()
        .collect();
    let progress = match &second {
        // The zones the second execution ended on (it adopts the first's target zone, or
        // makes one when the first stopped before).
        Some((_, again_progress)) => Progress {
            target_zone_id: again_progress
                .target_zone_id
                .clone()
                .or(progress.target_zone_id.clone()),
            ..progress
        },
        None => progress,
    };
    // Where each edit ended, read before the prober stops, so that a carry made by the
    // last function is known to it.
    fault_run
        .check_carried(&stage, progress.target_zone_id.as_deref())
        .await;
    // The prober stops before any silenced server answers again (what it queued meanwhile
    // would be answered late and stale).
    let observed = probing.stop(&phases).await;
    fault_run.end(&stage).await;
    let (arn, history) = match execution {
        Ok(ended) => ended,
        Err(e) => {
            let error = json!({ "errorType": "ExecutionDidNotEnd", "cause": e.to_string() });
            let mut report = progress.report("FAILED", error.clone(), &resolvers);
            if !fault_run.is_empty() {
                let history = match &started_arn {
                    Some(arn) => local.sfn.history(arn).await.unwrap_or_default(),
                    None => Vec::new(),
                };
                report["faults"] = fault_run
                    .report(&history, "FAILED", &error, &local, &stage, &scenario.keep)
                    .await;
                for line in fault_lines(&report["faults"]) {
                    say(&line);
                }
                report["registration"] = match stage.registration().await {
                    Ok(servers) => json!({ "nameServers": servers }),
                    Err(e) => json!({ "error": e.to_string() }),
                };
                if let Ok(files) = export_zones(
                    &stage,
                    scenario,
                    progress.target_zone_id.as_deref(),
                    report_dir,
                )
                .await
                {
                    report["zoneFiles"] = json!(files);
                }
            }
            report["observed"] = observed.to_json();
            for (key, value) in changed.as_object().into_iter().flatten() {
                report[key] = value.clone();
            }
            return Ok(Outcome {
                status: "FAILED",
                report,
                error,
            });
        }
    };
    let (mut report, _) = report::from_history(&arn, &history, &resolvers);
    let status = if report["status"] == "SUCCEEDED" {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    let error = report["error"].clone();
    if status == "SUCCEEDED" {
        let largest = scenario
            .records
            .iter()
            .filter_map(|r| r.ttl)
            .max()
            .unwrap_or(0);
        // A registry delegates for 2 days (.com); a parent hosted zone's TTL is lowered with
        // the apex NS, to 300 s by default.
        let parent_ns_ttl = if scenario.registrar == RegistrarKind::Route53zone {
            300
        } else {
            172_800
        };
        report["projectedProductionCost"] = projected_cost(&report["cost"], largest, parent_ns_ttl);
    }
    report["zones"] = json!({ "source": stage.source_id, "target": progress.target_zone_id });
    report["worldWarnings"] = json!(world_warnings);
    // The emulated registrar's view at the end (the rehearsal's operator sets it on the
    // manual path).
    report["registration"] = match stage.registration().await {
        Ok(servers) => json!({ "nameServers": servers }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    if error["errorType"] == "ZonesDiffer" {
        report["verification"] = differences(&stage, scenario, &progress, &request).await;
    }
    match export_zones(
        &stage,
        scenario,
        progress.target_zone_id.as_deref(),
        report_dir,
    )
    .await
    {
        Ok(files) => report["zoneFiles"] = json!(files),
        Err(e) => say(&format!("✗ could not export the final zones: {e}")),
    }
    report["observed"] = observed.to_json();
    for (key, value) in changed.as_object().into_iter().flatten() {
        report[key] = value.clone();
    }
    if !fault_run.is_empty() {
        fault_run
            .check_carried(&stage, progress.target_zone_id.as_deref())
            .await;
        // The faults are the first execution's: judged by its own end (ABORTED included).
        let first_status = report["status"].as_str().unwrap_or(status).to_owned();
        report["faults"] = fault_run
            .report(
                &history,
                &first_status,
                &error,
                &local,
                &stage,
                &scenario.keep,
            )
            .await;
        for line in fault_lines(&report["faults"]) {
            say(&line);
        }
        for line in fault_run.storm_lines(&report["observed"]) {
            say(&line);
        }
    }
    // AGAIN=1: the second execution's report is `again` (the same shape, with its status),
    // and its end is the rehearsal's.
    let (status, error) = match &second {
        Some((ended, _)) => {
            let again_report = match ended {
                Ok((arn, history)) => report::from_history(arn, history, &resolvers).0,
                Err(e) => json!({
                    "status": "FAILED",
                    "error": { "errorType": "ExecutionDidNotEnd", "cause": e.to_string() },
                }),
            };
            let again_status = if again_report["status"] == "SUCCEEDED" {
                "SUCCEEDED"
            } else {
                "FAILED"
            };
            let again_error = again_report["error"].clone();
            report["again"] = again_report;
            (again_status, again_error)
        }
        None => (status, error),
    };
    // Nothing written in either zone is lost (issue #10 point 5, issue #20): a lost edit is
    // the failure, whatever wrong answers it also caused.
    let lost = fault_run.edits_lost();
    let (status, error) = if status == "SUCCEEDED" && !lost.is_empty() {
        let cause = if fault_list.contains(Fault::EditStorm) {
            format!(
                "the migration SUCCEEDED but {} edit(s) are not in the final target zone as made (a conflict: the target's version): {}{}",
                lost.len(),
                lost.join(", "),
                if observed.failed() {
                    format!("; and {}", observed.summary_line())
                } else {
                    String::new()
                }
            )
        } else {
            format!("the migration SUCCEEDED but these edits made during the window are not in both zones: {}", lost.join(", "))
        };
        let error = json!({ "errorType": "EditsLost", "cause": cause, "rolledBack": false });
        ("FAILED", error)
    } else {
        observed.verdict(status, error)
    };
    for line in report::summary_lines(&report) {
        view.say(&line);
    }
    if report.get("again").is_some() {
        view.say("second execution (AGAIN=1):");
        for line in report::summary_lines(&report["again"]) {
            if !line.is_empty() {
                view.say(&format!("  {line}"));
            }
        }
    }
    for line in summary_lines(&report["observed"]) {
        view.say(&format!("  {line}"));
    }
    for line in report::failure_lines(status, &error) {
        view.say(&line);
    }
    drop(stage);
    drop::<LocalStepFunctions>(local);
    Ok(Outcome {
        status,
        error,
        report,
    })
}

/// What every execution of a rehearsal runs in: the world, the request.
struct Driver<'a> {
    local: &'a LocalStepFunctions,
    stage: &'a Stage,
    sfn: &'a Sfn,
    request: &'a Value,
}

type Ended = Result<(String, Vec<HistoryEvent>), OperatorError>;

impl Driver<'_> {
    /// Starts the execution `name` of the request and follows it to its end, with the
    /// rehearsal's operator and `faults` acting as it goes; the ARN once started.
    async fn execute(
        &self,
        name: &str,
        faults: &mut faults::FaultRun,
        progress: &mut Progress,
        view: &mut View,
    ) -> (Option<String>, Ended) {
        let arn = match self.stage.start(self.local, name, self.request).await {
            Ok(arn) => arn,
            Err(e) => {
                let error = OperatorError::Aws {
                    operation: "StartExecution".to_owned(),
                    code: e.code().map(str::to_owned),
                    message: e.to_string(),
                };
                return (None, Err(error));
            }
        };
        faults.set_execution(&arn);
        let mut operator = RehearsalOperator {
            local: self.local,
            stage: self.stage,
            request: self.request,
            name,
            faults,
        };
        let ended = follow(
            self.sfn,
            &arn,
            progress,
            view,
            &mut operator,
            FollowOptions {
                poll: Duration::from_millis(200),
                timeout: Some(execution_timeout()),
            },
        )
        .await
        .map(|history| (arn.clone(), history));
        (Some(arn), ended)
    }
}

/// The rehearsal's operator (`--registrar manual`): when the execution asks, sets the name
/// servers it was asked to set at the registrar (the DNS world's registry) and sends the
/// task token back, as `zonehop resume` would once the parent names them.
/// With `FAULTS=`, it also injects the faults as the execution reaches their moment
/// (`faults::FaultRun`), and stays silent for `operator-silent`.
struct RehearsalOperator<'a> {
    local: &'a LocalStepFunctions,
    stage: &'a Stage,
    request: &'a Value,
    name: &'a str,
    faults: &'a mut faults::FaultRun,
}

impl Operator for RehearsalOperator<'_> {
    async fn observed(&mut self, event: &HistoryEvent, progress: &Progress) -> Vec<String> {
        self.faults
            .observe(
                event,
                self.local,
                self.stage,
                self.request,
                progress.target_zone_id.as_deref(),
                self.name,
            )
            .await
    }

    async fn tick(&mut self, progress: &Progress) -> Vec<String> {
        self.faults
            .tick(self.stage, progress.target_zone_id.as_deref())
            .await
    }

    async fn asked(&mut self, sfn: &Sfn, request: &Value) -> Result<Vec<String>, OperatorError> {
        let mut lines = self.faults.before_operator_swaps(self.stage).await;
        if !self.faults.operator_answers() {
            lines.push("  ⚡ operator-silent: nobody answers".to_owned());
            return Ok(lines);
        }
        let servers: Vec<String> = request["nameServers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        let token = request["taskToken"].as_str().unwrap_or_default();
        match self.stage.operator_sets_name_servers(&servers).await {
            Ok(()) => {
                sfn.send_task_success(token, &json!(true)).await?;
                lines.push(
                    "  (the rehearsal plays the operator: the registration now names them; resumed)"
                        .to_owned(),
                );
                Ok(lines)
            }
            Err(e) => {
                // As an operator whose registrar refused: the execution is told, and ends.
                sfn.send_task_failure(token, "RegistrarOperationFailed", &e)
                    .await?;
                lines.push(format!(
                    "  ✗ the rehearsal's operator could not set them: {e}"
                ));
                Ok(lines)
            }
        }
    }
}

/// After `ZonesDiffer`, the differences themselves: verify-zones' own comparison run again
/// on the zones as they stand (the failed execution changed nothing after it).
async fn differences(
    stage: &Stage,
    scenario: &Scenario,
    progress: &Progress,
    request: &Value,
) -> Value {
    let Some(target_id) = &progress.target_zone_id else {
        return Value::Null;
    };
    let verify_request = zonehop::steps::verify_zones::VerifyRequest {
        execution_id: None,
        domain: stage.domain.to_string(),
        source: zonehop::core::request::ZoneRef {
            hosted_zone_id: Some(stage.source_id.clone()),
            access: source_access(),
        },
        target: zonehop::core::request::ZoneRef {
            hosted_zone_id: Some(target_id.clone()),
            access: target_access(),
        },
        keep_in_source: scenario.keep.clone(),
        resolver: request["resolver"].as_str().map(str::to_owned),
    };
    let result = zonehop::steps::verify_zones::verify_zones(
        &route53_in(&stage.base, &source_access()).await,
        &route53_in(&stage.base, &target_access()).await,
        &zonehop::adapters::wire_dns::WireDns::default(),
        &verify_request,
        &Default::default(),
    )
    .await;
    match result {
        Err(zonehop::Error::ZonesDiffer { differences }) => json!({
            "status": "FAILED",
            "differences": differences,
        }),
        Ok(output) => json!({
            "status": "SUCCEEDED on a second look (the difference was transient)",
            "rrsetsCompared": output.rrsets_compared,
            "differences": output.differences,
        }),
        Err(e) => json!({ "status": "FAILED", "differences": null, "error": e.to_string() }),
    }
}

/// Writes the final zones as list-resource-record-sets exports; returns the file names.
async fn export_zones(
    stage: &Stage,
    scenario: &Scenario,
    target_id: Option<&str>,
    dir: &Path,
) -> Result<Vec<String>, String> {
    let source = route53_in(&stage.base, &source_access()).await;
    let target = route53_in(&stage.base, &target_access()).await;
    let mut zones: Vec<(String, &zonehop::adapters::route53::Route53, String)> =
        vec![("source-zone.json".into(), &source, stage.source_id.clone())];
    if let Some(id) = target_id {
        zones.push(("target-zone.json".into(), &target, id.to_owned()));
    }
    for keep in &scenario.keep {
        let name = Name::parse(keep).map_err(|e| format!("{keep}: {e}"))?;
        // The child zone delegate-subdomain created in the source account, if it got there.
        if let Some(child) = source
            .zones_named(&name)
            .await
            .map_err(|e| e.to_string())?
            .first()
        {
            zones.push((
                format!("child-{}.json", keep.trim_end_matches('.')),
                &source,
                child.id.clone(),
            ));
        }
    }
    let mut written = Vec::new();
    for (file, client, id) in zones {
        let records = read_zone(client, &id)
            .await
            .map_err(|e| format!("read {id}: {e}"))?;
        std::fs::write(dir.join(&file), to_export(&records)).map_err(|e| format!("{file}: {e}"))?;
        written.push(file);
    }
    Ok(written)
}

/// The summary's lines for the report's `faults`.
fn fault_lines(faults: &Value) -> Vec<String> {
    let mut lines = vec![String::new(), "faults".to_owned()];
    for f in faults.as_array().into_iter().flatten() {
        if let Some(errors) = f["injectionErrors"].as_array() {
            for e in errors {
                lines.push(format!("  ✗ could not inject: {e}"));
            }
            continue;
        }
        lines.push(format!(
            "  {:<16} {}; {} round(s), {} s; required: {}",
            f["fault"].as_str().unwrap_or("?"),
            f["outcome"].as_str().unwrap_or("not injected"),
            f["rounds"],
            f["seconds"],
            f["requiredOutcome"].as_str().unwrap_or("?")
        ));
    }
    lines
}
