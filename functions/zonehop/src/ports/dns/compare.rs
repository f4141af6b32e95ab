//! Comparing what servers answer: every question to every server, the answer sets against
//! the old zone's reference server, and asking again until a difference persists.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zonehop_core::answers::{answer_set_of, judge, Difference, Expect, Question};
use zonehop_core::name::Name;
use zonehop_core::possible::{answered, canonical_data, negative_minimum, Possible};
use zonehop_core::zone::RrType;

use crate::ports::dns::{Ask, DnsAnswer, DnsClient, DnsError};

/// A server to ask, with the label reports use.
#[derive(Debug, Clone)]
pub struct Server {
    pub label: String,
    pub addr: SocketAddr,
}

/// What comparing found.
#[derive(Debug, Clone, Default)]
pub struct Compared {
    pub differences: Vec<Difference>,
    /// Queries sent (to the servers and, for AWS aliases, to the resolver).
    pub queries: usize,
    /// Members of routed sets that no server's answer gave: reported, not failed (a
    /// weighted member may simply not have been drawn).
    pub unseen: Vec<String>,
}

/// Questions asked and judged at a time by [`compare_over_dns`]: the replies of one chunk
/// (every server's, for each question) are held until it is judged, so verify-zones'
/// memory does not grow with the zone (at 10,000 RRsets and 8 servers, holding all 80,000
/// replies at once peaked at 65 MiB). 1,024 questions and 8 servers are 8,192 queries, far
/// more than are in flight at once, so the pipeline stays full.
pub const COMPARE_CHUNK: usize = 1_024;

/// Asks every server about every question (at most `concurrency` queries in flight) and
/// judges the answers, [`COMPARE_CHUNK`] questions at a time: a plain question against the reference (the first old server), the
/// others by what they may answer ([`Expect`]). What an AWS resource answers is asked of
/// `resolver` once per target and type (when given), and what the old servers answered
/// for the same question counts as well (both zones alias the same target: the API
/// comparison holds that).
pub async fn compare_over_dns<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    questions: &[Question],
    concurrency: usize,
    resolver: Option<SocketAddr>,
) -> Compared {
    let mut compared = Compared::default();
    for chunk in questions.chunks(COMPARE_CHUNK) {
        let part = compare_chunk(dns, old, new, chunk, concurrency, resolver).await;
        compared.differences.extend(part.differences);
        compared.queries += part.queries;
        compared.unseen.extend(part.unseen);
    }
    compared
}

/// [`compare_over_dns`] of one chunk of questions.
async fn compare_chunk<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    questions: &[Question],
    concurrency: usize,
    resolver: Option<SocketAddr>,
) -> Compared {
    let servers: Vec<&Server> = old.iter().chain(new.iter()).collect();
    // Per question, one ask per server in server order: the reference (the first old
    // server) first. The replies come back in the same order.
    let asks: Vec<Ask<'_>> = questions
        .iter()
        .flat_map(|question| {
            servers.iter().map(move |server| Ask {
                server: server.addr,
                name: &question.name,
                rtype: question.rtype,
            })
        })
        .collect();
    let (replies, (resolved, looked_up)) = tokio::join!(
        dns.query_all(&asks, concurrency.max(1)),
        resolve_resources(dns, resolver, questions, concurrency)
    );
    let mut compared = Compared {
        queries: replies.len() + looked_up,
        ..Compared::default()
    };
    if old.is_empty() {
        return compared;
    }
    for (question, replies) in questions.iter().zip(replies.chunks(servers.len())) {
        let difference = |server: &Server, old: Vec<String>, new: Vec<String>| Difference {
            name: question.name.to_string(),
            rtype: question.rtype.to_string(),
            server: server.label.clone(),
            old,
            new,
            stands_for: question.stands_for.as_ref().map(|_| question.label()),
        };
        if question.expect == Expect::Reference {
            let set = |reply: &Result<Arc<DnsAnswer>, DnsError>| match reply {
                Ok(answer) => answer_set_of(Ok(answer), question),
                Err(e) => answer_set_of(Err(&e.to_string()), question),
            };
            let reference = &replies[0];
            let expected = set(reference);
            for (server, reply) in servers.iter().zip(replies).skip(1) {
                // The same message as the reference's (one shared answer): the same set.
                if let (Ok(a), Ok(b)) = (reply, reference) {
                    if Arc::ptr_eq(a, b) {
                        continue;
                    }
                }
                let got = set(reply);
                if got != expected {
                    compared
                        .differences
                        .push(difference(server, expected.clone(), got));
                }
            }
            continue;
        }
        // What the question's AWS resources answer: through the resolver, and from the
        // old servers.
        let mut resource: BTreeSet<String> = BTreeSet::new();
        if let Expect::Possible(possible) = &question.expect {
            for target in possible.resources() {
                if let Some(values) = resolved.get(&(target.clone(), question.rtype)) {
                    resource.extend(values.iter().cloned());
                }
            }
            if !possible.resources().is_empty() {
                for answer in replies[..old.len()].iter().flatten() {
                    if answer.rcode == "NOERROR" {
                        resource.extend(
                            answered(answer, &question.name, question.rtype)
                                .into_iter()
                                .map(|(_, d)| d),
                        );
                    }
                }
            }
        }
        let reference_minimum = replies[0].as_ref().ok().and_then(|a| negative_minimum(a));
        let old_count = old.len();
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        for (index, (server, reply)) in servers.iter().zip(replies).enumerate() {
            let error;
            let reply: Result<&DnsAnswer, &str> = match reply {
                Ok(answer) => Ok(answer),
                Err(e) => {
                    error = e.to_string();
                    Err(&error)
                }
            };
            if let (Expect::Possible(possible), Ok(answer)) = (&question.expect, reply) {
                seen.extend(possible.members_admitting(
                    &answered(answer, &question.name, question.rtype),
                    &resource,
                ));
            }
            if let Some((expected, got)) = judge(
                question,
                reply,
                index < old_count,
                &resource,
                reference_minimum,
            ) {
                compared.differences.push(difference(server, expected, got));
            }
        }
        if let Expect::Possible(Possible::AnyOf(members)) = &question.expect {
            for (index, member) in members.iter().enumerate() {
                if !seen.contains(&index) && *member != Possible::NoData {
                    compared.unseen.push(format!(
                        "{}: the member ({member}) was in no answer of {} servers",
                        question.label(),
                        servers.len()
                    ));
                }
            }
        }
    }
    compared
}

/// What each AWS resource of the questions answers, asked of `resolver` (RD=1) once per
/// target and type; a target the resolver cannot answer is left out (the old servers'
/// answers stand for it). The number of queries sent comes back too.
async fn resolve_resources<D: DnsClient>(
    dns: &D,
    resolver: Option<SocketAddr>,
    questions: &[Question],
    concurrency: usize,
) -> (BTreeMap<(Name, RrType), BTreeSet<String>>, usize) {
    use futures_util::stream::{self, StreamExt};
    let Some(resolver) = resolver else {
        return (BTreeMap::new(), 0);
    };
    let targets: BTreeSet<(Name, RrType)> = questions
        .iter()
        .filter_map(|q| match &q.expect {
            Expect::Possible(p) => Some(
                p.resources()
                    .into_iter()
                    .map(|t| (t.clone(), q.rtype))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    let sent = targets.len();
    let found: Vec<((Name, RrType), BTreeSet<String>)> = stream::iter(targets)
        .map(|(target, rtype)| async move {
            let values: BTreeSet<String> = match dns.query(resolver, &target, rtype, true).await {
                // The records of the type asked, whatever their owner (CNAMEs lead there).
                Ok(answer) if answer.rcode == "NOERROR" => answer
                    .answers
                    .iter()
                    .filter(|r| r.rtype == rtype.as_str())
                    .map(|r| canonical_data(rtype, &r.data))
                    .collect(),
                _ => BTreeSet::new(),
            };
            ((target, rtype), values)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    (
        found.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        sent,
    )
}

/// [`compare_over_dns`], then the questions that differ asked again (pauses from 250 ms,
/// doubling up to 2 s) until they answer alike or `settle` has passed: only a difference
/// that persists is reported. INSYNC says every Route 53 server has a change, yet a server
/// may answer from before it for a moment (the local world reloads a zone within a poll
/// interval); a stale server, a missing record or a wrong value persist and are reported.
pub async fn compare_until_settled<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    questions: &[Question],
    concurrency: usize,
    settle: Duration,
    resolver: Option<SocketAddr>,
) -> Compared {
    let mut compared = compare_over_dns(dns, old, new, questions, concurrency, resolver).await;
    let mut waited = Duration::ZERO;
    let mut pause = Duration::from_millis(250);
    while !compared.differences.is_empty() && waited + pause <= settle {
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_secs(2));
        // One lookup set, not a scan of every difference for every question: a zone of 10,000
        // RRsets on a stale server differs on all of them.
        let keys: BTreeSet<(&str, &str)> = compared
            .differences
            .iter()
            .map(|d| (d.name.as_str(), d.rtype.as_str()))
            .collect();
        let differing: Vec<Question> = questions
            .iter()
            .filter(|p| keys.contains(&(p.name.as_str(), p.rtype.as_str())))
            .cloned()
            .collect();
        let again = compare_over_dns(dns, old, new, &differing, concurrency, resolver).await;
        compared.differences = again.differences;
        compared.queries += again.queries;
    }
    compared
}
