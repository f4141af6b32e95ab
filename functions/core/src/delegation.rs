//! Name-server sets: the delegation a parent serves, the one a registration names, and the
//! apex NS a zone holds are compared as canonical sets of names.

use crate::name::Name;

/// Canonical spelling of a name-server name, for comparing sets.
pub fn canonical_servers(servers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = servers
        .iter()
        .map(|s| Name::parse(s).map_or_else(|_| s.to_ascii_lowercase(), |n| n.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether two name-server sets are the same set of names (case and trailing dot aside).
pub fn same_servers<'a>(values: impl Iterator<Item = &'a str>, servers: &[String]) -> bool {
    let canonical = |s: &str| {
        Name::parse(s)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| s.to_owned())
    };
    let mut a: Vec<String> = values.map(canonical).collect();
    let mut b: Vec<String> = servers.iter().map(|s| canonical(s)).collect();
    a.sort();
    b.sort();
    a == b
}

/// What an operator must do at a registrar zonehop cannot reach.
pub fn operator_action(domain: &Name, servers: &[String]) -> String {
    format!(
        "set the name servers of {} at its registrar to: {}",
        domain.as_str().trim_end_matches('.'),
        servers.join(" ")
    )
}
