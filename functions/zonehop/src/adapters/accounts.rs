//! Reaching the source and target accounts: a role per account, assumed with aws-config's
//! assume-role provider, and Route 53 clients configured the way zonehop needs them.

use std::time::Duration;
use zonehop_core::access::{partition_of, session_policy, Work};
use zonehop_core::request::{AccountAccess, ZoneRef};
use zonehop_core::Name;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_route53::config::SharedCredentialsProvider;

/// The function's own configuration, from the environment (`AWS_ENDPOINT_URL` included,
/// which is how the local rehearsal points every client at the emulator).
pub async fn base_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// What a step is about to do in one account: its kind of work, the domain and the zones
/// it acts on. It becomes the session policy of the assumed role
/// ([`zonehop_core::access::session_policy`]).
#[derive(Debug, Clone)]
pub struct Session<'a> {
    pub work: Work,
    pub domain: &'a str,
    /// The zones' ids; empty when one of them is not known yet (every zone of the account).
    pub zones: Vec<&'a str>,
}

impl<'a> Session<'a> {
    pub fn new(work: Work, domain: &'a str, zones: &[&'a ZoneRef]) -> Session<'a> {
        let ids: Option<Vec<&str>> = zones.iter().map(|z| z.hosted_zone_id.as_deref()).collect();
        Session {
            work,
            domain,
            zones: ids.unwrap_or_default(),
        }
    }

    /// The registrar's side of `work`: the parent zone of a `route53zone` registrar, else
    /// the source zone (Route 53 Domains' actions have no resources; the registrar's account
    /// holds no zone of that id, so no zone is granted).
    pub fn for_registrar(
        work: Work,
        domain: &'a str,
        registrar: &'a zonehop_core::request::RegistrarRef,
        source: &'a ZoneRef,
    ) -> Session<'a> {
        match registrar.parent_zone_id() {
            Some(parent) => Session {
                work,
                domain,
                zones: vec![parent],
            },
            None => Session::new(work, domain, &[source]),
        }
    }

    /// The session policy for a role in `partition`. A domain that does not parse (the step
    /// refuses it before any call) gets a policy allowing no record name at all.
    pub fn policy(&self, partition: &str) -> String {
        let domain = Name::parse(self.domain)
            .unwrap_or_else(|_| Name::parse("invalid.invalid").expect("a valid name"));
        session_policy(self.work, partition, &domain, &self.zones).to_string()
    }
}

/// The configuration that acts in the account of `access`, for `session`: with the
/// function's own credentials when `access` names no role, else by assuming the role with
/// the deployment's ExternalId and the session policy of `session`.
pub async fn config_for(
    base: &SdkConfig,
    access: &AccountAccess,
    session: &Session<'_>,
) -> SdkConfig {
    let policy = access
        .role_arn
        .as_deref()
        .map(|arn| session.policy(partition_of(arn)));
    assumed(base, access, &session.work.session_name(), policy).await
}

/// The configuration that acts in the account of `access` with everything its role
/// grants: for tools that are not a step (the rehearsal's world, the operator's commands).
pub async fn config_with_role(
    base: &SdkConfig,
    access: &AccountAccess,
    session_name: &str,
) -> SdkConfig {
    assumed(base, access, session_name, None).await
}

async fn assumed(
    base: &SdkConfig,
    access: &AccountAccess,
    session_name: &str,
    policy: Option<String>,
) -> SdkConfig {
    let Some(role_arn) = &access.role_arn else {
        return base.clone();
    };
    let mut provider = AssumeRoleProvider::builder(role_arn.clone()).session_name(session_name);
    if let Some(policy) = policy {
        provider = provider.policy(policy);
    }
    let mut provider = provider.configure(base);
    let deployed = std::env::var("ZONEHOP_EXTERNAL_ID").ok();
    if let Some(external_id) = external_id_for(access, deployed.as_deref()) {
        provider = provider.external_id(external_id);
    }
    let provider = provider.build().await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The ExternalId presented when assuming `access`'s role: the deployment's
/// (`ZONEHOP_EXTERNAL_ID`, the member roles' ExternalId) whenever it is set, so that a
/// request cannot choose its own; the request's only where the deployment has none (a
/// function run by hand with `cargo lambda invoke`).
pub fn external_id_for(access: &AccountAccess, deployed: Option<&str>) -> Option<String> {
    deployed
        .filter(|id| !id.is_empty())
        .or(access.external_id.as_deref().filter(|id| !id.is_empty()))
        .map(str::to_owned)
}

/// A Route 53 client for zonehop: us-east-1 (Route 53 is global and signs there), and no
/// SDK retries, because [`crate::ports::retry`] retries every call itself.
pub fn route53_client(config: &SdkConfig) -> aws_sdk_route53::Client {
    let conf = aws_sdk_route53::config::Builder::from(config)
        .region(Region::new("us-east-1"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_route53::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(arn: &str) -> AccountAccess {
        AccountAccess {
            role_arn: Some(arn.to_owned()),
            external_id: None,
        }
    }

    #[test]
    fn role_arns_are_checked_before_anything_is_called() {
        assert!(access("arn:aws:iam::111111111111:role/zonehop")
            .validate("source")
            .is_ok());
        assert!(access("arn:aws-cn:iam::111111111111:role/path/zonehop")
            .validate("source")
            .is_ok());
        assert!(AccountAccess::default().validate("source").is_ok());
        for bad in [
            "zonehop",
            "arn:aws:iam::1111:role/zonehop",
            "arn:aws:iam::111111111111:user/zonehop",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111111111111:role/",
        ] {
            let err = access(bad).validate("source").expect_err(bad);
            assert_eq!(err.error_type(), "InvalidRequest");
            assert!(err.to_string().contains("source.roleArn"));
        }
        assert_eq!(
            access("arn:aws:iam::222222222222:role/z").account_id(),
            Some("222222222222")
        );
    }

    #[test]
    fn the_deployments_external_id_wins_over_the_requests() {
        let mut role = access("arn:aws:iam::111111111111:role/zonehop");
        assert_eq!(external_id_for(&role, None), None);
        assert_eq!(external_id_for(&role, Some("")), None);
        assert_eq!(
            external_id_for(&role, Some("deployed")).as_deref(),
            Some("deployed")
        );
        role.external_id = Some("own".into());
        assert_eq!(
            external_id_for(&role, Some("deployed")).as_deref(),
            Some("deployed")
        );
        assert_eq!(external_id_for(&role, None).as_deref(), Some("own"));
        assert_eq!(external_id_for(&role, Some("")).as_deref(), Some("own"));
    }

    #[test]
    fn a_session_names_its_zones_only_when_all_are_known() {
        let known = ZoneRef {
            hosted_zone_id: Some("ZOLD".into()),
            ..ZoneRef::default()
        };
        let unknown = ZoneRef::default();
        let both = Session::new(Work::Finalize, "example.com", &[&known, &known]);
        assert_eq!(both.zones, ["ZOLD", "ZOLD"]);
        assert!(both.policy("aws").contains("hostedzone/ZOLD"));
        let some = Session::new(Work::SyncRecords, "example.com", &[&known, &unknown]);
        assert!(some.zones.is_empty());
        assert!(some.policy("aws").contains("hostedzone/*"));
        let bad = Session::new(Work::Preflight, "a..b", &[&known]);
        assert!(bad.policy("aws").contains("_zonehop.invalid.invalid"));
    }
}
