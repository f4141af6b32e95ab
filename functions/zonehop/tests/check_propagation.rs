//! check-propagation on the in-memory twins, with a `ManualClock`: single rounds, the
//! "evidence is not a verdict" rules (a silent server is unknown, never old), and a whole
//! 72-hour propagation window played in milliseconds (invariant 4).

mod common;

use zonehop::core::access::Work;

use std::net::SocketAddr;

use common::*;
use serde_json::json;
use zonehop::adapters::memory::{MemoryZones, ZoneOp};
use zonehop::core::delegation::canonical_servers;
use zonehop::core::name::Name;
use zonehop::core::propagation::{Pacing, SILENT_ROUNDS_BOUND, SILENT_SECONDS_BOUND};
use zonehop::core::zone::RrType;
use zonehop::ports::clock::Clock;
use zonehop::steps::check_propagation::{
    check_propagation, verify_rounds_to_cover, verify_sample_size, PropagationOutput,
    PropagationRequest, RoundState, VERIFY_ROUNDS, VERIFY_SAMPLE,
};

const PROBES: [&str; 3] = ["203.0.113.1:53", "203.0.113.2:53", "203.0.113.3:53"];
/// The bound's parts in this world: parent NS TTL, and max(old NS TTL 300, MX 3600).
const BOUND: i64 = PARENT_NS_TTL as i64 + 3_600;

struct Window {
    w: World,
    target_id: String,
    old: Vec<String>,
    new: Vec<String>,
}

/// example.com with its apex NS TTL lowered to 300 and a target zone; every parent
/// server still delegates to the old servers; every probe resolver answers the old canary.
fn window() -> Window {
    let w = World::new();
    let mut ns = apex_ns(&w.source_records(), &w.domain);
    ns.ttl = Some(300);
    w.source.put_records(w.source_id(), [ns]).expect("zone");
    let target = w.target.add_zone(&w.domain);
    // Synced and verified before the swap: the new servers answer as the old ones.
    w.target
        .put_records(&target.id, example_records())
        .expect("target zone");
    let old = canonical_servers(&w.source_zone.name_servers);
    let new = canonical_servers(&target.name_servers);
    let window = Window {
        w,
        target_id: target.id,
        old,
        new,
    };
    for parent in World::parent_addresses() {
        window.parent_says(parent, false);
    }
    for probe in PROBES {
        window.probe_says(probe, "old");
    }
    window
}

impl Window {
    fn parent_says(&self, server: SocketAddr, new: bool) {
        let servers = if new { &self.new } else { &self.old };
        self.w.dns.answer(
            server,
            &self.w.domain,
            RrType::NS,
            referral("example.com.", servers, PARENT_NS_TTL),
        );
    }

    fn probe_says(&self, probe: &str, side: &str) {
        self.w.dns.answer(
            addr(probe),
            &n("_zonehop.example.com"),
            RrType::TXT,
            answer(
                vec![record(
                    "_zonehop.example.com",
                    "TXT",
                    60,
                    &format!("\"side={side}\""),
                )],
                Vec::new(),
            ),
        );
    }

    fn request(&self, state: Option<RoundState>) -> PropagationRequest {
        let mut body = self.w.with(
            Some(&self.target_id),
            json!({
                "probe": { "resolvers": PROBES },
                "resolver": RESOLVER,
                "pacing": { "minWait": 30, "maxWait": 3600 },
            }),
        );
        body["state"] = serde_json::to_value(state).expect("state");
        request(body)
    }

    async fn round(&self, state: Option<RoundState>) -> Result<PropagationOutput, zonehop::Error> {
        check_propagation(
            &*self.w.source,
            &*self.w.target,
            &self.w.dns,
            &self.w.clock,
            &self.request(state),
            &settings(),
        )
        .await
    }
}

#[tokio::test(start_paused = true)]
async fn before_the_switch_nothing_is_on_new_and_no_clock_runs() {
    let win = window();
    let out = win.round(None).await.expect("a round");
    assert!(!out.safe);
    assert_eq!((out.parent_on_new, out.parent_total), (0, 2));
    assert_eq!(out.resolvers_on_new, 0);
    assert_eq!(out.safe_at, None);
    assert_eq!(out.next_wait_seconds, 30);
    assert_eq!(
        out.checked_at,
        win.w.clock.now_epoch(),
        "the round's time is the clock's"
    );
}

#[tokio::test(start_paused = true)]
async fn invariant_4_safe_exactly_at_the_bound_once_parent_and_resolvers_moved() {
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    for probe in PROBES {
        win.probe_says(probe, "new");
    }
    let t0 = win.w.clock.now_epoch();
    let first = win.round(None).await.expect("first round");
    assert!(!first.safe);
    assert_eq!(first.parent_switch_seen_at, Some(t0));
    assert_eq!(first.safe_at, Some(t0 + BOUND));
    win.w.clock.set(t0 + BOUND - 1);
    let before = win.round(Some(first.state)).await.expect("just before");
    assert!(!before.safe, "never early");
    assert_eq!(before.next_wait_seconds, 1);
    win.w.clock.advance(1);
    let at = win.round(Some(before.state)).await.expect("at the bound");
    assert!(at.safe);
    assert_eq!(win.w.writes(), 0, "check-propagation only observes");
    assert_least_privilege(Work::CheckPropagation, &win.w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_a_round_run_again_gives_the_same_verdict_and_writes_nothing() {
    let win = window();
    win.parent_says(World::parent_addresses()[0], true);
    win.probe_says(PROBES[0], "new");
    let first = win.round(None).await.expect("first");
    let state = first.state.clone();
    let again = win.round(Some(state.clone())).await.expect("again");
    let repeat = win.round(Some(state)).await.expect("repeat");
    assert_eq!(again, repeat, "the same input, the same output");
    assert_eq!(win.w.source.count(ZoneOp::ChangeResourceRecordSets), 0);
    assert_eq!(win.w.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn invariant_4_a_first_round_that_cannot_find_the_parent_is_unknown_not_a_rollback() {
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    win.w.dns.set_silent(addr(RESOLVER), true);
    let out = win
        .round(None)
        .await
        .expect("an unknown round, not an error");
    assert!(
        win.w.dns.queries_to(addr(RESOLVER)) >= 3,
        "asked three times before giving up"
    );
    assert_eq!(out.parent_total, 0);
    assert!(!out.safe);
    assert_eq!(
        out.parent_switch_seen_at, None,
        "no evidence starts no clock"
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("parent is unknown")),
        "{:?}",
        out.warnings
    );
    // The resolver answers again: the next round sees the switch.
    win.w.dns.set_silent(addr(RESOLVER), false);
    win.w.clock.advance(out.next_wait_seconds);
    let next = win.round(Some(out.state)).await.expect("a round");
    assert_eq!(next.parent_on_new, next.parent_total);
    assert!(next.parent_switch_seen_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_failing_resolver_later_on_reuses_the_parent_servers_of_the_previous_round() {
    let win = window();
    let first = win.round(None).await.expect("first");
    assert_eq!(first.state.parent_addresses.len(), 2);
    win.w.dns.set_silent(addr(RESOLVER), true);
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    win.w.clock.advance(30);
    let out = win
        .round(Some(first.state))
        .await
        .expect("a round all the same");
    assert!(out.parent_from_previous_round);
    assert_eq!((out.parent_on_new, out.parent_total), (2, 2));
    assert!(out.parent_switch_seen_at.is_some());
    assert!(
        out.warnings.iter().any(|w| w.contains("previous round")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn a_parent_server_that_drops_a_query_or_two_is_asked_again_within_the_round() {
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    let flaky = World::parent_addresses()[1];
    win.w.dns.drop_next(flaky, 2);
    let out = win.round(None).await.expect("a round");
    assert_eq!(out.parent_unknown, 0);
    assert_eq!(out.parent_on_new, 2);
    assert!(out.parent_switch_seen_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn invariant_4_a_silent_parent_server_is_unknown_it_neither_starts_nor_restarts_the_clock() {
    let win = window();
    let [a_server, b_server] = [World::parent_addresses()[0], World::parent_addresses()[1]];
    win.parent_says(a_server, true);
    win.parent_says(b_server, true);
    win.w.dns.set_silent(b_server, true);
    let first = win.round(None).await.expect("first");
    assert_eq!(first.parent_unknown, 1);
    assert_eq!(
        first.parent_switch_seen_at, None,
        "one server unheard: not seen yet"
    );
    win.w.dns.set_silent(b_server, false);
    win.w.clock.advance(30);
    let seen = win.round(Some(first.state)).await.expect("seen");
    let at = seen.parent_switch_seen_at.expect("seen now");
    win.w.dns.set_silent(b_server, true);
    win.w.clock.advance(30);
    let silent = win.round(Some(seen.state)).await.expect("silent");
    assert_eq!(silent.parent_switch_seen_at, Some(at), "not restarted");
    assert!(silent
        .warnings
        .iter()
        .any(|w| w.contains(&b_server.to_string())));
    // An answer with the old set does restart it.
    win.w.dns.set_silent(b_server, false);
    win.parent_says(b_server, false);
    win.w.clock.advance(30);
    let old = win.round(Some(silent.state)).await.expect("old");
    assert_eq!(old.parent_switch_seen_at, None);
}

#[tokio::test(start_paused = true)]
async fn a_silent_probe_resolver_keeps_its_moved_at_and_stops_counting_only_past_the_bound() {
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    for probe in PROBES {
        win.probe_says(probe, "new");
    }
    let t0 = win.w.clock.now_epoch();
    let mut out = win.round(None).await.expect("first");
    let moved = out.resolvers[2].moved_at.expect("moved");
    win.w.dns.set_silent(addr(PROBES[2]), true);
    // Past safe_at, but the silent resolver still counts: not safe.
    win.w.clock.set(t0 + BOUND);
    out = win.round(Some(out.state)).await.expect("silent 1");
    assert!(!out.safe);
    assert_eq!(out.resolvers[2].moved_at, Some(moved), "movedAt kept");
    assert_eq!(out.silent_resolvers.len(), 1);
    assert_eq!(out.next_wait_seconds, 30, "asked again soon");
    let silent_from = win.w.clock.now_epoch();
    let mut rounds = 1;
    while !out.safe {
        win.w.clock.advance(out.next_wait_seconds);
        out = win.round(Some(out.state)).await.expect("a silent round");
        rounds += 1;
        assert!(rounds < 1_000);
    }
    let now = win.w.clock.now_epoch();
    assert!(rounds >= SILENT_ROUNDS_BOUND, "{rounds}");
    assert!(
        now - silent_from >= SILENT_SECONDS_BOUND,
        "left out after an hour at least"
    );
    assert!(
        now - silent_from < SILENT_SECONDS_BOUND + 30,
        "and not much later"
    );
    assert!(out.resolvers[2].left_out);
    assert_eq!(out.resolvers_total, 2, "the two that count");
    assert_eq!(out.resolvers[2].moved_at, Some(moved));
    assert!(
        out.warnings.iter().any(|w| w.contains(PROBES[2])),
        "{:?}",
        out.warnings
    );
    assert!(out.silent_resolvers[0].left_out);
}

/// invariant 4, played over 72 hours: the parent switches six hours in, one parent server
/// falls silent for a while after it, one probe resolver moves 30 hours late, another is
/// silent for a few rounds. The loop waits as the state machine does (`nextWaitSeconds`).
#[tokio::test(start_paused = true)]
async fn invariant_4_a_72_hour_window_ends_at_the_bound_within_one_poll_in_few_rounds() {
    let win = window();
    let pacing = Pacing::default();
    let t0 = win.w.clock.now_epoch();
    let switch = t0 + 6 * 3_600;
    let silent_parent = (switch + 3_600, switch + 5 * 3_600);
    let silent_probe = (switch + 2 * 3_600, switch + 2 * 3_600 + 4 * 3_000);
    let late_probe_moves = switch + 30 * 3_600;
    let [_, b_server] = [World::parent_addresses()[0], World::parent_addresses()[1]];

    let mut state = None;
    let mut outputs: Vec<PropagationOutput> = Vec::new();
    let last = loop {
        let now = win.w.clock.now_epoch();
        let switched = now >= switch;
        for parent in World::parent_addresses() {
            win.parent_says(parent, switched);
        }
        win.w
            .dns
            .set_silent(b_server, (silent_parent.0..silent_parent.1).contains(&now));
        win.probe_says(PROBES[0], if now >= switch + 600 { "new" } else { "old" });
        win.probe_says(
            PROBES[1],
            if now >= late_probe_moves {
                "new"
            } else {
                "old"
            },
        );
        win.probe_says(PROBES[2], if switched { "new" } else { "old" });
        win.w.dns.set_silent(
            addr(PROBES[2]),
            (silent_probe.0..silent_probe.1).contains(&now),
        );
        let out = win.round(state.take()).await.expect("a round");
        outputs.push(out.clone());
        if out.safe {
            break out;
        }
        assert!(now - t0 < 72 * 3_600, "not safe within 72 hours");
        state = Some(out.state);
        win.w.clock.advance(out.next_wait_seconds);
    };

    let seen = last.parent_switch_seen_at.expect("the switch was seen");
    assert!(
        seen >= switch && seen - switch <= pacing.max_wait,
        "switch seen within a poll"
    );
    let bound = seen + BOUND;
    assert_eq!(last.safe_at, Some(bound));
    assert!(last.checked_at >= bound, "never early");
    assert!(
        last.checked_at - bound <= pacing.min_wait,
        "and within one poll of the bound"
    );
    // The silent parent server never restarted the clock.
    let seen_from: Vec<Option<i64>> = outputs
        .iter()
        .map(|o| o.parent_switch_seen_at)
        .skip_while(Option::is_none)
        .collect();
    assert!(seen_from.iter().all(|s| *s == Some(seen)), "{seen_from:?}");
    assert!(
        outputs.iter().any(|o| o.parent_unknown == 1),
        "the silence happened"
    );
    // The silent probe resolver kept its movedAt through its silence.
    let moved = outputs
        .iter()
        .filter_map(|o| o.resolvers[2].moved_at)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(moved.len(), 1, "one movedAt throughout: {moved:?}");
    assert!(outputs.iter().any(|o| o.resolvers[2].silent_rounds > 0));
    assert!(last.resolvers[1].moved_at >= Some(late_probe_moves));
    // Well under Step Functions' 25,000 history events (about 9 a round).
    let rounds = outputs.len();
    assert!(rounds * 9 < 2_500, "{rounds} rounds");
    assert_eq!(win.w.writes(), 0);
}

/// A new server's address, and a wrong answer for `www.example.com. A`.
fn new_server_lies(win: &Window, lie: bool) -> SocketAddr {
    let server = Name::parse(&win.new[0]).expect("a server name");
    let ip = MemoryZones::server_address(&server).expect("its address");
    let at = SocketAddr::new(ip, 53);
    if lie {
        lie_about(&win.w.dns, at, "www.example.com");
    } else {
        win.w.dns.forget(at, &n("www.example.com"), RrType::A);
    }
    at
}

#[tokio::test(start_paused = true)]
async fn a_new_server_answering_wrongly_two_rounds_in_a_row_is_new_servers_wrong() {
    let win = window();
    let first = win.round(None).await.expect("a healthy round");
    assert!(first.new_servers_checked > 0, "{first:?}");
    assert!(first.new_servers_differ.is_empty(), "{first:?}");
    new_server_lies(&win, true);
    win.w.clock.advance(first.next_wait_seconds);
    let suspect = win
        .round(Some(first.state))
        .await
        .expect("one round is a suspicion");
    assert_eq!(suspect.new_servers_differ, ["www.example.com. A"]);
    win.w.clock.advance(suspect.next_wait_seconds);
    let err = win
        .round(Some(suspect.state))
        .await
        .expect_err("the second round in a row");
    assert_eq!(err.error_type(), "NewServersWrong");
    assert!(err.to_string().contains("198.51.100.66"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_new_server_wrong_for_one_round_only_is_not_a_verdict() {
    let win = window();
    new_server_lies(&win, true);
    let suspect = win.round(None).await.expect("a suspicion");
    assert_eq!(suspect.new_servers_differ.len(), 1);
    new_server_lies(&win, false);
    win.w.clock.advance(suspect.next_wait_seconds);
    let cleared = win.round(Some(suspect.state)).await.expect("cleared");
    assert!(cleared.new_servers_differ.is_empty());
    assert!(cleared.state.verify_suspects.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_parent_that_never_switches_is_warned_about_then_rolled_back_at_72_hours() {
    let win = window();
    let t0 = win.w.clock.now_epoch();
    let first = win.round(None).await.expect("first round");
    win.w.clock.set(t0 + 40 * 3600);
    let warned = win.round(Some(first.state)).await.expect("warned");
    assert!(
        warned.warnings.iter().any(|w| w.contains("rolls back at")),
        "{:?}",
        warned.warnings
    );
    win.w.clock.set(t0 + 72 * 3600);
    let err = win
        .round(Some(warned.state))
        .await
        .expect_err("past the deadline");
    assert_eq!(err.error_type(), "ParentDidNotSwitch");
    // A parent that switched in time is never held to it.
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    let t0 = win.w.clock.now_epoch();
    let first = win.round(None).await.expect("switched");
    win.w.clock.set(t0 + 100 * 3600);
    win.round(Some(first.state))
        .await
        .expect("no deadline once switched");
}

#[tokio::test(start_paused = true)]
async fn invariant_4_safe_waits_while_a_new_server_is_under_suspicion() {
    let win = window();
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    for probe in PROBES {
        win.probe_says(probe, "new");
    }
    let t0 = win.w.clock.now_epoch();
    let first = win.round(None).await.expect("first round");
    new_server_lies(&win, true);
    win.w.clock.set(t0 + BOUND);
    let at_bound = win.round(Some(first.state)).await.expect("a suspicion");
    assert!(
        !at_bound.safe,
        "never safe with a new server under suspicion"
    );
    assert!(
        at_bound.warnings.iter().any(|w| w.contains("deferred")),
        "{:?}",
        at_bound.warnings
    );
    win.w.clock.advance(at_bound.next_wait_seconds);
    let err = win
        .round(Some(at_bound.state))
        .await
        .expect_err("confirmed");
    assert_eq!(err.error_type(), "NewServersWrong");
}

// ------------------------------------------------- edits not yet carried (issue #20)

/// Every parent server and probe resolver on the new side, and the clock at the bound.
async fn at_the_bound(win: &Window) -> PropagationOutput {
    for parent in World::parent_addresses() {
        win.parent_says(parent, true);
    }
    for probe in PROBES {
        win.probe_says(probe, "new");
    }
    let first = win.round(None).await.expect("first round");
    win.w.clock.advance(BOUND);
    first
}

#[tokio::test(start_paused = true)]
async fn an_edit_in_the_new_zone_not_yet_carried_is_not_a_lying_server() {
    let win = window();
    // Created in the new zone by a deploy pipeline; carry-edits has not copied it yet, so
    // the new servers answer it and the old ones do not, round after round.
    win.w
        .target
        .put_records(&win.target_id, [a("www.example.com", 60, &["192.0.2.99"])])
        .expect("edit");
    let mut state = None;
    for _ in 0..3 {
        let out = win.round(state).await.expect("an edit is not a lie");
        assert!(out.new_servers_differ.is_empty(), "{out:?}");
        assert_eq!(out.explained_by_edits, ["www.example.com. A"], "{out:?}");
        assert_eq!(out.edits_pending, 1);
        assert_eq!(out.edits_pending_sample, ["www.example.com. A"]);
        win.w.clock.advance(out.next_wait_seconds);
        state = Some(out.state);
    }
    // The same wrong answer with both zones agreeing through the API is a lie, as before.
    win.w
        .source
        .put_records(
            win.w.source_id(),
            [a("www.example.com", 60, &["192.0.2.99"])],
        )
        .expect("carried");
    new_server_lies(&win, true);
    let suspect = win.round(state).await.expect("a suspicion");
    assert_eq!(suspect.new_servers_differ, ["www.example.com. A"]);
    assert_eq!(suspect.edits_pending, 0);
}

#[tokio::test(start_paused = true)]
async fn invariant_4_safe_waits_while_an_edit_is_not_carried() {
    let win = window();
    let first = at_the_bound(&win).await;
    win.w
        .source
        .put_records(
            win.w.source_id(),
            [a("late.example.com", 60, &["192.0.2.77"])],
        )
        .expect("an edit in the old zone");
    let held = win.round(Some(first.state)).await.expect("a round");
    assert!(!held.safe, "{held:?}");
    assert_eq!(held.next_wait_seconds, 30, "the next round comes soon");
    assert!(
        held.warnings.iter().any(|w| w.contains("not carried yet")),
        "{:?}",
        held.warnings
    );
    // Carried: safe.
    win.w
        .target
        .put_records(&win.target_id, [a("late.example.com", 60, &["192.0.2.77"])])
        .expect("carried");
    win.w.clock.advance(held.next_wait_seconds);
    let safe = win.round(Some(held.state)).await.expect("a round");
    assert!(safe.safe, "{safe:?}");
}

/// Issue #21: a parent server that never answers (unreachable from where the function runs)
/// is left out of "every parent server" after the same bound as a silent probe resolver,
/// with a warning naming it, so that "safe" still comes; never before that bound.
#[tokio::test(start_paused = true)]
async fn a_parent_server_silent_for_rounds_and_an_hour_is_left_out_and_safe_still_comes() {
    let win = window();
    let [a_server, b_server] = [World::parent_addresses()[0], World::parent_addresses()[1]];
    win.parent_says(a_server, true);
    win.parent_says(b_server, true);
    win.w.dns.set_silent(b_server, true);
    for probe in PROBES {
        win.probe_says(probe, "new");
    }
    let started = win.w.clock.now_epoch();
    let mut state = None;
    let mut rounds = 0;
    let safe = loop {
        let out = win.round(state).await.expect("a round");
        rounds += 1;
        let left_out = out
            .warnings
            .iter()
            .any(|w| w.contains(&b_server.to_string()) && w.contains("no longer counts"));
        let elapsed = win.w.clock.now_epoch() - started;
        if left_out {
            assert!(
                rounds >= SILENT_ROUNDS_BOUND as usize && elapsed >= SILENT_SECONDS_BOUND,
                "left out after {rounds} rounds and {elapsed} s"
            );
            assert_eq!(out.parent_total, 1, "{out:?}");
        } else {
            assert!(
                !out.safe,
                "safe while a parent server still counts and is silent"
            );
        }
        if out.safe {
            break out;
        }
        assert!(rounds < 500, "never safe: {out:?}");
        win.w.clock.advance(out.next_wait_seconds.max(60));
        state = Some(out.state);
    };
    assert!(safe.parent_switch_seen_at.is_some());
    // It answers again: it counts again (and names the new servers).
    win.w.dns.set_silent(b_server, false);
    win.w.clock.advance(30);
    let back = win.round(Some(safe.state)).await.expect("a round");
    assert_eq!((back.parent_on_new, back.parent_total), (2, 2));
}

// ------------------------------------- the rotating sample's coverage (issue #22 item 2)

/// `count` more A record sets (`host-N`), and `zz.example.com. A` (last of the RRsets in
/// the rotation's order), in both zones.
fn a_larger_zone(win: &Window, count: usize) {
    let records: Vec<_> = (0..count)
        .map(|i| a(&format!("host-{i}.example.com"), 60, &["192.0.2.50"]))
        .chain([a("zz.example.com", 60, &["192.0.2.51"])])
        .collect();
    win.w
        .source
        .put_records(win.w.source_id(), records.clone())
        .expect("source");
    win.w
        .target
        .put_records(&win.target_id, records)
        .expect("target");
}

#[test]
fn the_sample_grows_with_the_zone_so_that_every_question_is_asked_within_four_rounds() {
    assert_eq!(verify_sample_size(10), VERIFY_SAMPLE);
    assert_eq!(verify_rounds_to_cover(10), 1);
    assert_eq!(verify_rounds_to_cover(56), 4);
    assert_eq!(verify_sample_size(1_002), 251);
    assert_eq!(verify_sample_size(10_002), 2_501);
    for q in [1, 16, 17, 63, 64, 65, 1_000, 1_002, 10_002, 99_999] {
        let rounds = verify_rounds_to_cover(q);
        assert!(rounds <= VERIFY_ROUNDS, "{q} questions: {rounds} rounds");
        assert!(rounds * verify_sample_size(q) >= q, "{q} questions");
    }
}

#[tokio::test(start_paused = true)]
async fn invariant_4_safe_waits_until_the_sample_has_asked_every_question() {
    let win = window();
    a_larger_zone(&win, 100);
    let first = at_the_bound(&win).await;
    let questions = first.new_servers_questions;
    assert!(questions > 100, "{first:?}");
    let size = verify_sample_size(questions);
    assert_eq!(first.new_servers_covered, size, "{first:?}");
    let mut state = first.state;
    let mut rounds = 1;
    let safe = loop {
        let out = win.round(Some(state)).await.expect("a round");
        rounds += 1;
        assert_eq!(out.new_servers_questions, questions);
        assert_eq!(out.new_servers_covered, (rounds * size).min(questions));
        if out.safe {
            break out;
        }
        assert!(out.new_servers_covered < questions, "{out:?}");
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("re-verification has asked")),
            "{:?}",
            out.warnings
        );
        assert_eq!(out.next_wait_seconds, 30, "the next round comes soon");
        assert!(rounds <= VERIFY_ROUNDS, "not safe after {rounds} rounds");
        win.w.clock.advance(out.next_wait_seconds);
        state = out.state;
    };
    assert_eq!(rounds, verify_rounds_to_cover(questions));
    assert_eq!(safe.new_servers_covered, questions);
}

#[tokio::test(start_paused = true)]
async fn a_lie_the_sample_reaches_last_is_new_servers_wrong_before_safe() {
    // cloud.gov with new-side-wrong=wildcard once declared "safe" before the sample reached
    // the lie: here the lie is on the RRset the rotation asks last, and the bound has
    // passed before it is reached.
    let win = window();
    a_larger_zone(&win, 100);
    let server = Name::parse(&win.new[0]).expect("a server name");
    let at = SocketAddr::new(MemoryZones::server_address(&server).expect("address"), 53);
    lie_about(&win.w.dns, at, "zz.example.com");
    let first = at_the_bound(&win).await;
    assert!(first.new_servers_differ.is_empty(), "{first:?}");
    let mut state = first.state;
    let mut seen_in = None;
    for round in 2..=VERIFY_ROUNDS + 1 {
        match win.round(Some(state)).await {
            Ok(out) => {
                assert!(
                    !out.safe,
                    "safe in round {round} with a lie not asked: {out:?}"
                );
                if !out.new_servers_differ.is_empty() {
                    assert_eq!(out.new_servers_differ, ["zz.example.com. A"]);
                    seen_in.get_or_insert(round);
                }
                win.w.clock.advance(out.next_wait_seconds);
                state = out.state;
            }
            Err(err) => {
                assert_eq!(err.error_type(), "NewServersWrong");
                assert!(err.to_string().contains("198.51.100.66"), "{err}");
                let seen = seen_in.expect("a suspicion first");
                assert_eq!(round, seen + 1, "confirmed the round after");
                assert!(
                    seen > 2,
                    "the lie was first asked after the bound (round {seen})"
                );
                return;
            }
        }
    }
    panic!("the lie was never confirmed");
}

#[tokio::test(start_paused = true)]
async fn a_carry_that_changes_the_questions_starts_the_count_again() {
    let win = window();
    a_larger_zone(&win, 100);
    let first = at_the_bound(&win).await;
    let mut state = first.state;
    let covered = loop {
        let out = win.round(Some(state)).await.expect("a round");
        win.w.clock.advance(out.next_wait_seconds);
        if out.safe {
            break out;
        }
        state = out.state;
    };
    assert_eq!(covered.new_servers_covered, covered.new_servers_questions);
    // The same zone again: still covered.
    let again = win.round(Some(covered.state.clone())).await.expect("again");
    assert!(again.safe, "{again:?}");
    // An edit carried to both zones (a new name, and a changed value): counted again.
    for change in [
        a("late.example.com", 60, &["192.0.2.77"]),
        a("host-3.example.com", 60, &["192.0.2.78"]),
    ] {
        win.w
            .source
            .put_records(win.w.source_id(), [change.clone()])
            .expect("source");
        win.w
            .target
            .put_records(&win.target_id, [change])
            .expect("carried");
        let after = win
            .round(Some(covered.state.clone()))
            .await
            .expect("a round");
        assert!(!after.safe, "{after:?}");
        assert_eq!(
            after.new_servers_covered,
            verify_sample_size(after.new_servers_questions),
            "{after:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_server_wrong_over_ipv6_only_is_new_servers_wrong() {
    let win = window();
    win.w.dns.publish_ipv6(true);
    let server = Name::parse(&win.new[0]).expect("a server name");
    let v6 = SocketAddr::new(MemoryZones::server_address6(&server).expect("v6"), 53);
    let first = win.round(None).await.expect("a healthy round");
    assert!(first.new_servers_differ.is_empty(), "{first:?}");
    assert!(win.w.dns.queries_to(v6) > 0, "the round asked {v6}");
    lie_about(&win.w.dns, v6, "www.example.com");
    win.w.clock.advance(first.next_wait_seconds);
    let suspect = win.round(Some(first.state)).await.expect("a suspicion");
    assert_eq!(suspect.new_servers_differ, ["www.example.com. A"]);
    win.w.clock.advance(suspect.next_wait_seconds);
    let err = win
        .round(Some(suspect.state))
        .await
        .expect_err("the second round in a row");
    assert_eq!(err.error_type(), "NewServersWrong");
    assert!(err.to_string().contains(&v6.ip().to_string()), "{err}");
}
