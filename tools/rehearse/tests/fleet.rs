//! The fleet state machine end to end, small (`make rehearse-fleet` runs it large): the
//! rehearse-fleet binary runs statemachine/fleet.asl.json in moto's interpreter, whose
//! Distributed Map starts statemachine/migration.asl.json for each domain as a child
//! execution (startExecution.sync:2), with the real function binaries, against moto behind
//! the metering proxy (Route 53 limited to 5 requests a second per account, as AWS's older
//! quota) and one DNS world for every zone. Checked from the fleet report it leaves.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Runs rehearse-fleet with `args` into a fresh directory; returns its exit code and report.
fn rehearse_fleet(name: &str, args: &[&str]) -> (Option<i32>, Value, PathBuf) {
    let dir = std::env::temp_dir().join(format!("zonehop-{name}-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_rehearse-fleet"))
        .args(args)
        .env("REPORT_DIR", &dir)
        .status()
        .expect("run rehearse-fleet");
    let text = std::fs::read_to_string(dir.join("fleet-report.json"))
        .unwrap_or_else(|e| panic!("fleet-report.json: {e} (exit {:?})", status.code()));
    let report = serde_json::from_str(&text).expect("the report is JSON");
    (status.code(), report, dir)
}

#[test]
fn every_domain_of_a_fleet_migrates_and_a_refused_one_stops_no_other() {
    // GIVEN four domains of different shapes (the example zone with dev. kept behind, zones
    // of 10 and 60 record sets, and one of 250 whose request preflight refuses), two at a
    // time, Route 53 throttling past 5 requests a second per account.
    let (code, report, dir) = rehearse_fleet(
        "fleet-small",
        &[
            "--n",
            "4",
            "--refuse",
            "3",
            "--concurrency",
            "2",
            "--tolerated",
            "30",
        ],
    );
    // THEN the refused domain failed alone, named, with nothing to roll back ...
    let totals = &report["totals"];
    assert_eq!(totals["domains"], 4, "{report:#}");
    assert_eq!(totals["succeeded"], 3, "{report:#}");
    assert_eq!(totals["failed"], 1, "{report:#}");
    assert_eq!(totals["rolledBack"], 0, "{report:#}");
    assert_eq!(totals["throttlingFailures"], 0, "{report:#}");
    let domains = report["domains"].as_array().expect("domains");
    let refused = &domains[3];
    assert_eq!(refused["domain"], "fleet003.com");
    assert_eq!(refused["status"], "FAILED");
    assert_eq!(
        refused["error"]["errorType"], "InvalidRequest",
        "{refused:#}"
    );
    assert_eq!(refused["rolledBack"], false);
    // ... every other domain succeeded, with its window and cost ...
    for row in &domains[..3] {
        assert_eq!(row["status"], "SUCCEEDED", "{row:#}");
        assert!(
            row["window"]["seconds"].as_f64().is_some_and(|s| s >= 0.0),
            "{row:#}"
        );
        assert!(row["window"]["safeAt"].as_f64().is_some(), "{row:#}");
        assert!(
            row["cost"]["usdAtAwsPrices"]
                .as_f64()
                .is_some_and(|c| c > 0.0),
            "{row:#}"
        );
        assert!(row["executionArn"]
            .as_str()
            .is_some_and(|a| a.contains(":execution:migration:")));
    }
    // ... the fleet itself succeeded (25% failed, 30% tolerated), and the exit code says
    // that not every domain did.
    assert_eq!(report["fleetStatus"], "SUCCEEDED", "{report:#}");
    assert_eq!(code, Some(1));
    // AND no account was sent more than the budget in any second, none throttled: the
    // concurrency and the functions' pace kept the fleet under the rate.
    let accounts = report["rate"]["accounts"].as_array().expect("accounts");
    for role in ["source", "target"] {
        let a = accounts
            .iter()
            .find(|a| a["role"] == role)
            .unwrap_or_else(|| panic!("no {role} account in {accounts:?}"));
        assert!(a["calls"].as_u64().is_some_and(|c| c > 0), "{a}");
        assert_eq!(a["throttled"], 0, "{a}");
        assert!(a["peakPerSecond"].as_u64().is_some_and(|p| p <= 5), "{a}");
    }
    // AND two ran at once: the fleet took less than its domains' times summed.
    let wall = report["wallSeconds"].as_f64().expect("wall");
    let sum = report["sumOfDomainSeconds"].as_f64().expect("sum");
    assert!(wall < sum, "wall {wall} s, sum {sum} s");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fleet_whose_failed_share_exceeds_the_tolerated_one_fails_by_name_after_every_domain() {
    // GIVEN two domains whose requests preflight refuses, 10% tolerated, from an S3 object.
    let (code, report, dir) = rehearse_fleet(
        "fleet-refused",
        &["--n", "2", "--refuse", "0", "--refuse", "1", "--s3"],
    );
    // THEN both were tried (one's failure did not stop the other) and the fleet fails with
    // the share in its cause.
    assert_eq!(report["requestsFrom"], "s3");
    assert_eq!(report["totals"]["domains"], 2, "{report:#}");
    assert_eq!(report["totals"]["failed"], 2, "{report:#}");
    for row in report["domains"].as_array().expect("domains") {
        assert_eq!(row["error"]["errorType"], "InvalidRequest", "{row:#}");
    }
    assert_eq!(report["fleetStatus"], "FAILED");
    assert_eq!(report["fleetError"], "FleetFailureShareExceeded");
    let cause = report["fleetCause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("2 of 2 domains did not succeed (100%)"),
        "{cause}"
    );
    assert_eq!(code, Some(1));
    let _ = std::fs::remove_dir_all(dir);
}
