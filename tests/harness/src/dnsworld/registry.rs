//! The world's own registry: the registrations of domains kept at a registrar outside AWS
//! (`registrar.type: manual`), which Route 53 Domains (moto) does not hold.
//!
//! Whoever plays the operator at that registrar calls [`Registry::set_name_servers`], as the
//! operator would in their registrar's console; the world reads the registry on each poll
//! (within a second) and its public-suffix server delegates the domain to those servers. A
//! registration here wins over one of the same domain in Route 53 Domains: a domain has one
//! registrar.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use zonehop::Name;

use super::layout::RegisteredServer;

/// Why the registry refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("domain `{domain}`: {message}")]
    BadDomain { domain: String, message: String },
    #[error("name server `{server}` of {domain}: {message}")]
    BadServer {
        domain: String,
        server: String,
        message: String,
    },
    #[error("{domain}: a registration names at least one name server")]
    NoServers { domain: String },
}

/// Registrations by domain; clones share them (the world holds one, the operator another).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    registrations: Arc<Mutex<BTreeMap<Name, Vec<Name>>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `domain` (or changes its registration) with `servers` as its name servers
    /// (with or without trailing dots).
    pub fn set_name_servers(&self, domain: &str, servers: &[String]) -> Result<(), RegistryError> {
        let name = Name::parse(domain).map_err(|e| RegistryError::BadDomain {
            domain: domain.to_owned(),
            message: e.to_string(),
        })?;
        if servers.is_empty() {
            return Err(RegistryError::NoServers {
                domain: domain.to_owned(),
            });
        }
        let servers = servers
            .iter()
            .map(|s| {
                Name::parse(s).map_err(|e| RegistryError::BadServer {
                    domain: domain.to_owned(),
                    server: s.clone(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(mut registrations) = self.registrations.lock() {
            registrations.insert(name, servers);
        }
        Ok(())
    }

    /// The name servers `domain` is registered with (trailing dots), if it is registered here.
    pub fn name_servers(&self, domain: &str) -> Option<Vec<String>> {
        let name = Name::parse(domain).ok()?;
        self.registrations
            .lock()
            .ok()?
            .get(&name)
            .map(|servers| servers.iter().map(|s| s.as_str().to_owned()).collect())
    }

    /// Every registration, as the world serves them (no glue: an operator names servers).
    pub(super) fn registrations(&self) -> BTreeMap<Name, Vec<RegisteredServer>> {
        self.registrations
            .lock()
            .map(|registrations| {
                registrations
                    .iter()
                    .map(|(domain, servers)| {
                        let servers = servers
                            .iter()
                            .map(|name| RegisteredServer {
                                name: name.clone(),
                                glue: Vec::new(),
                            })
                            .collect();
                        (domain.clone(), servers)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_is_shared_by_every_clone_and_checked() {
        let registry = Registry::new();
        let operator = registry.clone();
        operator
            .set_name_servers(
                "Example.CO.KR",
                &[
                    "ns1.z2.zonehop-dns.test".into(),
                    "ns2.z2.zonehop-dns.test.".into(),
                ],
            )
            .expect("set");
        assert_eq!(
            registry.name_servers("example.co.kr."),
            Some(vec![
                "ns1.z2.zonehop-dns.test.".to_owned(),
                "ns2.z2.zonehop-dns.test.".to_owned()
            ])
        );
        assert_eq!(registry.registrations().len(), 1);
        assert!(matches!(
            operator.set_name_servers("example.co.kr", &[]),
            Err(RegistryError::NoServers { .. })
        ));
        assert!(matches!(
            operator.set_name_servers("example..kr", &["ns1.example".into()]),
            Err(RegistryError::BadDomain { .. })
        ));
        assert_eq!(registry.name_servers("other.co.kr"), None);
    }
}
