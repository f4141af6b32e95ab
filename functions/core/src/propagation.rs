//! When is it safe to retire the old side? DESIGN invariant 4, as a pure function of the
//! evidence and the clock.
//!
//! A resolver holds the old delegation for at most the parent's NS TTL after it last asked
//! the parent; after that it may still hold what the old servers told it (their own apex
//! NS, and the records themselves) for at most the old side's NS TTL or the largest record
//! TTL. So once every parent server serves the new NS set (first seen at `switch_seen`),
//! nothing cached can point at, or come from, the old side after
//! `switch_seen + parent NS TTL + max(old NS TTL, largest record TTL)`. That instant is
//! `safe_at`; the old side is declared retirable at or after it, and only when every probe
//! resolver also returns the new canary.
//!
//! # Evidence is not a verdict
//!
//! Each server asked in a round is [`Seen::New`], [`Seen::Old`] or [`Seen::Unknown`]. A
//! server that does not answer (after the round's attempts), or answers without the thing
//! asked for (no delegation, no canary: SERVFAIL, REFUSED, NXDOMAIN), is unknown: it is
//! neither on the new side nor on the old one, and an unknown answer never moves a clock.
//! The rules, each of which keeps "safe" from coming early:
//!
//! 1. The parent's switch is first seen (`parent_switch_seen_at`) only in a round in which
//!    **every** parent server answered with the new NS set: an unknown server may still
//!    serve the old one.
//! 2. Only a parent server that answers with another NS set (the old one, or any set other
//!    than exactly the new one) restarts the clock. An unknown one leaves it as it was.
//! 3. `safe_at` uses the largest parent NS TTL seen in any round (carried in the state), so
//!    a round in which the parent gave no TTL cannot bring `safe_at` forward.
//! 4. "Safe" is declared only in a round in which every parent server answered with the new
//!    set, `now >= safe_at`, and every probe resolver that counts answered the new canary
//!    (at least one must count). A round that misses any of these is followed by another
//!    after `minWait` once `safe_at` has passed.
//! 5. A probe resolver keeps its `movedAt` while it is unknown; only the old canary takes it
//!    away. A resolver that has been unknown for [`SILENT_ROUNDS_BOUND`] consecutive
//!    rounds **and** at least [`SILENT_SECONDS_BOUND`] seconds stops counting (it is left
//!    out of rule 4, with a warning) until it answers again: a resolver that is gone must
//!    not hold the migration to the round cap, and the TTL bound of rules 1-3, which does
//!    not depend on resolvers, still holds.

use serde::{Deserialize, Serialize};

/// What one check-propagation round observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Seconds since the Unix epoch at the time of the observation.
    pub now: i64,
    /// Parent servers serving the new NS set, and all parent servers asked.
    pub parent_on_new: usize,
    pub parent_total: usize,
    /// Parent servers whose answer this round was unknown (no answer, no delegation): part
    /// of `parent_total`, neither on the new set nor on the old one.
    #[serde(default)]
    pub parent_unknown: usize,
    /// The largest NS TTL the parent's servers gave for the delegation.
    pub parent_ns_ttl: i64,
    /// The old zone's apex NS TTL (as it is now, after lowering).
    pub old_ns_ttl: i64,
    /// The largest TTL of any record of the old zone.
    pub largest_record_ttl: i64,
    /// Probe resolvers answering the new canary, and the probe resolvers that count (all of
    /// them, less those left out after a long silence: [`left_out`]).
    pub resolvers_on_new: usize,
    pub resolvers_total: usize,
}

/// What the loop carries from one round to the next (a few numbers: the state stays small).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopState {
    /// When the first round ran.
    #[serde(default)]
    pub started_at: Option<i64>,
    /// When every parent server was first seen serving the new NS set.
    #[serde(default)]
    pub parent_switch_seen_at: Option<i64>,
    /// When a parent server was first seen naming the new servers, never reset: from then
    /// on the registry holds the change (one of its servers serves it), so the deadline for
    /// the switch no longer applies and nothing but proof that the new servers answer
    /// wrongly rolls back (a parent server silent or lagging is waited for, or left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_named_new_at: Option<i64>,
    #[serde(default)]
    pub rounds: u32,
    /// The last wait chosen, which the next one grows from.
    #[serde(default)]
    pub last_wait: Option<i64>,
    /// The largest NS TTL any parent server gave for the delegation in any round.
    #[serde(default)]
    pub parent_ns_ttl: i64,
}

/// What one answer showed about a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seen {
    New,
    Old,
    /// No answer, or an answer without what was asked for: neither side.
    Unknown,
}

/// How a parent server's delegation reads: `names` is the NS set it answered (canonical
/// names), `new` the new zone's servers (canonical, sorted). No delegation is unknown; any
/// set other than exactly the new one is old (rule 2).
pub fn delegation_seen(names: &[String], new: &[String]) -> Seen {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    if names.is_empty() {
        Seen::Unknown
    } else if names == new {
        Seen::New
    } else {
        Seen::Old
    }
}

/// Consecutive unknown rounds after which a probe resolver may stop counting (rule 5).
pub const SILENT_ROUNDS_BOUND: u32 = 10;
/// ...provided it has been unknown for at least this long (seconds): an hour.
pub const SILENT_SECONDS_BOUND: i64 = 3_600;

/// One probe resolver across rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolverTrack {
    /// When it first answered the new canary (since it last answered the old one).
    pub moved_at: Option<i64>,
    /// Consecutive rounds it was unknown, and when the first of them ran.
    pub silent_rounds: u32,
    pub silent_since: Option<i64>,
}

/// A probe resolver's track after this round's answer (rule 5).
pub fn track_resolver(previous: ResolverTrack, seen: Seen, now: i64) -> ResolverTrack {
    match seen {
        Seen::New => ResolverTrack {
            moved_at: previous.moved_at.or(Some(now)),
            silent_rounds: 0,
            silent_since: None,
        },
        // Back on the old side (a cache that flapped): not moved after all.
        Seen::Old => ResolverTrack::default(),
        Seen::Unknown => ResolverTrack {
            moved_at: previous.moved_at,
            silent_rounds: previous.silent_rounds.saturating_add(1),
            silent_since: previous.silent_since.or(Some(now)),
        },
    }
}

/// True when a resolver has been unknown long enough to stop counting (rule 5): at least
/// [`SILENT_ROUNDS_BOUND`] rounds and [`SILENT_SECONDS_BOUND`] seconds.
pub fn left_out(track: &ResolverTrack, now: i64) -> bool {
    left_out_after(track, now, SILENT_SECONDS_BOUND)
}

/// [`left_out`] with another bound in seconds (a rehearsal's, scaled as its TTLs are).
pub fn left_out_after(track: &ResolverTrack, now: i64, seconds: i64) -> bool {
    track.silent_rounds >= SILENT_ROUNDS_BOUND
        && track
            .silent_since
            .is_some_and(|since| now - since >= seconds)
}

/// How long the loop may wait between rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pacing {
    pub min_wait: i64,
    pub max_wait: i64,
}

impl Default for Pacing {
    /// 30 s to one hour: a 7-day window (AWS: keep the old zone at least 48 h, registries
    /// hold NS for 2 days) then takes at most about 190 rounds, far below Step Functions'
    /// 25,000 history events (about 9 a round).
    fn default() -> Self {
        Pacing {
            min_wait: 30,
            max_wait: 3_600,
        }
    }
}

impl Pacing {
    /// The longest wait accepted: a day, so that the loop notices the parent's switch
    /// within a day at worst.
    pub const MAX_WAIT_LIMIT: i64 = 86_400;

    /// At least a second between rounds (a zero wait would spin the loop to its round cap
    /// and roll the migration back), the maximum not below the minimum, at most a day.
    pub fn validate(&self) -> Result<(), crate::request::InvalidRequest> {
        if self.min_wait < 1
            || self.max_wait < self.min_wait
            || self.max_wait > Self::MAX_WAIT_LIMIT
        {
            return Err(crate::request::InvalidRequest(format!(
                "pacing {{minWait: {}, maxWait: {}}} must satisfy 1 <= minWait <= maxWait <= {} seconds",
                self.min_wait,
                self.max_wait,
                Self::MAX_WAIT_LIMIT
            )));
        }
        Ok(())
    }
}

/// The verdict of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub safe: bool,
    /// When the old side becomes retirable by the TTL bound (once the parent switched).
    pub safe_at: Option<i64>,
    pub next_wait_seconds: i64,
    pub state: LoopState,
}

/// The bound of invariant 4.
pub fn safe_at(switch_seen: i64, evidence: &Evidence) -> i64 {
    switch_seen
        + window_after_switch(
            evidence.parent_ns_ttl,
            evidence.old_ns_ttl,
            evidence.largest_record_ttl,
        )
}

/// How long after the parent switches the old side may still be asked (invariant 4): the
/// parent's NS TTL (resolvers hold the old delegation that long), plus the larger of the old
/// side's NS TTL and its largest record TTL (what they may hold from the old servers).
pub fn window_after_switch(parent_ns_ttl: i64, old_ns_ttl: i64, largest_record_ttl: i64) -> i64 {
    parent_ns_ttl.max(0) + old_ns_ttl.max(largest_record_ttl).max(0)
}

/// Decides one round: safe or not, and how long to wait before the next.
pub fn judge(previous: &LoopState, evidence: &Evidence, pacing: Pacing) -> Verdict {
    let now = evidence.now;
    // Rule 1: every parent server answered, all with the new set.
    let parent_switched =
        evidence.parent_total > 0 && evidence.parent_on_new == evidence.parent_total;
    let parent_on_old = evidence
        .parent_total
        .saturating_sub(evidence.parent_on_new)
        .saturating_sub(evidence.parent_unknown);
    let mut state = LoopState {
        started_at: previous.started_at.or(Some(now)),
        parent_switch_seen_at: previous.parent_switch_seen_at,
        parent_named_new_at: previous.parent_named_new_at,
        rounds: previous.rounds + 1,
        last_wait: previous.last_wait,
        // Rule 3: the largest parent NS TTL of any round.
        parent_ns_ttl: previous.parent_ns_ttl.max(evidence.parent_ns_ttl),
    };
    if evidence.parent_on_new > 0 {
        state.parent_named_new_at.get_or_insert(now);
    }
    if parent_switched {
        state.parent_switch_seen_at.get_or_insert(now);
    } else if parent_on_old > 0 {
        // Rule 2: a parent server back on the old set (anycast, a lagging secondary)
        // restarts the clock; one that did not answer leaves it as it was.
        state.parent_switch_seen_at = None;
    }
    let bound_evidence = Evidence {
        parent_ns_ttl: state.parent_ns_ttl,
        ..evidence.clone()
    };
    let safe_at = state
        .parent_switch_seen_at
        .map(|seen| safe_at(seen, &bound_evidence));
    // Rule 4: at least one probe resolver counts, and every one that counts has moved.
    let resolvers_moved =
        evidence.resolvers_total > 0 && evidence.resolvers_on_new == evidence.resolvers_total;
    let safe = parent_switched && resolvers_moved && safe_at.is_some_and(|at| now >= at);

    // Grow the wait geometrically (x1.5) between the bounds, but never sleep past safe_at:
    // the round at safe_at is the one that can declare it, so completion lands within one
    // poll of the bound.
    let grown = state
        .last_wait
        .map_or(pacing.min_wait, |w| (w * 3 + 1) / 2)
        .clamp(pacing.min_wait, pacing.max_wait.max(pacing.min_wait));
    let next_wait = match safe_at {
        Some(at) if at > now => grown.min(at - now).max(1),
        Some(_) if !resolvers_moved || !parent_switched => pacing.min_wait,
        _ => grown,
    };
    state.last_wait = Some(next_wait);
    Verdict {
        safe,
        safe_at,
        next_wait_seconds: if safe { 0 } else { next_wait },
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(now: i64, parent_on_new: usize, resolvers_on_new: usize) -> Evidence {
        Evidence {
            now,
            parent_on_new,
            parent_total: 4,
            parent_unknown: 0,
            parent_ns_ttl: 172_800,
            old_ns_ttl: 300,
            largest_record_ttl: 3_600,
            resolvers_on_new,
            resolvers_total: 3,
        }
    }

    #[test]
    fn safe_at_is_the_switch_plus_the_parent_ttl_plus_the_larger_old_side_ttl() {
        // 172800 (parent NS) + max(300 old NS, 3600 largest record).
        assert_eq!(safe_at(1_000, &evidence(0, 4, 3)), 1_000 + 172_800 + 3_600);
    }

    #[test]
    fn never_safe_before_the_bound_even_when_every_resolver_already_moved() {
        let mut state = LoopState::default();
        let first = judge(&state, &evidence(1_000, 4, 3), Pacing::default());
        assert!(!first.safe);
        assert_eq!(first.safe_at, Some(1_000 + 176_400));
        state = first.state;
        let just_before = judge(&state, &evidence(1_000 + 176_399, 4, 3), Pacing::default());
        assert!(!just_before.safe);
        assert_eq!(
            just_before.next_wait_seconds, 1,
            "the next round lands exactly on safe_at"
        );
        let at = judge(
            &just_before.state,
            &evidence(1_000 + 176_400, 4, 3),
            Pacing::default(),
        );
        assert!(at.safe);
    }

    #[test]
    fn never_safe_while_a_parent_server_or_a_resolver_is_on_the_old_side() {
        let late = 10_000_000;
        let state = LoopState {
            parent_switch_seen_at: Some(0),
            ..LoopState::default()
        };
        assert!(!judge(&state, &evidence(late, 3, 3), Pacing::default()).safe);
        assert!(!judge(&state, &evidence(late, 4, 2), Pacing::default()).safe);
        assert!(judge(&state, &evidence(late, 4, 3), Pacing::default()).safe);
    }

    #[test]
    fn a_parent_server_back_on_the_old_set_restarts_the_clock() {
        let state = LoopState {
            parent_switch_seen_at: Some(0),
            ..LoopState::default()
        };
        let flapped = judge(&state, &evidence(500, 3, 3), Pacing::default());
        assert_eq!(flapped.state.parent_switch_seen_at, None);
        let back = judge(&flapped.state, &evidence(900, 4, 3), Pacing::default());
        assert_eq!(back.safe_at, Some(900 + 176_400));
    }

    #[test]
    fn a_seven_day_window_takes_well_under_500_rounds_and_ends_within_one_poll_of_the_bound() {
        // The parent switches one day in; every resolver has moved by then.
        let pacing = Pacing::default();
        let mut state = LoopState::default();
        let mut now = 0;
        let switch = 86_400;
        let mut rounds = 0;
        let verdict = loop {
            let parent_on_new = if now >= switch { 4 } else { 0 };
            let resolvers = if now >= switch { 3 } else { 0 };
            let verdict = judge(&state, &evidence(now, parent_on_new, resolvers), pacing);
            rounds += 1;
            if verdict.safe || now > 7 * 86_400 {
                break verdict;
            }
            now += verdict.next_wait_seconds;
            state = verdict.state;
        };
        assert!(verdict.safe);
        let bound = verdict.safe_at.expect("switch seen");
        // The switch is noticed at most one poll late, and completion lands on the bound.
        assert!(
            bound - (switch + 176_400) <= pacing.max_wait,
            "switch noticed late: {}",
            bound - switch - 176_400
        );
        assert_eq!(now, bound, "completion exactly at safe_at");
        assert!(rounds < 500, "{rounds} rounds");
        assert!(rounds < 200, "{rounds} rounds");
    }

    #[test]
    fn pacing_that_would_spin_or_sleep_past_a_day_is_refused() {
        assert!(Pacing::default().validate().is_ok());
        assert!(Pacing {
            min_wait: 1,
            max_wait: 1
        }
        .validate()
        .is_ok());
        for (min_wait, max_wait) in [(0, 10), (-5, 10), (10, 5), (30, 86_401)] {
            let err = Pacing { min_wait, max_wait }
                .validate()
                .expect_err("refused");
            assert_eq!(err.error_type(), "InvalidRequest");
            assert!(err.to_string().contains("minWait"), "{err}");
        }
    }

    #[test]
    fn waits_grow_from_the_minimum_to_the_maximum() {
        let pacing = Pacing {
            min_wait: 2,
            max_wait: 10,
        };
        let mut state = LoopState::default();
        let mut waits = Vec::new();
        for round in 0..6 {
            let verdict = judge(&state, &evidence(round * 100, 0, 0), pacing);
            waits.push(verdict.next_wait_seconds);
            state = verdict.state;
        }
        assert_eq!(waits, [2, 3, 5, 8, 10, 10]);
    }

    /// Four parent servers: `new` on the new set, `unknown` silent, the rest on the old set.
    fn parent(now: i64, new: usize, unknown: usize, resolvers_on_new: usize) -> Evidence {
        Evidence {
            parent_unknown: unknown,
            ..evidence(now, new, resolvers_on_new)
        }
    }

    #[test]
    fn invariant_4_a_silent_parent_server_neither_starts_nor_restarts_the_clock() {
        let pacing = Pacing::default();
        // Three on the new set, one silent: the switch is not seen yet (rule 1).
        let first = judge(&LoopState::default(), &parent(1_000, 3, 1, 3), pacing);
        assert_eq!(first.state.parent_switch_seen_at, None);
        assert_eq!(first.safe_at, None);
        // All four on the new set: seen.
        let second = judge(&first.state, &parent(2_000, 4, 0, 3), pacing);
        assert_eq!(second.state.parent_switch_seen_at, Some(2_000));
        // One silent again: the clock keeps running from 2,000 (rule 2)...
        let third = judge(&second.state, &parent(3_000, 3, 1, 3), pacing);
        assert_eq!(third.state.parent_switch_seen_at, Some(2_000));
        assert_eq!(third.safe_at, Some(2_000 + 176_400));
        // ...and one on the old set restarts it.
        let fourth = judge(&third.state, &parent(4_000, 3, 0, 3), pacing);
        assert_eq!(fourth.state.parent_switch_seen_at, None);
    }

    #[test]
    fn one_parent_server_naming_the_new_servers_is_remembered_whatever_the_others_say() {
        let pacing = Pacing::default();
        // One of two on the new set, the other silent: the switch is not seen (rule 1), but
        // the registry is known to hold the change.
        let first = judge(&LoopState::default(), &parent(1_000, 1, 1, 2), pacing);
        assert_eq!(first.state.parent_switch_seen_at, None);
        assert_eq!(first.state.parent_named_new_at, Some(1_000));
        // A later round with every parent server on the old set does not forget it...
        let second = judge(&first.state, &parent(2_000, 0, 0, 2), pacing);
        assert_eq!(second.state.parent_named_new_at, Some(1_000));
        // ... and before any server named the new set, nothing is remembered.
        let none = judge(&LoopState::default(), &parent(1_000, 0, 1, 2), pacing);
        assert_eq!(none.state.parent_named_new_at, None);
    }

    #[test]
    fn invariant_4_no_verdict_of_safe_in_a_round_with_a_silent_parent_server() {
        let state = LoopState {
            parent_switch_seen_at: Some(0),
            parent_ns_ttl: 172_800,
            ..LoopState::default()
        };
        let late = 10_000_000;
        let silent = judge(&state, &parent(late, 3, 1, 3), Pacing::default());
        assert!(!silent.safe);
        assert_eq!(
            silent.next_wait_seconds,
            Pacing::default().min_wait,
            "asked again soon, the clock kept"
        );
        assert_eq!(silent.state.parent_switch_seen_at, Some(0));
        assert!(
            judge(
                &silent.state,
                &parent(late + 30, 4, 0, 3),
                Pacing::default()
            )
            .safe
        );
    }

    #[test]
    fn invariant_4_a_round_without_a_parent_ttl_cannot_bring_safe_at_forward() {
        let first = judge(
            &LoopState::default(),
            &parent(0, 4, 0, 3),
            Pacing::default(),
        );
        assert_eq!(first.safe_at, Some(176_400));
        let no_ttl = Evidence {
            parent_ns_ttl: 0,
            ..parent(100, 3, 1, 3)
        };
        let second = judge(&first.state, &no_ttl, Pacing::default());
        assert_eq!(
            second.safe_at,
            Some(176_400),
            "the largest TTL seen is kept"
        );
    }

    #[test]
    fn invariant_4_never_safe_when_no_probe_resolver_counts() {
        let state = LoopState {
            parent_switch_seen_at: Some(0),
            ..LoopState::default()
        };
        let nobody = Evidence {
            resolvers_on_new: 0,
            resolvers_total: 0,
            ..evidence(10_000_000, 4, 0)
        };
        assert!(!judge(&state, &nobody, Pacing::default()).safe);
    }

    #[test]
    fn a_delegation_is_new_only_when_it_is_exactly_the_new_set() {
        let new = vec!["ns-1.new.test.".to_owned(), "ns-2.new.test.".to_owned()];
        let shuffled = vec!["ns-2.new.test.".to_owned(), "ns-1.new.test.".to_owned()];
        assert_eq!(delegation_seen(&shuffled, &new), Seen::New);
        assert_eq!(delegation_seen(&[], &new), Seen::Unknown);
        assert_eq!(
            delegation_seen(&["ns-1.old.test.".to_owned()], &new),
            Seen::Old
        );
        let mixed = vec!["ns-1.new.test.".to_owned(), "ns-1.old.test.".to_owned()];
        assert_eq!(delegation_seen(&mixed, &new), Seen::Old);
    }

    #[test]
    fn a_silent_resolver_keeps_its_moved_at_and_only_the_old_canary_takes_it_away() {
        let moved = track_resolver(ResolverTrack::default(), Seen::New, 100);
        assert_eq!(moved.moved_at, Some(100));
        let silent = track_resolver(moved, Seen::Unknown, 200);
        assert_eq!(silent.moved_at, Some(100));
        assert_eq!((silent.silent_rounds, silent.silent_since), (1, Some(200)));
        let again = track_resolver(silent, Seen::New, 300);
        assert_eq!(again.moved_at, Some(100), "the first move is kept");
        assert_eq!((again.silent_rounds, again.silent_since), (0, None));
        assert_eq!(
            track_resolver(again, Seen::Old, 400),
            ResolverTrack::default()
        );
    }

    #[test]
    fn a_resolver_is_left_out_only_after_ten_silent_rounds_and_an_hour() {
        let mut track = ResolverTrack::default();
        let mut now = 0;
        for _ in 0..SILENT_ROUNDS_BOUND {
            track = track_resolver(track, Seen::Unknown, now);
            assert!(!left_out(&track, now), "{track:?} at {now}");
            now += 30;
        }
        // Ten rounds, but only 300 s.
        assert!(!left_out(&track, now));
        assert!(left_out(&track, SILENT_SECONDS_BOUND));
        // Many rounds of an hour each are not enough either when they are fewer than ten.
        let long = ResolverTrack {
            moved_at: None,
            silent_rounds: SILENT_ROUNDS_BOUND - 1,
            silent_since: Some(0),
        };
        assert!(!left_out(&long, 100 * SILENT_SECONDS_BOUND));
    }
}
