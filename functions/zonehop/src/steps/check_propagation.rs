//! DESIGN step 8: gather the evidence of one propagation round and judge it.
//!
//! The parent's servers are asked directly for the delegation; the probe resolvers are
//! asked for the canary `_zonehop.<domain> TXT` only. The checker never asks a resolver
//! for the domain's NS set: unbound would then follow the child's NS TTL, and knot-resolver
//! would keep re-caching the old servers' own NS set (measured), so the checker itself
//! would hold resolvers on the old side.
//!
//! Evidence is not a verdict. Every question is asked up to [`ATTEMPTS`] times within the
//! round; a server still silent after that (or answering without a delegation, or without
//! the canary) is *unknown*, which never counts as the old side and never moves a clock.
//! The rules that keep "safe" from coming early whatever is unknown (invariant 4) are
//! written down in `zonehop_core::propagation`; in short: the parent's switch is first seen
//! only when every parent server answered the new set, only an answer with another set
//! restarts the clock, safe is declared only in a round in which every parent server
//! answered the new set and every probe resolver that counts answered the new canary, and
//! a probe resolver stops counting only after
//! [`zonehop_core::propagation::SILENT_ROUNDS_BOUND`] silent rounds and
//! [`zonehop_core::propagation::SILENT_SECONDS_BOUND`] seconds (reported in `silentResolvers` and `warnings`).
//!
//! When the resolver that finds the parent's servers fails, the round asks the parent
//! server addresses the previous round found (carried in `state.parentAddresses`, at most
//! [`MAX_PARENT_ADDRESSES`]); only a first round without them fails (`DnsLookupFailed`).
//! The time of the round comes from the [`Clock`] port.

use crate::ports::carry::CarryScope;
use crate::ports::clock::Clock;
use crate::ports::dns::lookup::parent_addresses;
use crate::settings::Settings;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use zonehop_core::request::ProbeConfig;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::dns::compare::compare_until_settled;
use crate::ports::dns::lookup::zone_servers;
use crate::ports::dns::lookup::{parse_resolver, resolver_for};
use crate::ports::dns::{DnsAnswer, DnsClient};
use crate::ports::hosted_zones::{read_zone, HostedZone, HostedZones};
use crate::ports::retry::{RetryStats, Retrying};
use std::time::Duration;
use zonehop_core::answers::{fresh_label, question_label, questions, Difference, Question};
use zonehop_core::canary::{side_of, Side, CANARY_LABEL};
use zonehop_core::name::Name;
use zonehop_core::plan::HealthCheckPolicy;
use zonehop_core::propagation::{
    delegation_seen, judge, left_out_after, track_resolver, Evidence, LoopState, Pacing,
    ResolverTrack, Seen,
};
use zonehop_core::request::{parse_domain, parse_keep_in_source, ZoneRef};
use zonehop_core::zone::RecordKey;
use zonehop_core::zone::Zone;
use zonehop_core::zone::{bare_zone_id, RrType};

/// How many times a round asks each question before the answer is unknown.
pub const ATTEMPTS: u32 = 3;
/// The most parent server addresses carried from one round to the next (the state stays
/// small: invariant 5). A parent with more (none known has) is not carried at all, so a
/// fallback round never asks only some of its servers.
pub const MAX_PARENT_ADDRESSES: usize = 64;

/// The fewest questions asked of every old and new server each round (rotating through the
/// zone); a zone of more than `VERIFY_SAMPLE * VERIFY_ROUNDS` questions asks more
/// ([`verify_sample_size`]).
pub const VERIFY_SAMPLE: usize = 16;
/// The rotating sample covers every question of a zone of more than `VERIFY_SAMPLE *
/// VERIFY_ROUNDS` questions in this many rounds.
pub const VERIFY_ROUNDS: usize = 4;

/// The rotating sample's size for a zone of `questions` questions: `max(16,
/// ceil(questions / 4))`, so that it covers them all in `ceil(questions / size)` rounds, at
/// most 4 once the zone has more than 64 questions (and `ceil(questions / 16)` below).
pub fn verify_sample_size(questions: usize) -> usize {
    VERIFY_SAMPLE.max(questions.div_ceil(VERIFY_ROUNDS))
}

/// Rounds the rotating sample takes to cover every question of a zone of `questions`
/// questions (the README's bound): `ceil(questions / verify_sample_size(questions))`.
pub fn verify_rounds_to_cover(questions: usize) -> usize {
    questions.div_ceil(verify_sample_size(questions).max(1))
}
/// How long after the first round the parent may go on naming the old servers before the
/// migration is rolled back, by default ([`Settings::parent_switch_deadline`]): 72 hours
/// (registries publish a change within minutes to hours; the manual path's operator
/// confirmed the change, or stayed silent for a day, before this loop started).
pub const PARENT_SWITCH_DEADLINE: i64 = 72 * 3600;

/// check-propagation's input: the request's fields, and the previous round's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropagationRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    pub probe: ProbeConfig,
    /// The resolver that finds the parent zone and its servers' addresses (else
    /// `ZONEHOP_RESOLVER`).
    #[serde(default)]
    pub resolver: Option<String>,
    #[serde(default)]
    pub pacing: Option<Pacing>,
    /// What the previous round returned as `state` (absent on the first round).
    #[serde(default)]
    pub state: Option<RoundState>,
    /// What stays behind and what happens to health checks: the zones are compared through
    /// the API as sync-records reads them.
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    #[serde(default)]
    pub health_checks: HealthCheckPolicy,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// The loop state plus each probe resolver's track and the parent's server addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundState {
    #[serde(flatten)]
    pub judge: LoopState,
    /// When each probe resolver was first seen on the new side (kept while it is silent).
    #[serde(default)]
    pub resolver_moved_at: BTreeMap<String, i64>,
    /// Consecutive rounds each probe resolver was unknown (absent once it answers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolver_silent_rounds: BTreeMap<String, u32>,
    /// When each of those silences began.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolver_silent_since: BTreeMap<String, i64>,
    /// The parent's server addresses the last successful lookup found, asked again when the
    /// resolver fails (at most [`MAX_PARENT_ADDRESSES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_addresses: Vec<IpAddr>,
    /// Where the next round's sample of questions to the new servers starts.
    #[serde(default)]
    pub verify_offset: usize,
    /// The questions the new servers answered unlike the old ones last round (`NAME TYPE`,
    /// at most [`VERIFY_SAMPLE`]): asked again this round; a second difference in a row is
    /// `NewServersWrong`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_suspects: Vec<String>,
    /// How many questions of the rotation the sample has asked since the questions (and the
    /// record sets they ask about, in either zone) were last as `verify_fingerprint` says:
    /// "safe" waits until it has asked every one.
    #[serde(default)]
    pub verify_covered: usize,
    /// A digest of the questions and of the record sets they ask about (both zones), to
    /// see that a carry changed them: the count of `verify_covered` then starts again.
    /// Absent (a state from before it existed): nothing counts as covered yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_fingerprint: Option<String>,
    /// Each parent server address silent in consecutive rounds: how many, since when. One
    /// silent for [`zonehop_core::propagation::SILENT_ROUNDS_BOUND`] rounds and
    /// `ZONEHOP_SILENT_RESOLVER_SECONDS` is left out of "every parent server" (with a
    /// warning), as a silent probe resolver is, so that one server unreachable from where
    /// the function runs cannot hold "safe" back for ever.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parent_silent: BTreeMap<String, ParentSilence>,
}

/// A parent server's silence across rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentSilence {
    pub rounds: u32,
    pub since: i64,
}

impl RoundState {
    /// Notes whether the parent server `addr` answered this round; true when its silence
    /// has lasted long enough that it no longer counts.
    fn parent_left_out(
        &mut self,
        addr: &SocketAddr,
        answered: bool,
        now: i64,
        seconds: i64,
    ) -> bool {
        let key = addr.ip().to_string();
        if answered {
            self.parent_silent.remove(&key);
            return false;
        }
        let silence = self.parent_silent.entry(key).or_insert(ParentSilence {
            rounds: 0,
            since: now,
        });
        silence.rounds = silence.rounds.saturating_add(1);
        left_out_after(
            &ResolverTrack {
                moved_at: None,
                silent_rounds: silence.rounds,
                silent_since: Some(silence.since),
            },
            now,
            seconds,
        )
    }

    fn track(&self, resolver: &str) -> ResolverTrack {
        ResolverTrack {
            moved_at: self.resolver_moved_at.get(resolver).copied(),
            silent_rounds: self
                .resolver_silent_rounds
                .get(resolver)
                .copied()
                .unwrap_or(0),
            silent_since: self.resolver_silent_since.get(resolver).copied(),
        }
    }

    fn set_track(&mut self, resolver: &str, track: ResolverTrack) {
        let key = resolver.to_owned();
        match track.moved_at {
            Some(at) => self.resolver_moved_at.insert(key.clone(), at),
            None => self.resolver_moved_at.remove(&key),
        };
        if track.silent_rounds > 0 {
            self.resolver_silent_rounds
                .insert(key.clone(), track.silent_rounds);
        } else {
            self.resolver_silent_rounds.remove(&key);
        }
        match track.silent_since {
            Some(since) => self.resolver_silent_since.insert(key, since),
            None => self.resolver_silent_since.remove(&key),
        };
    }
}

/// One probe resolver's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolverView {
    pub resolver: String,
    /// `new`, `old`, or what went wrong.
    pub side: String,
    pub moved_at: Option<i64>,
    /// Consecutive rounds without a usable answer (0 when it answered this round).
    #[serde(default)]
    pub silent_rounds: u32,
    /// True when its silence has lasted long enough that it no longer counts.
    #[serde(default)]
    pub left_out: bool,
}

/// A probe resolver that gave no usable answer this round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilentResolver {
    pub resolver: String,
    pub silent_rounds: u32,
    pub silent_since: Option<i64>,
    pub left_out: bool,
}

/// check-propagation's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationOutput {
    pub safe: bool,
    /// Seconds since the epoch (the state machine's Wait uses `nextWaitSeconds`).
    pub safe_at: Option<i64>,
    pub parent_switch_seen_at: Option<i64>,
    /// When a parent server first named the new servers (never reset): from then on only
    /// `NewServersWrong` rolls back (the state machine's `Parent Switched?`).
    #[serde(default)]
    pub parent_named_new_at: Option<i64>,
    pub checked_at: i64,
    pub next_wait_seconds: i64,
    pub parent_on_new: usize,
    pub parent_total: usize,
    /// Parent server addresses that gave no usable answer this round (part of `parentTotal`).
    #[serde(default)]
    pub parent_unknown: usize,
    /// True when the parent's servers were those of the previous round (the resolver failed).
    #[serde(default)]
    pub parent_from_previous_round: bool,
    pub resolvers_on_new: usize,
    /// The probe resolvers that count this round (those left out after a long silence aside).
    pub resolvers_total: usize,
    pub resolvers: Vec<ResolverView>,
    #[serde(default)]
    pub silent_resolvers: Vec<SilentResolver>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Questions asked of the new servers this round, and those answered unlike the old.
    /// Set once half the parent-switch deadline has passed without a switch: when the
    /// migration rolls back unless the parent names the new servers by then.
    #[serde(default)]
    pub rollback_at: Option<i64>,
    #[serde(default)]
    pub new_servers_checked: usize,
    #[serde(default)]
    pub new_servers_differ: Vec<String>,
    /// Questions of the zone the rotating sample has asked since they (or their record
    /// sets) last changed, and how many there are: "safe" waits until they are equal.
    #[serde(default)]
    pub new_servers_covered: usize,
    #[serde(default)]
    pub new_servers_questions: usize,
    /// Record sets on which the zones differ through the API this round: edits not carried
    /// yet. "Safe" waits until none is left; a DNS difference on one of them is the edit's,
    /// not a lying server's.
    #[serde(default)]
    pub edits_pending: usize,
    /// The first of them (at most [`VERIFY_SAMPLE`]).
    #[serde(default)]
    pub edits_pending_sample: Vec<String>,
    /// Questions a new server answered unlike the old ones this round that an edit not yet
    /// carried explains (not counted toward `NewServersWrong`).
    #[serde(default)]
    pub explained_by_edits: Vec<String>,
    pub state: RoundState,
}

/// A round's metrics as one line of CloudWatch's embedded metric format (dimension `Domain`).
pub fn metrics_line(
    namespace: &str,
    domain: &Name,
    now: i64,
    parent_on_new: usize,
    resolvers_on_new: usize,
    silent_resolvers: usize,
    safe_at: Option<i64>,
) -> String {
    serde_json::json!({
        "_aws": {"Timestamp": now * 1000, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Domain"]],
            "Metrics": [{"Name": "ParentServersOnNew"}, {"Name": "ResolversOnNew"}, {"Name": "SilentResolvers"}, {"Name": "SecondsToSafe"}]}]},
        "Domain": domain.as_str().trim_end_matches('.'),
        "ParentServersOnNew": parent_on_new,
        "ResolversOnNew": resolvers_on_new,
        "SilentResolvers": silent_resolvers,
        "SecondsToSafe": safe_at.map_or(-1, |at| (at - now).max(0)),
    })
    .to_string()
}

/// Runs `lookup` up to [`ATTEMPTS`] times; the last error if none succeeded.
async fn attempts<T, F, Fut>(mut lookup: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    loop {
        match lookup().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt >= ATTEMPTS => return Err(error),
            Err(error) => {
                tracing::info!(attempt, %error, "lookup failed, asking again");
                attempt += 1;
            }
        }
    }
}

/// Asks `server` up to [`ATTEMPTS`] times; the first answer that `usable` accepts, or the
/// last answer (or none) when none was usable.
async fn ask<D: DnsClient>(
    dns: &D,
    server: SocketAddr,
    name: &Name,
    rtype: RrType,
    recursion: bool,
    usable: impl Fn(&DnsAnswer) -> bool,
) -> Result<DnsAnswer, String> {
    let mut last = Err(String::new());
    for _ in 0..ATTEMPTS {
        match dns.query(server, name, rtype, recursion).await {
            Ok(answer) if usable(&answer) => return Ok(answer),
            Ok(answer) => last = Ok(answer),
            Err(error) => last = Err(error.to_string()),
        }
    }
    last
}

/// One round: evidence, verdict, next wait. The time of the round is `clock`'s.
pub async fn check_propagation<S: HostedZones, T: HostedZones, D: DnsClient, C: Clock>(
    source: &S,
    target: &T,
    dns: &D,
    clock: &C,
    request: &PropagationRequest,
    settings: &Settings,
) -> Result<PropagationOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let resolver = resolver_for(request.resolver.as_deref(), settings.resolver)?;
    let probes = request
        .probe
        .resolvers
        .iter()
        .map(|r| parse_resolver(r).map(|addr| (r.clone(), addr)))
        .collect::<Result<Vec<_>, _>>()?;
    if probes.is_empty() {
        return Err(Error::InvalidRequest(
            "probe.resolvers is empty: give at least one resolver".into(),
        ));
    }
    let pacing = request.pacing.unwrap_or_default();
    pacing.validate()?;
    let mut state = request.state.clone().unwrap_or_default();
    let mut warnings = Vec::new();

    // The TTLs of the old side, from the API.
    let target_zone = target.get_zone(&target_id).await?;
    let old = read_zone(source, &source_id).await?;
    let old_ns_ttl = old
        .iter()
        .filter(|r| r.name == domain && r.rtype == RrType::NS)
        .filter_map(|r| r.ttl)
        .max()
        .unwrap_or(0);
    let largest_record_ttl = old.iter().filter_map(|r| r.ttl).max().unwrap_or(0);
    let mut new_servers: Vec<String> = target_zone
        .name_servers
        .iter()
        .filter_map(|s| Name::parse(s).ok())
        .map(|n| n.to_string())
        .collect();
    new_servers.sort();
    new_servers.dedup();

    // The parent's servers: found through the resolver, else those of the previous round.
    let (parent_addresses, parent_from_previous_round) = match attempts(|| {
        parent_addresses(dns, resolver, &domain)
    })
    .await
    {
        Ok(found) => {
            state.parent_addresses = if found.len() <= MAX_PARENT_ADDRESSES {
                found.clone()
            } else {
                Vec::new()
            };
            (found, false)
        }
        Err(error) if !state.parent_addresses.is_empty() => {
            warnings.push(format!(
                    "the parent's servers could not be found through {resolver} ({error}); asked the {} addresses of the previous round",
                    state.parent_addresses.len()
                ));
            (state.parent_addresses.clone(), true)
        }
        // No parent addresses at all (a first round whose resolver is silent): this round
        // has no evidence of the parent, which is unknown, not a verdict; the deadline
        // bounds how long that may last.
        Err(error) => {
            warnings.push(format!(
                "the parent's servers could not be found through {resolver} ({error}) and no earlier round found them: the parent is unknown this round"
            ));
            (Vec::new(), false)
        }
    };

    // Each parent server, asked directly for the delegation.
    let mut parent_on_new = 0;
    let mut parent_unknown = 0;
    let mut parent_left_out = 0;
    let mut parent_ns_ttl = 0i64;
    let silence_now = clock.now_epoch();
    state
        .parent_silent
        .retain(|ip, _| parent_addresses.iter().any(|a| a.to_string() == *ip));
    for ip in &parent_addresses {
        let addr = SocketAddr::new(*ip, settings.dns_port);
        let answer = ask(dns, addr, &domain, RrType::NS, false, |a| {
            !a.delegation(&domain).is_empty()
        })
        .await;
        let referral = answer
            .as_ref()
            .map(|a| a.delegation(&domain))
            .unwrap_or_default();
        let names: Vec<String> = referral
            .iter()
            .filter_map(|r| Name::parse(&r.data).ok())
            .map(|n| n.to_string())
            .collect();
        parent_ns_ttl =
            parent_ns_ttl.max(referral.iter().map(|r| i64::from(r.ttl)).max().unwrap_or(0));
        let seen = delegation_seen(&names, &new_servers);
        let silent = seen == Seen::Unknown;
        if state.parent_left_out(
            &addr,
            !silent,
            silence_now,
            settings.silent_resolver_seconds,
        ) {
            parent_left_out += 1;
            let silence = state.parent_silent.get(&addr.ip().to_string()).copied();
            warnings.push(format!(
                "parent server {addr} has given no delegation for {} rounds since {}: it no longer counts toward \"every parent server names the new servers\" until it answers again",
                silence.map_or(0, |s| s.rounds),
                silence.map_or(silence_now, |s| s.since)
            ));
            continue;
        }
        match seen {
            Seen::New => parent_on_new += 1,
            Seen::Old => {}
            Seen::Unknown => {
                parent_unknown += 1;
                warnings.push(format!(
                    "parent server {addr} gave no delegation after {ATTEMPTS} attempts ({}): left out of this round",
                    match &answer {
                        Ok(a) => a.rcode.clone(),
                        Err(e) => e.clone(),
                    }
                ));
            }
        }
    }

    // Edits not carried yet: the record sets the zones differ on through the API.
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let scope = CarryScope {
        domain: &domain,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        source_id: &source_id,
        target_id: &target_id,
    };
    let forms = scope.forms(old, read_zone(target, &target_id).await?, settings.limits);
    let pending = scope.differing(&forms);
    let old = &forms.source;

    // The new servers, against the old, on a rotating sample (invariant 1 through the window).
    let reverified = reverify_new_servers(
        dns,
        resolver,
        (&source.get_zone(&source_id).await?, old),
        (&target_zone, &forms.target),
        (&domain, &explained_set(&pending)),
        &mut state,
        settings,
    )
    .await?;
    let (new_servers_checked, new_servers_differ) = (reverified.checked, reverified.differ.clone());
    warnings.extend(reverified.warnings.iter().cloned());

    // The canary, through every probe resolver.
    let canary = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    let now = clock.now_epoch();
    let mut views = Vec::new();
    let mut silent_resolvers = Vec::new();
    let texts = |answer: &DnsAnswer| -> Vec<String> {
        answer
            .rrset(&canary, "TXT")
            .into_iter()
            .map(|r| r.data)
            .collect()
    };
    for (label, addr) in &probes {
        let answer = ask(dns, *addr, &canary, RrType::TXT, true, |a| {
            side_of(&texts(a)) != Side::Unknown
        })
        .await;
        let (seen, side) = match &answer {
            Ok(a) => match side_of(&texts(a)) {
                Side::New => (Seen::New, "new".to_owned()),
                Side::Old => (Seen::Old, "old".to_owned()),
                Side::Unknown => (Seen::Unknown, format!("{} without a canary", a.rcode)),
            },
            Err(e) => (Seen::Unknown, format!("no answer: {e}")),
        };
        let track = track_resolver(state.track(label), seen, now);
        state.set_track(label, track);
        let out = left_out_after(&track, now, settings.silent_resolver_seconds);
        if seen == Seen::Unknown {
            silent_resolvers.push(SilentResolver {
                resolver: label.clone(),
                silent_rounds: track.silent_rounds,
                silent_since: track.silent_since,
                left_out: out,
            });
            if out {
                warnings.push(format!(
                    "probe resolver {label} has given no usable answer for {} rounds since {}: it no longer counts toward \"every probe resolver returns the new canary\" until it answers again",
                    track.silent_rounds,
                    track.silent_since.unwrap_or(now)
                ));
            }
        }
        views.push(ResolverView {
            resolver: label.clone(),
            moved_at: track.moved_at,
            side,
            silent_rounds: track.silent_rounds,
            left_out: out,
        });
    }
    // Probe resolvers no longer in the request leave the state.
    let asked: std::collections::BTreeSet<&String> = probes.iter().map(|(l, _)| l).collect();
    state.resolver_moved_at.retain(|k, _| asked.contains(k));
    state
        .resolver_silent_rounds
        .retain(|k, _| asked.contains(k));
    state.resolver_silent_since.retain(|k, _| asked.contains(k));

    let resolvers_on_new = views.iter().filter(|v| v.side == "new").count();
    let resolvers_counted = views.iter().filter(|v| !v.left_out).count();
    let evidence = Evidence {
        now,
        parent_on_new,
        parent_total: parent_addresses.len() - parent_left_out,
        parent_unknown,
        parent_ns_ttl,
        old_ns_ttl,
        largest_record_ttl,
        resolvers_on_new,
        resolvers_total: resolvers_counted,
    };
    let mut verdict = judge(&state.judge, &evidence, pacing);
    state.judge = verdict.state.clone();
    // A new server under suspicion this round: "safe" waits until the next round clears it
    // (or confirms it, NewServersWrong).
    if verdict.safe && !new_servers_differ.is_empty() {
        verdict.safe = false;
        verdict.next_wait_seconds = pacing.min_wait;
        warnings.push(format!(
            "safe is deferred one round: a new server answered {} unlike the old ones",
            new_servers_differ.join(", ")
        ));
    }
    // The rotating sample has not yet asked every question since the swap (or since a carry
    // changed them): a lying new server could still be unseen, so "safe" waits for the
    // rounds that cover the rest (at most VERIFY_ROUNDS after the last change).
    if verdict.safe && reverified.covered < reverified.questions {
        verdict.safe = false;
        verdict.next_wait_seconds = pacing.min_wait;
        warnings.push(format!(
            "safe is deferred: the new servers' re-verification has asked {} of the zone's {} questions since they last changed; {} more round(s) of {} cover the rest",
            reverified.covered,
            reverified.questions,
            (reverified.questions - reverified.covered).div_ceil(reverified.sample_size.max(1)),
            reverified.sample_size
        ));
    }
    // An edit known and not yet carried (the zones differ through the API, read by this
    // round itself, whether or not this round's carry-edits read them): "safe" waits.
    if verdict.safe && !pending.is_empty() {
        verdict.safe = false;
        verdict.next_wait_seconds = pacing.min_wait;
        warnings.push(format!(
            "safe is deferred: {} record set(s) differ between the zones and are not carried yet; no edit may be left behind in the old zone",
            pending.len()
        ));
    }
    let rollback_at = check_parent_deadline(
        &state.judge,
        now,
        settings.parent_switch_deadline,
        &mut warnings,
    )?;
    // One line in CloudWatch's embedded metric format: the dashboard's propagation graph.
    println!(
        "{}",
        metrics_line(
            &settings.metric_namespace,
            &domain,
            now,
            parent_on_new,
            resolvers_on_new,
            silent_resolvers.len(),
            verdict.safe_at
        )
    );
    Ok(PropagationOutput {
        safe: verdict.safe,
        safe_at: verdict.safe_at,
        parent_switch_seen_at: state.judge.parent_switch_seen_at,
        parent_named_new_at: state.judge.parent_named_new_at,
        checked_at: now,
        next_wait_seconds: verdict.next_wait_seconds,
        parent_on_new,
        parent_total: parent_addresses.len() - parent_left_out,
        parent_unknown,
        parent_from_previous_round,
        resolvers_on_new,
        resolvers_total: resolvers_counted,
        resolvers: views,
        silent_resolvers,
        warnings,
        rollback_at,
        new_servers_checked,
        new_servers_differ,
        new_servers_covered: reverified.covered,
        new_servers_questions: reverified.questions,
        edits_pending: pending.len(),
        edits_pending_sample: pending
            .iter()
            .take(VERIFY_SAMPLE)
            .map(ToString::to_string)
            .collect(),
        explained_by_edits: reverified.explained,
        state,
    })
}

/// The questions an edit not yet carried explains.
fn explained_set(pending: &[RecordKey]) -> BTreeSet<String> {
    pending
        .iter()
        .map(|k| question_label(k.name.as_str(), k.rtype.as_str()))
        .collect()
}

/// What the re-verification of the new servers found this round.
#[derive(Debug, Default)]
struct Reverified {
    checked: usize,
    /// Questions a new server answered unlike the old ones, that no edit explains.
    differ: Vec<String>,
    /// Those an edit not yet carried explains.
    explained: Vec<String>,
    /// Questions of the rotation asked since they last changed, of `questions`.
    covered: usize,
    questions: usize,
    /// This round's rotating sample size ([`verify_sample_size`]).
    sample_size: usize,
    /// Server addresses not asked (IPv6 without a route), AAAA lookups that failed.
    warnings: Vec<String>,
}

/// A digest (64-bit FNV-1a, stable across builds) of the questions' labels in their order
/// and of the record sets of both zones they ask about: it changes when a carry (or any
/// edit) adds, deletes or changes one of them.
fn questions_fingerprint(all: &[Question], source: &Zone, target: &Zone) -> String {
    let labels: BTreeSet<String> = all.iter().map(Question::label).collect();
    let mut records: Vec<String> = [("old", source), ("new", target)]
        .iter()
        .flat_map(|(side, zone)| {
            zone.iter()
                .filter(|r| labels.contains(&question_label(r.name.as_str(), r.rtype.as_str())))
                .map(move |r| format!("{side} {r:?}"))
        })
        .collect();
    records.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in all
        .iter()
        .map(Question::label)
        .chain(std::iter::once(String::new()))
        .chain(records)
    {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Asks every old and new server [`verify_sample_size`] questions (last round's suspects
/// first, then the next ones in the zone's order) and compares the answers as verify-zones
/// does. A question that differs two rounds in a row (carry-edits ran in between, so the
/// zones agree through the API) means a new server answers wrongly: `NewServersWrong`.
/// Counts how many questions the rotation has asked since they last changed
/// (`state.verify_covered`): "safe" waits until that is all of them.
async fn reverify_new_servers<D: DnsClient>(
    dns: &D,
    resolver: SocketAddr,
    (source_zone, source_records): (&HostedZone, &Zone),
    (target_zone, target_records): (&HostedZone, &Zone),
    (domain, explained): (&Name, &BTreeSet<String>),
    state: &mut RoundState,
    settings: &Settings,
) -> Result<Reverified, Error> {
    // A fresh made-up name each round (under each wildcard, and one that does not exist):
    // the labels, and so the rotation's order, stay the same.
    let all = questions(domain, &[], source_records, target_records, &fresh_label()).asked;
    if all.is_empty() {
        return Ok(Reverified::default());
    }
    let fingerprint = questions_fingerprint(&all, source_records, target_records);
    if state.verify_fingerprint.as_deref() != Some(fingerprint.as_str()) {
        state.verify_covered = 0;
        state.verify_fingerprint = Some(fingerprint);
    }
    let size = verify_sample_size(all.len());
    let not_asked = Reverified {
        covered: state.verify_covered.min(all.len()),
        questions: all.len(),
        sample_size: size,
        ..Reverified::default()
    };
    let mut sample: Vec<Question> = all
        .iter()
        .filter(|q| state.verify_suspects.contains(&q.label()))
        .cloned()
        .collect();
    let start = state.verify_offset % all.len();
    for q in all.iter().cycle().skip(start).take(size.min(all.len())) {
        if !sample.contains(q) {
            sample.push(q.clone());
        }
    }
    let (port, ipv6) = (settings.dns_port, settings.dns_ipv6);
    let (Ok(old), Ok(new)) = (
        zone_servers(dns, resolver, source_zone, "old", port, ipv6).await,
        zone_servers(dns, resolver, target_zone, "new", port, ipv6).await,
    ) else {
        // The servers' addresses could not be found this round: unknown, not wrong, and
        // nothing asked (the rotation stays where it is).
        return Ok(not_asked);
    };
    let server_warnings = [old.warnings, new.warnings].concat();
    let (old, new) = (old.servers, new.servers);
    state.verify_offset = (start + size) % all.len();
    state.verify_covered = (state.verify_covered + size).min(all.len());
    let differences = compare_until_settled(
        dns,
        &old,
        &new,
        &sample,
        settings.verify_concurrency,
        Duration::from_secs(2),
        Some(resolver),
    )
    .await
    .differences;
    // Only a new server's answer counts (an old server that differs from the reference is
    // not the new side's fault), a silent one is unknown, and one that an edit not yet
    // carried explains (the zones differ there through the API) is the edit's.
    let (wrong, edited): (Vec<&Difference>, Vec<&Difference>) = differences
        .iter()
        .filter(|d| {
            d.server.starts_with("new ") && !d.new.iter().any(|v| v.starts_with("no answer"))
        })
        .partition(|d| !explained.contains(&d.label()));
    let mut explained_now: Vec<String> = edited.iter().map(|d| d.label()).collect();
    explained_now.dedup();
    let mut keys: Vec<String> = wrong.iter().map(|d| d.label()).collect();
    keys.sort();
    keys.dedup();
    let again: Vec<&&Difference> = wrong
        .iter()
        .filter(|d| state.verify_suspects.contains(&d.label()))
        .collect();
    if !again.is_empty() {
        return Err(Error::NewServersWrong {
            differences: again.iter().map(|d| (**d).clone()).collect(),
        });
    }
    keys.truncate(VERIFY_SAMPLE);
    state.verify_suspects = keys.clone();
    Ok(Reverified {
        checked: sample.len(),
        differ: keys,
        explained: explained_now,
        covered: state.verify_covered,
        questions: all.len(),
        sample_size: size,
        warnings: server_warnings,
    })
}

/// The parent must switch within [`PARENT_SWITCH_DEADLINE`] of the first round; past half of
/// it, each round warns when the rollback will come. Once any parent server has named the
/// new servers the deadline no longer applies: the registry holds the change, and a parent
/// server that stays silent or lags is waited for or left out, never a rollback.
fn check_parent_deadline(
    judge: &LoopState,
    now: i64,
    deadline: i64,
    warnings: &mut Vec<String>,
) -> Result<Option<i64>, Error> {
    if judge.parent_switch_seen_at.is_some() || judge.parent_named_new_at.is_some() {
        return Ok(None);
    }
    let Some(started) = judge.started_at else {
        return Ok(None);
    };
    let elapsed = now - started;
    if elapsed >= deadline {
        return Err(Error::ParentDidNotSwitch {
            waited_seconds: elapsed,
        });
    }
    if elapsed >= deadline / 2 {
        warnings.push(format!(
            "the parent still names the old servers {} s after the first round: the migration rolls back at {} unless every parent server names the new ones by then",
            elapsed,
            started + deadline
        ));
        return Ok(Some(started + deadline));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_deadline_only_a_parent_that_never_named_the_new_servers_rolls_back() {
        let started = LoopState {
            started_at: Some(0),
            ..LoopState::default()
        };
        let mut warnings = Vec::new();
        // GIVEN no parent server ever named the new servers: past the deadline, rolled back.
        let never = check_parent_deadline(&started, 100, 100, &mut warnings);
        assert!(
            matches!(
                never,
                Err(Error::ParentDidNotSwitch {
                    waited_seconds: 100
                })
            ),
            "{never:?}"
        );
        // GIVEN one of them did once (the other silent ever since): the deadline no longer
        // applies, no warning of a coming rollback either.
        let named = LoopState {
            parent_named_new_at: Some(10),
            ..started
        };
        let mut warnings = Vec::new();
        let waited = check_parent_deadline(&named, 1_000, 100, &mut warnings);
        assert!(matches!(waited, Ok(None)), "{waited:?}");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn each_round_logs_its_metrics_in_the_embedded_metric_format() {
        let domain = Name::parse("example.com").expect("name");
        let line: serde_json::Value = serde_json::from_str(&metrics_line(
            "zonehop-test",
            &domain,
            1_000,
            3,
            2,
            1,
            Some(1_090),
        ))
        .expect("one JSON object");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "zonehop-test");
        assert_eq!(line["_aws"]["Timestamp"], 1_000_000);
        assert_eq!(directive["Dimensions"], serde_json::json!([["Domain"]]));
        assert_eq!(line["Domain"], "example.com");
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(line[name].is_number(), "{name} has no value");
        }
        assert_eq!(line["ParentServersOnNew"], 3);
        assert_eq!(line["SecondsToSafe"], 90);
        assert_eq!(line["SilentResolvers"], 1);
        let unknown: serde_json::Value =
            serde_json::from_str(&metrics_line("z", &domain, 1_000, 0, 0, 0, None)).expect("json");
        assert_eq!(unknown["SecondsToSafe"], -1);
    }
}
