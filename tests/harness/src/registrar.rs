//! The emulated registrar: Route 53 Domains registrations in moto, and which domains Route 53
//! Domains registers at all (the list AWS publishes, `tests/world/route53domains-tlds.txt`).

use aws_config::SdkConfig;
use aws_sdk_route53domains::error::DisplayErrorContext;
use zonehop::adapters::accounts::config_with_role;
use zonehop::core::request::AccountAccess;
use zonehop::Name;

/// The public suffixes Route 53 Domains registers: the Route 53 Developer Guide's "Domains
/// that you can register with Amazon Route 53" (source and date in the file's header).
pub const ROUTE53DOMAINS_TLDS: &str = include_str!("../../world/route53domains-tlds.txt");

/// The suffixes of [`ROUTE53DOMAINS_TLDS`] (`com`, `co.uk`), without comments.
pub fn route53domains_suffixes() -> impl Iterator<Item = &'static str> {
    ROUTE53DOMAINS_TLDS
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|suffix| !suffix.is_empty())
}

/// Whether Route 53 Domains registers domains under `suffix` (`com.`, `co.kr.`), by the
/// list AWS publishes.
pub fn route53domains_registers(suffix: &Name) -> bool {
    let wanted = suffix.as_str().trim_end_matches('.');
    route53domains_suffixes().any(|listed| listed.eq_ignore_ascii_case(wanted))
}

/// The account that holds the registrations in the tests.
pub fn registrar_access() -> AccountAccess {
    AccountAccess {
        role_arn: Some("arn:aws:iam::333333333333:role/zonehop".to_owned()),
        external_id: Some("zonehop-test".to_owned()),
    }
}

fn contact() -> aws_sdk_route53domains::types::ContactDetail {
    use aws_sdk_route53domains::types::{ContactDetail, ContactType, CountryCode};
    ContactDetail::builder()
        .first_name("Zone")
        .last_name("Hop")
        .contact_type(ContactType::Person)
        .country_code(CountryCode::Us)
        .email("hostmaster@example.com")
        .phone_number("+1.5555550100")
        .address_line1("1 Test Street")
        .city("Testville")
        .zip_code("00000")
        .build()
}

/// A Route 53 Domains client in the registrar account (the API lives in us-east-1).
pub async fn domains_client(base: &SdkConfig) -> aws_sdk_route53domains::Client {
    let config = config_with_role(base, &registrar_access(), "zonehop-tests").await;
    aws_sdk_route53domains::Client::from_conf(
        aws_sdk_route53domains::config::Builder::from(&config)
            .region(aws_config::Region::new("us-east-1"))
            .build(),
    )
}

/// Registers `domain`. moto gives a new registration placeholder name servers, which the
/// DNS world ignores (it then delegates to the first account's zone).
pub async fn register(base: &SdkConfig, domain: &str) {
    try_register(base, domain)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// [`register`] that returns moto's refusal instead of panicking.
pub async fn try_register(base: &SdkConfig, domain: &str) -> Result<(), String> {
    let domains = domains_client(base).await;
    domains
        .register_domain()
        .domain_name(domain)
        .duration_in_years(2)
        .admin_contact(contact())
        .registrant_contact(contact())
        .tech_contact(contact())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("RegisterDomain {domain}: {}", DisplayErrorContext(&e)))
}

/// UpdateDomainNameservers.
pub async fn set_name_servers(base: &SdkConfig, domain: &str, name_servers: &[String]) {
    try_set_name_servers(base, domain, name_servers)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// [`set_name_servers`] that returns moto's refusal instead of panicking.
pub async fn try_set_name_servers(
    base: &SdkConfig,
    domain: &str,
    name_servers: &[String],
) -> Result<(), String> {
    let domains = domains_client(base).await;
    let mut update = domains.update_domain_nameservers().domain_name(domain);
    for server in name_servers {
        update = update.nameservers(
            aws_sdk_route53domains::types::Nameserver::builder()
                .name(server.trim_end_matches('.'))
                .build()
                .map_err(|e| format!("name server {server}: {e}"))?,
        );
    }
    update.send().await.map(|_| ()).map_err(|e| {
        format!(
            "UpdateDomainNameservers {domain}: {}",
            DisplayErrorContext(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    #[test]
    fn the_published_list_decides_what_route53_domains_registers() {
        for yes in [
            "com", "net", "org", "io", "co.uk", "uk", "com.au", "co.nz", "xyz",
        ] {
            assert!(route53domains_registers(&n(yes)), "{yes}");
        }
        for no in ["gov", "kr", "co.kr", "nz", "edu", "mil"] {
            assert!(!route53domains_registers(&n(no)), "{no}");
        }
        let all: Vec<&str> = route53domains_suffixes().collect();
        let distinct: std::collections::BTreeSet<&&str> = all.iter().collect();
        assert_eq!(all.len(), distinct.len(), "each suffix once");
        assert!(all.len() > 300, "{}", all.len());
        assert!(
            ROUTE53DOMAINS_TLDS.contains("Domains that you can register with Amazon Route 53"),
            "the header names its source"
        );
    }
}
