//! Which zone above a name is its registry's, by Mozilla's Public Suffix List (its ICANN
//! section, compiled into the `psl` crate: nothing is downloaded at run time): `com.` for
//! example.com, `co.kr.` for example.co.kr, `gov.` for usa.gov, `com.au.` for example.com.au.
//!
//! The world serves every level from the TLD down to that suffix as a zone of its own, each
//! delegating to the next (root → `kr.` → `co.kr.`), and delegates a domain from its suffix's
//! zone, as the registries do. The list's private section (`github.io`, `s3.amazonaws.com`)
//! is left out: those names are not registered at a registry, their owner's zone delegates
//! below them.

use std::collections::BTreeSet;

use psl::Type;
use zonehop::Name;

/// Why a name cannot be rehearsed as a registered domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuffixError {
    #[error("{domain} is a public suffix itself (a registry's zone, not a domain registered in it): give the registered domain, e.g. example.{domain}")]
    IsPublicSuffix { domain: String },
    #[error("{domain} is not under any public suffix the Public Suffix List knows (its top-level domain .{tld} is not in the list): give a domain under a real public suffix")]
    UnknownSuffix { domain: String, tld: String },
    #[error("{domain} is not a registered domain: under the public suffix {suffix} the registered domain is {registrable}; rehearse {registrable} and keep {domain} with KEEP if it must stay behind")]
    NotRegistrable {
        domain: String,
        suffix: String,
        registrable: String,
    },
}

fn text(name: &Name) -> &str {
    name.as_str().trim_end_matches('.')
}

/// Whether the list has an ICANN rule for exactly `name` (a wildcard rule such as `*.ck`
/// makes `anything.ck` one).
fn is_icann_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes())
        .is_some_and(|s| s.typ() == Some(Type::Icann) && s.as_bytes() == name.as_bytes())
}

/// Whether `name` is a public suffix: a top-level domain, an ICANN suffix of the list, or one
/// of `extra` (suffixes a test adds).
pub fn is_public_suffix(name: &Name, extra: &BTreeSet<Name>) -> bool {
    name.label_count() == 1 || extra.contains(name) || is_icann_suffix(text(name))
}

/// The zone `name` is delegated from by its registry: its nearest proper ancestor that is a
/// public suffix (`co.kr.` for example.co.kr, and for dev.example.co.kr too). A name under a
/// top-level domain the list does not know (`.test`) gets that TLD. `None` for a TLD.
pub fn registry_of(name: &Name, extra: &BTreeSet<Name>) -> Option<Name> {
    std::iter::successors(parent_of(name), parent_of).find(|p| is_public_suffix(p, extra))
}

/// Every zone from the TLD down to `suffix`, TLD first: `kr.`, `co.kr.` for `co.kr.`.
pub fn chain(suffix: &Name) -> Vec<Name> {
    let mut levels: Vec<Name> = std::iter::successors(Some(suffix.clone()), parent_of).collect();
    levels.reverse();
    levels
}

/// The name one label up (`None` for a TLD).
pub fn parent_of(name: &Name) -> Option<Name> {
    let s = name.as_str();
    let dot = s.find('.')?;
    let rest = &s[dot + 1..];
    if rest.is_empty() {
        return None;
    }
    Name::parse(rest).ok()
}

/// Whether the list knows the top-level domain of `name` at all (any rule under it).
fn tld_is_known(tld: &str) -> bool {
    // A TLD listed only through wildcard rules (`*.ck`) has no rule of its own: ask for a
    // name below it.
    psl::suffix(tld.as_bytes()).is_some_and(|s| s.is_known())
        || psl::suffix(format!("zonehop-probe.{tld}").as_bytes()).is_some_and(|s| s.is_known())
}

/// Checks that `domain` is a registered domain (one label below an ICANN public suffix) and
/// returns that suffix: what the rehearsal's registry delegates it from.
pub fn registered_domain_suffix(domain: &Name) -> Result<Name, SuffixError> {
    let none = BTreeSet::new();
    let domain_text = text(domain).to_owned();
    if is_public_suffix(domain, &none) {
        return Err(SuffixError::IsPublicSuffix {
            domain: domain_text,
        });
    }
    let tld = domain.labels().last().unwrap_or_default().to_owned();
    if !tld_is_known(&tld) {
        return Err(SuffixError::UnknownSuffix {
            domain: domain_text,
            tld,
        });
    }
    let suffix = registry_of(domain, &none).ok_or_else(|| SuffixError::UnknownSuffix {
        domain: domain_text.clone(),
        tld: tld.clone(),
    })?;
    if domain.label_count() != suffix.label_count() + 1 {
        let labels: Vec<&str> = domain.labels().collect();
        let registrable = labels[labels.len() - suffix.label_count() - 1..].join(".");
        return Err(SuffixError::NotRegistrable {
            domain: domain_text,
            suffix: text(&suffix).to_owned(),
            registrable,
        });
    }
    Ok(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    #[test]
    fn the_registry_of_a_domain_is_its_longest_icann_suffix() {
        let none = BTreeSet::new();
        for (domain, registry) in [
            ("example.com", "com"),
            ("usa.gov", "gov"),
            ("covidtest.usa.gov", "gov"),
            ("example.co.kr", "co.kr"),
            ("dev.example.co.kr", "co.kr"),
            ("example.co.uk", "co.uk"),
            ("example.com.au", "com.au"),
            ("example.io", "io"),
            // Private suffixes are not registries: GitHub's zone delegates below github.io.
            ("example.github.io", "io"),
            // Unknown to the list: the TLD.
            ("zonehop-dns.test", "test"),
            ("a.example", "example"),
        ] {
            assert_eq!(
                registry_of(&n(domain), &none),
                Some(n(registry)),
                "{domain}"
            );
        }
        assert_eq!(registry_of(&n("com"), &none), None);
        let extra = BTreeSet::from([n("zone.example")]);
        assert_eq!(
            registry_of(&n("a.zone.example"), &extra),
            Some(n("zone.example"))
        );
    }

    #[test]
    fn the_chain_runs_from_the_tld_down() {
        assert_eq!(chain(&n("co.kr")), [n("kr"), n("co.kr")]);
        assert_eq!(chain(&n("com")), [n("com")]);
    }

    #[test]
    fn a_registered_domain_is_one_label_below_its_suffix() {
        for (domain, suffix) in [
            ("example.com", "com"),
            ("usa.gov", "gov"),
            ("example.co.kr", "co.kr"),
            ("example.com.au", "com.au"),
            ("example.uk", "uk"),
        ] {
            assert_eq!(
                registered_domain_suffix(&n(domain)),
                Ok(n(suffix)),
                "{domain}"
            );
        }
        assert!(matches!(
            registered_domain_suffix(&n("co.kr")),
            Err(SuffixError::IsPublicSuffix { .. })
        ));
        assert!(matches!(
            registered_domain_suffix(&n("gov")),
            Err(SuffixError::IsPublicSuffix { .. })
        ));
        assert!(matches!(
            registered_domain_suffix(&n("example.zzzz-not-a-tld")),
            Err(SuffixError::UnknownSuffix { .. })
        ));
        let err = registered_domain_suffix(&n("dev.example.co.kr")).expect_err("below");
        assert_eq!(
            err,
            SuffixError::NotRegistrable {
                domain: "dev.example.co.kr".into(),
                suffix: "co.kr".into(),
                registrable: "example.co.kr".into(),
            }
        );
        assert!(err.to_string().contains("example.co.kr"), "{err}");
    }
}
