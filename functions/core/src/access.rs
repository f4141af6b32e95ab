//! What each step may do in an account: the AWS actions it calls, and the session policy it
//! asks for when it assumes a member role.
//!
//! The member role of `infra/member-role.yaml` grants the union of every step's actions on
//! every zone of its account. A step never acts with all of it: when it assumes the role it
//! passes a session policy (`sts:AssumeRole`'s `Policy`), and the session's permissions are
//! the intersection of the two. The session policy names the zones of the request, the
//! record names the step writes and, where a step writes only some record types, those
//! types (the `route53:ChangeResourceRecordSets*` condition keys). The tooling account's
//! function roles of `infra/template.yaml` grant the same per-step actions;
//! `functions/zonehop/tests/least_privilege.rs` holds the template, the member role and this
//! table together, and the in-memory step tests check that a step calls nothing outside it.

use serde_json::{json, Value};

use crate::name::Name;

/// A kind of work: one per Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    Preflight,
    CreateZone,
    DelegateSubdomain,
    SyncRecords,
    VerifyZones,
    LowerNsTtl,
    SwapNameservers,
    CheckPropagation,
    CarryEdits,
    Cutover,
    Finalize,
    Rollback,
}

/// Actions that have no resource-level permissions in IAM, so a policy can only grant them
/// on `*` (Route 53's `ListHostedZonesByName` and `CreateHostedZone`; Route 53 Domains has
/// none at all). Every other action is granted on named resources.
pub const WITHOUT_RESOURCE_LEVEL_PERMISSIONS: &[&str] = &[
    "route53:ListHostedZonesByName",
    "route53:CreateHostedZone",
    "route53domains:GetDomainDetail",
    "route53domains:UpdateDomainNameservers",
    "route53domains:GetOperationDetail",
];

const READ: &[&str] = &["route53:GetHostedZone", "route53:ListResourceRecordSets"];

/// The twelve functions' names, in [`Work::ALL`]'s order: the one list the harness, the
/// benches and the tests take (the Makefile takes the folders under `functions/`; a test in
/// tests/state_machine.rs holds the folders, this list, the template's functions and the
/// ASL's tasks to each other).
pub const FUNCTION_NAMES: [&str; 12] = {
    let mut names = [""; 12];
    let mut i = 0;
    while i < Work::ALL.len() {
        names[i] = Work::ALL[i].function_name();
        i += 1;
    }
    names
};

impl Work {
    pub const ALL: [Work; 12] = [
        Work::Preflight,
        Work::CreateZone,
        Work::DelegateSubdomain,
        Work::SyncRecords,
        Work::VerifyZones,
        Work::LowerNsTtl,
        Work::SwapNameservers,
        Work::CheckPropagation,
        Work::CarryEdits,
        Work::Cutover,
        Work::Finalize,
        Work::Rollback,
    ];

    /// How the state machine's definition names this function's ARN, a placeholder the
    /// template substitutes: `${CreateZoneFunctionArn}` for create-zone.
    pub fn arn_placeholder(self) -> String {
        let camel: String = self
            .function_name()
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        format!("${{{camel}FunctionArn}}")
    }

    /// The function an ASL task names by its placeholder ([`Work::arn_placeholder`]).
    pub fn of_arn_placeholder(placeholder: &str) -> Option<Work> {
        Work::ALL
            .into_iter()
            .find(|work| work.arn_placeholder() == placeholder)
    }

    /// The function's name (its folder under `functions/` and its binary).
    pub const fn function_name(self) -> &'static str {
        match self {
            Work::Preflight => "preflight",
            Work::CreateZone => "create-zone",
            Work::DelegateSubdomain => "delegate-subdomain",
            Work::SyncRecords => "sync-records",
            Work::VerifyZones => "verify-zones",
            Work::LowerNsTtl => "lower-ns-ttl",
            Work::SwapNameservers => "swap-nameservers",
            Work::CheckPropagation => "check-propagation",
            Work::CarryEdits => "carry-edits",
            Work::Cutover => "cutover",
            Work::Finalize => "finalize",
            Work::Rollback => "rollback",
        }
    }

    /// The role session name it assumes member roles with (CloudTrail shows it).
    pub fn session_name(self) -> String {
        format!("zonehop-{}", self.function_name())
    }

    /// Every Route 53 and Route 53 Domains action the step calls, in any account.
    pub fn actions(self) -> Vec<&'static str> {
        let write = ["route53:ChangeResourceRecordSets", "route53:GetChange"];
        let registration = [
            "route53domains:GetDomainDetail",
            "route53domains:UpdateDomainNameservers",
            "route53domains:GetOperationDetail",
        ];
        let mut actions: Vec<&'static str> = match self {
            Work::Preflight => [
                READ,
                &write,
                &[
                    "route53:GetDNSSEC",
                    "route53:ListHostedZonesByName",
                    "route53:GetHealthCheck",
                ],
            ]
            .concat(),
            Work::CreateZone => vec![
                "route53:GetHostedZone",
                "route53:ListHostedZonesByName",
                "route53:CreateHostedZone",
            ],
            Work::DelegateSubdomain => [
                READ,
                &write,
                &["route53:ListHostedZonesByName", "route53:CreateHostedZone"],
            ]
            .concat(),
            Work::SyncRecords
            | Work::CarryEdits
            | Work::LowerNsTtl
            | Work::Cutover
            | Work::Finalize => [READ, &write].concat(),
            Work::VerifyZones | Work::CheckPropagation => READ.to_vec(),
            Work::SwapNameservers | Work::Rollback => [READ, &write, &registration].concat(),
        };
        if self == Work::Preflight {
            actions.push("route53domains:GetDomainDetail");
        }
        actions.sort_unstable();
        actions
    }

    /// The record types the step may write, where it writes only some (`None`: any type).
    pub fn record_types(self) -> Option<&'static [&'static str]> {
        match self {
            // The canary (a TXT record) is preflight's only write.
            Work::Preflight => Some(&["TXT"]),
            // The apex NS record: its TTL, and the servers it names (in the zones, and in a
            // parent hosted zone the delegation, at the same name).
            Work::LowerNsTtl | Work::Rollback => Some(&["NS"]),
            // And a DS the parent zone may hold, removed in the same change as the NS.
            Work::SwapNameservers => Some(&["NS", "DS"]),
            Work::CreateZone | Work::VerifyZones | Work::CheckPropagation => Some(&[]),
            // finalize's last carry copies any edit (besides the apex NS TTL and the
            // canaries it removes).
            Work::DelegateSubdomain
            | Work::SyncRecords
            | Work::CarryEdits
            | Work::Cutover
            | Work::Finalize => None,
        }
    }

    /// The record names the step may write in `domain`'s zones, as the condition key
    /// `route53:ChangeResourceRecordSetsNormalizedRecordNames` spells them (lowercase, no
    /// trailing dot; `*` matches any characters under `StringLike`).
    pub fn record_names(self, domain: &Name) -> Vec<String> {
        let apex = domain.as_str().trim_end_matches('.').to_owned();
        let canary = format!("_zonehop.{apex}");
        match self {
            Work::Preflight => vec![canary],
            Work::LowerNsTtl | Work::SwapNameservers | Work::Rollback => vec![apex],
            _ => vec![apex.clone(), format!("*.{apex}")],
        }
    }

    /// Whether the step writes records at all.
    pub fn writes_records(self) -> bool {
        self.actions().contains(&"route53:ChangeResourceRecordSets")
    }
}

/// The session policy `work` asks for when it assumes a member role to act on `zone_ids` of
/// `domain` (an empty list: zones not known yet, such as the child zones delegate-subdomain
/// creates, so every zone of the account). `partition` is the role ARN's (`aws`, `aws-cn`...).
/// Within the 2,048 characters STS allows for a domain of any length (names are at most 255
/// octets; a request names at most two zones per account).
pub fn session_policy(work: Work, partition: &str, domain: &Name, zone_ids: &[&str]) -> Value {
    let zones: Vec<String> = if zone_ids.is_empty() {
        vec![format!("arn:{partition}:route53:::hostedzone/*")]
    } else {
        zone_ids
            .iter()
            .map(|id| {
                let bare = id.trim_start_matches("/hostedzone/");
                format!("arn:{partition}:route53:::hostedzone/{bare}")
            })
            .collect()
    };
    let actions = work.actions();
    let mut statements = Vec::new();
    let on_zones: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| {
            a.starts_with("route53:")
                && *a != "route53:ChangeResourceRecordSets"
                && *a != "route53:GetChange"
                && *a != "route53:GetHealthCheck"
                && !WITHOUT_RESOURCE_LEVEL_PERMISSIONS.contains(a)
        })
        .collect();
    if !on_zones.is_empty() {
        statements.push(json!({ "Effect": "Allow", "Action": on_zones, "Resource": zones }));
    }
    if work.writes_records() {
        let mut condition = json!({
            "ForAllValues:StringLike": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": work.record_names(domain)
            }
        });
        if let Some(types) = work.record_types() {
            condition["ForAllValues:StringEquals"] =
                json!({ "route53:ChangeResourceRecordSetsRecordTypes": types });
        }
        statements.push(json!({
            "Effect": "Allow",
            "Action": "route53:ChangeResourceRecordSets",
            "Resource": zones,
            "Condition": condition,
        }));
        statements.push(json!({
            "Effect": "Allow",
            "Action": "route53:GetChange",
            "Resource": format!("arn:{partition}:route53:::change/*"),
        }));
    }
    if actions.contains(&"route53:GetHealthCheck") {
        statements.push(json!({
            "Effect": "Allow",
            "Action": "route53:GetHealthCheck",
            "Resource": format!("arn:{partition}:route53:::healthcheck/*"),
        }));
    }
    let anywhere: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| WITHOUT_RESOURCE_LEVEL_PERMISSIONS.contains(a))
        .collect();
    if !anywhere.is_empty() {
        statements.push(json!({ "Effect": "Allow", "Action": anywhere, "Resource": "*" }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The partition of a role ARN (`arn:aws-cn:iam::...` is `aws-cn`); `aws` when it has none.
pub fn partition_of(role_arn: &str) -> &str {
    role_arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_is_found_by_its_placeholder_in_the_asl() {
        assert_eq!(
            Work::CreateZone.arn_placeholder(),
            "${CreateZoneFunctionArn}"
        );
        assert_eq!(
            Work::LowerNsTtl.arn_placeholder(),
            "${LowerNsTtlFunctionArn}"
        );
        for work in Work::ALL {
            assert_eq!(
                Work::of_arn_placeholder(&work.arn_placeholder()),
                Some(work)
            );
        }
        assert_eq!(Work::of_arn_placeholder("${FleetFunctionArn}"), None);
    }

    fn name(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    #[test]
    fn every_action_is_granted_by_exactly_one_statement_of_the_session_policy() {
        for work in Work::ALL {
            let policy = session_policy(work, "aws", &name("example.com"), &["Z1", "Z2"]);
            let mut granted: Vec<String> = Vec::new();
            for s in policy["Statement"].as_array().expect("statements") {
                match &s["Action"] {
                    Value::String(a) => granted.push(a.clone()),
                    Value::Array(a) => {
                        granted.extend(a.iter().map(|v| v.as_str().expect("action").to_owned()))
                    }
                    other => panic!("{other}"),
                }
            }
            granted.sort();
            let expected: Vec<String> = work.actions().iter().map(|a| (*a).to_owned()).collect();
            assert_eq!(granted, expected, "{work:?}");
        }
    }

    #[test]
    fn the_session_policy_names_the_zones_and_narrows_writes() {
        let policy = session_policy(
            Work::LowerNsTtl,
            "aws-cn",
            &name("Example.COM."),
            &["/hostedzone/ZOLD"],
        );
        let text = policy.to_string();
        assert!(
            text.contains("arn:aws-cn:route53:::hostedzone/ZOLD"),
            "{text}"
        );
        assert!(!text.contains("hostedzone/*"), "{text}");
        let write = &policy["Statement"][1];
        assert_eq!(write["Action"], "route53:ChangeResourceRecordSets");
        assert_eq!(
            write["Condition"]["ForAllValues:StringEquals"]
                ["route53:ChangeResourceRecordSetsRecordTypes"],
            json!(["NS"])
        );
        assert_eq!(
            write["Condition"]["ForAllValues:StringLike"]
                ["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
            json!(["example.com"])
        );
        let unknown = session_policy(Work::DelegateSubdomain, "aws", &name("example.com"), &[]);
        assert!(unknown
            .to_string()
            .contains("arn:aws:route53:::hostedzone/*"));
        let read_only = session_policy(Work::VerifyZones, "aws", &name("example.com"), &["Z1"]);
        assert!(!read_only.to_string().contains("ChangeResourceRecordSets"));
    }

    #[test]
    fn the_longest_domain_stays_within_the_session_policy_limit() {
        let label = "a".repeat(63);
        let long = name(&format!("{label}.{label}.{label}.{}.com", "b".repeat(57)));
        for work in Work::ALL {
            let zones = [
                "Z0123456789ABCDEFGHIJKLMNOPQRSTU",
                "Z0123456789ABCDEFGHIJKLMNOPQRSTV",
            ];
            let packed = session_policy(work, "aws-us-gov", &long, &zones).to_string();
            assert!(
                packed.len() <= 2048,
                "{work:?}: {} characters",
                packed.len()
            );
        }
    }

    #[test]
    fn partitions_come_from_the_role_arn() {
        assert_eq!(
            partition_of("arn:aws-cn:iam::111111111111:role/z"),
            "aws-cn"
        );
        assert_eq!(partition_of("arn:aws:iam::111111111111:role/z"), "aws");
        assert_eq!(partition_of("nonsense"), "aws");
    }
}
