//! The state machine as a mermaid flowchart, made from the ASL itself (the README's diagram
//! is this function's output, and a test keeps them equal): every state a node (a Choice a
//! rhombus, an end a stadium, a Wait a subroutine box), every `Next`, choice rule and
//! `Default` a solid arrow, every `Catch` a dotted one, a Map's states in a subgraph.

use serde_json::Value;

/// The node id of a state: its letters and digits.
pub fn node_id(prefix: &str, name: &str) -> String {
    let id: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{prefix}{id}")
}

fn label(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// One choice rule, short: `dryRun == true`, `registrar.type == 'manual'`, `not (...)`; a
/// `...Path` test shows the other path.
pub fn rule(rule: &Value) -> String {
    if let Some(not) = rule.get("Not") {
        return format!("not ({})", self::rule(not));
    }
    for (key, joiner) in [("And", " and "), ("Or", " or ")] {
        if let Some(all) = rule.get(key).and_then(Value::as_array) {
            return all.iter().map(self::rule).collect::<Vec<_>>().join(joiner);
        }
    }
    let variable = rule["Variable"]
        .as_str()
        .unwrap_or("?")
        .trim_start_matches("$.")
        .to_owned();
    let test = rule.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
    });
    let Some((op, value)) = test else {
        return variable;
    };
    let (op, value) = match (op.strip_suffix("Path"), value) {
        (Some(op), Value::String(path)) => (op, path.trim_start_matches("$.").to_owned()),
        (_, Value::String(s)) => (op.as_str(), format!("'{s}'")),
        (_, other) => (op.as_str(), other.to_string()),
    };
    if op.starts_with("Is") {
        return format!("{variable} {op} {value}");
    }
    let symbol = match op {
        "StringEquals" | "BooleanEquals" | "NumericEquals" | "TimestampEquals" => "==",
        "NumericLessThan" | "StringLessThan" | "TimestampLessThan" => "<",
        "NumericLessThanEquals" | "StringLessThanEquals" | "TimestampLessThanEquals" => "<=",
        "NumericGreaterThan" | "StringGreaterThan" | "TimestampGreaterThan" => ">",
        "NumericGreaterThanEquals" | "StringGreaterThanEquals" | "TimestampGreaterThanEquals" => {
            ">="
        }
        other => other,
    };
    format!("{variable} {symbol} {value}")
}

fn states(out: &mut Vec<String>, asl_states: &Value, prefix: &str, indent: &str) {
    let Some(map) = asl_states.as_object() else {
        return;
    };
    // By name, whatever order serde_json keeps (its `preserve_order` feature, which another
    // crate of a build may switch on, keeps the file's order instead of sorting).
    let mut map: Vec<(&String, &Value)> = map.iter().collect();
    map.sort_by(|a, b| a.0.cmp(b.0));
    for &(name, state) in &map {
        let id = node_id(prefix, name);
        let shape = match state["Type"].as_str() {
            Some("Choice") => format!("{id}{{\"{}\"}}", label(name)),
            Some("Succeed" | "Fail") => format!("{id}([\"{}\"])", label(name)),
            Some("Wait") => format!("{id}[[\"{}\"]]", label(name)),
            _ => format!("{id}[\"{}\"]", label(name)),
        };
        out.push(format!("{indent}{shape}"));
    }
    for &(name, state) in &map {
        let id = node_id(prefix, name);
        if let Some(next) = state["Next"].as_str() {
            out.push(format!("{indent}{id} --> {}", node_id(prefix, next)));
        }
        for choice in state["Choices"].as_array().into_iter().flatten() {
            if let Some(next) = choice["Next"].as_str() {
                out.push(format!(
                    "{indent}{id} -- \"{}\" --> {}",
                    label(&rule(choice)),
                    node_id(prefix, next)
                ));
            }
        }
        if let Some(next) = state["Default"].as_str() {
            out.push(format!(
                "{indent}{id} -- \"otherwise\" --> {}",
                node_id(prefix, next)
            ));
        }
        for catch in state["Catch"].as_array().into_iter().flatten() {
            if let Some(next) = catch["Next"].as_str() {
                let errors: Vec<&str> = catch["ErrorEquals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                out.push(format!(
                    "{indent}{id} -. \"{}\" .-> {}",
                    label(&errors.join(", ")),
                    node_id(prefix, next)
                ));
            }
        }
        if let Some(inner) = state
            .pointer("/ItemProcessor/States")
            .or_else(|| state.pointer("/Iterator/States"))
        {
            let inner_prefix = format!("{id}_");
            out.push(format!(
                "{indent}subgraph {id}_each [\"{} (each item)\"]",
                label(name)
            ));
            states(out, inner, &inner_prefix, &format!("{indent}  "));
            out.push(format!("{indent}end"));
            let start = state
                .pointer("/ItemProcessor/StartAt")
                .or_else(|| state.pointer("/Iterator/StartAt"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            out.push(format!(
                "{indent}{id} -. \"each item\" .-> {}",
                node_id(&inner_prefix, start)
            ));
        }
    }
}

/// The flowchart of an ASL definition (without the fence).
pub fn from_asl(asl: &Value) -> String {
    let mut out = vec!["flowchart TD".to_owned()];
    out.push("  start((start))".to_owned());
    if let Some(first) = asl["StartAt"].as_str() {
        out.push(format!("  start --> {}", node_id("", first)));
    }
    states(&mut out, &asl["States"], "", "  ");
    out.join("\n")
}

/// Every state's name in an ASL definition, the Map's inner states too.
pub fn state_names(asl: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![asl["States"].clone()];
    while let Some(Value::Object(map)) = stack.pop() {
        for (name, state) in map {
            names.push(name.clone());
            if let Some(inner) = state
                .pointer("/ItemProcessor/States")
                .or_else(|| state.pointer("/Iterator/States"))
            {
                stack.push(inner.clone());
            }
        }
    }
    names
}
