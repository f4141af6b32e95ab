use serde_json::{json, Value};

use super::*;

fn sample() -> Value {
    serde_json::from_str(include_str!("../testdata/sample-report.json"))
        .expect("the sample report is JSON")
}

/// The text between `<figure id="ID">` and its `</figure>`.
fn figure_of<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("<figure id=\"{id}\">"))?;
    let end = html[start..].find("</figure>")?;
    Some(&html[start..start + end])
}

#[test]
fn a_full_report_shows_every_section() {
    let html = render_html(&sample());
    for id in [
        "status",
        "run",
        "phases",
        "phases-chart",
        "propagation",
        "propagation-chart",
        "verification",
        "observed",
        "cost",
        "faults",
        "drift",
        "registration",
        "decommission",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    assert!(html.contains("SUCCEEDED"));
    assert!(html.contains("<code>example.com</code>"));
    // The phases table has a row per phase, and its chart a label per phase.
    let table = &html[html.find("id=\"phases\"").expect("phases")..];
    let table = &table[..table.find("</table>").expect("phases table")];
    assert_eq!(table.matches("<tr>").count(), 1 + 11, "{table}");
    assert_eq!(table.matches("<td>sync-records</td>").count(), 2);
    let phases = figure_of(&html, "phases-chart").expect("phases chart");
    assert!(phases.contains("<svg"), "{phases}");
    assert!(phases.contains("swap-nameservers"));
    // Propagation: a marker per series and round, both vertical lines labelled.
    let chart = figure_of(&html, "propagation-chart").expect("propagation chart");
    assert!(chart.matches("<circle").count() >= 12, "{chart}");
    assert!(chart.contains("safe at 09:14:28"));
    assert!(chart.contains("parent switch 09:14:24"));
    assert!(chart.contains("09:14:2"), "clock times on the axis");
    // The rest.
    assert!(html.contains("<td>unbound</td>") && html.contains("<td>kresd</td>"));
    assert!(html.contains("no differences"));
    assert!(html.contains("$0.001803") && html.contains("$0.005751"));
    assert!(html.contains("<code>byFunction</code>"));
    assert!(
        html.contains("<code>gbSeconds</code>"),
        "byFunction as one table"
    );
    assert!(html.contains("Throttling"));
    assert!(html.contains("no drift recorded"));
    assert!(html.contains("ns-0.awsdns-00.com"));
    // safeAt 2025-06-03 09:14:28 + 48 h.
    assert!(
        html.contains("not before 2025-06-05 09:14:28 UTC"),
        "decommission date"
    );
    assert!(html.contains("Z0413362P1VZ4BNLIMLR"));
    assert!(html.contains("dev.example.com"));
}

#[test]
fn the_page_fetches_nothing() {
    let html = render_html(&sample());
    for fetch in [
        "<script", "<link", "<img", "@import", "url(", "src=", "href=",
    ] {
        assert!(!html.contains(fetch), "{fetch}");
    }
    // plotters' SVG names its namespace: the only URL on the page, never fetched.
    let urls: Vec<&str> = html
        .match_indices("http")
        .map(|(i, _)| &html[i..(i + 30).min(html.len())])
        .collect();
    assert!(
        urls.iter()
            .all(|u| u.starts_with("http://www.w3.org/2000/svg")),
        "{urls:?}"
    );
}

#[test]
fn an_empty_report_still_renders() {
    for report in [
        json!({}),
        Value::Null,
        json!([]),
        json!("report"),
        json!(42),
    ] {
        let html = render_html(&report);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("UNKNOWN"));
        assert!(html.contains("no propagation data"));
        assert!(html.contains("not measured"));
        assert!(html.ends_with("</html>\n"));
    }
}

#[test]
fn nulls_and_wrong_types_everywhere_do_not_panic() {
    let report = json!({
        "status": null, "domain": 7, "error": "boom",
        "phases": [null, {"name": null, "startedAt": "yesterday"}, {"startedAt": 1e300},
                   {"name": "x", "startedAt": "2025-01-01T00:00:00Z", "endedAt": "2024-01-01T00:00:00Z"}],
        "propagation": {"safeAt": "nope", "timeline": [null, {"at": null}, {"at": "2025-01-01T00:00:00Z",
            "parentOnNew": -3, "parentTotal": "two", "resolversOnNew": 1e308}], "resolvers": [null, 3]},
        "verification": {"differences": [null, [1, [2, [3, [4, [5]]]]], {"a": {"b": {"c": {"d": {"e": 1}}}}}]},
        "observed": {"perResolver": {"unbound": null}},
        "cost": {"byFunction": []}, "projectedProductionCost": 3,
        "faults": "many", "drift": {"x": 1}, "registration": [1, 2],
        "keepInSource": [null, 5], "zones": {"source": ["a"]}, "source": {"hostedZoneId": null},
    });
    let html = render_html(&report);
    assert!(html.contains("boom"));
    assert!(html.contains("id=\"decommission\""));
    // A single round at one instant still makes a chart.
    assert!(figure_of(&html, "propagation-chart").is_some());
}

#[test]
fn text_from_the_report_is_escaped() {
    let evil = "<script>alert('x')</script>";
    let mut report = sample();
    report["domain"] = json!(evil);
    report["error"] = json!({ "errorType": evil, "cause": evil, "rolledBack": true });
    report["status"] = json!(evil);
    report["phases"][0]["name"] = json!(evil);
    report["propagation"]["resolvers"][0]["name"] = json!(evil);
    report["faults"] = json!([{ evil: evil }]);
    report["drift"] = json!([evil]);
    report["observed"]["perResolver"] = json!({ evil: { "queries": 1 } });
    report["zones"]["source"] = json!(evil);
    report["keepInSource"] = json!([evil]);
    report["registration"] = json!({ "nameServers": [evil] });
    let html = render_html(&report);
    assert!(!html.contains("<script"), "unescaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // In the chart's labels too (plotters escapes its text).
    let phases = figure_of(&html, "phases-chart").expect("phases chart");
    assert!(phases.contains("&lt;script&gt;"));
}

#[test]
fn without_propagation_the_page_says_so() {
    let mut report = sample();
    report.as_object_mut().map(|r| r.remove("propagation"));
    let html = render_html(&report);
    assert!(html.contains("no propagation data"));
    assert!(!html.contains("id=\"propagation-chart\""));
    // No safeAt: no date to delete the old zone from.
    assert!(html.contains("no safeAt"));
    assert!(!html.contains("not before"));
}

#[test]
fn propagation_without_a_timeline_shows_its_summary_but_no_chart() {
    let mut report = sample();
    report["propagation"]["timeline"] = Value::Null;
    let html = render_html(&report);
    assert!(html.contains("no per-round propagation timeline"));
    assert!(!html.contains("id=\"propagation-chart\""));
    assert!(
        html.contains("2025-06-03 09:14:28 UTC"),
        "safeAt still shown"
    );
}

#[test]
fn a_failed_rolled_back_migration_says_what_failed_and_keeps_the_old_zone() {
    let mut report = sample();
    report["status"] = json!("FAILED");
    report["error"] = json!({
        "errorType": "PropagationDidNotConverge",
        "cause": "2 of 2 resolvers still answer from the old side",
        "rolledBack": true,
    });
    report["phases"][9]["status"] = json!("FAILED");
    report["observed"] = Value::Null;
    let html = render_html(&report);
    assert!(html.contains("class=\"banner bad\""));
    assert!(html.contains("<strong>PropagationDidNotConverge</strong>"));
    assert!(html.contains("2 of 2 resolvers still answer from the old side"));
    assert!(html.contains("yes: the registration and the old apex NS point at the old zone again"));
    assert!(html.contains("rolled back and the old hosted zone"));
    assert!(!html.contains("not before"));
    assert!(html.contains("not measured"));
    // The failed phase is drawn red.
    let phases = figure_of(&html, "phases-chart").expect("phases chart");
    assert!(phases.contains("#C0212F"), "{phases}");
}

#[test]
fn differences_are_listed() {
    let mut report = sample();
    report["verification"] = json!({
        "status": "FAILED",
        "differences": [{ "name": "www.example.com.", "type": "A", "old": ["192.0.2.1"], "new": ["192.0.2.2"] }],
    });
    let html = render_html(&report);
    assert!(html.contains("1 difference(s)"));
    assert!(html.contains("www.example.com.") && html.contains("192.0.2.2"));
}

#[test]
fn escape_replaces_every_special_character() {
    assert_eq!(
        escape(r#"<a href="x">&'"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    );
    assert_eq!(escape("plain ünïcode"), "plain ünïcode");
}

#[test]
fn long_windows_are_labelled_with_dates() {
    let mut report = sample();
    report["propagation"]["timeline"] = json!([
        { "at": "2025-06-03T09:00:00Z", "parentOnNew": 0, "parentTotal": 13, "resolversOnNew": 0, "resolversTotal": 4 },
        { "at": "2025-06-04T10:00:00Z", "parentOnNew": 13, "parentTotal": 13, "resolversOnNew": 2, "resolversTotal": 4 },
        { "at": "2025-06-05T11:00:00Z", "parentOnNew": 13, "parentTotal": 13, "resolversOnNew": 4, "resolversTotal": 4 },
    ]);
    report["propagation"]["safeAt"] = json!("2025-06-05T10:00:00Z");
    let html = render_html(&report);
    let chart = figure_of(&html, "propagation-chart").expect("chart");
    assert!(chart.contains("06-04"), "{chart}");
    assert!(chart.contains("(of 13)"));
}
