//! DESIGN step 2: create the target zone, idempotently, or adopt the one given.

use crate::ports::hosted_zones::check_is_public_zone_of;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::ports::hosted_zones::{
    left_by_an_earlier_execution, made_by_create_zone, HostedZone, HostedZones,
};
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use zonehop_core::name::Name;
use zonehop_core::request::{parse_domain, ZoneFields, ZoneRef};

/// The target side of the request, as create-zone reads it. Deserialized through
/// [`ZoneFields`], which refuses unknown keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "ZoneFields")]
pub struct TargetZone {
    #[serde(flatten)]
    pub zone: ZoneRef,
    /// Create a zone even though the target account already has one of that name.
    #[serde(default)]
    pub allow_duplicate_zone: bool,
}

impl From<ZoneFields> for TargetZone {
    fn from(fields: ZoneFields) -> Self {
        TargetZone {
            allow_duplicate_zone: fields.allow_duplicate_zone.unwrap_or(false),
            zone: ZoneRef::from(fields),
        }
    }
}

/// create-zone's input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateZoneRequest {
    pub domain: String,
    pub target: TargetZone,
    /// What makes this migration unique (the state machine passes `$$.Execution.Id`); the
    /// CallerReference is derived from it and the domain, so a retry finds its own zone.
    #[serde(default)]
    pub execution_id: Option<String>,
}

/// create-zone's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateZoneOutput {
    pub hosted_zone_id: String,
    pub name_servers: Vec<String>,
    /// True when this call created the zone.
    pub created: bool,
    /// True when the zone was given in the request (its records predate the migration).
    pub adopted: bool,
    pub caller_reference: String,
}

/// The CallerReference for a domain and execution: stable across retries, distinct
/// between migrations, and within Route 53's 128 characters whatever the domain's length.
pub fn caller_reference(domain: &Name, execution_id: Option<&str>) -> String {
    let mut hash = Sha256::new();
    hash.update(domain.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(execution_id.unwrap_or("").as_bytes());
    let digest = hash.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("zonehop-{hex}")
}

/// Creates or adopts the target zone.
pub async fn create_zone<R: HostedZones>(
    r53: &R,
    request: &CreateZoneRequest,
    settings: &Settings,
) -> Result<CreateZoneOutput, Error> {
    let stats = RetryStats::default();
    let r53 = &Retrying::new(r53, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    request.target.zone.access.validate("target")?;
    let reference = caller_reference(&domain, request.execution_id.as_deref());

    if request.target.zone.hosted_zone_id.is_some() {
        let zone_id = request.target.zone.required_id("target")?;
        let zone = r53.get_zone(zone_id).await?;
        check_is_public_zone_of(&zone, &domain)?;
        return Ok(CreateZoneOutput {
            caller_reference: zone.caller_reference,
            hosted_zone_id: zone.id,
            name_servers: zone.name_servers,
            created: false,
            adopted: true,
        });
    }

    let existing = r53.zones_named(&domain).await?;
    if let Some(ours) = existing.iter().find(|z| z.caller_reference == reference) {
        // A retry of this very request: the zone is already there.
        let zone = r53.get_zone(&ours.id).await?;
        return Ok(output(zone, false));
    }
    let earlier = left_by_an_earlier_execution(&existing, made_by_create_zone);
    if let Some(earlier) = earlier {
        // An execution that failed after creating it: this one goes on with it (sync-records
        // makes it hold what the source holds).
        tracing::warn!(zone = %earlier.id, reference = %earlier.caller_reference, "adopting the target zone an earlier execution created");
        let zone = r53.get_zone(&earlier.id).await?;
        return Ok(output(zone, false));
    }
    let public: Vec<String> = existing
        .iter()
        .filter(|z| !z.private)
        .map(|z| z.id.clone())
        .collect();
    if !public.is_empty() && !request.target.allow_duplicate_zone {
        return Err(Error::ZoneAlreadyExists {
            domain: domain.to_string(),
            existing: public,
        });
    }

    let comment = format!("zonehop migration target for {domain}");
    match r53.create_zone(&domain, &reference, &comment).await {
        Ok(zone) => Ok(output(zone, true)),
        // An earlier attempt created it (its answer was lost): find it by reference.
        Err(Error::Aws { code, .. }) if code == "HostedZoneAlreadyExists" => {
            let again = r53.zones_named(&domain).await?;
            let ours = again
                .into_iter()
                .find(|z| z.caller_reference == reference)
                .ok_or_else(|| Error::ZoneAlreadyExists {
                    domain: domain.to_string(),
                    existing: Vec::new(),
                })?;
            let zone = r53.get_zone(&ours.id).await?;
            Ok(output(zone, true))
        }
        Err(other) => Err(other),
    }
}

fn output(zone: HostedZone, created: bool) -> CreateZoneOutput {
    CreateZoneOutput {
        hosted_zone_id: zone.id,
        name_servers: zone.name_servers,
        created,
        adopted: false,
        caller_reference: zone.caller_reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_reference_is_stable_per_request_and_distinct_between_migrations() {
        let domain = Name::parse("example.com").expect("name");
        let first = caller_reference(
            &domain,
            Some("arn:aws:states:us-east-1:1:execution:m:run-1"),
        );
        assert_eq!(
            first,
            caller_reference(
                &Name::parse("EXAMPLE.com.").expect("name"),
                Some("arn:aws:states:us-east-1:1:execution:m:run-1")
            )
        );
        assert_ne!(
            first,
            caller_reference(
                &domain,
                Some("arn:aws:states:us-east-1:1:execution:m:run-2")
            )
        );
        assert_ne!(
            first,
            caller_reference(
                &Name::parse("example.org").expect("name"),
                Some("arn:aws:states:us-east-1:1:execution:m:run-1")
            )
        );
        let long = Name::parse(&format!(
            "{}.com",
            ["a".repeat(63), "b".repeat(63), "c".repeat(63)].join(".")
        ))
        .expect("name");
        assert!(caller_reference(&long, None).len() <= 128);
    }
}
