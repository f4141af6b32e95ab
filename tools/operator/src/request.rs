//! Checking a request before it is started, with the code preflight runs first: the
//! request over the state machine's own defaults (its `Request Defaults` state, compiled in
//! from `statemachine/migration.asl.json`), parsed as preflight parses it
//! (`PreflightRequest`), then preflight's own checks of every field. Those run before
//! preflight reads anything, so they run here on empty in-memory ports: a request they
//! refuse is refused with the same `InvalidRequest`; one they pass goes on to read the
//! (empty) zones, which says nothing about the request and is not reported.

use serde_json::{json, Value};
use zonehop::adapters::memory::{
    ManualClock, MemoryExecutions, MemoryLedger, MemoryRegistrar, MemoryZones, ScriptedDns,
};
use zonehop::steps::preflight::{preflight, PreflightPorts, PreflightRequest};
use zonehop::{Error, Settings};

/// The deployed state machine, compiled in.
pub const STATE_MACHINE: &str = include_str!("../../../statemachine/migration.asl.json");

/// The resolver the deployed functions use when the request names none (the template's
/// `Resolver` parameter default), unless `ZONEHOP_RESOLVER` says otherwise here.
pub const DEFAULT_RESOLVER: &str = "1.1.1.1";

/// The state machine's defaults for the optional fields (`Request Defaults`).
pub fn defaults() -> Value {
    serde_json::from_str::<Value>(STATE_MACHINE)
        .ok()
        .and_then(|asl| {
            asl.pointer("/States/Request Defaults/Parameters/request")
                .cloned()
        })
        .unwrap_or_else(|| json!({}))
}

/// The request as the state machine hands it to preflight: over the defaults, shallowly
/// (an object given replaces the default object whole), with an execution id.
pub fn with_defaults(request: &Value) -> Value {
    let mut merged = defaults();
    if let (Some(into), Some(from)) = (merged.as_object_mut(), request.as_object()) {
        for (key, value) in from {
            into.insert(key.clone(), value.clone());
        }
        into.insert(
            "executionId".to_owned(),
            json!("arn:aws:states:us-east-1:000000000000:execution:zonehop:checked-locally"),
        );
    }
    merged
}

/// Checks the request text; returns the request (as written) when preflight's checks of
/// its fields pass, else the error preflight would end the execution with.
pub async fn check(text: &str) -> Result<Value, Error> {
    let request: Value = zonehop::request::parse_str(text)?;
    // The state machine's first Choice: without a string domain it fails at once.
    if !request["domain"].is_string() {
        return Err(Error::InvalidRequest(
            "domain: missing or not a string (the state machine fails such a request at once)"
                .to_owned(),
        ));
    }
    let parsed: PreflightRequest = zonehop::request::parse(with_defaults(&request))?;
    let settings = Settings::from_lookup(|key| {
        std::env::var(key)
            .ok()
            .or_else(|| (key == "ZONEHOP_RESOLVER").then(|| DEFAULT_RESOLVER.to_owned()))
    });
    let ports = PreflightPorts {
        source: &MemoryZones::new(),
        target: &MemoryZones::new(),
        registrar: &MemoryRegistrar::new(),
        dns: &ScriptedDns::new(),
        executions: &MemoryExecutions::new(),
        ledger: &MemoryLedger::new(),
    };
    let outcome = preflight(
        ports,
        // A dry run on twins never waits: the twins' clock.
        &ManualClock::default(),
        &PreflightRequest {
            dry_run: true,
            ..parsed
        },
        &settings,
    )
    .await;
    match outcome {
        Err(e @ Error::InvalidRequest(_)) => Err(e),
        _ => Ok(request),
    }
}
