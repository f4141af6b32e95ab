//! The errors of every zonehop function, each with the `errorType` the state machine's
//! `Retry` and `Catch` match on.
//!
//! Transient errors (throttling, a prior change still processing, timeouts, 5xx) are
//! worth retrying as they are; every other error needs an operator, and its message says
//! what to do.

use zonehop_core::plan::Blocker;

/// Every failure a zonehop function reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed. Nothing was written.
    #[error("invalid request: {0}. Nothing was changed; fix the request and start again")]
    InvalidRequest(String),

    /// Route 53 (or STS) kept throttling after every retry.
    #[error("{operation} was throttled after {attempts} attempts (Route 53 allows 10 requests/s per account); retry later")]
    Throttled { operation: String, attempts: u32 },

    /// Another change to the same zone was still being processed after every retry.
    #[error("{operation}: a prior change to the zone is still being processed after {attempts} attempts; retry later")]
    PriorRequestNotComplete { operation: String, attempts: u32 },

    /// A call timed out or the connection failed.
    #[error("{operation} timed out or could not connect: {message}; retry")]
    Timeout { operation: String, message: String },

    /// The service answered with a server error.
    #[error("{operation} failed with a server error: {message}; retry")]
    ServiceUnavailable { operation: String, message: String },

    /// A change was accepted but did not reach INSYNC in time.
    #[error("change {change_id} was not INSYNC after {waited_seconds} s; retry (Route 53 usually takes under 60 s)")]
    ChangeNotInSync {
        change_id: String,
        waited_seconds: u64,
    },

    /// A registrar operation (UpdateDomainNameservers) has not finished yet.
    #[error("registrar operation {operation_id} is still {status} after {waited_seconds} s; retry (it usually completes within minutes)")]
    RegistrarOperationPending {
        operation_id: String,
        status: String,
        waited_seconds: u64,
    },

    /// A registrar operation ended in ERROR or FAILED.
    #[error("registrar operation {operation_id} ended {status}: check the domain in the Route 53 Domains console (status, locks, pending transfers), then run again")]
    RegistrarOperationFailed {
        operation_id: String,
        status: String,
    },

    /// Another execution is migrating the same domain.
    #[error("another migration of {domain} is running ({execution}); wait for it to end, or stop it, then start again")]
    MigrationInProgress { domain: String, execution: String },

    /// The hosted zone does not exist, or the role cannot see it.
    #[error("hosted zone {zone_id} not found: check the id and that the role belongs to the zone's account")]
    ZoneNotFound { zone_id: String },

    /// A given zone id belongs to another domain.
    #[error(
        "hosted zone {zone_id} is for {actual}, not {expected}: give the id of the {expected} zone"
    )]
    ZoneNameMismatch {
        zone_id: String,
        expected: String,
        actual: String,
    },

    /// The parent zone (`registrar.type: route53zone`) holds no delegation of the domain
    /// to the servers zonehop expects.
    #[error("parent zone {zone_id} does not delegate {domain} as expected (it names {servers:?}): the delegation was changed outside zonehop; put it back or start again")]
    ParentDoesNotDelegate {
        zone_id: String,
        domain: String,
        servers: Vec<String>,
    },

    /// A private hosted zone was given; zonehop moves public zones.
    #[error("hosted zone {zone_id} is private; zonehop moves public zones only")]
    PrivateZone { zone_id: String },

    /// Creating the target zone would make a second zone of the same name.
    #[error("{domain} already has hosted zone(s) {existing:?} in the target account: adopt one by giving target.hostedZoneId, or set target.allowDuplicateZone to true to create another")]
    ZoneAlreadyExists {
        domain: String,
        existing: Vec<String>,
    },

    /// Records cannot move as they are.
    #[error("{} record(s) cannot move as they are: {}. Nothing was changed", .blockers.len(), summarize_blockers(.blockers))]
    MigrationBlocked { blockers: Vec<Blocker> },

    /// The sync would delete or overwrite records that already exist in an adopted target.
    #[error("the sync would delete or overwrite {} record(s) that already exist in adopted zone {zone_id} (limit {limit}): {}. Nothing was changed; check them, then set maxOverwrites to at least {}", .records.len(), .records.join(", "), .records.len())]
    OverwriteLimitExceeded {
        zone_id: String,
        limit: usize,
        records: Vec<String>,
    },

    /// After the writes, the target still differs from the plan.
    #[error("after the sync, zone {zone_id} still differs from the source in {} record(s): {}; something else is writing to the zone: stop it and run the sync again", .differences.len(), .differences.join(", "))]
    TargetDiverged {
        zone_id: String,
        differences: Vec<String>,
    },

    /// The new zone does not answer like the old one on every server.
    #[error("{} difference(s) between the old and the new zone's answers: {}. The registration was not touched; fix the target zone (or the source) and run verify-zones again", .differences.len(), summarize_differences(.differences))]
    ZonesDiffer {
        differences: Vec<zonehop_core::answers::Difference>,
    },

    /// During the window, a new server answered unlike the old ones two rounds in a row.
    #[error("the new zone's servers answer wrongly during the window ({} difference(s), two rounds in a row): {}. The migration rolls back: the registration goes back to the old servers", .differences.len(), summarize_differences(.differences))]
    NewServersWrong {
        differences: Vec<zonehop_core::answers::Difference>,
    },

    /// The parent zone never named the new servers within the deadline.
    #[error("the parent zone still names the old servers {waited_seconds} s after the first round of the window (past the deadline, 72 h by default): the registrar's change did not reach the registry. The migration rolls back; check the registration before trying again")]
    ParentDidNotSwitch { waited_seconds: i64 },

    /// A name (a name server's, usually) could not be resolved.
    #[error(
        "cannot resolve {name}: {message}; check the resolver in the request or ZONEHOP_RESOLVER"
    )]
    DnsLookupFailed { name: String, message: String },

    /// The deployment lacks a setting this step needs.
    #[error("{0}; set it in the function's environment (infra/template.yaml sets it)")]
    NotConfigured(String),

    /// Route 53 Domains in the registrar's account does not hold the domain's registration.
    #[error("Route 53 Domains in the registrar's account does not hold {domain} ({message}); check that registrar.roleArn names the account whose Route 53 Domains holds the registration, or set registrar.type to manual when the domain is registered elsewhere. Nothing was changed")]
    DomainNotRegistered { domain: String, message: String },

    /// Route 53 refused a change batch (InvalidChangeBatch, InvalidInput).
    #[error("{operation} was refused: {message}")]
    ChangeRejected { operation: String, message: String },

    /// The role may not do this.
    #[error("{operation} was denied: {message}; check the role's policy (infra/member-role.yaml) and its trust")]
    AccessDenied { operation: String, message: String },

    /// Any other API error.
    #[error("{operation} failed: {code}: {message}")]
    Aws {
        operation: String,
        code: String,
        message: String,
    },
}

impl From<zonehop_core::request::InvalidRequest> for Error {
    fn from(error: zonehop_core::request::InvalidRequest) -> Self {
        Error::InvalidRequest(error.0)
    }
}

fn summarize_differences(differences: &[zonehop_core::answers::Difference]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = differences
        .iter()
        .take(SHOWN)
        .map(|d| {
            format!(
                "{} {} on {}: old {:?}, new {:?}",
                d.name, d.rtype, d.server, d.old, d.new
            )
        })
        .collect();
    if differences.len() > SHOWN {
        parts.push(format!("and {} more", differences.len() - SHOWN));
    }
    parts.join("; ")
}

fn summarize_blockers(blockers: &[Blocker]) -> String {
    const SHOWN: usize = 20;
    let mut parts: Vec<String> = blockers
        .iter()
        .take(SHOWN)
        .map(|b| format!("{} ({:?}: {})", b.record, b.reason, b.detail))
        .collect();
    if blockers.len() > SHOWN {
        parts.push(format!("and {} more", blockers.len() - SHOWN));
    }
    parts.join("; ")
}

/// The errorTypes that are worth retrying as they are. The state machine's `Retry`
/// blocks list exactly these (a test keeps the two in step).
pub const TRANSIENT_ERROR_TYPES: [&str; 6] = [
    "Throttled",
    "PriorRequestNotComplete",
    "Timeout",
    "ServiceUnavailable",
    "ChangeNotInSync",
    "RegistrarOperationPending",
];

impl Error {
    /// The name the state machine matches in `ErrorEquals`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) => "InvalidRequest",
            Error::Throttled { .. } => "Throttled",
            Error::PriorRequestNotComplete { .. } => "PriorRequestNotComplete",
            Error::Timeout { .. } => "Timeout",
            Error::ServiceUnavailable { .. } => "ServiceUnavailable",
            Error::ChangeNotInSync { .. } => "ChangeNotInSync",
            Error::RegistrarOperationPending { .. } => "RegistrarOperationPending",
            Error::RegistrarOperationFailed { .. } => "RegistrarOperationFailed",
            Error::MigrationInProgress { .. } => "MigrationInProgress",
            Error::ZoneNotFound { .. } => "ZoneNotFound",
            Error::ZoneNameMismatch { .. } => "ZoneNameMismatch",
            Error::PrivateZone { .. } => "PrivateZone",
            Error::ParentDoesNotDelegate { .. } => "ParentDoesNotDelegate",
            Error::ZoneAlreadyExists { .. } => "ZoneAlreadyExists",
            Error::MigrationBlocked { .. } => "MigrationBlocked",
            Error::OverwriteLimitExceeded { .. } => "OverwriteLimitExceeded",
            Error::TargetDiverged { .. } => "TargetDiverged",
            Error::ZonesDiffer { .. } => "ZonesDiffer",
            Error::NewServersWrong { .. } => "NewServersWrong",
            Error::ParentDidNotSwitch { .. } => "ParentDidNotSwitch",
            Error::DnsLookupFailed { .. } => "DnsLookupFailed",
            Error::DomainNotRegistered { .. } => "DomainNotRegistered",
            Error::NotConfigured(_) => "NotConfigured",
            Error::ChangeRejected { .. } => "ChangeRejected",
            Error::AccessDenied { .. } => "AccessDenied",
            Error::Aws { .. } => "AwsError",
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        TRANSIENT_ERROR_TYPES.contains(&self.error_type())
    }
}

/// The longest `errorMessage` a function returns: Step Functions keeps at most 32,768
/// characters of an error's cause (the Lambda's whole error JSON), so a longer message
/// would be cut by Step Functions mid-word, or the state's failure lost.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 30_000;

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        let mut message = error.to_string();
        if message.chars().count() > MAX_ERROR_MESSAGE_CHARS {
            message = format!(
                "{} ... (cut to {MAX_ERROR_MESSAGE_CHARS} characters to fit Step Functions' cause)",
                message
                    .chars()
                    .take(MAX_ERROR_MESSAGE_CHARS)
                    .collect::<String>()
            );
        }
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop_core::plan::BlockReason;

    #[test]
    fn transient_errors_are_exactly_the_retryable_types() {
        let transient = [
            Error::Throttled {
                operation: "x".into(),
                attempts: 8,
            },
            Error::PriorRequestNotComplete {
                operation: "x".into(),
                attempts: 8,
            },
            Error::Timeout {
                operation: "x".into(),
                message: "m".into(),
            },
            Error::ServiceUnavailable {
                operation: "x".into(),
                message: "m".into(),
            },
            Error::ChangeNotInSync {
                change_id: "C1".into(),
                waited_seconds: 1,
            },
        ];
        assert!(transient.iter().all(Error::is_transient));
        let permanent = [
            Error::InvalidRequest("x".into()),
            Error::ZoneNotFound {
                zone_id: "Z".into(),
            },
            Error::MigrationBlocked { blockers: vec![] },
            Error::AccessDenied {
                operation: "x".into(),
                message: "m".into(),
            },
        ];
        assert!(permanent.iter().all(|e| !e.is_transient()));
    }

    #[test]
    fn the_lambda_diagnostic_carries_the_error_type_and_what_to_do() {
        let diagnostic: lambda_runtime::Diagnostic = Error::MigrationBlocked {
            blockers: vec![Blocker {
                reason: BlockReason::HealthCheck,
                record: "fo.example.com. A [primary]".into(),
                detail: "uses health check hc-1".into(),
            }],
        }
        .into();
        assert_eq!(diagnostic.error_type, "MigrationBlocked");
        assert!(diagnostic
            .error_message
            .contains("fo.example.com. A [primary]"));
        assert!(diagnostic.error_message.contains("Nothing was changed"));
    }
}
