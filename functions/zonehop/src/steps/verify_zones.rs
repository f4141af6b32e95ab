//! DESIGN step 5: prove from DNS itself that the new zone answers exactly like the old one.
//!
//! Every RRset is asked of every authoritative server of both zones directly (RD=0). A
//! plain one is compared as a set, TTLs included, against what the old zone's first server
//! answers. Record sets that answer differently by design (a routing policy, an alias to an
//! AWS resource, an alias chain reaching either) are compared through the API, and each
//! server's answer over DNS is judged by what they may answer
//! (`zonehop_core::possible`). A made-up name under each wildcard must answer like the
//! wildcard, and a made-up name that does not exist must be NXDOMAIN with its zone's SOA
//! minimum. The canary `_zonehop.<domain>` is the one intended difference.

use crate::ports::dns::compare::compare_until_settled;
use crate::ports::dns::lookup::resolver_for;
use crate::ports::dns::lookup::zone_servers;
use crate::settings::Settings;
use zonehop_core::answers::Difference;
use zonehop_core::answers::{compared_by_api, fresh_label, questions};
use zonehop_core::possible::ZoneIndex;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::dns::DnsClient;
use crate::ports::hosted_zones::{read_zone, HostedZones};
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::plan::{plan_sync, HealthCheckPolicy, PlanInput};
use zonehop_core::request::{parse_domain, parse_keep_in_source, ZoneRef};
use zonehop_core::zone::{bare_zone_id, Zone};

/// verify-zones' input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// verify-zones' output (when the zones answer alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutput {
    /// Questions asked of every server: every RRset, a made-up name under each wildcard
    /// RRset, and one name that does not exist.
    pub rrsets_compared: usize,
    /// Record sets (of both zones) that vary by design, compared through the API as well.
    pub compared_through_api: usize,
    /// Questions judged by what they may answer (routed sets, AWS aliases, chains to them).
    #[serde(default)]
    pub judged_by_possible_answers: usize,
    /// Questions about made-up names (under wildcards; the name that does not exist).
    #[serde(default)]
    pub synthesized: usize,
    /// Server addresses asked, IPv6 ones (`ipv6Servers`) included.
    pub servers: usize,
    #[serde(default)]
    pub ipv6_servers: usize,
    pub queries: usize,
    /// How long the DNS comparison took (the API reads aside).
    pub dns_millis: u64,
    /// How long reading both zones through the API took.
    #[serde(default)]
    pub api_millis: u64,
    pub differences: Vec<Difference>,
    /// What is reported, not failed: a routed set's member in no answer, the zones' SOA
    /// minimums differing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Compares the source and target zones over DNS (and through the API for routing
/// policies). Fails with `ZonesDiffer` and the list when any difference is found.
pub async fn verify_zones<S: HostedZones, T: HostedZones, D: DnsClient>(
    source: &S,
    target: &T,
    dns: &D,
    request: &VerifyRequest,
    settings: &Settings,
) -> Result<VerifyOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;

    // The two accounts at once: the reads take as long as the larger zone's pages, not the
    // sum. Within an account one call at a time, so a fleet's per-account pace holds.
    let api_started = std::time::Instant::now();
    let ((source_zone, source_records), (target_zone, target_records)) = tokio::try_join!(
        async {
            Ok::<_, Error>((
                source.get_zone(&source_id).await?,
                read_zone(source, &source_id).await?,
            ))
        },
        async {
            Ok::<_, Error>((
                target.get_zone(&target_id).await?,
                read_zone(target, &target_id).await?,
            ))
        },
    )?;
    let api_millis = u64::try_from(api_started.elapsed().as_millis()).unwrap_or(u64::MAX);

    let asked = questions(
        &domain,
        &keep,
        &source_records,
        &target_records,
        &fresh_label(),
    );
    let (port, ipv6) = (settings.dns_port, settings.dns_ipv6);
    let old = zone_servers(dns, resolver, &source_zone, "old", port, ipv6).await?;
    let new = zone_servers(dns, resolver, &target_zone, "new", port, ipv6).await?;
    let ipv6_servers = old.ipv6 + new.ipv6;
    let (old, new, server_warnings) = (
        old.servers,
        new.servers,
        [old.warnings, new.warnings].concat(),
    );
    let started = std::time::Instant::now();
    let compared = compare_until_settled(
        dns,
        &old,
        &new,
        &asked.asked,
        settings.verify_concurrency,
        settings.verify_settle,
        Some(resolver),
    )
    .await;
    let (mut differences, queries) = (compared.differences, compared.queries);
    let mut warnings = asked.warnings.clone();
    warnings.extend(server_warnings);
    warnings.extend(compared.unseen);
    for warning in &warnings {
        tracing::warn!(%warning, "verify-zones");
    }
    let dns_millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    // Routing policies: the API's view, the same comparison sync-records makes.
    let input = PlanInput {
        apex: &domain,
        source_zone_id: &source_id,
        target_zone_id: &target_id,
        keep_in_source: &keep,
        health_checks: HealthCheckPolicy::Drop,
        extra_records: &[],
        limits: zonehop_core::batch::BatchLimits::ROUTE53,
    };
    // Routing policies and aliases whose answers vary by design: the API's view.
    let (old_index, new_index) = (
        ZoneIndex::new(&domain, &source_records),
        ZoneIndex::new(&domain, &target_records),
    );
    let by_api = |r: &&zonehop_core::zone::RecordSet| {
        compared_by_api(r, &old_index) || compared_by_api(r, &new_index)
    };
    let routed_source: Zone = source_records.iter().filter(by_api).cloned().collect();
    let routed_target: Zone = target_records.iter().filter(by_api).cloned().collect();
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
            stands_for: None,
        });
    }

    if !differences.is_empty() {
        return Err(Error::ZonesDiffer { differences });
    }
    Ok(VerifyOutput {
        rrsets_compared: asked.asked.len(),
        compared_through_api: asked.by_api,
        judged_by_possible_answers: asked.judged,
        synthesized: asked.synthesized,
        servers: old.len() + new.len(),
        ipv6_servers,
        queries,
        dns_millis,
        api_millis,
        differences,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::dns::compare::Server;
    use std::net::SocketAddr;
    use std::time::Duration;
    use zonehop_core::answers::{answer_set, DnsAnswer, DnsRecord, Question};
    use zonehop_core::name::Name;
    use zonehop_core::zone::RecordSet;
    use zonehop_core::zone::RrType;

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
        ) -> Result<DnsAnswer, crate::ports::dns::DnsError> {
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
        let probes = [Question::exact(n("www.example.com"), RrType::A, false)];
        let lagging = |lag, stale| Lagging {
            new: new[0].addr,
            lag,
            stale,
            asked_new: Default::default(),
        };
        let settle = Duration::from_secs(1);

        // Two looks at NXDOMAIN, then the data: settled.
        let compared =
            compare_until_settled(&lagging(2, false), &old, &new, &probes, 8, settle, None).await;
        assert!(compared.differences.is_empty(), "{compared:?}");
        assert_eq!(
            compared.queries, 6,
            "three looks at one probe on two servers"
        );

        // No time to settle: the first look is the verdict.
        let found = compare_until_settled(
            &lagging(2, false),
            &old,
            &new,
            &probes,
            8,
            Duration::ZERO,
            None,
        )
        .await
        .differences;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].new, vec!["NXDOMAIN".to_owned()]);

        // A server that never serves the old zone's data is reported once settle has passed.
        let compared =
            compare_until_settled(&lagging(0, true), &old, &new, &probes, 8, settle, None).await;
        let (found, queries) = (compared.differences, compared.queries);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].server, "new");
        assert_eq!(queries, 6, "looks after 250 ms and 750 ms, none at 1.75 s");
    }

    #[test]
    fn probes_skip_apex_soa_ns_the_canary_and_kept_subtrees_and_ask_routing_too() {
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
        let asked = questions(&domain, &[n("dev.example.com")], &source, &target, "zh");
        let shown: Vec<String> = asked
            .asked
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
                "api.example.com. A",
                "dev.example.com. NS referral",
                "only-new.example.com. TXT",
                "www.example.com. A",
                "zh.example.com. A"
            ]
        );
        assert_eq!(asked.by_api, 1, "the weighted set, through the API as well");
        assert_eq!(asked.judged, 1, "and over DNS by its members");
        assert_eq!(asked.synthesized, 1, "the name that does not exist");
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
        let probe = Question::exact(n("www.example.com"), RrType::A, false);
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
