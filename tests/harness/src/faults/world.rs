//! The DNS world's side of the faults: a server made silent for a while (its process
//! stopped with SIGSTOP and continued with SIGCONT: it neither answers nor refuses, as a
//! server behind a lost route; what was queued meanwhile is answered late, and ignored),
//! and a server made to answer wrongly ([`wrong_answers`] through
//! [`DnsWorld::tamper_server`]).

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

/// A zone file (as the world renders it) with every A record of a name other than the
/// apex and the name servers answering [`WRONG_A`], and the SOA serial raised so that the
/// reload takes it.
pub fn wrong_answers(zone_file: &str) -> String {
    let mut out = String::with_capacity(zone_file.len());
    let mut apex: Option<String> = None;
    for line in zone_file.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let rtype_at = fields
            .iter()
            .position(|f| matches!(*f, "A" | "SOA" | "NS" | "AAAA" | "CNAME" | "TXT" | "MX"));
        let changed = match rtype_at {
            Some(i) if fields[i] == "SOA" => {
                apex = fields.first().map(|s| (*s).to_owned());
                // owner ttl IN SOA mname rname serial ...: raise the serial.
                fields
                    .get(i + 3)
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(|serial| {
                        let mut f: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
                        f[i + 3] = (serial + 1_000).to_string();
                        f.join(" ")
                    })
            }
            Some(i)
                if fields[i] == "A"
                    && fields
                        .first()
                        .map(|o| Some(o.to_string()) != apex && !o.contains("zonehop-dns"))
                        == Some(true)
                    && i + 1 < fields.len() =>
            {
                let mut f: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
                f[i + 1] = WRONG_A.to_owned();
                Some(f.join(" "))
            }
            _ => None,
        };
        out.push_str(changed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
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
}
