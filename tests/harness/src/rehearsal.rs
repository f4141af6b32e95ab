//! A rehearsal's world and its report: the example zone (or a user's export) in a source
//! account of moto, its domain registered with its registrar (moto's Route 53 Domains, or
//! the DNS world's own registry for a registrar outside AWS), the DNS world serving both
//! accounts, the migration state machine in moto's interpreter with every function binary
//! behind `cargo lambda watch`, TTLs scaled down to seconds. `make rehearse` and the
//! end-to-end tests (`tests/migration.rs`) share it.
//!
//! [`Progress`] turns the execution's history, event by event, into the lines a rehearsal
//! prints live and the `report.json` it leaves.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use zonehop::core::change::{Action, Change};
use zonehop::core::export::load_export;
use zonehop::core::plan::is_apex_soa_or_ns;
use zonehop::core::request::RegistrarKind;
use zonehop::core::zone::RecordSet;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;

use crate::dnsworld::suffix::{registered_domain_suffix, SuffixError};
use crate::dnsworld::{
    DnsWorld, Registry, RegistryError, Resolver, Ttls, WorldError, WorldOptions,
};
use crate::registrar::{
    registrar_access, route53domains_registers, try_register, try_set_name_servers,
};
use crate::stepfunctions::{HistoryEvent, LocalStepFunctions, SfnError};
use crate::{records_to_seed, repo_root, route53_in, source_access, target_access, try_seed_zone};

/// Every function the state machine invokes.
pub const FUNCTIONS: [&str; 11] = [
    "check-propagation",
    "create-zone",
    "cutover",
    "delegate-subdomain",
    "finalize",
    "lower-ns-ttl",
    "preflight",
    "rollback",
    "swap-nameservers",
    "sync-records",
    "verify-zones",
];

/// The state machine a rehearsal runs: the one deployed.
pub fn state_machine_file() -> std::path::PathBuf {
    repo_root().join("statemachine/migration.asl.json")
}

/// The bundled example zone's export.
pub fn example_zone_file() -> std::path::PathBuf {
    repo_root().join("tests/rehearsal/example.com.json")
}

/// How long the functions may take to build and answer their first invoke.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Starts moto's interpreter and `cargo lambda watch` for every function and waits until
/// each function answers (its first invoke builds or loads it), so that no task of the
/// execution waits for a build. Panics when a piece does not start (a test harness).
pub async fn functions_started(log: &Path) -> LocalStepFunctions {
    try_functions_started(log)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`functions_started`] that says which piece did not start instead of panicking.
pub async fn try_functions_started(log: &Path) -> Result<LocalStepFunctions, SetupError> {
    let local = LocalStepFunctions::try_start(&FUNCTIONS, log)
        .await
        .map_err(SetupError::LocalAws)?;
    warmed_up(local, log).await
}

/// [`try_functions_started`] with moto on `moto_port` and a fault proxy in front of it:
/// the functions reach AWS through it, and moto's Lambda invokes reach `cargo lambda watch`
/// through it.
pub async fn try_functions_started_behind(
    log: &Path,
    moto_port: u16,
    proxy: &crate::faults::proxy::FaultProxy,
) -> Result<LocalStepFunctions, SetupError> {
    let endpoint = proxy.endpoint();
    let local =
        LocalStepFunctions::try_start_at(&FUNCTIONS, log, moto_port, &endpoint, Some(&endpoint))
            .await
            .map_err(SetupError::LocalAws)?;
    proxy.set_lambda_upstream(local.watch.port());
    // After a crash, a new cargo lambda watch (kept until the proxy is dropped), as Lambda
    // starts a new sandbox.
    let respawned: Arc<Mutex<Vec<crate::lambda::LambdaWatch>>> = Arc::default();
    let log_dir = log.to_path_buf();
    proxy.on_crash(crate::faults::proxy::Respawner(Arc::new(move || {
        let (respawned, log_dir, endpoint) =
            (Arc::clone(&respawned), log_dir.clone(), endpoint.clone());
        Box::pin(async move {
            let n = respawned.lock().map(|r| r.len()).unwrap_or(0) + 1;
            let stem = log_dir
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let log = log_dir.with_file_name(format!("{stem}-after-crash-{n}.log"));
            let env = crate::stepfunctions::functions_env(&endpoint);
            let watch = crate::lambda::LambdaWatch::try_start(&env, &log).await?;
            let port = watch.port();
            if let Ok(mut r) = respawned.lock() {
                r.push(watch);
            }
            Ok(port)
        })
    })));
    warmed_up(local, log).await
}

async fn warmed_up(
    local: LocalStepFunctions,
    log: &Path,
) -> Result<LocalStepFunctions, SetupError> {
    match tokio::time::timeout(BUILD_TIMEOUT, local.try_warm_up()).await {
        Ok(Ok(_)) => Ok(local),
        Ok(Err(message)) => Err(SetupError::FunctionsDoNotAnswer {
            message,
            log: log.display().to_string(),
        }),
        Err(_) => Err(SetupError::FunctionsDoNotAnswer {
            message: format!(
                "not every function was built and answering after {} minutes",
                BUILD_TIMEOUT.as_secs() / 60
            ),
            log: log.display().to_string(),
        }),
    }
}

/// Why a rehearsal's world did not come up: what failed, and what to do. A rehearsal says
/// it in one line and exits 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    #[error("moto or cargo lambda watch did not start: {0}")]
    LocalAws(String),
    #[error("the functions did not build or answer: {message}; see {log} (run `make build` to see a build error)")]
    FunctionsDoNotAnswer { message: String, log: String },
    #[error("loading the zone into the source account failed: {0}; check the export (ZONE=)")]
    SourceZone(String),
    #[error("the emulated Route 53 Domains refused to register {domain}: {message}; rehearse it with REGISTRAR=manual")]
    Registration { domain: String, message: String },
    #[error("the world's registry refused the registration: {0}")]
    Registry(#[from] RegistryError),
    #[error("the DNS world did not start: {0}")]
    DnsWorld(WorldError),
    #[error("creating the migration state machine in moto failed: {0}; see functions-moto.log beside functions.log")]
    StateMachine(String),
}

/// Why a scenario cannot be rehearsed: said before anything starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    #[error("{path}: {message}")]
    Export { path: String, message: String },
    #[error("domain `{domain}`: {message}")]
    BadDomain { domain: String, message: String },
    #[error(transparent)]
    Suffix(#[from] SuffixError),
    #[error("{path}: {name} is not in {domain}: the export must be the zone of DOMAIN (is DOMAIN right?)")]
    OutsideDomain {
        path: String,
        name: String,
        domain: String,
    },
    #[error("KEEP: {0}")]
    BadKeep(String),
}

/// Why the registrar asked for cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarChoiceError {
    #[error("REGISTRAR=route53domains: Route 53 Domains does not register .{suffix} domains (the list AWS publishes, in {list}); leave REGISTRAR unset or use REGISTRAR=manual")]
    NotRegistrable { suffix: String, list: String },
}

/// The registrar a rehearsal of `domain` uses: `requested` (REGISTRAR=) when given, else
/// `route53domains` where Route 53 Domains registers the domain's public suffix, else
/// `manual`; and why, to print before it starts.
pub fn choose_registrar(
    domain: &Name,
    requested: Option<RegistrarKind>,
) -> Result<(RegistrarKind, String), RegistrarChoiceError> {
    let list = "tests/world/route53domains-tlds.txt";
    // A domain the rehearsal accepts has a suffix (Scenario::from_export checked it); any
    // other falls back to its TLD, which only changes the wording.
    let suffix = registered_domain_suffix(domain).ok();
    let registers = suffix.as_ref().is_some_and(route53domains_registers);
    let suffix = suffix.map_or_else(
        || domain.labels().last().unwrap_or_default().to_owned(),
        |s| s.as_str().trim_end_matches('.').to_owned(),
    );
    match (requested, registers) {
        (Some(RegistrarKind::Route53domains), false) => {
            Err(RegistrarChoiceError::NotRegistrable {
                suffix,
                list: list.to_owned(),
            })
        }
        (Some(RegistrarKind::Route53domains), true) => Ok((
            RegistrarKind::Route53domains,
            "REGISTRAR=route53domains".to_owned(),
        )),
        (Some(RegistrarKind::Manual), _) => {
            Ok((RegistrarKind::Manual, "REGISTRAR=manual".to_owned()))
        }
        (None, true) => Ok((
            RegistrarKind::Route53domains,
            format!("Route 53 Domains registers .{suffix} domains, by the list in {list}"),
        )),
        (None, false) => Ok((
            RegistrarKind::Manual,
            format!(
                "Route 53 Domains does not register .{suffix} domains, by the list in {list}: the execution asks an operator to set the name servers at the registrar, and the rehearsal plays that operator"
            ),
        )),
    }
}

/// What to rehearse.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub domain: Name,
    /// The zone as exported (list-resource-record-sets JSON); its apex SOA/NS are left to
    /// the new source zone.
    pub records: Vec<RecordSet>,
    /// Subdomains that stay in the source account.
    pub keep: Vec<String>,
    /// Every TTL (records, apex NS and SOA, the world's delegations) capped at this.
    pub ttl: u32,
    pub registrar: RegistrarKind,
}

impl Scenario {
    /// The bundled example zone: `dev.example.com` stays behind.
    pub fn example() -> Scenario {
        Scenario::from_export(
            &example_zone_file(),
            "example.com",
            vec!["dev.example.com".to_owned()],
        )
        .unwrap_or_else(|e| panic!("the bundled example zone loads: {e}"))
    }

    /// A user's export of `domain`: a registered domain (one label below a public suffix),
    /// every name of the export in it, every kept subtree below it.
    pub fn from_export(
        path: &Path,
        domain: &str,
        keep: Vec<String>,
    ) -> Result<Scenario, ScenarioError> {
        let export_error = |message: String| ScenarioError::Export {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| export_error(e.to_string()))?;
        let zone = load_export(&text).map_err(|e| export_error(e.to_string()))?;
        let domain =
            zonehop::core::request::parse_domain(domain).map_err(|e| ScenarioError::BadDomain {
                domain: domain.to_owned(),
                message: e.to_string(),
            })?;
        registered_domain_suffix(&domain)?;
        if let Some(outside) = zone.iter().find(|r| !r.name.is_at_or_below(&domain)) {
            return Err(ScenarioError::OutsideDomain {
                path: path.display().to_string(),
                name: outside.name.to_string(),
                domain: domain.to_string(),
            });
        }
        zonehop::core::request::parse_keep_in_source(&domain, &keep)
            .map_err(|e| ScenarioError::BadKeep(e.to_string()))?;
        Ok(Scenario {
            records: records_to_seed(&zone, &domain),
            domain,
            keep,
            ttl: 2,
            registrar: RegistrarKind::Route53domains,
        })
    }
}

/// `records` with every TTL capped at `cap` seconds (aliases have none).
pub fn scaled(records: &[RecordSet], cap: u32) -> Vec<RecordSet> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.ttl = r.ttl.map(|t| t.min(i64::from(cap)));
            r
        })
        .collect()
}

/// A rehearsal's world, ready for an execution.
#[derive(Debug)]
pub struct Stage {
    pub base: SdkConfig,
    pub world: DnsWorld,
    pub domain: Name,
    pub source_id: String,
    pub machine_arn: String,
    /// Who keeps the registration: moto's Route 53 Domains, or (manual) the world's
    /// registry.
    pub registrar: RegistrarKind,
}

impl Stage {
    /// Seeds the source zone (TTLs scaled, the apex NS and SOA too), registers the domain
    /// with the source zone's servers (in Route 53 Domains, or for a manual registrar in the
    /// world's own registry), starts the DNS world over both accounts and creates the state
    /// machine. `on_step` hears each step's name as it starts.
    pub async fn build(
        local: &LocalStepFunctions,
        scenario: &Scenario,
        mut on_step: impl FnMut(&str),
    ) -> Result<Stage, SetupError> {
        let base = local.moto.config().await;
        let domain = scenario.domain.clone();
        on_step(&format!(
            "load {} record sets into the source account (TTLs capped at {} s)",
            scenario.records.len(),
            scenario.ttl
        ));
        let source_id = try_seed_zone(
            &base,
            &source_access(),
            &domain,
            &scaled(&scenario.records, scenario.ttl),
        )
        .await
        .map_err(SetupError::SourceZone)?;
        let source = route53_in(&base, &source_access()).await;
        let zone = read_zone(&source, &source_id)
            .await
            .map_err(|e| SetupError::SourceZone(format!("read the source zone: {e}")))?;
        let apex: Vec<Change> = scaled(
            &zone
                .iter()
                .filter(|r| is_apex_soa_or_ns(r, &domain))
                .cloned()
                .collect::<Vec<_>>(),
            scenario.ttl,
        )
        .into_iter()
        .map(|record| Change {
            action: Action::Upsert,
            record,
        })
        .collect();
        source
            .change_records(&source_id, &apex, "rehearsal: apex TTLs scaled")
            .await
            .map_err(|e| SetupError::SourceZone(format!("scale the apex TTLs: {e}")))?;
        let registered = domain.as_str().trim_end_matches('.');
        let servers = source
            .get_zone(&source_id)
            .await
            .map_err(|e| SetupError::SourceZone(format!("read the source zone: {e}")))?
            .name_servers;
        let registry = Registry::new();
        match scenario.registrar {
            RegistrarKind::Route53domains => {
                on_step(&format!(
                    "register {domain} in the emulated Route 53 Domains, delegated to the source zone"
                ));
                let refused = |message: String| SetupError::Registration {
                    domain: registered.to_owned(),
                    message,
                };
                try_register(&base, registered).await.map_err(refused)?;
                try_set_name_servers(&base, registered, &servers)
                    .await
                    .map_err(refused)?;
            }
            RegistrarKind::Manual => {
                on_step(&format!(
                    "register {domain} at the world's registry (a registrar outside AWS), delegated to the source zone"
                ));
                registry.set_name_servers(registered, &servers)?;
            }
        }
        on_step("start the DNS internet (knotd root, registry and zone servers; unbound, kresd)");
        let world = DnsWorld::start(
            WorldOptions::new(base.clone(), vec![source_access(), target_access()])
                .registrar(registrar_access())
                .registry(registry)
                .ttls(Ttls {
                    resolver_max: Some(scenario.ttl.max(1) * 5 / 2),
                    resolver_max_negative: Some(1),
                    ..Ttls::uniform(scenario.ttl)
                }),
        )
        .await
        .map_err(SetupError::DnsWorld)?;
        world.settle().await.map_err(SetupError::DnsWorld)?;
        let machine_arn = local
            .sfn
            .create_state_machine_from_file(
                "migration",
                &state_machine_file(),
                &local.substitutions(&[("EventBusName", "default")]),
            )
            .await
            .map_err(|e| SetupError::StateMachine(e.to_string()))?;
        Ok(Stage {
            base,
            world,
            domain,
            source_id,
            machine_arn,
            registrar: scenario.registrar,
        })
    }

    /// The migration request: every probe resolver of the world, NS TTLs and the pacing
    /// scaled like the zone.
    pub fn request(&self, scenario: &Scenario) -> Value {
        let resolvers: Vec<String> = self
            .world
            .resolvers()
            .iter()
            .map(|r| r.addr.to_string())
            .collect();
        let registrar = match scenario.registrar {
            RegistrarKind::Route53domains => json!({
                "type": "route53domains",
                "roleArn": registrar_access().role_arn,
                "externalId": registrar_access().external_id,
            }),
            RegistrarKind::Manual => json!({ "type": "manual" }),
        };
        json!({
            "domain": self.domain.as_str().trim_end_matches('.'),
            "source": access(&source_access(), Some(&self.source_id)),
            "target": access(&target_access(), None),
            "keepInSource": scenario.keep,
            "registrar": registrar,
            "nsTtl": { "during": scenario.ttl, "after": 60 },
            "probe": { "resolvers": resolvers },
            "resolver": resolvers.first(),
            "pacing": { "minWait": 1, "maxWait": scenario.ttl.max(1) + 1 },
            "dryRun": false
        })
    }

    /// The user's own request (`make rehearse REQUEST=request.json`), with only what the
    /// rehearsal must supply put in: its zones, roles and resolvers; and TTLs scaled as the
    /// zone's are (`nsTtl`, `pacing`, the cutover records' TTLs, each capped at the scenario's
    /// TTL). Everything else (healthChecks, maxOverwrites, cutover values, dryRun, fields the
    /// user got wrong) goes to the execution as the user wrote it, so the rehearsal refuses
    /// what AWS would.
    pub fn user_request(&self, scenario: &Scenario, user: &Value) -> Value {
        let local = self.request(scenario);
        let mut request = user.clone();
        let Some(map) = request.as_object_mut() else {
            return request;
        };
        let cap = i64::from(scenario.ttl.max(1));
        for (key, supplied) in [
            ("source", &["hostedZoneId", "roleArn", "externalId"][..]),
            ("target", &["hostedZoneId", "roleArn", "externalId"][..]),
            ("registrar", &["roleArn", "externalId"][..]),
            ("probe", &["resolvers"][..]),
        ] {
            let entry = map.entry(key).or_insert_with(|| json!({}));
            if let Some(object) = entry.as_object_mut() {
                for field in supplied {
                    match local[key].get(*field) {
                        Some(value) if !value.is_null() => {
                            object.insert((*field).to_owned(), value.clone());
                        }
                        _ => {
                            object.remove(*field);
                        }
                    }
                }
            }
        }
        map.insert("resolver".to_owned(), local["resolver"].clone());
        let capped = |value: Option<&Value>, default: &Value| match value.and_then(Value::as_i64) {
            Some(seconds) => json!(seconds.min(cap)),
            None => value.cloned().unwrap_or_else(|| default.clone()),
        };
        let ns_ttl = json!({
            "during": capped(user.pointer("/nsTtl/during"), &local["nsTtl"]["during"]),
            "after": capped(user.pointer("/nsTtl/after"), &local["nsTtl"]["after"]),
        });
        map.insert("nsTtl".to_owned(), ns_ttl);
        let pacing = json!({
            "minWait": capped(user.pointer("/pacing/minWait"), &local["pacing"]["minWait"])
                .as_i64()
                .map_or(local["pacing"]["minWait"].clone(), |m| json!(m.min(1))),
            "maxWait": capped(user.pointer("/pacing/maxWait"), &local["pacing"]["maxWait"])
                .as_i64()
                .map_or(local["pacing"]["maxWait"].clone(), |m| json!(m.min(cap + 1))),
        });
        map.insert("pacing".to_owned(), pacing);
        if let Some(records) = map
            .get_mut("cutover")
            .and_then(|c| c.get_mut("records"))
            .and_then(Value::as_array_mut)
        {
            for record in records {
                if let Some(ttl) = record.get("ttl").and_then(Value::as_i64) {
                    record["ttl"] = json!(ttl.min(cap));
                }
            }
        }
        request
    }

    /// Starts an execution of the migration state machine.
    pub async fn start(
        &self,
        local: &LocalStepFunctions,
        name: &str,
        request: &Value,
    ) -> Result<String, SfnError> {
        local
            .sfn
            .start_execution(&self.machine_arn, name, request)
            .await
    }

    /// The registration's name servers, as its registrar holds them now (the emulated
    /// Route 53 Domains, or the world's registry), canonical.
    pub async fn registration(&self) -> Result<Vec<String>, zonehop::Error> {
        match self.registrar {
            RegistrarKind::Route53domains => {
                let config = zonehop::adapters::accounts::config_for(
                    &self.base,
                    &registrar_access(),
                    "zonehop-rehearsal",
                )
                .await;
                zonehop::ports::registrar::Registrar::name_servers(
                    &zonehop::adapters::route53domains::Route53Domains::new(&config),
                    &self.domain,
                )
                .await
            }
            RegistrarKind::Manual => Ok(zonehop::core::delegation::canonical_servers(
                &self
                    .world
                    .registry()
                    .name_servers(self.domain.as_str())
                    .unwrap_or_default(),
            )),
        }
    }

    /// What the operator does at the registrar when the execution asks (`manual`): names
    /// `servers` as the domain's name servers, where the registration is kept.
    pub async fn operator_sets_name_servers(&self, servers: &[String]) -> Result<(), String> {
        let domain = self.domain.as_str().trim_end_matches('.');
        match self.registrar {
            RegistrarKind::Manual => self
                .world
                .registry()
                .set_name_servers(domain, servers)
                .map_err(|e| e.to_string()),
            RegistrarKind::Route53domains => {
                try_set_name_servers(&self.base, domain, servers).await
            }
        }
    }

    /// The world's resolvers by address (`127.X.0.Y:53` -> `unbound`).
    pub fn resolver_names(&self) -> BTreeMap<String, &'static str> {
        self.world
            .resolvers()
            .iter()
            .map(|r: &Resolver| (r.addr.to_string(), r.name))
            .collect()
    }
}

fn access(role: &zonehop::core::request::AccountAccess, zone_id: Option<&str>) -> Value {
    json!({ "hostedZoneId": zone_id, "roleArn": role.role_arn, "externalId": role.external_id })
}

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
            let token = request["taskToken"].as_str().unwrap_or_default();
            lines.push(format!(
                "  the operator is asked to set the name servers at the registrar: {}",
                list(&request["nameServers"])
            ));
            lines.push(format!(
                "  and then to run: {}",
                request["resumeCommand"]
                    .as_str()
                    .unwrap_or_default()
                    .replace(token, &format!("{}...", &token[..token.len().min(12)]))
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
                vec![format!(
                    "  apex NS TTL lowered (was {} s in the source); waiting {} s for the old TTL to run out",
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
        resolver_names: &BTreeMap<String, &'static str>,
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
                "parentServersOnNew": p["parentOnNew"],
                "parentServers": p["parentTotal"],
                "resolvers": resolvers,
                "timeline": timeline,
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
/// parent delegates with `.com`'s 2-day NS TTL, the apex NS TTL is lowered to 300 s, and the
/// zone's largest record TTL is `largest_record_ttl`; the parent switch is seen at the first
/// round and the resolvers have moved by the bound. Each round is billed like the rehearsal's
/// average check-propagation invocation.
pub fn projected_cost(executed: &Value, largest_record_ttl: i64) -> Value {
    use zonehop::core::propagation::{judge, Evidence, LoopState, Pacing};
    const PARENT_NS_TTL: i64 = 172_800;
    const NS_TTL_DURING: i64 = 300;
    let mut state = LoopState::default();
    let mut now = 0;
    let mut rounds = 0u32;
    let bound = PARENT_NS_TTL + NS_TTL_DURING.max(largest_record_ttl);
    loop {
        let moved = usize::from(now >= bound);
        let evidence = Evidence {
            now,
            parent_on_new: 1,
            parent_total: 1,
            parent_unknown: 0,
            parent_ns_ttl: PARENT_NS_TTL,
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
        "assumes": "parent NS TTL 172800 s (.com), apex NS TTL lowered to 300 s, default pacing, parent switch seen at the first round",
        "propagationRounds": rounds,
        "windowHours": (now as f64 / 360.0).round() / 10.0,
        "stateTransitions": transitions.round() as u64,
        "lambdaGbSeconds": (gb_seconds * 1000.0).round() / 1000.0,
        "usdAtAwsPrices": (usd * 1_000_000.0).round() / 1_000_000.0,
    })
}

fn list(value: &Value) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, at: f64, kind: &str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: None,
            timestamp: DateTime::from_secs_f64(at),
            event_type: kind.to_owned(),
            details,
        }
    }

    fn entered(id: u64, at: f64, name: &str) -> HistoryEvent {
        event(id, at, "TaskStateEntered", json!({ "name": name }))
    }

    fn exited(id: u64, at: f64, name: &str, output: Value) -> HistoryEvent {
        event(
            id,
            at,
            "TaskStateExited",
            json!({ "name": name, "output": output.to_string() }),
        )
    }

    #[test]
    fn phases_run_from_one_announcement_to_the_next_and_a_failure_marks_the_last() {
        let mut progress = Progress::default();
        let history = [
            entered(1, 100.0, "Announce Preflight"),
            entered(2, 101.0, "Announce Create Zone"),
            event(
                3,
                102.0,
                "LambdaFunctionFailed",
                json!({"error": "Throttled", "cause": "{\"errorType\":\"Throttled\",\"errorMessage\":\"slow down\"}"}),
            ),
            entered(4, 103.0, "Announce Sync Records"),
            entered(5, 105.0, "Announce Failed"),
            event(6, 106.0, "ExecutionFailed", json!({"error": "Throttled"})),
        ];
        let lines: Vec<String> = history.iter().flat_map(|e| progress.observe(e)).collect();
        let names: Vec<&str> = progress.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["preflight", "create-zone", "sync-records"]);
        assert_eq!(
            progress.phases[1].ended,
            Some(DateTime::from_secs_f64(103.0))
        );
        assert!(!progress.phases[1].failed);
        assert!(progress.phases[2].failed, "the phase before Failed failed");
        assert!(
            lines.iter().any(|l| l == "  ✗ Throttled: slow down"),
            "{lines:?}"
        );
        assert_eq!(lines.last().map(String::as_str), Some("■ failed"));
    }

    #[test]
    fn the_registrar_follows_the_domain_unless_asked_and_route53domains_cannot_be_forced() {
        let n = |s: &str| Name::parse(s).expect("name");
        let chosen =
            |domain: &str, requested| choose_registrar(&n(domain), requested).map(|(kind, _)| kind);
        assert_eq!(
            chosen("example.com", None),
            Ok(RegistrarKind::Route53domains)
        );
        assert_eq!(
            chosen("example.co.uk", None),
            Ok(RegistrarKind::Route53domains)
        );
        assert_eq!(chosen("usa.gov", None), Ok(RegistrarKind::Manual));
        assert_eq!(chosen("example.co.kr", None), Ok(RegistrarKind::Manual));
        assert_eq!(
            chosen("example.com", Some(RegistrarKind::Manual)),
            Ok(RegistrarKind::Manual)
        );
        let refused = chosen("example.co.kr", Some(RegistrarKind::Route53domains))
            .expect_err("not registrable at Route 53 Domains");
        assert!(refused.to_string().contains(".co.kr"), "{refused}");
        let (_, why) = choose_registrar(&n("usa.gov"), None).expect("chosen");
        assert!(why.contains("does not register .gov"), "{why}");
    }

    #[test]
    fn the_deployed_memory_is_read_for_every_function_from_the_template() {
        let template =
            std::fs::read_to_string(repo_root().join("infra/template.yaml")).expect("template");
        let memory = deployed_memory_mb(&template);
        for function in FUNCTIONS {
            assert!(
                memory.get(function).is_some_and(|mb| *mb >= 128),
                "{function}: {memory:?}"
            );
        }
    }

    #[test]
    fn cost_counts_transitions_retries_and_lambda_time_at_deployed_memory() {
        let scheduled = |id, at, function: &str| {
            event(
                id,
                at,
                "TaskScheduled",
                json!({ "parameters": json!({ "FunctionName": format!("arn:aws:lambda:us-east-1:1:function:{function}") }).to_string() }),
            )
        };
        let history = [
            entered(1, 0.0, "Sync Records"),
            scheduled(2, 0.0, "sync-records"),
            event(3, 1.0, "TaskFailed", json!({ "error": "Throttled" })),
            scheduled(4, 2.0, "sync-records"),
            event(5, 4.0, "TaskSucceeded", json!({})),
            event(6, 4.0, "PassStateEntered", json!({ "name": "Next" })),
        ];
        let memory = BTreeMap::from([("sync-records".to_owned(), 512)]);
        let cost = execution_cost(&history, &memory);
        // 2 states entered + 1 retry; 3 s of Lambda at 0.5 GB.
        assert_eq!(cost["stateTransitions"], 3);
        assert_eq!(cost["lambdaInvocations"], 2);
        assert_eq!(cost["lambdaGbSeconds"], 1.5);
        let usd = 3.0 * USD_PER_TRANSITION + 1.5 * USD_PER_GB_SECOND_ARM64;
        assert!((cost["usdAtAwsPrices"].as_f64().expect("usd") - usd).abs() < 1e-6);
    }

    #[test]
    fn a_production_window_replaces_the_rehearsed_rounds() {
        let executed = json!({
            "stateTransitions": 70, "lambdaGbSeconds": 3.0,
            "byFunction": { "check-propagation": { "invocations": 4, "gbSeconds": 1.0 } },
        });
        let projected = projected_cost(&executed, 3_600);
        let rounds = projected["propagationRounds"].as_f64().expect("rounds");
        // 2 days and an hour at most an hour apart: at least 50 rounds, far below the cap.
        assert!((50.0..200.0).contains(&rounds), "{projected}");
        assert!(
            projected["windowHours"].as_f64() >= Some(49.0),
            "{projected}"
        );
        assert_eq!(
            projected["stateTransitions"].as_f64(),
            Some(70.0 + 3.0 * (rounds - 4.0))
        );
        assert!(projected["stateTransitions"].is_u64());
        let gb = projected["lambdaGbSeconds"].as_f64().expect("gb");
        assert!((gb - (2.0 + 0.25 * rounds)).abs() < 0.01, "{projected}");
    }

    #[test]
    fn a_state_that_failed_into_a_catch_shows_no_result() {
        let mut progress = Progress::default();
        let caught = json!({ "domain": "example.com", "error": { "Error": "MigrationBlocked" } });
        assert!(progress
            .observe(&exited(1, 1.0, "Preflight", caught))
            .is_empty());
        let lines = progress.observe(&exited(
            2,
            2.0,
            "Preflight",
            json!({ "preflight": { "sourceRecords": 14, "recordsToMove": 9, "keptInSource": [] } }),
        ));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("14 record sets"), "{lines:?}");
    }

    #[test]
    fn the_report_names_resolvers_and_completes_at_the_first_safe_round() {
        let mut progress = Progress::default();
        let round = |safe: bool, checked: i64, kresd: &str| {
            json!({ "propagation": {
                "safe": safe, "safeAt": 1_000, "parentSwitchSeenAt": 990, "checkedAt": checked,
                "nextWaitSeconds": 2, "parentOnNew": 2, "parentTotal": 2, "resolversOnNew": 1,
                "resolversTotal": 1,
                "resolvers": [
                    { "resolver": "127.9.0.2:53", "side": "new", "movedAt": 995 },
                    { "resolver": "127.9.0.3:53", "side": kresd },
                ],
            }})
        };
        progress.observe(&entered(1, 990.0, "Announce Check Propagation"));
        progress.observe(&exited(
            2,
            998.0,
            "Check Propagation",
            round(false, 998, "old"),
        ));
        progress.observe(&exited(
            3,
            1001.0,
            "Check Propagation",
            round(true, 1_001, "new"),
        ));
        let names = BTreeMap::from([("127.9.0.2:53".to_owned(), "unbound")]);
        let report = progress.report("SUCCEEDED", Value::Null, &names);
        let p = &report["propagation"];
        assert_eq!(p["safeAt"], "1970-01-01T00:16:40Z");
        assert_eq!(p["completedAt"], "1970-01-01T00:16:41Z");
        assert_eq!(p["rounds"], 2);
        assert_eq!(p["resolvers"][0]["name"], "unbound");
        assert_eq!(p["resolvers"][0]["movedAt"], "1970-01-01T00:16:35Z");
        // One entry a round; the resolvers counted from the list, whatever resolversOnNew says.
        assert_eq!(
            p["timeline"],
            json!([
                { "at": "1970-01-01T00:16:38Z", "parentOnNew": 2, "parentTotal": 2,
                  "resolversOnNew": 1, "resolversTotal": 2, "safe": false },
                { "at": "1970-01-01T00:16:41Z", "parentOnNew": 2, "parentTotal": 2,
                  "resolversOnNew": 2, "resolversTotal": 2, "safe": true },
            ])
        );
        assert_eq!(report["phases"][0]["status"], "RUNNING");
    }
}
