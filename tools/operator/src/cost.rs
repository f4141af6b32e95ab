//! What an execution costs in AWS, from its history: state transitions, Lambda invocations
//! and GB-s at the memory sizes `infra/template.yaml` deploys.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::history::HistoryEvent;

/// The deployed template, compiled in: each function's memory size.
pub const DEPLOYED_TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Each function's memory as the deployed template sets it.
pub fn deployed_memory() -> BTreeMap<String, u32> {
    deployed_memory_mb(DEPLOYED_TEMPLATE)
}

/// AWS prices (us-east-1, docs/dns-facts.md): a Standard state transition, and a GB-s
/// of Lambda on arm64.
pub const USD_PER_TRANSITION: f64 = 0.025 / 1_000.0;
pub const USD_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;

/// Each function's memory as `infra/template.yaml` deploys it (MB), read from the template
/// (`Binary: NAME` ... `MemorySize: N` in each function's resource).
pub fn deployed_memory_mb(template: &str) -> BTreeMap<String, u32> {
    let mut memory = BTreeMap::new();
    let mut binary: Option<String> = None;
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Binary:") {
            binary = Some(name.trim().to_owned());
        } else if let Some(mb) = line.strip_prefix("MemorySize:") {
            if let (Some(name), Ok(mb)) = (binary.take(), mb.trim().parse()) {
                memory.insert(name, mb);
            }
        }
    }
    memory
}

/// What the execution would have cost in AWS: each state entered and each task retry is a
/// billed transition; each Lambda task is billed for its duration (here: as measured from
/// the history, debug builds on this machine) at its deployed memory. The propagation
/// window is scaled down in a rehearsal, so a real run adds about 3 transitions and one
/// check-propagation invocation per extra round.
pub fn execution_cost(history: &[HistoryEvent], memory_mb: &BTreeMap<String, u32>) -> Value {
    let entered = history
        .iter()
        .filter(|e| e.state_entered().is_some())
        .count();
    let task_states = history
        .iter()
        .filter(|e| e.event_type == "TaskStateEntered")
        .count();
    let attempts = history.iter().filter(|e| e.is_task_attempt()).count();
    let transitions = entered + attempts.saturating_sub(task_states);
    let mut invocations = 0;
    let mut lambda_seconds = 0.0;
    let mut gb_seconds = 0.0;
    let mut by_function: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for (i, scheduled) in history.iter().enumerate() {
        if scheduled.event_type != "TaskScheduled" {
            continue;
        }
        let function = scheduled
            .parameters()
            .and_then(|p| p["FunctionName"].as_str().map(str::to_owned))
            .and_then(|arn| arn.rsplit(':').next().map(str::to_owned));
        let Some(function) = function else {
            continue; // not a Lambda task (putEvents)
        };
        let ended = history[i + 1..].iter().find(|e| {
            matches!(
                e.event_type.as_str(),
                "TaskSucceeded" | "TaskFailed" | "TaskTimedOut"
            )
        });
        let seconds = ended.map_or(0.0, |e| {
            (e.timestamp.as_secs_f64() - scheduled.timestamp.as_secs_f64()).max(0.0)
        });
        let gb = seconds * f64::from(memory_mb.get(&function).copied().unwrap_or(128)) / 1024.0;
        invocations += 1;
        lambda_seconds += seconds;
        gb_seconds += gb;
        let entry = by_function.entry(function).or_default();
        entry.0 += 1;
        entry.1 += gb;
    }
    let by_function: BTreeMap<String, Value> = by_function
        .into_iter()
        .map(|(name, (n, gb))| {
            (
                name,
                json!({ "invocations": n, "gbSeconds": (gb * 1000.0).round() / 1000.0 }),
            )
        })
        .collect();
    let usd = transitions as f64 * USD_PER_TRANSITION + gb_seconds * USD_PER_GB_SECOND_ARM64;
    json!({
        "stateTransitions": transitions,
        "lambdaInvocations": invocations,
        "lambdaSeconds": (lambda_seconds * 1000.0).round() / 1000.0,
        "lambdaGbSeconds": (gb_seconds * 1000.0).round() / 1000.0,
        "usdAtAwsPrices": (usd * 1_000_000.0).round() / 1_000_000.0,
        "byFunction": by_function,
    })
}

/// Transitions a propagation round bills: Check Propagation, the Choice, the Wait.
const TRANSITIONS_PER_ROUND: f64 = 3.0;

/// The same migration in AWS, where the window is not scaled: the rehearsal's `cost` with its
/// propagation rounds replaced by those the loop runs (default pacing, 30 s to 1 h) when the
/// parent delegates with an NS TTL of `parent_ns_ttl` (`.com`'s 2 days, 172,800 s; or a
/// `route53zone` parent's, lowered to 300 s with the apex NS), the apex NS TTL is lowered to
/// 300 s, and the
/// zone's largest record TTL is `largest_record_ttl`; the parent switch is seen at the first
/// round and the resolvers have moved by the bound. Each round is billed like the rehearsal's
/// average check-propagation invocation.
pub fn projected_cost(executed: &Value, largest_record_ttl: i64, parent_ns_ttl: i64) -> Value {
    use zonehop::core::propagation::{judge, Evidence, LoopState, Pacing};
    const NS_TTL_DURING: i64 = 300;
    let mut state = LoopState::default();
    let mut now = 0;
    let mut rounds = 0u32;
    let bound = parent_ns_ttl + NS_TTL_DURING.max(largest_record_ttl);
    loop {
        let moved = usize::from(now >= bound);
        let evidence = Evidence {
            now,
            parent_on_new: 1,
            parent_total: 1,
            parent_unknown: 0,
            parent_ns_ttl,
            old_ns_ttl: NS_TTL_DURING,
            largest_record_ttl,
            resolvers_on_new: moved,
            resolvers_total: 1,
        };
        let verdict = judge(&state, &evidence, Pacing::default());
        rounds += 1;
        if verdict.safe || rounds >= 1_000 {
            break;
        }
        now += verdict.next_wait_seconds;
        state = verdict.state;
    }
    let check = &executed["byFunction"]["check-propagation"];
    let rehearsed_rounds = check["invocations"].as_f64().unwrap_or(0.0);
    let check_gb = check["gbSeconds"].as_f64().unwrap_or(0.0);
    let per_round_gb = if rehearsed_rounds > 0.0 {
        check_gb / rehearsed_rounds
    } else {
        0.0
    };
    let transitions = executed["stateTransitions"].as_f64().unwrap_or(0.0)
        + TRANSITIONS_PER_ROUND * (f64::from(rounds) - rehearsed_rounds);
    let gb_seconds = executed["lambdaGbSeconds"].as_f64().unwrap_or(0.0) - check_gb
        + per_round_gb * f64::from(rounds);
    let usd = transitions * USD_PER_TRANSITION + gb_seconds * USD_PER_GB_SECOND_ARM64;
    json!({
        "assumes": format!("parent NS TTL {parent_ns_ttl} s, apex NS TTL lowered to 300 s, default pacing, parent switch seen at the first round"),
        "parentNsTtl": parent_ns_ttl,
        "propagationRounds": rounds,
        "windowHours": (now as f64 / 360.0).round() / 10.0,
        "stateTransitions": transitions.round() as u64,
        "lambdaGbSeconds": (gb_seconds * 1000.0).round() / 1000.0,
        "usdAtAwsPrices": (usd * 1_000_000.0).round() / 1_000_000.0,
    })
}
