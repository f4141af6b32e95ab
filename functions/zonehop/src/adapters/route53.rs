//! The Route 53 adapter: [`HostedZones`] over the AWS SDK.
//!
//! It translates between the SDK's types and the zone model, and SDK errors into named
//! [`Error`]s. It does not retry: the SDK's own retries are switched off on clients built
//! by [`crate::adapters::accounts::route53_client`], so that [`crate::ports::retry`] alone decides, and
//! Route 53's `PriorRequestNotComplete` (which the SDK does not know as transient) is
//! retried like throttling.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types as sdk;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::Error;
use crate::ports::hosted_zones::{HostedZone, HostedZones, PageStart, RecordPage};
use zonehop_core::change::{Action, Change};
use zonehop_core::name::Name;
use zonehop_core::zone::{
    bare_zone_id, AliasTarget, CidrRoutingConfig, Coordinates, Failover, GeoLocation,
    GeoProximityLocation, RecordSet, ResourceRecord, RrType,
};

/// Route 53 reached through an SDK client (one account, one set of credentials).
#[derive(Debug, Clone)]
pub struct Route53 {
    client: aws_sdk_route53::Client,
    /// Spaces this adapter's requests (one account's, one invocation's); shared by clones.
    pacer: Option<Arc<Pacer>>,
}

/// The pace of the Route 53 adapters a function makes: set once by the function's runtime
/// from `ZONEHOP_ROUTE53_CALLS_PER_SECOND` ([`crate::runtime::serve`]); never set in other
/// processes (tests, the local world), whose adapters are unpaced.
static PACE: OnceLock<f64> = OnceLock::new();

/// Paces every adapter [`Route53::new`] makes from now on in this process: at most
/// `calls_per_second` requests a second each. `None` leaves them unpaced.
pub fn pace_every_adapter(calls_per_second: Option<f64>) {
    if let Some(rate) = calls_per_second.filter(|r| r.is_finite() && *r > 0.0) {
        let _ = PACE.set(rate);
    }
}

/// Requests spaced at least `interval` apart: each takes the next free slot, and the slot
/// after it begins no sooner than `interval` after this request's answer came back. So the
/// requests also *arrive* at Route 53 `interval` apart, whatever the network's jitter (a
/// request held up on its way and the next one sent on time would otherwise arrive together:
/// the fleet rehearsal measured 6 in one second from adapters paced at 2 a second each).
///
/// The first slot is also an interval away, not now: an adapter lives for one invocation,
/// and the step before it in the same execution may have called the same account a moment
/// ago. Starting at once let two steps' calls meet at the boundary (the step's last call,
/// then the next step's first two within a second: 3 a second from one execution, 6 from the
/// fleet's two, CI's failing run). With the wait, one execution's calls to an account arrive
/// an interval apart across its steps too, as its steps run one after another.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    next: std::sync::Mutex<tokio::time::Instant>,
}

/// A request's slot: dropped once its answer is read, it pushes the next slot to at least
/// `interval` from then.
struct Slot<'a>(&'a Pacer);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let after = tokio::time::Instant::now() + self.0.interval;
        if let Ok(mut next) = self.0.next.lock() {
            *next = (*next).max(after);
        }
    }
}

impl Pacer {
    fn new(calls_per_second: f64) -> Pacer {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / calls_per_second),
            next: std::sync::Mutex::new(
                tokio::time::Instant::now() + Duration::from_secs_f64(1.0 / calls_per_second),
            ),
        }
    }

    async fn wait(&self) -> Slot<'_> {
        let at = match self.next.lock() {
            Ok(mut next) => {
                let at = (*next).max(tokio::time::Instant::now());
                *next = at + self.interval;
                at
            }
            Err(_) => tokio::time::Instant::now(),
        };
        tokio::time::sleep_until(at).await;
        Slot(self)
    }
}

impl Route53 {
    pub fn new(client: aws_sdk_route53::Client) -> Route53 {
        Route53 {
            client,
            pacer: PACE.get().map(|rate| Arc::new(Pacer::new(*rate))),
        }
    }

    /// Waits for this request's slot when the adapter is paced; hold the slot until the
    /// answer is read.
    async fn pace(&self) -> Option<Slot<'_>> {
        match &self.pacer {
            Some(pacer) => Some(pacer.wait().await),
            None => None,
        }
    }
}

/// Maps an SDK error to a named error. Works for every operation's error type.
pub fn classify<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = operation.to_owned();
    let status = error.raw_response().map(|r| r.status().as_u16());
    match &error {
        // Assuming the account's role happens before the request is sent: STS's refusal
        // comes back as a dispatch failure that is neither I/O nor a timeout. It needs an
        // operator (the role's trust policy or ExternalId), so it is never retried.
        SdkError::DispatchFailure(failure) if !failure.is_io() && !failure.is_timeout() => {
            let message = format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&error)
            );
            if is_denied(&message) {
                return Error::AccessDenied {
                    operation: format!("{operation} (assuming the account's role)"),
                    message,
                };
            }
            return Error::Timeout { operation, message };
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return Error::Timeout {
                operation,
                message: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&error)
                ),
            }
        }
        SdkError::ResponseError(_) => {
            return Error::ServiceUnavailable {
                operation,
                message: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&error)
                ),
            }
        }
        _ => {}
    }
    let code = error.code().unwrap_or("Unknown").to_owned();
    let message = error.message().unwrap_or("").to_owned();
    match code.as_str() {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => Error::Throttled {
            operation,
            attempts: 1,
        },
        // Route 53 Domains says DuplicateRequest while another operation on the domain runs.
        "PriorRequestNotComplete" | "DuplicateRequest" => Error::PriorRequestNotComplete {
            operation,
            attempts: 1,
        },
        "NoSuchHostedZone" => Error::ZoneNotFound {
            zone_id: message_zone_id(&message),
        },
        "InvalidChangeBatch" | "InvalidInput" => Error::ChangeRejected { operation, message },
        "AccessDenied" | "AccessDeniedException" | "NotAuthorizedException" => {
            Error::AccessDenied { operation, message }
        }
        _ if status.is_some_and(|s| s >= 500) => Error::ServiceUnavailable {
            operation,
            message: format!("{code}: {message}"),
        },
        _ => Error::Aws {
            operation,
            code,
            message,
        },
    }
}

/// True when an error's text says that a credential (an assumed role) was refused.
fn is_denied(message: &str) -> bool {
    [
        "AccessDenied",
        "not authorized to perform",
        "InvalidClientTokenId",
        "ExpiredToken",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

fn message_zone_id(message: &str) -> String {
    message
        .split_whitespace()
        .find(|w| w.starts_with('Z'))
        .map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .unwrap_or_else(|| message.to_owned())
}

fn invalid_data(operation: &str, message: String) -> Error {
    Error::Aws {
        operation: operation.to_owned(),
        code: "UnexpectedResponse".to_owned(),
        message,
    }
}

fn hosted_zone(zone: &sdk::HostedZone, name_servers: Vec<String>) -> Result<HostedZone, Error> {
    Ok(HostedZone {
        id: bare_zone_id(zone.id()).to_owned(),
        name: Name::parse(zone.name())
            .map_err(|e| invalid_data("GetHostedZone", format!("zone name: {e}")))?,
        private: zone
            .config()
            .is_some_and(sdk::HostedZoneConfig::private_zone),
        caller_reference: zone.caller_reference().to_owned(),
        name_servers,
    })
}

impl HostedZones for Route53 {
    async fn get_zone(&self, zone_id: &str) -> Result<HostedZone, Error> {
        let _slot = self.pace().await;
        let out = self
            .client
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .map_err(|e| match classify("GetHostedZone", e) {
                Error::ZoneNotFound { .. } => Error::ZoneNotFound {
                    zone_id: zone_id.to_owned(),
                },
                other => other,
            })?;
        let zone = out
            .hosted_zone()
            .ok_or_else(|| invalid_data("GetHostedZone", "no HostedZone in the answer".into()))?;
        let servers = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        hosted_zone(zone, servers)
    }

    async fn zones_named(&self, name: &Name) -> Result<Vec<HostedZone>, Error> {
        let mut found = Vec::new();
        let mut next: Option<(String, Option<String>)> = Some((name.as_str().to_owned(), None));
        while let Some((dns_name, zone_id)) = next.take() {
            let _slot = self.pace().await;
            let out = self
                .client
                .list_hosted_zones_by_name()
                .dns_name(dns_name)
                .set_hosted_zone_id(zone_id)
                .send()
                .await
                .map_err(|e| classify("ListHostedZonesByName", e))?;
            let mut past_the_name = false;
            for zone in out.hosted_zones() {
                let zone = hosted_zone(zone, Vec::new())?;
                if zone.name == *name {
                    found.push(zone);
                } else {
                    // The listing is sorted by name: once past ours, stop.
                    past_the_name = true;
                }
            }
            if out.is_truncated() && !past_the_name {
                next = out
                    .next_dns_name()
                    .map(|n| (n.to_owned(), out.next_hosted_zone_id().map(str::to_owned)));
            }
        }
        Ok(found)
    }

    async fn create_zone(
        &self,
        name: &Name,
        caller_reference: &str,
        comment: &str,
    ) -> Result<HostedZone, Error> {
        let _slot = self.pace().await;
        let out = self
            .client
            .create_hosted_zone()
            .name(name.as_str())
            .caller_reference(caller_reference)
            .hosted_zone_config(
                sdk::HostedZoneConfig::builder()
                    .comment(zonehop_core::batch::limit_comment(comment))
                    .private_zone(false)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("CreateHostedZone", e))?;
        let zone = out.hosted_zone().ok_or_else(|| {
            invalid_data("CreateHostedZone", "no HostedZone in the answer".into())
        })?;
        let servers = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        hosted_zone(zone, servers)
    }

    async fn list_records_page(
        &self,
        zone_id: &str,
        start: Option<&PageStart>,
    ) -> Result<RecordPage, Error> {
        const OP: &str = "ListResourceRecordSets";
        let _slot = self.pace().await;
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            // 300 is Route 53's page maximum: the fewest calls.
            .max_items(300)
            .set_start_record_name(start.map(|s| s.name.clone()))
            .set_start_record_type(start.map(|s| sdk::RrType::from(s.rtype.as_str())))
            .set_start_record_identifier(start.and_then(|s| s.identifier.clone()))
            .send()
            .await
            .map_err(|e| match classify(OP, e) {
                Error::ZoneNotFound { .. } => Error::ZoneNotFound {
                    zone_id: zone_id.to_owned(),
                },
                other => other,
            })?;
        let records = out
            .resource_record_sets()
            .iter()
            .map(|r| record_from_sdk(r).map_err(|m| invalid_data(OP, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if out.is_truncated() {
            match (out.next_record_name(), out.next_record_type()) {
                (Some(name), Some(rtype)) => Some(PageStart {
                    name: name.to_owned(),
                    rtype: RrType::parse(rtype.as_str()).ok_or_else(|| {
                        invalid_data(OP, format!("unknown NextRecordType {}", rtype.as_str()))
                    })?,
                    identifier: out.next_record_identifier().map(str::to_owned),
                }),
                _ => None,
            }
        } else {
            None
        };
        Ok(RecordPage { records, next })
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[Change],
        comment: &str,
    ) -> Result<String, Error> {
        const OP: &str = "ChangeResourceRecordSets";
        let sdk_changes = changes
            .iter()
            .map(change_to_sdk)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| Error::InvalidRequest(format!("{OP}: {m}")))?;
        let batch = sdk::ChangeBatch::builder()
            .comment(zonehop_core::batch::limit_comment(comment))
            .set_changes(Some(sdk_changes))
            .build()
            .map_err(|e| Error::InvalidRequest(format!("{OP}: {e}")))?;
        let _slot = self.pace().await;
        let out = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        out.change_info()
            .map(|info| info.id().to_owned())
            .ok_or_else(|| invalid_data(OP, "no ChangeInfo in the answer".into()))
    }

    async fn dnssec_signing(&self, zone_id: &str) -> Result<bool, Error> {
        let _slot = self.pace().await;
        let out = self
            .client
            .get_dnssec()
            .hosted_zone_id(zone_id)
            .send()
            .await
            .map_err(|e| classify("GetDNSSEC", e))?;
        Ok(out
            .status()
            .and_then(|s| s.serve_signature())
            .is_some_and(|s| s != "NOT_SIGNING"))
    }

    async fn health_check_exists(&self, id: &str) -> Result<bool, Error> {
        let _slot = self.pace().await;
        match self
            .client
            .get_health_check()
            .health_check_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match classify("GetHealthCheck", e) {
                Error::Aws { code, .. } if code == "NoSuchHealthCheck" => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool, Error> {
        let _slot = self.pace().await;
        let out = self
            .client
            .get_change()
            .id(change_id)
            .send()
            .await
            .map_err(|e| classify("GetChange", e))?;
        Ok(out
            .change_info()
            .is_some_and(|info| *info.status() == sdk::ChangeStatus::Insync))
    }
}

/// SDK record set to the model.
pub fn record_from_sdk(r: &sdk::ResourceRecordSet) -> Result<RecordSet, String> {
    let name = Name::parse(r.name()).map_err(|e| format!("record name {}: {e}", r.name()))?;
    let rtype = RrType::parse(r.r#type().as_str())
        .ok_or_else(|| format!("{}: unknown type {}", r.name(), r.r#type().as_str()))?;
    let alias_target = match r.alias_target() {
        Some(a) => Some(AliasTarget {
            hosted_zone_id: a.hosted_zone_id().to_owned(),
            dns_name: Name::parse(a.dns_name())
                .map_err(|e| format!("alias target of {name}: {e}"))?,
            evaluate_target_health: a.evaluate_target_health(),
        }),
        None => None,
    };
    let failover = match r.failover() {
        None => None,
        Some(sdk::ResourceRecordSetFailover::Primary) => Some(Failover::Primary),
        Some(sdk::ResourceRecordSetFailover::Secondary) => Some(Failover::Secondary),
        Some(other) => return Err(format!("{name}: unknown failover {}", other.as_str())),
    };
    Ok(RecordSet {
        name,
        rtype,
        set_identifier: r.set_identifier().map(str::to_owned),
        weight: r.weight(),
        region: r.region().map(|x| x.as_str().to_owned()),
        geo_location: r.geo_location().map(|g| GeoLocation {
            continent_code: g.continent_code().map(str::to_owned),
            country_code: g.country_code().map(str::to_owned),
            subdivision_code: g.subdivision_code().map(str::to_owned),
        }),
        failover,
        multi_value_answer: r.multi_value_answer(),
        ttl: r.ttl(),
        resource_records: r
            .resource_records()
            .iter()
            .map(|v| ResourceRecord {
                value: v.value().to_owned(),
            })
            .collect(),
        alias_target,
        health_check_id: r.health_check_id().map(str::to_owned),
        traffic_policy_instance_id: r.traffic_policy_instance_id().map(str::to_owned),
        cidr_routing_config: r.cidr_routing_config().map(|c| CidrRoutingConfig {
            collection_id: c.collection_id().to_owned(),
            location_name: c.location_name().to_owned(),
        }),
        geo_proximity_location: r.geo_proximity_location().map(|g| GeoProximityLocation {
            aws_region: g.aws_region().map(str::to_owned),
            local_zone_group: g.local_zone_group().map(str::to_owned),
            coordinates: g.coordinates().map(|c| Coordinates {
                latitude: c.latitude().to_owned(),
                longitude: c.longitude().to_owned(),
            }),
            bias: g.bias(),
        }),
    })
}

/// Model record set to the SDK's.
pub fn record_to_sdk(r: &RecordSet) -> Result<sdk::ResourceRecordSet, String> {
    let values = r
        .values()
        .map(|v| {
            sdk::ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let alias = match &r.alias_target {
        Some(a) => Some(
            sdk::AliasTarget::builder()
                .hosted_zone_id(bare_zone_id(&a.hosted_zone_id))
                .dns_name(a.dns_name.as_str())
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let cidr = match &r.cidr_routing_config {
        Some(c) => Some(
            sdk::CidrRoutingConfig::builder()
                .collection_id(&c.collection_id)
                .location_name(&c.location_name)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let proximity = match &r.geo_proximity_location {
        Some(g) => Some(
            sdk::GeoProximityLocation::builder()
                .set_aws_region(g.aws_region.clone())
                .set_local_zone_group(g.local_zone_group.clone())
                .set_coordinates(match &g.coordinates {
                    Some(c) => Some(
                        sdk::Coordinates::builder()
                            .latitude(&c.latitude)
                            .longitude(&c.longitude)
                            .build()
                            .map_err(|e| e.to_string())?,
                    ),
                    None => None,
                })
                .set_bias(g.bias)
                .build(),
        ),
        None => None,
    };
    sdk::ResourceRecordSet::builder()
        .name(r.name.as_str())
        .r#type(sdk::RrType::from(r.rtype.as_str()))
        .set_set_identifier(r.set_identifier.clone())
        .set_weight(r.weight)
        .set_region(r.region.as_deref().map(sdk::ResourceRecordSetRegion::from))
        .set_geo_location(r.geo_location.as_ref().map(|g| {
            sdk::GeoLocation::builder()
                .set_continent_code(g.continent_code.clone())
                .set_country_code(g.country_code.clone())
                .set_subdivision_code(g.subdivision_code.clone())
                .build()
        }))
        .set_failover(r.failover.map(|f| match f {
            Failover::Primary => sdk::ResourceRecordSetFailover::Primary,
            Failover::Secondary => sdk::ResourceRecordSetFailover::Secondary,
        }))
        .set_multi_value_answer(r.multi_value_answer)
        .set_ttl(if alias.is_some() { None } else { r.ttl })
        .set_resource_records(if values.is_empty() {
            None
        } else {
            Some(values)
        })
        .set_alias_target(alias)
        .set_health_check_id(r.health_check_id.clone())
        .set_traffic_policy_instance_id(r.traffic_policy_instance_id.clone())
        .set_cidr_routing_config(cidr)
        .set_geo_proximity_location(proximity)
        .build()
        .map_err(|e| e.to_string())
}

fn change_to_sdk(change: &Change) -> Result<sdk::Change, String> {
    let action = match change.action {
        Action::Create => sdk::ChangeAction::Create,
        Action::Upsert => sdk::ChangeAction::Upsert,
        Action::Delete => sdk::ChangeAction::Delete,
    };
    sdk::Change::builder()
        .action(action)
        .resource_record_set(record_to_sdk(&change.record)?)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop_core::export::load_export;

    #[tokio::test(start_paused = true)]
    async fn a_paced_adapter_spaces_its_requests_by_the_rate() {
        // GIVEN a pace of 4 requests a second, WHEN 8 requests want to go at once,
        // THEN the first goes a quarter second after the adapter was made (the previous
        // step's last call may have just gone) and each next one a quarter second later.
        let pacer = Pacer::new(4.0);
        let started = tokio::time::Instant::now();
        for _ in 0..8 {
            pacer.wait().await;
        }
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // A request after a quiet spell goes at once: a pacer saves up no burst.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let later = tokio::time::Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        assert_eq!(later.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_slot_is_a_whole_interval_after_the_answer_so_requests_arrive_spaced() {
        // GIVEN 2 requests a second, WHEN a request's answer takes 400 ms (held up on its
        // way), THEN the next request goes 500 ms after that answer, not 100 ms after it: the
        // two arrive at least an interval apart whatever the delay.
        let pacer = Pacer::new(2.0);
        {
            let _slot = pacer.wait().await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let answered = tokio::time::Instant::now();
        let _next = pacer.wait().await;
        assert_eq!(answered.elapsed(), Duration::from_millis(500));
    }

    #[test]
    fn every_kind_of_record_survives_the_trip_through_the_sdk_types() {
        let zone =
            load_export(include_str!("../../../core/testdata/every-kind.json")).expect("export");
        for record in zone.iter() {
            let sdk = record_to_sdk(record).expect("to sdk");
            let back = record_from_sdk(&sdk).expect("from sdk");
            let mut expected = record.clone();
            if let Some(alias) = &mut expected.alias_target {
                alias.hosted_zone_id = bare_zone_id(&alias.hosted_zone_id).to_owned();
            }
            assert_eq!(back, expected, "{}", record.key());
        }
    }

    fn dispatch_failure(
        message: &str,
    ) -> SdkError<aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneError, HttpResponse>
    {
        let source: Box<dyn std::error::Error + Send + Sync> = message.to_owned().into();
        SdkError::dispatch_failure(
            aws_smithy_runtime_api::client::result::ConnectorError::other(source, None),
        )
    }

    #[test]
    fn a_refused_assume_role_is_access_denied_naming_the_role_and_not_retried() {
        let error = classify(
            "GetHostedZone",
            dispatch_failure("failed to load credentials: an error occurred (AccessDenied) when calling AssumeRole: User: arn:aws:sts::333333333333:assumed-role/zonehop-fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/zonehop"),
        );
        assert_eq!(error.error_type(), "AccessDenied");
        assert!(!error.is_transient());
        assert!(
            error
                .to_string()
                .contains("arn:aws:iam::111111111111:role/zonehop"),
            "{error}"
        );
    }

    #[test]
    fn a_connection_that_fails_for_another_reason_stays_transient() {
        let error = classify("GetHostedZone", dispatch_failure("connection reset"));
        assert_eq!(error.error_type(), "Timeout");
        assert!(error.is_transient());
    }
}
