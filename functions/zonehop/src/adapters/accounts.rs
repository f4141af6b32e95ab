//! Reaching the source and target accounts: a role per account, assumed with aws-config's
//! assume-role provider, and Route 53 clients configured the way zonehop needs them.
//!
//! What a warm Lambda keeps from one invocation to the next (issue #13): one HTTP client for
//! every SDK client of the process ([`http_client`], so one connection pool), and one
//! assume-role provider per role, session name, session policy and ExternalId
//! ([`config_for`]), whose credentials the base configuration's identity cache keeps until
//! [`CREDENTIALS_REFRESH_BEFORE_EXPIRY`] before they expire. A warm invocation therefore
//! makes no AssumeRole call and reuses the connections the last one left open.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use zonehop_core::access::{partition_of, session_policy, Work};
use zonehop_core::request::{AccountAccess, ZoneRef};
use zonehop_core::Name;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_route53::config::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{HttpClient, SharedHttpClient};

/// Assumed-role credentials are replaced this long before they expire (the identity cache's
/// buffer; it adds up to half of it again as jitter).
pub const CREDENTIALS_REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// The process's one HTTP client (rustls; hyper's connection pool, idle connections kept
/// 90 s), shared by every SDK client built from [`base_config`] or [`shared_loader`]: a
/// connection that one invocation opened serves the next.
///
/// It is built on first use ([`LazyHttpClient`]): the system's root certificates are read
/// when the first request needs a connection, not at init (issue #13.2).
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| SharedHttpClient::new(LazyHttpClient::default()))
        .clone()
}

/// aws-smithy-http-client's HTTPS client (rustls, aws-lc: the SDK's default one), built when
/// a request first asks for a connector. The SDK's own client builds its TLS configuration,
/// and so loads the root certificates, as each SDK client is constructed
/// (`validate_base_client_config`), which puts the certificate scan in every Lambda's init
/// even when that init sends no request.
#[derive(Debug, Default)]
pub struct LazyHttpClient {
    inner: OnceLock<SharedHttpClient>,
}

impl LazyHttpClient {
    fn inner(&self) -> &SharedHttpClient {
        self.inner.get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        })
    }
}

impl HttpClient for LazyHttpClient {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.inner().http_connector(settings, components)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        Some(
            aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata::new(
                "hyper",
                Some(std::borrow::Cow::Borrowed("1.x")),
            ),
        )
    }
}

/// The process's identity cache: credentials (the assumed roles' above all) kept until
/// [`CREDENTIALS_REFRESH_BEFORE_EXPIRY`] before they expire.
fn identity_cache() -> aws_smithy_runtime_api::client::identity::SharedIdentityCache {
    static CACHE: OnceLock<aws_smithy_runtime_api::client::identity::SharedIdentityCache> =
        OnceLock::new();
    CACHE
        .get_or_init(|| {
            IdentityCache::lazy()
                .buffer_time(CREDENTIALS_REFRESH_BEFORE_EXPIRY)
                .build()
        })
        .clone()
}

/// aws-config's loader with what every zonehop process shares: the one HTTP client and the
/// one identity cache. Tests add their endpoint and credentials to it.
pub fn shared_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .identity_cache(identity_cache())
}

/// The function's own configuration, from the environment (`AWS_ENDPOINT_URL` included,
/// which is how the local rehearsal points every client at the emulator).
pub async fn base_config() -> SdkConfig {
    shared_loader()
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
    let deployed = std::env::var("ZONEHOP_EXTERNAL_ID").ok();
    let key = RoleKey {
        endpoint: base.endpoint_url().map(str::to_owned),
        role_arn: role_arn.clone(),
        session_name: session_name.to_owned(),
        policy,
        external_id: external_id_for(access, deployed.as_deref()),
    };
    let provider = match cached_provider(&key) {
        Some(provider) => provider,
        None => remember_provider(key.clone(), assume_role_provider(base, &key).await),
    };
    base.to_builder().credentials_provider(provider).build()
}

/// What an assumed role's credentials are for: the same key, the same credentials. The
/// session policy is part of it, so a step's credentials never carry another's policy; the
/// base's endpoint too, so that two emulators in one test process keep apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RoleKey {
    endpoint: Option<String>,
    role_arn: String,
    session_name: String,
    policy: Option<String>,
    external_id: Option<String>,
}

/// At most this many providers are kept (a warm function sees a handful: one per account of
/// the migration at hand); past it the cache starts over.
const MAX_PROVIDERS: usize = 64;

fn providers() -> &'static Mutex<HashMap<RoleKey, SharedCredentialsProvider>> {
    static PROVIDERS: OnceLock<Mutex<HashMap<RoleKey, SharedCredentialsProvider>>> =
        OnceLock::new();
    PROVIDERS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached_provider(key: &RoleKey) -> Option<SharedCredentialsProvider> {
    let providers = providers().lock().unwrap_or_else(|e| e.into_inner());
    providers.get(key).cloned()
}

/// Keeps `provider` for `key` and returns the one kept: when two invocations raced for the
/// same key, the first one's (and its cached credentials).
fn remember_provider(
    key: RoleKey,
    provider: SharedCredentialsProvider,
) -> SharedCredentialsProvider {
    let mut providers = providers().lock().unwrap_or_else(|e| e.into_inner());
    if providers.len() >= MAX_PROVIDERS && !providers.contains_key(&key) {
        providers.clear();
    }
    providers.entry(key).or_insert(provider).clone()
}

/// The provider keeps its cache partition (a [`SharedCredentialsProvider`] carries one): the
/// base's identity cache holds its credentials across invocations.
async fn assume_role_provider(base: &SdkConfig, key: &RoleKey) -> SharedCredentialsProvider {
    let mut provider =
        AssumeRoleProvider::builder(key.role_arn.clone()).session_name(&key.session_name);
    if let Some(policy) = &key.policy {
        provider = provider.policy(policy.clone());
    }
    let mut provider = provider.configure(base);
    if let Some(external_id) = &key.external_id {
        provider = provider.external_id(external_id.clone());
    }
    SharedCredentialsProvider::new(provider.build().await)
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
