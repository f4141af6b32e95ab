//! `make bench-verify`: verify a 10,000-RRset zone served by two sets of four knotd
//! servers (old and new), then measure dnsperf's ceiling against the same servers in the
//! same run, and print both and the ratio. Goal: at least half the ceiling, with every
//! answer compared. It prints figures; it asserts only that the zones verified.
//!
//! Port 53 needs root or a namespace: the Makefile runs it through scripts/in-netns.

use std::process::Command;
use std::time::{Duration, Instant};

use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::request::ZoneRef;
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::settings::Settings;
use zonehop::steps::sync_records::sync_records;
use zonehop::steps::verify_zones::{verify_zones, VerifyRequest};
use zonehop::Name;
use zonehop_world::dnsworld::{DnsWorld, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access, zonegen};

#[tokio::main]
async fn main() {
    let domain = Name::parse("bench.example.com").expect("name");
    let records = zonegen::bench_zone(&domain);
    let moto = Moto::start().await;
    let base = moto.config().await;
    println!(
        "seeding a {}-RRset zone and syncing it to a second account on moto ...",
        records.len()
    );
    let source_id = seed_zone(&base, &source_access(), &domain, &records).await;
    let target_id = seed_zone(&base, &target_access(), &domain, &[]).await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let sync = zonehop_world::sync_request(domain.as_str(), &source_id, &target_id);
    sync_records(&source, &target, &sync, &Settings::default())
        .await
        .expect("sync");

    let mut options = WorldOptions::new(base.clone(), vec![source_access(), target_access()]);
    // Nothing changes during the measurement: no background re-reading of 20,000 records.
    options.poll_interval = Duration::from_secs(3_600);
    options.settle_timeout = Duration::from_secs(300);
    let world = DnsWorld::start(options).await.expect("DNS world");
    world.settle().await.expect("both zones served");
    let resolver = world.resolvers()[0].addr;

    let request = VerifyRequest {
        execution_id: None,
        domain: domain.to_string(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(target_id.clone()),
            access: target_access(),
        },
        keep_in_source: Vec::new(),
        resolver: Some(resolver.to_string()),
    };
    println!();
    println!("zonehop verify-zones (8 servers, every RRset on each)");
    let mut best = 0.0f64;
    for concurrency in [64, 256, 1024] {
        let settings = Settings {
            verify_concurrency: concurrency,
            ..Settings::default()
        };
        let started = Instant::now();
        let out = verify_zones(&source, &target, &WireDns::default(), &request, &settings)
            .await
            .expect("the zones verify");
        let wall = started.elapsed().as_secs_f64();
        // The DNS comparison is what the ceiling bounds; the API reads (moto) come apart.
        let dns_seconds = out.dns_millis as f64 / 1000.0;
        let qps = out.queries as f64 / dns_seconds.max(0.001);
        best = best.max(qps);
        println!(
            "  concurrency {concurrency:>3}: {} RRsets, {} queries, every answer compared: {dns_seconds:.2} s over DNS ({qps:.0} queries/s); {wall:.1} s in all with the API reads",
            out.rrsets_compared, out.queries
        );
    }

    // dnsperf against the same servers, with the same queries.
    let old = source
        .get_zone(&source_id)
        .await
        .expect("zone")
        .name_servers;
    let new = target
        .get_zone(&target_id)
        .await
        .expect("zone")
        .name_servers;
    let queries = std::env::temp_dir().join(format!("zonehop-dnsperf-{}.txt", std::process::id()));
    let lines: String = zonehop::core::zone::Zone::new(records.clone())
        .iter()
        .map(|r| format!("{} {}\n", r.name, r.rtype))
        .collect();
    std::fs::write(&queries, lines).expect("query file");
    println!();
    println!("dnsperf ceiling (10 s each, 2 threads, 8 clients, 500 outstanding)");
    let mut ceilings = Vec::new();
    for ns in [&old[0], &new[0]] {
        let addr = world.addr_of(ns).expect("server address");
        let output = Command::new("dnsperf")
            .args([
                "-s",
                &addr.to_string(),
                "-p",
                "53",
                "-l",
                "10",
                "-T",
                "2",
                "-c",
                "8",
                "-q",
                "500",
                "-d",
            ])
            .arg(&queries)
            .output()
            .expect("run dnsperf (apt package dnsperf)");
        let text = String::from_utf8_lossy(&output.stdout);
        let qps = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Queries per second:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let lost = text
            .lines()
            .find(|l| l.contains("Queries lost"))
            .unwrap_or("")
            .trim()
            .to_owned();
        println!("  {ns} ({addr}): {qps:.0} queries/s; {lost}");
        ceilings.push(qps);
    }
    let _ = std::fs::remove_file(&queries);
    let ceiling = ceilings.iter().copied().fold(0.0, f64::max);
    println!();
    println!(
        "ratio: verify-zones {best:.0} queries/s / dnsperf {ceiling:.0} queries/s = {:.2} (goal: at least 0.50)",
        best / ceiling.max(1.0)
    );
}
