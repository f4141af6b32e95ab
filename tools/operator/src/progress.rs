//! [`Progress`] turns an execution's history, event by event, into the lines a watcher
//! prints live (`zonehop watch`, `make rehearse`) and the phases, rounds and results that
//! `report.json` is made of. The same code reads an execution in AWS and in the emulator.

use std::collections::BTreeMap;

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};

use crate::history::HistoryEvent;

/// ISO 8601 (UTC) of a history timestamp, to the millisecond.
pub fn iso(time: DateTime) -> String {
    time.to_millis()
        .map(DateTime::from_millis)
        .unwrap_or(time)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// ISO 8601 (UTC) of seconds since the epoch.
pub fn iso_secs(seconds: i64) -> String {
    iso(DateTime::from_secs(seconds))
}

/// The state that waits for the operator (`registrar.type: manual`).
pub const OPERATOR_STATE: &str = "Ask Operator To Swap Nameservers";

/// The `awaiting-operator` event's `detail`, when `event` is the task that publishes it
/// (`nameServers`, `taskToken`, `resumeCommand`, ...).
pub fn operator_request(event: &HistoryEvent) -> Option<Value> {
    if event.event_type != "TaskScheduled" {
        return None;
    }
    let detail = match event.parameters()?["Entries"][0]["Detail"].clone() {
        Value::String(text) => serde_json::from_str(&text).ok()?,
        Value::Null => return None,
        other => other,
    };
    (detail["phase"] == "awaiting-operator").then_some(detail)
}

/// Announce states that end an execution rather than start a phase.
const END_MARKERS: [&str; 5] = [
    "Succeeded",
    "Failed",
    "Rolled Back",
    "Rollback Failed",
    "Dry Run Complete",
];

/// One phase: from its `Announce ...` state to the next one (or the execution's end).
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// As in the `Migration Phase Changed` events: `create-zone`, `check-propagation` ...
    pub name: String,
    pub started: DateTime,
    pub ended: Option<DateTime>,
    pub failed: bool,
}

/// Reads an execution's history as it grows: the phases, what each step reported, what
/// went wrong.
#[derive(Debug, Default)]
pub struct Progress {
    pub phases: Vec<Phase>,
    pub verification: Option<Value>,
    pub propagation: Option<Value>,
    /// Each round of check-propagation, in order.
    pub rounds: Vec<Round>,
    pub target_zone_id: Option<String>,
    /// The last state output seen (the execution's state so far).
    pub last_state: Option<Value>,
    /// The operator's request (`awaiting-operator`) seen and not yet answered: whoever
    /// plays the operator takes it.
    pub operator_request: Option<Value>,
}

/// One round of check-propagation, as its output tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// `checkedAt`, seconds since the epoch.
    pub checked_at: i64,
    pub safe: bool,
    pub parent_on_new: Option<i64>,
    pub parent_total: Option<i64>,
    /// The probe resolvers listed whose side is `new`, and how many are listed.
    pub resolvers_on_new: usize,
    pub resolvers_total: usize,
}

fn phase_name(announce: &str) -> String {
    announce.to_ascii_lowercase().replace(' ', "-")
}

fn close(phases: &mut [Phase], at: DateTime, failed: bool) {
    if let Some(open) = phases.last_mut().filter(|p| p.ended.is_none()) {
        open.ended = Some(at);
        open.failed = failed;
    }
}

impl Progress {
    /// Takes in one history event; returns the lines to show for it (maybe none).
    pub fn observe(&mut self, event: &HistoryEvent) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(state) = event.state_entered() {
            // The operator's wait announces itself: its own event is the phase event.
            let phase = state
                .strip_prefix("Announce ")
                .or((state == OPERATOR_STATE).then_some("Awaiting Operator"));
            if let Some(phase) = phase {
                let failing = matches!(phase, "Failed" | "Rolling Back" | "Rollback Failed");
                close(&mut self.phases, event.timestamp, failing);
                if END_MARKERS.contains(&phase) {
                    lines.push(format!("■ {}", phase.to_ascii_lowercase()));
                } else {
                    self.phases.push(Phase {
                        name: phase_name(phase),
                        started: event.timestamp,
                        ended: None,
                        failed: false,
                    });
                    lines.push(format!("▶ {}", phase_name(phase)));
                }
            }
        }
        if let Some(request) = operator_request(event) {
            lines.push(format!(
                "  the operator is asked to set the name servers at the registrar: {}",
                list(&request["nameServers"])
            ));
            // The task token resumes the execution: never shown, not even in part.
            lines.push(format!(
                "  and then to run: zonehop resume {} (it checks the parent's delegation, then sends the task token)",
                request["domain"].as_str().unwrap_or("DOMAIN")
            ));
            self.operator_request = Some(request);
        }
        if event.ends_execution() {
            close(
                &mut self.phases,
                event.timestamp,
                event.event_type != "ExecutionSucceeded",
            );
        }
        if matches!(
            event.event_type.as_str(),
            "TaskFailed" | "LambdaFunctionFailed" | "TaskTimedOut" | "MapStateFailed"
        ) {
            lines.push(format!(
                "  ✗ {}: {}",
                event.error().unwrap_or("error"),
                short_cause(event.cause().unwrap_or_default())
            ));
        }
        if let (Some(state), Some(output)) = (event.state_exited(), event.output()) {
            lines.extend(self.exited(state, &output));
            self.last_state = Some(output);
        }
        lines
    }

    fn exited(&mut self, state: &str, output: &Value) -> Vec<String> {
        // A state that failed into a Catch leaves without its result: nothing to show.
        let result = match state {
            "Preflight" => "preflight",
            "Create Zone" => "createZone",
            "Delegate Subdomains" => "delegations",
            "Sync Records" => "sync",
            "Verify Zones" => "verification",
            "Lower NS TTL" => "nsTtlLowered",
            "Swap Nameservers" | "Point Source Apex NS At Target" => "swap",
            "Check Propagation" => "propagation",
            "Finalize" => "finalize",
            "Rollback" => "rollback",
            _ => return Vec::new(),
        };
        if output[result].is_null() {
            return Vec::new();
        }
        match state {
            "Preflight" => {
                let p = &output["preflight"];
                vec![format!(
                    "  {} record sets in the source, {} to move, kept in source: {}",
                    p["sourceRecords"], p["recordsToMove"], p["keptInSource"]
                )]
            }
            "Create Zone" => {
                let c = &output["createZone"];
                self.target_zone_id = c["hostedZoneId"].as_str().map(str::to_owned);
                vec![format!(
                    "  target zone {} ({}), name servers {}",
                    c["hostedZoneId"].as_str().unwrap_or("?"),
                    if c["adopted"] == true {
                        "adopted"
                    } else {
                        "created"
                    },
                    list(&c["nameServers"])
                )]
            }
            "Delegate Subdomains" => output["delegations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    format!(
                        "  {} delegated to its own zone {} in the source account",
                        d["subdomain"].as_str().unwrap_or("?"),
                        d["childZoneId"].as_str().unwrap_or("?")
                    )
                })
                .collect(),
            "Sync Records" => {
                let s = &output["sync"];
                vec![format!(
                    "  {} creates, {} upserts, {} deletes in {} change calls (lower bound {}); in sync: {}",
                    s["creates"], s["upserts"], s["deletes"], s["changeCalls"], s["changeCallsLowerBound"], s["inSync"]
                )]
            }
            "Verify Zones" => {
                let v = &output["verification"];
                self.verification = Some(v.clone());
                vec![format!(
                    "  {} RRsets answer alike on {} servers ({} queries; {} compared through the API)",
                    v["rrsetsCompared"], v["servers"], v["queries"], v["comparedThroughApi"]
                )]
            }
            "Lower NS TTL" => {
                let l = &output["nsTtlLowered"];
                let parent = match l["previousParentTtl"].as_i64() {
                    Some(ttl) => format!(", and the parent zone's NS TTL (was {ttl} s)"),
                    None => String::new(),
                };
                vec![format!(
                    "  apex NS TTL lowered (was {} s in the source){parent}; waiting {} s for the old TTL to run out",
                    l["previousSourceTtl"], l["waitSeconds"]
                )]
            }
            "Swap Nameservers" | "Point Source Apex NS At Target" => {
                let s = &output["swap"];
                let by_operator = s["registrationBefore"]
                    .as_array()
                    .is_some_and(Vec::is_empty);
                vec![format!(
                    "  registration {}: {}; old apex NS {}",
                    if s["registrationChanged"] == true {
                        "changed"
                    } else if by_operator {
                        "left to the operator"
                    } else {
                        "already on"
                    },
                    list(&s["nameServers"]),
                    if s["sourceApexNsChanged"] == true {
                        "points at the new servers"
                    } else {
                        "already pointed at the new servers"
                    }
                )]
            }
            "Check Propagation" => {
                let p = &output["propagation"];
                self.propagation = Some(p.clone());
                if let Some(at) = p["checkedAt"].as_i64() {
                    let resolvers = p["resolvers"].as_array().map_or(&[][..], Vec::as_slice);
                    self.rounds.push(Round {
                        checked_at: at,
                        safe: p["safe"] == true,
                        parent_on_new: p["parentOnNew"].as_i64(),
                        parent_total: p["parentTotal"].as_i64(),
                        resolvers_on_new: resolvers.iter().filter(|r| r["side"] == "new").count(),
                        resolvers_total: resolvers.len(),
                    });
                }
                let safe_at = p["safeAt"]
                    .as_i64()
                    .map(|s| {
                        let left = s - p["checkedAt"].as_i64().unwrap_or(s);
                        if left > 0 {
                            format!("safe at {} (in {left} s)", iso_secs(s))
                        } else {
                            format!("safe since {}", iso_secs(s))
                        }
                    })
                    .unwrap_or_else(|| "safe time not known yet".to_owned());
                let next = if p["safe"] == true {
                    "SAFE to retire the old side".to_owned()
                } else {
                    format!("next check in {} s", p["nextWaitSeconds"])
                };
                vec![format!(
                    "  round {}: parent servers on new {}/{}, resolvers on new {}/{}; {safe_at}; {next}",
                    self.rounds.len(),
                    p["parentOnNew"],
                    p["parentTotal"],
                    p["resolversOnNew"],
                    p["resolversTotal"]
                )]
            }
            "Finalize" => {
                let f = &output["finalize"];
                let mut lines = vec![format!(
                    "  apex NS TTLs set to {} s, {} canaries removed; to retire the old side:",
                    f["nsTtl"], f["canariesRemoved"]
                )];
                lines.extend(
                    f["decommissionChecklist"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(|item| format!("    - {item}")),
                );
                lines
            }
            "Rollback" => {
                let r = &output["rollback"];
                vec![format!(
                    "  rolled back: registration and old apex NS on {} (registration changed: {}, apex NS changed: {})",
                    list(&r["nameServers"]),
                    r["registrationChanged"],
                    r["sourceApexNsChanged"]
                )]
            }
            _ => Vec::new(),
        }
    }

    /// `report.json`: status, error, phases, verification, propagation (resolver addresses
    /// named through `resolver_names`; `timeline`: each round's time and counts).
    pub fn report(
        &self,
        status: &str,
        error: Value,
        resolver_names: &BTreeMap<String, &str>,
    ) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "startedAt": iso(p.started),
                    "endedAt": p.ended.map(iso),
                    "status": if p.failed { "FAILED" } else if p.ended.is_some() { "SUCCEEDED" } else { "RUNNING" },
                })
            })
            .collect();
        let propagation = self.propagation.as_ref().map(|p| {
            let completed = self.rounds.iter().find(|r| r.safe).map(|r| r.checked_at);
            let timeline: Vec<Value> = self
                .rounds
                .iter()
                .map(|r| {
                    json!({
                        "at": iso_secs(r.checked_at),
                        "parentOnNew": r.parent_on_new,
                        "parentTotal": r.parent_total,
                        "resolversOnNew": r.resolvers_on_new,
                        "resolversTotal": r.resolvers_total,
                        "safe": r.safe,
                    })
                })
                .collect();
            let resolvers: Vec<Value> = p["resolvers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let address = r["resolver"].as_str().unwrap_or_default();
                    json!({
                        "name": resolver_names.get(address).copied().unwrap_or(address),
                        "address": address,
                        "side": r["side"],
                        "movedAt": r["movedAt"].as_i64().map(iso_secs),
                    })
                })
                .collect();
            json!({
                "parentSwitchSeenAt": p["parentSwitchSeenAt"].as_i64().map(iso_secs),
                "safeAt": p["safeAt"].as_i64().map(iso_secs),
                "completedAt": completed.map(iso_secs),
                "rounds": self.rounds.len(),
                "parentNamedNewAt": p["parentNamedNewAt"].as_i64().map(iso_secs),
                "parentServersOnNew": p["parentOnNew"],
                "parentServers": p["parentTotal"],
                "resolvers": resolvers,
                "timeline": timeline,
                // The last round's warnings: a parent server or probe resolver left out,
                // edits not carried yet, the coming rollback.
                "warnings": p["warnings"].as_array().cloned().unwrap_or_default(),
            })
        });
        json!({
            "status": status,
            "error": error,
            "phases": phases,
            "verification": self.verification,
            "propagation": propagation,
        })
    }
}

pub fn list(value: &Value) -> String {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| value.to_string())
}

/// A Lambda error's cause is `{"errorType": ..., "errorMessage": ...}`: its message.
pub fn short_cause(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}
