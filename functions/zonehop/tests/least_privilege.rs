//! Least privilege, read off `infra/template.yaml` and `infra/member-role.yaml` and held to
//! `zonehop_core::access` (the table of what each step calls, which the in-memory step
//! tests check against the calls the steps really make, and which the session policies
//! are built from):
//! - each function's role grants exactly its step's Route 53 and Route 53 Domains actions;
//! - a write granted on every zone of the tooling account is narrowed by record type where
//!   the step writes only some types;
//! - `*` as a resource only for actions without resource-level permissions (the list is
//!   held here); no wildcard in any action;
//! - the functions may assume the member roles the deployment names, not `iam::*`;
//! - the member role grants the union of the steps' actions, and only to zonehop's
//!   function roles presenting the ExternalId; the functions get the deployment's
//!   ExternalId;
//! - migrations start from a bus of zonehop's own whose policy names who may put events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_norway::Value;
use zonehop::core::access::{Work, WITHOUT_RESOURCE_LEVEL_PERMISSIONS};

/// Actions granted on `*` that are not Route 53's: Step Functions' log delivery needs these
/// on `*` (AWS documents no resource-level permissions for them).
const OTHER_ACTIONS_WITHOUT_RESOURCES: &[&str] = &[
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

fn load(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A value with CloudFormation's short-form tags spelled out: `!Sub x` is `Sub:x`,
/// `!Ref X` is `Ref:X`, `!GetAtt X.Arn` is `GetAtt:X.Arn`; plain strings as they are.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) => format!(
            "{}:{}",
            tagged.tag.to_string().trim_start_matches('!'),
            text(&tagged.value)
        ),
        Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => format!("{other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// Every statement of every inline policy of the resources of `kind`, by resource name.
fn statements(template: &Value, kind: &str) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    let resources = template["Resources"].as_mapping().expect("Resources");
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some(kind) {
            continue;
        }
        let mut all = Vec::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            // `!If [condition, policy, !Ref AWS::NoValue]` in member-role.yaml.
            let policy = match policy {
                Value::Tagged(t) if t.tag == "If" => &t.value[1],
                other => other,
            };
            if let Some(list) = policy["PolicyDocument"]["Statement"].as_sequence() {
                all.extend(list.iter().cloned());
            }
        }
        out.insert(name.as_str().expect("name").to_owned(), all);
    }
    out
}

fn pascal(work: Work) -> String {
    work.function_name()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn route53_actions(statements: &[Value]) -> BTreeSet<String> {
    statements
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .filter(|a| a.starts_with("route53:") || a.starts_with("route53domains:"))
        .collect()
}

#[test]
fn each_function_role_grants_exactly_what_its_step_calls() {
    let template = load("infra/template.yaml");
    let roles = statements(&template, "AWS::IAM::Role");
    for work in Work::ALL {
        let role = format!("{}Role", pascal(work));
        let granted = route53_actions(roles.get(&role).unwrap_or_else(|| panic!("no {role}")));
        let calls: BTreeSet<String> = work.actions().iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(granted, calls, "{role} against {work:?}'s actions");
    }
}

#[test]
fn writes_on_every_zone_of_the_tooling_account_are_narrowed_by_record_type() {
    let template = load("infra/template.yaml");
    let roles = statements(&template, "AWS::IAM::Role");
    for work in Work::ALL.into_iter().filter(|w| w.writes_records()) {
        let role = format!("{}Role", pascal(work));
        let writes: Vec<&Value> = roles[&role]
            .iter()
            .filter(|s| {
                strings(&s["Action"])
                    .iter()
                    .any(|a| a == "route53:ChangeResourceRecordSets")
            })
            .collect();
        assert_eq!(writes.len(), 1, "{role}: one statement grants the write");
        let write = writes[0];
        assert_eq!(
            strings(&write["Action"]),
            ["route53:ChangeResourceRecordSets"],
            "{role}: the write has a statement of its own"
        );
        let types = &write["Condition"]["ForAllValues:StringEquals"]
            ["route53:ChangeResourceRecordSetsRecordTypes"];
        match work.record_types() {
            Some(expected) => assert_eq!(strings(types), expected, "{role}"),
            None => assert!(types.is_null(), "{role} writes any type"),
        }
    }
}

#[test]
fn no_wildcard_action_and_star_resources_only_where_iam_allows_nothing_else() {
    for path in ["infra/template.yaml", "infra/member-role.yaml"] {
        let template = load(path);
        for (role, list) in statements(&template, "AWS::IAM::Role") {
            for statement in list {
                let actions = strings(&statement["Action"]);
                for action in &actions {
                    assert!(
                        !action.contains('*'),
                        "{path} {role}: wildcard action {action}"
                    );
                }
                if strings(&statement["Resource"]).iter().any(|r| r == "*") {
                    for action in &actions {
                        assert!(
                            WITHOUT_RESOURCE_LEVEL_PERMISSIONS.contains(&action.as_str())
                                || OTHER_ACTIONS_WITHOUT_RESOURCES.contains(&action.as_str()),
                            "{path} {role}: {action} on `*`, but it has resource-level permissions"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn functions_assume_only_the_member_roles_the_deployment_names() {
    let template = load("infra/template.yaml");
    assert_eq!(
        template["Parameters"]["MemberRoleArns"]["Type"].as_str(),
        Some("CommaDelimitedList")
    );
    let mut assumers = 0;
    for (role, list) in statements(&template, "AWS::IAM::Role") {
        for statement in list {
            if strings(&statement["Action"])
                .iter()
                .any(|a| a == "sts:AssumeRole")
            {
                assumers += 1;
                assert_eq!(text(&statement["Resource"]), "Ref:MemberRoleArns", "{role}");
            }
        }
    }
    assert_eq!(
        assumers,
        Work::ALL.len(),
        "every function, and nothing else"
    );
    let raw = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"),
    )
    .expect("template");
    assert!(!raw.contains("iam::*"), "no role of any account");
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        text(&env["ZONEHOP_EXTERNAL_ID"]),
        "Ref:MemberRoleExternalId"
    );
}

#[test]
fn the_member_role_grants_the_steps_union_to_zonehops_functions_with_the_external_id() {
    let member = load("infra/member-role.yaml");
    let roles = statements(&member, "AWS::IAM::Role");
    let granted = route53_actions(&roles["MemberRole"]);
    let union: BTreeSet<String> = Work::ALL
        .iter()
        .flat_map(|w| w.actions())
        .map(str::to_owned)
        .collect();
    assert_eq!(granted, union);
    let trust = &member["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    assert_eq!(
        text(&trust["Condition"]["StringEquals"]["sts:ExternalId"]),
        "Ref:ExternalId"
    );
    assert!(text(&trust["Condition"]["ArnLike"]["aws:PrincipalArn"]).ends_with(":role/zonehop/*"));
}

#[test]
fn migrations_start_from_zonehops_own_bus_with_a_policy_on_who_may_put_events() {
    let template = load("infra/template.yaml");
    let resources = &template["Resources"];
    let rule = &resources["MigrationRequestedRule"]["Properties"];
    assert_eq!(
        strings(&rule["EventPattern"]["detail-type"]),
        ["Migration Requested"]
    );
    let bus = text(&rule["EventBusName"]);
    let bus = bus
        .strip_prefix("Ref:")
        .expect("the rule's bus is a resource of the stack");
    assert_eq!(
        resources[bus]["Type"].as_str(),
        Some("AWS::Events::EventBus")
    );
    let policy = resources
        .as_mapping()
        .expect("resources")
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::Events::EventBusPolicy")
                && text(&r["Properties"]["EventBusName"]) == format!("Ref:{bus}")
        })
        .expect("a policy on the request bus");
    let statement = &policy["Properties"]["Statement"];
    assert_eq!(statement["Effect"].as_str(), Some("Deny"));
    assert_eq!(text(&statement["Action"]), "events:PutEvents");
    assert_eq!(
        text(&statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]),
        "Ref:RequesterArns"
    );
}
