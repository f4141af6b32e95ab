//! The README's state machine diagram is the state machine: its ```mermaid block is what
//! `zonehop_operator::mermaid::from_asl` makes of statemachine/migration.asl.json, and every
//! state of the ASL (the Map's inner states too) is a node of it.

use serde_json::Value;

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn mermaid_block(readme: &str) -> &str {
    let start = readme
        .find("```mermaid\n")
        .expect("the README has a ```mermaid block")
        + "```mermaid\n".len();
    let end = readme[start..].find("\n```").expect("the block ends") + start;
    &readme[start..end]
}

#[test]
fn every_state_of_the_asl_is_in_the_readmes_mermaid_diagram() {
    let asl: Value =
        serde_json::from_str(&repo_file("statemachine/migration.asl.json")).expect("the ASL");
    let readme = repo_file("README.md");
    let block = mermaid_block(&readme);
    let names = zonehop_operator::mermaid::state_names(&asl);
    assert!(names.len() >= 40, "{names:?}");
    for name in &names {
        assert!(
            block.contains(&format!("[\"{name}\"]"))
                || block.contains(&format!("{{\"{name}\"}}"))
                || block.contains(&format!("([\"{name}\"])"))
                || block.contains(&format!("[[\"{name}\"]]")),
            "the state `{name}` is not a node of the README's diagram"
        );
    }
}

#[test]
fn the_readmes_mermaid_diagram_is_generated_from_the_asl() {
    let asl: Value =
        serde_json::from_str(&repo_file("statemachine/migration.asl.json")).expect("the ASL");
    let readme = repo_file("README.md");
    let expected = zonehop_operator::mermaid::from_asl(&asl);
    // `ZONEHOP_WRITE_README=1 cargo nextest run -p zonehop-operator --test readme` writes
    // the block after an ASL change (then review the diff).
    if std::env::var_os("ZONEHOP_WRITE_README").is_some() {
        let start = readme.find(mermaid_block(&readme)).expect("the block");
        let end = start + mermaid_block(&readme).len();
        let written = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::write(root.join("README.md"), written).expect("README.md written");
        return;
    }
    assert!(
        mermaid_block(&readme) == expected,
        "the README's diagram differs from the ASL; replace the ```mermaid block with:\n{expected}"
    );
}

/// infra/template.yaml's parameters, each with whether it has a default.
fn template_parameters() -> Vec<(String, bool)> {
    let template = repo_file("infra/template.yaml");
    let section = template
        .split("\nParameters:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nConditions:").next())
        .expect("a Parameters section");
    // Each parameter: its name at two spaces, its properties at four.
    let mut parameters: Vec<(String, bool)> = Vec::new();
    for line in section.lines() {
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.strip_suffix(':'))
        {
            parameters.push((name.to_owned(), false));
        } else if line.trim_start().starts_with("Default:") {
            if let Some(last) = parameters.last_mut() {
                last.1 = true;
            }
        }
    }
    assert!(parameters.len() >= 8, "{parameters:?}");
    parameters
}

/// The README's deploy step names the template's parameters as they are: every parameter it
/// names exists in infra/template.yaml, and every parameter without a default is named.
#[test]
fn the_readmes_deploy_parameters_are_the_templates() {
    let parameters = template_parameters();
    let readme = repo_file("README.md");
    let deploy = readme
        .split("`make deploy`")
        .nth(1)
        .and_then(|rest| rest.split("The\n   outputs").next())
        .expect("the README's make deploy step");
    let named: Vec<&str> = deploy
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && w.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .collect();
    for name in &named {
        assert!(
            parameters.iter().any(|(p, _)| p == name),
            "the README names `{name}`, which infra/template.yaml does not have"
        );
    }
    for (parameter, has_default) in &parameters {
        if !has_default {
            assert!(
                named.contains(&parameter.as_str()),
                "`{parameter}` is required by the template and the README's deploy step does not name it"
            );
        }
    }
}

/// infra/README.md's parameter table and member-role.yaml's words about the tooling stack
/// name the template's parameters as they are (member-role.yaml once named a
/// `MemberRoleName` the template never had); the table lists every required one.
#[test]
fn the_infra_readme_and_the_member_role_name_the_templates_parameters() {
    let parameters = template_parameters();
    let exists = |name: &str| parameters.iter().any(|(p, _)| p == name);
    let infra_readme = repo_file("infra/README.md");
    let table: Vec<&str> = infra_readme
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .collect();
    assert!(
        table.len() >= 3,
        "infra/README.md's parameter table: {table:?}"
    );
    for name in &table {
        assert!(
            exists(name),
            "infra/README.md's table names `{name}`, which infra/template.yaml does not have"
        );
    }
    for (parameter, has_default) in &parameters {
        if !has_default {
            assert!(
                table.contains(&parameter.as_str()),
                "`{parameter}` is required by the template and infra/README.md's table does not list it"
            );
        }
    }
    let member_role = repo_file("infra/member-role.yaml");
    let mentioned: Vec<&str> = member_role
        .split("tooling stack's ")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
        .collect();
    assert!(
        !mentioned.is_empty(),
        "member-role.yaml names no tooling stack parameter"
    );
    for name in mentioned {
        assert!(
            exists(name),
            "infra/member-role.yaml names the tooling stack's `{name}`, which infra/template.yaml does not have"
        );
    }
}
