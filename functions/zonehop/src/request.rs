//! Every function's event, parsed the same way: a malformed request is `InvalidRequest`
//! naming the field at fault (`source.hostedZoneId`), never a Rust type name, and never
//! repeating the value (it may be a secret, such as an ExternalId).
//!
//! Each handler takes the event as a `serde_json::Value` and calls [`parse`]. The request
//! types refuse unknown fields (`#[serde(deny_unknown_fields)]`), so a misspelt field
//! (`dryrun`, `keepInSorce`) is refused here rather than ignored.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// What every handler receives: the event as JSON, parsed by [`parse`].
pub type Event = serde_json::Value;

/// The largest request accepted, serialized: 64 KiB. Step Functions allows 256 KiB per
/// state, and the request travels in every state beside the steps' outputs (invariant 5).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Parses an event into a step's request.
pub fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    let size = serde_json::to_vec(&value).map_or(0, |bytes| bytes.len());
    if size > MAX_REQUEST_BYTES {
        return Err(Error::InvalidRequest(format!(
            "the request is {size} bytes serialized, over the {MAX_REQUEST_BYTES} bytes zonehop accepts (Step Functions keeps at most 256 KiB per state)"
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = describe(&error.into_inner().to_string());
        if path.is_empty() || path == "." {
            Error::InvalidRequest(format!("the request: {message}"))
        } else {
            Error::InvalidRequest(format!("field `{path}`: {message}"))
        }
    })
}

/// Parses the text of an event (what `make invoke` sends), as [`parse`] does.
pub fn parse_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    if text.len() > MAX_REQUEST_BYTES {
        return Err(Error::InvalidRequest(format!(
            "the request is {} bytes, over the {MAX_REQUEST_BYTES} bytes zonehop accepts (Step Functions keeps at most 256 KiB per state)",
            text.len()
        )));
    }
    // Strict: a key given twice, or a byte-order mark, is refused by name (serde_json
    // would keep the last of two keys silently).
    let value = zonehop_core::json::parse_strict(text)
        .map_err(|e| Error::InvalidRequest(format!("the request: {e}")))?;
    parse(value)
}

/// serde's message without the value it quotes: `invalid type: string "x", expected a
/// boolean` becomes `expected a boolean`; unknown and missing fields keep their names.
fn describe(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let expected = rest
            .split_once(", expected ")
            .map(|(_, e)| format!(" (expected {e})"))
            .unwrap_or_default();
        return format!("unknown field `{field}`{expected}: a misspelt field is never ignored");
    }
    if message.starts_with("missing field `") {
        return message.to_owned();
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        // The variant is the value given; say only what is expected.
        let expected = rest
            .rsplit_once(", expected ")
            .map_or("a known value", |(_, e)| e);
        return format!("not one of the accepted values: expected {expected}");
    }
    if message.starts_with("invalid type: ")
        || message.starts_with("invalid value: ")
        || message.starts_with("invalid length ")
    {
        if let Some((_, expected)) = message.rsplit_once(", expected ") {
            return format!("expected {}", plain(expected));
        }
    }
    "invalid value".to_owned()
}

/// serde's name for an expected type, in JSON's words rather than Rust's.
fn plain(expected: &str) -> &str {
    match expected {
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        "a sequence" => "a list",
        "usize" | "u64" | "u32" | "u16" | "u8" => "a non-negative integer",
        "i64" | "i32" | "i16" | "i8" => "an integer",
        "f64" | "f32" => "a number",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        hosted_zone_id: String,
        #[serde(default)]
        external_id: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        source: Inner,
        #[serde(default)]
        dry_run: bool,
    }

    fn refused(value: serde_json::Value) -> String {
        match parse::<Outer>(value) {
            Err(Error::InvalidRequest(message)) => message,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn a_mistyped_field_is_named_by_its_path_without_its_value() {
        let message = refused(json!({"source": {"hostedZoneId": 42, "externalId": "s3cr3t"}}));
        assert!(message.contains("field `source.hostedZoneId`"), "{message}");
        assert!(message.contains("expected a string"), "{message}");
        assert!(!message.contains("42"), "{message}");
        let message = refused(json!({"source": {"hostedZoneId": "Z1", "externalId": 1234567}}));
        assert!(!message.contains("1234567"), "{message}");
        assert!(!message.contains("Deserialize"), "{message}");
    }

    #[test]
    fn a_misspelt_field_is_refused_by_name() {
        let message = refused(json!({"source": {"hostedZoneId": "Z1"}, "dryrun": true}));
        assert!(message.contains("unknown field `dryrun`"), "{message}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let message = refused(json!({"source": {}}));
        assert!(message.contains("hostedZoneId"), "{message}");
    }

    #[test]
    fn a_request_over_64_kib_is_refused_naming_its_size() {
        let big = "x".repeat(MAX_REQUEST_BYTES);
        let message = refused(json!({"source": {"hostedZoneId": big}}));
        assert!(message.contains("bytes"), "{message}");
        assert!(message.contains("65536"), "{message}");
    }

    #[test]
    fn malformed_or_truncated_json_is_an_invalid_request() {
        for text in ["{\"source\": {\"hostedZoneId\": \"Z1\"", "not json", ""] {
            match parse_str::<Outer>(text) {
                Err(Error::InvalidRequest(message)) => {
                    assert!(message.contains("not JSON"), "{message}");
                }
                other => panic!("{text:?}: expected InvalidRequest, got {other:?}"),
            }
        }
        for (text, says) in [
            (
                r#"{"source": {"hostedZoneId": "Z1"}, "dryRun": true, "dryRun": false}"#,
                "`dryRun` is given twice",
            ),
            (
                "\u{feff}{\"source\": {\"hostedZoneId\": \"Z1\"}}",
                "byte-order mark",
            ),
        ] {
            match parse_str::<Outer>(text) {
                Err(Error::InvalidRequest(message)) => {
                    assert!(message.contains(says), "{message}");
                }
                other => panic!("{text:?}: expected InvalidRequest, got {other:?}"),
            }
        }
        assert!(parse_str::<Outer>(r#"{"source": {"hostedZoneId": "Z1"}}"#).is_ok());
    }

    #[test]
    fn serde_messages_lose_the_value_they_quote() {
        assert_eq!(
            describe("invalid type: string \"hunter2, expected x\", expected a boolean"),
            "expected a boolean"
        );
        assert_eq!(
            describe("unknown variant `registrr`, expected `route53domains` or `manual`"),
            "not one of the accepted values: expected `route53domains` or `manual`"
        );
        assert_eq!(describe("`hunter2` has an empty label"), "invalid value");
        // Never a Rust type name.
        assert_eq!(
            describe("invalid type: sequence, expected struct PreflightRequest with 16 elements"),
            "expected an object"
        );
        assert_eq!(
            describe("invalid value: integer `-1`, expected usize"),
            "expected a non-negative integer"
        );
        assert_eq!(
            describe("invalid type: string \"300\", expected i64"),
            "expected an integer"
        );
    }

    /// Parses one sample event of `tests/events/` into its step's request type.
    fn event<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
        parse_str(text)
    }

    #[test]
    fn every_sample_event_deserializes_into_its_steps_request() {
        use crate::steps::*;
        use zonehop_core::request::BothZones;
        macro_rules! check {
            ($file:literal, $type:ty) => {
                let text = include_str!(concat!("../../../tests/events/", $file));
                if let Err(e) = event::<$type>(text) {
                    panic!("{}: {e}", $file);
                }
            };
        }
        check!("preflight.json", preflight::PreflightRequest);
        check!("create-zone.json", create_zone::CreateZoneRequest);
        check!(
            "delegate-subdomain.json",
            delegate_subdomain::DelegateRequest
        );
        check!("sync-records.json", sync_records::SyncRequest);
        check!("verify-zones.json", verify_zones::VerifyRequest);
        check!("lower-ns-ttl.json", BothZones);
        check!("swap-nameservers.json", swap_nameservers::SwapRequest);
        check!(
            "check-propagation.json",
            check_propagation::PropagationRequest
        );
        check!("cutover.json", cutover::CutoverRequest);
        check!("finalize.json", BothZones);
        check!("rollback.json", rollback::RollbackRequest);
    }

    /// `$.target` once the state machine merged create-zone's output into it.
    fn merged_target() -> serde_json::Value {
        json!({
            "hostedZoneId": "Z1NEWEXAMPLE",
            "roleArn": "arn:aws:iam::222222222222:role/zonehop",
            "externalId": "zonehop",
            "allowDuplicateZone": false,
            "nameServers": ["ns-1.awsdns-01.org."],
            "created": true,
            "adopted": false,
            "callerReference": "zonehop-0123"
        })
    }

    #[test]
    fn every_step_accepts_exactly_what_the_state_machine_sends_it() {
        use crate::steps::*;
        use zonehop_core::request::BothZones;
        let source = json!({"hostedZoneId": "Z0OLDEXAMPLE", "roleArn": "arn:aws:iam::111111111111:role/zonehop"});
        let registrar = json!({"type": "route53domains"});
        let ns_ttl = json!({"during": 300, "after": 172800});
        // Preflight: the request over the defaults, with executionId and the defaults object.
        let whole = json!({
            "domain": "example.com",
            "source": source,
            "target": {},
            "keepInSource": ["dev.example.com"],
            "registrar": registrar,
            "nsTtl": ns_ttl,
            "healthChecks": "block",
            "maxOverwrites": 0,
            "resolver": null,
            "pacing": null,
            "dryRun": false,
            "probe": {"resolvers": ["1.1.1.1"]},
            "cutover": {"records": [{"name": "www.example.com", "type": "A", "values": ["203.0.113.7"], "ttl": 60}]},
            "staleSourceReason": "the registrar rewrites names",
            "defaults": {"request": {"target": {}}, "execution": {"executionId": "arn:x"}},
            "executionId": "arn:aws:states:us-east-1:1:execution:m:run-1"
        });
        let request: preflight::PreflightRequest = parse(whole).expect("preflight");
        assert!(!request.dry_run);
        let create: create_zone::CreateZoneRequest = parse(json!({
            "domain": "example.com", "target": {"roleArn": "arn:aws:iam::222222222222:role/zonehop", "allowDuplicateZone": true}, "executionId": "arn:x"
        }))
        .expect("create-zone");
        assert!(create.target.allow_duplicate_zone);
        parse::<delegate_subdomain::DelegateRequest>(json!({
            "domain": "example.com", "source": source, "subdomain": "dev.example.com",
            "delegationTtl": 300, "executionId": "arn:x", "resolver": null
        }))
        .expect("delegate-subdomain");
        let sync: sync_records::SyncRequest = parse(json!({
            "domain": "example.com", "source": source, "target": merged_target(),
            "keepInSource": [], "healthChecks": "drop", "maxOverwrites": 3,
            "extraRecords": [{"Name": "_zonehop.example.com", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": "\"side=new\""}]}]
        }))
        .expect("sync-records");
        assert!(!sync.target.adopted);
        parse::<BothZones>(json!({"domain": "example.com", "source": source, "target": merged_target(), "nsTtl": ns_ttl}))
            .expect("lower-ns-ttl and finalize");
        parse::<verify_zones::VerifyRequest>(json!({
            "domain": "example.com", "source": source, "target": merged_target(), "keepInSource": [], "resolver": null
        }))
        .expect("verify-zones");
        parse::<swap_nameservers::SwapRequest>(json!({
            "domain": "example.com", "source": source, "target": merged_target(), "registrar": registrar
        }))
        .expect("swap-nameservers");
        parse::<check_propagation::PropagationRequest>(json!({
            "domain": "example.com", "source": source, "target": merged_target(),
            "probe": {"resolvers": ["1.1.1.1"]}, "resolver": null, "pacing": null, "state": {}
        }))
        .expect("check-propagation");
        parse::<cutover::CutoverRequest>(json!({
            "domain": "example.com", "source": source, "target": merged_target(), "nsTtl": ns_ttl,
            "records": [{"name": "www.example.com", "type": "A", "values": ["203.0.113.7"], "ttl": 60}]
        }))
        .expect("cutover");
        parse::<rollback::RollbackRequest>(json!({
            "domain": "example.com", "source": source, "registrar": registrar
        }))
        .expect("rollback");
    }

    #[test]
    fn a_misspelt_field_is_refused_by_every_step_and_a_dry_run_typo_never_runs() {
        use crate::steps::*;
        let typo = |mut value: serde_json::Value, key: &str| {
            if let Some(object) = value.as_object_mut() {
                object.insert(key.to_owned(), json!(true));
            }
            value
        };
        let base = json!({
            "domain": "example.com",
            "source": {"hostedZoneId": "Z0OLDEXAMPLE"},
            "probe": {"resolvers": ["1.1.1.1"]}
        });
        for key in ["dryrun", "keepInSorce", "DryRun"] {
            match parse::<preflight::PreflightRequest>(typo(base.clone(), key)) {
                Err(Error::InvalidRequest(message)) => assert!(message.contains(key), "{message}"),
                other => panic!("{key}: expected InvalidRequest, got {other:?}"),
            }
        }
        let sync = json!({"domain": "example.com", "source": {"hostedZoneId": "Z1"}, "target": {"hostedZoneId": "Z2"}});
        assert!(parse::<sync_records::SyncRequest>(typo(sync.clone(), "keepInSorce")).is_err());
        let mut bad_target = sync;
        bad_target["target"]["adoptd"] = json!(false);
        assert!(parse::<sync_records::SyncRequest>(bad_target).is_err());
    }
}
