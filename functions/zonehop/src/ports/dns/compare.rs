//! Comparing what servers answer: every question to every server, the answer sets against
//! the old zone's reference server, and asking again until a difference persists.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zonehop_core::answers::{answer_set_of, Difference, Question};

use crate::ports::dns::{Ask, DnsAnswer, DnsClient, DnsError};

/// A server to ask, with the label reports use.
#[derive(Debug, Clone)]
pub struct Server {
    pub label: String,
    pub addr: SocketAddr,
}

/// Asks every server about every question (at most `concurrency` queries in flight) and
/// returns the differences against the reference (the first old server) and the number of
/// queries sent.
pub async fn compare_over_dns<D: DnsClient>(
    dns: &D,
    old: &[Server],
    new: &[Server],
    questions: &[Question],
    concurrency: usize,
) -> (Vec<Difference>, usize) {
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
    let replies = dns.query_all(&asks, concurrency.max(1)).await;
    let queries = replies.len();
    if old.is_empty() {
        return (Vec::new(), queries);
    }
    let mut differences = Vec::new();
    for (question, replies) in questions.iter().zip(replies.chunks(servers.len())) {
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
                differences.push(Difference {
                    name: question.name.to_string(),
                    rtype: question.rtype.to_string(),
                    server: server.label.clone(),
                    old: expected.clone(),
                    new: got,
                });
            }
        }
    }
    (differences, queries)
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
) -> (Vec<Difference>, usize) {
    let (mut differences, mut queries) =
        compare_over_dns(dns, old, new, questions, concurrency).await;
    let mut waited = Duration::ZERO;
    let mut pause = Duration::from_millis(250);
    while !differences.is_empty() && waited + pause <= settle {
        tokio::time::sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(Duration::from_secs(2));
        // One lookup set, not a scan of every difference for every question: a zone of 10,000
        // RRsets on a stale server differs on all of them.
        let keys: BTreeSet<(&str, &str)> = differences
            .iter()
            .map(|d| (d.name.as_str(), d.rtype.as_str()))
            .collect();
        let differing: Vec<Question> = questions
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
