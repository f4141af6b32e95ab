//! `make rehearse FAULTS=...`: injecting the faults as the execution goes, and the report's
//! `faults` list (what was injected, when, and what the migration did about it: the
//! propagation rounds and the seconds it cost).
//!
//! The proxy faults (`api-faults=N`, `crash-*`, `registrar-*`, `cleanup-fails`) act from the
//! start, in `zonehop_world::faults::proxy`. The silences (`zonehop_world::faults::world`)
//! start when the execution enters the swap (`Swap Nameservers`, or `Point Source Apex NS At
//! Target` on the manual path), so that the first propagation round meets them; one "for a
//! round" ends once a check-propagation attempt has ended in it (at most
//! [`MAX_SILENCE`]), `probe-dead`'s never. The others start once the swap is done, when the
//! execution first enters `Check Propagation`: a server made to answer wrongly, records
//! written into the zones through the Route 53 API, a second execution started;
//! `operator-silent` when the operator is asked.

use std::time::Duration;

use serde_json::{json, Value};
use zonehop::core::change::{Action, Change};
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;
use zonehop_world::dnsworld::render::zone_file_name;
use zonehop_world::faults::proxy::{injections_json, FaultProxy, ProxyPlan, RegistrarFault};
use zonehop_world::faults::world::{
    answer_again, name_to_remove, silence, silence_one_address, without_one_name, wrong_answers,
    wrong_for, wrong_wildcards, WRONG_A, WRONG_AAAA,
};
use zonehop_world::faults::{Fault, Faults, WrongTarget};
use zonehop_world::prober::{now_ms, EditClock, Excuse, Excuses};
use zonehop_world::rehearsal::{iso, Scenario, Stage};
use zonehop_world::stepfunctions::{HistoryEvent, LocalStepFunctions};
use zonehop_world::{route53_in, source_access, target_access};

use crate::storm::Storm;

/// How long `registrar-slow` keeps the operation IN_PROGRESS.
pub const REGISTRAR_SLOW: Duration = Duration::from_secs(8);
/// How long after a silence a resolver's timeouts and SERVFAILs are still the fault's (its
/// own retry backoff and caches recovering).
const EXCUSE_GRACE_MS: i64 = 6_000;
/// The longest a silence "for a round" lasts, whatever the round does.
pub const MAX_SILENCE: Duration = Duration::from_secs(30);
/// The fixed seed of `api-faults` (the report prints it).
pub const API_FAULT_SEED: u64 = 0x2024_0a10;

/// One record a fault writes, in which zone.
#[derive(Debug, Clone)]
pub struct Edit {
    pub zone: Side,
    pub record: RecordSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// The records the edit faults write, and the value each RRset must end with in both zones
/// (on a conflict, the target's).
pub fn edits(faults: &Faults, domain: &Name, ttl: u32) -> Vec<Edit> {
    let a = |label: &str, value: &str| {
        let name = Name::parse(&format!("{label}.{}", domain.as_str())).unwrap_or(domain.clone());
        RecordSet::simple(name, RrType::A, i64::from(ttl), &[value])
    };
    let mut out = Vec::new();
    if faults.contains(Fault::EditSource) || faults.contains(Fault::EditBoth) {
        out.push(Edit {
            zone: Side::Source,
            record: a("fault-edit-source", "192.0.2.201"),
        });
    }
    if faults.contains(Fault::EditTarget) || faults.contains(Fault::EditBoth) {
        out.push(Edit {
            zone: Side::Target,
            record: a("fault-edit-target", "192.0.2.202"),
        });
    }
    if faults.contains(Fault::EditBoth) {
        // The same RRset, written differently on both sides: the new side must win.
        out.push(Edit {
            zone: Side::Source,
            record: a("fault-edit-both", "192.0.2.203"),
        });
        out.push(Edit {
            zone: Side::Target,
            record: a("fault-edit-both", "192.0.2.204"),
        });
    }
    out
}

/// The scenario as it must end once the edits are carried (the target's version of an RRset
/// written on both sides).
pub fn edited_scenario(scenario: &Scenario, edits: &[Edit]) -> Scenario {
    let mut records = scenario.records.clone();
    for side in [Side::Source, Side::Target] {
        for edit in edits.iter().filter(|e| e.zone == side) {
            records.retain(|r| r.key() != edit.record.key());
            records.push(edit.record.clone());
        }
    }
    Scenario {
        records,
        ..scenario.clone()
    }
}

/// The scenario as each zone holds it between its own edits and their carry: one per side
/// that writes (the prober accepts a zone's own version of an RRset both zones wrote, until
/// the carry replaces it).
pub fn per_zone_scenarios(scenario: &Scenario, edits: &[Edit]) -> Vec<Scenario> {
    [Side::Source, Side::Target]
        .into_iter()
        .map(|side| {
            let own: Vec<Edit> = edits.iter().filter(|e| e.zone == side).cloned().collect();
            edited_scenario(scenario, &own)
        })
        .collect()
}

/// The proxy's plan for these faults.
pub fn proxy_plan(faults: &Faults) -> ProxyPlan {
    let mut plan = ProxyPlan {
        api_fault_percent: faults.api_fault_percent().unwrap_or(0),
        seed: API_FAULT_SEED,
        ..ProxyPlan::default()
    };
    if faults.contains(Fault::CrashSync) {
        plan.crash_after_first_change.push("sync-records".into());
    }
    if faults.contains(Fault::CrashDelegate) {
        plan.crash_after_first_change
            .push("delegate-subdomain".into());
    }
    if faults.contains(Fault::CleanupFails) {
        plan.deny.push("finalize".into());
    }
    if faults.contains(Fault::CutoverFails) {
        plan.deny.push("cutover".into());
    }
    if let Some(step) = faults.crash_step() {
        plan.fail_after_invoke.push(step.to_owned());
    }
    if faults.contains(Fault::EditStorm) {
        plan.gates = crate::storm::GATED
            .iter()
            .map(|f| (*f).to_owned())
            .collect();
    }
    if faults.contains(Fault::RegistrarSlow) {
        plan.registrar = Some(RegistrarFault::Slow(REGISTRAR_SLOW));
    } else if faults.contains(Fault::RegistrarFails) {
        plan.registrar = Some(RegistrarFault::Fails);
    }
    plan
}

/// The request with a cutover change when a fault needs the cutover phase to run
/// (`cutover-fails`, `crash-at=cutover`, `abort-at=cutover`) and the request has none: one
/// TXT record of its own, written to both zones after "safe". The line says so.
pub fn with_drill_cutover(
    faults: &Faults,
    mut request: Value,
    domain: &Name,
) -> (Value, Option<String>) {
    let needs = faults.contains(Fault::CutoverFails)
        || faults.crash_step() == Some("cutover")
        || faults.abort_phase() == Some("cutover");
    if !needs || request["cutover"]["records"].is_array() {
        return (request, None);
    }
    let name = format!(
        "zonehop-cutover-drill.{}",
        domain.as_str().trim_end_matches('.')
    );
    request["cutover"] = json!({ "records": [
        { "name": name, "type": "TXT", "values": ["\"cutover drill\""], "ttl": 60 }
    ] });
    let line = format!("the request gains a cutover change for the fault: {name} TXT");
    (request, Some(line))
}

/// How each fault is injected (the report's `mechanism`).
fn mechanism(fault: Fault) -> String {
    match fault {
        Fault::ResolverOutage => "the resolver check-propagation uses (`resolver`) stopped (SIGSTOP) from the swap until the first propagation round after it has ended".into(),
        Fault::ProbeDead => "the other probe resolver stopped (SIGSTOP) from the swap until the end".into(),
        Fault::ParentTimeout => "the domain's parent (TLD) server stopped (SIGSTOP) from the swap until the first propagation round after it has ended".into(),
        Fault::ApiFaults(n) => format!("the fault proxy: {n}% of the functions' Route 53 and Route 53 Domains calls throttled (400), 503, 500, slowed 1-3 s or dropped, seed {API_FAULT_SEED:#x}"),
        Fault::CrashSync => "the fault proxy kills (SIGKILL) sync-records once its first ChangeResourceRecordSets is applied".into(),
        Fault::CrashDelegate => "the fault proxy kills (SIGKILL) delegate-subdomain once its first ChangeResourceRecordSets is applied".into(),
        Fault::RegistrarSlow => format!("the fault proxy holds UpdateDomainNameservers IN_PROGRESS for {} s, then applies it", REGISTRAR_SLOW.as_secs()),
        Fault::RegistrarFails => "the fault proxy answers UpdateDomainNameservers with an operation that ends FAILED (never applied)".into(),
        Fault::OperatorSilent => "manual registrar; the rehearsal does not play the operator".into(),
        Fault::EditSource | Fault::EditTarget | Fault::EditBoth => "records created through the Route 53 API at the first Check Propagation after the swap".into(),
        Fault::EditStorm => "records created, changed and deleted in both zones through the Route 53 API at each phase (before the first sync, between the syncs, before the swap, in the window, after \"safe\"), read from the history; the fault proxy holds sync-records, swap-nameservers, carry-edits and finalize until their phase's edits are written".into(),
        Fault::CleanupFails => "the fault proxy answers every Route 53 call of finalize with 403 AccessDenied".into(),
        Fault::NewSideWrong(target) => {
            let lie = match target {
                WrongTarget::Plain => format!("{WRONG_A} for its A records below the apex"),
                WrongTarget::Routed => format!("{WRONG_A} and {WRONG_AAAA} for the A and AAAA records of its names with a routed record set (the member the world serves)"),
                WrongTarget::Alias => format!("{WRONG_A} and {WRONG_AAAA} for the A and AAAA records of its aliases without a routing policy (AWS resources and same-zone targets)"),
                WrongTarget::Wildcard => "a wrong value of each type for its wildcards' data (what a name under them is synthesized from)".to_owned(),
                WrongTarget::Nxdomain => "NXDOMAIN for one name it holds (the first leaf with an A record, removed from its copy)".to_owned(),
            };
            format!("the target zone's first name server answers {lie} (a tampered copy) from the first round after the swap")
        }
        Fault::SecondExecution => "a second execution with the same request started at the first Check Propagation after the swap".into(),
        Fault::CrashAt(step) => format!("the fault proxy forwards every invoke of {step} and answers it as a crashed runtime (Runtime.ExitError, no Retry covers it) once the function has done its work"),
        Fault::AbortAt(phase) => format!("StopExecution once the execution has invoked the {phase} phase's function (the invocation runs on)"),
        Fault::ParentDead => "the second server of the domain's parent (ns2.zonehop-nic.<suffix>) moved to a copy of its own at the swap and paused (SIGSTOP) until the end; the first answers on".into(),
        Fault::CutoverFails => "the request gains a cutover change (a TXT record); the fault proxy answers every Route 53 call of cutover with 403 AccessDenied".into(),
    }
}

/// A world server made silent.
#[derive(Debug, Clone)]
struct Silence {
    role: String,
    until: Option<std::time::Instant>,
    excuse: usize,
    /// A check-propagation attempt ended while it was silent.
    round_met: bool,
    /// The name server whose address was moved to the paused copy `role` (`parent-dead`):
    /// given back to its live server when the silence ends.
    frozen: Option<String>,
}

/// One fault's record as the rehearsal goes.
#[derive(Debug, Clone)]
struct Record {
    fault: Fault,
    injected_ms: Option<i64>,
    /// When a fault with a duration ended.
    ended_ms: Option<i64>,
    detail: Value,
}

/// The faults of one rehearsal while it runs.
#[derive(Debug)]
pub struct FaultRun {
    pub faults: Faults,
    pub proxy: Option<FaultProxy>,
    records: Vec<Record>,
    excuses: Option<Excuses>,
    /// The world roles silenced, when to let them answer again at the latest (`None`:
    /// never), their excuse's index, and whether one round has met them (then they end).
    silenced: Vec<Silence>,
    silences_done: bool,
    at_swap_done: bool,
    /// The function of the last task attempt scheduled.
    last_scheduled: Option<String>,
    round: Duration,
    edits: Vec<Edit>,
    edits_made_ms: Option<i64>,
    /// Tells the prober when the edits were made and carried.
    edit_clock: Option<EditClock>,
    /// Per edit: when it was first seen in the other zone with the winning value.
    carried_ms: Vec<Option<i64>>,
    last_carry_check: Option<std::time::Instant>,
    second: Option<String>,
    operator_asked_ms: Option<i64>,
    errors: Vec<String>,
    /// `edit-storm`.
    storm: Option<Storm>,
    /// The target zone, once the execution has made it known.
    target_zone: Option<String>,
    /// The execution the faults act on (`abort-at=` stops it).
    execution: Option<String>,
}

impl FaultRun {
    pub fn new(
        faults: Faults,
        proxy: Option<FaultProxy>,
        round: Duration,
        edits: Vec<Edit>,
    ) -> FaultRun {
        let records = faults
            .iter()
            .map(|fault| Record {
                fault,
                injected_ms: None,
                ended_ms: None,
                detail: json!({}),
            })
            .collect();
        let carried_ms = vec![None; edits.len()];
        FaultRun {
            faults,
            proxy,
            records,
            excuses: None,
            silenced: Vec::new(),
            silences_done: false,
            at_swap_done: false,
            last_scheduled: None,
            round,
            edits,
            edits_made_ms: None,
            edit_clock: None,
            carried_ms,
            last_carry_check: None,
            second: None,
            operator_asked_ms: None,
            errors: Vec::new(),
            storm: None,
            target_zone: None,
            execution: None,
        }
    }

    /// The execution the faults act on, once started.
    pub fn set_execution(&mut self, arn: &str) {
        self.execution = Some(arn.to_owned());
    }

    /// Ends every injection (`AGAIN=1`, before the second execution): the proxy forwards
    /// untouched and every silenced server answers again.
    pub async fn disarm(&mut self, stage: &Stage) {
        if let Some(proxy) = &self.proxy {
            proxy.disarm();
        }
        self.end(stage).await;
        let tampered: Vec<String> = self
            .records
            .iter()
            .filter(|r| matches!(r.fault, Fault::NewSideWrong(_)) && r.injected_ms.is_some())
            .filter_map(|r| r.detail["server"].as_str().map(str::to_owned))
            .collect();
        let excuses: Vec<usize> = self
            .records
            .iter()
            .filter(|r| matches!(r.fault, Fault::NewSideWrong(_)))
            .flat_map(|r| {
                r.detail["excuses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.as_u64().map(|i| i as usize))
                    .collect::<Vec<_>>()
            })
            .collect();
        for server in tampered {
            if let Err(e) = stage.world.unfreeze_server(&server).await {
                self.errors
                    .push(format!("new-side-wrong: {server} not restored: {e}"));
            }
        }
        // The lie ends with the tampered copy: from now (and a TTL after) a wrong answer is a
        // problem again.
        let restored = now_ms();
        for index in excuses {
            self.close_excuse(index, restored);
        }
    }

    pub fn set_storm(&mut self, storm: Storm) {
        self.storm = Some(storm);
    }

    /// `edit-storm`: on a task of a gated function, writes the edits of the phase it ends
    /// (when still to write), then lets its invoke through the proxy.
    async fn storm_task(
        &mut self,
        function: &str,
        stage: &Stage,
        target_zone: Option<&str>,
    ) -> Vec<String> {
        let Some(storm) = &mut self.storm else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        if let Some(phase) = storm.due(function) {
            lines.push(storm.write(phase, stage, target_zone).await);
            self.storm_injected();
        }
        if crate::storm::GATED.contains(&function) {
            let released = self.proxy.as_ref().is_some_and(|p| p.release(function));
            if !released {
                self.errors
                    .push(format!("edit-storm: {function} is not gated by the proxy"));
            }
        }
        lines
    }

    /// `edit-storm` on the manual path: the operator is asked to swap, so the edits before
    /// the swap are written now, before the rehearsal plays the operator.
    pub async fn before_operator_swaps(&mut self, stage: &Stage) -> Vec<String> {
        let target_zone = self.target_zone.clone();
        let target_zone = target_zone.as_deref();
        let Some(storm) = &mut self.storm else {
            return Vec::new();
        };
        if storm.made(crate::storm::Phase::BeforeSwap) {
            return Vec::new();
        }
        let line = storm
            .write(crate::storm::Phase::BeforeSwap, stage, target_zone)
            .await;
        self.storm_injected();
        vec![line]
    }

    /// The storm's summary lines (none without `edit-storm`).
    pub fn storm_lines(&self, observed: &Value) -> Vec<String> {
        self.storm
            .as_ref()
            .map(|s| s.lines(observed))
            .unwrap_or_default()
    }

    fn storm_injected(&mut self) {
        let now = now_ms();
        if let Some(r) = self.record(Fault::EditStorm) {
            r.injected_ms.get_or_insert(now);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    pub fn set_excuses(&mut self, excuses: Excuses) {
        self.excuses = Some(excuses);
    }

    pub fn set_edit_clock(&mut self, clock: EditClock) {
        self.edit_clock = Some(clock);
    }

    /// Notes the edits seen carried now; once all are, tells the prober when.
    fn mark_carried(&mut self, carried: Vec<bool>) {
        let now = now_ms();
        for (i, yes) in carried.into_iter().enumerate() {
            if yes && self.carried_ms[i].is_none() {
                self.carried_ms[i] = Some(now);
            }
        }
        if let Some(all) = self
            .carried_ms
            .iter()
            .copied()
            .collect::<Option<Vec<i64>>>()
        {
            if let (Some(clock), Some(last)) = (&self.edit_clock, all.into_iter().max()) {
                clock.carried(last);
            }
        }
    }

    fn record(&mut self, fault: Fault) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.fault == fault)
    }

    fn injected(&mut self, fault: Fault, detail: Value) {
        let now = now_ms();
        if let Some(r) = self.record(fault) {
            r.injected_ms.get_or_insert(now);
            r.detail = detail;
        }
    }

    /// Whether the rehearsal plays the operator when asked.
    pub fn operator_answers(&mut self) -> bool {
        if self.faults.contains(Fault::OperatorSilent) {
            if self.operator_asked_ms.is_none() {
                self.operator_asked_ms = Some(now_ms());
                self.injected(
                    Fault::OperatorSilent,
                    json!({ "note": "the operator was asked and never answered" }),
                );
            }
            return false;
        }
        true
    }

    /// Takes in one history event; returns lines to print.
    #[allow(clippy::too_many_arguments)]
    pub async fn observe(
        &mut self,
        event: &HistoryEvent,
        local: &LocalStepFunctions,
        stage: &Stage,
        request: &Value,
        target_zone: Option<&str>,
        execution_name: &str,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(zone) = target_zone {
            self.target_zone = Some(zone.to_owned());
        }
        if event.event_type == "TaskScheduled" {
            self.last_scheduled = event
                .parameters()
                .and_then(|p| p["FunctionName"].as_str().map(str::to_owned))
                .and_then(|arn| arn.rsplit(':').next().map(str::to_owned));
            if let Some(function) = self.last_scheduled.clone() {
                lines.extend(self.storm_task(&function, stage, target_zone).await);
                lines.extend(self.abort_at(&function, local, execution_name).await);
            }
        }
        if let (Some(storm), Some(state)) = (&mut self.storm, event.state_entered()) {
            storm.entered(state);
        }
        if matches!(
            event.event_type.as_str(),
            "TaskSucceeded" | "TaskFailed" | "TaskTimedOut"
        ) && self.last_scheduled.as_deref() == Some("check-propagation")
        {
            for silence in &mut self.silenced {
                silence.round_met = true;
            }
        }
        let swap = matches!(
            event.state_entered(),
            Some("Swap Nameservers" | "Point Source Apex NS At Target")
        );
        if swap && !self.silences_done {
            self.silences_done = true;
            lines.extend(self.silence_servers(stage, request).await);
        }
        // The first round after the swap begins with Carry Edits (then Check Propagation).
        if self.at_swap_done
            || !matches!(
                event.state_entered(),
                Some("Carry Edits" | "Check Propagation")
            )
        {
            return lines;
        }
        self.at_swap_done = true;
        let round = self.round;
        if let Some(target) = self.faults.new_side_wrong() {
            let fault = Fault::NewSideWrong(target);
            match tamper_new_side(stage, target_zone, target).await {
                Ok((server, detail)) => {
                    lines.push(format!("  ⚡ {fault}: {server} lies: {detail}"));
                    // Its wrong answers, while it lies and a grace after, are the fault's:
                    // counted apart (`lies`); any other wrong answer is a problem.
                    let excuses: Vec<usize> = [WRONG_A, WRONG_AAAA]
                        .into_iter()
                        .filter_map(|lie| {
                            let excuses = self.excuses.as_ref()?;
                            let mut list = excuses.write().ok()?;
                            list.push(Excuse {
                                fault: fault.name(),
                                resolver: None,
                                from_ms: now_ms(),
                                until_ms: None,
                                grace_ms: EXCUSE_GRACE_MS,
                                lie: Some(lie.to_owned()),
                            });
                            Some(list.len() - 1)
                        })
                        .collect();
                    let mut detail = detail;
                    detail["server"] = json!(server);
                    detail["excuses"] = json!(excuses);
                    self.injected(fault, detail);
                }
                Err(e) => self.errors.push(format!("{fault}: {e}")),
            }
        }
        if !self.edits.is_empty() {
            match write_edits(stage, target_zone, &self.edits).await {
                Ok(()) => {
                    let made = now_ms();
                    self.edits_made_ms = Some(made);
                    if let Some(clock) = &self.edit_clock {
                        clock.made(made, made + round.as_millis() as i64);
                    }
                    for fault in [Fault::EditSource, Fault::EditTarget, Fault::EditBoth] {
                        if self.faults.contains(fault) {
                            let written: Vec<Value> = self
                                .edits
                                .iter()
                                .map(|e| json!({ "zone": e.zone.name(), "name": e.record.name.as_str(), "type": "A", "value": e.record.values().next() }))
                                .collect();
                            self.injected(fault, json!({ "written": written }));
                        }
                    }
                    lines.push(format!(
                        "  ⚡ edits: {} record(s) written into the zones",
                        self.edits.len()
                    ));
                }
                Err(e) => self.errors.push(format!("edits: {e}")),
            }
        }
        if self.faults.contains(Fault::SecondExecution) {
            let name = format!("{execution_name}-second");
            match stage.start(local, &name, request).await {
                Ok(arn) => {
                    lines.push(format!("  ⚡ second-execution: {name} started"));
                    self.injected(Fault::SecondExecution, json!({ "executionArn": arn }));
                    self.second = Some(arn);
                }
                Err(e) => self.errors.push(format!("second-execution: {e}")),
            }
        }
        lines
    }

    /// `abort-at=PHASE`: StopExecution once the phase's function is invoked (once).
    async fn abort_at(
        &mut self,
        function: &str,
        local: &LocalStepFunctions,
        execution_name: &str,
    ) -> Vec<String> {
        let Some(phase) = self.faults.abort_phase() else {
            return Vec::new();
        };
        let due = zonehop_world::faults::phase_function(phase) == Some(function);
        let fault = Fault::AbortAt(phase);
        if !due || self.record(fault).is_some_and(|r| r.injected_ms.is_some()) {
            return Vec::new();
        }
        let Some(arn) = self.execution.clone() else {
            self.errors.push(format!(
                "abort-at={phase}: the execution {execution_name} is not known"
            ));
            return Vec::new();
        };
        match local.sfn.stop_execution(&arn).await {
            Ok(()) => {
                self.injected(fault, json!({ "phase": phase, "function": function }));
                vec![format!(
                    "  ⚡ abort-at={phase}: StopExecution while {function} runs"
                )]
            }
            Err(e) => {
                self.errors.push(format!("abort-at={phase}: {e}"));
                Vec::new()
            }
        }
    }

    /// Silences the world's servers the faults name, from now.
    async fn silence_servers(&mut self, stage: &Stage, request: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        let resolvers = stage.resolver_names();
        let resolver_role = request["resolver"]
            .as_str()
            .and_then(|a| resolvers.get(a).copied())
            .unwrap_or("unbound")
            .to_owned();
        let other_role = resolvers
            .values()
            .find(|n| **n != resolver_role)
            .copied()
            .unwrap_or("kresd")
            .to_owned();
        let now = std::time::Instant::now();
        for fault in self.faults.clone().iter() {
            let (role, until, excuse_all) = match fault {
                Fault::ResolverOutage => (resolver_role.clone(), Some(now + MAX_SILENCE), false),
                Fault::ProbeDead => (other_role.clone(), None, false),
                Fault::ParentTimeout => (parent_role(stage), Some(now + MAX_SILENCE), true),
                Fault::ParentDead => (second_parent_server(stage), None, true),
                _ => continue,
            };
            // parent-dead silences one address of the parent's server (its second name),
            // moved to a paused copy; the others silence a whole daemon.
            let silenced = if fault == Fault::ParentDead {
                silence_one_address(&stage.world, &role)
                    .await
                    .map(|(copy, pid)| (pid, Some((copy, role.clone()))))
            } else {
                silence(&stage.world, &role).await.map(|pid| (pid, None))
            };
            match silenced {
                Ok((pid, frozen)) => {
                    let from = now_ms();
                    let mut excuse = 0;
                    if let Some(excuses) = &self.excuses {
                        if let Ok(mut list) = excuses.write() {
                            list.push(Excuse {
                                fault: fault.name(),
                                resolver: (!excuse_all).then(|| role.clone()),
                                from_ms: from,
                                until_ms: None,
                                grace_ms: EXCUSE_GRACE_MS,
                                lie: None,
                            });
                            excuse = list.len() - 1;
                        }
                    }
                    let (role, frozen) = match frozen {
                        Some((copy, ns_name)) => (copy, Some(ns_name)),
                        None => (role.clone(), None),
                    };
                    self.silenced.push(Silence {
                        role: role.clone(),
                        until,
                        excuse,
                        round_met: false,
                        frozen,
                    });
                    self.injected(fault, json!({ "server": role, "pid": pid }));
                    lines.push(format!(
                        "  ⚡ {fault}: {role} (pid {pid}) silent {}",
                        if until.is_some() {
                            "for the next propagation round"
                        } else {
                            "until the end"
                        }
                    ));
                }
                Err(e) => self.errors.push(format!("{fault}: {e}")),
            }
        }
        lines
    }

    /// Called every poll: ends the silences whose round is over, notes when the edits
    /// reached the other zone.
    pub async fn tick(&mut self, stage: &Stage, target_zone: Option<&str>) -> Vec<String> {
        let mut lines = Vec::new();
        let now = std::time::Instant::now();
        let mut still = Vec::new();
        for silence in std::mem::take(&mut self.silenced) {
            let Silence {
                ref role,
                until,
                excuse: index,
                round_met,
                ..
            } = silence;
            if until.is_some_and(|u| u <= now || round_met) {
                match answer_again(&stage.world, role).await {
                    Ok(_) => {
                        let ended = now_ms();
                        self.close_excuse(index, ended);
                        for r in self
                            .records
                            .iter_mut()
                            .filter(|r| r.detail["server"] == role.as_str() && r.ended_ms.is_none())
                        {
                            r.ended_ms = Some(ended);
                        }
                        lines.push(format!("  ⚡ {role} answers again"));
                    }
                    Err(e) => self.errors.push(e.to_string()),
                }
            } else {
                still.push(silence);
            }
        }
        self.silenced = still;
        if let Some(storm) = &mut self.storm {
            storm.tick(stage, target_zone).await;
        }
        if self.edits_made_ms.is_some()
            && self.carried_ms.iter().any(Option::is_none)
            && self
                .last_carry_check
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last_carry_check = Some(now);
            if let Ok(carried) = carried(stage, target_zone, &self.edits).await {
                self.mark_carried(carried);
            }
        }
        lines
    }

    /// Looks once more whether every edit reached both zones (after the execution ended).
    pub async fn check_carried(&mut self, stage: &Stage, target_zone: Option<&str>) {
        if let Some(storm) = &mut self.storm {
            storm.finish(stage, target_zone).await;
        }
        if self.edits_made_ms.is_none() || self.carried_ms.iter().all(Option::is_some) {
            return;
        }
        if let Ok(carried) = carried(stage, target_zone, &self.edits).await {
            self.mark_carried(carried);
        }
    }

    /// The edits written during the window that are not in both zones (with the winning
    /// value) by now: `name (zone)`.
    pub fn edits_lost(&self) -> Vec<String> {
        if let Some(storm) = &self.storm {
            return storm.lost();
        }
        if self.edits_made_ms.is_none() {
            return Vec::new();
        }
        self.edits
            .iter()
            .zip(&self.carried_ms)
            .filter(|(_, c)| c.is_none())
            .map(|(e, _)| {
                format!(
                    "{} (written in the {} zone)",
                    e.record.name.as_str(),
                    e.zone.name()
                )
            })
            .collect()
    }

    fn close_excuse(&self, index: usize, at_ms: i64) {
        if let Some(excuses) = &self.excuses {
            if let Ok(mut list) = excuses.write() {
                if let Some(e) = list.get_mut(index) {
                    e.until_ms = Some(at_ms);
                }
            }
        }
    }

    /// Lets every silenced server answer again (before the world is torn down or judged).
    pub async fn end(&mut self, stage: &Stage) {
        for Silence {
            role,
            excuse: index,
            frozen,
            ..
        } in std::mem::take(&mut self.silenced)
        {
            let mut ended = answer_again(&stage.world, &role).await.is_ok();
            if let Some(ns_name) = frozen {
                // The paused copy serves what the parent said at the swap: its address goes
                // back to the live server.
                if let Err(e) = stage.world.unfreeze_server(&ns_name).await {
                    self.errors.push(format!("{ns_name} not given back: {e}"));
                    ended = false;
                }
            }
            if ended {
                let ended = now_ms();
                self.close_excuse(index, ended);
                for r in self
                    .records
                    .iter_mut()
                    .filter(|r| r.detail["server"] == role.as_str() && r.ended_ms.is_none())
                {
                    r.ended_ms = Some(ended);
                }
            }
        }
    }

    /// The report's `faults`: per fault its mechanism, when it was injected, what the
    /// migration did (`outcome`), and what it cost (`rounds`, `seconds`).
    pub async fn report(
        &self,
        history: &[HistoryEvent],
        status: &str,
        error: &Value,
        local: &LocalStepFunctions,
        stage: &Stage,
        keep: &[String],
    ) -> Value {
        let attempts = task_attempts(history);
        let end_ms = history
            .iter()
            .rev()
            .find(|e| e.ends_execution())
            .map(ms)
            .unwrap_or_else(now_ms);
        let rounds_between = |from: i64, to: i64| {
            attempts
                .iter()
                .filter(|a| a.function == "check-propagation" && a.overlaps(from, to))
                .count()
        };
        let failures_between = |from: i64, to: i64| -> Vec<Value> {
            attempts
                .iter()
                .filter(|a| a.overlaps(from, to))
                .filter_map(|a| {
                    a.error.as_ref().map(
                        |e| json!({ "function": a.function, "error": e, "at": iso_ms(a.ended_ms) }),
                    )
                })
                .collect()
        };
        let first_success_after = |function: &str, from: i64| {
            attempts
                .iter()
                .find(|a| {
                    a.function == function
                        && a.ended_ms >= from
                        && a.error.is_none()
                        && a.ended_ms > 0
                })
                .map(|a| a.ended_ms)
        };
        let rolled_back = error["rolledBack"] == true;
        let mut list = Vec::new();
        let counts = self.proxy.as_ref().map(FaultProxy::counts);
        let injections = self
            .proxy
            .as_ref()
            .map(FaultProxy::injections)
            .unwrap_or_default();
        let first_injection = |prefix: &str| {
            injections
                .iter()
                .find(|i| i.what.starts_with(prefix) || i.what.contains(prefix))
                .map(|i| i.at_ms)
        };
        for record in &self.records {
            let fault = record.fault;
            let mut entry = json!({
                "fault": fault.name(),
                "mechanism": mechanism(fault),
                "requiredOutcome": fault.required_outcome(),
                "detail": record.detail,
            });
            let injected = match fault {
                Fault::ApiFaults(_) => injections.first().map(|i| i.at_ms),
                Fault::CrashSync => first_injection("sync-records (pid"),
                Fault::CrashDelegate => first_injection("delegate-subdomain (pid"),
                Fault::RegistrarSlow | Fault::RegistrarFails => {
                    first_injection("UpdateDomainNameservers held")
                }
                Fault::CleanupFails => first_injection("AccessDenied for finalize"),
                Fault::CutoverFails => first_injection("AccessDenied for cutover"),
                Fault::CrashAt(step) => {
                    first_injection(&format!("{step} invoke answered as a crash"))
                }
                _ => record.injected_ms,
            };
            let Some(from) = injected else {
                entry["injected"] = json!(false);
                entry["outcome"] =
                    json!("not injected: the execution never reached the point where it applies");
                list.push(entry);
                continue;
            };
            entry["injected"] = json!(true);
            entry["injectedAt"] = json!(iso_ms(from));
            if let Some(ended) = record.ended_ms {
                entry["endedAt"] = json!(iso_ms(ended));
            }
            // When the migration got past it.
            let recovered: Option<i64> = match fault {
                Fault::ResolverOutage | Fault::ParentTimeout => {
                    first_success_after("check-propagation", record.ended_ms.unwrap_or(from))
                }
                Fault::CrashSync => first_success_after("sync-records", from),
                Fault::CrashDelegate => first_success_after("delegate-subdomain", from),
                Fault::RegistrarSlow | Fault::RegistrarFails => {
                    first_success_after("swap-nameservers", from)
                }
                Fault::EditSource | Fault::EditTarget | Fault::EditBoth => {
                    if self.carried_ms.iter().all(Option::is_some) {
                        self.carried_ms.iter().flatten().max().copied()
                    } else {
                        None
                    }
                }
                _ => Some(end_ms),
            };
            let until = recovered.unwrap_or(end_ms);
            entry["rounds"] = json!(rounds_between(from, until));
            entry["seconds"] = json!(((until - from).max(0) as f64 / 100.0).round() / 10.0);
            entry["recovered"] = json!(recovered.is_some());
            entry["taskFailures"] = json!(failures_between(from, until));
            let outcome = if status == "SUCCEEDED" {
                "SUCCEEDED".to_owned()
            } else if status == "ABORTED" {
                "ABORTED (StopExecution), not rolled back".to_owned()
            } else if rolled_back {
                format!(
                    "rolled back ({})",
                    error["errorType"].as_str().unwrap_or("?")
                )
            } else {
                format!(
                    "FAILED ({}), not rolled back",
                    error["errorType"].as_str().unwrap_or("?")
                )
            };
            entry["outcome"] = json!(outcome);
            match fault {
                Fault::ApiFaults(_) => {
                    entry["proxy"] = counts.as_ref().map(|c| c.to_json()).unwrap_or(Value::Null);
                    entry["injections"] = injections_json(&injections, 20);
                    let retried: Vec<&TaskAttempt> =
                        attempts.iter().filter(|a| a.error.is_some()).collect();
                    entry["taskRetries"] = json!(retried.len());
                    entry["rounds"] = json!(attempts
                        .iter()
                        .filter(|a| a.function == "check-propagation" && a.error.is_some())
                        .count());
                    let slowed: f64 = injections
                        .iter()
                        .filter_map(|i| {
                            i.what
                                .strip_prefix("slow answer (")
                                .and_then(|r| r.split(' ').next())
                                .and_then(|n| n.parse::<f64>().ok())
                        })
                        .sum();
                    let retry_seconds: f64 = retried
                        .iter()
                        .map(|a| {
                            let next = attempts.iter().find(|b| {
                                b.function == a.function && b.scheduled_ms > a.scheduled_ms
                            });
                            next.map_or(0.0, |b| (b.scheduled_ms - a.scheduled_ms) as f64 / 1000.0)
                        })
                        .sum();
                    entry["seconds"] =
                        json!(((slowed / 1000.0 + retry_seconds) * 10.0).round() / 10.0);
                    entry["secondsNote"] = json!("the slow answers' delays plus the time from each failed task attempt to its retry");
                }
                Fault::CrashSync
                | Fault::CleanupFails
                | Fault::CrashAt(_)
                | Fault::CutoverFails => {
                    entry["proxy"] = counts.as_ref().map(|c| c.to_json()).unwrap_or(Value::Null);
                }
                Fault::CrashDelegate => {
                    entry["proxy"] = counts.as_ref().map(|c| c.to_json()).unwrap_or(Value::Null);
                    // A re-run must adopt the child zone it created, not create another.
                    let source = route53_in(&stage.base, &source_access()).await;
                    let mut zones = serde_json::Map::new();
                    for kept in keep {
                        if let Ok(name) = Name::parse(kept) {
                            let n = source.zones_named(&name).await.map(|z| z.len());
                            zones.insert(
                                kept.clone(),
                                n.map_or_else(|e| json!(e.to_string()), |n| json!(n)),
                            );
                        }
                    }
                    entry["childZonesInSource"] = Value::Object(zones);
                }
                Fault::RegistrarSlow | Fault::RegistrarFails => {
                    entry["proxy"] = counts.as_ref().map(|c| c.to_json()).unwrap_or(Value::Null);
                    entry["swapAttempts"] = json!(attempts
                        .iter()
                        .filter(|a| a.function == "swap-nameservers")
                        .count());
                }
                Fault::EditSource | Fault::EditTarget | Fault::EditBoth => {
                    entry["carried"] = json!(self
                        .edits
                        .iter()
                        .zip(&self.carried_ms)
                        .map(|(e, c)| json!({
                            "zone": e.zone.name(), "name": e.record.name.as_str(),
                            "carriedAt": c.map(iso_ms),
                        }))
                        .collect::<Vec<_>>());
                }
                Fault::EditStorm => {
                    if let Some(storm) = &self.storm {
                        entry["perPhase"] = storm.per_phase();
                        entry["edits"] = json!(storm.entries());
                        entry["lost"] = json!(storm.lost());
                    }
                }
                Fault::SecondExecution => {
                    if let Some(arn) = &self.second {
                        entry["second"] = match local
                            .sfn
                            .wait_for_end(arn, Duration::from_secs(60))
                            .await
                        {
                            Ok(e) => {
                                json!({ "status": e.status.to_string(), "error": e.error, "cause": e.cause.as_deref().map(zonehop_world::rehearsal::short_cause) })
                            }
                            Err(e) => json!({ "status": "UNKNOWN", "error": e.to_string() }),
                        };
                    }
                }
                _ => {}
            }
            list.push(entry);
        }
        if !self.errors.is_empty() {
            list.push(json!({ "injectionErrors": self.errors }));
        }
        json!(list)
    }
}

fn ms(e: &HistoryEvent) -> i64 {
    e.timestamp.to_millis().unwrap_or(0)
}

pub(crate) fn iso_ms(ms: i64) -> String {
    iso(aws_smithy_types::DateTime::from_millis(ms))
}

/// One Lambda task attempt of the history.
#[derive(Debug, Clone)]
struct TaskAttempt {
    function: String,
    scheduled_ms: i64,
    /// 0 while it runs.
    ended_ms: i64,
    error: Option<String>,
}

impl TaskAttempt {
    /// True when the attempt ran at some time in `from..=to` (one still running counts).
    fn overlaps(&self, from: i64, to: i64) -> bool {
        self.scheduled_ms <= to && (self.ended_ms == 0 || self.ended_ms >= from)
    }
}

fn task_attempts(history: &[HistoryEvent]) -> Vec<TaskAttempt> {
    let mut out = Vec::new();
    for (i, e) in history.iter().enumerate() {
        if e.event_type != "TaskScheduled" {
            continue;
        }
        let Some(function) = e
            .parameters()
            .and_then(|p| p["FunctionName"].as_str().map(str::to_owned))
            .and_then(|arn| arn.rsplit(':').next().map(str::to_owned))
        else {
            continue;
        };
        let end = history[i + 1..].iter().find(|x| {
            matches!(
                x.event_type.as_str(),
                "TaskSucceeded" | "TaskFailed" | "TaskTimedOut"
            )
        });
        out.push(TaskAttempt {
            function,
            scheduled_ms: ms(e),
            ended_ms: end.map_or(0, ms),
            error: end.and_then(|x| {
                (x.event_type != "TaskSucceeded").then(|| x.error().unwrap_or("error").to_owned())
            }),
        });
    }
    out
}

/// The world role of the domain's parent server (`tld-com`, `tld-co.kr`).
/// The second name server of the domain's parent (`ns2.zonehop-nic.com.`): `parent-dead`
/// silences it while the first answers on.
fn second_parent_server(stage: &Stage) -> String {
    let suffix = zonehop_world::dnsworld::suffix::registered_domain_suffix(&stage.domain)
        .unwrap_or_else(|_| stage.domain.clone());
    let [_, second] = zonehop_world::dnsworld::layout::nic_servers(&suffix);
    second.to_string()
}

fn parent_role(stage: &Stage) -> String {
    let suffix = zonehop_world::dnsworld::suffix::registered_domain_suffix(&stage.domain)
        .map(|s| s.as_str().trim_end_matches('.').to_owned())
        .unwrap_or_default();
    let roles: Vec<String> = stage
        .world
        .processes()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let wanted = format!("tld-{suffix}");
    if roles.contains(&wanted) {
        return wanted;
    }
    let tld = suffix.rsplit('.').next().unwrap_or_default();
    format!("tld-{tld}")
}

/// `new-side-wrong[=TARGET]`: the target zone's first name server made to lie about what
/// the target names; the server and what it lies about. A zone without anything of the
/// kind is an error (a lie about nothing would prove nothing).
async fn tamper_new_side(
    stage: &Stage,
    target_zone: Option<&str>,
    target: WrongTarget,
) -> Result<(String, Value), String> {
    let server = first_target_server(stage, target_zone).await?;
    let id = target_zone.ok_or("no target zone yet")?;
    let r53 = route53_in(&stage.base, &target_access()).await;
    let records = read_zone(&r53, id).await.map_err(|e| e.to_string())?;
    let owners = |keep: &dyn Fn(&RecordSet) -> bool| -> std::collections::BTreeSet<String> {
        records
            .iter()
            .filter(|r| matches!(r.rtype, RrType::A | RrType::AAAA) && keep(r))
            .map(|r| zone_file_name(&r.name))
            .collect()
    };
    let named = |owners: std::collections::BTreeSet<String>, what: &str| {
        if owners.is_empty() {
            Err(format!("the target zone has no {what} to lie about"))
        } else {
            Ok(owners)
        }
    };
    let world = &stage.world;
    let detail = match target {
        WrongTarget::Plain => {
            world
                .tamper_server(&server, wrong_answers)
                .await
                .map_err(|e| e.to_string())?;
            json!({ "target": "plain", "wrongValue": WRONG_A })
        }
        WrongTarget::Routed | WrongTarget::Alias => {
            let owners = if target == WrongTarget::Routed {
                named(
                    owners(&|r| r.has_routing_policy()),
                    "routed A or AAAA record set",
                )?
            } else {
                named(
                    owners(&|r| r.alias_target.is_some() && !r.has_routing_policy()),
                    "A or AAAA alias without a routing policy",
                )?
            };
            let names: Vec<String> = owners.iter().cloned().collect();
            world
                .tamper_server(&server, move |zone| wrong_for(zone, &owners))
                .await
                .map_err(|e| e.to_string())?;
            json!({ "target": target.name(), "names": names, "wrongValues": [WRONG_A, WRONG_AAAA] })
        }
        WrongTarget::Wildcard => {
            let wildcards: Vec<String> = records
                .iter()
                .filter(|r| r.name.as_str().starts_with("\\052."))
                .map(|r| format!("{} {}", zone_file_name(&r.name), r.rtype))
                .collect();
            if wildcards.is_empty() {
                return Err("the target zone has no wildcard to lie about".into());
            }
            world
                .tamper_server(&server, wrong_wildcards)
                .await
                .map_err(|e| e.to_string())?;
            json!({ "target": "wildcard", "wildcards": wildcards })
        }
        WrongTarget::Nxdomain => {
            let removed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
            let seen = removed.clone();
            world
                .tamper_server(&server, move |zone| {
                    if let (Some(name), Ok(mut seen)) = (name_to_remove(zone), seen.lock()) {
                        seen.push(name);
                    }
                    without_one_name(zone)
                })
                .await
                .map_err(|e| e.to_string())?;
            let removed: Vec<String> = removed.lock().map(|r| r.clone()).unwrap_or_default();
            if removed.is_empty() {
                return Err("no name of the target zone could be removed".into());
            }
            json!({ "target": "nxdomain", "removed": removed })
        }
    };
    Ok((server, detail))
}

async fn first_target_server(stage: &Stage, target_zone: Option<&str>) -> Result<String, String> {
    let id = target_zone.ok_or("no target zone yet")?;
    let target = route53_in(&stage.base, &target_access()).await;
    let zone = target.get_zone(id).await.map_err(|e| e.to_string())?;
    let mut servers = zone.name_servers;
    servers.sort();
    servers
        .into_iter()
        .next()
        .ok_or_else(|| "the target zone has no name servers".to_owned())
}

async fn write_edits(
    stage: &Stage,
    target_zone: Option<&str>,
    edits: &[Edit],
) -> Result<(), String> {
    let source = route53_in(&stage.base, &source_access()).await;
    let target = route53_in(&stage.base, &target_access()).await;
    let target_id = target_zone.ok_or("no target zone yet")?;
    for edit in edits {
        let change = [Change {
            action: Action::Upsert,
            record: edit.record.clone(),
        }];
        let written = match edit.zone {
            Side::Source => {
                source
                    .change_records(&stage.source_id, &change, "zonehop fault: edit")
                    .await
            }
            Side::Target => {
                target
                    .change_records(target_id, &change, "zonehop fault: edit")
                    .await
            }
        };
        written.map_err(|e| format!("{} {}: {e}", edit.zone.name(), edit.record.key()))?;
    }
    Ok(())
}

/// Per edit: whether both zones hold the RRset with the value it must end with.
async fn carried(
    stage: &Stage,
    target_zone: Option<&str>,
    edits: &[Edit],
) -> Result<Vec<bool>, String> {
    let target_id = target_zone.ok_or("no target zone")?;
    let source = read_zone(
        &route53_in(&stage.base, &source_access()).await,
        &stage.source_id,
    )
    .await
    .map_err(|e| e.to_string())?;
    let target = read_zone(&route53_in(&stage.base, &target_access()).await, target_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(edits
        .iter()
        .map(|edit| {
            // The winning version: the target's edit of that RRset if there is one.
            let winner = edits
                .iter()
                .rev()
                .find(|e| e.record.key() == edit.record.key() && e.zone == Side::Target)
                .unwrap_or(edit);
            let want: Vec<&str> = winner.record.values().collect();
            let holds = |zone: &zonehop::core::zone::Zone| {
                zone.iter().any(|r| {
                    r.key() == winner.record.key() && r.values().collect::<Vec<_>>() == want
                })
            };
            holds(&source) && holds(&target)
        })
        .collect())
}
