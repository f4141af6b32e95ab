//! zonehop's templates deployed into moto as CloudFormation would deploy them
//! (`tests/world/deploy_stack.py`): infra/template.yaml through the SAM transform of
//! aws-sam-translator and moto's CloudFormation, the resource types moto's CloudFormation
//! lacks through their service's API, infra/member-role.yaml in each member account. The
//! deployment (stack, every resource by logical id with its type and how it was created,
//! each function's name, role and environment as the emulator holds them, the outputs) comes
//! back as JSON.

use std::path::Path;

use serde_json::Value;

/// The parameters `make deploy` must be given (the template's required ones), for a local
/// deployment: member roles in `members`, the tooling account's own principals as requesters.
pub fn required_parameters(members: &[&str], external_id: &str) -> Vec<(String, String)> {
    let roles: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "arn:aws:iam::{}:role/zonehop",
                m.split(':').next().unwrap_or(m)
            )
        })
        .collect();
    vec![
        ("MemberRoleArns".to_owned(), roles.join(",")),
        ("MemberRoleExternalId".to_owned(), external_id.to_owned()),
        (
            "RequesterArns".to_owned(),
            "arn:aws:iam::123456789012:*".to_owned(),
        ),
    ]
}

/// Deploys `template` (infra/template.yaml or a copy of it beside a `statemachine/`
/// directory) as stack `stack` into the moto server at `endpoint`, and member-role.yaml into
/// each of `members` (`ACCOUNT` or `ACCOUNT:registrar`). The deployment, or the script's
/// `deployment failed: ...` line.
pub async fn deploy(
    endpoint: &str,
    template: &Path,
    stack: &str,
    parameters: &[(String, String)],
    members: &[&str],
) -> Result<Value, String> {
    let mut command = tokio::process::Command::new(crate::moto::venv_python());
    command
        .arg(crate::repo_root().join("tests/world/deploy_stack.py"))
        .args(["--endpoint", endpoint, "--stack", stack])
        .arg("--template")
        .arg(template);
    for (key, value) in parameters {
        command.args(["--parameter", &format!("{key}={value}")]);
    }
    for member in members {
        command.args(["--member", member]);
    }
    let out = command
        .output()
        .await
        .map_err(|e| format!("cannot run deploy_stack.py: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(stderr
            .lines()
            .find(|l| l.starts_with("deployment failed: "))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("deploy_stack.py failed: {stderr}")));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("deploy_stack.py printed no JSON: {e}"))
}
