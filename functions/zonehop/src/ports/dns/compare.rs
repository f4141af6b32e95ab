//! Comparing what servers answer: every question to every server, the answer sets against
//! the old zone's reference server, and asking again until a difference persists.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use zonehop_core::answers::{answer_set, Difference, Question};

use crate::ports::dns::DnsClient;

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
    let jobs = questions
        .iter()
        .flat_map(|p| servers.iter().map(move |s| (p, *s)));
    let answers: Vec<(&Question, &Server, Vec<String>)> = stream::iter(jobs)
        .map(|(question, server)| async move {
            let answer = dns
                .query(server.addr, &question.name, question.rtype, false)
                .await
                .map_err(|e| e.to_string());
            (question, server, answer_set(&answer, question))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let queries = answers.len();
    let Some(reference) = old.first() else {
        return (Vec::new(), queries);
    };
    let mut by_question: std::collections::BTreeMap<&Question, Vec<(&Server, Vec<String>)>> =
        std::collections::BTreeMap::new();
    for (question, server, set) in answers {
        by_question.entry(question).or_default().push((server, set));
    }
    let mut differences = Vec::new();
    for (question, mut sets) in by_question {
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
                    name: question.name.to_string(),
                    rtype: question.rtype.to_string(),
                    server: server.label.clone(),
                    old: expected.clone(),
                    new: set.clone(),
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
