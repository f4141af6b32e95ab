//! Reaching the source and target accounts: a role per account, assumed with aws-config's
//! assume-role provider, and Route 53 clients configured the way zonehop needs them.

use std::time::Duration;
use zonehop_core::request::AccountAccess;

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

/// The configuration that acts in the account of `access`.
pub async fn config_for(base: &SdkConfig, access: &AccountAccess, session_name: &str) -> SdkConfig {
    let Some(role_arn) = &access.role_arn else {
        return base.clone();
    };
    let mut provider = AssumeRoleProvider::builder(role_arn.clone())
        .session_name(session_name)
        .configure(base);
    let deployed = std::env::var("ZONEHOP_EXTERNAL_ID").ok();
    if let Some(external_id) = external_id_for(access, deployed.as_deref()) {
        provider = provider.external_id(external_id);
    }
    let provider = provider.build().await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The ExternalId presented when assuming `access`'s role: the request's own, else the
/// deployment's (`ZONEHOP_EXTERNAL_ID`, the member roles' ExternalId), else none.
pub fn external_id_for(access: &AccountAccess, deployed: Option<&str>) -> Option<String> {
    access
        .external_id
        .as_deref()
        .or(deployed)
        .filter(|id| !id.is_empty())
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
    fn the_requests_external_id_wins_over_the_deployments() {
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
            Some("own")
        );
    }
}
