//! The catalogue of bad inputs: each is refused by the real preflight (through the parse
//! every handler uses) with a named errorType, and NOTHING changed: every zone, record,
//! child zone, canary and the registration are the same before and after (invariant 8:
//! named errors; "a bad request fails before any write"). A few good inputs (case,
//! trailing dots, the state machine's own fields) show the checks do not refuse too much.

mod common;

use common::*;
use serde_json::{json, Value};
use zonehop::core::zone::{AliasTarget, CidrRoutingConfig, RecordSet, RrType, Zone};
use zonehop::ports::hosted_zones::HostedZone;
use zonehop::steps::preflight::{preflight, PreflightRequest};
use zonehop::{Error, Settings};

/// What the catalogue feeds preflight: JSON, or raw text (malformed JSON).
enum Input {
    Json(Value),
    Text(String),
}

/// One row: a name, what to do to the world first, how to spoil the request, and the
/// errorType expected (`None`: the input is good and preflight passes).
struct Case {
    name: &'static str,
    world: fn(&World),
    request: fn(&World, Value) -> Input,
    expected: Option<&'static str>,
}

fn same(_: &World) {}

fn json(v: Value) -> Input {
    Input::Json(v)
}

/// The valid request every row starts from: as the state machine sends it (defaults
/// merged, executionId added).
fn base(w: &World) -> Value {
    json!({
        "domain": "example.com",
        "source": { "hostedZoneId": w.source_id() },
        "target": {},
        "keepInSource": ["dev.example.com"],
        "registrar": { "type": "route53domains" },
        "nsTtl": { "during": 300, "after": 172800 },
        "probe": { "resolvers": ["192.0.2.53", "192.0.2.54:53"] },
        "resolver": RESOLVER,
        "healthChecks": "block",
        "maxOverwrites": 0,
        "pacing": null,
        "dryRun": false,
        "executionId": EXECUTION,
    })
}

fn set(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let target = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).expect("the parent exists")
    };
    match target {
        Value::Object(object) => {
            object.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().expect("an index");
            items[index] = value;
        }
        _ => panic!("{pointer}: not a container"),
    }
    v
}

fn remove(mut v: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let target = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).expect("the parent exists")
    };
    if let Value::Object(object) = target {
        object.remove(key);
    }
    v
}

fn cutover(v: Value, record: Value) -> Value {
    set(v, "/cutover", json!({ "records": [record] }))
}

fn same_zone_alias(w: &World, name: &str, target: &str) -> RecordSet {
    RecordSet::alias(
        n(name),
        RrType::A,
        AliasTarget {
            hosted_zone_id: w.source_id().to_owned(),
            dns_name: n(target),
            evaluate_target_health: false,
        },
    )
}

fn put(w: &World, records: Vec<RecordSet>) {
    w.source
        .put_records(w.source_id(), records)
        .expect("the source zone exists");
}

fn cases() -> Vec<Case> {
    vec![
        // --- Malformed JSON.
        Case {
            name: "malformed json",
            world: same,
            request: |_, _| Input::Text("{\"domain\": ".into()),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "truncated json",
            world: same,
            request: |_, v| {
                let t = v.to_string();
                Input::Text(t[..t.len() / 2].to_owned())
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "not an object",
            world: same,
            request: |_, _| json(json!(["example.com"])),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "null",
            world: same,
            request: |_, _| json(Value::Null),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a bare string",
            world: same,
            request: |_, _| json(json!("example.com")),
            expected: Some("InvalidRequest"),
        },
        // --- Unknown (misspelt) fields: never ignored.
        Case {
            name: "dryrun typo",
            world: same,
            request: |_, v| json(set(v, "/dryrun", json!(true))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "keepInSorce typo",
            world: same,
            request: |_, v| json(set(v, "/keepInSorce", json!(["dev.example.com"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "source.hostedZoneID typo",
            world: same,
            request: |_, v| json(set(v, "/source/hostedZoneID", json!("Z1"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar.roleARN typo",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/registrar/roleARN",
                    json!("arn:aws:iam::111111111111:role/z"),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "nsTtl.During typo",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/During", json!(60))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "probe.resolver typo",
            world: same,
            request: |_, v| json(set(v, "/probe/resolver", json!(["1.1.1.1"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "pacing.minwait typo",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/pacing",
                    json!({"minwait": 30, "minWait": 30, "maxWait": 60}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover.record typo",
            world: same,
            request: |_, v| json(set(v, "/cutover", json!({"record": []}))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover record TTL typo",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": ["192.0.2.1"], "TTL": 60}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "target.allowDuplicate typo",
            world: same,
            request: |_, v| json(set(v, "/target/allowDuplicate", json!(true))),
            expected: Some("InvalidRequest"),
        },
        // --- Missing fields.
        Case {
            name: "domain missing",
            world: same,
            request: |_, v| json(remove(v, "/domain")),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "source missing",
            world: same,
            request: |_, v| json(remove(v, "/source")),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "source.hostedZoneId missing",
            world: same,
            request: |_, v| json(set(v, "/source", json!({}))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar without type",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/registrar",
                    json!({"roleArn": "arn:aws:iam::111111111111:role/zonehop"}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "nsTtl without after",
            world: same,
            request: |_, v| json(set(v, "/nsTtl", json!({"during": 60}))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "probe missing",
            world: same,
            request: |_, v| json(remove(v, "/probe")),
            expected: Some("InvalidRequest"),
        },
        // --- Mistyped fields.
        Case {
            name: "domain a number",
            world: same,
            request: |_, v| json(set(v, "/domain", json!(42))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "keepInSource a string",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!("dev.example.com"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "dryRun a string",
            world: same,
            request: |_, v| json(set(v, "/dryRun", json!("yes"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "nsTtl.during a string",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/during", json!("300"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "maxOverwrites negative",
            world: same,
            request: |_, v| json(set(v, "/maxOverwrites", json!(-1))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar.type unknown",
            world: same,
            request: |_, v| json(set(v, "/registrar/type", json!("godaddy"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar route53zone without its parent zone",
            world: same,
            request: |_, v| json(set(v, "/registrar", json!({ "type": "route53zone" }))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar.hostedZoneId for route53domains",
            world: same,
            request: |_, v| json(set(v, "/registrar/hostedZoneId", json!("Z0PARENT"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "registrar.lowerNsTtl for route53domains",
            world: same,
            request: |_, v| json(set(v, "/registrar/lowerNsTtl", json!(true))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "healthChecks unknown",
            world: same,
            request: |_, v| json(set(v, "/healthChecks", json!("ignore"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "source a string",
            world: same,
            request: |_, v| json(set(v, "/source", json!("Z123"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "externalId a number",
            world: same,
            request: |_, v| json(set(v, "/source/externalId", json!(123_456_789))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "roleArn malformed",
            world: same,
            request: |_, v| json(set(v, "/source/roleArn", json!("zonehop"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "hostedZoneId malformed",
            world: same,
            request: |_, v| json(set(v, "/source/hostedZoneId", json!("not a zone"))),
            expected: Some("InvalidRequest"),
        },
        // --- The domain.
        Case {
            name: "a domain that is not the zone's",
            world: same,
            request: |_, v| {
                json(set(
                    set(v, "/domain", json!("example.org")),
                    "/keepInSource",
                    json!([]),
                ))
            },
            expected: Some("ZoneNameMismatch"),
        },
        Case {
            name: "a top-level domain",
            world: same,
            request: |_, v| json(set(v, "/domain", json!("com"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a wildcard domain",
            world: same,
            request: |_, v| json(set(v, "/domain", json!("*.example.com"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a label over 63 octets",
            world: same,
            request: |_, v| json(set(v, "/domain", json!(format!("{}.com", "a".repeat(64))))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a name over 255 octets",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/domain",
                    json!(format!("{}com", "abcdefghij.".repeat(24))),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a Unicode domain",
            world: same,
            request: |_, v| json(set(v, "/domain", json!("exämple.com"))),
            expected: Some("InvalidRequest"),
        },
        // --- keepInSource.
        Case {
            name: "kept name outside the domain",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["dev.example.org"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept name equal to the domain",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["example.com"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept look-alike devdocs for dev",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["devdocs.example.com"]))),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "kept name holding a CNAME",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["api.example.com"]))),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "kept wildcard",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["*.example.com"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept canary name",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["_zonehop.example.com"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept name already delegated",
            world: |w| {
                put(
                    w,
                    vec![rr("qa.example.com", RrType::NS, 300, &["ns1.example.net."])],
                )
            },
            request: |_, v| json(set(v, "/keepInSource", json!(["qa.example.com"]))),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "kept names overlapping",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/keepInSource",
                    json!(["dev.example.com", "api.dev.example.com"]),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept label over 63 octets",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/keepInSource",
                    json!([format!("{}.example.com", "d".repeat(64))]),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "kept Unicode name",
            world: same,
            request: |_, v| json(set(v, "/keepInSource", json!(["dév.example.com"]))),
            expected: Some("InvalidRequest"),
        },
        // --- The zones.
        Case {
            name: "source equal to target",
            world: same,
            request: |w, v| json(set(v, "/target/hostedZoneId", json!(w.source_id()))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "a source zone that does not exist",
            world: same,
            request: |_, v| json(set(v, "/source/hostedZoneId", json!("ZNOSUCHZONE"))),
            expected: Some("ZoneNotFound"),
        },
        Case {
            name: "a target zone that does not exist",
            world: same,
            request: |_, v| json(set(v, "/target/hostedZoneId", json!("ZNOSUCHZONE"))),
            expected: Some("ZoneNotFound"),
        },
        Case {
            name: "a private source zone",
            world: |w| w.source.set_private(w.source_id(), true).expect("zone"),
            request: |_, v| json(v),
            expected: Some("PrivateZone"),
        },
        Case {
            name: "DNSSEC signing on",
            world: |w| {
                w.source
                    .set_dnssec_signing(w.source_id(), true)
                    .expect("zone")
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a DS at the parent",
            world: |w| {
                for parent in World::parent_addresses() {
                    w.dns.answer(
                        parent,
                        &n("example.com"),
                        RrType::DS,
                        answer(
                            vec![record("example.com", "DS", 86_400, "12345 13 2 ABCDEF")],
                            Vec::new(),
                        ),
                    );
                }
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a zone over the records quota",
            world: |w| {
                put(
                    w,
                    (0..10_000)
                        .map(|i| a(&format!("h{i}.example.com"), 60, &["192.0.2.1"]))
                        .collect(),
                )
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        // --- Records that cannot move.
        Case {
            name: "an alias to exactly the kept name",
            world: |w| {
                put(
                    w,
                    vec![same_zone_alias(w, "www2.example.com", "dev.example.com")],
                )
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "an alias into the kept subtree",
            world: |w| {
                put(
                    w,
                    vec![same_zone_alias(
                        w,
                        "www2.example.com",
                        "api.dev.example.com",
                    )],
                )
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "an alias out of the kept subtree",
            world: |w| {
                put(
                    w,
                    vec![same_zone_alias(w, "x.dev.example.com", "mail.example.com")],
                )
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a health check of the source account",
            world: |w| {
                let mut r = a("hc.example.com", 60, &["192.0.2.9"]);
                r.health_check_id = Some("11111111-2222-3333-4444-555555555555".into());
                put(w, vec![r]);
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a traffic policy record",
            world: |w| {
                let mut r = a("tp.example.com", 60, &["192.0.2.9"]);
                r.traffic_policy_instance_id = Some("tpi-1".into());
                put(w, vec![r]);
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a CIDR collection of the source account",
            world: |w| {
                let mut r = a("cidr.example.com", 60, &["192.0.2.9"]);
                r.set_identifier = Some("office".into());
                r.cidr_routing_config = Some(CidrRoutingConfig {
                    collection_id: "c-1".into(),
                    location_name: "office".into(),
                });
                put(w, vec![r]);
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a stale registration",
            world: |w| {
                w.registrar.register(
                    &n("example.com"),
                    &["ns-1.elsewhere.example.net.".to_owned()],
                )
            },
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a probe resolver that never answers",
            world: |w| w.dns.set_silent(addr("192.0.2.54:53"), true),
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a parent server that never answers",
            world: |w| w.dns.set_silent(World::parent_addresses()[1], true),
            request: |_, v| json(v),
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "a domain the registrar's account does not hold",
            world: |w| w.registrar.forget(&n("example.com")),
            request: |_, v| json(v),
            expected: Some("DomainNotRegistered"),
        },
        // --- The lock.
        Case {
            name: "a second execution while the first runs",
            world: |w| {
                let other = "arn:aws:states:us-east-1:111111111111:execution:zonehop:run-0";
                put(
                    w,
                    vec![rr(
                        "_zonehop.example.com",
                        RrType::TXT,
                        60,
                        &["\"side=old\"", &format!("\"execution={other}\"")],
                    )],
                );
                w.executions.set_running(other, true);
            },
            request: |_, v| json(v),
            expected: Some("MigrationInProgress"),
        },
        // --- Ranges.
        Case {
            name: "nsTtl.during zero",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/during", json!(0))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "nsTtl.during over two days",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/during", json!(172_801))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "nsTtl.after 2^31-1",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/after", json!(2_147_483_647_i64))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "probe resolver not an address",
            world: same,
            request: |_, v| json(set(v, "/probe/resolvers", json!(["resolver.example.net"]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "more than 20 probe resolvers",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/probe/resolvers",
                    json!((1..=21).map(|i| format!("192.0.2.{i}")).collect::<Vec<_>>()),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "no probe resolvers",
            world: same,
            request: |_, v| json(set(v, "/probe/resolvers", json!([]))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "resolver not an address",
            world: same,
            request: |_, v| json(set(v, "/resolver", json!("one.one.one.one"))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "pacing minWait zero",
            world: same,
            request: |_, v| json(set(v, "/pacing", json!({"minWait": 0, "maxWait": 60}))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "pacing maxWait over a day",
            world: same,
            request: |_, v| json(set(v, "/pacing", json!({"minWait": 30, "maxWait": 86_401}))),
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "pacing minWait over maxWait",
            world: same,
            request: |_, v| json(set(v, "/pacing", json!({"minWait": 600, "maxWait": 60}))),
            expected: Some("InvalidRequest"),
        },
        // --- Cutover records.
        Case {
            name: "cutover record outside the domain",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.org", "type": "A", "values": ["192.0.2.1"]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover record of an unsupported type",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "LOC", "values": ["1 2 3"]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover of the apex NS",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "example.com", "type": "NS", "values": ["ns1.example.net."]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover A that is not IPv4",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": ["2001:db8::1"]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover AAAA that is not IPv6",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "AAAA", "values": ["192.0.2.1"]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover CNAME at the apex",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "example.com", "type": "CNAME", "values": ["lb.example.net."]}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover CNAME beside the source's A",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "CNAME", "values": ["lb.example.net."]}),
                ))
            },
            expected: Some("MigrationBlocked"),
        },
        Case {
            name: "cutover without values",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": []}),
                ))
            },
            expected: Some("InvalidRequest"),
        },
        Case {
            name: "cutover records empty",
            world: same,
            request: |_, v| json(set(v, "/cutover", json!({"records": []}))),
            expected: Some("InvalidRequest"),
        },
        // --- Size.
        Case {
            name: "a request over 64 KiB",
            world: same,
            request: |_, v| json(set(v, "/executionId", json!("x".repeat(70_000)))),
            expected: Some("InvalidRequest"),
        },
        // --- Good inputs: accepted, canonicalized.
        Case {
            name: "good: the base request",
            world: same,
            request: |_, v| json(v),
            expected: None,
        },
        Case {
            name: "good: upper case",
            world: same,
            request: |_, v| {
                json(set(
                    set(v, "/domain", json!("EXAMPLE.COM")),
                    "/keepInSource",
                    json!(["DEV.Example.Com"]),
                ))
            },
            expected: None,
        },
        Case {
            name: "good: trailing dots",
            world: same,
            request: |_, v| {
                json(set(
                    set(v, "/domain", json!("example.com.")),
                    "/keepInSource",
                    json!(["dev.example.com."]),
                ))
            },
            expected: None,
        },
        Case {
            name: "good: the state machine's defaults object and every optional field",
            world: same,
            request: |_, v| {
                let v = set(
                    v,
                    "/defaults",
                    json!({"request": {"target": {}}, "execution": {"executionId": EXECUTION}}),
                );
                let v = set(
                    v,
                    "/target",
                    json!({"hostedZoneId": null, "allowDuplicateZone": false}),
                );
                let v = set(v, "/pacing", json!({"minWait": 30, "maxWait": 3600}));
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": ["203.0.113.7"], "ttl": 60}),
                ))
            },
            expected: None,
        },
        Case {
            name: "good: a stale registration with its reason",
            world: |w| {
                w.registrar.register(
                    &n("example.com"),
                    &["ns-1.elsewhere.example.net.".to_owned()],
                )
            },
            request: |_, v| {
                json(set(
                    v,
                    "/staleSourceReason",
                    json!("the zone is being rebuilt by IaC"),
                ))
            },
            expected: None,
        },
    ]
}

/// Everything a migration can change: every zone of both accounts with its records
/// (child zones included), and the registration.
#[derive(Debug, PartialEq)]
struct Snapshot {
    source: Vec<(HostedZone, Zone)>,
    target: Vec<(HostedZone, Zone)>,
    registration: Option<Vec<String>>,
}

fn snapshot(w: &World) -> Snapshot {
    let zones = |account: &zonehop::adapters::memory::MemoryZones| {
        account
            .zones()
            .into_iter()
            .map(|z| {
                let records = account.records(&z.id).expect("the zone exists");
                (z, records)
            })
            .collect()
    };
    Snapshot {
        source: zones(&w.source),
        target: zones(&w.target),
        registration: w.registrar.servers_of(&n("example.com")),
    }
}

async fn run(w: &World, input: Input, settings: &Settings) -> Result<(), Error> {
    let request: PreflightRequest = match input {
        Input::Json(value) => zonehop::request::parse(value)?,
        Input::Text(text) => zonehop::request::parse_str(&text)?,
    };
    preflight(
        w.preflight_ports(&*w.registrar),
        &w.clock,
        &request,
        settings,
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn every_bad_input_is_refused_by_name_and_changes_nothing() {
    let cases = cases();
    assert!(
        cases.iter().filter(|c| c.expected.is_some()).count() >= 60,
        "the catalogue holds at least 60 bad inputs"
    );
    let settings = settings();
    let mut failures = Vec::new();
    for case in &cases {
        let w = World::new();
        (case.world)(&w);
        let input = (case.request)(&w, base(&w));
        let before = snapshot(&w);
        let writes_before = w.writes();
        let result = run(&w, input, &settings).await;
        match (case.expected, &result) {
            (Some(expected), Err(error)) if error.error_type() == expected => {
                if snapshot(&w) != before || w.writes() != writes_before {
                    failures.push(format!("{}: refused, but something changed", case.name));
                }
                let message = error.to_string();
                if ["struct ", "i64", "usize", "lambda_runtime", "Deserialize"]
                    .iter()
                    .any(|rust| message.contains(rust))
                {
                    failures.push(format!("{}: a Rust type in {message}", case.name));
                }
            }
            (None, Ok(())) => {}
            (expected, result) => failures.push(format!(
                "{}: expected {}, got {:?}",
                case.name,
                expected.unwrap_or("success"),
                result
                    .as_ref()
                    .map_err(|e| format!("{}: {e}", e.error_type()))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_request_problem_is_listed_at_once() {
    let w = World::new();
    let v = base(&w);
    let v = set(v, "/nsTtl/during", json!(0));
    let v = set(v, "/probe/resolvers", json!([]));
    let v = set(v, "/source/roleArn", json!("nope"));
    let v = set(v, "/keepInSource", json!(["example.org"]));
    let error = run(&w, Input::Json(v), &settings())
        .await
        .expect_err("refused");
    let message = error.to_string();
    for field in [
        "nsTtl.during",
        "probe.resolvers",
        "source.roleArn",
        "keepInSource",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
}

#[tokio::test]
async fn every_blocker_is_listed_at_once() {
    let w = World::new();
    w.source
        .set_dnssec_signing(w.source_id(), true)
        .expect("zone");
    let mut hc = a("hc.example.com", 60, &["192.0.2.9"]);
    hc.health_check_id = Some("hc-1".into());
    put(
        &w,
        vec![
            hc,
            same_zone_alias(&w, "www2.example.com", "dev.example.com"),
        ],
    );
    match run(&w, Input::Json(base(&w)), &settings()).await {
        Err(Error::MigrationBlocked { blockers }) => {
            let reasons: Vec<String> = blockers.iter().map(|b| format!("{:?}", b.reason)).collect();
            for reason in ["DnssecSigning", "HealthCheck", "AliasToCutApex"] {
                assert!(
                    reasons.iter().any(|r| r == reason),
                    "{reason} in {reasons:?}"
                );
            }
        }
        other => panic!("expected MigrationBlocked, got {other:?}"),
    }
}

#[tokio::test]
async fn a_mistyped_secret_is_never_echoed() {
    let w = World::new();
    let v = set(base(&w), "/source/externalId", json!(987_654_321));
    let error = run(&w, Input::Json(v), &settings())
        .await
        .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("source.externalId"), "{message}");
    assert!(!message.contains("987654321"), "{message}");
    assert!(!message.contains("Deserialize"), "{message}");
}

/// One input of issue #23 (and a few of our own beside them): refused with this errorType
/// and a message that says this, or (`expected: None`) accepted.
struct Said {
    name: &'static str,
    world: fn(&World),
    request: fn(&World, Value) -> Input,
    expected: Option<(&'static str, &'static str)>,
}

fn weighted(name: &str, id: &str, weight: i64, value: &str) -> RecordSet {
    let mut r = a(name, 60, &[value]);
    r.set_identifier = Some(id.into());
    r.weight = Some(weight);
    r
}

fn txt(value: String) -> Value {
    json!({"name": "t.example.com", "type": "TXT", "values": [value]})
}

fn issue_23_inputs() -> Vec<Said> {
    vec![
        Said {
            name: "cutover TXT without quotation marks",
            world: same,
            request: |_, v| json(cutover(v, txt("v=spf1 -all".into()))),
            expected: Some(("InvalidRequest", "outside quotation marks")),
        },
        Said {
            name: "cutover TXT string of 300 characters",
            world: same,
            request: |_, v| json(cutover(v, txt(format!("\"{}\"", "a".repeat(300))))),
            expected: Some(("InvalidRequest", "300 characters, over the 255")),
        },
        Said {
            name: "cutover CAA with an unbalanced quotation mark",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "example.com", "type": "CAA", "values": ["0 issue \"amazon.com"]}),
                ))
            },
            expected: Some(("InvalidRequest", "quotation mark is not closed")),
        },
        Said {
            name: "cutover SOA below the apex",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "sub.example.com", "type": "SOA", "values": ["ns1.example.net. h.example.com. 1 2 3 4 5"]}),
                ))
            },
            expected: Some(("InvalidRequest", "type `SOA` cannot be cut over")),
        },
        Said {
            name: "cutover NS below the apex",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "sub.example.com", "type": "NS", "values": ["ns1.example.net."]}),
                ))
            },
            expected: Some(("InvalidRequest", "type `NS` cannot be cut over")),
        },
        Said {
            name: "cutover TTL over 2^31-1",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": ["192.0.2.1"], "ttl": 2_147_483_648_i64}),
                ))
            },
            expected: Some(("InvalidRequest", "TTL 2147483648 is outside")),
        },
        Said {
            name: "cutover MX without a priority",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "example.com", "type": "MX", "values": ["mail.example.com."]}),
                ))
            },
            expected: Some(("InvalidRequest", "not a valid MX value")),
        },
        Said {
            name: "cutover SRV port over 65535",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "_sip._udp.example.com", "type": "SRV", "values": ["10 5 65536 sip.example.com."]}),
                ))
            },
            expected: Some(("InvalidRequest", "not a valid SRV value")),
        },
        Said {
            name: "cutover NAPTR with unquoted fields",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "example.com", "type": "NAPTR", "values": ["100 10 S SIP+D2U \"\" ."]}),
                ))
            },
            expected: Some(("InvalidRequest", "not a valid NAPTR value")),
        },
        Said {
            name: "cutover name inside the kept subtree",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "api.dev.example.com", "type": "A", "values": ["192.0.2.9"]}),
                ))
            },
            expected: Some(("InvalidRequest", "inside the kept subtree dev.example.com.")),
        },
        Said {
            name: "cutover of the canary's own name",
            world: same,
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "_zonehop.example.com", "type": "TXT", "values": ["\"x\""]}),
                ))
            },
            expected: Some(("InvalidRequest", "zonehop's own canary name")),
        },
        Said {
            name: "cutover of a name holding a weighted set",
            world: |w| {
                put(
                    w,
                    vec![
                        weighted("lb.example.com", "blue", 70, "192.0.2.40"),
                        weighted("lb.example.com", "green", 30, "192.0.2.41"),
                    ],
                )
            },
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "lb.example.com", "type": "A", "values": ["192.0.2.42"]}),
                ))
            },
            expected: Some((
                "MigrationBlocked",
                "routing-policy set at lb.example.com. A",
            )),
        },
        Said {
            name: "cutover of a name below a delegation to other servers",
            world: |w| {
                put(
                    w,
                    vec![rr(
                        "corp.example.com",
                        RrType::NS,
                        300,
                        &["ns1.example.net."],
                    )],
                )
            },
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "vpn.corp.example.com", "type": "A", "values": ["192.0.2.60"]}),
                ))
            },
            expected: Some((
                "MigrationBlocked",
                "which the source zone delegates to other servers: resolvers ask those servers",
            )),
        },
        Said {
            name: "650 bad cutover values: a cause Step Functions keeps",
            world: same,
            request: |_, v| {
                let values: Vec<String> = (0..650).map(|i| format!("203.0.113.{i}")).collect();
                json(cutover(
                    v,
                    json!({"name": "www.example.com", "type": "A", "values": values}),
                ))
            },
            expected: Some(("InvalidRequest", "problems in all; the first 20 are listed")),
        },
        Said {
            name: "kept name below a delegation to other servers",
            world: |w| {
                put(
                    w,
                    vec![
                        rr("corp.example.com", RrType::NS, 300, &["ns1.example.net."]),
                        a("hr.corp.example.com", 60, &["192.0.2.50"]),
                    ],
                )
            },
            request: |_, v| json(set(v, "/keepInSource", json!(["hr.corp.example.com"]))),
            expected: Some((
                "MigrationBlocked",
                "which the source zone delegates to other servers",
            )),
        },
        Said {
            name: "the same key twice (dryRun true, then false)",
            world: same,
            request: |_, v| {
                let text = v.to_string();
                let text = text.replacen('{', "{\"dryRun\": true, ", 1);
                Input::Text(text)
            },
            expected: Some(("InvalidRequest", "`dryRun` is given twice")),
        },
        Said {
            name: "a request starting with a byte-order mark",
            world: same,
            request: |_, v| Input::Text(format!("\u{feff}{v}")),
            expected: Some(("InvalidRequest", "byte-order mark")),
        },
        Said {
            name: "a canary that names no execution",
            world: |w| {
                put(
                    w,
                    vec![rr(
                        "_zonehop.example.com",
                        RrType::TXT,
                        60,
                        &["\"side=old\"", "\"execution=arn:garbage\""],
                    )],
                )
            },
            request: |_, v| json(v),
            expected: Some(("MigrationBlocked", "name no execution zonehop can look up")),
        },
        Said {
            name: "nsTtl.during 2^31-1",
            world: same,
            request: |_, v| json(set(v, "/nsTtl/during", json!(2_147_483_647_i64))),
            expected: Some(("InvalidRequest", "nsTtl.during")),
        },
        Said {
            name: "nsTtl with a misspelt key",
            world: same,
            request: |_, v| json(set(v, "/nsTtl", json!({"durng": 300, "after": 172_800}))),
            expected: Some(("InvalidRequest", "unknown field `durng`")),
        },
        Said {
            name: "pacing as strings",
            world: same,
            request: |_, v| {
                json(set(
                    v,
                    "/pacing",
                    json!({"minWait": "30", "maxWait": "3600"}),
                ))
            },
            expected: Some(("InvalidRequest", "pacing.minWait")),
        },
        // --- Good inputs beside them.
        Said {
            name: "good: a TXT of two 255-character strings, a CAA, an NAPTR",
            world: same,
            request: |_, v| {
                let long = format!("\"{}\" \"{}\"", "a".repeat(255), "b".repeat(100));
                json(set(
                    v,
                    "/cutover",
                    json!({"records": [
                        {"name": "t.example.com", "type": "TXT", "values": [long]},
                        {"name": "example.com", "type": "CAA", "values": ["0 issue \"amazon.com\"", "0 iodef \"mailto:a@example.com\""]},
                        {"name": "example.com", "type": "NAPTR", "values": ["100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."]}
                    ]}),
                ))
            },
            expected: None,
        },
        Said {
            name: "good: a cutover TXT at a name whose A is weighted",
            world: |w| {
                put(
                    w,
                    vec![weighted("lb.example.com", "blue", 70, "192.0.2.40")],
                )
            },
            request: |_, v| {
                json(cutover(
                    v,
                    json!({"name": "lb.example.com", "type": "TXT", "values": ["\"x\""]}),
                ))
            },
            expected: None,
        },
        Said {
            name: "good: a kept name beside a delegation",
            world: |w| {
                put(
                    w,
                    vec![rr(
                        "corp.example.com",
                        RrType::NS,
                        300,
                        &["ns1.example.net."],
                    )],
                )
            },
            request: |_, v| json(v),
            expected: None,
        },
    ]
}

#[tokio::test]
async fn issue_23_inputs_are_refused_by_name_before_any_write() {
    let settings = settings();
    let mut failures = Vec::new();
    for case in issue_23_inputs() {
        let w = World::new();
        (case.world)(&w);
        let input = (case.request)(&w, base(&w));
        let before = snapshot(&w);
        let writes_before = w.writes();
        let result = run(&w, input, &settings).await;
        match (case.expected, &result) {
            (Some((error_type, says)), Err(error)) if error.error_type() == error_type => {
                let message = error.to_string();
                if !message.contains(says) {
                    failures.push(format!("{}: `{says}` not in {message}", case.name));
                }
                if message.len() > 30_000 {
                    failures.push(format!("{}: {} characters", case.name, message.len()));
                }
                if snapshot(&w) != before || w.writes() != writes_before {
                    failures.push(format!("{}: refused, but something changed", case.name));
                }
            }
            (None, Ok(())) => {}
            (expected, result) => failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name,
                expected,
                result
                    .as_ref()
                    .map_err(|e| format!("{}: {e}", e.error_type()))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
