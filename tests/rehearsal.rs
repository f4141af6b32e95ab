//! `make rehearse` end to end: the rehearsal binary, the real function binaries behind
//! `cargo lambda watch`, moto server. Keeps the README's first command true.

use std::process::Command;

use zonehop::export::load_export;
use zonehop::plan::is_apex_soa_or_ns;
use zonehop::Name;

#[test]
fn the_example_zone_rehearsal_succeeds_and_leaves_its_report_and_zones() {
    let report_dir = std::env::temp_dir().join(format!("zonehop-rehearsal-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .env("REPORT_DIR", &report_dir)
        .status()
        .expect("run the rehearsal");
    let read = |file: &str| {
        std::fs::read_to_string(report_dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let report: serde_json::Value =
        serde_json::from_str(&read("report.json")).expect("report.json");
    assert!(status.success(), "rehearsal failed: {report:#}");
    assert_eq!(report["status"], "SUCCEEDED");
    let phases = report["phases"].as_array().expect("phases");
    assert!(phases.len() >= 5);
    assert!(phases
        .iter()
        .all(|p| p["startedAt"].as_str().is_some_and(|t| t.ends_with('Z'))));

    // The target holds the source's records less the apex SOA/NS and the dev subtree.
    let domain = Name::parse("example.com").expect("name");
    let dev = Name::parse("dev.example.com").expect("name");
    let source = load_export(&read("source-zone.json")).expect("source export");
    let target = load_export(&read("target-zone.json")).expect("target export");
    let moved = |zone: &zonehop::zone::Zone| -> Vec<String> {
        zone.iter()
            .filter(|r| !is_apex_soa_or_ns(r, &domain) && !r.name.is_at_or_below(&dev))
            .map(|r| r.key().to_string())
            .collect()
    };
    assert_eq!(moved(&target), moved(&source));
    assert_eq!(moved(&source).len(), 9);
    assert!(!target.iter().any(|r| r.name.is_at_or_below(&dev)));
    let _ = std::fs::remove_dir_all(&report_dir);
}
