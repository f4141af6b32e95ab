//! `make rehearse-fleet N=50` (or `ZONES=dir/`): a fleet of domains migrated in one execution
//! of `statemachine/fleet.asl.json` on the local world (`zonehop_world::fleet`). Prints the
//! domains succeeded, failed and rolled back; the Route 53 calls per second to each account,
//! peak and mean, against the budget; the wall time against the sum of the domains' own
//! execution times; writes `fleet-report.json` in `REPORT_DIR` (default `target/rehearsal-fleet`).
//! Exits 0 when every domain succeeded, 1 when any did not, 2 on bad arguments or a world
//! that did not come up.
//!
//! Options: `--n N` (generated domains, default 10), `--zones DIR` (each `DOMAIN.json` an
//! export), `--concurrency C` (the fleet's maxConcurrency; default: the state machine's),
//! `--rate R` (Route 53 requests a second per account, emulated; 0: no limit; default 5),
//! `--burst B` (default: R), `--budget R` (what the peaks are judged against; default 5),
//! `--refuse K` (the K-th domain's request is one preflight refuses), `--tolerated P`,
//! `--s3` (the requests reach the fleet as an S3 object), `--timeout SECONDS`, `--pace R`
//! (each function invocation's Route 53 requests a second per account,
//! `ZONEHOP_ROUTE53_CALLS_PER_SECOND`; 0: unpaced; default 2), `--targets-by-create-zone`
//! (create-zone makes each target zone during the fleet, instead of the rehearsal before it:
//! `zonehop_world::fleet::FleetOptions::targets_made_first` says why that is not the default).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use zonehop_world::faults::rate::RateLimit;
use zonehop_world::fleet::{from_dir, generated, rehearse_fleet, summary_lines, FleetOptions};

struct Args {
    n: usize,
    zones: Option<PathBuf>,
    refuse: Vec<usize>,
    options: FleetOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        n: 10,
        zones: None,
        refuse: Vec::new(),
        options: FleetOptions::default(),
    };
    let mut rate: Option<f64> = None;
    args.options.pace = Some(2.0);
    let mut burst: Option<f64> = None;
    let mut it = std::env::args().skip(1);
    let number = |flag: &str, value: &str| -> Result<f64, String> {
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("{flag} {value}: not a number >= 0"))
    };
    while let Some(flag) = it.next() {
        if flag == "--s3" {
            args.options.via_s3 = true;
            continue;
        }
        if flag == "--targets-by-create-zone" {
            args.options.targets_made_first = false;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--n" => {
                args.n = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("--n {value}: a number of domains from 1 to 1000"))?
            }
            "--zones" => args.zones = (!value.is_empty()).then(|| PathBuf::from(value)),
            "--concurrency" => {
                args.options.max_concurrency = match value.as_str() {
                    "" => None,
                    v => Some(
                        v.parse()
                            .ok()
                            .filter(|c| *c >= 1)
                            .ok_or_else(|| format!("--concurrency {v}: a number >= 1"))?,
                    ),
                }
            }
            "--rate" => rate = Some(number(&flag, &value)?),
            "--burst" => burst = Some(number(&flag, &value)?),
            "--budget" => args.options.budget_per_second = number(&flag, &value)?,
            "--pace" => {
                let pace = number(&flag, &value)?;
                args.options.pace = (pace > 0.0).then_some(pace);
            }
            "--tolerated" => {
                args.options.tolerated_failure_percentage = value
                    .parse()
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| format!("--tolerated {value}: a percentage from 0 to 100"))?
            }
            "--refuse" => args.refuse.push(
                value
                    .parse()
                    .map_err(|_| format!("--refuse {value}: a domain's index"))?,
            ),
            "--timeout" => {
                args.options.timeout = Duration::from_secs(number(&flag, &value)? as u64)
            }
            other => {
                return Err(format!(
                    "unknown option {other} (--n, --zones, --concurrency, --rate, --burst, --budget, --pace, --tolerated, --refuse, --s3, --targets-by-create-zone, --timeout)"
                ))
            }
        }
    }
    match rate {
        Some(r) if r <= 0.0 => args.options.rate = None,
        Some(r) => {
            args.options.rate = Some(RateLimit {
                per_second: r,
                burst: burst.unwrap_or(r),
            })
        }
        None => {
            if let (Some(b), Some(limit)) = (burst, args.options.rate.as_mut()) {
                limit.burst = b;
            }
        }
    }
    Ok(args)
}

fn say(line: &str) {
    println!("{line}");
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rehearse-fleet: {e}");
            return ExitCode::from(2);
        }
    };
    // cargo lambda watch, and the functions it starts, inherit this process's environment;
    // set before any thread exists.
    match args.options.pace {
        Some(pace) => std::env::set_var("ZONEHOP_ROUTE53_CALLS_PER_SECOND", pace.to_string()),
        None => std::env::remove_var("ZONEHOP_ROUTE53_CALLS_PER_SECOND"),
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(e) => {
            eprintln!("rehearse-fleet: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> ExitCode {
    let mut domains = match &args.zones {
        Some(dir) => match from_dir(dir) {
            Ok(domains) => domains,
            Err(e) => {
                eprintln!("rehearse-fleet: ZONES={e}");
                return ExitCode::from(2);
            }
        },
        None => generated(args.n),
    };
    for &k in &args.refuse {
        match domains.get_mut(k) {
            Some(d) => d.refused = true,
            None => {
                eprintln!(
                    "rehearse-fleet: --refuse {k}: the fleet has {} domains",
                    domains.len()
                );
                return ExitCode::from(2);
            }
        }
    }
    let report_dir = std::env::var_os("REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| zonehop_world::repo_root().join("target/rehearsal-fleet"));
    if let Err(e) = std::fs::create_dir_all(&report_dir) {
        eprintln!(
            "rehearse-fleet: cannot create {}: {e}",
            report_dir.display()
        );
        return ExitCode::from(2);
    }
    let _ = std::fs::remove_file(report_dir.join("fleet-report.json"));
    say(&format!(
        "fleet rehearsal: {} domains ({} record sets), report in {}",
        domains.len(),
        domains.iter().map(|d| d.records.len()).sum::<usize>(),
        report_dir.display()
    ));
    let log = report_dir.join("functions.log");
    let report = match rehearse_fleet(&domains, &args.options, &log, &mut say).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("rehearse-fleet: {e}");
            return ExitCode::from(2);
        }
    };
    let path = report_dir.join("fleet-report.json");
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("rehearse-fleet: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    for line in summary_lines(&report) {
        say(&line);
    }
    say(&format!("report: {}", path.display()));
    if report["totals"]["succeeded"] == report["totals"]["domains"] {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
