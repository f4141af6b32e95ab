//! `make rehearse` end to end, and with it the happy path of the whole migration: the
//! rehearsal binary runs statemachine/migration.asl.json in moto's interpreter, the real
//! function binaries behind `cargo lambda watch`, against moto and the DNS world. Checked
//! here from what the rehearsal leaves (report.json and the final zones, read back from
//! moto) so that the README's first command stays true. Real zones too
//! (`tests/rehearsal/realzones/`: a `.com` of 1,419 record sets, two `.gov` zones whose
//! registrar is outside AWS) and the example under a two-label suffix (`example.co.kr`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::Value;
use zonehop::core::export::load_export;
use zonehop::core::plan::is_apex_soa_or_ns;
use zonehop::core::zone::{RecordSet, RrType, Zone};
use zonehop::Name;
use zonehop_world::records_to_seed;
use zonehop_world::rehearsal::scaled;

/// A zone's apex NS servers, canonical.
fn apex_ns(zone: &Zone, domain: &Name) -> Vec<String> {
    let values: Vec<String> = zone
        .iter()
        .find(|r| r.name == *domain && r.rtype == RrType::NS)
        .expect("an apex NS")
        .values()
        .map(str::to_owned)
        .collect();
    zonehop::core::delegation::canonical_servers(&values)
}

/// The registration's name servers the report holds, canonical.
fn registered(report: &Value) -> Vec<String> {
    let servers: Vec<String> = report["registration"]["nameServers"]
        .as_array()
        .expect("registration")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    zonehop::core::delegation::canonical_servers(&servers)
}

/// Runs the rehearsal binary with `args` into a fresh report directory named after `name`;
/// returns its exit status and that directory.
fn rehearse(name: &str, args: &[&str]) -> (std::process::ExitStatus, std::path::PathBuf) {
    let report_dir = std::env::temp_dir().join(format!("zonehop-{name}-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .env("REPORT_DIR", &report_dir)
        .status()
        .expect("run the rehearsal");
    (status, report_dir)
}

/// A file the rehearsal left.
fn left(report_dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(report_dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn seconds(value: &Value) -> f64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::from_str(text, Format::DateTime)
        .unwrap_or_else(|e| panic!("{text} is not ISO 8601: {e}"))
        .as_secs_f64()
}

#[test]
fn the_example_zone_migrates_end_to_end_in_a_rehearsal() {
    let (status, report_dir) = rehearse("rehearsal", &[]);
    let read = |file: &str| left(&report_dir, file);
    let report: Value = serde_json::from_str(&read("report.json")).expect("report.json");
    assert!(status.success(), "rehearsal failed: {report:#}");
    assert_eq!(report["status"], "SUCCEEDED");
    assert!(report["error"].is_null());

    // Every step ran, in order, each phase with ISO 8601 bounds.
    let phases = report["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut expected = [
        "preflight",
        "create-zone",
        "delegate-subdomains",
        "sync-records",
        "verify-zones",
        "lower-ns-ttl",
        "swap-nameservers",
        "check-propagation",
        "finalize",
    ]
    .into_iter();
    let mut next = expected.next();
    for name in &names {
        if Some(*name) == next {
            next = expected.next();
        }
    }
    assert_eq!(next, None, "phases out of order or missing: {names:?}");
    for phase in phases {
        assert_eq!(phase["status"], "SUCCEEDED", "{phase}");
        assert!(seconds(&phase["startedAt"]) <= seconds(&phase["endedAt"]));
    }
    assert!(report["verification"]["rrsetsCompared"].as_u64() >= Some(9));

    // The target holds the source's records less the apex SOA/NS; dev. is delegated from
    // both to its own zone, which holds dev's records.
    let domain = Name::parse("example.com").expect("name");
    let dev = Name::parse("dev.example.com").expect("name");
    let source = load_export(&read("source-zone.json")).expect("source export");
    let target = load_export(&read("target-zone.json")).expect("target export");
    let child = load_export(&read("child-dev.example.com.json")).expect("child export");
    let moved = |zone: &Zone| -> Vec<String> {
        zone.iter()
            .filter(|r| !is_apex_soa_or_ns(r, &domain))
            .map(|r| r.key().to_string())
            .collect()
    };
    assert_eq!(moved(&target), moved(&source));
    assert!(target
        .iter()
        .any(|r| r.name == dev && r.rtype == RrType::NS));
    assert!(!target
        .iter()
        .any(|r| r.name.is_below(&dev) || (r.name == dev && r.rtype != RrType::NS)));
    assert!(child
        .iter()
        .any(|r| r.name.is_at_or_below(&dev) && r.rtype == RrType::A));
    assert!(
        !moved(&source).iter().any(|k| k.starts_with("_zonehop.")),
        "canaries removed"
    );

    // The registration and the old zone's apex NS name the new zone's servers.
    assert_eq!(registered(&report), apex_ns(&target, &domain));
    assert_eq!(apex_ns(&source, &domain), apex_ns(&target, &domain));

    // Every resolver moved; safe was declared at safeAt or later, within one poll (the
    // rehearsal's pacing: at most 3 s, plus a second of rounding).
    let p = &report["propagation"];
    let resolvers = p["resolvers"].as_array().expect("resolvers");
    assert_eq!(resolvers.len(), 2, "{p}");
    for r in resolvers {
        assert_eq!(r["side"], "new", "{r}");
        assert!(seconds(&r["movedAt"]) >= seconds(&p["parentSwitchSeenAt"]) - 1.0);
    }
    let names: Vec<&str> = resolvers
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"unbound") && names.contains(&"kresd"),
        "{names:?}"
    );
    let (safe_at, completed) = (seconds(&p["safeAt"]), seconds(&p["completedAt"]));
    assert!(
        completed >= safe_at && completed <= safe_at + 3.0 + 1.0,
        "completed {completed}, safe at {safe_at}"
    );

    // finalize's last carry says from when an edit in the old zone is no longer carried.
    let carried_until = seconds(&report["carriedUntil"]);
    assert!(
        carried_until >= safe_at - 1.0,
        "carried until {carried_until}, safe at {safe_at}"
    );
    assert!(
        report["decommissionChecklist"][0]
            .as_str()
            .is_some_and(|line| line.contains("no longer carried")),
        "{}",
        report["decommissionChecklist"]
    );

    // What the execution would bill in AWS, and the same migration over .com's real window.
    let cost = &report["cost"];
    assert!(cost["stateTransitions"].as_u64() > Some(30), "{cost}");
    assert!(cost["lambdaInvocations"].as_u64() >= Some(11), "{cost}");
    assert!(cost["usdAtAwsPrices"].as_f64() > Some(0.0), "{cost}");
    let projected = &report["projectedProductionCost"];
    assert!(
        projected["windowHours"].as_f64() >= Some(48.0),
        "{projected}"
    );
    assert!(projected["stateTransitions"].as_u64() > cost["stateTransitions"].as_u64());

    // Invariant 6, observed: from before the first write until the execution ended, every
    // answer of both resolvers was the zone's.
    let observed = &report["observed"];
    assert!(observed["queries"].as_u64() >= Some(1_000), "{observed:#}");
    for problem in ["wrong", "servfail", "nxdomain", "timeouts", "otherRcode"] {
        assert_eq!(observed[problem], 0, "{problem}: {observed:#}");
    }
    assert_eq!(
        observed["perResolver"].as_object().map(|r| r.len()),
        Some(2)
    );

    // Every line the functions logged is JSON in the step's span, no credential in any line
    // (the harness's secret key), and each step of the execution logged with the domain.
    let execution = report["executionArn"]
        .as_str()
        .and_then(|arn| arn.rsplit(':').next())
        .expect("executionArn");
    let summary = zonehop_world::logs::check_function_log(
        &read("functions.log"),
        &zonehop_world::logs::LogExpectations {
            domain: "example.com",
            execution,
            secrets: vec!["zonehop-test-secret".to_owned()],
        },
    )
    .unwrap_or_else(|problems| panic!("{}", problems.join("\n")));
    for step in ["preflight", "sync-records", "check-propagation", "finalize"] {
        assert!(
            summary.lines_of_domain.get(step) >= Some(&2),
            "{step}: {summary:?}"
        );
    }
    assert!(
        summary.lines_of_execution.get("preflight") >= Some(&2),
        "{summary:?}"
    );
    let _ = std::fs::remove_dir_all(&report_dir);
}

#[test]
fn a_rehearsal_whose_migration_fails_exits_non_zero_and_reports_why() {
    // The user's export holds a record with a health check of the source account.
    let dir =
        std::env::temp_dir().join(format!("zonehop-rehearsal-blocked-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut export: Value = serde_json::from_str(
        &std::fs::read_to_string(zonehop_world::rehearsal::example_zone_file()).expect("example"),
    )
    .expect("json");
    export["ResourceRecordSets"]
        .as_array_mut()
        .expect("record sets")
        .push(serde_json::json!({
            "Name": "hc.example.com.", "Type": "A", "SetIdentifier": "one", "Weight": 10,
            "TTL": 60, "HealthCheckId": "11111111-2222-3333-4444-555555555555",
            "ResourceRecords": [{ "Value": "192.0.2.10" }]
        }));
    let zone = dir.join("export.json");
    std::fs::write(&zone, export.to_string()).expect("export");
    let report_dir = dir.join("report");

    let status = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args([
            "--zone",
            &zone.display().to_string(),
            "--domain",
            "example.com",
        ])
        .args(["--keep", "dev.example.com"])
        .env("REPORT_DIR", &report_dir)
        .status()
        .expect("run the rehearsal");

    assert_eq!(status.code(), Some(1));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(report_dir.join("report.json")).expect("report.json"),
    )
    .expect("report");
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["error"]["errorType"], "MigrationBlocked");
    assert!(report["error"]["cause"]
        .as_str()
        .is_some_and(|c| c.contains("hc.example.com")));
    assert_eq!(report["error"]["rolledBack"], false);
    let phases = report["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 1, "{phases:?}");
    assert_eq!(phases[0]["name"], "preflight");
    assert_eq!(phases[0]["status"], "FAILED");
    assert!(report["registration"]["nameServers"].is_array());
    assert!(!report_dir.join("target-zone.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2_before_anything_starts() {
    let status = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["--zone", "/nonexistent/export.json"])
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(2));
    let status = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .arg("--frobnicate")
        .arg("x")
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(2));
}

#[test]
fn a_manual_registrar_rehearsal_asks_the_operator_and_plays_the_operator() {
    let (status, report_dir) = rehearse("rehearsal-manual", &["--registrar", "manual"]);
    let read = |file: &str| left(&report_dir, file);
    let report: Value = serde_json::from_str(&read("report.json")).expect("report.json");
    assert!(status.success(), "rehearsal failed: {report:#}");
    assert_eq!(report["registrar"], "manual");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let asked = phases.iter().position(|p| *p == "awaiting-operator");
    let watched = phases.iter().position(|p| *p == "check-propagation");
    assert!(asked.is_some() && asked < watched, "{phases:?}");

    // The servers the operator was asked for (and set) are the new zone's.
    let domain = Name::parse("example.com").expect("name");
    let target = load_export(&read("target-zone.json")).expect("target export");
    assert_eq!(registered(&report), apex_ns(&target, &domain));
    assert_eq!(
        report["propagation"]["resolvers"]
            .as_array()
            .map(|r| r.iter().all(|r| r["side"] == "new")),
        Some(true)
    );
    let _ = std::fs::remove_dir_all(&report_dir);
}

#[test]
fn a_domain_that_is_not_a_registered_domain_is_refused_before_anything_starts() {
    let example = zonehop_world::rehearsal::example_zone_file();
    let example = example.display().to_string();
    let usa_gov = real_zone("usa.gov");
    for (args, says) in [
        // A public suffix itself.
        (
            vec!["--zone", &example, "--domain", "co.kr"],
            "public suffix",
        ),
        // Under no suffix the Public Suffix List knows.
        (
            vec!["--zone", &example, "--domain", "example.zzzz-not-a-tld"],
            "Public Suffix List",
        ),
        // The export's names are not under DOMAIN.
        (
            vec!["--zone", &example, "--domain", "example.co.kr"],
            "is not in",
        ),
        // Route 53 Domains does not register .gov: it cannot be forced.
        (
            vec![
                "--zone",
                &usa_gov,
                "--domain",
                "usa.gov",
                "--registrar",
                "route53domains",
            ],
            "does not register .gov",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .args(&args)
            .env(
                "REPORT_DIR",
                std::env::temp_dir().join("zonehop-never-written"),
            )
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_setup_failure_is_one_line_and_exit_2() {
    // No virtualenv: neither cargo lambda watch nor moto can start.
    let report_dir =
        std::env::temp_dir().join(format!("zonehop-rehearsal-setup-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .env("ZONEHOP_VENV", "/nonexistent/zonehop-venv")
        .env("REPORT_DIR", &report_dir)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("rehearse: setup failed: ") && stderr.contains("make setup"),
        "what failed and what to do: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = serde_json::from_str(&left(&report_dir, "report.json")).expect("report");
    assert_eq!(report["error"]["errorType"], "RehearsalSetupFailed");
    let _ = std::fs::remove_dir_all(&report_dir);
}

/// A real zone of `tests/rehearsal/realzones/`.
fn real_zone(domain: &str) -> String {
    zonehop_world::repo_root()
        .join(format!("tests/rehearsal/realzones/{domain}.json"))
        .display()
        .to_string()
}

/// Record sets as the migration promises to keep them: normalized (values in canonical
/// order and spelling), an alias to a record of the domain with its zone id left out (each
/// zone names itself there), keyed by name, type and set identifier.
fn comparable<'a>(
    records: impl IntoIterator<Item = &'a RecordSet>,
    domain: &Name,
) -> BTreeMap<String, RecordSet> {
    records
        .into_iter()
        .map(|r| {
            let mut r = r.normalized();
            if let Some(alias) = &mut r.alias_target {
                if alias.dns_name.is_at_or_below(domain) {
                    alias.hosted_zone_id = "(this zone)".to_owned();
                }
            }
            (r.key().to_string(), r)
        })
        .collect()
}

/// The keys on which two comparable zones differ, with both sides (for a readable failure).
fn differences(
    got: &BTreeMap<String, RecordSet>,
    want: &BTreeMap<String, RecordSet>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    keys.into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .take(10)
        .map(|k| format!("{k}: got {:?}, want {:?}", got.get(k), want.get(k)))
        .collect()
}

/// Rehearses the export `zone` of `domain` with `keep` staying behind and the registrar
/// chosen from the domain; asserts the migration SUCCEEDED with the registrar `registrar`,
/// and the final zones exactly: the target holds the export (TTLs as scaled) less its apex
/// SOA/NS and less the kept subtree, plus the kept subtree's NS delegation to its child zone;
/// the child zone holds the kept subtree; the old zone is one with the new; the registration
/// and the old apex NS name the new servers. Returns the wall time.
fn rehearse_real_zone(zone: &str, domain: &str, keep: &str, registrar: &str) -> Duration {
    let started = Instant::now();
    let (status, report_dir) = rehearse(
        &format!("real-{domain}"),
        &["--zone", zone, "--domain", domain, "--keep", keep],
    );
    let took = started.elapsed();
    let read = |file: &str| left(&report_dir, file);
    let report: Value = serde_json::from_str(&read("report.json")).expect("report.json");
    assert!(status.success(), "{domain}: rehearsal failed: {report:#}");
    assert_eq!(report["status"], "SUCCEEDED", "{domain}");
    assert_eq!(report["registrar"], registrar, "{domain}");

    let name = Name::parse(domain).expect("domain");
    let kept = Name::parse(keep).expect("keep");
    let export = load_export(&std::fs::read_to_string(zone).expect("export")).expect("export");
    let seeded = scaled(&records_to_seed(&export, &name), 2);
    let source = load_export(&read("source-zone.json")).expect("source export");
    let target = load_export(&read("target-zone.json")).expect("target export");
    let child = load_export(&read(&format!("child-{keep}.json"))).expect("child export");
    let moved = |zone: &Zone, apex: &Name| {
        comparable(zone.iter().filter(|r| !is_apex_soa_or_ns(r, apex)), &name)
    };

    // The child zone holds the kept subtree, nothing else but its own apex SOA/NS.
    let want_child = comparable(
        seeded.iter().filter(|r| r.name.is_at_or_below(&kept)),
        &name,
    );
    let got_child = moved(&child, &kept);
    assert!(!want_child.is_empty(), "{keep} holds records in {zone}");
    assert_eq!(
        got_child,
        want_child,
        "{keep}: {:#?}",
        differences(&got_child, &want_child)
    );

    // The target: the export less its apex and the kept subtree, plus the delegation.
    let delegation: Vec<&RecordSet> = target
        .iter()
        .filter(|r| r.name == kept && r.rtype == RrType::NS)
        .collect();
    assert_eq!(delegation.len(), 1, "{keep} delegated: {delegation:?}");
    assert_eq!(
        zonehop::core::delegation::canonical_servers(
            &delegation[0]
                .values()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        ),
        apex_ns(&child, &kept),
        "the delegation names the child zone's servers"
    );
    let mut want_target = comparable(
        seeded.iter().filter(|r| !r.name.is_at_or_below(&kept)),
        &name,
    );
    want_target.extend(comparable(delegation.iter().copied(), &name));
    let got_target = moved(&target, &name);
    assert_eq!(
        got_target.len(),
        want_target.len(),
        "{domain}: {:#?}",
        differences(&got_target, &want_target)
    );
    assert_eq!(
        got_target,
        want_target,
        "{domain}: {:#?}",
        differences(&got_target, &want_target)
    );

    // The old zone is one with the new, and both the registration and the old apex NS
    // name the new servers.
    let got_source = moved(&source, &name);
    assert_eq!(
        got_source,
        got_target,
        "{domain}: {:#?}",
        differences(&got_source, &got_target)
    );
    assert_eq!(registered(&report), apex_ns(&target, &name), "{domain}");
    assert_eq!(apex_ns(&source, &name), apex_ns(&target, &name), "{domain}");
    eprintln!(
        "{domain}: {} record sets, {keep} kept, registrar {registrar}: SUCCEEDED in {:.0} s",
        export.len(),
        took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&report_dir);
    took
}

#[test]
fn a_real_com_zone_of_1419_record_sets_migrates_with_a_subtree_kept() {
    rehearse_real_zone(
        &real_zone("hackclub.com"),
        "hackclub.com",
        "hcb.hackclub.com",
        "route53domains",
    );
}

#[test]
fn a_real_gov_zone_migrates_through_the_manual_registrar_chosen_for_gov() {
    rehearse_real_zone(
        &real_zone("usa.gov"),
        "usa.gov",
        "covidtest.usa.gov",
        "manual",
    );
}

#[test]
fn a_real_zone_of_aws_aliases_and_routing_policies_migrates_with_its_largest_subtree_kept() {
    rehearse_real_zone(
        &real_zone("cloud.gov"),
        "cloud.gov",
        "fr.cloud.gov",
        "manual",
    );
}

#[test]
fn the_example_zone_under_a_two_label_suffix_migrates_through_kr_and_co_kr() {
    let zone = zonehop_world::repo_root()
        .join("tests/rehearsal/example.co.kr.json")
        .display()
        .to_string();
    rehearse_real_zone(&zone, "example.co.kr", "dev.example.co.kr", "manual");
}

/// `make rehearse REQUEST=request.json`: the user's own request is what the execution runs:
/// its keepInSource, its cutover (applied to both zones), its healthChecks and maxOverwrites;
/// only the zones, roles and resolvers are the local world's, and its TTLs are scaled.
#[test]
fn the_users_own_request_is_what_the_rehearsal_runs() {
    let request = zonehop_world::repo_root().join("tests/rehearsal/request.example.json");
    let (status, report_dir) = rehearse(
        "user-request",
        &["--request", &request.display().to_string()],
    );
    let report: Value = serde_json::from_str(&left(&report_dir, "report.json")).expect("report");
    assert!(status.success(), "rehearsal failed: {report:#}");
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(
        report["keepInSource"],
        serde_json::json!(["dev.example.com"])
    );
    // Only durations were scaled, each listed with its value as written.
    let scaled: Vec<&str> = report["scaled"]
        .as_array()
        .expect("scaled")
        .iter()
        .filter_map(|s| s["field"].as_str())
        .collect();
    assert_eq!(
        scaled,
        [
            "nsTtl.during",
            "nsTtl.after",
            "pacing.minWait",
            "pacing.maxWait",
            "cutover.records[0].ttl"
        ]
    );
    // The request's cutover ran: api.example.com has its new address in BOTH zones.
    for file in ["source-zone.json", "target-zone.json"] {
        let zone = load_export(&left(&report_dir, file)).expect(file);
        let api = zone
            .iter()
            .find(|r| r.name.as_str() == "api.example.com." && r.rtype == RrType::A)
            .unwrap_or_else(|| panic!("{file}: no api A"));
        assert_eq!(
            api.values().collect::<Vec<_>>(),
            vec!["203.0.113.99"],
            "{file}"
        );
    }
}

/// The README's minimal request (no registrar, no nsTtl, no pacing): the state machine's
/// defaults apply as in AWS (`registrar.type` route53domains), and the report lists each
/// duration scaled from the default it had.
#[test]
fn the_minimal_request_is_rehearsed_over_the_state_machines_defaults() {
    let request = zonehop_world::repo_root().join("tests/rehearsal/request.minimal.json");
    let (status, report_dir) = rehearse(
        "minimal-request",
        &["--request", &request.display().to_string()],
    );
    let report: Value = serde_json::from_str(&left(&report_dir, "report.json")).expect("report");
    assert!(status.success(), "rehearsal failed: {report:#}");
    assert_eq!(report["registrar"], "route53domains");
    let scaled: Vec<(&str, i64)> = report["scaled"]
        .as_array()
        .expect("scaled")
        .iter()
        .map(|s| {
            (
                s["field"].as_str().unwrap_or_default(),
                s["from"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        scaled,
        [
            ("nsTtl.during", 300),
            ("nsTtl.after", 172_800),
            ("pacing.minWait", 30),
            ("pacing.maxWait", 3_600)
        ]
    );
    let supplied: Vec<&str> = report["supplied"]
        .as_array()
        .expect("supplied")
        .iter()
        .filter_map(|s| s["field"].as_str())
        .collect();
    assert!(supplied.contains(&"registrar.roleArn"), "{supplied:?}");
}

/// A request that is not JSON is refused as StartExecution refuses it, before anything starts.
#[test]
fn a_request_that_is_not_json_is_refused_before_anything_starts() {
    let path =
        std::env::temp_dir().join(format!("zonehop-bad-request-{}.json", std::process::id()));
    std::fs::write(&path, "{\"domain\": \"example.com\", ").expect("write");
    let (status, report_dir) = rehearse("not-json", &["--request", &path.display().to_string()]);
    assert_eq!(status.code(), Some(1));
    assert!(!report_dir.join("source-zone.json").exists());
}
