//! The parts of a migration request that several functions read, and their checks.
//! A bad request fails here, before any call that writes.

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::validate;
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

/// The longest TTL zonehop sets on an apex NS set or a delegation (`nsTtl.during`,
/// `nsTtl.after`, delegate-subdomain's `delegationTtl`): two days, the TTL `.com` gives its
/// delegations and AWS's advice for the NS TTL after a move. Longer would only make a
/// rollback take longer to reach resolvers.
pub const MAX_NS_TTL: i64 = 172_800;

/// At most this many probe resolvers: each is asked every round of check-propagation,
/// within one Lambda invocation, and each adds a `movedAt` to the state (invariant 5).
pub const MAX_PROBE_RESOLVERS: usize = 20;

/// Every key a zone object (`source`, `target`, `registrar` aside) may hold, as the state
/// machine passes it. Besides the request's own fields (`hostedZoneId`, `roleArn`,
/// `externalId`, and `allowDuplicateZone` on the target), the state machine merges
/// create-zone's output into `$.target` (`nameServers`, `created`, `adopted`,
/// `callerReference`), so every step that reads the target accepts those too. Any other
/// key is refused: a misspelt field must never be ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneFields {
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub allow_duplicate_zone: Option<bool>,
    #[serde(default)]
    pub adopted: Option<bool>,
    #[serde(default)]
    pub name_servers: Option<Vec<String>>,
    #[serde(default)]
    pub created: Option<bool>,
    #[serde(default)]
    pub caller_reference: Option<String>,
}

impl From<ZoneFields> for ZoneRef {
    fn from(fields: ZoneFields) -> Self {
        ZoneRef {
            hosted_zone_id: fields.hosted_zone_id,
            access: AccountAccess {
                role_arn: fields.role_arn,
                external_id: fields.external_id,
            },
        }
    }
}

/// A hosted zone in some account. Deserialized through [`ZoneFields`], which refuses
/// unknown keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "ZoneFields")]
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

/// Refuses a name with characters outside ASCII: Route 53 stores internationalized names
/// in their IDNA (punycode, `xn--`) form, and zonehop does not convert them.
fn ascii_only(field: &str, raw: &str) -> Result<(), InvalidRequest> {
    if raw.is_ascii() {
        Ok(())
    } else {
        Err(InvalidRequest(format!(
            "{field} `{raw}` is not ASCII: give the name in its IDNA form (xn--...), as Route 53 stores it"
        )))
    }
}

/// Parses and checks the domain: a name of at least two labels, not a wildcard.
pub fn parse_domain(domain: &str) -> Result<Name, InvalidRequest> {
    ascii_only("domain", domain)?;
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

/// Parses `keepInSource`: each a distinct name strictly below the domain, none below
/// another, none a wildcard or zonehop's own canary name (neither can be a zone apex).
pub fn parse_keep_in_source(domain: &Name, keep: &[String]) -> Result<Vec<Name>, InvalidRequest> {
    let mut names: Vec<Name> = Vec::with_capacity(keep.len());
    for raw in keep {
        ascii_only("keepInSource", raw)?;
        let name =
            Name::parse(raw).map_err(|e| InvalidRequest(format!("keepInSource `{raw}`: {e}")))?;
        if !name.is_below(domain) {
            return Err(InvalidRequest(format!(
                "keepInSource `{raw}` is not a subdomain of {domain}"
            )));
        }
        if name.labels().any(|l| l == "\\052") {
            return Err(InvalidRequest(format!(
                "keepInSource `{raw}` is a wildcard, which cannot be a zone's apex: keep the name below it"
            )));
        }
        if domain
            .prepend(crate::canary::CANARY_LABEL)
            .is_ok_and(|canary| canary == name)
        {
            return Err(InvalidRequest(format!(
                "keepInSource `{raw}` is zonehop's own canary name: it cannot stay behind"
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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// The parent zone is a Route 53 hosted zone (`app.example.com` under `example.com`),
    /// often in another account: its NS record for the domain is the delegation, and
    /// zonehop changes it in one atomic change, as it would a registration.
    Route53zone,
}

/// Every key the request's `registrar` may hold; any other is refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrarFields {
    #[serde(rename = "type", default)]
    pub kind: Option<RegistrarKind>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    #[serde(default)]
    pub lower_ns_ttl: bool,
}

impl From<RegistrarFields> for RegistrarRef {
    fn from(fields: RegistrarFields) -> Self {
        RegistrarRef {
            kind: fields.kind.unwrap_or_default(),
            access: AccountAccess {
                role_arn: fields.role_arn,
                external_id: fields.external_id,
            },
            hosted_zone_id: fields.hosted_zone_id,
            lower_ns_ttl: fields.lower_ns_ttl,
        }
    }
}

/// The request's `registrar`. Deserialized through [`RegistrarFields`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "RegistrarFields")]
pub struct RegistrarRef {
    #[serde(rename = "type", default)]
    pub kind: RegistrarKind,
    #[serde(flatten)]
    pub access: AccountAccess,
    /// `route53zone` only: the parent's hosted zone (in the account of `roleArn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    /// `route53zone` only: lower the parent's NS TTL for the domain to `nsTtl.during`
    /// before the swap (and put it back when the migration ends), so that the window is
    /// that TTL and not the parent's usual one. Off unless asked: it writes the parent zone
    /// twice more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lower_ns_ttl: bool,
}

impl RegistrarRef {
    /// The role's ARN, the parent zone's id and every field that only some kinds take.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        self.access.validate("registrar")?;
        match self.kind {
            RegistrarKind::Route53zone => {
                let id = self.hosted_zone_id.as_deref().unwrap_or_default();
                let bare = bare_zone_id(id);
                if bare.is_empty() {
                    return Err(InvalidRequest(
                        "registrar.hostedZoneId is required for type route53zone: the parent's hosted zone, in the account of registrar.roleArn".into(),
                    ));
                }
                if !bare.bytes().all(|b| b.is_ascii_alphanumeric()) || bare.len() > 32 {
                    return Err(InvalidRequest(format!(
                        "registrar.hostedZoneId `{id}` is not a hosted zone id (Z0123456789ABCDEFGHIJ)"
                    )));
                }
                Ok(())
            }
            kind => {
                let name = match kind {
                    RegistrarKind::Manual => "manual",
                    _ => "route53domains",
                };
                if self.hosted_zone_id.is_some() {
                    return Err(InvalidRequest(format!(
                        "registrar.hostedZoneId is for type route53zone, not {name}"
                    )));
                }
                if self.lower_ns_ttl {
                    return Err(InvalidRequest(format!(
                        "registrar.lowerNsTtl is for type route53zone (a registry's TTL cannot be changed), not {name}"
                    )));
                }
                Ok(())
            }
        }
    }

    fn is_default(&self) -> bool {
        *self == RegistrarRef::default()
    }

    /// The parent zone's bare id (`route53zone` only).
    pub fn parent_zone_id(&self) -> Option<&str> {
        self.hosted_zone_id.as_deref().map(bare_zone_id)
    }
}

/// The request's `nsTtl`: the apex NS TTL during the move and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

/// Checks a TTL zonehop sets on an NS set: 1 to [`MAX_NS_TTL`] seconds.
pub fn validate_ns_ttl(field: &str, ttl: i64) -> Result<(), InvalidRequest> {
    if (1..=MAX_NS_TTL).contains(&ttl) {
        Ok(())
    } else {
        Err(InvalidRequest(format!(
            "{field} {ttl} is outside 1..={MAX_NS_TTL} s"
        )))
    }
}

impl NsTtl {
    /// Both TTLs within 1..=[`MAX_NS_TTL`]; every problem found, not only the first.
    pub fn problems(&self) -> Vec<InvalidRequest> {
        [("nsTtl.during", self.during), ("nsTtl.after", self.after)]
            .into_iter()
            .filter_map(|(field, ttl)| validate_ns_ttl(field, ttl).err())
            .collect()
    }

    pub fn validate(&self) -> Result<(), InvalidRequest> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

/// The two zones of a migration, for the steps that touch both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BothZones {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub ns_ttl: NsTtl,
    /// Where the delegation is: lower-ns-ttl and finalize change a `route53zone` parent's
    /// NS TTL when `registrar.lowerNsTtl` asks for it.
    #[serde(default, skip_serializing_if = "RegistrarRef::is_default")]
    pub registrar: RegistrarRef,
    /// What stays behind and what happens to health checks: finalize's last carry reads
    /// the zones as sync-records does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_in_source: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "crate::plan::HealthCheckPolicy::is_default"
    )]
    pub health_checks: crate::plan::HealthCheckPolicy,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

impl BothZones {
    /// The domain and both zone ids, every field of the two zones checked.
    pub fn validated(&self) -> Result<(Name, String, String), InvalidRequest> {
        let domain = parse_domain(&self.domain)?;
        self.ns_ttl.validate()?;
        self.registrar.validate()?;
        self.source.access.validate("source")?;
        self.target.access.validate("target")?;
        let source = bare_zone_id(self.source.required_id("source")?).to_owned();
        let target = bare_zone_id(self.target.required_id("target")?).to_owned();
        Ok((domain, source, target))
    }
}

/// One record of the request's `cutover.records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

/// Checks `cutover.records` and returns them as record sets. Refuses what Route 53 would
/// refuse when cutover writes them, with the rules of [`crate::validate`]: names outside
/// the domain, a type Route 53 does not serve, an SOA or NS anywhere (the target's apex
/// SOA and NS are its own; an NS below the apex would delegate a name in the middle of the
/// move), no values, a TTL outside 0..2147483647, a value invalid for its type (TXT
/// quoting and 255-character strings, CAA, MX, SRV, NAPTR fields...), a CNAME at the apex
/// or beside other records of its name among them, a record given twice. Every problem is
/// found; the message lists the first [`crate::validate::LISTED`] and the count.
pub fn cutover_records(
    domain: &Name,
    records: &[CutoverRecord],
) -> Result<Vec<RecordSet>, InvalidRequest> {
    cutover_problems(domain, records)
        .map_err(|problems| InvalidRequest(validate::summarize(&problems)))
}

/// [`cutover_records`] with every problem, one string each, for a caller that lists them
/// with others (preflight).
pub fn cutover_problems(
    domain: &Name,
    records: &[CutoverRecord],
) -> Result<Vec<RecordSet>, Vec<String>> {
    if records.is_empty() {
        return Err(vec!["cutover.records is empty".into()]);
    }
    let mut problems: Vec<String> = Vec::new();
    let mut sets: Vec<RecordSet> = Vec::new();
    for (index, r) in records.iter().enumerate() {
        let field = format!("cutover.records[{index}]");
        match cutover_record(domain, r) {
            Ok(set) => {
                problems.extend(
                    validate::record_set_problems(&set)
                        .into_iter()
                        .map(|p| format!("{field} {p}")),
                );
                sets.push(set);
            }
            Err(problem) => problems.push(format!("{field}{problem}")),
        }
    }
    problems.extend(
        validate::zone_problems(domain, &sets)
            .into_iter()
            .map(|p| format!("cutover.records: {p}")),
    );
    let mut seen = std::collections::BTreeSet::new();
    for set in &sets {
        if !seen.insert(set.key()) {
            problems.push(format!("cutover.records: {} is given twice", set.key()));
        }
    }
    if problems.is_empty() {
        Ok(sets)
    } else {
        problems.dedup();
        Err(problems)
    }
}

/// One cutover record as a record set, or what makes it no record of the domain (the
/// problem follows the field's name).
fn cutover_record(domain: &Name, r: &CutoverRecord) -> Result<RecordSet, String> {
    if !r.name.is_ascii() {
        return Err(".name is not ASCII: give its IDNA form (xn--...)".into());
    }
    let name = Name::parse(&r.name).map_err(|e| format!(".name: {e}"))?;
    if !name.is_at_or_below(domain) {
        return Err(format!(": {name} is not in {domain}"));
    }
    let rtype = RrType::parse(&r.rtype).ok_or_else(|| {
        format!(
            ": type `{}` cannot be cut over (not a type Route 53 serves)",
            r.rtype.chars().take(16).collect::<String>()
        )
    })?;
    if matches!(rtype, RrType::SOA | RrType::NS) {
        return Err(format!(
            ": type `{rtype}` cannot be cut over (the target's apex SOA and NS are its own; an SOA exists only at the apex, and an NS below it would delegate {name} in the middle of the move)"
        ));
    }
    let values: Vec<&str> = r.values.iter().map(String::as_str).collect();
    Ok(RecordSet::simple(name, rtype, r.ttl, &values))
}

/// The probe resolvers of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

    fn record(name: &str, rtype: &str, values: &[&str]) -> CutoverRecord {
        CutoverRecord {
            name: name.into(),
            rtype: rtype.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ttl: 60,
        }
    }

    fn cutover_error(records: &[CutoverRecord]) -> String {
        let domain = parse_domain("example.com").expect("ok");
        cutover_records(&domain, records).expect_err("refused").0
    }

    #[test]
    fn cutover_records_route53_would_refuse_are_invalid_requests_all_listed() {
        let message = cutover_error(&[
            record("www.example.com", "A", &["2001:db8::1"]),
            record("v6.example.com", "AAAA", &["192.0.2.1"]),
            record("example.com", "CNAME", &["elsewhere.example.net."]),
            record("www.example.org", "A", &["192.0.2.1"]),
            record("x.example.com", "LOC", &["1 2 3"]),
            record("mx.example.com", "MX", &["mail.example.com."]),
        ]);
        for expected in [
            "cutover.records[0] www.example.com. A, value #0: not an IPv4 address",
            "cutover.records[1] v6.example.com. AAAA, value #0: not an IPv6 address",
            "example.com. CNAME: a CNAME at the apex",
            "cutover.records[3]: www.example.org. is not in example.com.",
            "cutover.records[4]: type `LOC` cannot be cut over",
            "cutover.records[5] mx.example.com. MX, value #0: not a valid MX value",
        ] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
    }

    #[test]
    fn a_cutover_cname_beside_other_cutover_records_of_its_name_is_refused() {
        let message = cutover_error(&[
            record("www.example.com", "CNAME", &["lb.example.net."]),
            record("www.example.com", "TXT", &["\"x\""]),
        ]);
        assert!(message.contains("a CNAME beside TXT"), "{message}");
    }

    #[test]
    fn cutover_records_are_checked_as_route53_checks_them() {
        let mut over = record("big.example.com", "A", &["192.0.2.1"]);
        over.ttl = 2_147_483_648;
        let message = cutover_error(&[
            record("t.example.com", "TXT", &["no quotes"]),
            record(
                "long.example.com",
                "TXT",
                &[&format!("\"{}\"", "a".repeat(300))],
            ),
            record("caa.example.com", "CAA", &["0 issue \"amazon.com"]),
            record("sub.example.com", "SOA", &["a. b. 1 2 3 4 5"]),
            record("sub.example.com", "NS", &["ns1.example.net."]),
            over,
        ]);
        for expected in [
            "cutover.records[0] t.example.com. TXT, value #0: TXT text",
            "outside quotation marks",
            "string #1 is 300 characters, over the 255",
            "cutover.records[2] caa.example.com. CAA, value #0: a quotation mark is not closed",
            "cutover.records[3]: type `SOA` cannot be cut over",
            "cutover.records[4]: type `NS` cannot be cut over",
            "TTL 2147483648 is outside 0..=2147483647",
        ] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
    }

    #[test]
    fn hundreds_of_bad_cutover_values_give_a_cause_step_functions_keeps() {
        let values: Vec<String> = (0..650).map(|i| format!("not-an-address-{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let message = cutover_error(&[record("many.example.com", "A", &refs)]);
        assert!(message.len() < 32_768, "{} characters", message.len());
        assert!(message.contains("651 problems in all"), "{message}");
    }

    #[test]
    fn kept_names_that_cannot_be_a_zone_apex_are_refused() {
        let domain = parse_domain("example.com").expect("ok");
        for bad in ["*.example.com", "\\052.example.com", "_zonehop.example.com"] {
            let err = parse_keep_in_source(&domain, &[bad.to_owned()]).expect_err(bad);
            assert!(err.0.contains("keepInSource"), "{err}");
        }
        // A look-alike of a kept name is another name: `devdocs` is not below `dev`.
        let kept = parse_keep_in_source(
            &domain,
            &["dev.example.com".into(), "devdocs.example.com".into()],
        )
        .expect("distinct names");
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn names_outside_ascii_are_refused_asking_for_their_idna_form() {
        let err = parse_domain("bücher.example").expect_err("not ASCII");
        assert!(err.0.contains("xn--"), "{err}");
        let domain = parse_domain("xn--bcher-kva.example").expect("punycode is ASCII");
        assert!(parse_keep_in_source(&domain, &["dév.xn--bcher-kva.example".into()]).is_err());
    }

    #[test]
    fn ns_ttls_share_one_range_up_to_two_days() {
        let ok = NsTtl {
            during: 1,
            after: MAX_NS_TTL,
        };
        assert!(ok.validate().is_ok());
        let bad = NsTtl {
            during: 0,
            after: MAX_NS_TTL + 1,
        };
        let problems = bad.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[1].0.contains("nsTtl.after"));
        assert!(validate_ns_ttl("delegationTtl", 2_147_483_647).is_err());
    }

    #[test]
    fn unknown_fields_are_refused_in_every_shared_part() {
        let zone: Result<ZoneRef, _> =
            serde_json::from_str(r#"{"hostedZoneId": "Z1", "roleArm": "arn"}"#);
        assert!(zone.is_err());
        let target: ZoneRef = serde_json::from_str(
            r#"{"hostedZoneId": "Z1", "nameServers": ["ns1."], "adopted": true, "created": false, "callerReference": "r"}"#,
        )
        .expect("what the state machine merges into $.target is accepted");
        assert_eq!(target.hosted_zone_id.as_deref(), Some("Z1"));
        assert!(
            serde_json::from_str::<RegistrarRef>(r#"{"type": "manual", "rolearn": "x"}"#).is_err()
        );
        assert!(serde_json::from_str::<NsTtl>(r#"{"during": 1, "after": 2, "x": 3}"#).is_err());
        assert!(serde_json::from_str::<ProbeConfig>(r#"{"resolver": []}"#).is_err());
        assert!(serde_json::from_str::<CutoverRecord>(
            r#"{"name": "a", "type": "A", "values": [], "TTL": 1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<BothZones>(
            r#"{"domain": "example.com", "source": {}, "target": {}, "nsTTL": {}}"#
        )
        .is_err());
    }
}
