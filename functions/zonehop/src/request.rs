//! The parts of a migration request that several functions read, and their checks.
//! A bad request fails here, before any call that writes.

use serde::{Deserialize, Serialize};

use crate::accounts::AccountAccess;
use crate::error::Error;
use crate::name::Name;

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
    pub fn required_id(&self, field: &str) -> Result<&str, Error> {
        match self.hosted_zone_id.as_deref().map(str::trim) {
            Some(id) if is_zone_id(id) => Ok(id),
            Some(id) => Err(Error::InvalidRequest(format!(
                "{field}.hostedZoneId `{id}` is not a hosted zone id (Z followed by letters and digits)"
            ))),
            None => Err(Error::InvalidRequest(format!("{field}.hostedZoneId is missing"))),
        }
    }
}

/// `Z0123ABC` or `/hostedzone/Z0123ABC`.
fn is_zone_id(id: &str) -> bool {
    let bare = crate::zone::bare_zone_id(id);
    !bare.is_empty() && bare.len() <= 32 && bare.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses and checks the domain: a name of at least two labels, not a wildcard.
pub fn parse_domain(domain: &str) -> Result<Name, Error> {
    let name = Name::parse(domain)
        .map_err(|e| Error::InvalidRequest(format!("domain `{domain}`: {e}")))?;
    if name.label_count() < 2 {
        return Err(Error::InvalidRequest(format!(
            "domain `{domain}` is a top-level domain; give the registered domain (example.com, example.co.uk)"
        )));
    }
    if name.labels().any(|l| l == "\\052") {
        return Err(Error::InvalidRequest(format!(
            "domain `{domain}` is a wildcard"
        )));
    }
    Ok(name)
}

/// Parses `keepInSource`: each a distinct name strictly below the domain, none below another.
pub fn parse_keep_in_source(domain: &Name, keep: &[String]) -> Result<Vec<Name>, Error> {
    let mut names: Vec<Name> = Vec::with_capacity(keep.len());
    for raw in keep {
        let name = Name::parse(raw)
            .map_err(|e| Error::InvalidRequest(format!("keepInSource `{raw}`: {e}")))?;
        if !name.is_below(domain) {
            return Err(Error::InvalidRequest(format!(
                "keepInSource `{raw}` is not a subdomain of {domain}"
            )));
        }
        if let Some(other) = names
            .iter()
            .find(|n| name.is_at_or_below(n) || n.is_at_or_below(&name))
        {
            return Err(Error::InvalidRequest(format!(
                "keepInSource `{raw}` overlaps `{other}`: list each kept subtree once"
            )));
        }
        names.push(name);
    }
    Ok(names)
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
