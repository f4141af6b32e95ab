//! The DNS world's side of the faults: a server made silent for a while (its process
//! stopped with SIGSTOP and continued with SIGCONT: it neither answers nor refuses, as a
//! server behind a lost route; what was queued meanwhile is answered late, and ignored),
//! and a server made to answer wrongly ([`wrong_answers`] through
//! [`DnsWorld::tamper_server`]).

use std::collections::BTreeSet;

use crate::dnsworld::{DnsWorld, WorldError};

/// Why a world fault could not be injected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldFaultError {
    #[error("no daemon of the world has the role `{0}`")]
    NoSuchServer(String),
    #[error("kill -{signal} {pid} ({role}) failed: {message}")]
    Signal {
        signal: &'static str,
        pid: u32,
        role: String,
        message: String,
    },
    #[error(transparent)]
    World(#[from] WorldError),
}

/// The process id of the world's daemon of `role` (`unbound`, `kresd`, `tld-com`, ...).
pub fn daemon_pid(world: &DnsWorld, role: &str) -> Result<u32, WorldFaultError> {
    world
        .processes()
        .into_iter()
        .find(|(r, _)| r == role)
        .map(|(_, pid)| pid)
        .ok_or_else(|| WorldFaultError::NoSuchServer(role.to_owned()))
}

async fn signal(
    world: &DnsWorld,
    role: &str,
    signal: &'static str,
) -> Result<u32, WorldFaultError> {
    let pid = daemon_pid(world, role)?;
    let status = tokio::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .await
        .map_err(|e| WorldFaultError::Signal {
            signal,
            pid,
            role: role.to_owned(),
            message: e.to_string(),
        })?;
    if status.success() {
        Ok(pid)
    } else {
        Err(WorldFaultError::Signal {
            signal,
            pid,
            role: role.to_owned(),
            message: status.to_string(),
        })
    }
}

/// Makes the daemon of `role` silent (SIGSTOP) until [`answer_again`].
pub async fn silence(world: &DnsWorld, role: &str) -> Result<u32, WorldFaultError> {
    signal(world, role, "STOP").await
}

/// Makes the one address of `ns_name` silent for good while the other addresses of its
/// server answer on: the address moves to a copy of its own ([`DnsWorld::freeze_server`]),
/// which is paused (SIGSTOP). Returns the copy's role and process id; end it with
/// [`answer_again`] on that role, then [`DnsWorld::unfreeze_server`].
pub async fn silence_one_address(
    world: &DnsWorld,
    ns_name: &str,
) -> Result<(String, u32), WorldFaultError> {
    world.freeze_server(ns_name).await?;
    let role = format!(
        "frozen-{}",
        crate::dnsworld::layout::file_safe(ns_name.trim_end_matches('.'))
    );
    let pid = silence(world, &role).await?;
    Ok((role, pid))
}

/// Ends [`silence`] (SIGCONT).
pub async fn answer_again(world: &DnsWorld, role: &str) -> Result<u32, WorldFaultError> {
    signal(world, role, "CONT").await
}

/// The value a tampered server answers for the A records it changes.
pub const WRONG_A: &str = "198.51.100.66";
/// The value a tampered server answers for the AAAA records it changes.
pub const WRONG_AAAA: &str = "2001:db8::66";
/// The value a tampered server answers for the TXT records it changes.
pub const WRONG_TXT: &str = "\"zonehop-wrong\"";

/// What becomes of one record line of a tampered zone file.
enum LineEdit {
    Keep,
    Data(String),
    Drop,
}

/// One record line split as the world renders it: `owner ttl IN TYPE data...`.
fn fields(line: &str) -> Option<(&str, &str, usize)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 5 || fields[2] != "IN" {
        return None;
    }
    Some((fields[0], fields[3], 4))
}

/// A zone file rewritten line by line by `edit` (owner, type), with the SOA serial raised
/// so that the reload takes it.
fn rewrite(zone_file: &str, edit: impl Fn(&str, &str) -> LineEdit) -> String {
    let mut out = String::with_capacity(zone_file.len());
    for line in zone_file.lines() {
        let Some((owner, rtype, data_at)) = fields(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let mut f: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if rtype == "SOA" {
            // owner ttl IN SOA mname rname serial ...: raise the serial.
            if let Some(serial) = f.get(data_at + 2).and_then(|s| s.parse::<u64>().ok()) {
                f[data_at + 2] = (serial + 1_000).to_string();
            }
            out.push_str(&f.join(" "));
            out.push('\n');
            continue;
        }
        match edit(owner, rtype) {
            LineEdit::Keep => out.push_str(line),
            LineEdit::Data(data) => {
                f.truncate(data_at);
                f.push(data);
                out.push_str(&f.join(" "));
            }
            LineEdit::Drop => continue,
        }
        out.push('\n');
    }
    out
}

/// The apex of a rendered zone file: the SOA's owner.
fn apex_of(zone_file: &str) -> Option<String> {
    zone_file
        .lines()
        .filter_map(fields)
        .find(|(_, rtype, _)| *rtype == "SOA")
        .map(|(owner, _, _)| owner.to_owned())
}

/// A wrong value of the same type, for the types a lie is told in.
fn wrong_value(rtype: &str) -> LineEdit {
    match rtype {
        "A" => LineEdit::Data(WRONG_A.to_owned()),
        "AAAA" => LineEdit::Data(WRONG_AAAA.to_owned()),
        "TXT" => LineEdit::Data(WRONG_TXT.to_owned()),
        "CNAME" => LineEdit::Data("wrong.zonehop-dns.test.".to_owned()),
        "MX" => LineEdit::Data("10 wrong.zonehop-dns.test.".to_owned()),
        _ => LineEdit::Keep,
    }
}

/// `new-side-wrong` (`=plain`): a zone file (as the world renders it) with every A record
/// of a name other than the apex and the name servers answering [`WRONG_A`], and the SOA
/// serial raised so that the reload takes it.
pub fn wrong_answers(zone_file: &str) -> String {
    let apex = apex_of(zone_file);
    rewrite(zone_file, |owner, rtype| {
        if rtype == "A" && Some(owner) != apex.as_deref() && !owner.contains("zonehop-dns") {
            LineEdit::Data(WRONG_A.to_owned())
        } else {
            LineEdit::Keep
        }
    })
}

/// `new-side-wrong=routed` and `=alias`: the A and AAAA records of `owners` (zone-file
/// spelling, as [`crate::dnsworld::render::zone_file_name`] writes them) answer
/// [`WRONG_A`] and [`WRONG_AAAA`].
pub fn wrong_for(zone_file: &str, owners: &BTreeSet<String>) -> String {
    rewrite(zone_file, |owner, rtype| {
        if owners.contains(owner) && matches!(rtype, "A" | "AAAA") {
            wrong_value(rtype)
        } else {
            LineEdit::Keep
        }
    })
}

/// `new-side-wrong=wildcard`: every wildcard's data (A, AAAA, TXT, CNAME, MX) answers a
/// wrong value of its type.
pub fn wrong_wildcards(zone_file: &str) -> String {
    rewrite(zone_file, |owner, rtype| {
        if owner.starts_with("*.") {
            wrong_value(rtype)
        } else {
            LineEdit::Keep
        }
    })
}

/// The name `=nxdomain` removes from a zone file: the first owner with an A record that is
/// not the apex, a wildcard, the canary, a name server or glue below a delegation, and has
/// no name below it (so that it is gone, not an empty non-terminal).
pub fn name_to_remove(zone_file: &str) -> Option<String> {
    let apex = apex_of(zone_file)?;
    let records: Vec<(&str, &str)> = zone_file
        .lines()
        .filter_map(fields)
        .map(|(owner, rtype, _)| (owner, rtype))
        .collect();
    let cuts: Vec<&str> = records
        .iter()
        .filter(|(owner, rtype)| *rtype == "NS" && *owner != apex)
        .map(|(owner, _)| *owner)
        .collect();
    let below = |name: &str, above: &str| name.ends_with(&format!(".{above}"));
    records
        .iter()
        .filter(|(owner, rtype)| *rtype == "A" && *owner != apex)
        .map(|(owner, _)| *owner)
        .find(|owner| {
            !owner.starts_with("*.")
                && !owner.starts_with("_zonehop.")
                && !owner.contains("zonehop-dns")
                && !cuts.iter().any(|c| owner == c || below(owner, c))
                && !records.iter().any(|(other, _)| below(other, owner))
        })
        .map(str::to_owned)
}

/// `new-side-wrong=nxdomain`: the zone file without [`name_to_remove`]'s name, so the
/// server answers NXDOMAIN for a name it holds.
pub fn without_one_name(zone_file: &str) -> String {
    let Some(gone) = name_to_remove(zone_file) else {
        return zone_file.to_owned();
    };
    rewrite(zone_file, |owner, _| {
        if owner == gone {
            LineEdit::Drop
        } else {
            LineEdit::Keep
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_zone_answers_the_wrong_address_with_a_higher_serial() {
        let zone = "example.com. 2 IN SOA ns1.z1.zonehop-dns.test. hostmaster.example.com. 1 7200 900 1209600 1\n\
example.com. 2 IN A 192.0.2.1\n\
www.example.com. 2 IN A 192.0.2.10\n\
www.example.com. 2 IN AAAA 2001:db8::10\n";
        let tampered = wrong_answers(zone);
        assert!(
            tampered.contains("www.example.com. 2 IN A 198.51.100.66"),
            "{tampered}"
        );
        assert!(
            tampered.contains("example.com. 2 IN A 192.0.2.1\n"),
            "{tampered}"
        );
        assert!(tampered.contains(" 1001 7200 "), "{tampered}");
        assert!(tampered.contains("2001:db8::10"), "{tampered}");
    }

    const ZONE: &str = "example.com. 2 IN SOA ns1.z1.zonehop-dns.test. hostmaster.example.com. 1 7200 900 1209600 1\n\
example.com. 2 IN A 192.0.2.1\n\
w.example.com. 60 IN A 192.0.2.20\n\
w.example.com. 60 IN AAAA 2001:db8::20\n\
www.example.com. 2 IN A 192.0.2.10\n\
*.wild.example.com. 60 IN TXT \"wild card\"\n\
*.wild.example.com. 60 IN A 192.0.2.30\n\
dev.example.com. 300 IN NS ns1.child.test.\n\
ns.dev.example.com. 300 IN A 192.0.2.53\n\
api.example.com. 60 IN A 192.0.2.40\n\
v1.api.example.com. 60 IN A 192.0.2.41\n";

    #[test]
    fn a_routed_or_aliased_lie_changes_only_the_names_given_a_v4_and_v6() {
        let owners = BTreeSet::from(["w.example.com.".to_owned()]);
        let tampered = wrong_for(ZONE, &owners);
        assert!(
            tampered.contains("w.example.com. 60 IN A 198.51.100.66\n"),
            "{tampered}"
        );
        assert!(
            tampered.contains("w.example.com. 60 IN AAAA 2001:db8::66\n"),
            "{tampered}"
        );
        assert!(
            tampered.contains("www.example.com. 2 IN A 192.0.2.10\n"),
            "{tampered}"
        );
        assert!(tampered.contains(" 1001 7200 "), "{tampered}");
    }

    #[test]
    fn a_wildcard_lie_changes_every_type_of_the_wildcard_and_nothing_else() {
        let tampered = wrong_wildcards(ZONE);
        assert!(
            tampered.contains("*.wild.example.com. 60 IN TXT \"zonehop-wrong\"\n"),
            "{tampered}"
        );
        assert!(
            tampered.contains("*.wild.example.com. 60 IN A 198.51.100.66\n"),
            "{tampered}"
        );
        assert!(
            tampered.contains("w.example.com. 60 IN A 192.0.2.20\n"),
            "{tampered}"
        );
    }

    #[test]
    fn the_name_removed_is_a_leaf_outside_delegations_and_only_it_goes() {
        // GIVEN api has a name below it, w does not; ns.dev is glue below a delegation
        assert_eq!(name_to_remove(ZONE).as_deref(), Some("w.example.com."));
        let tampered = without_one_name(ZONE);
        assert!(!tampered.contains("\nw.example.com."), "{tampered}");
        assert!(tampered.contains("www.example.com. 2 IN A"), "{tampered}");
        assert!(tampered.contains(" 1001 7200 "), "{tampered}");
    }
}
