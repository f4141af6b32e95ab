//! A rehearsal's world and its report: the example zone (or a user's export) in a source
//! account of moto, its domain registered with its registrar (moto's Route 53 Domains, or
//! the DNS world's own registry for a registrar outside AWS), the DNS world serving both
//! accounts, the migration state machine in moto's interpreter with every function binary
//! behind `cargo lambda watch`, TTLs scaled down to seconds. `make rehearse` and the
//! end-to-end tests (`tests/migration.rs`) share it.
//!
//! How the execution's history becomes the lines printed live and `report.json` is not
//! here: it is `zonehop_operator` (`Progress`, the cost), the operator tool's library, so that
//! a rehearsal and `zonehop watch`/`zonehop report` on a real execution share one reading.
//! It is re-exported below for the tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{json, Value};
use zonehop::core::change::{Action, Change};
use zonehop::core::export::load_export;
use zonehop::core::plan::is_apex_soa_or_ns;
use zonehop::core::request::RegistrarKind;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;

use crate::dnsworld::suffix::{registered_domain_suffix, SuffixError};
use crate::dnsworld::{
    DnsWorld, Registry, RegistryError, Resolver, Ttls, WorldError, WorldOptions,
};
use crate::registrar::{
    registrar_access, route53domains_registers, try_register, try_set_name_servers,
};
use crate::stepfunctions::{LocalStepFunctions, SfnError};
use crate::{records_to_seed, repo_root, route53_in, source_access, target_access, try_seed_zone};

/// Every function the state machine invokes.
pub const FUNCTIONS: [&str; 12] = zonehop::core::access::FUNCTION_NAMES;

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
    #[error("REGISTRAR=route53zone moves a subdomain whose parent is a hosted zone, and {domain} is a registered domain (its parent is a registry): give a DOMAIN below it (app.{domain}), or leave DOMAIN unset to rehearse the bundled example as app.example.com")]
    ParentZoneNeedsSubdomain { domain: String },
    #[error("{domain} is below the registered domain {registered}: its delegation is {registered}'s NS record, so only REGISTRAR=route53zone (a parent hosted zone) can move it")]
    SubdomainNeedsParentZone { domain: String, registered: String },
}

/// The NS TTL with which a rehearsal's parent hosted zone (`route53zone`) delegates the
/// domain: its "usual" TTL, which lower-ns-ttl lowers to the rehearsal's `nsTtl.during` and
/// waits out before the swap. Ten times the rehearsal's TTL, as two days are to a few hours.
pub const PARENT_DELEGATION_TTL: u32 = 20;

/// Whether `domain` is a registered domain (one label below a public suffix), not a name
/// below one (`app.example.com`).
pub fn is_registered(domain: &Name) -> bool {
    registered_domain_suffix(domain).is_ok()
}

/// The zone above `domain` (`example.com.` for `app.example.com.`).
pub fn parent_of(domain: &Name) -> Option<Name> {
    let labels: Vec<&str> = domain.labels().collect();
    (labels.len() > 1)
        .then(|| Name::parse(&labels[1..].join(".")).ok())
        .flatten()
}

/// The registrar a rehearsal of `domain` uses: `requested` (REGISTRAR=) when given, else
/// `route53domains` where Route 53 Domains registers the domain's public suffix, else
/// `manual`; and why, to print before it starts.
pub fn choose_registrar(
    domain: &Name,
    requested: Option<RegistrarKind>,
) -> Result<(RegistrarKind, String), RegistrarChoiceError> {
    let list = "tests/world/route53domains-tlds.txt";
    if !is_registered(domain) {
        let registered = parent_of(domain)
            .map(|p| p.as_str().trim_end_matches('.').to_owned())
            .unwrap_or_default();
        return match requested {
            None | Some(RegistrarKind::Route53zone) => Ok((
                RegistrarKind::Route53zone,
                format!("{} is below {registered}: its parent is a hosted zone (made in a third account), whose NS record zonehop changes", domain.as_str().trim_end_matches('.')),
            )),
            Some(_) => Err(RegistrarChoiceError::SubdomainNeedsParentZone {
                domain: domain.as_str().trim_end_matches('.').to_owned(),
                registered,
            }),
        };
    }
    if requested == Some(RegistrarKind::Route53zone) {
        return Err(RegistrarChoiceError::ParentZoneNeedsSubdomain {
            domain: domain.as_str().trim_end_matches('.').to_owned(),
        });
    }
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
        (Some(RegistrarKind::Route53zone), _) => Err(RegistrarChoiceError::ParentZoneNeedsSubdomain {
            domain: domain.as_str().trim_end_matches('.').to_owned(),
        }),
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
        match registered_domain_suffix(&domain) {
            // A name below a registered domain (`app.example.com`): its parent is a zone,
            // rehearsed with REGISTRAR=route53zone.
            Ok(_) | Err(SuffixError::NotRegistrable { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(outside) = zone.iter().find(|r| !r.name.is_at_or_below(&domain)) {
            return Err(ScenarioError::OutsideDomain {
                path: path.display().to_string(),
                name: outside.name.to_string(),
                domain: domain.to_string(),
            });
        }
        // Route 53 could never hold it: refused before anything is written (it would be
        // rehearsed as if fine, the local world dropping what it cannot serve).
        zonehop::core::export::check_export(&zone, &domain)
            .map_err(|e| export_error(e.to_string()))?;
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

impl Scenario {
    /// The same zone moved below `domain` (`example.com.` to `app.example.com.`): every
    /// record's name, every name a value or an alias names inside the old domain, and the
    /// kept subdomains. What `make rehearse REGISTRAR=route53zone` does to the bundled
    /// example, whose domain is a registered one.
    pub fn rerooted(&self, domain: &Name) -> Scenario {
        let old = self.domain.as_str().to_owned();
        let new = domain.as_str().to_owned();
        // `x.example.com.` -> `x.app.example.com.`, at label boundaries only.
        let move_name = |text: &str| -> String {
            let lower = text.to_ascii_lowercase();
            if lower == old {
                new.clone()
            } else if lower.ends_with(&format!(".{old}")) {
                format!("{}{new}", &text[..text.len() - old.len()])
            } else {
                text.to_owned()
            }
        };
        let move_words = |value: &str| -> String {
            value
                .split(' ')
                .map(&move_name)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let records = self
            .records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.name = Name::parse(&move_name(r.name.as_str())).unwrap_or(r.name);
                if matches!(
                    r.rtype,
                    RrType::CNAME | RrType::MX | RrType::NS | RrType::SRV | RrType::PTR
                ) {
                    for value in &mut r.resource_records {
                        value.value = move_words(&value.value);
                    }
                }
                if let Some(alias) = &mut r.alias_target {
                    alias.dns_name = Name::parse(&move_name(alias.dns_name.as_str()))
                        .unwrap_or(alias.dns_name.clone());
                }
                r
            })
            .collect();
        let keep = self
            .keep
            .iter()
            .map(|k| {
                let dotted = format!("{}.", k.trim_end_matches('.'));
                move_name(&dotted).trim_end_matches('.').to_owned()
            })
            .collect();
        Scenario {
            domain: domain.clone(),
            records,
            keep,
            ttl: self.ttl,
            registrar: self.registrar,
        }
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
    /// registry, or (route53zone) the parent hosted zone.
    pub registrar: RegistrarKind,
    /// `route53zone`: the parent's hosted zone, in the registrar's account.
    pub parent_zone_id: Option<String>,
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
        scale_apex(&base, &source_access(), &source_id, &domain, scenario.ttl)
            .await
            .map_err(SetupError::SourceZone)?;
        let source = route53_in(&base, &source_access()).await;
        let registered = domain.as_str().trim_end_matches('.');
        let servers = source
            .get_zone(&source_id)
            .await
            .map_err(|e| SetupError::SourceZone(format!("read the source zone: {e}")))?
            .name_servers;
        let registry = Registry::new();
        let mut parent_zone_id = None;
        let mut accounts = vec![source_access(), target_access()];
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
            RegistrarKind::Route53zone => {
                let parent = parent_of(&domain).ok_or_else(|| {
                    SetupError::SourceZone(format!("{domain} has no parent zone"))
                })?;
                on_step(&format!(
                    "create the parent zone {parent} in a third account, delegating {domain} to the source zone (NS TTL {PARENT_DELEGATION_TTL} s)"
                ));
                // As Route 53 lists them, each with its trailing dot.
                let servers = zonehop::core::delegation::canonical_servers(&servers);
                let values: Vec<&str> = servers.iter().map(String::as_str).collect();
                let delegation = RecordSet::simple(
                    domain.clone(),
                    RrType::NS,
                    i64::from(PARENT_DELEGATION_TTL),
                    &values,
                );
                let id = try_seed_zone(&base, &registrar_access(), &parent, &[delegation])
                    .await
                    .map_err(|e| SetupError::SourceZone(format!("the parent zone: {e}")))?;
                scale_apex(&base, &registrar_access(), &id, &parent, scenario.ttl)
                    .await
                    .map_err(|e| SetupError::SourceZone(format!("the parent zone: {e}")))?;
                // The registry delegates the parent to its zone's apex NS (the only zone of
                // that name); the parent's NS record for the domain delegates the domain.
                accounts.push(registrar_access());
                parent_zone_id = Some(id);
            }
        }
        on_step("start the DNS internet (knotd root, registry and zone servers; unbound, kresd)");
        let world = scaled_world(&base, accounts, registry, scenario.ttl).await?;
        let machine_arn = migration_machine(local).await?;
        Ok(Stage {
            base,
            world,
            domain,
            source_id,
            machine_arn,
            registrar: scenario.registrar,
            parent_zone_id,
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
            RegistrarKind::Route53zone => json!({
                "type": "route53zone",
                "hostedZoneId": self.parent_zone_id,
                "roleArn": registrar_access().role_arn,
                "externalId": registrar_access().external_id,
                "lowerNsTtl": true,
            }),
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

    /// The user's own request (`make rehearse REQUEST=request.json`), already checked as
    /// written (`zonehop_operator::request::check`: the same parse and checks as preflight,
    /// over the state machine's own defaults). What the local world must supply replaces
    /// the request's fields, each listed in `supplied` (the zones, roles and resolvers; a
    /// registrar's account, or the registrar itself when the request names none and the
    /// state machine's default cannot register the domain here). Then only durations are
    /// scaled as the zone's TTLs are (`nsTtl`, `pacing`, the cutover records' TTLs, as
    /// written or as the state machine would default them), each listed in `scaled` with
    /// its value before and after. Nothing else is touched: every other field goes to the
    /// execution as the user wrote it.
    pub fn user_request(&self, scenario: &Scenario, user: &Value) -> UserRequest {
        user_request_over(&self.request(scenario), scenario.ttl, user)
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
                let config = zonehop::adapters::accounts::config_with_role(
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
            RegistrarKind::Route53zone => {
                let zones = route53_in(&self.base, &registrar_access()).await;
                let parent = zonehop::ports::parent_zone::ParentZone::new(
                    zones,
                    self.parent_zone_id.as_deref().unwrap_or_default(),
                );
                zonehop::ports::registrar::Registrar::name_servers(&parent, &self.domain).await
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
            RegistrarKind::Route53zone => Err(
                "a route53zone registrar is never the operator's: swap-nameservers changes the parent zone".to_owned(),
            ),
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

/// [`Stage::user_request`] over `local`, the request the rehearsal would make itself (its
/// zones, roles, resolvers and registrar), with durations scaled to `ttl` seconds.
pub fn user_request_over(local: &Value, ttl: u32, user: &Value) -> UserRequest {
    let defaults = zonehop_operator::request::defaults();
    let mut request = user.clone();
    let mut supplied: Vec<Value> = Vec::new();
    let Some(map) = request.as_object_mut() else {
        return UserRequest {
            request,
            supplied,
            scaled: Vec::new(),
        };
    };
    for (key, fields) in [
        ("source", &["hostedZoneId", "roleArn", "externalId"][..]),
        ("target", &["hostedZoneId", "roleArn", "externalId"][..]),
    ] {
        let entry = map.entry(key).or_insert_with(|| json!({}));
        supply(entry, &local[key], fields, key, &mut supplied);
    }
    supply_registrar(map, local, &defaults, &mut supplied);
    for (key, why) in [
        ("probe", "the local world's resolvers"),
        ("resolver", "the local world's resolver"),
    ] {
        supplied.push(json!({ "field": key, "why": why }));
    }
    map.insert("probe".to_owned(), local["probe"].clone());
    map.insert("resolver".to_owned(), local["resolver"].clone());
    let scaled = scale_durations(map, &defaults, i64::from(ttl.max(1)));
    UserRequest {
        request,
        supplied,
        scaled,
    }
}

/// The request a rehearsal runs for `REQUEST=`, and what it changed in it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRequest {
    pub request: Value,
    /// `{field, why}`: a field the local world supplied (values not repeated: an
    /// ExternalId is a secret).
    pub supplied: Vec<Value>,
    /// `{field, from, to}`: a duration scaled as the zone's TTLs are.
    pub scaled: Vec<Value>,
}

/// Puts the local world's `fields` of `local` into `entry` (an object of the request),
/// removing those the world leaves unset, and notes each one changed.
fn supply(entry: &mut Value, local: &Value, fields: &[&str], key: &str, notes: &mut Vec<Value>) {
    let Some(object) = entry.as_object_mut() else {
        return;
    };
    for field in fields {
        let before = object.get(*field).filter(|v| !v.is_null()).cloned();
        match local.get(*field) {
            Some(value) if !value.is_null() => {
                object.insert((*field).to_owned(), value.clone());
            }
            _ => {
                object.remove(*field);
            }
        }
        let after = object.get(*field).filter(|v| !v.is_null()).cloned();
        if before != after {
            notes.push(json!({
                "field": format!("{key}.{field}"),
                "why": match (before.is_some(), after.is_some()) {
                    (true, false) => "the request's value names nothing in the local world: left out",
                    _ => "the local world's",
                },
            }));
        }
    }
}

/// The registrar: the request's own, with the local world's account (and parent zone);
/// or, when the request names none, the state machine's default (`route53domains`) with
/// the local world's account, unless the rehearsal chose another registrar for the
/// domain (one Route 53 Domains does not register): then that one, noted.
fn supply_registrar(
    map: &mut serde_json::Map<String, Value>,
    local: &Value,
    defaults: &Value,
    notes: &mut Vec<Value>,
) {
    let fields = ["roleArn", "externalId", "hostedZoneId"];
    if let Some(registrar) = map.get_mut("registrar").filter(|r| r.is_object()) {
        supply(registrar, &local["registrar"], &fields, "registrar", notes);
        return;
    }
    let mut registrar = defaults["registrar"].clone();
    if registrar["type"] == local["registrar"]["type"] {
        supply(
            &mut registrar,
            &local["registrar"],
            &fields,
            "registrar",
            notes,
        );
    } else {
        registrar = local["registrar"].clone();
        notes.push(json!({
            "field": "registrar",
            "why": format!(
                "the request names no registrar, and the state machine's default ({}) cannot hold this domain in the local world: rehearsed with type {}",
                defaults["registrar"]["type"].as_str().unwrap_or_default(),
                local["registrar"]["type"].as_str().unwrap_or_default()
            ),
        }));
    }
    map.insert("registrar".to_owned(), registrar);
}

/// Scales the request's durations to `cap` seconds (pacing: 1 s to `cap` + 1 s), as
/// written or as the state machine defaults them (`nsTtl`; a `pacing` of null means
/// check-propagation's own, 30 s to 3600 s; a cutover record's TTL, 60 s). Returns each
/// duration changed.
fn scale_durations(
    map: &mut serde_json::Map<String, Value>,
    defaults: &Value,
    cap: i64,
) -> Vec<Value> {
    let mut scaled = Vec::new();
    let mut scale = |field: String, from: i64, to: i64| {
        if from != to {
            scaled.push(json!({ "field": field, "from": from, "to": to }));
        }
        to
    };
    let ns_ttl = map
        .get("nsTtl")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| defaults["nsTtl"].clone());
    let during = ns_ttl["during"].as_i64().unwrap_or(300);
    let after = ns_ttl["after"].as_i64().unwrap_or(172_800);
    let ns_ttl = json!({
        "during": scale("nsTtl.during".into(), during, during.min(cap)),
        "after": scale("nsTtl.after".into(), after, after.min(cap)),
    });
    map.insert("nsTtl".to_owned(), ns_ttl);
    let default = zonehop::core::propagation::Pacing::default();
    let pacing = map.get("pacing").filter(|v| v.is_object());
    let min_wait = pacing
        .and_then(|p| p["minWait"].as_i64())
        .unwrap_or(default.min_wait);
    let max_wait = pacing
        .and_then(|p| p["maxWait"].as_i64())
        .unwrap_or(default.max_wait);
    let pacing = json!({
        "minWait": scale("pacing.minWait".into(), min_wait, min_wait.min(1)),
        "maxWait": scale("pacing.maxWait".into(), max_wait, max_wait.min(cap + 1)),
    });
    map.insert("pacing".to_owned(), pacing);
    if let Some(records) = map
        .get_mut("cutover")
        .and_then(|c| c.get_mut("records"))
        .and_then(Value::as_array_mut)
    {
        for (index, record) in records.iter_mut().enumerate() {
            let ttl = record.get("ttl").and_then(Value::as_i64).unwrap_or(60);
            if ttl > cap {
                record["ttl"] = json!(scale(format!("cutover.records[{index}].ttl"), ttl, cap));
            }
        }
    }
    scaled
}

/// The DNS world of a rehearsal whose TTLs are scaled to `ttl` seconds, serving the hosted
/// zones of `accounts` and the registrations of moto's Route 53 Domains and `registry`, its
/// resolvers caching at most 2.5 times `ttl`; started and settled.
pub async fn scaled_world(
    base: &SdkConfig,
    accounts: Vec<zonehop::core::request::AccountAccess>,
    registry: Registry,
    ttl: u32,
) -> Result<DnsWorld, SetupError> {
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), accounts)
            .registrar(registrar_access())
            .registry(registry)
            .ttls(Ttls {
                resolver_max: Some(ttl.max(1) * 5 / 2),
                resolver_max_negative: Some(1),
                ..Ttls::uniform(ttl)
            }),
    )
    .await
    .map_err(SetupError::DnsWorld)?;
    world.settle().await.map_err(SetupError::DnsWorld)?;
    Ok(world)
}

/// The migration state machine as a rehearsal creates it in moto: the deployed ASL, with the
/// operator's daily heartbeat scaled as the TTLs are (86,400 s / 4,320 = 20 s).
pub async fn migration_machine(local: &LocalStepFunctions) -> Result<String, SetupError> {
    local
        .sfn
        .create_state_machine_scaled(
            "migration",
            &state_machine_file(),
            &local.substitutions(&[("EventBusName", "default")]),
            4_320,
        )
        .await
        .map_err(|e| SetupError::StateMachine(e.to_string()))
}

/// The zone's apex SOA and NS with their TTLs capped at `ttl`, as the zone's records are.
pub(crate) async fn scale_apex(
    base: &SdkConfig,
    account: &zonehop::core::request::AccountAccess,
    zone_id: &str,
    apex: &Name,
    ttl: u32,
) -> Result<(), String> {
    let zones = route53_in(base, account).await;
    let zone = read_zone(&zones, zone_id)
        .await
        .map_err(|e| format!("read the zone {apex}: {e}"))?;
    let changes: Vec<Change> = scaled(
        &zone
            .iter()
            .filter(|r| is_apex_soa_or_ns(r, apex))
            .cloned()
            .collect::<Vec<_>>(),
        ttl,
    )
    .into_iter()
    .map(|record| Change {
        action: Action::Upsert,
        record,
    })
    .collect();
    zones
        .change_records(zone_id, &changes, "rehearsal: apex TTLs scaled")
        .await
        .map(|_| ())
        .map_err(|e| format!("scale the apex TTLs of {apex}: {e}"))
}

fn access(role: &zonehop::core::request::AccountAccess, zone_id: Option<&str>) -> Value {
    json!({ "hostedZoneId": zone_id, "roleArn": role.role_arn, "externalId": role.external_id })
}

pub use zonehop_operator::cost::{
    deployed_memory_mb, execution_cost, projected_cost, USD_PER_GB_SECOND_ARM64, USD_PER_TRANSITION,
};
pub use zonehop_operator::progress::{
    iso, iso_secs, operator_request, short_cause, Phase, Progress, Round, OPERATOR_STATE,
};

#[cfg(test)]
mod tests {
    use super::*;

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
        // A name below a registered domain: only its parent zone delegates it.
        assert_eq!(
            chosen("app.example.com", None),
            Ok(RegistrarKind::Route53zone)
        );
        assert!(chosen("app.example.com", Some(RegistrarKind::Manual)).is_err());
        let refused = chosen("example.com", Some(RegistrarKind::Route53zone))
            .expect_err("a registered domain's parent is a registry");
        assert!(refused.to_string().contains("app.example.com"), "{refused}");
    }

    fn local(registrar: Value) -> Value {
        json!({
            "domain": "example.com",
            "source": { "hostedZoneId": "ZLOCALSOURCE", "roleArn": "arn:aws:iam::111111111111:role/local", "externalId": "local" },
            "target": { "hostedZoneId": null, "roleArn": "arn:aws:iam::222222222222:role/local", "externalId": "local" },
            "registrar": registrar,
            "probe": { "resolvers": ["127.0.0.53:53"] },
            "resolver": "127.0.0.53:53",
        })
    }

    fn route53domains() -> Value {
        json!({ "type": "route53domains", "roleArn": "arn:aws:iam::333333333333:role/local", "externalId": "local" })
    }

    #[test]
    fn a_request_without_registrar_gets_the_state_machines_default_type_with_the_worlds_account() {
        let user = json!({
            "domain": "example.com",
            "source": { "hostedZoneId": "Z0OLDEXAMPLE" },
            "probe": { "resolvers": ["1.1.1.1"] },
        });
        let out = user_request_over(&local(route53domains()), 2, &user);
        assert_eq!(out.request["registrar"]["type"], "route53domains");
        assert_eq!(
            out.request["registrar"]["roleArn"],
            "arn:aws:iam::333333333333:role/local"
        );
        assert_eq!(out.request["source"]["hostedZoneId"], "ZLOCALSOURCE");
        let fields: Vec<&str> = out
            .supplied
            .iter()
            .filter_map(|s| s["field"].as_str())
            .collect();
        for field in [
            "source.hostedZoneId",
            "registrar.roleArn",
            "probe",
            "resolver",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
        // The domain's registrar, when the default cannot hold it here: noted.
        let out = user_request_over(&local(json!({"type": "manual"})), 2, &user);
        assert_eq!(out.request["registrar"], json!({"type": "manual"}));
        assert!(out.supplied.iter().any(|s| s["field"] == "registrar"));
    }

    #[test]
    fn only_durations_are_scaled_each_listed_and_every_other_field_is_as_written() {
        let user = json!({
            "domain": "example.com",
            "source": { "hostedZoneId": "Z0OLDEXAMPLE" },
            "registrar": { "type": "route53domains" },
            "nsTtl": { "during": 300, "after": 172_800 },
            "cutover": { "records": [
                { "name": "a.example.com", "type": "A", "values": ["192.0.2.1"], "ttl": 3600 },
                { "name": "b.example.com", "type": "A", "values": ["192.0.2.2"] },
                { "name": "c.example.com", "type": "A", "values": ["192.0.2.3"], "ttl": 1 }
            ] },
            "probe": { "resolvers": ["1.1.1.1"] },
            "healthChecks": "drop",
            "maxOverwrites": 3,
            "dryRun": true,
        });
        let out = user_request_over(&local(route53domains()), 2, &user);
        let scaled: Vec<(String, i64, i64)> = out
            .scaled
            .iter()
            .map(|s| {
                (
                    s["field"].as_str().unwrap_or_default().to_owned(),
                    s["from"].as_i64().unwrap_or_default(),
                    s["to"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        let expected: Vec<(String, i64, i64)> = [
            ("nsTtl.during", 300, 2),
            ("nsTtl.after", 172_800, 2),
            ("pacing.minWait", 30, 1),
            ("pacing.maxWait", 3_600, 3),
            ("cutover.records[0].ttl", 3_600, 2),
            ("cutover.records[1].ttl", 60, 2),
        ]
        .into_iter()
        .map(|(f, a, b)| (f.to_owned(), a, b))
        .collect();
        assert_eq!(scaled, expected);
        let request = &out.request;
        assert_eq!(request["cutover"]["records"][2]["ttl"], 1);
        for (field, value) in [
            ("healthChecks", json!("drop")),
            ("maxOverwrites", json!(3)),
            ("dryRun", json!(true)),
            ("domain", json!("example.com")),
        ] {
            assert_eq!(request[field], value, "{field}");
        }
    }

    fn export_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("zonehop-{name}-{}.json", std::process::id()));
        std::fs::write(&path, text).expect("write the export");
        path
    }

    #[test]
    fn exports_route53_could_never_hold_are_refused_before_anything_starts() {
        let set = |name: &str, rtype: &str, ttl: i64, value: &str| json!({"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": value}]});
        for (name, records, says) in [
            (
                "cname-beside-aaaa",
                vec![
                    set("www.example.com.", "CNAME", 60, "lb.example.net."),
                    set("www.example.com.", "AAAA", 60, "2001:db8::1"),
                ],
                "a CNAME beside AAAA",
            ),
            (
                "unbalanced-caa",
                vec![set("example.com.", "CAA", 60, "0 issue \"amazon.com")],
                "quotation mark is not closed",
            ),
            (
                "long-txt",
                vec![set(
                    "example.com.",
                    "TXT",
                    60,
                    &format!("\"{}\"", "a".repeat(300)),
                )],
                "300 characters",
            ),
            (
                "ttl-over",
                vec![set("a.example.com.", "A", 2_147_483_648, "192.0.2.1")],
                "TTL 2147483648",
            ),
            (
                "wildcard-ns",
                vec![set("\\052.example.com.", "NS", 60, "ns1.example.net.")],
                "wildcard",
            ),
        ] {
            let path = export_file(name, &json!({ "ResourceRecordSets": records }).to_string());
            let error = Scenario::from_export(&path, "example.com", Vec::new())
                .expect_err(name)
                .to_string();
            assert!(error.contains(says), "{name}: {says} in {error}");
        }
        let page = json!({
            "ResourceRecordSets": [set("a.example.com.", "A", 60, "192.0.2.1")],
            "IsTruncated": true,
            "NextRecordName": "b.example.com.",
            "NextRecordType": "A",
        });
        let path = export_file("truncated", &page.to_string());
        let error = Scenario::from_export(&path, "example.com", Vec::new())
            .expect_err("one page")
            .to_string();
        assert!(
            error.contains("aws route53 list-resource-record-sets"),
            "{error}"
        );
    }

    #[test]
    fn every_bundled_and_real_export_is_one_route53_could_hold() {
        let dir = crate::repo_root().join("tests/rehearsal");
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        for folder in [dir.clone(), dir.join("realzones")] {
            for entry in std::fs::read_dir(folder).expect("the folder").flatten() {
                let path = entry.path();
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if path.extension().is_some_and(|e| e == "json") && !stem.starts_with("request") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 5, "{files:?}");
        for path in files {
            let domain = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if let Err(e) = Scenario::from_export(&path, domain, Vec::new()) {
                panic!("{}: {e}", path.display());
            }
        }
    }

    #[test]
    fn rerooting_moves_names_values_aliases_and_kept_subdomains_below_the_new_domain() {
        let n = |s: &str| Name::parse(s).expect("name");
        let app = Scenario::example().rerooted(&n("app.example.com"));
        assert_eq!(app.domain, n("app.example.com"));
        assert_eq!(app.keep, ["dev.app.example.com"]);
        assert!(app
            .records
            .iter()
            .all(|r| r.name.is_at_or_below(&app.domain)));
        let mx = app
            .records
            .iter()
            .find(|r| r.rtype == RrType::MX)
            .expect("the MX");
        assert_eq!(
            mx.values().collect::<Vec<_>>(),
            ["10 mail.app.example.com."]
        );
        let alias = app
            .records
            .iter()
            .find_map(|r| r.alias_target.as_ref())
            .expect("the alias");
        assert_eq!(alias.dns_name, n("www.app.example.com"));
        let cname = app
            .records
            .iter()
            .find(|r| r.rtype == RrType::CNAME)
            .expect("the CNAME");
        assert_eq!(
            cname.values().collect::<Vec<_>>(),
            ["api.dev.app.example.com."]
        );
        // Text is left alone (an SPF include names another domain).
        let txt = app
            .records
            .iter()
            .find(|r| r.rtype == RrType::TXT && r.name == app.domain)
            .expect("the TXT");
        assert!(txt.values().any(|v| v.contains("_spf.example.net")));
    }
}
