//! The operator tool (`zonehop`, this crate's binary) against the emulator: moto's Step
//! Functions running statemachine/migration.asl.json with every function binary behind
//! `cargo lambda watch`, and the DNS world on loopback. The binary talks to moto through
//! aws-sdk-sfn exactly as it talks to AWS (`AWS_ENDPOINT_URL`).
//!
//! One migration with a registrar outside AWS, driven by the tool: `start` starts it,
//! `watch DOMAIN` follows it live from the start, `report` writes its report while it waits
//! for the operator and after it has ended, `resume` refuses while the parent zone still
//! names the old servers and resumes it once it names the new ones, `watch ARN` on the
//! finished execution prints the whole story and exits. The functions' logs of that run are
//! then checked: JSON, in the step's span, no credential, no task token. And `start` refusing
//! bad requests without sending anything.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zonehop::core::delegation::canonical_servers;
use zonehop::core::request::RegistrarKind;
use zonehop::ports::hosted_zones::HostedZones;
use zonehop_world::logs::{check_function_log, steps_passed_the_execution, LogExpectations};
use zonehop_world::rehearsal::{functions_started, operator_request, Scenario, Stage};
use zonehop_world::stepfunctions::LocalStepFunctions;
use zonehop_world::{route53_in, source_access};

const SECRET: &str = "zonehop-test-secret";

/// The tool, with the emulator's endpoint and the harness's credentials, nothing else of
/// the environment's AWS settings.
fn zonehop(endpoint: &str, machine: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zonehop"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("ZONEHOP_") {
            command.env_remove(key);
        }
    }
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIAZONEHOPTEST00000")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    if let Some(machine) = machine {
        command.env("ZONEHOP_STATE_MACHINE_ARN", machine);
    }
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("run zonehop")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("zonehop-operator-{name}-{}", std::process::id()))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Waits for a child with a deadline; its exit status and stdout.
fn wait_child(mut child: Child, within: Duration) -> (Option<i32>, String) {
    let begun = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_string(&mut out);
            }
            return (status.code(), out);
        }
        if begun.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_string(&mut out);
            }
            panic!("zonehop watch did not end within {within:?}; it printed:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_starts_watches_reports_and_resumes_a_manual_migration_in_the_emulator() {
    // GIVEN the example zone staged as a rehearsal stages it, its registrar outside AWS.
    let log = temp("functions.log");
    let local: LocalStepFunctions = functions_started(&log).await;
    let mut scenario = Scenario::example();
    scenario.registrar = RegistrarKind::Manual;
    let stage = Stage::build(&local, &scenario, |_| {})
        .await
        .expect("the rehearsal world starts");
    let endpoint = local.moto.endpoint();
    let machine = stage.machine_arn.clone();
    let tool = || zonehop(&endpoint, Some(&machine));
    let request_file = temp("request.json");
    std::fs::write(&request_file, stage.request(&scenario).to_string()).expect("request");

    // WHEN the operator starts it with the tool
    let mut start = tool();
    start
        .args(["start"])
        .arg(&request_file)
        .args(["--name", "example-com-operator"]);
    let started = run(start);
    let stdout = text(&started.stdout);
    assert_eq!(
        started.status.code(),
        Some(0),
        "{stdout}{}",
        text(&started.stderr)
    );
    let arn = stdout
        .lines()
        .find_map(|l| l.strip_prefix("started "))
        .expect("the execution's ARN")
        .trim()
        .to_owned();
    assert!(arn.ends_with(":example-com-operator"), "{arn}");

    // and watches it by its domain, live, from the start
    let live_errors = temp("watch-stderr.txt");
    let live = tool()
        .args(["watch", "example.com", "--poll", "0.5"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&live_errors).expect("stderr file"))
        .spawn()
        .expect("watch");

    // THEN it comes to wait for the operator
    let asked = local
        .sfn
        .wait_for_event(&arn, Duration::from_secs(150), |e| {
            operator_request(e).is_some()
        })
        .await
        .expect("the operator is asked");
    let detail = operator_request(&asked).expect("detail");
    let token = detail["taskToken"].as_str().expect("token").to_owned();
    let new_servers: Vec<String> = detail["nameServers"]
        .as_array()
        .expect("nameServers")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let mut printed = String::new();

    // and `report` on the running execution says so
    let running_dir = temp("report-running");
    let mut report = tool();
    report.args(["report", &arn, "--out"]).arg(&running_dir);
    let out = run(report);
    printed.push_str(&text(&out.stdout));
    printed.push_str(&text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let running = read_json(&running_dir.join("report.json"));
    assert_eq!(running["status"], "RUNNING", "{running:#}");
    assert_eq!(running["executionArn"], json!(arn));
    assert_eq!(running["domain"], "example.com");
    let phases = running["phases"].as_array().expect("phases");
    let last = phases.last().expect("a phase");
    assert_eq!(last["name"], "awaiting-operator", "{running:#}");
    assert_eq!(last["status"], "RUNNING");
    assert!(last["endedAt"].is_null());
    assert!(phases[..phases.len() - 1]
        .iter()
        .all(|p| p["status"] == "SUCCEEDED"));
    assert!(running["verification"]["rrsetsCompared"].as_u64() >= Some(9));
    let html = std::fs::read_to_string(running_dir.join("report.html")).expect("report.html");
    assert!(
        html.contains("awaiting-operator"),
        "the page shows the running phase"
    );

    // WHEN resume is asked while the parent (the registry's servers) still names the old
    // servers, THEN it refuses, saying what it sees, and sends nothing.
    let source = route53_in(&stage.base, &source_access()).await;
    let old_servers = canonical_servers(
        &source
            .get_zone(&stage.source_id)
            .await
            .expect("source zone")
            .name_servers,
    );
    let mut resume = tool();
    resume.args(["resume", "example.com", "--dns-port", "53"]);
    let refused = run(resume);
    let said = text(&refused.stderr);
    printed.push_str(&said);
    printed.push_str(&text(&refused.stdout));
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("not resumed"), "{said}");
    for old in &old_servers {
        assert!(
            said.contains(old.as_str()),
            "it says what the parent names ({old}): {said}"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = local.sfn.history(&arn).await.expect("history");
    assert!(
        !still
            .iter()
            .any(|e| e.state_exited() == Some(zonehop_world::rehearsal::OPERATOR_STATE)),
        "a refused resume leaves the execution waiting"
    );

    // WHEN the operator sets them at the registrar and the parent names them, resume goes on.
    stage
        .operator_sets_name_servers(&new_servers)
        .await
        .expect("the operator sets them at the registrar");
    let begun = Instant::now();
    let resumed = loop {
        let mut resume = tool();
        resume.args(["resume", "example.com", "--dns-port", "53"]);
        let out = run(resume);
        printed.push_str(&text(&out.stdout));
        printed.push_str(&text(&out.stderr));
        if out.status.code() == Some(0) {
            break out;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(30),
            "resume kept refusing after the registry changed: {printed}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(
        text(&resumed.stdout).contains(&format!("resumed {arn}")),
        "{}",
        text(&resumed.stdout)
    );

    // THEN the live watch follows it to its end and exits 0, having shown every phase and
    // each propagation round.
    let (code, watched) = wait_child(live, Duration::from_secs(240));
    printed.push_str(&watched);
    let watch_errors = std::fs::read_to_string(&live_errors).unwrap_or_default();
    printed.push_str(&watch_errors);
    assert_eq!(code, Some(0), "{watched}{watch_errors}");
    for expected in [
        &format!("execution {arn}"),
        "▶ preflight",
        "▶ sync-records",
        "▶ awaiting-operator",
        "▶ check-propagation",
        "round 1: parent servers on new",
        "SAFE to retire the old side",
        "▶ finalize",
        "■ succeeded",
        "summary",
    ] {
        assert!(watched.contains(expected), "no `{expected}` in:\n{watched}");
    }

    // and `watch ARN` on the finished execution prints the same story at once and exits.
    let begun = Instant::now();
    let mut again = tool();
    again.args(["watch", &arn]);
    let finished = run(again);
    let story = text(&finished.stdout);
    printed.push_str(&story);
    assert_eq!(finished.status.code(), Some(0), "{story}");
    assert!(begun.elapsed() < Duration::from_secs(20));
    let phase_lines = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.split_once("] ▶ ").map(|(_, p)| p.to_owned()))
            .collect()
    };
    assert_eq!(phase_lines(&story), phase_lines(&watched));
    assert!(
        story.contains("safe since") || story.contains("safe at"),
        "{story}"
    );

    // and `report` on it: every phase ended, the rounds, the cost, the page with its chart.
    let done_dir = temp("report-done");
    let mut report = tool();
    report.args(["report", &arn, "--out"]).arg(&done_dir);
    let out = run(report);
    printed.push_str(&text(&out.stdout));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let done = read_json(&done_dir.join("report.json"));
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert!(done["error"].is_null());
    let phases = done["phases"].as_array().expect("phases");
    assert!(
        phases.iter().all(|p| p["status"] == "SUCCEEDED"),
        "{done:#}"
    );
    assert!(phases.iter().any(|p| p["name"] == "finalize"));
    let p = &done["propagation"];
    assert!(p["rounds"].as_u64() >= Some(1), "{p}");
    assert_eq!(
        p["timeline"].as_array().map(Vec::len),
        p["rounds"].as_u64().map(|n| n as usize)
    );
    assert!(
        p["safeAt"].is_string() && p["completedAt"].is_string(),
        "{p}"
    );
    assert!(
        done["cost"]["stateTransitions"].as_u64() > Some(20),
        "{done:#}"
    );
    assert!(done["cost"]["lambdaInvocations"].as_u64() >= Some(8));
    assert_eq!(done["zones"]["source"], json!(stage.source_id));
    assert!(done["zones"]["target"].is_string());
    let html = std::fs::read_to_string(done_dir.join("report.html")).expect("report.html");
    assert!(html.contains("<svg"), "the propagation chart is drawn");

    // `start --via-eventbridge` puts the Migration Requested event (moto's EventBridge; no
    // rule here, so nothing starts) after the same check.
    let mut put = tool();
    put.arg("start")
        .arg(&request_file)
        .args(["--via-eventbridge", "default"]);
    let out = run(put);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.starts_with("put the Migration Requested event ") && said.contains("example.com"),
        "{said}"
    );

    // Never the task token, not even in part, in anything the tool printed.
    assert!(
        !printed.contains(&token[..token.len().min(12)]),
        "the tool printed (part of) the task token"
    );

    // The functions' logs of this run: JSON in the step's span, no credential, no token.
    let logs = std::fs::read_to_string(&log).expect("functions.log");
    let execution = arn.rsplit(':').next().expect("name");
    let summary = check_function_log(
        &logs,
        &LogExpectations {
            domain: "example.com",
            execution,
            secrets: vec![SECRET.to_owned(), token.clone()],
        },
    )
    .unwrap_or_else(|problems| panic!("{}", problems.join("\n")));
    for step in [
        "preflight",
        "create-zone",
        "delegate-subdomain",
        "sync-records",
        "verify-zones",
        "lower-ns-ttl",
        "swap-nameservers",
        "check-propagation",
        "finalize",
    ] {
        assert!(
            summary.lines_of_domain.get(step).copied().unwrap_or(0) >= 2,
            "{step} logged its invocations with the domain: {summary:?}"
        );
    }
    // Every step is passed the execution's id; each that ran logs its name on every line
    // of the domain.
    let passed = steps_passed_the_execution();
    assert_eq!(passed.len(), 12, "{passed:?}");
    for (step, lines) in &summary.lines_of_domain {
        assert!(
            passed.contains(step),
            "{step} is not passed the execution: {passed:?}"
        );
        assert_eq!(
            summary.lines_of_execution.get(step),
            Some(lines),
            "{step} logs the execution's name on every line of the domain: {summary:?}"
        );
    }
    assert!(summary.metric_lines >= 1, "{summary:?}");
}

/// A loopback listener standing in for AWS: counts the connections made to it (each is
/// closed at once).
fn counting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (endpoint, count)
}

#[test]
fn start_refuses_a_bad_request_with_its_named_error_and_sends_nothing() {
    let (endpoint, connections) = counting_endpoint();
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:zonehop";
    let good = json!({
        "domain": "example.com",
        "source": { "hostedZoneId": "Z0OLDEXAMPLE" },
        "probe": { "resolvers": ["192.0.2.53"] },
    });
    let mut cases = vec![
        (
            "no domain",
            json!({ "source": { "hostedZoneId": "Z0OLD" } }).to_string(),
            "domain",
        ),
        ("not JSON", "{ \"domain\": ".to_owned(), "not JSON"),
    ];
    let mut bad = good.clone();
    bad["source"]["hostedZoneId"] = json!("not-a-zone");
    cases.push(("bad zone id", bad.to_string(), "source"));
    let mut bad = good.clone();
    bad["pacing"] = json!({ "minWait": 0, "maxWait": 10 });
    cases.push(("zero wait", bad.to_string(), "minWait"));
    let mut bad = good.clone();
    bad["dryrun"] = json!(true);
    cases.push(("misspelt field", bad.to_string(), "dryrun"));
    let mut bad = good.clone();
    bad["keepInSource"] = json!(["example.org"]);
    cases.push(("keep outside the domain", bad.to_string(), "example.org"));
    // Issue #23: a key given twice (serde_json would keep the last: a dry run that runs for
    // real), and a byte-order mark, each named.
    let twice = good
        .to_string()
        .replacen('{', "{\"dryRun\": true, \"dryRun\": false, ", 1);
    cases.push(("dryRun twice", twice, "`dryRun` is given twice"));
    cases.push((
        "byte-order mark",
        format!("\u{feff}{good}"),
        "byte-order mark",
    ));
    let mut bad = good.clone();
    bad["cutover"] =
        json!({"records": [{"name": "example.com", "type": "TXT", "values": ["v=spf1 -all"]}]});
    cases.push(("unquoted TXT", bad.to_string(), "outside quotation marks"));
    for (case, request, names) in &cases {
        let file = temp(&format!("bad-{}.json", case.replace(' ', "-")));
        std::fs::write(&file, request).expect("write");
        for via in [None, Some("zonehop-bus")] {
            let mut command = zonehop(&endpoint, Some(machine));
            command.arg("start").arg(&file);
            if let Some(bus) = via {
                command.args(["--via-eventbridge", bus]);
            }
            let out = run(command);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
            assert!(
                stderr.starts_with(
                    "zonehop: the request is refused, nothing was started: InvalidRequest: "
                ),
                "{case}: {stderr}"
            );
            assert!(stderr.contains(names), "{case}: names `{names}`: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{case}: one line: {stderr}");
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        }
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused request reaches no endpoint"
    );

    // The control: a good request does go to the endpoint (which hangs up: an error, exit 1).
    let file = temp("good.json");
    std::fs::write(&file, good.to_string()).expect("write");
    let mut command = zonehop(&endpoint, Some(machine));
    command.arg("start").arg(&file);
    let out = run(command);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("StartExecution"), "{stderr}");
    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the good request was sent"
    );
}

#[test]
fn bad_arguments_exit_2_with_the_usage() {
    for args in [
        &[][..],
        &["launch"][..],
        &["watch"][..],
        &["resume", "example.com", "--dns-port", "dns"][..],
        &["report", "arn:x", "--color", "red"][..],
    ] {
        let mut command = zonehop("http://127.0.0.1:9", None);
        command.args(args);
        let out = run(command);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        // clap's message names the argument at fault and points at the help (no command at
        // all: the help itself).
        assert!(
            stderr.contains("Usage: zonehop") || stderr.contains("try '--help'"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Each subcommand has its help, and the top level says the exit codes.
    for args in [
        &["--help"][..],
        &["start", "--help"][..],
        &["resume", "--help"][..],
    ] {
        let mut command = zonehop("http://127.0.0.1:9", None);
        command.args(args);
        let out = run(command);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: zonehop"), "{args:?}");
    }
    let mut command = zonehop("http://127.0.0.1:9", None);
    command.arg("--help");
    assert!(text(&run(command).stdout).contains("Exit status: 0 done"));
}

#[test]
fn without_credentials_the_error_is_one_line_that_says_what_to_do() {
    // No credentials anywhere (no keys, no profile, no instance metadata); the endpoint is
    // loopback, never reached.
    let mut command = zonehop("http://127.0.0.1:9", None);
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", "/nonexistent");
    command.args([
        "watch",
        "arn:aws:states:us-east-1:111111111111:execution:zonehop:x",
    ]);
    let out = run(command);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(stderr.len() < 300, "{} characters: {stderr}", stderr.len());
}
