//! The parts of a migration request that several functions read, and their checks.
//! A bad request fails here, before any call that writes.

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::zone::{bare_zone_id, RecordSet, RrType};

/// A request that cannot run: what is wrong with it, naming the field. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRequest(pub String);

impl InvalidRequest {
    /// The `errorType` the state machine sees (`zonehop::Error::InvalidRequest`).
    pub fn error_type(&self) -> &'static str {
        "InvalidRequest"
    }
}

/// A hosted zone in some account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneRef {
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    #[serde(flatten)]
    pub access: AccountAccess,
}

impl ZoneRef {
    /// The zone id, required here; `field` names the request field in the error.
    pub fn required_id(&self, field: &str) -> Result<&str, InvalidRequest> {
        match self.hosted_zone_id.as_deref().map(str::trim) {
            Some(id) if is_zone_id(id) => Ok(id),
            Some(id) => Err(InvalidRequest(format!(
                "{field}.hostedZoneId `{id}` is not a hosted zone id (Z followed by letters and digits)"
            ))),
            None => Err(InvalidRequest(format!("{field}.hostedZoneId is missing"))),
        }
    }
}

/// `Z0123ABC` or `/hostedzone/Z0123ABC`.
fn is_zone_id(id: &str) -> bool {
    let bare = bare_zone_id(id);
    !bare.is_empty() && bare.len() <= 32 && bare.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses and checks the domain: a name of at least two labels, not a wildcard.
pub fn parse_domain(domain: &str) -> Result<Name, InvalidRequest> {
    let name =
        Name::parse(domain).map_err(|e| InvalidRequest(format!("domain `{domain}`: {e}")))?;
    if name.label_count() < 2 {
        return Err(InvalidRequest(format!(
            "domain `{domain}` is a top-level domain; give the registered domain (example.com, example.co.uk)"
        )));
    }
    if name.labels().any(|l| l == "\\052") {
        return Err(InvalidRequest(format!("domain `{domain}` is a wildcard")));
    }
    Ok(name)
}

/// Parses `keepInSource`: each a distinct name strictly below the domain, none below another.
pub fn parse_keep_in_source(domain: &Name, keep: &[String]) -> Result<Vec<Name>, InvalidRequest> {
    let mut names: Vec<Name> = Vec::with_capacity(keep.len());
    for raw in keep {
        let name =
            Name::parse(raw).map_err(|e| InvalidRequest(format!("keepInSource `{raw}`: {e}")))?;
        if !name.is_below(domain) {
            return Err(InvalidRequest(format!(
                "keepInSource `{raw}` is not a subdomain of {domain}"
            )));
        }
        if let Some(other) = names
            .iter()
            .find(|n| name.is_at_or_below(n) || n.is_at_or_below(&name))
        {
            return Err(InvalidRequest(format!(
                "keepInSource `{raw}` overlaps `{other}`: list each kept subtree once"
            )));
        }
        names.push(name);
    }
    Ok(names)
}

/// How to act in one account: a role to assume (with the ExternalId its trust policy
/// requires), or nothing to act with the function's own credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAccess {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl AccountAccess {
    /// Checks the role ARN's shape (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
    pub fn validate(&self, field: &str) -> Result<(), InvalidRequest> {
        let Some(arn) = &self.role_arn else {
            return Ok(());
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "iam"
            && parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5].starts_with("role/")
            && parts[5].len() > "role/".len();
        if well_formed {
            Ok(())
        } else {
            Err(InvalidRequest(format!(
                "{field}.roleArn `{arn}` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
            )))
        }
    }

    /// The account id of the role, when one is given.
    pub fn account_id(&self) -> Option<&str> {
        self.role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
    }
}

/// Where the domain is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrarKind {
    /// Route 53 Domains: zonehop updates the registration itself.
    #[default]
    Route53domains,
    /// Another registrar: the operator sets the name servers (the state machine waits).
    Manual,
}

/// The request's `registrar`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrarRef {
    #[serde(rename = "type", default)]
    pub kind: RegistrarKind,
    #[serde(flatten)]
    pub access: AccountAccess,
}

/// The request's `nsTtl`: the apex NS TTL during the move and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsTtl {
    pub during: i64,
    pub after: i64,
}

impl Default for NsTtl {
    /// AWS's advice: 60-900 s during the move; 172800 s (2 days) after it.
    fn default() -> Self {
        NsTtl {
            during: 300,
            after: 172_800,
        }
    }
}

impl NsTtl {
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        for (field, ttl) in [("nsTtl.during", self.during), ("nsTtl.after", self.after)] {
            if !(1..=2_147_483_647).contains(&ttl) {
                return Err(InvalidRequest(format!(
                    "{field} {ttl} is not a TTL (1..2147483647 s)"
                )));
            }
        }
        Ok(())
    }
}

/// The two zones of a migration, for the steps that touch both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BothZones {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub ns_ttl: NsTtl,
}

impl BothZones {
    /// The domain and both zone ids, every field of the two zones checked.
    pub fn validated(&self) -> Result<(Name, String, String), InvalidRequest> {
        let domain = parse_domain(&self.domain)?;
        self.ns_ttl.validate()?;
        self.source.access.validate("source")?;
        self.target.access.validate("target")?;
        let source = bare_zone_id(self.source.required_id("source")?).to_owned();
        let target = bare_zone_id(self.target.required_id("target")?).to_owned();
        Ok((domain, source, target))
    }
}

/// One record of the request's `cutover.records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CutoverRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub values: Vec<String>,
    #[serde(default = "default_cutover_ttl")]
    pub ttl: i64,
}

fn default_cutover_ttl() -> i64 {
    60
}

pub fn cutover_records(
    domain: &Name,
    records: &[CutoverRecord],
) -> Result<Vec<RecordSet>, InvalidRequest> {
    if records.is_empty() {
        return Err(InvalidRequest("cutover.records is empty".into()));
    }
    records
        .iter()
        .map(|r| {
            let name = Name::parse(&r.name)
                .map_err(|e| InvalidRequest(format!("cutover record {}: {e}", r.name)))?;
            if !name.is_at_or_below(domain) {
                return Err(InvalidRequest(format!(
                    "cutover record {name} is not in {domain}"
                )));
            }
            let rtype = RrType::parse(&r.rtype)
                .filter(|t| !matches!(t, RrType::SOA | RrType::NS) || name != *domain)
                .ok_or_else(|| {
                    InvalidRequest(format!(
                        "cutover record {name}: type {} cannot be cut over",
                        r.rtype
                    ))
                })?;
            if r.values.is_empty() || !(0..=2_147_483_647).contains(&r.ttl) {
                return Err(InvalidRequest(format!(
                    "cutover record {name} {rtype}: needs values and a TTL"
                )));
            }
            let values: Vec<&str> = r.values.iter().map(String::as_str).collect();
            Ok(RecordSet::simple(name, rtype, r.ttl, &values))
        })
        .collect()
}

/// The probe resolvers of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeConfig {
    #[serde(default)]
    pub resolvers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_under_one_and_multi_label_suffixes_are_accepted() {
        assert_eq!(
            parse_domain("Example.COM").expect("ok").as_str(),
            "example.com."
        );
        assert!(parse_domain("example.co.uk.").is_ok());
        for bad in ["com", "", "*.example.com", "a..b"] {
            assert_eq!(
                parse_domain(bad).expect_err(bad).error_type(),
                "InvalidRequest"
            );
        }
    }

    #[test]
    fn kept_subtrees_must_lie_below_the_domain_and_not_overlap() {
        let domain = parse_domain("example.com").expect("ok");
        assert!(parse_keep_in_source(
            &domain,
            &["dev.example.com".into(), "qa.example.com".into()]
        )
        .is_ok());
        for bad in [
            vec!["example.com".to_owned()],
            vec!["dev.example.org".to_owned()],
            vec!["dev.example.com".to_owned(), "a.dev.example.com".to_owned()],
            vec!["dev.example.com".to_owned(), "DEV.example.com.".to_owned()],
        ] {
            let err = parse_keep_in_source(&domain, &bad).expect_err("refused");
            assert!(err.to_string().contains("keepInSource"), "{err}");
        }
    }

    #[test]
    fn zone_ids_are_checked() {
        let zone = |id: &str| ZoneRef {
            hosted_zone_id: Some(id.to_owned()),
            access: AccountAccess::default(),
        };
        assert_eq!(
            zone("Z0123ABC").required_id("target").expect("ok"),
            "Z0123ABC"
        );
        assert!(zone("/hostedzone/Z0123ABC").required_id("target").is_ok());
        assert!(zone("not a zone").required_id("target").is_err());
        let missing = ZoneRef::default()
            .required_id("target")
            .expect_err("missing");
        assert!(missing.to_string().contains("target.hostedZoneId"));
    }
}
