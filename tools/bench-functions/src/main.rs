//! `make bench-functions` (issue #13.4): in one run, builds the functions and two reference
//! binaries (tools/bench-functions/reference: a hello-world `lambda_runtime` binary and a
//! bare one that loads aws-config and builds three SDK clients; same release profile), then
//! prints for each:
//! - its binary size, x86_64 (`cargo build --release`) and arm64 (`cargo lambda build
//!   --release --arm64`);
//! - init: from exec to its first `GET /runtime/invocation/next` on a local Runtime API
//!   stub ([`stub`]), min/median/max over `BENCH_RUNS` launches (default 30; launches of the
//!   binaries interleaved), and its RSS at that moment;
//! - two invocations of a representative event (`tests/events/<function>.json`, on zones
//!   seeded in moto: a source of about 1,200 RRsets and an empty target) with the AssumeRole
//!   calls and the new connections of each, counted by a keep-alive proxy in front of moto
//!   ([`zonehop_world::keepalive`]), and its RSS (current and peak) after them;
//! - the ratios of size, init median and RSS at init to both reference binaries.
//!
//! Environment: `BENCH_RUNS`; `BENCH_ONLY="a b"` (some functions only); `BENCH_SKIP_BUILD=1`
//! (use the binaries already built); `BENCH_ARM64=0` (no arm64 build). `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, when set, are passed to the binaries (to measure the certificate
//! choices). It prints figures; it fails only when a binary cannot be run.

mod stub;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use stub::{Arrival, RuntimeApi};
use tokio::process::{Child, Command};
use zonehop::Name;
use zonehop_world::keepalive::{KeepAliveProxy, ProxyCounts};
use zonehop_world::moto::Moto;
use zonehop_world::{repo_root, seed_zone, source_access, target_access, zonegen};

/// Every function (`zonehop_core::access::FUNCTION_NAMES`), carry-edits included.
const FUNCTIONS: &[&str] = &zonehop::core::access::FUNCTION_NAMES;
const HELLO: &str = "ref-hello";
const BARE: &str = "ref-bare-sdk";

#[derive(Debug, Default)]
struct Figures {
    size_x86: Option<u64>,
    size_arm: Option<u64>,
    init_ms: Vec<f64>,
    rss_init_kb: Vec<u64>,
    rss_after_kb: Option<u64>,
    peak_after_kb: Option<u64>,
    cold: Option<ProxyCounts>,
    warm: Option<ProxyCounts>,
    /// Event sent to outcome received, cold and warm.
    invocation_ms: Option<(f64, f64)>,
    outcome: String,
}

fn env_flag(name: &str, default: bool) -> bool {
    match std::env::var(name) {
        Ok(v) => !matches!(v.as_str(), "0" | "false" | "no" | ""),
        Err(_) => default,
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

async fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command
        .status()
        .await
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

async fn build(bins: &[&str], arm64: bool) -> Result<(), String> {
    let mut cargo = Command::new("cargo");
    cargo.current_dir(repo_root()).args(["build", "--release"]);
    for bin in bins {
        cargo.args(["--bin", bin]);
    }
    run(&mut cargo, "cargo build --release").await?;
    if arm64 {
        let mut lambda = Command::new("cargo-lambda");
        lambda
            .current_dir(repo_root())
            .args(["lambda", "build", "--release", "--arm64"]);
        for bin in bins {
            lambda.args(["--bin", bin]);
        }
        run(&mut lambda, "cargo lambda build --release --arm64").await?;
    }
    Ok(())
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn rss_kb(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts `bin` as Lambda would: the Runtime API at `api`, an empty home, the function's
/// AWS settings, every AWS call to `endpoint`.
fn launch(
    bin: &Path,
    name: &str,
    api: &RuntimeApi,
    endpoint: &str,
    home: &Path,
) -> std::io::Result<Child> {
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAZONEHOPBENCH0000")
        .env("AWS_SECRET_ACCESS_KEY", "zonehop-bench-secret")
        .env("AWS_SESSION_TOKEN", "zonehop-bench-token")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("HOME", home)
        .env("LAMBDA_TASK_ROOT", home)
        .env("RUST_LOG", "warn")
        // The ledger's table, as the stack gives the functions that read it (carry-edits
        // cannot run without it; the others that read it use it as in AWS).
        .env(
            "ZONEHOP_LEDGER_TABLE",
            zonehop_world::stepfunctions::LEDGER_TABLE,
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for pass in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Some(value) = std::env::var_os(pass) {
            command.env(pass, value);
        }
    }
    command.spawn()
}

async fn next_arrival(api: &mut RuntimeApi, within: Duration) -> Result<Arrival, String> {
    match tokio::time::timeout(within, api.arrivals.recv()).await {
        Ok(Some(arrival)) => Ok(arrival),
        Ok(None) => Err("the Runtime API stub stopped".to_owned()),
        Err(_) => Err(format!("nothing from the function within {within:?}")),
    }
}

async fn wait_next(
    api: &mut RuntimeApi,
    within: Duration,
) -> Result<tokio::sync::oneshot::Sender<Vec<u8>>, String> {
    match next_arrival(api, within).await? {
        Arrival::Next(reply) => Ok(reply),
        Arrival::InitError(body) => Err(format!("init error: {body}")),
        Arrival::Outcome { body, .. } => Err(format!("an outcome before a poll: {body}")),
    }
}

/// One launch to its first poll: the init time and the RSS then.
async fn one_init(
    bin: &Path,
    name: &str,
    api: &mut RuntimeApi,
    home: &Path,
) -> Result<(f64, Option<u64>), String> {
    api.drain();
    let started = Instant::now();
    let mut child = launch(bin, name, api, "http://127.0.0.1:9", home)
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let polled = wait_next(api, Duration::from_secs(20)).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let rss = child.id().and_then(|pid| rss_kb(pid).0);
    let _ = child.start_kill();
    let _ = child.wait().await;
    drop(polled?);
    Ok((elapsed, rss))
}

/// The event of `name`, on the seeded zones; what the reference binaries get for theirs.
fn event_for(name: &str, source_id: &str, target_id: &str) -> Vec<u8> {
    let path = repo_root()
        .join("tests/events")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| "{}".to_owned());
    text.replace("Z0OLDEXAMPLE", source_id)
        .replace("Z1NEWEXAMPLE", target_id)
        // Probes go to a closed loopback port, never to the host's resolver.
        .replace("127.0.0.53:53", "127.0.0.1:9")
        .into_bytes()
}

/// What two invocations did: the proxy's counts of each, their durations (ms), the RSS
/// (current, peak) after them, their outcomes.
type TwoInvocations = (
    ProxyCounts,
    ProxyCounts,
    (f64, f64),
    (Option<u64>, Option<u64>),
    String,
);

/// Two invocations of `event` in one process.
async fn two_invocations(
    bin: &Path,
    name: &str,
    api: &mut RuntimeApi,
    proxy: &KeepAliveProxy,
    event: &[u8],
    home: &Path,
) -> Result<TwoInvocations, String> {
    api.drain();
    let mut child = launch(bin, name, api, &proxy.endpoint(), home)
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let result = async {
        let mut counts = Vec::new();
        let mut outcomes = Vec::new();
        let mut took = Vec::new();
        let mut reply = wait_next(api, Duration::from_secs(20)).await?;
        for _ in 0..2 {
            counts.push(proxy.counts());
            let sent = Instant::now();
            let _ = reply.send(event.to_vec());
            match next_arrival(api, Duration::from_secs(300)).await? {
                Arrival::Outcome { error, body } => outcomes.push(if error {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    format!("error {}", v["errorType"].as_str().unwrap_or("?"))
                } else {
                    "ok".to_owned()
                }),
                other => return Err(format!("expected an outcome, got {other:?}")),
            }
            took.push(sent.elapsed().as_secs_f64() * 1000.0);
            reply = wait_next(api, Duration::from_secs(20)).await?;
        }
        counts.push(proxy.counts());
        let rss = child.id().map(rss_kb).unwrap_or((None, None));
        drop(reply);
        Ok((
            counts[1] - counts[0],
            counts[2] - counts[1],
            (took[0], took[1]),
            rss,
            outcomes.join(" / "),
        ))
    }
    .await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn mib(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

fn size(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.1}", b as f64 / 1_048_576.0))
        .unwrap_or_else(|| "-".into())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn counts(c: Option<ProxyCounts>) -> String {
    c.map(|c| format!("{}/{}", c.assume_role, c.connections))
        .unwrap_or_else(|| "-".into())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.split([',', ' '])
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect()
        });
    let functions: Vec<&str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| only.as_ref().is_none_or(|o| o.iter().any(|x| x == f)))
        .collect();
    let mut bins: Vec<&str> = vec![HELLO, BARE];
    bins.extend(&functions);
    let arm64 = env_flag("BENCH_ARM64", true);

    if !env_flag("BENCH_SKIP_BUILD", false) {
        println!(
            "building {} binaries (release; x86_64{}) ...",
            bins.len(),
            if arm64 { " and arm64" } else { "" }
        );
        if let Err(e) = build(&bins, arm64).await {
            eprintln!("bench-functions: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let target = target_dir();
    let mut figures: Vec<Figures> = bins.iter().map(|_| Figures::default()).collect();
    for (bin, f) in bins.iter().zip(figures.iter_mut()) {
        f.size_x86 = file_size(&target.join("release").join(bin));
        f.size_arm = file_size(&target.join("lambda").join(bin).join("bootstrap"));
    }

    let home = std::env::temp_dir().join(format!("zonehop-bench-functions-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&home) {
        eprintln!("bench-functions: {}: {e}", home.display());
        return std::process::ExitCode::FAILURE;
    }
    let mut api = match RuntimeApi::start().await {
        Ok(api) => api,
        Err(e) => {
            eprintln!("bench-functions: the Runtime API stub: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };

    println!("init: {runs} launches of each binary, interleaved ...");
    for _ in 0..runs {
        for (bin, f) in bins.iter().zip(figures.iter_mut()) {
            match one_init(&target.join("release").join(bin), bin, &mut api, &home).await {
                Ok((ms, rss)) => {
                    f.init_ms.push(ms);
                    f.rss_init_kb.extend(rss);
                }
                Err(e) => {
                    eprintln!("bench-functions: {bin}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
    }

    println!("two invocations of each against moto ...");
    let moto = Moto::start().await;
    let seeding = moto.config().await;
    zonehop_world::stepfunctions::create_ledger(&seeding)
        .await
        .expect("the ledger's table");
    let proxy = match KeepAliveProxy::start(([127, 0, 0, 1], moto.port()).into()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bench-functions: the counting proxy: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let domain = Name::parse("example.com").expect("a valid name");
    for (bin, f) in bins.iter().zip(figures.iter_mut()) {
        // Each its own pair of zones: some steps change them.
        let records = zonegen::every_kind(&domain, "SOURCE", 30);
        let source_id = seed_zone(&seeding, &source_access(), &domain, &records).await;
        let target_id = seed_zone(&seeding, &target_access(), &domain, &[]).await;
        let event = event_for(bin, &source_id, &target_id);
        match two_invocations(
            &target.join("release").join(bin),
            bin,
            &mut api,
            &proxy,
            &event,
            &home,
        )
        .await
        {
            Ok((cold, warm, took, (rss, peak), outcome)) => {
                f.cold = Some(cold);
                f.warm = Some(warm);
                f.invocation_ms = Some(took);
                f.rss_after_kb = rss;
                f.peak_after_kb = peak;
                f.outcome = outcome;
            }
            Err(e) => f.outcome = format!("failed: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&home);

    let medians: Vec<Option<f64>> = figures.iter().map(|f| median(&f.init_ms)).collect();
    let rss_init: Vec<Option<f64>> = figures
        .iter()
        .map(|f| median(&f.rss_init_kb.iter().map(|&k| k as f64).collect::<Vec<_>>()))
        .collect();
    println!();
    println!("| binary | size x86_64 MiB | size arm64 MiB | init ms min / median / max | RSS at init MiB | RSS after 2 events (peak) MiB | AssumeRole/new connections cold | warm | invocation ms cold / warm | events |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for ((bin, f), med) in bins.iter().zip(&figures).zip(&medians) {
        let min = f.init_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = f.init_ms.iter().copied().fold(0.0, f64::max);
        println!(
            "| {bin} | {} | {} | {min:.2} / {:.2} / {max:.2} | {} | {} ({}) | {} | {} | {} | {} |",
            size(f.size_x86),
            size(f.size_arm),
            med.unwrap_or(0.0),
            mib(rss_init[bins.iter().position(|b| b == bin).unwrap_or(0)].map(|k| k as u64)),
            mib(f.rss_after_kb),
            mib(f.peak_after_kb),
            counts(f.cold),
            counts(f.warm),
            f.invocation_ms
                .map(|(cold, warm)| format!("{cold:.1} / {warm:.1}"))
                .unwrap_or_else(|| "-".into()),
            f.outcome,
        );
    }
    println!();
    println!("ratios to the reference binaries (bare SDK | hello world):");
    println!("| function | init median | RSS at init | size x86_64 | size arm64 |");
    println!("|---|---|---|---|---|");
    let (hello, bare) = (&figures[0], &figures[1]);
    let f64_of = |v: Option<u64>| v.map(|v| v as f64);
    for (i, bin) in bins.iter().enumerate().skip(2) {
        let f = &figures[i];
        println!(
            "| {bin} | {} \\| {} | {} \\| {} | {} \\| {} | {} \\| {} |",
            ratio(medians[i], medians[1]),
            ratio(medians[i], medians[0]),
            ratio(rss_init[i], rss_init[1]),
            ratio(rss_init[i], rss_init[0]),
            ratio(f64_of(f.size_x86), f64_of(bare.size_x86)),
            ratio(f64_of(f.size_x86), f64_of(hello.size_x86)),
            ratio(f64_of(f.size_arm), f64_of(bare.size_arm)),
            ratio(f64_of(f.size_arm), f64_of(hello.size_arm)),
        );
    }
    let worst = (2..bins.len())
        .filter_map(|i| Some((medians[i]? / medians[1]?, bins[i])))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((r, bin)) = worst {
        println!();
        println!("slowest init against the bare SDK binary: {bin}, {r:.2}x (issue #13 asks at most 0.60x)");
    }
    let warm_calls: u64 = figures
        .iter()
        .skip(2)
        .filter_map(|f| f.warm)
        .map(|w| w.assume_role)
        .sum();
    let warm_conns: u64 = figures
        .iter()
        .skip(2)
        .filter_map(|f| f.warm)
        .map(|w| w.connections)
        .sum();
    println!("warm invocations, all functions: {warm_calls} AssumeRole calls, {warm_conns} new connections");
    drop(moto);
    std::process::ExitCode::SUCCESS
}
