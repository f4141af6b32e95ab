//! The zero-downtime prober: through a whole rehearsal it asks every caching resolver of
//! the DNS world for the zone's names, round after round, and judges each answer against
//! what the zone must answer at that moment (DESIGN.md, invariant 6: no resolver ever gets
//! a wrong answer from the first write to finalize). A rehearsal reports what it saw as
//! `observed`, and fails on any answer that is not correct.
//!
//! [`expectations`] holds what each question must answer and the pure judgement; [`wire`]
//! asks one question. Pacing is bounded ([`Pace`]): each resolver gets at most
//! `per_round` questions every `round`, so a zone of thousands of RRsets is covered over a
//! few seconds rather than in one burst (the apex, kept subtrees, aliases, wildcards and
//! cutover records about every second), and the prober stops by itself after `max_run`.

pub mod expectations;
pub mod model;
pub mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::Name;

use self::expectations::{
    describe_expected, judge, Accepted, Answer, Derived, Expectations, Question, Verdict,
};
use self::wire::{ask, WireQuestion};
use crate::dnsworld::Resolver;
use crate::rehearsal::{scaled, Scenario};

/// How hard and how long the prober asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// One round of questions to each resolver this often.
    pub round: Duration,
    /// At most this many questions to one resolver in a round.
    pub per_round: usize,
    /// No reply within this is a timeout.
    pub timeout: Duration,
    /// At most this many questions in all: a longer zone is sampled (every question that
    /// is always asked, and an even spread of the rest).
    pub max_questions: usize,
    /// The prober stops by itself after this long.
    pub max_run: Duration,
}

impl Default for Pace {
    /// 30 questions every 150 ms: at most 200 queries a second to each resolver; a
    /// resolver answers from its cache in well under a millisecond, so a round is done
    /// long before the next, and 3,000 questions are all asked every 15 s.
    fn default() -> Self {
        Pace {
            round: Duration::from_millis(150),
            per_round: 30,
            timeout: Duration::from_secs(1),
            max_questions: 3_000,
            max_run: Duration::from_secs(30 * 60),
        }
    }
}

/// How one resolver's answers were judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub queries: u64,
    pub correct: u64,
    pub wrong: u64,
    pub servfail: u64,
    pub nxdomain: u64,
    pub timeouts: u64,
    pub other_rcode: u64,
    /// Timeouts and SERVFAILs inside a window an injected fault excused ([`Excuse`]):
    /// the fault's own effect, counted apart and not a problem.
    pub excused: u64,
    /// Wrong answers carrying the very value a fault made a server lie with, while it lied
    /// (and a TTL after): the fault's own effect (`new-side-wrong`), counted apart; any other
    /// wrong answer stays a problem.
    pub lies: u64,
}

/// A window in which an injected fault (a silent resolver or parent server) excuses a
/// resolver's timeouts and SERVFAILs: from `from_ms` until `until_ms` (open while `None`)
/// plus `grace_ms`; `resolver` `None` excuses every resolver. A wrong answer is never
/// excused; one that carries `lie`, the value a fault made a server answer, is counted as
/// the fault's ([`Tally::lies`]) inside the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excuse {
    pub fault: String,
    pub resolver: Option<String>,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    pub grace_ms: i64,
    pub lie: Option<String>,
}

impl Excuse {
    fn covers(&self, resolver: &str, held: &Held, verdict: Verdict, answer: &str) -> bool {
        let (sent_ms, received_ms) = (held.sent_ms, held.received_ms);
        let kind = match &self.lie {
            Some(lie) => verdict == Verdict::Wrong && answer.contains(lie.as_str()),
            None => matches!(verdict, Verdict::Timeout | Verdict::ServFail),
        };
        kind && self.resolver.as_deref().is_none_or(|r| r == resolver)
            && received_ms >= self.from_ms
            && self
                .until_ms
                .is_none_or(|until| sent_ms <= until + self.grace_ms)
    }
}

/// The excuses a prober consults as it judges; the rehearsal adds and closes them as it
/// injects faults.
pub type Excuses = Arc<RwLock<Vec<Excuse>>>;

impl Tally {
    fn count(&mut self, verdict: Verdict, excused: bool, lie: bool) {
        self.queries += 1;
        if lie {
            self.lies += 1;
            return;
        }
        if excused {
            self.excused += 1;
            return;
        }
        match verdict {
            Verdict::Correct => self.correct += 1,
            Verdict::Wrong => self.wrong += 1,
            Verdict::NxDomain => self.nxdomain += 1,
            Verdict::ServFail => self.servfail += 1,
            Verdict::Timeout => self.timeouts += 1,
            Verdict::OtherRcode => self.other_rcode += 1,
        }
    }

    fn add(&mut self, other: &Tally) {
        self.queries += other.queries;
        self.correct += other.correct;
        self.wrong += other.wrong;
        self.servfail += other.servfail;
        self.nxdomain += other.nxdomain;
        self.timeouts += other.timeouts;
        self.other_rcode += other.other_rcode;
        self.excused += other.excused;
        self.lies += other.lies;
    }

    /// Answers that were not correct.
    pub fn problems(&self) -> u64 {
        self.queries - self.correct - self.excused - self.lies
    }

    fn to_json(self) -> Value {
        json!({
            "queries": self.queries,
            "correct": self.correct,
            "wrong": self.wrong,
            "servfail": self.servfail,
            "nxdomain": self.nxdomain,
            "timeouts": self.timeouts,
            "otherRcode": self.other_rcode,
            "excused": self.excused,
            "lies": self.lies,
        })
    }
}

/// One answer that was not correct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub resolver: String,
    pub question: Question,
    pub at_ms: i64,
    pub verdict: Verdict,
    pub got: String,
    pub expected: String,
}

/// How many problems a report lists.
const FIRST_PROBLEMS: usize = 20;

/// What the prober saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub total: Tally,
    pub per_resolver: BTreeMap<String, Tally>,
    pub questions: usize,
    /// Questions of the zone left out by sampling (beyond `max_questions`).
    pub sampled_out: usize,
    /// RRsets of the zone not asked, and why (`not_asked` of [`Derived`]).
    pub not_asked: Vec<(String, String)>,
    pub started_ms: i64,
    pub ended_ms: i64,
    /// The first problems, by time.
    pub first_problems: Vec<Problem>,
    /// The prober hit `max_run` before it was told to stop.
    pub hit_time_cap: bool,
    /// The fewest and the most times one resolver was asked one question.
    pub asks_per_question: (u64, u64),
    pub pace: Pace,
    /// Every answer that was not correct (and not excused), counted by question.
    pub problems_by_question: BTreeMap<Question, u64>,
}

impl Observed {
    /// Any answer that was not correct.
    pub fn failed(&self) -> bool {
        self.total.problems() > 0
    }

    /// `observed: N queries to 2 resolvers, 0 wrong, 0 SERVFAIL, 0 NXDOMAIN, 0 timeouts`.
    pub fn summary_line(&self) -> String {
        summary_lines(&self.to_json()).remove(0)
    }

    /// The first problems, one line each.
    pub fn problem_lines(&self) -> Vec<String> {
        self.first_problems
            .iter()
            .map(|p| {
                format!(
                    "{} {} {} at {}: got {}, expected {}",
                    p.resolver,
                    p.question.name,
                    p.question.rtype,
                    iso_ms(p.at_ms),
                    p.got,
                    p.expected
                )
            })
            .collect()
    }

    /// `report.json`'s `observed`.
    pub fn to_json(&self) -> Value {
        let mut value = self.total.to_json();
        let per_resolver: BTreeMap<&String, Value> = self
            .per_resolver
            .iter()
            .map(|(name, tally)| (name, tally.to_json()))
            .collect();
        let problems: Vec<Value> = self
            .first_problems
            .iter()
            .map(|p| {
                json!({
                    "resolver": p.resolver,
                    "name": p.question.name.as_str(),
                    "type": p.question.rtype.as_str(),
                    "at": iso_ms(p.at_ms),
                    "verdict": format!("{:?}", p.verdict),
                    "got": p.got,
                    "expected": p.expected,
                })
            })
            .collect();
        let mut why: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, reason) in &self.not_asked {
            *why.entry(reason.as_str()).or_default() += 1;
        }
        value["questions"] = json!(self.questions);
        value["sampledOut"] = json!(self.sampled_out);
        value["notAskedOutside"] = json!(why
            .get(expectations::DELEGATED_OUTSIDE)
            .copied()
            .unwrap_or(0));
        value["notAsked"] = json!(why);
        value["startedAt"] = json!(iso_ms(self.started_ms));
        value["endedAt"] = json!(iso_ms(self.ended_ms));
        value["seconds"] = json!(((self.ended_ms - self.started_ms) as f64 / 100.0).round() / 10.0);
        value["hitTimeCap"] = json!(self.hit_time_cap);
        value["asksPerQuestion"] = json!({
            "min": self.asks_per_question.0,
            "max": self.asks_per_question.1,
        });
        value["pace"] = json!({
            "roundMs": self.pace.round.as_millis() as u64,
            "perResolverPerRound": self.pace.per_round,
            "timeoutMs": self.pace.timeout.as_millis() as u64,
        });
        value["perResolver"] = json!(per_resolver);
        value["firstProblems"] = json!(problems);
        value["problemsByQuestion"] = json!(self
            .problems_by_question
            .iter()
            .map(|(q, n)| (q.to_string(), *n))
            .collect::<BTreeMap<String, u64>>());
        value
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn iso_ms(ms: i64) -> String {
    DateTime::from_millis(ms)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// One question, ready to ask.
#[derive(Debug, Clone)]
struct Asked {
    question: Question,
    wire: WireQuestion,
}

/// Each question always asked is asked at least this often when the list is long.
const ALWAYS_EVERY: Duration = Duration::from_secs(1);

/// Which questions a round asks: the next `always_share` of the ones always asked, then
/// the next of the rest, each list walked round-robin.
#[derive(Debug, Clone)]
struct Schedule {
    always: Vec<Asked>,
    rest: Vec<Asked>,
    always_share: usize,
    next_always: usize,
    next_rest: usize,
}

impl Schedule {
    fn new(always: Vec<Asked>, rest: Vec<Asked>, pace: &Pace) -> Schedule {
        Schedule {
            always_share: always_share(always.len(), rest.len(), pace),
            always,
            rest,
            next_always: 0,
            next_rest: 0,
        }
    }

    fn round(&mut self, budget: usize) -> Vec<Asked> {
        if self.always.len() + self.rest.len() <= budget {
            return self.always.iter().chain(&self.rest).cloned().collect();
        }
        let from_always = self.always_share.min(budget);
        let mut batch = take_cyclic(&self.always, &mut self.next_always, from_always);
        let left = budget - batch.len();
        batch.extend(take_cyclic(&self.rest, &mut self.next_rest, left));
        batch
    }
}

/// How many of the questions always asked a round holds when not every question fits: enough
/// to ask each at least every [`ALWAYS_EVERY`], at most half the round (the rest of the zone
/// keeps its turn), all of the round when there is no rest.
fn always_share(always: usize, rest: usize, pace: &Pace) -> usize {
    if rest == 0 {
        return pace.per_round;
    }
    let rounds_per_period = (ALWAYS_EVERY.as_millis() / pace.round.as_millis().max(1)).max(1);
    let needed = always.div_ceil(usize::try_from(rounds_per_period).unwrap_or(1));
    needed.min(pace.per_round / 2).min(always)
}

/// Keeps at most `room` of `list`, evenly spread over it; returns how many were left out.
fn sample<T: Clone>(list: &mut Vec<T>, room: usize) -> usize {
    let left_out = list.len().saturating_sub(room);
    if left_out > 0 {
        let step = list.len() as f64 / room.max(1) as f64;
        *list = (0..room)
            .filter_map(|i| list.get((i as f64 * step) as usize).cloned())
            .collect();
    }
    left_out
}

fn take_cyclic(list: &[Asked], next: &mut usize, count: usize) -> Vec<Asked> {
    if list.is_empty() {
        return Vec::new();
    }
    let count = count.min(list.len());
    let batch = (0..count)
        .map(|i| list[(*next + i) % list.len()].clone())
        .collect();
    *next = (*next + count) % list.len();
    batch
}

/// An answer kept to be judged when the prober stops.
#[derive(Debug, Clone)]
struct Held {
    question: Question,
    answer: Answer,
    sent_ms: i64,
    received_ms: i64,
}

/// What one resolver's task saw.
#[derive(Debug, Default)]
struct ResolverLog {
    tally: Tally,
    problems: Vec<Problem>,
    held: Vec<Held>,
    hit_time_cap: bool,
    /// How many times each question was asked.
    asked: BTreeMap<Question, u64>,
    /// Answers not correct (nor excused), by question.
    problems_by_question: BTreeMap<Question, u64>,
}

impl ResolverLog {
    fn record(
        &mut self,
        resolver: &str,
        expectations: &Expectations,
        excuses: &Excuses,
        held: Held,
        verdict: Verdict,
    ) {
        let answer = held.answer.describe();
        let covered = |lie: bool| {
            verdict != Verdict::Correct
                && excuses.read().is_ok_and(|list| {
                    list.iter()
                        .filter(|e| e.lie.is_some() == lie)
                        .any(|e| e.covers(resolver, &held, verdict, &answer))
                })
        };
        let (excused, lie) = (covered(false), covered(true));
        self.tally.count(verdict, excused, lie);
        let excused = excused || lie;
        *self.asked.entry(held.question.clone()).or_default() += 1;
        if verdict != Verdict::Correct && !excused {
            *self
                .problems_by_question
                .entry(held.question.clone())
                .or_default() += 1;
        }
        if verdict != Verdict::Correct && !excused && self.problems.len() < FIRST_PROBLEMS {
            self.problems.push(Problem {
                resolver: resolver.to_owned(),
                expected: describe_expected(expectations.windows(&held.question), held.received_ms),
                question: held.question,
                at_ms: held.received_ms,
                verdict,
                got: held.answer.describe(),
            });
        }
    }
}

/// The prober, running: one task per resolver.
#[derive(Debug)]
pub struct Prober {
    stop: watch::Sender<bool>,
    tasks: Vec<(String, JoinHandle<ResolverLog>)>,
    expectations: Arc<RwLock<Expectations>>,
    excuses: Excuses,
    started_ms: i64,
    questions: usize,
    sampled_out: usize,
    not_asked: Vec<(String, String)>,
    pace: Pace,
}

impl Prober {
    /// Waits until each resolver answers the zone's apex (at most 15 s), then starts asking
    /// every resolver the questions of `derived`.
    pub async fn start(resolvers: &[Resolver], derived: Derived, pace: Pace) -> Prober {
        let Derived {
            expectations,
            not_asked,
            ..
        } = derived;
        let not_asked: Vec<(String, String)> = not_asked
            .into_iter()
            .map(|n| (n.question.to_string(), n.why.to_owned()))
            .collect();
        let mut always = Vec::new();
        let mut rest: Vec<Asked> = Vec::new();
        for (question, e) in &expectations.questions {
            let Ok(wire) = WireQuestion::new(question) else {
                continue;
            };
            let asked = Asked {
                question: question.clone(),
                wire,
            };
            if e.always {
                always.push(asked);
            } else {
                rest.push(asked);
            }
        }
        let sampled_out = sample(&mut rest, pace.max_questions.saturating_sub(always.len()));
        let questions = always.len() + rest.len();
        let shortest = always
            .iter()
            .chain(&rest)
            .min_by_key(|a| a.question.name.label_count());
        if let Some(apex) = shortest {
            for resolver in resolvers {
                ready(resolver.addr, &apex.wire, Duration::from_secs(15)).await;
            }
        }
        let expectations = Arc::new(RwLock::new(expectations));
        let excuses: Excuses = Arc::new(RwLock::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        let tasks = resolvers
            .iter()
            .map(|resolver| {
                let schedule = Schedule::new(always.clone(), rest.clone(), &pace);
                let task = tokio::spawn(run(
                    resolver.clone(),
                    schedule,
                    Arc::clone(&expectations),
                    Arc::clone(&excuses),
                    stopped.clone(),
                    pace,
                    started,
                ));
                (resolver.name.to_owned(), task)
            })
            .collect();
        Prober {
            stop,
            tasks,
            expectations,
            excuses,
            started_ms: now_ms(),
            questions,
            sampled_out,
            not_asked,
            pace,
        }
    }

    /// What the questions must answer; a change made while the prober runs is told here
    /// ([`Expectations::begin_change`], [`Expectations::end_change`]).
    pub fn expectations(&self) -> Arc<RwLock<Expectations>> {
        Arc::clone(&self.expectations)
    }

    /// The faults' excuses this prober judges with ([`Excuse`]).
    pub fn excuses(&self) -> Excuses {
        Arc::clone(&self.excuses)
    }

    /// Stops asking (the current round finishes: at most the timeout), applies what is
    /// only known now (`late`: a cutover's times), judges the answers held for it, and
    /// reports.
    pub async fn stop(mut self, late: impl FnOnce(&mut Expectations)) -> Observed {
        let _ = self.stop.send(true);
        let mut observed = Observed {
            questions: self.questions,
            sampled_out: self.sampled_out,
            not_asked: std::mem::take(&mut self.not_asked),
            started_ms: self.started_ms,
            pace: self.pace,
            ..Observed::default()
        };
        if let Ok(mut expectations) = self.expectations.write() {
            late(&mut expectations);
        }
        let expectations = self
            .expectations
            .read()
            .map(|e| e.clone())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for (name, task) in std::mem::take(&mut self.tasks) {
            let mut log = task.await.unwrap_or_default();
            for held in std::mem::take(&mut log.held) {
                let verdict = judge(
                    expectations.windows(&held.question),
                    &held.answer,
                    held.sent_ms,
                    held.received_ms,
                );
                log.record(&name, &expectations, &self.excuses, held, verdict);
            }
            let fewest = if log.asked.len() < self.questions {
                0
            } else {
                log.asked.values().copied().min().unwrap_or(0)
            };
            let most = log.asked.values().copied().max().unwrap_or(0);
            observed.asks_per_question = if observed.per_resolver.is_empty() {
                (fewest, most)
            } else {
                (
                    observed.asks_per_question.0.min(fewest),
                    observed.asks_per_question.1.max(most),
                )
            };
            observed.total.add(&log.tally);
            observed.hit_time_cap |= log.hit_time_cap;
            observed.per_resolver.insert(name, log.tally);
            for (question, n) in log.problems_by_question {
                *observed.problems_by_question.entry(question).or_default() += n;
            }
            problems.extend(log.problems);
        }
        problems.sort_by_key(|p| p.at_ms);
        problems.truncate(FIRST_PROBLEMS);
        observed.first_problems = problems;
        observed.ended_ms = now_ms();
        observed
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Until `resolver` answers `question` with data, or `patience` runs out.
async fn ready(resolver: SocketAddr, question: &WireQuestion, patience: Duration) {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Answer::Reply { data, .. } = ask(resolver, question, Duration::from_secs(1)).await {
            if !data.is_empty() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One resolver's rounds, until told to stop or `max_run` has passed.
async fn run(
    resolver: Resolver,
    mut schedule: Schedule,
    expectations: Arc<RwLock<Expectations>>,
    excuses: Excuses,
    mut stopped: watch::Receiver<bool>,
    pace: Pace,
    started: Instant,
) -> ResolverLog {
    let mut log = ResolverLog::default();
    let mut tick = tokio::time::interval(pace.round);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
        if started.elapsed() >= pace.max_run {
            log.hit_time_cap = true;
            break;
        }
        let batch = schedule.round(pace.per_round);
        let answers = futures_util::future::join_all(batch.into_iter().map(|asked| async move {
            let sent_ms = now_ms();
            let answer = ask(resolver.addr, &asked.wire, pace.timeout).await;
            Held {
                question: asked.question,
                answer,
                sent_ms,
                received_ms: now_ms(),
            }
        }))
        .await;
        let Ok(expectations) = expectations.read() else {
            break;
        };
        for held in answers {
            let deferred = expectations
                .questions
                .get(&held.question)
                .is_some_and(|e| e.deferred);
            if deferred {
                log.held.push(held);
                continue;
            }
            let verdict = judge(
                expectations.windows(&held.question),
                &held.answer,
                held.sent_ms,
                held.received_ms,
            );
            log.record(resolver.name, &expectations, &excuses, held, verdict);
        }
    }
    log
}

/// The expectations of a rehearsal's zone: the scenario's records as loaded into the source
/// zone (TTLs scaled, same-zone aliases on the placeholder id `SOURCE`).
pub fn expectations_for(scenario: &Scenario) -> Derived {
    let keep: Vec<Name> = scenario
        .keep
        .iter()
        .filter_map(|k| Name::parse(k).ok())
        .collect();
    expectations::derive(
        &scenario.domain,
        "SOURCE",
        &scaled(&scenario.records, scenario.ttl),
        &keep,
    )
}

/// A change the zone goes through while the prober runs: a question, and what it answers
/// once the change is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub question: Question,
    pub after: Accepted,
    pub ttl: u32,
}

/// Every question whose answer differs between two derivations of the zone (before and
/// after an edit): the edited records and whatever follows them (an alias to one, a CNAME
/// chain through one). A question new after the edit answered before what the zone then
/// answered for it (a name under a wildcard: the wildcard's data); one gone after it answers
/// what the zone then answers (the wildcard's data again, or nothing).
pub fn planned_changes(before: &Expectations, after: &Expectations) -> Vec<PlannedChange> {
    let first = |e: &expectations::Expectation| e.windows.first().map(|w| w.accepted.clone());
    let mut changes: Vec<PlannedChange> = after
        .questions
        .iter()
        .filter(|(q, e)| before.answer(q).map(|(old, _)| old) != first(e))
        .filter_map(|(q, e)| {
            Some(PlannedChange {
                question: q.clone(),
                after: first(e)?,
                ttl: e.ttl,
            })
        })
        .collect();
    changes.extend(
        before
            .questions
            .iter()
            .filter(|(q, _)| !after.questions.contains_key(*q))
            .filter_map(|(q, e)| {
                let (now, ttl) = after.resolve(q).unwrap_or((Accepted::Nothing, e.ttl));
                (first(e) != Some(now.clone())).then(|| PlannedChange {
                    question: q.clone(),
                    after: now,
                    ttl: e.ttl.max(ttl),
                })
            }),
    );
    changes
}

/// `records` with a request's `cutover.records` written over them, TTLs capped at
/// `ttl_cap`: the zone once the cutover is done.
pub fn after_cutover(records: &[RecordSet], request: &Value, ttl_cap: u32) -> Vec<RecordSet> {
    let cutover: Vec<zonehop::core::request::CutoverRecord> =
        serde_json::from_value(request["cutover"]["records"].clone()).unwrap_or_default();
    let mut after = records.to_vec();
    for r in &cutover {
        let (Ok(name), Some(rtype)) = (Name::parse(&r.name), RrType::parse(&r.rtype)) else {
            continue;
        };
        let values: Vec<&str> = r.values.iter().map(String::as_str).collect();
        let ttl = r.ttl.clamp(0, i64::from(ttl_cap));
        after.retain(|x| !(x.name == name && x.rtype == rtype));
        after.push(RecordSet::simple(name, rtype, ttl, &values));
    }
    after
}

/// The changes a rehearsal's cutover makes (none without `cutover.records`).
pub fn cutover_changes(scenario: &Scenario, request: &Value) -> Vec<PlannedChange> {
    let before = expectations_for(scenario);
    let after = Scenario {
        records: after_cutover(&scenario.records, request, scenario.ttl),
        ..scenario.clone()
    };
    planned_changes(&before.expectations, &expectations_for(&after).expectations)
}

/// Before changes whose times will only be known later (a cutover's come from the
/// execution's history): their questions are asked in every round and judged when the
/// prober stops. A question a change creates answers before it what the zone answers for
/// it (nothing, or a wildcard's data).
pub fn defer_changes(expectations: &mut Expectations, changes: &[PlannedChange]) {
    for change in changes {
        if !expectations.questions.contains_key(&change.question) {
            let (before, ttl) = expectations
                .resolve(&change.question)
                .unwrap_or((Accepted::Nothing, change.ttl));
            expectations.insert(change.question.clone(), before, ttl.max(change.ttl), true);
        }
        expectations.defer(&change.question);
    }
}

/// The changes were made from `started_ms` to `ended_ms` (`None`: never made, as when the
/// execution ended before its cutover): before, only the old data; then old or new until
/// the TTL has passed; then only new.
pub fn apply_changes(
    expectations: &mut Expectations,
    changes: &[PlannedChange],
    made: Option<(i64, i64)>,
) {
    let Some((started_ms, ended_ms)) = made else {
        return;
    };
    for change in changes {
        expectations.begin_change(
            &change.question,
            change.after.clone(),
            change.ttl,
            started_ms,
        );
        expectations.end_change(&change.question, started_ms, ended_ms);
    }
}

/// What edits change, from the expectations before them: the changes to the scenario once
/// every edit is made and carried (`edited`), and the versions a zone serves meanwhile of an
/// RRset the other zone wrote differently (from `per_zone`: the scenario as each zone holds
/// it with only its own edits).
pub fn edit_changes(
    before: &Expectations,
    edited: &Scenario,
    per_zone: &[Scenario],
) -> (Vec<PlannedChange>, Vec<PlannedChange>) {
    let edits = planned_changes(before, &expectations_for(edited).expectations);
    let meanwhile: Vec<PlannedChange> = per_zone
        .iter()
        .flat_map(|zone| planned_changes(before, &expectations_for(zone).expectations))
        .filter(|m| {
            edits
                .iter()
                .any(|e| e.question == m.question && e.after != m.after)
        })
        .collect();
    (edits, meanwhile)
}

/// The prober as a rehearsal runs it: started before the execution's first write, stopped
/// once the execution has ended (before the world is torn down), with the request's
/// cutover judged by the cutover phase's times.
#[derive(Debug)]
pub struct Probing {
    prober: Prober,
    changes: Vec<PlannedChange>,
    resolvers: Vec<&'static str>,
    /// Changes made during the window by someone else (a fault's edits): deferred, and
    /// judged with the times given through [`Probing::edit_clock`].
    edits: Vec<PlannedChange>,
    /// What a zone serves of an edited RRset between the edit and its carry when the other
    /// zone wrote it differently (a conflict): the writing zone's own version.
    meanwhile: Vec<PlannedChange>,
    edit_clock: EditClock,
}

/// When the edits of a rehearsal were written, and when both zones held them (carried):
/// shared between the prober and whoever makes the edits. Either for all the edits at once
/// ([`EditClock::made`], [`EditClock::carried`]: the edit faults, written at one moment), or
/// per question ([`EditClock::made_at`], [`EditClock::carried_at`]: the edit storm, whose
/// RRsets are written at different phases and carried at different times); a question's
/// own times win over the shared ones.
#[derive(Debug, Clone, Default)]
pub struct EditClock(Arc<RwLock<EditTimes>>);

/// One edit's (or every edit's) times, milliseconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditTime {
    pub made_ms: Option<i64>,
    /// When both zones held the edit with its winning value.
    pub carried_ms: Option<i64>,
    /// Used for the end of the change when no carry is ever seen (the run reports the
    /// edits lost): soon after the write, so that nothing stale is excused.
    pub fallback_settled_ms: Option<i64>,
}

impl EditTime {
    /// When the change began and when it was done in both zones (the fallback if never).
    fn span(&self) -> Option<(i64, i64)> {
        self.made_ms
            .zip(self.carried_ms.or(self.fallback_settled_ms))
    }
}

/// Every edit's times: the shared ones, and those of single questions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditTimes {
    pub all: EditTime,
    pub per_question: BTreeMap<Question, EditTime>,
}

impl EditTimes {
    /// When the change of `question` began and was done in both zones (for a zone's own
    /// version meanwhile: from its write to the carry). A question no edit
    /// wrote itself but whose answer an edit changed (asked at the end of a CNAME chain
    /// through an edited RRset: `storm-5 A` through the deleted `storm-5 CNAME`) has no time
    /// of its own when the edits are timed per question: it changes somewhere between the
    /// first edit made and the last one carried, so that span is its own (old or new in it,
    /// only new after it).
    /// True for a question with no time of its own among edits timed per question (see
    /// [`EditTimes::span`]).
    fn derived(&self, question: &Question) -> bool {
        !self.per_question.is_empty() && !self.per_question.contains_key(question)
    }

    fn span(&self, question: &Question) -> Option<(i64, i64)> {
        if let Some(own) = self.per_question.get(question) {
            return own.span();
        }
        if self.per_question.is_empty() {
            return self.all.span();
        }
        let spans: Vec<(i64, i64)> = self
            .per_question
            .values()
            .filter_map(EditTime::span)
            .collect();
        let first = spans.iter().map(|(made, _)| *made).min()?;
        let last = spans.iter().map(|(_, settled)| *settled).max()?;
        Some((first, last))
    }
}

impl EditClock {
    /// The edits were written at `made_ms`; `fallback_settled_ms` ends the change if no
    /// carry is ever reported.
    pub fn made(&self, made_ms: i64, fallback_settled_ms: i64) {
        if let Ok(mut t) = self.0.write() {
            t.all.made_ms = Some(made_ms);
            t.all.fallback_settled_ms = Some(fallback_settled_ms);
        }
    }

    /// Every edit was in both zones, with its winning value, at `carried_ms`.
    pub fn carried(&self, carried_ms: i64) {
        if let Ok(mut t) = self.0.write() {
            t.all.carried_ms.get_or_insert(carried_ms);
        }
    }

    /// The edit of `question`'s RRset was written at `made_ms` (the first write of it, when
    /// both zones write it).
    pub fn made_at(&self, question: Question, made_ms: i64, fallback_settled_ms: i64) {
        if let Ok(mut t) = self.0.write() {
            let time = t.per_question.entry(question).or_default();
            time.made_ms.get_or_insert(made_ms);
            time.fallback_settled_ms.get_or_insert(fallback_settled_ms);
        }
    }

    /// Both zones held `question`'s RRset as it must end at `carried_ms`.
    pub fn carried_at(&self, question: &Question, carried_ms: i64) {
        if let Ok(mut t) = self.0.write() {
            if let Some(time) = t.per_question.get_mut(question) {
                time.carried_ms.get_or_insert(carried_ms);
            }
        }
    }

    pub fn times(&self) -> EditTimes {
        self.0.read().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Applies the edits' times to the expectations (when the prober stops): each edited
/// question answers its old data until the edit, old or new until it is carried plus the
/// TTL and the serving delay, then only the new (for a deletion: nothing). `meanwhile`: a
/// zone's own version of an RRset both zones wrote differently, accepted from the edit until
/// the carry (plus the same linger). An edit never carried ends at its fallback (soon after
/// the write: the run reports it lost); an edit never made changes nothing.
pub fn apply_edit_times(
    expectations: &mut Expectations,
    edits: &[PlannedChange],
    meanwhile: &[PlannedChange],
    times: &EditTimes,
) {
    for edit in edits {
        let Some((made, settled)) = times.span(&edit.question) else {
            continue;
        };
        if times.derived(&edit.question) {
            // A question at the end of a CNAME chain through RRsets edited in both zones at
            // different moments answers, meanwhile, whatever mix of their old and new
            // versions a zone holds (storm-8 A: the target's storm-8 CNAME, not yet deleted,
            // to the target's own storm-6 A): anything within the span, then only the
            // final answer. The RRsets themselves are asked directly, each judged strictly.
            expectations.begin_change(
                &edit.question,
                Accepted::Anything("a CNAME chain through RRsets being edited".to_owned()),
                edit.ttl,
                made,
            );
            expectations.begin_change(&edit.question, edit.after.clone(), edit.ttl, settled);
            expectations.end_change(&edit.question, settled, settled);
            continue;
        }
        apply_changes(
            expectations,
            std::slice::from_ref(edit),
            Some((made, settled)),
        );
    }
    for m in meanwhile {
        if let Some((from, settled)) = times.span(&m.question) {
            expectations.served_between(&m.question, m.after.clone(), from, settled);
        }
    }
}

impl Probing {
    pub async fn start(resolvers: &[Resolver], scenario: &Scenario, request: &Value) -> Probing {
        Probing::start_with_edits(resolvers, scenario, request, scenario, &[]).await
    }

    /// [`Probing::start`] for a rehearsal in which the zones will be edited during the
    /// window. `edited`: the scenario once the edits are made and carried; `per_zone`: the
    /// scenario as each zone holds it between its own edits and the carry. The questions the
    /// edits change are deferred and judged by the times given through
    /// [`Probing::edit_clock`]: before the edits, the old data; from them until the carry plus
    /// the TTL, old or new, or a zone's own version of an RRset both zones wrote; then only
    /// the winning value.
    pub async fn start_with_edits(
        resolvers: &[Resolver],
        scenario: &Scenario,
        request: &Value,
        edited: &Scenario,
        per_zone: &[Scenario],
    ) -> Probing {
        let mut derived = expectations_for(scenario);
        let changes = cutover_changes(scenario, request);
        defer_changes(&mut derived.expectations, &changes);
        let (edits, meanwhile) = edit_changes(&derived.expectations, edited, per_zone);
        defer_changes(&mut derived.expectations, &edits);
        Probing {
            prober: Prober::start(resolvers, derived, Pace::default()).await,
            changes,
            resolvers: resolvers.iter().map(|r| r.name).collect(),
            edits,
            meanwhile,
            edit_clock: EditClock::default(),
        }
    }

    /// Where the edits' times are given (see [`Probing::start_with_edits`]).
    pub fn edit_clock(&self) -> EditClock {
        self.edit_clock.clone()
    }

    /// The faults' excuses ([`Excuse`]).
    pub fn excuses(&self) -> Excuses {
        self.prober.excuses()
    }

    /// One line for the rehearsal's log.
    pub fn describe(&self) -> String {
        let p = &self.prober;
        format!(
            "prober: {} questions ({} RRsets not asked{}) to {} every {} ms, at most {} a round each",
            p.questions,
            p.not_asked.len(),
            if p.sampled_out > 0 {
                format!(", {} sampled out", p.sampled_out)
            } else {
                String::new()
            },
            self.resolvers.join(" and "),
            p.pace.round.as_millis(),
            p.pace.per_round
        )
    }

    ///
    /// `phases` are every execution's (`AGAIN=1`: the first's, then the second's): the
    /// cutover began when a cutover phase first began and was done when one ended into
    /// finalize (a cutover that fails is caught: its phase ends into `failed-after-safe`).
    /// One that failed (and none after it that did) may have written or not: old or new are
    /// accepted from its start on.
    pub async fn stop(self, phases: &[crate::rehearsal::Phase]) -> Observed {
        let began = phases
            .iter()
            .find(|p| p.name == "cutover")
            .and_then(|p| p.started.to_millis().ok());
        let done = phases
            .windows(2)
            .filter(|w| w[0].name == "cutover" && w[1].name == "finalize")
            .find_map(|w| w[0].ended.and_then(|e| e.to_millis().ok()));
        let changes = self.changes;
        let edits = self.edits;
        let meanwhile = self.meanwhile;
        let times = self.edit_clock.times();
        self.prober
            .stop(|e| {
                match (began, done) {
                    (Some(began), Some(done)) => apply_changes(e, &changes, Some((began, done))),
                    (Some(began), None) => {
                        for change in &changes {
                            e.begin_change(
                                &change.question,
                                change.after.clone(),
                                change.ttl,
                                began,
                            );
                        }
                    }
                    _ => {}
                }
                apply_edit_times(e, &edits, &meanwhile, &times);
            })
            .await
    }
}

impl Observed {
    /// A rehearsal's status and error once its answers are judged too: a migration that
    /// succeeded while some resolver got a wrong answer, or none, failed (invariant 6).
    pub fn verdict(&self, status: &'static str, error: Value) -> (&'static str, Value) {
        if !self.failed() || status != "SUCCEEDED" {
            return (status, error);
        }
        let error = json!({
            "errorType": "ResolversAnsweredWrong",
            "cause": format!(
                "{}; first: {}",
                self.summary_line(),
                self.problem_lines().first().cloned().unwrap_or_default()
            ),
            "rolledBack": false,
        });
        ("FAILED", error)
    }
}

/// The summary's lines for a report's `observed`: the counts, then the first problems.
pub fn summary_lines(observed: &Value) -> Vec<String> {
    if !observed.is_object() {
        return Vec::new();
    }
    let count = |field: &str| observed[field].as_u64().unwrap_or(0);
    let resolvers = observed["perResolver"].as_object().map_or(0, |r| r.len());
    let mut lines = vec![format!(
        "observed: {} queries to {resolvers} resolvers, {} wrong, {} SERVFAIL, {} NXDOMAIN, {} timeouts{}{}{}{}",
        count("queries"),
        count("wrong"),
        count("servfail"),
        count("nxdomain"),
        count("timeouts"),
        if count("otherRcode") > 0 {
            format!(", {} other rcodes", count("otherRcode"))
        } else {
            String::new()
        },
        if count("notAskedOutside") > 0 {
            format!(
                "; {} RRsets not asked (delegated to name servers outside the world)",
                count("notAskedOutside")
            )
        } else {
            String::new()
        },
        if count("excused") > 0 {
            format!(
                " ({} timeouts/SERVFAILs excused: a silent server the faults made)",
                count("excused")
            )
        } else {
            String::new()
        },
        if count("lies") > 0 {
            format!(
                " ({} answers carried the lie a fault made a server tell, while it told it)",
                count("lies")
            )
        } else {
            String::new()
        }
    )];
    for p in observed["firstProblems"].as_array().into_iter().flatten() {
        let text = |field: &str| p[field].as_str().unwrap_or("?").to_owned();
        lines.push(format!(
            "  ✗ {} {} {} at {}: got {}, expected {}",
            text("resolver"),
            text("name"),
            text("type"),
            text("at"),
            text("got"),
            text("expected")
        ));
    }
    lines
}

/// A phase's bounds in a rehearsal report (`phases[].startedAt/endedAt`), milliseconds.
pub fn phase_bounds(report: &Value, phase: &str) -> Option<(i64, i64)> {
    let p = report["phases"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == phase)?;
    let ms = |v: &Value| {
        DateTime::from_str(v.as_str()?, Format::DateTime)
            .ok()?
            .to_millis()
            .ok()
    };
    Some((ms(&p["startedAt"])?, ms(&p["endedAt"])?))
}

#[cfg(test)]
mod tests {
    use self::expectations::DataSet;
    use super::*;
    use hickory_proto::op::ResponseCode;

    fn asked(name: &str) -> Asked {
        let question = Question {
            name: Name::parse(name).expect("name"),
            rtype: RrType::A,
        };
        Asked {
            wire: WireQuestion::new(&question).expect("wire"),
            question,
        }
    }

    fn names(batch: &[Asked]) -> Vec<String> {
        batch
            .iter()
            .map(|a| a.question.name.as_str().trim_end_matches(".x.").to_owned())
            .collect()
    }

    #[test]
    fn a_short_list_is_asked_whole_each_round_and_a_long_one_in_turns() {
        let pace = Pace::default();
        let mut short = Schedule::new(vec![asked("a.x")], vec![asked("b.x"), asked("c.x")], &pace);
        assert_eq!(names(&short.round(30)), ["a", "b", "c"]);
        assert_eq!(names(&short.round(30)), ["a", "b", "c"]);
        let pace = Pace {
            round: Duration::from_millis(500),
            per_round: 4,
            ..Pace::default()
        };
        let mut long = Schedule::new(
            vec![asked("a.x"), asked("b.x"), asked("c.x")],
            (0..5).map(|i| asked(&format!("r{i}.x"))).collect(),
            &pace,
        );
        // Two rounds a second: two of the three always asked in each, the others in turn.
        assert_eq!(names(&long.round(4)), ["a", "b", "r0", "r1"]);
        assert_eq!(names(&long.round(4)), ["c", "a", "r2", "r3"]);
        assert_eq!(names(&long.round(4)), ["b", "c", "r4", "r0"]);
    }

    #[test]
    fn the_ones_always_asked_take_what_asks_each_once_a_second_and_at_most_half_a_round() {
        let pace = Pace::default(); // 30 questions every 150 ms: 6 rounds a second
        assert_eq!(always_share(43, 1_365, &pace), 8);
        assert_eq!(always_share(3, 1_365, &pace), 1);
        assert_eq!(always_share(400, 1_365, &pace), 15);
        assert_eq!(always_share(400, 0, &pace), 30);
        assert_eq!(always_share(0, 1_365, &pace), 0);
    }

    #[test]
    fn a_list_too_long_is_sampled_evenly() {
        let mut list: Vec<u32> = (0..10).collect();
        assert_eq!(sample(&mut list, 20), 0);
        assert_eq!(list.len(), 10);
        assert_eq!(sample(&mut list, 4), 6);
        assert_eq!(list, [0, 2, 5, 7]);
        assert_eq!(sample(&mut list, 0), 4);
        assert!(list.is_empty());
    }

    #[test]
    fn the_report_counts_every_class_and_lists_the_first_problems() {
        let question = Question {
            name: Name::parse("www.example.com").expect("name"),
            rtype: RrType::A,
        };
        let mut expectations = Expectations::default();
        expectations.insert(question.clone(), Accepted::Nothing, 2, true);
        let mut log = ResolverLog::default();
        for (i, rcode) in [
            ResponseCode::NXDomain,
            ResponseCode::ServFail,
            ResponseCode::Refused,
        ]
        .into_iter()
        .enumerate()
        {
            let held = Held {
                question: question.clone(),
                answer: Answer::Reply {
                    rcode,
                    data: DataSet::new(),
                },
                sent_ms: i as i64,
                received_ms: i as i64,
            };
            let verdict = judge(
                expectations.windows(&question),
                &held.answer,
                held.sent_ms,
                held.received_ms,
            );
            log.record(
                "kresd",
                &expectations,
                &Arc::new(RwLock::new(Vec::new())),
                held,
                verdict,
            );
        }
        assert_eq!(
            log.tally,
            Tally {
                queries: 3,
                correct: 1,
                servfail: 1,
                other_rcode: 1,
                ..Tally::default()
            }
        );
        assert_eq!(log.problems.len(), 2);
        let observed = Observed {
            total: log.tally,
            per_resolver: BTreeMap::from([("kresd".to_owned(), log.tally)]),
            first_problems: log.problems,
            ..Observed::default()
        };
        assert!(observed.failed());
        assert_eq!(
            observed.summary_line(),
            "observed: 3 queries to 1 resolvers, 0 wrong, 1 SERVFAIL, 0 NXDOMAIN, 0 timeouts, 1 other rcodes"
        );
        let json = observed.to_json();
        assert_eq!(json["perResolver"]["kresd"]["servfail"], 1);
        assert_eq!(json["firstProblems"][0]["got"], "SERVFAIL, no data");
        assert_eq!(json["firstProblems"][0]["expected"], "no data");
    }

    #[test]
    fn a_cutover_changes_its_records_and_their_aliases_judged_by_its_phase_in_the_report() {
        let scenario = Scenario::example();
        let request = json!({ "cutover": { "records": [
            { "name": "www.example.com", "type": "A", "values": ["203.0.113.8"], "ttl": 60 },
            { "name": "new.example.com", "type": "A", "values": ["203.0.113.9"] },
        ] } });
        let changes = cutover_changes(&scenario, &request);
        let mut changed: Vec<String> = changes.iter().map(|c| c.question.to_string()).collect();
        changed.sort();
        // shop.example.com is an alias to www: it changes with it.
        assert_eq!(
            changed,
            [
                "new.example.com. A",
                "shop.example.com. A",
                "www.example.com. A"
            ]
        );
        assert!(
            changes.iter().all(|c| c.ttl == 2),
            "TTLs scaled like the zone's"
        );
        let report = json!({ "phases": [
            { "name": "cutover", "startedAt": "2025-01-01T00:00:10Z", "endedAt": "2025-01-01T00:00:11.500Z" },
        ] });
        let (started, ended) = phase_bounds(&report, "cutover").expect("bounds");
        assert_eq!(ended - started, 1_500);
        let mut e = expectations_for(&scenario).expectations;
        defer_changes(&mut e, &changes);
        let www = &changes
            .iter()
            .find(|c| c.question.name.as_str() == "www.example.com.")
            .expect("www")
            .question;
        let new = &changes
            .iter()
            .find(|c| c.question.name.as_str() == "new.example.com.")
            .expect("new")
            .question;
        assert!(e.questions[www].deferred && e.questions[new].deferred);
        apply_changes(&mut e, &changes, Some((started, ended)));
        let a = |v: &str| Answer::Reply {
            rcode: ResponseCode::NoError,
            data: DataSet::from([(vec![203, 0, 113, v.parse().expect("octet")], v.to_owned())]),
        };
        let nx = Answer::Reply {
            rcode: ResponseCode::NXDomain,
            data: DataSet::new(),
        };
        let at = |t: i64| (t, t);
        let judged =
            |q: &Question, answer: &Answer, (s, r): (i64, i64)| judge(e.windows(q), answer, s, r);
        assert_eq!(judged(www, &a("8"), at(started - 1)), Verdict::Wrong);
        assert_eq!(judged(www, &a("7"), at(started - 1)), Verdict::Correct);
        assert_eq!(judged(www, &a("8"), at(started)), Verdict::Correct);
        assert_eq!(judged(www, &a("7"), at(ended + 6_000)), Verdict::Correct);
        assert_eq!(judged(www, &a("7"), at(ended + 7_000)), Verdict::Wrong);
        assert_eq!(judged(new, &nx, at(started - 1)), Verdict::Correct);
        assert_eq!(judged(new, &a("9"), at(ended)), Verdict::Correct);
        assert_eq!(judged(new, &nx, at(ended + 7_000)), Verdict::NxDomain);
    }

    /// The example zone with `api` A changed in the source, `mail` A deleted in the target,
    /// and `_dmarc` TXT changed in the source but deleted in the target (a conflict the
    /// target's deletion wins); each edited question's times given on its own.
    fn stormed() -> (Expectations, [Question; 3]) {
        let base = Scenario::example();
        let n = |s: &str| Name::parse(s).expect("name");
        let api = RecordSet::simple(n("api.example.com"), RrType::A, 2, &["192.0.2.77"]);
        let dmarc = RecordSet::simple(n("_dmarc.example.com"), RrType::TXT, 2, &["\"x\""]);
        let with = |records: Vec<RecordSet>, deleted: &[&str]| {
            let mut all: Vec<RecordSet> = base
                .records
                .iter()
                .filter(|r| {
                    !records.iter().any(|x| x.key() == r.key())
                        && !deleted.iter().any(|d| r.name == n(d))
                })
                .cloned()
                .collect();
            all.extend(records);
            Scenario {
                records: all,
                ..base.clone()
            }
        };
        let edited = with(
            vec![api.clone()],
            &["mail.example.com", "_dmarc.example.com"],
        );
        let source = with(vec![api, dmarc], &[]);
        let target = with(vec![], &["mail.example.com", "_dmarc.example.com"]);
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(&e, &edited, &[source, target]);
        let mut changed: Vec<String> = edits.iter().map(|c| c.question.to_string()).collect();
        changed.sort();
        assert_eq!(
            changed,
            [
                "_dmarc.example.com. TXT",
                "api.example.com. A",
                "mail.example.com. A"
            ]
        );
        assert_eq!(
            meanwhile.len(),
            1,
            "the source's version of _dmarc: {meanwhile:?}"
        );
        defer_changes(&mut e, &edits);
        let q = |name: &str, rtype| Question {
            name: n(name),
            rtype,
        };
        let questions = [
            q("api.example.com", RrType::A),
            q("mail.example.com", RrType::A),
            q("_dmarc.example.com", RrType::TXT),
        ];
        let clock = EditClock::default();
        // api at 10 s, carried at 12 s; mail at 20 s, carried at 21 s; _dmarc at 30 s,
        // carried at 33 s.
        for (question, made, carried) in [
            (&questions[0], 10_000, 12_000),
            (&questions[1], 20_000, 21_000),
            (&questions[2], 30_000, 33_000),
        ] {
            clock.made_at(question.clone(), made, made + 4_000);
            clock.carried_at(question, carried);
        }
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        (e, questions)
    }

    #[test]
    fn a_lie_a_fault_tells_is_counted_apart_while_it_lasts_and_any_other_wrong_answer_stays_a_problem(
    ) {
        // GIVEN new-side-wrong made a server answer 198.51.100.66 from 1 s to 5 s (1 s grace)
        let e = expectations_for(&Scenario::example()).expectations;
        let www = Question {
            name: Name::parse("www.example.com").expect("name"),
            rtype: RrType::A,
        };
        let lie = answer(
            ResponseCode::NoError,
            &["www.example.com. 2 IN A 198.51.100.66"],
        );
        let other = answer(
            ResponseCode::NoError,
            &["www.example.com. 2 IN A 198.51.100.77"],
        );
        let excuses: Excuses = Arc::new(RwLock::new(vec![Excuse {
            fault: "new-side-wrong".into(),
            resolver: None,
            from_ms: 1_000,
            until_ms: Some(5_000),
            grace_ms: 1_000,
            lie: Some("198.51.100.66".into()),
        }]));
        let mut log = ResolverLog::default();
        // WHEN a resolver answers the lie inside the window, another wrong value inside it,
        // and the lie after it
        for (got, at) in [(&lie, 2_000), (&other, 2_000), (&lie, 9_000)] {
            let held = Held {
                question: www.clone(),
                answer: got.clone(),
                sent_ms: at,
                received_ms: at,
            };
            let verdict = judge(e.windows(&held.question), &held.answer, at, at);
            assert_eq!(verdict, Verdict::Wrong);
            log.record("unbound", &e, &excuses, held, verdict);
        }
        // THEN only the first is the fault's; the other two are problems.
        assert_eq!(log.tally.lies, 1);
        assert_eq!(log.tally.wrong, 2);
        assert_eq!(log.tally.problems(), 2);
        assert_eq!(log.problems.len(), 2);
    }

    #[test]
    fn a_question_at_the_end_of_a_chain_through_an_edited_rrset_changes_within_the_edits_span() {
        // GIVEN go.example.com CNAME www.example.com, asked also for A at its chain's end
        let n = |s: &str| Name::parse(s).expect("name");
        let mut base = Scenario::example();
        base.records.push(RecordSet::simple(
            n("go.example.com"),
            RrType::CNAME,
            2,
            &["www.example.com."],
        ));
        let cname = Question {
            name: n("go.example.com"),
            rtype: RrType::CNAME,
        };
        let a = Question {
            name: n("go.example.com"),
            rtype: RrType::A,
        };
        // WHEN the CNAME is deleted, timed per question (as the storm times its edits)
        let edited = Scenario {
            records: base
                .records
                .iter()
                .filter(|r| r.name != cname.name)
                .cloned()
                .collect(),
            ..base.clone()
        };
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(&e, &edited, &[]);
        assert!(edits.iter().any(|c| c.question == a), "{edits:?}");
        defer_changes(&mut e, &edits);
        let clock = EditClock::default();
        clock.made_at(cname.clone(), 10_000, 14_000);
        clock.carried_at(&cname, 12_000);
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        // THEN the A at its end answers www's address before, www's or nothing within the
        // edit's span, and only nothing once it has lingered out.
        let www = answer(
            ResponseCode::NoError,
            &["www.example.com. 2 IN A 203.0.113.7"],
        );
        let nx = answer(ResponseCode::NXDomain, &[]);
        let judged = |got: &Answer, t: i64| judge(e.windows(&a), got, t, t);
        assert_eq!(judged(&www, 9_000), Verdict::Correct);
        assert_eq!(judged(&nx, 9_000), Verdict::NxDomain, "not deleted yet");
        assert_eq!(judged(&www, 11_000), Verdict::Correct);
        assert_eq!(judged(&nx, 11_000), Verdict::Correct);
        // Within the span, a mix of the chain's RRsets' versions (another zone's value at
        // its end) is no verdict on the chain question; the RRsets are judged directly.
        let mixed = answer(
            ResponseCode::NoError,
            &["www.example.com. 2 IN A 192.0.2.129"],
        );
        assert_eq!(judged(&mixed, 11_000), Verdict::Correct);
        let late = 12_000 + LINGER + 1;
        assert_eq!(judged(&nx, late), Verdict::Correct);
        assert_ne!(judged(&www, late), Verdict::Correct, "lingered out");
        assert_ne!(
            judged(&mixed, late),
            Verdict::Correct,
            "only the final answer after"
        );
        assert_ne!(
            judged(&mixed, 9_000),
            Verdict::Correct,
            "nor before the edits"
        );
    }

    fn answer(rcode: ResponseCode, lines: &[&str]) -> Answer {
        let data = lines
            .iter()
            .map(|l| expectations::parse_zone_line(l).expect("line").3)
            .collect();
        Answer::Reply { rcode, data }
    }

    /// A change's TTL (2 s) is below a resolver's minimum cache (5 s): old data lingers
    /// 5 s and the serving delay after the carry.
    const LINGER: i64 = 5_000 + expectations::SERVE_DELAY_MS;

    #[test]
    fn a_changed_rrset_answers_old_or_new_until_its_carry_lingers_out_then_only_new() {
        let (e, [api, ..]) = stormed();
        let old = answer(
            ResponseCode::NoError,
            &[
                "api.example.com. 2 IN A 203.0.113.20",
                "api.example.com. 2 IN A 203.0.113.21",
            ],
        );
        let new = answer(
            ResponseCode::NoError,
            &["api.example.com. 2 IN A 192.0.2.77"],
        );
        let other = answer(
            ResponseCode::NoError,
            &["api.example.com. 2 IN A 192.0.2.78"],
        );
        let judged = |a: &Answer, t: i64| judge(e.windows(&api), a, t, t);
        assert_eq!(judged(&old, 9_999), Verdict::Correct);
        assert_eq!(judged(&new, 9_999), Verdict::Wrong, "new before the edit");
        assert_eq!(judged(&new, 10_000), Verdict::Correct);
        assert_eq!(judged(&old, 12_000 + LINGER), Verdict::Correct);
        assert_eq!(
            judged(&old, 12_001 + LINGER),
            Verdict::Wrong,
            "old after the carry"
        );
        assert_eq!(judged(&new, 100_000), Verdict::Correct);
        assert_eq!(
            judged(&other, 11_000),
            Verdict::Wrong,
            "neither old nor new"
        );
    }

    #[test]
    fn a_deleted_rrset_answers_old_or_nothing_until_its_carry_lingers_out_then_nothing() {
        let (e, [_, mail, _]) = stormed();
        let old = answer(
            ResponseCode::NoError,
            &["mail.example.com. 2 IN A 203.0.113.25"],
        );
        let nx = answer(ResponseCode::NXDomain, &[]);
        let nodata = answer(ResponseCode::NoError, &[]);
        let judged = |a: &Answer, t: i64| judge(e.windows(&mail), a, t, t);
        assert_eq!(
            judged(&nx, 19_999),
            Verdict::NxDomain,
            "gone before the delete"
        );
        assert_eq!(judged(&old, 19_999), Verdict::Correct);
        assert_eq!(judged(&nx, 20_000), Verdict::Correct);
        assert_eq!(judged(&nodata, 20_500), Verdict::Correct);
        assert_eq!(judged(&old, 21_000 + LINGER), Verdict::Correct);
        assert_eq!(
            judged(&old, 21_001 + LINGER),
            Verdict::Wrong,
            "old after the carry"
        );
        assert_eq!(judged(&nx, 100_000), Verdict::Correct);
    }

    #[test]
    fn a_change_against_a_deletion_accepts_the_losing_version_only_until_the_carry() {
        let (e, [_, _, dmarc]) = stormed();
        let old = answer(
            ResponseCode::NoError,
            &["_dmarc.example.com. 2 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com\""],
        );
        let source = answer(
            ResponseCode::NoError,
            &["_dmarc.example.com. 2 IN TXT \"x\""],
        );
        let nx = answer(ResponseCode::NXDomain, &[]);
        let judged = |a: &Answer, t: i64| judge(e.windows(&dmarc), a, t, t);
        assert_eq!(judged(&source, 29_999), Verdict::Wrong);
        assert_eq!(judged(&source, 31_000), Verdict::Correct);
        assert_eq!(judged(&old, 33_000 + LINGER), Verdict::Correct);
        assert_eq!(judged(&source, 33_000 + LINGER), Verdict::Correct);
        assert_eq!(
            judged(&source, 33_001 + LINGER),
            Verdict::Wrong,
            "the loser after the carry"
        );
        assert_eq!(judged(&old, 33_001 + LINGER), Verdict::Wrong);
        assert_eq!(
            judged(&nx, 33_001 + LINGER),
            Verdict::Correct,
            "the target's deletion won"
        );
    }

    #[test]
    fn an_edit_never_carried_is_old_or_new_only_until_its_fallback_and_one_never_made_is_old() {
        let base = Scenario::example();
        let n = |s: &str| Name::parse(s).expect("name");
        let www = Question {
            name: n("mail.example.com"),
            rtype: RrType::A,
        };
        let edited = Scenario {
            records: base
                .records
                .iter()
                .filter(|r| r.name != www.name)
                .cloned()
                .collect(),
            ..base.clone()
        };
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(&e, &edited, &[]);
        defer_changes(&mut e, &edits);
        let mut never = e.clone();
        let clock = EditClock::default();
        clock.made_at(www.clone(), 1_000, 2_000);
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        let old = answer(
            ResponseCode::NoError,
            &["mail.example.com. 2 IN A 203.0.113.25"],
        );
        let nx = answer(ResponseCode::NXDomain, &[]);
        assert_eq!(
            judge(e.windows(&www), &old, 2_000 + LINGER, 2_000 + LINGER),
            Verdict::Correct
        );
        assert_eq!(
            judge(e.windows(&www), &old, 2_001 + LINGER, 2_001 + LINGER),
            Verdict::Wrong
        );
        apply_edit_times(
            &mut never,
            &edits,
            &meanwhile,
            &EditClock::default().times(),
        );
        assert_eq!(
            judge(never.windows(&www), &nx, 5_000, 5_000),
            Verdict::NxDomain
        );
        assert_eq!(
            judge(never.windows(&www), &old, 90_000, 90_000),
            Verdict::Correct
        );
    }

    /// The bundled example with a wildcard CNAME at its apex, to the apex: every name the
    /// zone does not hold answers the apex's data.
    fn wildcarded() -> Scenario {
        let base = Scenario::example();
        let mut records = base.records.clone();
        records.push(RecordSet::simple(
            Name::parse("*.example.com").expect("name"),
            RrType::CNAME,
            2,
            &["example.com."],
        ));
        Scenario { records, ..base }
    }

    fn with_records(base: &Scenario, add: &[RecordSet], delete: &[&Question]) -> Scenario {
        let mut records: Vec<RecordSet> = base
            .records
            .iter()
            .filter(|r| {
                !delete
                    .iter()
                    .any(|q| q.name == r.name && q.rtype == r.rtype)
                    && !add.iter().any(|x| x.key() == r.key())
            })
            .cloned()
            .collect();
        records.extend(add.iter().cloned());
        Scenario {
            records,
            ..base.clone()
        }
    }

    fn apex_a() -> Answer {
        answer(ResponseCode::NoError, &["example.com. 2 IN A 203.0.113.10"])
    }

    #[test]
    fn a_name_created_under_a_wildcard_answers_the_wildcards_data_before_and_its_own_after() {
        let base = wildcarded();
        let created = Question {
            name: Name::parse("fault-edit-both.example.com").expect("name"),
            rtype: RrType::A,
        };
        let record = |v: &str| RecordSet::simple(created.name.clone(), RrType::A, 2, &[v]);
        let (source, target) = (record("192.0.2.203"), record("192.0.2.204"));
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(
            &e,
            &with_records(&base, std::slice::from_ref(&target), &[]),
            &[
                with_records(&base, &[source], &[]),
                with_records(&base, &[target], &[]),
            ],
        );
        let edited: Vec<String> = edits.iter().map(|c| c.question.to_string()).collect();
        assert_eq!(edited, ["fault-edit-both.example.com. A"]);
        defer_changes(&mut e, &edits);
        let clock = EditClock::default();
        clock.made(10_000, 14_000);
        clock.carried(12_000);
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        let own = |v: &str| {
            answer(
                ResponseCode::NoError,
                &[&format!("fault-edit-both.example.com. 2 IN A {v}")],
            )
        };
        let nx = answer(ResponseCode::NXDomain, &[]);
        let judged = |a: &Answer, t: i64| judge(e.windows(&created), a, t, t);
        // Before the edit: the wildcard's answer, followed to the apex.
        assert_eq!(judged(&apex_a(), 9_999), Verdict::Correct);
        assert_eq!(
            judged(&nx, 9_999),
            Verdict::NxDomain,
            "the wildcard answers"
        );
        assert_eq!(judged(&own("192.0.2.204"), 9_999), Verdict::Wrong);
        // Between the edit and the carry: either zone's version, or the wildcard's.
        assert_eq!(judged(&own("192.0.2.203"), 11_000), Verdict::Correct);
        assert_eq!(judged(&own("192.0.2.204"), 11_000), Verdict::Correct);
        assert_eq!(judged(&apex_a(), 11_000), Verdict::Correct);
        // Once carried and lingered out: only its own, the winner.
        let settled = 12_001 + LINGER;
        assert_eq!(judged(&own("192.0.2.204"), settled), Verdict::Correct);
        assert_eq!(judged(&apex_a(), settled), Verdict::Wrong);
        assert_eq!(judged(&own("192.0.2.203"), settled), Verdict::Wrong);
    }

    #[test]
    fn a_deleted_name_under_a_wildcard_falls_back_to_the_wildcards_answer() {
        let base = wildcarded();
        let mail = Question {
            name: Name::parse("mail.example.com").expect("name"),
            rtype: RrType::A,
        };
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(&e, &with_records(&base, &[], &[&mail]), &[]);
        let edited: Vec<String> = edits.iter().map(|c| c.question.to_string()).collect();
        assert_eq!(edited, ["mail.example.com. A"]);
        defer_changes(&mut e, &edits);
        let clock = EditClock::default();
        clock.made(20_000, 24_000);
        clock.carried(21_000);
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        let old = answer(
            ResponseCode::NoError,
            &["mail.example.com. 2 IN A 203.0.113.25"],
        );
        let nx = answer(ResponseCode::NXDomain, &[]);
        let judged = |a: &Answer, t: i64| judge(e.windows(&mail), a, t, t);
        assert_eq!(judged(&old, 19_999), Verdict::Correct);
        assert_eq!(
            judged(&apex_a(), 19_999),
            Verdict::Wrong,
            "mail exists: not synthesized"
        );
        assert_eq!(judged(&apex_a(), 20_500), Verdict::Correct);
        let settled = 21_001 + LINGER;
        assert_eq!(judged(&apex_a(), settled), Verdict::Correct);
        assert_eq!(judged(&old, settled), Verdict::Wrong, "old after the carry");
        assert_eq!(
            judged(&nx, settled),
            Verdict::NxDomain,
            "the wildcard answers a deleted name"
        );
    }

    #[test]
    fn a_name_created_beside_no_wildcard_still_has_no_data_before() {
        let base = Scenario::example();
        let created = Question {
            name: Name::parse("fault-edit-source.example.com").expect("name"),
            rtype: RrType::A,
        };
        let record = RecordSet::simple(created.name.clone(), RrType::A, 2, &["192.0.2.201"]);
        let mut e = expectations_for(&base).expectations;
        let (edits, meanwhile) = edit_changes(&e, &with_records(&base, &[record], &[]), &[]);
        defer_changes(&mut e, &edits);
        let clock = EditClock::default();
        clock.made(10_000, 14_000);
        clock.carried(12_000);
        apply_edit_times(&mut e, &edits, &meanwhile, &clock.times());
        let nx = answer(ResponseCode::NXDomain, &[]);
        assert_eq!(
            judge(e.windows(&created), &nx, 9_999, 9_999),
            Verdict::Correct
        );
        assert_eq!(
            judge(e.windows(&created), &apex_a(), 9_999, 9_999),
            Verdict::Wrong
        );
    }

    #[test]
    fn rrsets_delegated_outside_the_world_are_counted_in_the_report_and_its_summary() {
        let base = Scenario::example();
        let n = |s: &str| Name::parse(s).expect("name");
        let records = [
            RecordSet::simple(n("ext.example.com"), RrType::NS, 2, &["ns1.elsewhere.net."]),
            RecordSet::simple(n("ext.example.com"), RrType::DS, 2, &["1 13 2 3F6B"]),
            RecordSet::simple(n("x.ext.example.com"), RrType::TXT, 2, &["\"occluded\""]),
        ];
        let derived = expectations_for(&with_records(&base, &records, &[]));
        let observed = Observed {
            not_asked: derived
                .not_asked
                .iter()
                .map(|n| (n.question.to_string(), n.why.to_owned()))
                .collect(),
            ..Observed::default()
        };
        let json = observed.to_json();
        assert_eq!(json["notAskedOutside"], 3, "{json:#}");
        assert_eq!(
            json["notAsked"][expectations::DELEGATED_OUTSIDE],
            3,
            "{json:#}"
        );
        assert!(
            observed
                .summary_line()
                .ends_with("; 3 RRsets not asked (delegated to name servers outside the world)"),
            "{}",
            observed.summary_line()
        );
        // Not a problem: the report did not fail for them.
        assert!(!observed.failed());
        let plain = expectations_for(&base);
        assert!(plain
            .not_asked
            .iter()
            .all(|n| n.why != expectations::DELEGATED_OUTSIDE));
        let observed = Observed::default();
        assert_eq!(observed.to_json()["notAskedOutside"], 0);
        assert!(!observed.summary_line().contains("not asked"));
    }
}
