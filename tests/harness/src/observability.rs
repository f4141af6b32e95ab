//! Observability held to what the functions really print: every metric an alarm (or the
//! dashboard) of `infra/template.yaml` watches must be one that something emits, with the
//! namespace, name and dimensions the alarm names:
//! - a CloudWatch embedded-metric-format line a function printed (check-propagation's round
//!   metrics), read from a run's `functions.log`;
//! - or a metric filter of the template whose pattern matches a line that the function whose
//!   log group it reads printed in that run;
//! - or, for a namespace `AWS/...`, the service itself, about a resource of the stack (the
//!   dimension's value is a `!Ref` to one of the template's resources).
//!
//! An alarm on a metric nobody emits, with other dimensions than the emitter's, or a filter
//! whose pattern matches no line of its function, is a problem, named.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;
use serde_norway::Value;

/// A CloudWatch metric as an alarm names it and an emitter emits it: its dimensions are a
/// set of names (CloudWatch keeps a series per exact dimension set).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Metric {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeSet<String>,
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dimensions: Vec<&str> = self.dimensions.iter().map(String::as_str).collect();
        write!(
            f,
            "{}/{} [{}]",
            self.namespace,
            self.name,
            dimensions.join(",")
        )
    }
}

/// A metric one of the template's resources watches; `dimension_refs` are the dimensions'
/// values that are `!Ref`s (by dimension name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The alarm's (or dashboard's) logical id.
    pub by: String,
    pub metric: Metric,
    pub dimension_refs: BTreeMap<String, String>,
}

/// A metric filter of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFilter {
    pub logical_id: String,
    /// The logical id of the log group it reads.
    pub log_group: String,
    pub pattern: String,
    pub metrics: Vec<Metric>,
}

/// What the check found, when it passed: for each watched metric, what emits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// "<by>: <metric> <- <emitter>", one per watched metric.
    pub lines: Vec<String>,
}

/// The repository's `infra/template.yaml`, parsed.
pub fn repo_template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tag_value<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        Value::Mapping(map) if map.len() == 1 => {
            map.get(format!("Fn::{tag}").as_str()).or_else(|| {
                if tag == "Ref" {
                    map.get("Ref")
                } else {
                    None
                }
            })
        }
        _ => None,
    }
}

/// The logical id a `!Ref X` (or `{"Ref": "X"}`) names.
fn reference(value: &Value) -> Option<String> {
    tag_value(value, "Ref")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A string, or the template text of a `!Sub` of a string.
fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .or_else(|| tag_value(value, "Sub").and_then(Value::as_str))
        .map(str::to_owned)
}

fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .filter_map(|(id, resource)| Some((id.as_str()?.to_owned(), resource)))
        .collect()
}

/// `Namespace`, `MetricName`, `Dimensions` of an alarm's properties or a `MetricStat.Metric`.
fn metric_of(by: &str, value: &Value) -> Result<Watched, String> {
    let field = |key: &str| {
        value[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{by}: {key} is not a plain string"))
    };
    let mut dimensions = BTreeSet::new();
    let mut dimension_refs = BTreeMap::new();
    for dimension in value["Dimensions"].as_sequence().into_iter().flatten() {
        let name = dimension["Name"]
            .as_str()
            .ok_or_else(|| format!("{by}: a dimension without a Name"))?;
        dimensions.insert(name.to_owned());
        if let Some(target) = reference(&dimension["Value"]) {
            dimension_refs.insert(name.to_owned(), target);
        }
    }
    Ok(Watched {
        by: by.to_owned(),
        metric: Metric {
            namespace: field("Namespace")?,
            name: field("MetricName")?,
            dimensions,
        },
        dimension_refs,
    })
}

/// The metric of a Metrics Insights query `SELECT FN(Name) FROM SCHEMA("ns", D1, D2)`
/// (a query with WHERE, GROUP BY or a bare namespace is not read here: an error).
fn metric_of_query(by: &str, query: &str) -> Result<Metric, String> {
    let unreadable = || format!("{by}: a query this check cannot read: {query}");
    let rest = query
        .trim()
        .strip_prefix("SELECT ")
        .ok_or_else(unreadable)?;
    let open = rest.find('(').ok_or_else(unreadable)?;
    let close = rest.find(')').ok_or_else(unreadable)?;
    let name = rest[open + 1..close].trim().to_owned();
    let from = rest[close + 1..]
        .trim()
        .strip_prefix("FROM SCHEMA(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(unreadable)?;
    let mut parts = from
        .split(',')
        .map(|p| p.trim().trim_matches('"').to_owned());
    let namespace = parts.next().ok_or_else(unreadable)?;
    Ok(Metric {
        namespace,
        name,
        dimensions: parts.collect(),
    })
}

/// The metrics a dashboard body's `SEARCH('{ns,D1} MetricName="X"', ...)` expressions name.
fn metrics_of_searches(by: &str, body: &str) -> Result<Vec<Metric>, String> {
    let body = body.replace('\\', "");
    let mut out = Vec::new();
    for search in body.split("SEARCH('").skip(1) {
        let unreadable = || format!("{by}: a SEARCH this check cannot read: {search}");
        let schema = search
            .strip_prefix('{')
            .and_then(|s| s.split('}').next())
            .ok_or_else(unreadable)?;
        let mut parts = schema
            .split(',')
            .map(|p| p.trim().trim_matches('"').to_owned());
        let namespace = parts.next().ok_or_else(unreadable)?;
        let name = search
            .split("MetricName=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .ok_or_else(unreadable)?
            .to_owned();
        out.push(Metric {
            namespace,
            name,
            dimensions: parts.collect(),
        });
    }
    Ok(out)
}

/// Every metric the template's alarms and dashboards watch.
pub fn watched_metrics(template: &Value) -> Result<Vec<Watched>, String> {
    let mut out = Vec::new();
    for (id, alarm) in resources(template, "AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        if !properties["MetricName"].is_null() {
            out.push(metric_of(&id, properties)?);
        }
        for metric in properties["Metrics"].as_sequence().into_iter().flatten() {
            if !metric["MetricStat"].is_null() {
                out.push(metric_of(&id, &metric["MetricStat"]["Metric"])?);
            } else if let Some(expression) = metric["Expression"].as_str() {
                if expression.trim_start().starts_with("SELECT") {
                    out.push(Watched {
                        by: id.clone(),
                        metric: metric_of_query(&id, expression)?,
                        dimension_refs: BTreeMap::new(),
                    });
                } else if expression.contains('(') {
                    // Math over the other entries' ids is fine; a function (SEARCH,
                    // METRICS, ...) would name metrics this check does not read.
                    return Err(format!(
                        "{id}: an expression this check cannot read: {expression}"
                    ));
                }
            }
        }
    }
    for (id, dashboard) in resources(template, "AWS::CloudWatch::Dashboard") {
        let body = text(&dashboard["Properties"]["DashboardBody"])
            .ok_or_else(|| format!("{id}: DashboardBody is not a string or a !Sub"))?;
        for metric in metrics_of_searches(&id, &body)? {
            out.push(Watched {
                by: id.clone(),
                metric,
                dimension_refs: BTreeMap::new(),
            });
        }
    }
    Ok(out)
}

/// The template's metric filters.
pub fn metric_filters(template: &Value) -> Result<Vec<MetricFilter>, String> {
    let mut out = Vec::new();
    for (id, filter) in resources(template, "AWS::Logs::MetricFilter") {
        let properties = &filter["Properties"];
        let log_group = reference(&properties["LogGroupName"])
            .ok_or_else(|| format!("{id}: LogGroupName is not a !Ref to a log group"))?;
        let pattern = properties["FilterPattern"]
            .as_str()
            .ok_or_else(|| format!("{id}: FilterPattern is not a string"))?
            .to_owned();
        let mut metrics = Vec::new();
        for transformation in properties["MetricTransformations"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let field = |key: &str| {
                transformation[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{id}: {key} is not a string"))
            };
            metrics.push(Metric {
                namespace: field("MetricNamespace")?,
                name: field("MetricName")?,
                dimensions: transformation["Dimensions"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, _)| k.as_str().map(str::to_owned))
                    .collect(),
            });
        }
        out.push(MetricFilter {
            logical_id: id,
            log_group,
            pattern,
            metrics,
        });
    }
    Ok(out)
}

/// The binary (step) of each function by the logical id of its log group.
pub fn functions_by_log_group(template: &Value) -> BTreeMap<String, String> {
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(_, function)| {
            let group = reference(&function["Properties"]["LoggingConfig"]["LogGroup"])?;
            let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str()?;
            Some((group, binary.to_owned()))
        })
        .collect()
}

/// The metrics of one embedded-metric-format document, if `line` is one: each metric of
/// each directive, once per dimension set; a metric or a dimension the document names
/// without its value is an error.
pub fn emf_metrics(line: &Json) -> Result<Vec<Metric>, String> {
    let Some(directives) = line["_aws"]["CloudWatchMetrics"].as_array() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"]
            .as_str()
            .ok_or("an EMF directive without a Namespace")?;
        let sets: Vec<BTreeSet<String>> = directive["Dimensions"]
            .as_array()
            .ok_or("an EMF directive without Dimensions")?
            .iter()
            .map(|set| {
                set.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .collect();
        for set in &sets {
            if let Some(missing) = set.iter().find(|d| !line[d.as_str()].is_string()) {
                return Err(format!(
                    "an EMF line without its dimension {missing}: {line}"
                ));
            }
        }
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"]
                .as_str()
                .ok_or("an EMF metric without a Name")?;
            if !line[name].is_number() {
                return Err(format!("an EMF line without a value of {name}: {line}"));
            }
            for set in &sets {
                out.push(Metric {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    dimensions: set.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Whether CloudWatch Logs' filter `pattern` matches the JSON log line `line`. Only the
/// form the template uses is read, `{ $.a.b = "text" }` with an optional trailing `*`
/// (a prefix); any other pattern is an error, so that a new one is taught here rather than
/// passed unread.
pub fn pattern_matches(pattern: &str, line: &Json) -> Result<bool, String> {
    let unreadable = || format!("a filter pattern this check cannot read: {pattern}");
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .ok_or_else(unreadable)?;
    let (selector, wanted) = inner.split_once('=').ok_or_else(unreadable)?;
    let path = selector.trim().strip_prefix("$.").ok_or_else(unreadable)?;
    if path.contains(['[', '*', '!', '<', '>']) || wanted.starts_with('=') {
        return Err(unreadable());
    }
    let wanted = wanted
        .trim()
        .strip_prefix('"')
        .and_then(|w| w.strip_suffix('"'))
        .ok_or_else(unreadable)?;
    let mut value = line;
    for key in path.split('.') {
        value = &value[key];
    }
    let Some(value) = value.as_str() else {
        return Ok(false);
    };
    Ok(match wanted.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => value == wanted,
    })
}

/// The step (function binary) a tracing JSON line was logged in, from its spans.
fn step_of(line: &Json) -> Option<&str> {
    line["span"]["step"].as_str().or_else(|| {
        line["spans"]
            .as_array()?
            .iter()
            .find_map(|span| span["step"].as_str())
    })
}

/// Checks every metric the template watches against a run's `functions.log`: the evidence
/// for each, or every problem found, one line each.
pub fn check(template: &Value, functions_log: &str) -> Result<Evidence, Vec<String>> {
    let mut problems = Vec::new();
    let watched = watched_metrics(template).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    let filters = metric_filters(template).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    let steps = functions_by_log_group(template);
    let resource_ids: BTreeSet<&str> = template["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(id, _)| id.as_str())
        .collect();

    let lines: Vec<Json> = functions_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l.trim()).ok())
        .filter(Json::is_object)
        .collect();
    let mut emitted: BTreeMap<Metric, usize> = BTreeMap::new();
    for line in &lines {
        match emf_metrics(line) {
            Ok(metrics) => {
                for metric in metrics {
                    *emitted.entry(metric).or_default() += 1;
                }
            }
            Err(e) => problems.push(e),
        }
    }

    let mut evidence = Evidence::default();
    for watched in &watched {
        let metric = &watched.metric;
        let by = &watched.by;
        if metric.namespace.starts_with("AWS/") {
            // A service's own metric: it must be about a resource of this stack.
            let unknown: Vec<&String> = watched
                .dimension_refs
                .values()
                .filter(|id| !resource_ids.contains(id.as_str()))
                .collect();
            if watched.dimension_refs.is_empty() || !unknown.is_empty() {
                problems.push(format!(
                    "{by} watches {metric}, a service metric that names no resource of the stack"
                ));
            } else {
                evidence.lines.push(format!(
                    "{by}: {metric} <- {} about {}",
                    metric.namespace,
                    watched
                        .dimension_refs
                        .values()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            continue;
        }
        if let Some(count) = emitted.get(metric) {
            evidence
                .lines
                .push(format!("{by}: {metric} <- {count} embedded-metric lines"));
            continue;
        }
        let makers: Vec<&MetricFilter> = filters
            .iter()
            .filter(|f| f.metrics.contains(metric))
            .collect();
        if makers.is_empty() {
            let same_name: Vec<String> = emitted
                .keys()
                .filter(|m| m.name == metric.name)
                .map(ToString::to_string)
                .collect();
            problems.push(format!(
                "{by} watches {metric}, which no function emitted in this run and no metric filter makes{}",
                if same_name.is_empty() {
                    String::new()
                } else {
                    format!(" (emitted: {})", same_name.join("; "))
                }
            ));
            continue;
        }
        for filter in makers {
            let Some(step) = steps.get(&filter.log_group) else {
                problems.push(format!(
                    "{}: its log group {} is no function's",
                    filter.logical_id, filter.log_group
                ));
                continue;
            };
            let mut matched = 0;
            for line in lines.iter().filter(|l| step_of(l) == Some(step.as_str())) {
                match pattern_matches(&filter.pattern, line) {
                    Ok(true) => matched += 1,
                    Ok(false) => {}
                    Err(e) => {
                        problems.push(format!("{}: {e}", filter.logical_id));
                        break;
                    }
                }
            }
            if matched == 0 {
                problems.push(format!(
                    "{by} watches {metric}, made by {} from {step}'s log, whose pattern {} matched no line {step} printed in this run",
                    filter.logical_id, filter.pattern
                ));
            } else {
                evidence.lines.push(format!(
                    "{by}: {metric} <- {} on {matched} lines of {step}",
                    filter.logical_id
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(evidence)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        repo_template()
    }

    /// A check-propagation round's line, from the function's own code, and a carry-edits
    /// conflict as the runtime's JSON logging prints it.
    fn log() -> String {
        let domain = zonehop::Name::parse("example.com").expect("name");
        let emf = zonehop::steps::check_propagation::metrics_line(
            "zonehop", &domain, 1_000, 2, 2, 0, None,
        );
        let conflict = json!({"level": "WARN", "fields": {
            "message": "conflict: the record set changed differently in both zones; the new side's version wins"},
            "target": "zonehop::ports::carry",
            "span": {"step": "carry-edits", "domain": "example.com", "execution": "x", "name": "zonehop"}});
        format!("{emf}\n{conflict}\n")
    }

    #[test]
    fn the_templates_alarms_and_dashboard_are_read() {
        let watched = watched_metrics(&template()).expect("readable");
        let names: BTreeSet<String> = watched.iter().map(|w| w.metric.to_string()).collect();
        for expected in [
            "zonehop/SecondsToSafe [Domain]",
            "zonehop/SilentResolvers [Domain]",
            "zonehop/DriftConflicts []",
            "AWS/States/ExecutionsFailed [StateMachineArn]",
            "zonehop/ParentServersOnNew [Domain]",
        ] {
            assert!(names.contains(expected), "{expected}: {names:?}");
        }
    }

    #[test]
    fn the_emitters_lines_satisfy_every_alarm() {
        let evidence = check(&template(), &log()).unwrap_or_else(|p| panic!("{}", p.join("\n")));
        assert!(evidence.lines.len() >= 8, "{evidence:?}");
    }

    #[test]
    fn an_alarm_on_a_metric_nobody_emits_fails_by_name() {
        let mut template = template();
        let alarm: Value = serde_norway::from_str(
            "Type: AWS::CloudWatch::Alarm\nProperties:\n  Namespace: zonehop\n  MetricName: ResolversOnOld\n  Dimensions: [{Name: Domain, Value: x}]\n",
        )
        .expect("yaml");
        template["Resources"]
            .as_mapping_mut()
            .expect("resources")
            .insert(Value::from("BogusAlarm"), alarm);
        let problems = check(&template, &log()).expect_err("fails");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("BogusAlarm watches zonehop/ResolversOnOld")),
            "{problems:?}"
        );
    }

    #[test]
    fn other_dimensions_than_the_emitters_fail() {
        let domain = zonehop::Name::parse("example.com").expect("name");
        let mut line: Json =
            serde_json::from_str(&zonehop::steps::check_propagation::metrics_line(
                "zonehop", &domain, 1_000, 2, 2, 0, None,
            ))
            .expect("json");
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["Domain", "Step"]]);
        line["Step"] = json!("check-propagation");
        let log = log().replacen(
            &log().lines().next().unwrap_or_default().to_owned(),
            &line.to_string(),
            1,
        );
        let problems = check(&template(), &log).expect_err("fails");
        assert!(
            problems.iter().any(
                |p| p.contains("zonehop/SecondsToSafe [Domain]") && p.contains("[Domain,Step]")
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn a_filter_whose_function_printed_no_matching_line_fails() {
        let only_emf: String = log().lines().next().unwrap_or_default().to_owned();
        let problems = check(&template(), &only_emf).expect_err("fails");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("DriftConflictAlarm") && p.contains("carry-edits")),
            "{problems:?}"
        );
        // The same line from another step does not count for carry-edits' log group.
        let elsewhere = log().replace("\"carry-edits\"", "\"finalize\"");
        assert!(check(&template(), &elsewhere).is_err());
    }

    #[test]
    fn filter_patterns_match_as_cloudwatch_does_or_are_refused() {
        let line = json!({"fields": {"message": "conflict: x"}});
        assert_eq!(
            pattern_matches(r#"{ $.fields.message = "conflict:*" }"#, &line),
            Ok(true)
        );
        assert_eq!(
            pattern_matches(r#"{ $.fields.message = "conflict:" }"#, &line),
            Ok(false)
        );
        assert_eq!(
            pattern_matches(r#"{ $.fields.other = "conflict:*" }"#, &line),
            Ok(false)
        );
        assert!(pattern_matches(r#""conflict""#, &line).is_err());
        assert!(pattern_matches(r#"{ $.fields.message != "x" }"#, &line).is_err());
    }
}
