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
