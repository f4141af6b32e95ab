//! The registrar port on Route 53 Domains (the API lives in us-east-1).

use aws_sdk_route53domains::types::{Nameserver, OperationStatus};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::name::Name;

use crate::adapters::route53::classify;
use crate::error::Error;
use crate::ports::registrar::Registrar;

/// Route 53 Domains through an SDK client (the API lives in us-east-1).
#[derive(Debug, Clone)]
pub struct Route53Domains {
    client: aws_sdk_route53domains::Client,
}

impl Route53Domains {
    pub fn new(config: &aws_config::SdkConfig) -> Route53Domains {
        let conf = aws_sdk_route53domains::config::Builder::from(config)
            .region(aws_config::Region::new("us-east-1"))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Route53Domains {
            client: aws_sdk_route53domains::Client::from_conf(conf),
        }
    }
}

/// GetDomainDetail takes nothing but the domain's name, so its InvalidInput (and
/// UnsupportedTLD) means that this account's Route 53 Domains does not hold the domain.
fn not_held(domain: &Name, error: Error) -> Error {
    match error {
        Error::ChangeRejected { message, .. } => Error::DomainNotRegistered {
            domain: registrar_domain(domain),
            message,
        },
        Error::Aws { code, message, .. } if code == "UnsupportedTLD" => {
            Error::DomainNotRegistered {
                domain: registrar_domain(domain),
                message: format!("{code}: {message}"),
            }
        }
        other => other,
    }
}

fn registrar_domain(domain: &Name) -> String {
    domain.as_str().trim_end_matches('.').to_owned()
}

impl Registrar for Route53Domains {
    async fn name_servers(&self, domain: &Name) -> Result<Vec<String>, Error> {
        let out = self
            .client
            .get_domain_detail()
            .domain_name(registrar_domain(domain))
            .send()
            .await
            .map_err(|e| not_held(domain, classify("GetDomainDetail", e)))?;
        let names: Vec<String> = out
            .nameservers()
            .iter()
            .map(|n| n.name().to_owned())
            .collect();
        Ok(canonical_servers(&names))
    }

    async fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<String, Error> {
        let mut request = self
            .client
            .update_domain_nameservers()
            .domain_name(registrar_domain(domain));
        for server in servers {
            let nameserver = Nameserver::builder()
                .name(server.trim_end_matches('.'))
                .build()
                .map_err(|e| Error::InvalidRequest(format!("name server {server}: {e}")))?;
            request = request.nameservers(nameserver);
        }
        let out = request
            .send()
            .await
            .map_err(|e| classify("UpdateDomainNameservers", e))?;
        out.operation_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::Aws {
                operation: "UpdateDomainNameservers".into(),
                code: "UnexpectedResponse".into(),
                message: "no OperationId in the answer".into(),
            })
    }

    async fn operation_status(&self, operation_id: &str) -> Result<String, Error> {
        let out = self
            .client
            .get_operation_detail()
            .operation_id(operation_id)
            .send()
            .await
            .map_err(|e| classify("GetOperationDetail", e))?;
        Ok(out.status().map_or_else(
            || "UNKNOWN".to_owned(),
            |s: &OperationStatus| s.as_str().to_owned(),
        ))
    }
}
