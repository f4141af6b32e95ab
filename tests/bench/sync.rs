//! `make bench-sync`: sync a generated 10,000-record zone (a quarter of it TXT values of
//! 255-400 characters) into an empty zone on moto, then let octoDNS 1.22 +
//! octodns-route53 sync the same zone against the same moto, and print both.
//!
//! It prints figures; it asserts nothing about time. Wall times against moto mostly
//! measure moto, so they are only comparable side by side in one run.

use std::process::Command;
use std::time::Instant;

use zonehop::core::batch::BatchLimits;
use zonehop::core::export::to_export;
use zonehop::core::zone::Zone;
use zonehop::settings::Settings;
use zonehop::steps::sync_records::sync_records;
use zonehop::Name;
use zonehop_world::counting::Counting;
use zonehop_world::moto::{venv_python, Moto};
use zonehop_world::{repo_root, route53_in, seed_zone, source_access, target_access, zonegen};

#[tokio::main]
async fn main() {
    let domain = Name::parse("bench.example.com").expect("name");
    let records = zonegen::bench_zone(&domain);
    let zone: Zone = records.iter().cloned().collect();
    let values: usize = records.iter().map(|r| r.value_count()).sum();
    let chars: usize = records.iter().map(|r| r.value_chars()).sum();
    println!(
        "zone: {} record sets, {values} values, {chars} characters of values",
        records.len()
    );

    let moto = Moto::start().await;
    let base = moto.config().await;
    println!("seeding the source zone on moto ({}) ...", moto.endpoint());
    let source_id = seed_zone(&base, &source_access(), &domain, &records).await;
    let target_id = seed_zone(&base, &target_access(), &domain, &[]).await;
    let request = zonehop_world::sync_request(domain.as_str(), &source_id, &target_id);

    let source = Counting::new(route53_in(&base, &source_access()).await);
    let target = Counting::new(route53_in(&base, &target_access()).await);
    let started = Instant::now();
    let out = sync_records(
        &source,
        &target,
        &zonehop::adapters::dynamodb::NoLedger,
        &zonehop::ports::clock::SystemClock,
        &request,
        &Settings::default(),
    )
    .await
    .expect("zonehop sync");
    let wall = started.elapsed().as_secs_f64();
    let limits = BatchLimits::ROUTE53;
    let batches = target.batches.lock().map(|b| b.clone()).unwrap_or_default();
    let max_values = batches.iter().map(|c| c.values).max().unwrap_or(0);
    let max_chars = batches.iter().map(|c| c.chars).max().unwrap_or(0);
    let lower_bound = values
        .div_ceil(limits.max_values)
        .max(chars.div_ceil(limits.max_chars));
    let zonehop_changes = target.changes();
    let zonehop_lists = source.lists() + target.lists();
    let zonehop_failed = source.failures() + target.failures();
    let illegal = target.illegal_batches(limits);

    let rerun_source = Counting::new(route53_in(&base, &source_access()).await);
    let rerun_target = Counting::new(route53_in(&base, &target_access()).await);
    sync_records(
        &rerun_source,
        &rerun_target,
        &zonehop::adapters::dynamodb::NoLedger,
        &zonehop::ports::clock::SystemClock,
        &request,
        &Settings::default(),
    )
    .await
    .expect("zonehop re-run");

    println!();
    println!("zonehop");
    println!("  change calls      {zonehop_changes} (lower bound from the limits: {lower_bound}; goal: at most {})", lower_bound + 1);
    println!("  list calls        {zonehop_lists} (both zones, read before and after)");
    println!("  failed calls      {zonehop_failed}");
    println!("  illegal batches   {illegal} (checked against 1,000 values and 32,000 characters)");
    println!("  largest batch     {max_values} values, {max_chars} characters");
    println!("  wall time         {wall:.1} s");
    println!(
        "  re-run            {} change calls, {} list calls",
        rerun_target.changes(),
        rerun_source.lists() + rerun_target.lists()
    );
    assert_eq!(out.creates, records.len());

    // octoDNS against the same moto.
    let export_path =
        std::env::temp_dir().join(format!("zonehop-bench-{}.json", std::process::id()));
    std::fs::write(&export_path, to_export(&zone)).expect("write the export");
    println!();
    println!("octoDNS 1.22 + octodns-route53 1.3.1 on the same moto ...");
    let octo = Command::new(venv_python())
        .arg(repo_root().join("tests/bench/octodns_sync.py"))
        .args(["--endpoint", &moto.endpoint(), "--zone-file"])
        .arg(&export_path)
        .args(["--domain", domain.as_str()])
        .output()
        .expect("run octodns_sync.py");
    let _ = std::fs::remove_file(&export_path);
    let stdout = String::from_utf8_lossy(&octo.stdout);
    if !octo.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&octo.stderr));
        panic!("octodns_sync.py failed: {}", octo.status);
    }
    let summary: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("octodns_sync.py prints a JSON summary last");
    for run in summary["runs"].as_array().into_iter().flatten() {
        let changes = run["change_calls"].as_u64().unwrap_or(0);
        println!("  {:<16} change calls {:>4}  list calls {:>3}  failed {:>2}  illegal batches {:>3}  largest batch {:>5} values {:>7} chars  wall {:>6.1} s",
            run["label"].as_str().unwrap_or("?"), changes, run["list_calls"], run["failed_calls"], run["illegal_batches"],
            run["max_batch_values"], run["max_batch_chars"], run["wall_seconds"].as_f64().unwrap_or(0.0));
    }
    let legal_octo = summary["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["illegal_batches"].as_u64() == Some(0) && r["label"] != "rerun");
    if let Some(run) = legal_octo {
        let octo_changes = run["change_calls"].as_f64().unwrap_or(0.0);
        let octo_wall = run["wall_seconds"].as_f64().unwrap_or(0.0);
        println!();
        println!(
            "ratio (octoDNS's legal run / zonehop): change calls {:.1}x, wall time {:.1}x",
            octo_changes / zonehop_changes.max(1) as f64,
            octo_wall / wall.max(0.001)
        );
    }
}
