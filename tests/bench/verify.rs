//! `make bench-verify`: verify-zones against dnsperf's ceiling on the same servers, at
//! 1,000 and at 10,000 RRsets, three runs each, and the API reads against a bare pager.
//!
//! Each size is one zone synced into a second account on moto and served by the local
//! world's two sets of four knotd servers (old and new). Per size it prints:
//! - verify-zones' DNS comparison (every RRset asked of all 8 servers, every answer
//!   compared), three runs after one not counted, as queries per second, with the CPU the
//!   process spent per query;
//! - dnsperf's ceiling on the same servers with the same questions: the larger of one
//!   server alone and all eight at once, medians of three runs of 5 s;
//! - the ratio of the medians (goal, issue #13: at least 0.8);
//! - verify-zones' reading of both zones through the API against a bare SDK pager reading
//!   the same pages (ListResourceRecordSets, 300 a page, both zones at once) in the same
//!   run: the reads should take no longer than the number of pages requires.
//!
//! - verify-zones' peak memory: VmHWM of a fresh process of this binary that runs
//!   verify-zones once (as one Lambda invocation does), `BENCH_RUNS` times
//!   (`BENCH_MEMORY_STAGES=1` also prints the peak after each of its stages, with and
//!   without `MALLOC_ARENA_MAX=2`);
//! - the cost of one round of check-propagation's rotating sample at that size (its
//!   `verify_sample_size` questions of every old and new server, four rounds in a row): the
//!   queries, the milliseconds, and the share of them that are the checks of issue #22
//!   (questions judged by what they may answer, made-up names under wildcards, the name
//!   that does not exist).
//!
//! It prints figures; it asserts only that the zones verified. Port 53 needs root or a
//! namespace: the Makefile runs it through scripts/in-netns.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_route53::Client;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::request::ZoneRef;
use zonehop::core::zone::RecordSet;
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::settings::Settings;
use zonehop::steps::sync_records::sync_records;
use zonehop::steps::verify_zones::{verify_zones, VerifyRequest};
use zonehop::Name;
use zonehop_world::dnsworld::{DnsWorld, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access, zonegen};

/// Runs per size (`BENCH_RUNS`, 3): the figures are their medians.
fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3usize)
        .max(1)
}

struct Size {
    domain: Name,
    records: Vec<RecordSet>,
    source_id: String,
    target_id: String,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// This process's CPU time so far, user and system, in seconds (from /proc/self/stat).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // The kernel's USER_HZ is 100 on Linux.
    (ticks(14) / 100.0, ticks(15) / 100.0)
}

/// `VmRSS` and `VmHWM` of this process, in MiB (from /proc/self/status).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// verify-zones' settings: the defaults, with `BENCH_IN_FLIGHT` queries in flight if set.
fn settings() -> Settings {
    let mut settings = Settings::default();
    if let Some(n) = std::env::var("BENCH_IN_FLIGHT")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        settings.verify_concurrency = n;
    }
    settings
}

/// The child process that measures verify-zones' memory alone: one verify-zones run, as one
/// Lambda invocation makes it, in a fresh process (the bench's own process holds the
/// seeding's and the earlier runs' memory); prints `VmRSS`/`VmHWM` before and after.
const CHILD: &str = "ZONEHOP_BENCH_VERIFY_CHILD";

async fn verify_child(spec: &str) {
    let spec: serde_json::Value = serde_json::from_str(spec).expect("child spec");
    let base = zonehop_world::base_config(spec["endpoint"].as_str().expect("endpoint")).await;
    let request: VerifyRequest = serde_json::from_value(spec["request"].clone()).expect("request");
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let (rss_before, _) = memory_mib();
    if spec["stages"].as_bool() == Some(true) {
        // Where the memory goes: the same steps as verify-zones, the peak after each.
        use zonehop::core::answers::{fresh_label, questions};
        use zonehop::ports::dns::compare::compare_until_settled;
        use zonehop::ports::dns::lookup::zone_servers;
        use zonehop::ports::hosted_zones::read_zone;
        let domain = Name::parse(&request.domain).expect("domain");
        let ids = (
            request.source.hosted_zone_id.clone().expect("id"),
            request.target.hosted_zone_id.clone().expect("id"),
        );
        let (old_zone, new_zone) = (
            source.get_zone(&ids.0).await.expect("zone"),
            target.get_zone(&ids.1).await.expect("zone"),
        );
        let old_records = read_zone(&source, &ids.0).await.expect("read");
        let new_records = read_zone(&target, &ids.1).await.expect("read");
        println!("stage: both zones read: peak {:.1} MiB", memory_mib().1);
        let asked = questions(&domain, &[], &old_records, &new_records, &fresh_label());
        println!("stage: questions: peak {:.1} MiB", memory_mib().1);
        let resolver: std::net::SocketAddr = request
            .resolver
            .as_deref()
            .expect("resolver")
            .parse()
            .expect("resolver address");
        let dns = WireDns::default();
        let old = zone_servers(&dns, resolver, &old_zone, "old", 53, true)
            .await
            .expect("old");
        let new = zone_servers(&dns, resolver, &new_zone, "new", 53, true)
            .await
            .expect("new");
        let compared = compare_until_settled(
            &dns,
            &old.servers,
            &new.servers,
            &asked.asked,
            settings().verify_concurrency,
            Duration::from_secs(10),
            Some(resolver),
        )
        .await;
        println!(
            "stage: compared ({} queries): resident {:.1} MiB, peak {:.1} MiB",
            compared.queries,
            memory_mib().0,
            memory_mib().1
        );
        return;
    }
    let out = verify_zones(&source, &target, &WireDns::default(), &request, &settings())
        .await
        .expect("the zones verify (child)");
    let (rss_after, peak) = memory_mib();
    println!(
        "child: {} queries; memory resident {rss_before:.1} MiB before, {rss_after:.1} MiB after, peak {peak:.1} MiB",
        out.queries
    );
}

/// Runs [`verify_child`] in a new process of this binary; returns its peak (VmHWM), MiB.
fn child_peak(endpoint: &str, request: &VerifyRequest) -> Option<f64> {
    let spec = serde_json::json!({ "endpoint": endpoint, "request": request }).to_string();
    let output = Command::new(std::env::current_exe().ok()?)
        .env(CHILD, spec)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with("child:"))?.to_owned();
    println!(
        "  verify-zones in a process of its own: {}",
        line.trim_start_matches("child: ")
    );
    line.rsplit("peak ")
        .next()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        verify_child(&spec).await;
        return;
    }
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;

    let mut sizes = Vec::new();
    // `BENCH_SIZES=10000` measures one size only (a profile of verify-zones, say).
    let only = std::env::var("BENCH_SIZES").unwrap_or_default();
    for (label, every) in [("bench-1k", 10), ("bench-10k", 1)] {
        let size = 10_000 / every;
        if !only.is_empty() && !only.split([',', ' ']).any(|s| s == size.to_string()) {
            continue;
        }
        let domain = Name::parse(&format!("{label}.example.com")).expect("name");
        // Every 10th record set of the 10,000: the same mix of types (A, AAAA, CNAME, long
        // TXT, MX), a tenth the size.
        let records: Vec<RecordSet> = zonegen::bench_zone(&domain)
            .into_iter()
            .step_by(every)
            .collect();
        println!(
            "seeding {domain} ({} RRsets) and syncing it to a second account on moto ...",
            records.len()
        );
        let source_id = seed_zone(&base, &source_access(), &domain, &records).await;
        let target_id = seed_zone(&base, &target_access(), &domain, &[]).await;
        let sync = zonehop_world::sync_request(domain.as_str(), &source_id, &target_id);
        sync_records(
            &source,
            &target,
            &zonehop::adapters::dynamodb::NoLedger,
            &zonehop::ports::clock::SystemClock,
            &sync,
            &Settings::default(),
        )
        .await
        .expect("sync");
        sizes.push(Size {
            domain,
            records,
            source_id,
            target_id,
        });
    }

    let mut options = WorldOptions::new(base.clone(), vec![source_access(), target_access()]);
    // Nothing changes during the measurement: no background re-reading of the zones.
    options.poll_interval = Duration::from_secs(3_600);
    options.settle_timeout = Duration::from_secs(300);
    let world = DnsWorld::start(options).await.expect("DNS world");
    world.settle().await.expect("every zone served");
    // Served is not idle: give the servers time to finish with the zones they just loaded.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let resolver = world.resolvers()[0].addr;
    let bare_source = sdk_client_in(&base, &source_access()).await;
    let bare_target = sdk_client_in(&base, &target_access()).await;

    let mut summary = Vec::new();
    for size in &sizes {
        let request = VerifyRequest {
            execution_id: None,
            domain: size.domain.to_string(),
            source: ZoneRef {
                hosted_zone_id: Some(size.source_id.clone()),
                access: source_access(),
            },
            target: ZoneRef {
                hosted_zone_id: Some(size.target_id.clone()),
                access: target_access(),
            },
            keep_in_source: Vec::new(),
            resolver: Some(resolver.to_string()),
        };
        println!();
        println!(
            "{}: verify-zones (8 servers, every RRset of each, every answer compared; {} in flight)",
            size.domain,
            settings().verify_concurrency
        );
        // One run first, not counted: the servers' and moto's first answers for the zone
        // (caches, lazily loaded data) are not what the ratio is about.
        verify_zones(&source, &target, &WireDns::default(), &request, &settings())
            .await
            .expect("the zones verify (warm-up)");
        let mut rates = Vec::new();
        let mut api = Vec::new();
        for run in 1..=runs() {
            let (user_before, system_before) = cpu_seconds();
            let out = verify_zones(&source, &target, &WireDns::default(), &request, &settings())
                .await
                .expect("the zones verify");
            let (user_after, system_after) = cpu_seconds();

            let dns_seconds = out.dns_millis as f64 / 1000.0;
            let qps = out.queries as f64 / dns_seconds.max(0.001);
            // The whole step's CPU (the API reads' share included), per query.
            let per_query = |seconds: f64| seconds * 1e6 / out.queries.max(1) as f64;
            println!(
                "  run {run}: {} RRsets, {} queries in {dns_seconds:.3} s: {qps:.0} queries/s; API reads {:.2} s; CPU a query {:.1} µs user + {:.1} µs system",
                out.rrsets_compared,
                out.queries,
                out.api_millis as f64 / 1000.0,
                per_query(user_after - user_before),
                per_query(system_after - system_before)
            );
            rates.push(qps);
            api.push(out.api_millis as f64 / 1000.0);
        }

        // The reference for the reads: the SDK's own pager over both zones at once, doing
        // nothing with the records.
        let mut bare = Vec::new();
        let mut pages = (0, 0);
        let mut bare_cpu = 0.0;
        for _ in 0..runs() {
            let (user_before, system_before) = cpu_seconds();
            let started = Instant::now();
            let (s, t) = tokio::join!(
                bare_pages(&bare_source, &size.source_id),
                bare_pages(&bare_target, &size.target_id)
            );
            bare.push(started.elapsed().as_secs_f64());
            let (user_after, system_after) = cpu_seconds();
            bare_cpu += (user_after - user_before) + (system_after - system_before);
            pages = (s, t);
        }

        let child_peaks: Vec<f64> = (0..runs())
            .filter_map(|_| child_peak(&moto.endpoint(), &request))
            .collect();
        if std::env::var("BENCH_MEMORY_STAGES").is_ok() {
            let spec = serde_json::json!({ "endpoint": moto.endpoint(), "request": &request, "stages": true });
            for arenas in [None, Some("2")] {
                let mut child = Command::new(std::env::current_exe().expect("exe"));
                child.env(CHILD, spec.to_string());
                if let Some(n) = arenas {
                    child.env("MALLOC_ARENA_MAX", n);
                }
                let out = child.output().expect("child");
                println!(
                    "  stages (MALLOC_ARENA_MAX={}):\n{}",
                    arenas.unwrap_or("unset"),
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
        let round = sample_round_cost(&source, &target, size, resolver).await;
        let ceiling = dnsperf_ceiling(&world, &source, &target, size).await;
        let verify = median(rates);
        let api = median(api);
        let bare = median(bare);
        println!(
            "  API reads: median {api:.2} s; a bare pager, {} + {} pages at once: median {bare:.2} s (ratio {:.2}), {:.2} s of CPU a read",
            pages.0,
            pages.1,
            api / bare.max(0.001),
            bare_cpu / runs() as f64
        );
        let memory = if child_peaks.is_empty() {
            "peak memory not measured (the child process failed)".to_owned()
        } else {
            format!(
                "peak memory {:.1} MiB (VmHWM of a process running verify-zones alone; goal: at most 30 MB)",
                median(child_peaks)
            )
        };
        let line = format!(
            "{:>6} RRsets: verify-zones {verify:>6.0} queries/s / dnsperf {ceiling:>6.0} queries/s = {:.2} (goal: at least 0.80); API reads {:.2}x a bare pager; {memory}; {round}",
            size.records.len(),
            verify / ceiling.max(1.0),
            api / bare.max(0.001)
        );
        println!("  {line}");
        summary.push(line);
    }
    println!();
    println!("medians of {} runs:", runs());
    for line in summary {
        println!("  {line}");
    }
}

/// One round of check-propagation's rotating sample on this zone, four rounds in a row
/// (as the rotation goes): per round the questions, the queries to the old and new
/// servers and the milliseconds, and how much of it is the checks of issue #22 (a
/// question judged by what it may answer, or about a made-up name).
async fn sample_round_cost<S: HostedZones>(
    source: &S,
    target: &S,
    size: &Size,
    resolver: std::net::SocketAddr,
) -> String {
    use zonehop::core::answers::{fresh_label, questions, Expect};
    use zonehop::ports::dns::compare::compare_until_settled;
    use zonehop::ports::dns::lookup::zone_servers;
    use zonehop::ports::hosted_zones::read_zone;
    use zonehop::steps::check_propagation::verify_sample_size;
    let settings = Settings::default();
    let dns = WireDns::default();
    let (old_zone, new_zone) = (
        source.get_zone(&size.source_id).await.expect("zone"),
        target.get_zone(&size.target_id).await.expect("zone"),
    );
    let (old_records, new_records) = (
        read_zone(source, &size.source_id).await.expect("read"),
        read_zone(target, &size.target_id).await.expect("read"),
    );
    let all = questions(
        &size.domain,
        &[],
        &old_records,
        &new_records,
        &fresh_label(),
    )
    .asked;
    let sample = verify_sample_size(all.len());
    let servers = |zone, side| zone_servers(&dns, resolver, zone, side, 53, settings.dns_ipv6);
    let old = servers(&old_zone, "old")
        .await
        .expect("old servers")
        .servers;
    let new = servers(&new_zone, "new")
        .await
        .expect("new servers")
        .servers;
    let is_new_check = |q: &&zonehop::core::answers::Question| {
        q.expect != Expect::Reference || q.stands_for.is_some()
    };
    let mut rounds = Vec::new();
    for round in 0..4 {
        let asked: Vec<_> = all
            .iter()
            .cycle()
            .skip(round * sample)
            .take(sample.min(all.len()))
            .cloned()
            .collect();
        let compare = |questions: Vec<zonehop::core::answers::Question>| {
            let (old, new, dns) = (&old, &new, &dns);
            let concurrency = settings.verify_concurrency;
            async move {
                let started = Instant::now();
                let compared = compare_until_settled(
                    dns,
                    old,
                    new,
                    &questions,
                    concurrency,
                    Duration::from_secs(2),
                    Some(resolver),
                )
                .await;
                assert!(
                    compared.differences.is_empty(),
                    "{:?}",
                    compared.differences
                );
                (compared.queries, started.elapsed().as_secs_f64() * 1000.0)
            }
        };
        let (queries, millis) = compare(asked.clone()).await;
        let new_checks: Vec<_> = asked.iter().filter(is_new_check).cloned().collect();
        let count = new_checks.len();
        let (new_queries, new_millis) = if count == 0 {
            (0, 0.0)
        } else {
            compare(new_checks).await
        };
        println!(
            "  rotating sample, round {}: {} questions ({count} of them issue #22's checks) of {} servers: {queries} queries in {millis:.1} ms; the #22 checks alone {new_queries} queries in {new_millis:.1} ms",
            round + 1,
            asked.len(),
            old.len() + new.len()
        );
        rounds.push((queries as f64, millis, new_queries as f64, new_millis));
    }
    let queries = median(rounds.iter().map(|r| r.0).collect());
    let millis = median(rounds.iter().map(|r| r.1).collect());
    let new_queries = median(rounds.iter().map(|r| r.2).collect());
    let new_millis = median(rounds.iter().map(|r| r.3).collect());
    format!(
        "a rotating-sample round: {sample} of {} questions, {queries:.0} queries in {millis:.0} ms (median of 4), issue #22's checks {:.1}% of the queries, {new_millis:.1} ms alone",
        all.len(),
        100.0 * new_queries / queries.max(1.0)
    )
}

/// The SDK client zonehop's Route 53 adapter wraps (the same role, credentials and HTTP
/// client), for the bare pager.
async fn sdk_client_in(
    base: &aws_config::SdkConfig,
    access: &zonehop::core::request::AccountAccess,
) -> Client {
    let config = zonehop::adapters::accounts::config_with_role(base, access, "zonehop-bench").await;
    zonehop::adapters::accounts::route53_client(&config)
}

/// Pages through a zone with the bare SDK, 300 record sets a page (Route 53's largest);
/// returns the number of pages.
async fn bare_pages(client: &Client, zone_id: &str) -> usize {
    let mut pages = 0;
    let mut next: Option<(String, aws_sdk_route53::types::RrType, Option<String>)> = None;
    loop {
        let mut call = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(300);
        if let Some((name, rtype, identifier)) = next.take() {
            call = call
                .start_record_name(name)
                .start_record_type(rtype)
                .set_start_record_identifier(identifier);
        }
        let page = call.send().await.expect("list a page");
        pages += 1;
        if !page.is_truncated() {
            return pages;
        }
        next = Some((
            page.next_record_name().unwrap_or_default().to_owned(),
            page.next_record_type()
                .cloned()
                .unwrap_or(aws_sdk_route53::types::RrType::A),
            page.next_record_identifier().map(str::to_owned),
        ));
    }
}

/// dnsperf's ceiling on the servers verify-zones asks, with the zone's questions: the larger
/// of two medians of three 5 s runs, one server alone (2 threads, 8 clients, 500
/// outstanding) and all eight at once (one dnsperf each: 1 thread, 2 clients, 100
/// outstanding; their rates added).
async fn dnsperf_ceiling<S: HostedZones>(
    world: &DnsWorld,
    source: &S,
    target: &S,
    size: &Size,
) -> f64 {
    let mut servers = Vec::new();
    for (zones, id) in [(source, &size.source_id), (target, &size.target_id)] {
        for ns in zones.get_zone(id).await.expect("zone").name_servers {
            servers.push((ns.clone(), world.addr_of(&ns).expect("server address")));
        }
    }
    let queries = std::env::temp_dir().join(format!(
        "zonehop-dnsperf-{}-{}.txt",
        std::process::id(),
        size.records.len()
    ));
    let lines: String = size
        .records
        .iter()
        .map(|r| format!("{} {}\n", r.name, r.rtype))
        .collect();
    std::fs::write(&queries, lines).expect("query file");
    let dnsperf = |addr: std::net::IpAddr, threads: &str, clients: &str, outstanding: &str| {
        Command::new("dnsperf")
            .args([
                "-s",
                &addr.to_string(),
                "-p",
                "53",
                "-l",
                "5",
                "-T",
                threads,
            ])
            .args(["-c", clients, "-q", outstanding, "-d"])
            .arg(&queries)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run dnsperf (apt package dnsperf)")
    };
    let rate = |child: std::process::Child| {
        let output = child.wait_with_output().expect("dnsperf ends");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let qps = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Queries per second:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let lost = text
            .lines()
            .find(|l| l.contains("Queries lost"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        (qps, lost)
    };
    let (first_name, first) = &servers[0];
    let mut alone = Vec::new();
    let mut together = Vec::new();
    for run in 1..=runs() {
        let (qps, lost) = rate(dnsperf(*first, "2", "8", "500"));
        println!("  dnsperf run {run}, {first_name} ({first}) alone: {qps:.0} queries/s; {lost}");
        alone.push(qps);
        let children: Vec<_> = servers
            .iter()
            .map(|(_, addr)| dnsperf(*addr, "1", "2", "100"))
            .collect();
        let sum: f64 = children.into_iter().map(|c| rate(c).0).sum();
        println!(
            "  dnsperf run {run}, all {} servers at once: {sum:.0} queries/s",
            servers.len()
        );
        together.push(sum);
    }
    let _ = std::fs::remove_file(&queries);
    median(alone).max(median(together))
}
