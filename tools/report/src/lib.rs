//! A rehearsal's `report.json` as one self-contained HTML page for an operator: the status
//! and error first, then the phases (table and chart), propagation round by round (chart),
//! the verification, the answers observed, the cost, faults, drift, the registration and
//! what to decommission when.
//!
//! The page fetches nothing: its CSS is inline and its charts are inline SVG drawn by
//! plotters. Every field of the report may be missing or null; every text taken from the
//! report is escaped.

mod charts;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use charts::{PhaseBar, PhaseState, Propagation, RoundPoint};

/// How long the old zone stays after `safeAt`: resolvers and the parent may still hold
/// answers from the old side until then (the margin finalize's checklist asks for).
pub const KEEP_OLD_ZONE_HOURS: i64 = 48;

/// `text` with the characters that mean something in HTML (text or attribute values)
/// replaced by their entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
table { border-collapse: collapse; margin: .4rem 0; font-size: .92rem; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: .9em; }
.banner { border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; border: 2px solid; }
.ok { background: #e8f5ec; border-color: #1b7f3b; }
.bad { background: #fdecee; border-color: #c0212f; }
.warn { background: #fff6e0; border-color: #d98e04; }
.status { font-weight: 700; font-size: 1.3rem; }
.muted { color: #777; }
.error dt { font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .4rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
figure { margin: .8rem 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e3e3e3; }
figcaption { font-size: .88rem; color: #555; }
ul.checklist li { margin: .3rem 0; }
";

/// The page for `report` (see the crate's doc). Never panics, whatever the JSON.
pub fn render_html(report: &Value) -> String {
    let domain = text(&report["domain"]);
    let title = match &domain {
        Some(d) => format!("zonehop report: {d}"),
        None => "zonehop report".to_owned(),
    };
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(&format!("<title>{}</title>\n", escape(&title)));
    page.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    page.push_str(&header(report, domain.as_deref()));
    page.push_str(&run_facts(report));
    page.push_str(&phases_section(&report["phases"]));
    page.push_str(&propagation_section(&report["propagation"]));
    page.push_str(&verification_section(&report["verification"]));
    page.push_str(&observed_section(&report["observed"]));
    page.push_str(&cost_section(report));
    page.push_str(&list_section(
        "faults",
        "Faults",
        &report["faults"],
        "no faults recorded",
    ));
    page.push_str(&list_section(
        "drift",
        "Drift",
        &report["drift"],
        "no drift recorded",
    ));
    page.push_str(&registration_section(&report["registration"]));
    page.push_str(&decommission_section(report));
    page.push_str("</body>\n</html>\n");
    page
}

// ----------------------------------------------------------------------------------------
// Values
// ----------------------------------------------------------------------------------------

/// A string, or a number or boolean as text; nothing for null, arrays and objects.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An ISO 8601 timestamp (or seconds since the epoch) as UTC.
fn time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && s.abs() < 1e12)
            .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64)),
        _ => None,
    }
}

fn show_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A timestamp as shown: parsed and formatted, else the raw text, else a dash.
fn time_html(v: &Value) -> String {
    match (time(v), text(v)) {
        (Some(t), _) => escape(&show_time(t)),
        (None, Some(raw)) => escape(&raw),
        (None, None) => dash(),
    }
}

fn dash() -> String {
    "<span class=\"muted\">—</span>".to_owned()
}

fn muted(what: &str) -> String {
    format!("<p class=\"muted\">{}</p>\n", escape(what))
}

fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_owned();
    }
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 3_600.0 {
        format!(
            "{} min {:02} s",
            (seconds / 60.0) as u64,
            (seconds % 60.0) as u64
        )
    } else {
        format!(
            "{} h {:02} min",
            (seconds / 3_600.0) as u64,
            ((seconds % 3_600.0) / 60.0) as u64
        )
    }
}

/// Any JSON value as HTML: scalars as text, arrays of objects as a table, other arrays as
/// a list, objects as a key/value table. `key` tells how to show a number (`usd...`: dollars).
fn value_html(key: &str, v: &Value, depth: usize) -> String {
    match v {
        Value::Null => dash(),
        Value::Bool(b) => escape(if *b { "yes" } else { "no" }),
        Value::Number(n) => {
            if key.starts_with("usd") {
                escape(&format!("${n}"))
            } else {
                escape(&n.to_string())
            }
        }
        Value::String(_) if key == "at" || key.ends_with("At") => time_html(v),
        Value::String(s) => escape(s),
        Value::Array(items) if items.is_empty() => "<span class=\"muted\">none</span>".to_owned(),
        _ if depth >= 4 => format!("<code>{}</code>", escape(&v.to_string())),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            objects_table(items, depth + 1)
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| value_html(key, i, depth + 1))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => {
            let mut out = String::from("<ul>");
            for item in items {
                out.push_str(&format!("<li>{}</li>", value_html(key, item, depth + 1)));
            }
            out.push_str("</ul>");
            out
        }
        Value::Object(map) if map.len() > 1 && map.values().all(Value::is_object) => {
            keyed_table(map, depth + 1)
        }
        Value::Object(map) => fields_table(map, depth + 1),
    }
}

/// An object of objects (`byFunction`, `perResolver`) as one table: a row per key, a
/// column per field of the inner objects.
fn keyed_table(map: &Map<String, Value>, depth: usize) -> String {
    let rows: Vec<Value> = map
        .iter()
        .map(|(key, inner)| {
            let mut row = Map::new();
            row.insert(String::new(), Value::String(key.clone()));
            row.extend(
                inner
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            Value::Object(row)
        })
        .collect();
    objects_table(&rows, depth)
}

/// An object as a two-column table: field, value.
fn fields_table(map: &Map<String, Value>, depth: usize) -> String {
    if map.is_empty() {
        return "<span class=\"muted\">empty</span>".to_owned();
    }
    // Scalars first, then the nested values.
    let mut fields: Vec<(&String, &Value)> = map.iter().collect();
    fields.sort_by_key(|(_, v)| v.is_object() || v.is_array());
    let mut out = String::from("<table>\n");
    for (key, v) in fields {
        let class = if v.is_number() { " class=\"num\"" } else { "" };
        out.push_str(&format!(
            "<tr><th><code>{}</code></th><td{class}>{}</td></tr>\n",
            escape(key),
            value_html(key, v, depth)
        ));
    }
    out.push_str("</table>\n");
    out
}

/// Objects as a table whose columns are their fields, in order of first appearance.
fn objects_table(items: &[Value], depth: usize) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        for key in item.as_object().into_iter().flat_map(Map::keys) {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut out = String::from("<table>\n<tr>");
    for c in &columns {
        out.push_str(&format!("<th><code>{}</code></th>", escape(c)));
    }
    out.push_str("</tr>\n");
    for item in items {
        out.push_str("<tr>");
        for c in &columns {
            let v = &item[*c];
            let class = if v.is_number() { " class=\"num\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", value_html(c, v, depth)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A `<dl>` of the facts that are there (value HTML given, already escaped).
fn facts(rows: &[(&str, Option<String>)]) -> String {
    let present: Vec<&(&str, Option<String>)> = rows.iter().filter(|(_, v)| v.is_some()).collect();
    if present.is_empty() {
        return String::new();
    }
    let mut out = String::from("<dl class=\"facts\">\n");
    for (name, v) in present {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            escape(name),
            v.as_deref().unwrap_or_default()
        ));
    }
    out.push_str("</dl>\n");
    out
}

/// Some(HTML) of a value that is there (not null).
fn present(key: &str, v: &Value) -> Option<String> {
    (!v.is_null()).then(|| value_html(key, v, 1))
}

// ----------------------------------------------------------------------------------------
// Sections
// ----------------------------------------------------------------------------------------

fn header(report: &Value, domain: Option<&str>) -> String {
    let status = text(&report["status"]).unwrap_or_else(|| "UNKNOWN".to_owned());
    let error = &report["error"];
    let class = match status.as_str() {
        "SUCCEEDED" => "ok",
        "FAILED" | "ABORTED" | "TIMED_OUT" => "bad",
        _ => "warn",
    };
    let mut out = format!("<header id=\"status\" class=\"banner {class}\">\n");
    out.push_str(&format!(
        "<h1>zonehop migration{}</h1>\n",
        domain
            .map(|d| format!(" of <code>{}</code>", escape(d)))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "<div>status: <span class=\"status\">{}</span></div>\n",
        escape(&status)
    ));
    if !error.is_null() {
        let rolled_back = match &error["rolledBack"] {
            Value::Bool(true) => Some(
                "yes: the registration and the old apex NS point at the old zone again".to_owned(),
            ),
            Value::Bool(false) => Some("no".to_owned()),
            _ => None,
        };
        out.push_str("<dl class=\"facts error\" id=\"error\">\n");
        out.push_str(&format!(
            "<dt>error</dt><dd><strong>{}</strong></dd>\n",
            text(&error["errorType"])
                .or_else(|| text(error))
                .map(|t| escape(&t))
                .unwrap_or_else(dash)
        ));
        if let Some(cause) = text(&error["cause"]) {
            out.push_str(&format!("<dt>cause</dt><dd>{}</dd>\n", escape(&cause)));
        }
        if let Some(r) = rolled_back {
            out.push_str(&format!("<dt>rolled back</dt><dd>{}</dd>\n", escape(&r)));
        }
        out.push_str("</dl>\n");
    }
    out.push_str("</header>\n");
    out
}

fn run_facts(report: &Value) -> String {
    let zones = &report["zones"];
    let rows = [
        (
            "execution",
            present("executionArn", &report["executionArn"]),
        ),
        ("zone file", present("zoneFile", &report["zoneFile"])),
        ("old (source) zone", present("source", &zones["source"])),
        ("new (target) zone", present("target", &zones["target"])),
        (
            "kept in source",
            present("keepInSource", &report["keepInSource"]),
        ),
        ("registrar", present("registrar", &report["registrar"])),
        (
            "rehearsal took",
            report["rehearsalSeconds"].as_f64().map(duration),
        ),
        ("zone exports", present("zoneFiles", &report["zoneFiles"])),
    ];
    let body = facts(&rows);
    if body.is_empty() {
        return String::new();
    }
    format!("<section id=\"run\">\n<h2>Run</h2>\n{body}</section>\n")
}

fn phases_section(phases: &Value) -> String {
    let mut out = String::from("<section id=\"phases\">\n<h2>Phases</h2>\n");
    let Some(list) = phases.as_array().filter(|l| !l.is_empty()) else {
        out.push_str(&muted("no phases recorded"));
        out.push_str("</section>\n");
        return out;
    };
    out.push_str("<table>\n<tr><th>#</th><th>phase</th><th>started</th><th>ended</th><th>took</th><th>status</th></tr>\n");
    let mut bars = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let name = text(&p["name"]).unwrap_or_else(|| "?".to_owned());
        let status = text(&p["status"]);
        let (start, end) = (time(&p["startedAt"]), time(&p["endedAt"]));
        let took = match (start, end) {
            (Some(s), Some(e)) => escape(&duration((e - s).num_milliseconds() as f64 / 1000.0)),
            _ => dash(),
        };
        out.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{took}</td><td>{}</td></tr>\n",
            i + 1,
            escape(&name),
            time_html(&p["startedAt"]),
            time_html(&p["endedAt"]),
            status.as_deref().map(escape).unwrap_or_else(dash)
        ));
        if let Some(start) = start {
            let state = match status.as_deref() {
                Some("FAILED") => PhaseState::Failed,
                Some("SUCCEEDED") => PhaseState::Succeeded,
                _ if end.is_some() => PhaseState::Succeeded,
                _ => PhaseState::Running,
            };
            bars.push(PhaseBar {
                label: name,
                start,
                end,
                state,
            });
        }
    }
    out.push_str("</table>\n");
    out.push_str(&figure(
        "phases-chart",
        charts::phases_svg(&bars),
        "Phases over time (UTC): green succeeded, red failed, amber still running or not ended.",
        "no phase has a start time: no chart",
    ));
    out.push_str("</section>\n");
    out
}

fn figure(id: &str, svg: Option<Result<String, String>>, caption: &str, none: &str) -> String {
    match svg {
        Some(Ok(svg)) => format!(
            "<figure id=\"{id}\">\n{svg}<figcaption>{}</figcaption>\n</figure>\n",
            escape(caption)
        ),
        Some(Err(e)) => muted(&format!("the chart could not be drawn: {e}")),
        None => muted(none),
    }
}

/// A count from a round: a finite number, not negative.
fn count(v: &Value) -> Option<f64> {
    v.as_f64().filter(|n| n.is_finite() && *n >= 0.0)
}

fn propagation_section(p: &Value) -> String {
    let mut out = String::from("<section id=\"propagation\">\n<h2>Propagation</h2>\n");
    if !p.is_object() {
        out.push_str(&muted("no propagation data"));
        out.push_str("</section>\n");
        return out;
    }
    let parent = match (text(&p["parentServersOnNew"]), text(&p["parentServers"])) {
        (Some(on), Some(all)) => Some(escape(&format!("{on} of {all} on the new side"))),
        (Some(on), None) => Some(escape(&format!("{on} on the new side"))),
        _ => None,
    };
    out.push_str(&facts(&[
        (
            "parent switch seen",
            (!p["parentSwitchSeenAt"].is_null()).then(|| time_html(&p["parentSwitchSeenAt"])),
        ),
        (
            "safe at (safeAt)",
            (!p["safeAt"].is_null()).then(|| time_html(&p["safeAt"])),
        ),
        (
            "declared safe",
            (!p["completedAt"].is_null()).then(|| time_html(&p["completedAt"])),
        ),
        ("rounds", present("rounds", &p["rounds"])),
        ("parent servers", parent),
    ]));
    if p["safeAt"].is_null() {
        out.push_str(&muted(
            "safeAt is not known: the parent switch was never seen, so the old side must not be retired",
        ));
    }
    if let Some(resolvers) = p["resolvers"].as_array().filter(|r| !r.is_empty()) {
        out.push_str("<h3>Probe resolvers (last round)</h3>\n<table>\n<tr><th>resolver</th><th>address</th><th>side</th><th>moved at</th></tr>\n");
        for r in resolvers {
            out.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                text(&r["name"]).map(|t| escape(&t)).unwrap_or_else(dash),
                text(&r["address"]).map(|t| escape(&t)).unwrap_or_default(),
                text(&r["side"]).map(|t| escape(&t)).unwrap_or_else(dash),
                time_html(&r["movedAt"]),
            ));
        }
        out.push_str("</table>\n");
    }
    let rounds: Vec<RoundPoint> = p["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(RoundPoint {
                at: time(&r["at"])?,
                parent_on_new: count(&r["parentOnNew"]),
                parent_total: count(&r["parentTotal"]),
                resolvers_on_new: count(&r["resolversOnNew"]),
                resolvers_total: count(&r["resolversTotal"]),
            })
        })
        .collect();
    let chart = Propagation {
        rounds,
        safe_at: time(&p["safeAt"]),
        parent_switch: time(&p["parentSwitchSeenAt"]),
    };
    out.push_str(&figure(
        "propagation-chart",
        charts::propagation_svg(&chart),
        "Each check-propagation round: parent (TLD) servers that delegate to the new zone (dots) and probe resolvers that answer the new side's canary (rings). Dashed purple: the parent switch was seen; green: safeAt, from when nothing cached can come from the old side.",
        "no per-round propagation timeline in this report",
    ));
    out.push_str("</section>\n");
    out
}

fn verification_section(v: &Value) -> String {
    let mut out = String::from("<section id=\"verification\">\n<h2>Verification</h2>\n");
    let Some(map) = v.as_object() else {
        out.push_str(&muted("no verification in this report"));
        out.push_str("</section>\n");
        return out;
    };
    out.push_str(&facts(&[
        (
            "RRsets compared",
            present("rrsetsCompared", &v["rrsetsCompared"]),
        ),
        ("status", present("status", &v["status"])),
        ("error", present("error", &v["error"])),
    ]));
    match v["differences"].as_array() {
        Some(d) if !d.is_empty() => {
            out.push_str(&format!(
                "<h3>{} difference(s) between the old and the new zone</h3>\n{}",
                d.len(),
                value_html("differences", &v["differences"], 1)
            ));
        }
        Some(_) => out.push_str("<p>no differences: every RRset answered alike</p>\n"),
        None => out.push_str(&muted("differences not listed")),
    }
    let others: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| {
            !["rrsetsCompared", "status", "error", "differences"].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !others.is_empty() {
        out.push_str(&fields_table(&others, 1));
    }
    out.push_str("</section>\n");
    out
}

const OBSERVED_FIELDS: [&str; 5] = ["queries", "wrong", "servfail", "nxdomain", "timeouts"];

fn observed_section(o: &Value) -> String {
    let mut out =
        String::from("<section id=\"observed\">\n<h2>Answers observed during the migration</h2>\n");
    if !o.is_object() {
        out.push_str(&muted("not measured"));
        out.push_str("</section>\n");
        return out;
    }
    out.push_str("<table>\n<tr><th>resolver</th>");
    for f in OBSERVED_FIELDS {
        out.push_str(&format!("<th>{f}</th>"));
    }
    out.push_str("</tr>\n");
    let row = |name: &str, v: &Value, strong: bool| {
        let mut row = if strong {
            format!("<tr><th>{}</th>", escape(name))
        } else {
            format!("<tr><td>{}</td>", escape(name))
        };
        for f in OBSERVED_FIELDS {
            row.push_str(&format!(
                "<td class=\"num\">{}</td>",
                text(&v[f]).map(|t| escape(&t)).unwrap_or_else(dash)
            ));
        }
        row.push_str("</tr>\n");
        row
    };
    out.push_str(&row("all resolvers", o, true));
    if let Some(per) = o["perResolver"].as_object() {
        for (name, v) in per {
            out.push_str(&row(name, v, false));
        }
    }
    out.push_str("</table>\n");
    if o["wrong"].as_f64().is_some_and(|w| w > 0.0) {
        out.push_str("<p><strong>Some answers were wrong during the migration.</strong></p>\n");
    }
    out.push_str("</section>\n");
    out
}

fn cost_section(report: &Value) -> String {
    let mut out = String::from("<section id=\"cost\">\n<h2>Cost</h2>\n");
    let (cost, projected) = (&report["cost"], &report["projectedProductionCost"]);
    if !cost.is_object() && !projected.is_object() {
        out.push_str(&muted("no cost in this report"));
    }
    if let Some(map) = cost.as_object() {
        out.push_str("<h3>This execution at AWS prices</h3>\n");
        out.push_str(&fields_table(map, 1));
    }
    if let Some(map) = projected.as_object() {
        out.push_str("<h3>The same migration in production (projected)</h3>\n");
        out.push_str(&fields_table(map, 1));
    }
    out.push_str("</section>\n");
    out
}

fn list_section(id: &str, title: &str, v: &Value, none: &str) -> String {
    let mut out = format!("<section id=\"{id}\">\n<h2>{}</h2>\n", escape(title));
    match v {
        Value::Null => out.push_str(&muted(none)),
        Value::Array(items) if items.is_empty() => out.push_str(&muted(none)),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            out.push_str(&objects_table(items, 1));
        }
        Value::Array(items) => {
            out.push_str("<ul>\n");
            for item in items {
                out.push_str(&format!("<li>{}</li>\n", value_html(id, item, 1)));
            }
            out.push_str("</ul>\n");
        }
        other => out.push_str(&value_html(id, other, 1)),
    }
    out.push_str("</section>\n");
    out
}

fn registration_section(r: &Value) -> String {
    let mut out = String::from("<section id=\"registration\">\n<h2>Registration</h2>\n");
    if r.is_null() {
        out.push_str(&muted("the registration was not read"));
    } else if let Some(servers) = r["nameServers"].as_array() {
        out.push_str("<p>The registrar delegates the domain to:</p>\n<ul>\n");
        for s in servers {
            out.push_str(&format!(
                "<li><code>{}</code></li>\n",
                text(s).map(|t| escape(&t)).unwrap_or_else(dash)
            ));
        }
        out.push_str("</ul>\n");
        if let Some(e) = text(&r["error"]) {
            out.push_str(&format!("<p>error: {}</p>\n", escape(&e)));
        }
    } else {
        out.push_str(&value_html("registration", r, 1));
    }
    out.push_str("</section>\n");
    out
}

/// The old zone's id: the request's `source.hostedZoneId`, or `zones.source`.
fn old_zone(report: &Value) -> Option<String> {
    text(&report["source"]["hostedZoneId"])
        .or_else(|| text(&report["zones"]["source"]))
        .or_else(|| text(&report["source"]))
}

fn decommission_section(report: &Value) -> String {
    let mut out = String::from("<section id=\"decommission\">\n<h2>Decommission checklist</h2>\n");
    let zone = old_zone(report)
        .map(|z| format!("the old hosted zone <code>{}</code>", escape(&z)))
        .unwrap_or_else(|| "the old hosted zone".to_owned());
    let account = text(&report["source"]["roleArn"])
        .map(|r| format!(" (source account, through <code>{}</code>)", escape(&r)))
        .unwrap_or_else(|| " (in the source account)".to_owned());
    let status = text(&report["status"]);
    let safe_at = time(&report["propagation"]["safeAt"]);
    let rolled_back = report["error"]["rolledBack"] == true;
    let mut items: Vec<String> = Vec::new();
    match (status.as_deref(), safe_at) {
        (Some("SUCCEEDED"), Some(safe)) => {
            let after = TimeDelta::try_hours(KEEP_OLD_ZONE_HOURS)
                .and_then(|d| safe.checked_add_signed(d))
                .map(show_time)
                .unwrap_or_else(|| format!("{KEEP_OLD_ZONE_HOURS} hours after safeAt"));
            items.push(format!(
                "Delete {zone}{account} <strong>not before {}</strong> (safeAt {} + {KEEP_OLD_ZONE_HOURS} hours). Keep it unchanged until then; zonehop never deletes it.",
                escape(&after),
                escape(&show_time(safe)),
            ));
            items.push(format!(
                "Until that date, publish every record change in both zones (the old one and {}).",
                text(&report["zones"]["target"])
                    .map(|t| format!("the new one, <code>{}</code>", escape(&t)))
                    .unwrap_or_else(|| "the new one".to_owned())
            ));
        }
        (Some("SUCCEEDED"), None) => items.push(format!(
            "Keep {zone}{account}: the report has no safeAt, so no date to delete it from can be given."
        )),
        _ if rolled_back => items.push(format!(
            "Nothing to decommission: the migration was rolled back and {zone} serves the domain again. Keep it."
        )),
        _ => items.push(format!(
            "Nothing to decommission: the migration did not complete. Keep {zone}{account}: it may still serve the domain."
        )),
    }
    if status.as_deref() == Some("SUCCEEDED") {
        items.push(
            "The canary records (<code>_zonehop</code> TXT) are already removed from both zones by finalize: nothing to do."
                .to_owned(),
        );
    }
    if let Some(keep) = report["keepInSource"].as_array().filter(|k| !k.is_empty()) {
        let names: Vec<String> = keep
            .iter()
            .filter_map(text)
            .map(|k| format!("<code>{}</code>", escape(&k)))
            .collect();
        items.push(format!(
            "Do not delete the zones of the subdomains kept in the source account ({}): they are delegated to from the new zone.",
            names.join(", ")
        ));
    }
    out.push_str("<ul class=\"checklist\">\n");
    for item in items {
        out.push_str(&format!("<li>{item}</li>\n"));
    }
    out.push_str("</ul>\n</section>\n");
    out
}

#[cfg(test)]
mod tests;
