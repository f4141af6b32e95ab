//! The emulated registrar: Route 53 Domains registrations in moto.

use aws_config::SdkConfig;
use zonehop::adapters::accounts::config_for;
use zonehop::core::request::AccountAccess;

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
    let config = config_for(base, &registrar_access(), "zonehop-tests").await;
    aws_sdk_route53domains::Client::from_conf(
        aws_sdk_route53domains::config::Builder::from(&config)
            .region(aws_config::Region::new("us-east-1"))
            .build(),
    )
}

/// Registers `domain`. moto gives a new registration placeholder name servers, which the
/// DNS world ignores (it then delegates to the first account's zone).
pub async fn register(base: &SdkConfig, domain: &str) {
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
        .expect("register the domain");
}

/// UpdateDomainNameservers.
pub async fn set_name_servers(base: &SdkConfig, domain: &str, name_servers: &[String]) {
    let domains = domains_client(base).await;
    let mut update = domains.update_domain_nameservers().domain_name(domain);
    for server in name_servers {
        update = update.nameservers(
            aws_sdk_route53domains::types::Nameserver::builder()
                .name(server.trim_end_matches('.'))
                .build()
                .expect("name server"),
        );
    }
    update.send().await.expect("update the name servers");
}
