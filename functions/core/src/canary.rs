//! The canary: `_zonehop.<domain> TXT`, written in the source zone by preflight
//! (`"side=old" "execution=<id>"`, which is also the domain's lock) and in the target by
//! sync-records (`"side=new"`, the one intended difference between the zones). A resolver
//! that answers `side=new` has moved; finalize removes both.

use crate::name::{Name, NameError};
use crate::zone::{RecordSet, RrType};

/// The label of the canary record (`_zonehop.<domain>`).
pub const CANARY_LABEL: &str = "_zonehop";
/// The old side's marker, as a TXT string (quoted, as Route 53 holds it).
pub const OLD_SIDE: &str = "\"side=old\"";
/// The new side's marker; the state machine passes the same text to sync-records
/// (`statemachine/migration.asl.json`, a test holds the two equal).
pub const NEW_SIDE: &str = "\"side=new\"";
/// The canary's longest TTL: short, so that a moved resolver shows it soon.
pub const MAX_TTL: i64 = 60;

/// `_zonehop.<domain>`.
pub fn canary_name(domain: &Name) -> Result<Name, NameError> {
    domain.prepend(CANARY_LABEL)
}

/// The old side's canary, naming the execution that holds the lock; its TTL is the apex
/// NS TTL during the move, at most [`MAX_TTL`].
pub fn old_side(name: Name, ns_ttl_during: i64, execution: &str) -> RecordSet {
    RecordSet::simple(
        name,
        RrType::TXT,
        ns_ttl_during.min(MAX_TTL),
        &[OLD_SIDE, &format!("\"execution={execution}\"")],
    )
}

/// Which side a resolver's answer for the canary shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Old,
    New,
    /// No canary, or neither marker.
    Unknown,
}

/// The side that TXT strings of the canary show (`side=new` wins if both appear).
pub fn side_of<S: AsRef<str>>(texts: &[S]) -> Side {
    if texts.iter().any(|t| t.as_ref().contains("side=new")) {
        Side::New
    } else if texts.iter().any(|t| t.as_ref().contains("side=old")) {
        Side::Old
    } else {
        Side::Unknown
    }
}

/// The execution named in a canary's values, if any.
pub fn canary_execution(canary: &RecordSet) -> Option<String> {
    canary
        .values()
        .flat_map(|v| v.split('"'))
        .find_map(|part| part.strip_prefix("execution="))
        .map(str::to_owned)
}

/// True when `execution` can name a Step Functions execution (`arn:PARTITION:states:
/// REGION:ACCOUNT:execution:MACHINE:NAME`), or is not an ARN at all (the label a function
/// run by hand writes). Anything else in a canary cannot be looked up.
pub fn is_readable_execution(execution: &str) -> bool {
    if !execution.starts_with("arn:") {
        return !execution.trim().is_empty() && !execution.contains(char::is_whitespace);
    }
    let parts: Vec<&str> = execution.split(':').collect();
    parts.len() == 8
        && parts[1].starts_with("aws")
        && parts[2] == "states"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "execution"
        && !parts[6].is_empty()
        && !parts[7].is_empty()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_execution_is_readable_when_it_is_an_execution_arn_or_no_arn() {
        use super::is_readable_execution as ok;
        assert!(ok(
            "arn:aws:states:us-east-1:123456789012:execution:zonehop:run-1"
        ));
        assert!(ok("direct-invocation"));
        for bad in [
            "arn:aws:states:us-east-1:x:execution:m:r",
            "arn:garbage",
            "",
            "a b",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn the_old_side_canary_names_its_execution_and_reads_as_old() {
        let name = canary_name(&Name::parse("example.com").expect("name")).expect("canary");
        assert_eq!(name.as_str(), "_zonehop.example.com.");
        let canary = old_side(name, 300, "arn:aws:states:us-east-1:1:execution:m:run-1");
        assert_eq!(
            canary_execution(&canary).as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:m:run-1")
        );
        let texts: Vec<&str> = canary.values().collect();
        assert_eq!(side_of(&texts), Side::Old);
        assert_eq!(side_of(&[NEW_SIDE, OLD_SIDE]), Side::New);
        assert_eq!(side_of::<&str>(&[]), Side::Unknown);
    }
}
