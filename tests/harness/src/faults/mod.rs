//! Faults on demand in a rehearsal (`make rehearse FAULTS=a,b,...`, issue #10 point 9).
//!
//! [`Faults::parse`] reads the list into typed [`Fault`]s (an unknown name is
//! [`FaultError::Unknown`], which the rehearsal turns into exit 2). The injection itself is in
//! two places: [`proxy`], an HTTP proxy on loopback between the functions and moto that
//! makes Route 53 and Route 53 Domains calls fail (`api-faults=N`), kills a function after
//! its first change batch (`crash-*`), denies finalize (`cleanup-fails`) and plays a slow or
//! failing registrar operation (`registrar-*`); and [`world`], the DNS world's servers made
//! silent or wrong for a while (`resolver-outage`, `probe-dead`, `parent-timeout`,
//! `new-side-wrong`). The rehearsal (`tools/rehearse/src/faults.rs`) times them against the
//! execution's history and does the rest (edits, the operator's silence, a second execution).
//! README.md, section "Faults", says what each must produce.

pub mod proxy;
pub mod rate;
pub mod world;

use std::fmt;

use zonehop::core::access::Work;

/// One fault a rehearsal can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The resolver check-propagation uses (`resolver`) is silent for one round after the swap.
    ResolverOutage,
    /// One probe resolver stops answering at the swap and never answers again.
    ProbeDead,
    /// The domain's parent (TLD) server is silent for one round after the swap.
    ParentTimeout,
    /// This percentage of the functions' Route 53 and Route 53 Domains calls get throttling,
    /// a 5xx, a slow answer or a dropped connection.
    ApiFaults(u8),
    /// sync-records is killed right after its first change batch is applied.
    CrashSync,
    /// delegate-subdomain is killed right after its first change batch is applied.
    CrashDelegate,
    /// The registrar's UpdateDomainNameservers stays IN_PROGRESS for a while.
    RegistrarSlow,
    /// The registrar's UpdateDomainNameservers ends FAILED.
    RegistrarFails,
    /// Manual registrar: nobody answers the request to set the name servers.
    OperatorSilent,
    /// A record is created in the source zone during the window.
    EditSource,
    /// A record is created in the target zone during the window.
    EditTarget,
    /// Records are created in both zones during the window, one RRset in both, differently.
    EditBoth,
    /// Records created, changed and deleted in both zones at every phase of the migration
    /// (before the first sync, between the syncs, before the swap, in the window, after
    /// "safe"), a few RRsets on both sides differently.
    EditStorm,
    /// Every Route 53 call of finalize is refused (AccessDenied), after "safe".
    CleanupFails,
    /// A server of the target zone answers wrongly from the first round after the swap, for
    /// what the target names.
    NewSideWrong(WrongTarget),
    /// A second execution for the same domain starts during this one (after the swap).
    SecondExecution,
    /// Every invoke of this step's function does the function's work and then fails as a
    /// crashed Lambda (`Runtime.ExitError`, which no Retry covers): the step's effects are
    /// in place but the execution sees it fail, past its retries.
    CrashAt(&'static str),
    /// StopExecution once this phase's function has been invoked (mid-invocation).
    AbortAt(&'static str),
    /// Every Route 53 call of cutover is refused (AccessDenied), after "safe" (the request
    /// gains a cutover change so that the phase runs).
    CutoverFails,
    /// One of the domain's two parent (TLD) servers never answers again from the swap on.
    ParentDead,
}

/// What a lying new server (`new-side-wrong=TARGET`) answers wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WrongTarget {
    /// Every A record below the apex: a wrong address (bare `new-side-wrong`).
    Plain,
    /// The A and AAAA records of the names with a routed record set: wrong values.
    Routed,
    /// The A and AAAA records of the names that are aliases (no routing policy): wrong values.
    Alias,
    /// The data of every wildcard: wrong values.
    Wildcard,
    /// One name the zone holds is gone: NXDOMAIN for it.
    Nxdomain,
}

impl WrongTarget {
    /// Every target, as `new-side-wrong=` spells it.
    pub const ALL: [WrongTarget; 5] = [
        WrongTarget::Plain,
        WrongTarget::Routed,
        WrongTarget::Alias,
        WrongTarget::Wildcard,
        WrongTarget::Nxdomain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WrongTarget::Plain => "plain",
            WrongTarget::Routed => "routed",
            WrongTarget::Alias => "alias",
            WrongTarget::Wildcard => "wildcard",
            WrongTarget::Nxdomain => "nxdomain",
        }
    }
}

fn wrong_target_list() -> String {
    WrongTarget::ALL.map(WrongTarget::name).join(", ")
}

/// The steps `crash-at=` may name: the migration's function binaries ([`Work::ALL`]) but
/// rollback (a crashed rollback is `Rollback Failed`, a drill of its own).
pub fn steps() -> impl Iterator<Item = &'static str> {
    Work::ALL
        .into_iter()
        .filter(|w| *w != Work::Rollback)
        .map(Work::function_name)
}

fn step_list() -> String {
    steps().collect::<Vec<_>>().join(", ")
}

/// The phases `abort-at=` may name (as the execution's events name them) and the function
/// whose invoke marks the moment to stop.
pub const PHASES: [(&str, &str); 10] = [
    ("preflight", "preflight"),
    ("create-zone", "create-zone"),
    ("delegate-subdomains", "delegate-subdomain"),
    ("sync-records", "sync-records"),
    ("verify-zones", "verify-zones"),
    ("lower-ns-ttl", "lower-ns-ttl"),
    ("swap-nameservers", "swap-nameservers"),
    ("check-propagation", "check-propagation"),
    ("cutover", "cutover"),
    ("finalize", "finalize"),
];

/// The function whose invoke marks `phase` (`abort-at=`).
pub fn phase_function(phase: &str) -> Option<&'static str> {
    PHASES.iter().find(|(p, _)| *p == phase).map(|(_, f)| *f)
}

/// Every fault name, as FAULTS spells it (`api-faults` takes `=N`).
pub const FAULT_NAMES: [&str; 20] = [
    "resolver-outage",
    "probe-dead",
    "parent-timeout",
    "api-faults=N",
    "crash-sync",
    "crash-delegate",
    "registrar-slow",
    "registrar-fails",
    "operator-silent",
    "edit-source",
    "edit-target",
    "edit-both",
    "edit-storm",
    "cleanup-fails",
    "new-side-wrong",
    "second-execution",
    "crash-at=STEP",
    "abort-at=PHASE",
    "cutover-fails",
    "parent-dead",
];

/// Why a FAULTS list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    #[error("unknown fault `{0}` (known: resolver-outage, probe-dead, parent-timeout, api-faults=N, crash-sync, crash-delegate, registrar-slow, registrar-fails, operator-silent, edit-source, edit-target, edit-both, edit-storm, cleanup-fails, new-side-wrong[=plain|routed|alias|wildcard|nxdomain], second-execution, crash-at=STEP, abort-at=PHASE, cutover-fails, parent-dead)")]
    Unknown(String),
    #[error("crash-at={0}: not a step (steps: {list})", list = step_list())]
    UnknownStep(String),
    #[error("abort-at={0}: not a phase (phases: preflight, create-zone, delegate-subdomains, sync-records, verify-zones, lower-ns-ttl, swap-nameservers, check-propagation, cutover, finalize)")]
    UnknownPhase(String),
    #[error("new-side-wrong={0}: not a target (targets: {list})", list = wrong_target_list())]
    UnknownWrongTarget(String),
    #[error("api-faults={0}: N is a percentage, a whole number from 1 to 100")]
    BadPercent(String),
    #[error("`{0}` needs a value: api-faults=N, crash-at=STEP, abort-at=PHASE")]
    MissingValue(String),
    #[error("`{name}` takes no value (got `{name}={value}`)")]
    UnexpectedValue { name: String, value: String },
    #[error("fault `{0}` is listed twice")]
    Duplicate(String),
    #[error("{0} and {1} cannot be injected together: {2}")]
    Conflict(String, String, &'static str),
}

impl Fault {
    /// The fault's name in FAULTS (`api-faults=20`).
    pub fn name(self) -> String {
        match self {
            Fault::ApiFaults(n) => format!("api-faults={n}"),
            Fault::CrashAt(step) => format!("crash-at={step}"),
            Fault::AbortAt(phase) => format!("abort-at={phase}"),
            Fault::NewSideWrong(WrongTarget::Plain) => "new-side-wrong".to_owned(),
            Fault::NewSideWrong(target) => format!("new-side-wrong={}", target.name()),
            other => other.base_name().to_owned(),
        }
    }

    /// The name without a value (`api-faults`).
    pub fn base_name(self) -> &'static str {
        match self {
            Fault::ResolverOutage => "resolver-outage",
            Fault::ProbeDead => "probe-dead",
            Fault::ParentTimeout => "parent-timeout",
            Fault::ApiFaults(_) => "api-faults",
            Fault::CrashSync => "crash-sync",
            Fault::CrashDelegate => "crash-delegate",
            Fault::RegistrarSlow => "registrar-slow",
            Fault::RegistrarFails => "registrar-fails",
            Fault::OperatorSilent => "operator-silent",
            Fault::EditSource => "edit-source",
            Fault::EditTarget => "edit-target",
            Fault::EditBoth => "edit-both",
            Fault::EditStorm => "edit-storm",
            Fault::CleanupFails => "cleanup-fails",
            Fault::NewSideWrong(_) => "new-side-wrong",
            Fault::SecondExecution => "second-execution",
            Fault::CrashAt(_) => "crash-at",
            Fault::AbortAt(_) => "abort-at",
            Fault::CutoverFails => "cutover-fails",
            Fault::ParentDead => "parent-dead",
        }
    }

    /// What the migration must do about it (README.md, "Faults").
    pub fn required_outcome(self) -> &'static str {
        match self {
            Fault::RegistrarFails | Fault::NewSideWrong(_) | Fault::OperatorSilent => {
                "rolled back: the registration and the source apex NS as before"
            }
            Fault::CleanupFails | Fault::CutoverFails => {
                "Failed After Safe with the step's error: the registration stays on the new servers, nothing rolled back; AGAIN=1 then SUCCEEDED"
            }
            Fault::ParentDead => {
                "SUCCEEDED: the silent parent server left out of \"every parent server\" after its rounds and the (scaled) hour, with a warning in the round and the report"
            }
            Fault::CrashAt(_) | Fault::AbortAt(_) => {
                "the first execution ends at that step (FAILED before the swap, rolled back between the swap and \"safe\", Failed After Safe after it; ABORTED for abort-at); AGAIN=1 then SUCCEEDED with the zones exact"
            }
            Fault::SecondExecution => {
                "the second execution is refused (MigrationInProgress); this one SUCCEEDED"
            }
            Fault::EditSource | Fault::EditTarget | Fault::EditBoth => {
                "SUCCEEDED, the edits carried to the other zone (on a conflict the target's version wins)"
            }
            Fault::EditStorm => {
                "SUCCEEDED, every edit of every phase in the final target zone as made (on a conflict the target's version), and no resolver answer that is neither an edited RRset's old nor new value"
            }
            _ => "SUCCEEDED, both zones as in a fault-free run",
        }
    }

    /// The faults that need a manual registrar (the rehearsal chooses it for them).
    pub fn needs_manual_registrar(self) -> bool {
        self == Fault::OperatorSilent
    }

    fn parse_one(item: &str) -> Result<Fault, FaultError> {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (item.trim(), None),
        };
        let plain = match name {
            "resolver-outage" => Fault::ResolverOutage,
            "probe-dead" => Fault::ProbeDead,
            "parent-timeout" => Fault::ParentTimeout,
            "crash-sync" => Fault::CrashSync,
            "crash-delegate" => Fault::CrashDelegate,
            "registrar-slow" => Fault::RegistrarSlow,
            "registrar-fails" => Fault::RegistrarFails,
            "operator-silent" => Fault::OperatorSilent,
            "edit-source" => Fault::EditSource,
            "edit-target" => Fault::EditTarget,
            "edit-both" => Fault::EditBoth,
            "edit-storm" => Fault::EditStorm,
            "cleanup-fails" => Fault::CleanupFails,
            "second-execution" => Fault::SecondExecution,
            "cutover-fails" => Fault::CutoverFails,
            "parent-dead" => Fault::ParentDead,
            "crash-at" => {
                let value = value.ok_or_else(|| FaultError::MissingValue(name.to_owned()))?;
                return steps()
                    .find(|s| *s == value)
                    .map(Fault::CrashAt)
                    .ok_or_else(|| FaultError::UnknownStep(value.to_owned()));
            }
            "abort-at" => {
                let value = value.ok_or_else(|| FaultError::MissingValue(name.to_owned()))?;
                return PHASES
                    .iter()
                    .find(|(p, _)| *p == value)
                    .map(|(p, _)| Fault::AbortAt(p))
                    .ok_or_else(|| FaultError::UnknownPhase(value.to_owned()));
            }
            "new-side-wrong" => {
                let Some(value) = value else {
                    return Ok(Fault::NewSideWrong(WrongTarget::Plain));
                };
                return WrongTarget::ALL
                    .into_iter()
                    .find(|t| t.name() == value)
                    .map(Fault::NewSideWrong)
                    .ok_or_else(|| FaultError::UnknownWrongTarget(value.to_owned()));
            }
            "api-faults" => {
                let value = value.ok_or_else(|| FaultError::MissingValue(name.to_owned()))?;
                return match value.parse::<u8>() {
                    Ok(n) if (1..=100).contains(&n) => Ok(Fault::ApiFaults(n)),
                    _ => Err(FaultError::BadPercent(value.to_owned())),
                };
            }
            _ => return Err(FaultError::Unknown(item.trim().to_owned())),
        };
        match value {
            Some(value) => Err(FaultError::UnexpectedValue {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
            None => Ok(plain),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The faults of one rehearsal, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(Vec<Fault>);

impl Faults {
    /// `resolver-outage,api-faults=20`: comma-separated, blanks ignored; empty means none.
    pub fn parse(list: &str) -> Result<Faults, FaultError> {
        let mut faults: Vec<Fault> = Vec::new();
        for item in list.split(',').filter(|s| !s.trim().is_empty()) {
            let fault = Fault::parse_one(item)?;
            if faults.iter().any(|f| f.base_name() == fault.base_name()) {
                return Err(FaultError::Duplicate(fault.base_name().to_owned()));
            }
            faults.push(fault);
        }
        let has = |f: Fault| faults.contains(&f);
        if has(Fault::RegistrarSlow) && has(Fault::RegistrarFails) {
            return Err(FaultError::Conflict(
                "registrar-slow".into(),
                "registrar-fails".into(),
                "one registrar operation cannot be both",
            ));
        }
        if has(Fault::OperatorSilent) && (has(Fault::RegistrarSlow) || has(Fault::RegistrarFails)) {
            return Err(FaultError::Conflict(
                "operator-silent".into(),
                "registrar-slow/registrar-fails".into(),
                "operator-silent is the manual registrar's, registrar-* Route 53 Domains'",
            ));
        }
        if has(Fault::EditStorm)
            && (has(Fault::EditSource) || has(Fault::EditTarget) || has(Fault::EditBoth))
        {
            return Err(FaultError::Conflict(
                "edit-storm".into(),
                "edit-source/edit-target/edit-both".into(),
                "the storm makes those edits too, at every phase",
            ));
        }
        Ok(Faults(faults))
    }

    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `api-faults=N`'s N, if listed.
    pub fn api_fault_percent(&self) -> Option<u8> {
        self.0.iter().find_map(|f| match f {
            Fault::ApiFaults(n) => Some(*n),
            _ => None,
        })
    }

    /// `new-side-wrong[=TARGET]`'s target, if listed.
    pub fn new_side_wrong(&self) -> Option<WrongTarget> {
        self.0.iter().find_map(|f| match f {
            Fault::NewSideWrong(target) => Some(*target),
            _ => None,
        })
    }

    /// `crash-at=STEP`'s step, if listed.
    pub fn crash_step(&self) -> Option<&'static str> {
        self.0.iter().find_map(|f| match f {
            Fault::CrashAt(step) => Some(*step),
            _ => None,
        })
    }

    /// `abort-at=PHASE`'s phase, if listed.
    pub fn abort_phase(&self) -> Option<&'static str> {
        self.0.iter().find_map(|f| match f {
            Fault::AbortAt(phase) => Some(*phase),
            _ => None,
        })
    }

    /// True when the functions must reach moto through the fault proxy.
    pub fn need_proxy(&self) -> bool {
        self.0.iter().any(|f| {
            matches!(
                f,
                Fault::ApiFaults(_)
                    | Fault::CrashSync
                    | Fault::CrashDelegate
                    | Fault::RegistrarSlow
                    | Fault::RegistrarFails
                    | Fault::CleanupFails
                    | Fault::EditStorm
                    | Fault::CrashAt(_)
                    | Fault::CutoverFails
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_prints_back() {
        let list = FAULT_NAMES
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.replace("=N", "=20")
                    .replace("=STEP", "=sync-records")
                    .replace("=PHASE", "=swap-nameservers")
            })
            .collect::<Vec<_>>()
            .join(",")
            .replace("registrar-fails,", "")
            .replace("operator-silent,", "")
            .replace("edit-storm,", "");
        let faults = Faults::parse(&list).expect("every name");
        let printed: Vec<String> = faults.iter().map(|f| f.name()).collect();
        assert_eq!(printed.join(","), list);
        assert_eq!(faults.api_fault_percent(), Some(20));
        assert!(faults.need_proxy());
    }

    #[test]
    fn an_unknown_name_a_bad_percent_and_a_duplicate_are_named_errors() {
        assert_eq!(
            Faults::parse("resolver-outage,dns-on-fire"),
            Err(FaultError::Unknown("dns-on-fire".into()))
        );
        assert_eq!(
            Faults::parse("api-faults=0"),
            Err(FaultError::BadPercent("0".into()))
        );
        assert_eq!(
            Faults::parse("api-faults=101"),
            Err(FaultError::BadPercent("101".into()))
        );
        assert_eq!(
            Faults::parse("api-faults"),
            Err(FaultError::MissingValue("api-faults".into()))
        );
        assert!(matches!(
            Faults::parse("probe-dead=3"),
            Err(FaultError::UnexpectedValue { .. })
        ));
        assert_eq!(
            Faults::parse("edit-source,edit-source"),
            Err(FaultError::Duplicate("edit-source".into()))
        );
        assert!(matches!(
            Faults::parse("registrar-slow,registrar-fails"),
            Err(FaultError::Conflict(..))
        ));
        assert!(matches!(
            Faults::parse("edit-storm,edit-both"),
            Err(FaultError::Conflict(..))
        ));
        let storm = Faults::parse("edit-storm").expect("edit-storm alone");
        assert!(
            storm.need_proxy(),
            "its phases are held by the proxy's gates"
        );
        assert_eq!(
            Faults::parse("crash-at=rollback"),
            Err(FaultError::UnknownStep("rollback".into()))
        );
        assert_eq!(
            Faults::parse("abort-at=delegate-subdomain"),
            Err(FaultError::UnknownPhase("delegate-subdomain".into())),
            "the phase is delegate-subdomains, as the events name it"
        );
        assert_eq!(
            Faults::parse("crash-at"),
            Err(FaultError::MissingValue("crash-at".into()))
        );
        assert!(matches!(
            Faults::parse("cutover-fails=1"),
            Err(FaultError::UnexpectedValue { .. })
        ));
        let unknown = Faults::parse("nope").expect_err("unknown").to_string();
        assert!(unknown.contains("resolver-outage"), "{unknown}");
    }

    #[test]
    fn new_side_wrong_takes_a_target_and_bare_it_is_plain() {
        for target in WrongTarget::ALL {
            let faults =
                Faults::parse(&format!("new-side-wrong={}", target.name())).expect("a target");
            assert_eq!(faults.new_side_wrong(), Some(target));
        }
        let bare = Faults::parse("new-side-wrong").expect("bare");
        assert_eq!(bare.new_side_wrong(), Some(WrongTarget::Plain));
        assert_eq!(
            Fault::NewSideWrong(WrongTarget::Plain).name(),
            "new-side-wrong",
            "reports name it as before"
        );
        assert_eq!(
            Fault::NewSideWrong(WrongTarget::Routed).name(),
            "new-side-wrong=routed"
        );
        assert_eq!(
            Faults::parse("new-side-wrong=cname"),
            Err(FaultError::UnknownWrongTarget("cname".into()))
        );
        assert_eq!(
            Faults::parse("new-side-wrong=alias,new-side-wrong"),
            Err(FaultError::Duplicate("new-side-wrong".into())),
            "one lying server per rehearsal"
        );
        assert!(!bare.need_proxy());
    }

    #[test]
    fn an_empty_list_is_no_fault_and_needs_no_proxy() {
        let none = Faults::parse(" , ").expect("empty");
        assert!(none.is_empty());
        assert!(!none.need_proxy());
        assert!(!Faults::parse("probe-dead,edit-target")
            .expect("parsed")
            .need_proxy());
    }
}
