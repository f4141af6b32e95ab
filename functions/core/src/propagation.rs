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
    /// The largest NS TTL the parent's servers gave for the delegation.
    pub parent_ns_ttl: i64,
    /// The old zone's apex NS TTL (as it is now, after lowering).
    pub old_ns_ttl: i64,
    /// The largest TTL of any record of the old zone.
    pub largest_record_ttl: i64,
    /// Probe resolvers answering the new canary, and all probe resolvers.
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
    #[serde(default)]
    pub rounds: u32,
    /// The last wait chosen, which the next one grows from.
    #[serde(default)]
    pub last_wait: Option<i64>,
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
        + evidence.parent_ns_ttl.max(0)
        + evidence.old_ns_ttl.max(evidence.largest_record_ttl).max(0)
}

/// Decides one round: safe or not, and how long to wait before the next.
pub fn judge(previous: &LoopState, evidence: &Evidence, pacing: Pacing) -> Verdict {
    let now = evidence.now;
    let parent_switched =
        evidence.parent_total > 0 && evidence.parent_on_new == evidence.parent_total;
    let mut state = LoopState {
        started_at: previous.started_at.or(Some(now)),
        parent_switch_seen_at: previous.parent_switch_seen_at,
        rounds: previous.rounds + 1,
        last_wait: previous.last_wait,
    };
    if parent_switched {
        state.parent_switch_seen_at.get_or_insert(now);
    } else {
        // A parent server back on the old set (anycast, a lagging secondary) restarts the clock.
        state.parent_switch_seen_at = None;
    }
    let safe_at = state
        .parent_switch_seen_at
        .map(|seen| safe_at(seen, evidence));
    let resolvers_moved = evidence.resolvers_on_new == evidence.resolvers_total;
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
        Some(_) if !resolvers_moved => pacing.min_wait,
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
}
