//! DESIGN step 5: prove from DNS itself that the new zone answers exactly like the old one.
//!
//! Every RRset is asked of every authoritative server of both zones directly (RD=0) and
//! compared as a set, TTLs included, against what the old zone's first server answers.
//! Records with a routing policy answer differently by design (by weight, location,
//! health), so those are compared through the API instead. The canary
//! `_zonehop.<domain>` is the one intended difference.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::dns::{DnsAnswer, DnsClient, DnsRecord};
use crate::error::Error;
use crate::hosted_zones::{read_zone, HostedZone, HostedZones};
use crate::name::Name;
use crate::plan::{is_apex_soa_or_ns, plan_sync, HealthCheckPolicy, PlanInput};
use crate::request::{parse_domain, parse_keep_in_source, ZoneRef};
use crate::retry::{with_retry, RetryPolicy, RetryStats};
use crate::zone::{bare_zone_id, RrType, Zone};

/// The label of the canary record (`_zonehop.<domain>`), the one intended difference.
pub const CANARY_LABEL: &str = "_zonehop";

/// verify-zones' input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    /// The resolver used to find the name servers' addresses (from the configuration
    /// when absent: `ZONEHOP_RESOLVER`).
    #[serde(default)]
    pub resolver: Option<String>,
}

/// One RRset a server answers differently from the old zone's reference server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `old ns1.example.net (192.0.2.1:53)`, `new ...`, or `api` for routing policies.
    pub server: String,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// verify-zones' output (when the zones answer alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutput {
    pub rrsets_compared: usize,
    pub compared_through_api: usize,
    pub servers: usize,
    pub queries: usize,
    /// How long the DNS comparison took (the API reads aside).
    pub dns_millis: u64,
    pub differences: Vec<Difference>,
}

/// An RRset to ask about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probe {
    pub name: Name,
    pub rtype: RrType,
    /// A delegation (NS below the apex): the parent answers it as a referral, so the
    /// set is read from the authority section.
    pub referral: bool,
}

/// The RRsets to compare over DNS, and the number of routing-policy record sets left to
/// the API. Both zones' names count, so a record missing on either side is asked for.
pub fn probes(domain: &Name, keep: &[Name], source: &Zone, target: &Zone) -> (Vec<Probe>, usize) {
    let canary = domain.prepend(CANARY_LABEL).ok();
    let mut set = BTreeSet::new();
    let mut routed = 0;
    for record in source.iter().chain(target.iter()) {
        if is_apex_soa_or_ns(record, domain) || Some(&record.name) == canary.as_ref() {
            continue;
        }
        if record.rtype == RrType::SOA {
            continue;
        }
        if let Some(kept) = keep.iter().find(|k| record.name.is_at_or_below(k)) {
            // Below a cut the child answers; at the cut only the parent's delegation counts.
            let delegation =
                record.name == *kept && matches!(record.rtype, RrType::NS | RrType::DS);
            if !delegation {
                continue;
            }
        }
        if record.has_routing_policy() {
            routed += 1;
            continue;
        }
        set.insert(Probe {
            name: record.name.clone(),
            rtype: record.rtype,
            referral: record.rtype == RrType::NS && record.name != *domain,
        });
    }
    (set.into_iter().collect(), routed)
}

/// What a server said about one RRset, reduced to what is compared.
pub fn answer_set(answer: &Result<DnsAnswer, String>, probe: &Probe) -> Vec<String> {
    match answer {
        Err(e) => vec![format!("no answer: {e}")],
        Ok(a) if a.rcode != "NOERROR" => vec![a.rcode.clone()],
        Ok(a) => {
            let records: Vec<DnsRecord> = if probe.referral {
                let mut set: Vec<DnsRecord> = a
                    .authorities
                    .iter()
                    .filter(|r| r.name == probe.name && r.rtype == "NS")
                    .cloned()
                    .collect();
                set.sort();
                set
            } else {
                a.rrset(&probe.name, probe.rtype.as_str())
            };
            records
                .into_iter()
                .map(|r| format!("{} {}", r.ttl, normalize_data(&r)))
                .collect()
        }
    }
}

/// Names inside record data compare without case (servers may answer either).
fn normalize_data(record: &DnsRecord) -> String {
    match record.rtype.as_str() {
        "CNAME" | "NS" | "PTR" => record.data.to_ascii_lowercase(),
        _ => record.data.clone(),
    }
}

/// A server to ask, with the label reports use.
#[derive(Debug, Clone)]
pub struct Server {
    pub label: String,
    pub addr: SocketAddr,
}

/// Asks every server about every probe (at most `concurrency` queries in flight) and
/// returns the differences against the reference (the first old server) and the number of
/// queries sent.
pub async fn compare_over_dns<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    probes: &[Probe],
    concurrency: usize,
) -> (Vec<Difference>, usize) {
    let servers: Vec<&Server> = old.iter().chain(new.iter()).collect();
    let jobs = probes
        .iter()
        .flat_map(|p| servers.iter().map(move |s| (p, *s)));
    let answers: Vec<(&Probe, &Server, Vec<String>)> = stream::iter(jobs)
        .map(|(probe, server)| async move {
            let answer = dns
                .query(server.addr, &probe.name, probe.rtype, false)
                .await
                .map_err(|e| e.to_string());
            (probe, server, answer_set(&answer, probe))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let queries = answers.len();
    let Some(reference) = old.first() else {
        return (Vec::new(), queries);
    };
    let mut by_probe: std::collections::BTreeMap<&Probe, Vec<(&Server, Vec<String>)>> =
        std::collections::BTreeMap::new();
    for (probe, server, set) in answers {
        by_probe.entry(probe).or_default().push((server, set));
    }
    let mut differences = Vec::new();
    for (probe, mut sets) in by_probe {
        // Report in server order, whatever order the answers came in.
        sets.sort_by_key(|(s, _)| servers.iter().position(|x| x.label == s.label));
        let expected = sets
            .iter()
            .find(|(s, _)| s.label == reference.label)
            .map(|(_, set)| set.clone())
            .unwrap_or_default();
        for (server, set) in &sets {
            if *set != expected {
                differences.push(Difference {
                    name: probe.name.to_string(),
                    rtype: probe.rtype.to_string(),
                    server: server.label.clone(),
                    old: expected.clone(),
                    new: set.clone(),
                });
            }
        }
    }
    (differences, queries)
}

/// [`compare_over_dns`], then the probes that differ asked again (pauses from 250 ms,
/// doubling up to 2 s) until they answer alike or `settle` has passed: only a difference
/// that persists is reported. INSYNC says every Route 53 server has a change, yet a server
/// may answer from before it for a moment (the local world reloads a zone within a poll
/// interval); a stale server, a missing record or a wrong value persist and are reported.
pub async fn compare_until_settled<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    probes: &[Probe],
    concurrency: usize,
    settle: Duration,
) -> (Vec<Difference>, usize) {
    let (mut differences, mut queries) = compare_over_dns(dns, old, new, probes, concurrency).await;
    let mut waited = Duration::ZERO;
    let mut pause = Duration::from_millis(250);
    while !differences.is_empty() && waited + pause <= settle {
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_secs(2));
        // One lookup set, not a scan of every difference for every probe: a zone of 10,000
        // RRsets on a stale server differs on all of them.
        let keys: BTreeSet<(&str, &str)> = differences
            .iter()
            .map(|d| (d.name.as_str(), d.rtype.as_str()))
            .collect();
        let differing: Vec<Probe> = probes
            .iter()
            .filter(|p| keys.contains(&(p.name.as_str(), p.rtype.as_str())))
            .cloned()
            .collect();
        let (again, asked) = compare_over_dns(dns, old, new, &differing, concurrency).await;
        differences = again;
        queries += asked;
    }
    (differences, queries)
}

/// How verify-zones finds and asks the servers.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub retry: RetryPolicy,
    /// The resolver that turns name-server names into addresses.
    pub resolver: Option<SocketAddr>,
    /// The port authoritative servers listen on (53 everywhere but in odd test setups).
    pub port: u16,
    pub concurrency: usize,
    /// How long a difference over DNS must persist to be reported (see
    /// [`compare_until_settled`]).
    pub settle: Duration,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            retry: RetryPolicy::default(),
            resolver: None,
            port: 53,
            concurrency: 256,
            settle: Duration::from_secs(10),
        }
    }
}

/// Parses `host:port` or a bare address (port 53).
pub fn parse_resolver(text: &str) -> Result<SocketAddr, Error> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            Error::InvalidRequest(format!(
                "resolver `{text}` is not an address (192.0.2.53 or 192.0.2.53:53)"
            ))
        })
}

/// The resolver a function uses: the request's `resolver`, else the configuration's.
pub fn resolver_for(
    requested: Option<&str>,
    configured: Option<SocketAddr>,
) -> Result<SocketAddr, Error> {
    match requested {
        Some(text) => parse_resolver(text),
        None => configured.ok_or_else(|| {
            Error::InvalidRequest(
                "no resolver: set `resolver` in the request or ZONEHOP_RESOLVER".into(),
            )
        }),
    }
}

/// The addresses of a zone's name servers, found through the resolver.
pub async fn server_addresses<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    zone: &HostedZone,
    side: &str,
    port: u16,
) -> Result<Vec<Server>, Error> {
    let mut servers = Vec::new();
    for ns in &zone.name_servers {
        let name =
            Name::parse(ns).map_err(|e| Error::InvalidRequest(format!("name server {ns}: {e}")))?;
        let answer = dns
            .query(resolver, &name, RrType::A, true)
            .await
            .map_err(|e| Error::DnsLookupFailed {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let addresses: Vec<IpAddr> = answer
            .answers
            .iter()
            .filter(|r| r.rtype == "A")
            .filter_map(|r| r.data.parse().ok())
            .collect();
        if addresses.is_empty() {
            return Err(Error::DnsLookupFailed {
                name: name.to_string(),
                message: format!("{} without an address", answer.rcode),
            });
        }
        for ip in addresses {
            servers.push(Server {
                label: format!("{side} {} ({ip})", name.as_str().trim_end_matches('.')),
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    Ok(servers)
}

/// Compares the source and target zones over DNS (and through the API for routing
/// policies). Fails with `ZonesDiffer` and the list when any difference is found.
pub async fn verify_zones<S: HostedZones, T: HostedZones, D: DnsClient>(
    source: &S,
    target: &T,
    dns: &D,
    request: &VerifyRequest,
    settings: &VerifySettings,
) -> Result<VerifyOutput, Error> {
    let stats = RetryStats::default();
    let retry = &settings.retry;
    let domain = parse_domain(&request.domain)?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;

    let source_zone = with_retry(retry, &stats, || source.get_zone(&source_id)).await?;
    let target_zone = with_retry(retry, &stats, || target.get_zone(&target_id)).await?;
    let source_records = read_zone(source, &source_id, retry, &stats).await?;
    let target_records = read_zone(target, &target_id, retry, &stats).await?;

    let (probes, routed) = probes(&domain, &keep, &source_records, &target_records);
    let old = server_addresses(dns, resolver, &source_zone, "old", settings.port).await?;
    let new = server_addresses(dns, resolver, &target_zone, "new", settings.port).await?;
    let started = std::time::Instant::now();
    let (mut differences, queries) = compare_until_settled(
        dns,
        &old,
        &new,
        &probes,
        settings.concurrency,
        settings.settle,
    )
    .await;
    let dns_millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    // Routing policies: the API's view, the same comparison sync-records makes.
    let input = PlanInput {
        apex: &domain,
        source_zone_id: &source_id,
        target_zone_id: &target_id,
        keep_in_source: &keep,
        health_checks: HealthCheckPolicy::Drop,
        extra_records: &[],
        limits: crate::batch::BatchLimits::ROUTE53,
    };
    let routed_source: Zone = source_records
        .iter()
        .filter(|r| r.has_routing_policy())
        .cloned()
        .collect();
    let routed_target: Zone = target_records
        .iter()
        .filter(|r| r.has_routing_policy())
        .cloned()
        .collect();
    for change in plan_sync(&input, &routed_source, &routed_target).changes() {
        let key = change.record.key();
        let show = |zone: &Zone| {
            zone.get(&key)
                .map(|r| vec![serde_json::to_string(r).unwrap_or_default()])
                .unwrap_or_default()
        };
        differences.push(Difference {
            name: key.name.to_string(),
            rtype: format!(
                "{} [{}]",
                key.rtype,
                key.set_identifier.clone().unwrap_or_default()
            ),
            server: "api".into(),
            old: show(&routed_source),
            new: show(&routed_target),
        });
    }

    if !differences.is_empty() {
        return Err(Error::ZonesDiffer { differences });
    }
    Ok(VerifyOutput {
        rrsets_compared: probes.len(),
        compared_through_api: routed,
        servers: old.len() + new.len(),
        queries,
        dns_millis,
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::RecordSet;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    /// The old server always answers www A 192.0.2.1; the new one answers NXDOMAIN to its
    /// first `lag` questions (a server still loading the zone), then the same, or forever a
    /// different address when `stale`.
    struct Lagging {
        new: SocketAddr,
        lag: usize,
        stale: bool,
        asked_new: std::sync::atomic::AtomicUsize,
    }

    impl DnsClient for Lagging {
        async fn query(
            &self,
            server: SocketAddr,
            name: &Name,
            _rtype: RrType,
            _recursion: bool,
        ) -> Result<DnsAnswer, crate::dns::DnsError> {
            let record = |data: &str| DnsAnswer {
                rcode: "NOERROR".into(),
                authoritative: true,
                answers: vec![DnsRecord {
                    name: name.clone(),
                    rtype: "A".into(),
                    ttl: 60,
                    data: data.into(),
                }],
                authorities: Vec::new(),
            };
            if server != self.new {
                return Ok(record("192.0.2.1"));
            }
            let asked = self
                .asked_new
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(if asked < self.lag {
                DnsAnswer {
                    rcode: "NXDOMAIN".into(),
                    authoritative: true,
                    answers: Vec::new(),
                    authorities: Vec::new(),
                }
            } else if self.stale {
                record("192.0.2.99")
            } else {
                record("192.0.2.1")
            })
        }
    }

    #[tokio::test]
    async fn a_server_that_catches_up_is_no_difference_and_a_stale_one_is_reported() {
        let old = [Server {
            label: "old".into(),
            addr: "127.0.0.1:53".parse().expect("addr"),
        }];
        let new = [Server {
            label: "new".into(),
            addr: "127.0.0.2:53".parse().expect("addr"),
        }];
        let probes = [Probe {
            name: n("www.example.com"),
            rtype: RrType::A,
            referral: false,
        }];
        let lagging = |lag, stale| Lagging {
            new: new[0].addr,
            lag,
            stale,
            asked_new: Default::default(),
        };
        let settle = Duration::from_secs(1);

        // Two looks at NXDOMAIN, then the data: settled.
        let (found, queries) =
            compare_until_settled(&lagging(2, false), &old, &new, &probes, 8, settle).await;
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(queries, 6, "three looks at one probe on two servers");

        // No time to settle: the first look is the verdict.
        let (found, _) =
            compare_until_settled(&lagging(2, false), &old, &new, &probes, 8, Duration::ZERO).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].new, vec!["NXDOMAIN".to_owned()]);

        // A server that never serves the old zone's data is reported once settle has passed.
        let (found, queries) =
            compare_until_settled(&lagging(0, true), &old, &new, &probes, 8, settle).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].server, "new");
        assert_eq!(queries, 6, "looks after 250 ms and 750 ms, none at 1.75 s");
    }

    #[test]
    fn probes_skip_apex_soa_ns_the_canary_and_kept_subtrees_and_leave_routing_to_the_api() {
        let domain = n("example.com");
        let mut weighted = RecordSet::simple(n("api.example.com"), RrType::A, 60, &["192.0.2.1"]);
        weighted.set_identifier = Some("blue".into());
        let source = Zone::new([
            RecordSet::simple(n("example.com"), RrType::NS, 172_800, &["ns1.old.example."]),
            RecordSet::simple(
                n("example.com"),
                RrType::SOA,
                900,
                &["ns1.old.example. h. 1 2 3 4 5"],
            ),
            RecordSet::simple(n("www.example.com"), RrType::A, 60, &["192.0.2.1"]),
            RecordSet::simple(
                n("_zonehop.example.com"),
                RrType::TXT,
                60,
                &["\"side=old\""],
            ),
            RecordSet::simple(
                n("dev.example.com"),
                RrType::NS,
                300,
                &["ns1.child.example."],
            ),
            RecordSet::simple(n("api.dev.example.com"), RrType::A, 60, &["192.0.2.9"]),
            weighted,
        ]);
        let target = Zone::new([RecordSet::simple(
            n("only-new.example.com"),
            RrType::TXT,
            60,
            &["\"x\""],
        )]);
        let (probes, routed) = probes(&domain, &[n("dev.example.com")], &source, &target);
        let shown: Vec<String> = probes
            .iter()
            .map(|p| {
                format!(
                    "{} {}{}",
                    p.name,
                    p.rtype,
                    if p.referral { " referral" } else { "" }
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "dev.example.com. NS referral",
                "only-new.example.com. TXT",
                "www.example.com. A"
            ]
        );
        assert_eq!(routed, 1);
    }

    fn answer(records: &[(&str, u32, &str)]) -> Result<DnsAnswer, String> {
        Ok(DnsAnswer {
            rcode: "NOERROR".into(),
            authoritative: true,
            answers: records
                .iter()
                .map(|(name, ttl, data)| DnsRecord {
                    name: n(name),
                    rtype: "A".into(),
                    ttl: *ttl,
                    data: (*data).into(),
                })
                .collect(),
            authorities: Vec::new(),
        })
    }

    #[test]
    fn answer_sets_are_order_free_and_carry_the_ttl() {
        let probe = Probe {
            name: n("www.example.com"),
            rtype: RrType::A,
            referral: false,
        };
        let a = answer_set(
            &answer(&[
                ("www.example.com", 60, "192.0.2.2"),
                ("www.example.com", 60, "192.0.2.1"),
            ]),
            &probe,
        );
        let b = answer_set(
            &answer(&[
                ("www.example.com", 60, "192.0.2.1"),
                ("www.example.com", 60, "192.0.2.2"),
            ]),
            &probe,
        );
        assert_eq!(a, b);
        let c = answer_set(
            &answer(&[
                ("www.example.com", 300, "192.0.2.1"),
                ("www.example.com", 300, "192.0.2.2"),
            ]),
            &probe,
        );
        assert_ne!(a, c);
        assert_eq!(
            answer_set(&Err("timeout".into()), &probe),
            ["no answer: timeout"]
        );
    }
}
