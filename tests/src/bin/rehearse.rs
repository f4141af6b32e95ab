//! `make rehearse`: a local rehearsal of a migration on one machine.
//!
//! Today it covers DESIGN steps 2 and 4 (create-zone, sync-records) with the real function
//! binaries behind the Lambda Invoke API of `cargo lambda watch`, against moto server: the
//! example zone (or the user's export) is loaded into a source account, copied into a new
//! zone in a target account, and checked by a second sync that must change nothing. The
//! state machine, the DNS world and the remaining steps arrive with the workflow issue.
//!
//!     make rehearse [ZONE=export.json DOMAIN=example.com KEEP=dev.example.com]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use zonehop::export::{load_export, to_export};
use zonehop::hosted_zones::read_zone;
use zonehop::retry::{RetryPolicy, RetryStats};
use zonehop::Name;
use zonehop_tests::lambda::{FunctionError, LambdaWatch};
use zonehop_tests::moto::Moto;
use zonehop_tests::{repo_root, route53_in, seed_zone, source_access, target_access};

struct Args {
    zone: PathBuf,
    domain: String,
    keep: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        zone: repo_root().join("tests/rehearsal/example.com.json"),
        domain: "example.com".into(),
        keep: Vec::new(),
    };
    let mut keep_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--zone" => args.zone = PathBuf::from(value),
            "--domain" => args.domain = value,
            "--keep" => {
                keep_given = true;
                args.keep.extend(
                    value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !keep_given && args.domain == "example.com" {
        args.keep = vec!["dev.example.com".into()];
    }
    Ok(args)
}

fn now() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

struct Phases(Vec<Value>);

impl Phases {
    async fn run<T, F>(&mut self, name: &str, step: F) -> Result<T, FunctionError>
    where
        F: std::future::Future<Output = Result<T, FunctionError>>,
    {
        let started = now();
        println!("▶ {name}");
        let result = step.await;
        let ended = now();
        let outcome = if result.is_ok() {
            "SUCCEEDED"
        } else {
            "FAILED"
        };
        self.0.push(
            json!({ "name": name, "startedAt": started, "endedAt": ended, "status": outcome }),
        );
        match &result {
            Ok(_) => println!("  done"),
            Err(e) => println!("  FAILED: {e}"),
        }
        result
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rehearse: {e}");
            return ExitCode::from(2);
        }
    };
    let report_dir = std::env::var_os("REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/rehearsal"));
    let mut phases = Phases(Vec::new());
    let outcome = rehearse(&args, &mut phases, &report_dir).await;
    let (status, error) = match &outcome {
        Ok(()) => ("SUCCEEDED", Value::Null),
        Err(e) => (
            "FAILED",
            json!({ "errorType": e.error_type, "errorMessage": e.error_message }),
        ),
    };
    let report = json!({
        "status": status,
        "error": error,
        "domain": args.domain,
        "keepInSource": args.keep,
        "covers": "create-zone and sync-records; the other steps arrive with the workflow issue",
        "phases": phases.0,
    });
    let _ = std::fs::create_dir_all(&report_dir);
    let report_path = report_dir.join("report.json");
    if let Err(e) = std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        eprintln!("rehearse: cannot write {}: {e}", report_path.display());
    }
    println!();
    println!("rehearsal {status}: report in {}", report_path.display());
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn step_error(error_type: &str, message: impl ToString) -> FunctionError {
    FunctionError {
        error_type: error_type.into(),
        error_message: message.to_string(),
    }
}

async fn rehearse(
    args: &Args,
    phases: &mut Phases,
    report_dir: &std::path::Path,
) -> Result<(), FunctionError> {
    let export = std::fs::read_to_string(&args.zone)
        .map_err(|e| step_error("InvalidRequest", format!("{}: {e}", args.zone.display())))?;
    let source_records = load_export(&export).map_err(|e| step_error("InvalidRequest", e))?;
    let domain = Name::parse(&args.domain).map_err(|e| step_error("InvalidRequest", e))?;

    let (moto, watch) = phases
        .run(
            "start the local world (moto server, cargo lambda watch)",
            async {
                let moto = Moto::start().await;
                let env = [
                    ("AWS_ENDPOINT_URL", moto.endpoint()),
                    ("AWS_ACCESS_KEY_ID", "AKIAZONEHOPREHEARSAL".to_owned()),
                    ("AWS_SECRET_ACCESS_KEY", "rehearsal".to_owned()),
                    ("AWS_REGION", "us-east-1".to_owned()),
                ];
                std::fs::create_dir_all(report_dir).map_err(|e| step_error("ReportFailed", e))?;
                let log = report_dir.join("functions.log");
                println!("  function logs: {}", log.display());
                let watch = LambdaWatch::start(&env, &log).await;
                Ok((moto, watch))
            },
        )
        .await?;
    let base = moto.config().await;

    let source_id = phases
        .run(
            &format!(
                "load {} ({} record sets) into the source account",
                args.zone.display(),
                source_records.len()
            ),
            async {
                Ok(seed_zone(
                    &base,
                    &source_access(),
                    &domain,
                    &zonehop_tests::records_to_seed(&source_records, &domain),
                )
                .await)
            },
        )
        .await?;

    let execution = format!("rehearsal-{}", std::process::id());
    let created = phases
        .run("create-zone (target account)", watch.invoke("create-zone", &json!({
            "domain": args.domain,
            "target": { "hostedZoneId": null, "roleArn": target_access().role_arn, "externalId": target_access().external_id },
            "executionId": execution,
        })))
        .await?;
    let target_id = created["hostedZoneId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "  target zone {target_id}, name servers {}",
        created["nameServers"]
    );

    let mut request = json!({
        "domain": args.domain,
        "source": { "hostedZoneId": source_id, "roleArn": source_access().role_arn, "externalId": source_access().external_id },
        "target": { "hostedZoneId": target_id, "roleArn": target_access().role_arn, "externalId": target_access().external_id, "adopted": created["adopted"] },
        "keepInSource": args.keep,
        "dryRun": true,
    });
    let plan = phases
        .run(
            "sync-records, dry run",
            watch.invoke("sync-records", &request),
        )
        .await?;
    println!(
        "  plan: {} creates, {} upserts, {} deletes in {} change calls",
        plan["creates"], plan["upserts"], plan["deletes"], plan["changeCalls"]
    );
    request["dryRun"] = json!(false);
    let synced = phases
        .run("sync-records", watch.invoke("sync-records", &request))
        .await?;
    println!(
        "  {} record sets written in {} change calls; in sync: {}",
        synced["creates"], synced["changeCalls"], synced["inSync"]
    );
    let again = phases
        .run(
            "sync-records again (must change nothing)",
            watch.invoke("sync-records", &request),
        )
        .await?;
    let changed = ["creates", "upserts", "deletes"]
        .iter()
        .map(|k| again[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    if changed != 0 {
        return Err(step_error(
            "NotIdempotent",
            format!("the second sync planned {changed} changes"),
        ));
    }

    let source = read_zone(
        &route53_in(&base, &source_access()).await,
        &source_id,
        &RetryPolicy::default(),
        &RetryStats::default(),
    )
    .await
    .map_err(|e| step_error(e.error_type(), e))?;
    let target = read_zone(
        &route53_in(&base, &target_access()).await,
        &target_id,
        &RetryPolicy::default(),
        &RetryStats::default(),
    )
    .await
    .map_err(|e| step_error(e.error_type(), e))?;
    std::fs::create_dir_all(report_dir).map_err(|e| step_error("ReportFailed", e))?;
    std::fs::write(report_dir.join("source-zone.json"), to_export(&source))
        .map_err(|e| step_error("ReportFailed", e))?;
    std::fs::write(report_dir.join("target-zone.json"), to_export(&target))
        .map_err(|e| step_error("ReportFailed", e))?;
    println!();
    println!(
        "source zone {source_id}: {} record sets; target zone {target_id}: {} record sets",
        source.len(),
        target.len()
    );
    for keep in &args.keep {
        println!(
            "{keep}: stays in the source account (its delegation arrives with the DNS-truth issue)"
        );
    }
    drop(watch);
    drop(moto);
    Ok(())
}
