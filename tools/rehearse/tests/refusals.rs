//! `make rehearse` with bad inputs, as a careless or hostile user gives them (issue #23): a
//! sample of the requests (`REQUEST=`) and exports (`ZONE=`) that were once rehearsed as if
//! fine, each refused by a named error before anything starts (no moto, no DNS world, no
//! zone written), so the whole file runs in a second or two. The full catalogue is in
//! `functions/zonehop/tests/bad_inputs.rs`; these show the rehearsal path refuses them too.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

/// The bundled request (`tests/rehearsal/request.example.json`), a good one.
fn example_request() -> Value {
    let path = zonehop_world::repo_root().join("tests/rehearsal/request.example.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the example request"))
        .expect("JSON")
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "zonehop-refusal-{name}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write");
    path
}

/// Runs the rehearsal; returns its exit code, stderr and the report directory.
fn rehearse(name: &str, args: &[&str]) -> (Option<i32>, String, PathBuf) {
    let report_dir =
        std::env::temp_dir().join(format!("zonehop-refusal-{name}-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(args)
        .env("REPORT_DIR", &report_dir)
        .output()
        .expect("run the rehearsal");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        report_dir,
    )
}

fn set(mut request: Value, pointer: &str, value: Value) -> Value {
    *request.pointer_mut(pointer).expect("the field exists") = value;
    request
}

#[test]
fn bad_requests_are_refused_by_name_before_anything_starts() {
    let base = example_request();
    let cutover = |record: Value| set(base.clone(), "/cutover/records/0", record);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "ns-ttl-over-two-days",
            set(base.clone(), "/nsTtl/during", json!(172_801)).to_string(),
            "nsTtl.during 172801 is outside",
        ),
        (
            "ns-ttl-misspelt",
            set(base.clone(), "/nsTtl", json!({"durng": 300, "after": 172_800})).to_string(),
            "unknown field `durng`",
        ),
        (
            "pacing-as-strings",
            set(base.clone(), "/pacing", json!({"minWait": "60", "maxWait": "3600"})).to_string(),
            "field `pacing.",
        ),
        (
            "cutover-ttl-over",
            cutover(json!({"name": "api.example.com", "type": "A", "values": ["203.0.113.9"], "ttl": 2_147_483_648_i64})).to_string(),
            "TTL 2147483648",
        ),
        (
            "cutover-txt-unquoted",
            cutover(json!({"name": "example.com", "type": "TXT", "values": ["v=spf1 -all"]})).to_string(),
            "outside quotation marks",
        ),
        (
            "cutover-in-kept-subtree",
            cutover(json!({"name": "api.dev.example.com", "type": "A", "values": ["203.0.113.9"]})).to_string(),
            "inside the kept subtree",
        ),
        (
            "dry-run-twice",
            base.to_string().replacen('{', "{\"dryRun\": true, ", 1),
            "`dryRun` is given twice",
        ),
        (
            "byte-order-mark",
            format!("\u{feff}{base}"),
            "byte-order mark",
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, says) in cases {
        let path = write(name, &text);
        let (code, stderr, report_dir) =
            rehearse(name, &["--request", &path.display().to_string()]);
        let report: Value = std::fs::read_to_string(report_dir.join("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let ok = code == Some(1)
            && stderr.contains("refused before anything started")
            && report["error"]["errorType"] == "InvalidRequest"
            && report["error"]["cause"]
                .as_str()
                .is_some_and(|c| c.contains(says))
            && !report_dir.join("source-zone.json").exists();
        if !ok {
            failures.push(format!(
                "{name}: exit {code:?}, `{says}`?\n{stderr}\n{report:#}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bad_exports_are_refused_by_name_before_anything_starts() {
    let set = |name: &str, rtype: &str, ttl: i64, value: &str| json!({"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": value}]});
    let cases = [
        (
            "cname-beside-aaaa",
            json!({"ResourceRecordSets": [
                set("www.example.com.", "CNAME", 60, "lb.example.net."),
                set("www.example.com.", "AAAA", 60, "2001:db8::1"),
            ]}),
            "a CNAME beside AAAA",
        ),
        (
            "caa-unbalanced",
            json!({"ResourceRecordSets": [set("example.com.", "CAA", 60, "0 issue \"amazon.com")]}),
            "quotation mark is not closed",
        ),
        (
            "truncated-page",
            json!({"ResourceRecordSets": [set("a.example.com.", "A", 60, "192.0.2.1")], "IsTruncated": true, "NextRecordName": "b.example.com."}),
            "without --max-items",
        ),
    ];
    for (name, export, says) in cases {
        let path = write(name, &export.to_string());
        let (code, stderr, report_dir) = rehearse(
            name,
            &[
                "--zone",
                &path.display().to_string(),
                "--domain",
                "example.com",
            ],
        );
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: `{says}` in {stderr}");
        assert!(!report_dir.join("source-zone.json").exists(), "{name}");
    }
}
