//! Record sets checked as Route 53 checks them, before anything is written: one value's
//! grammar per type, one record set's TTL and values, and what a zone may hold together
//! (a CNAME alone at its name, no SOA below the apex, no NS at a wildcard).
//!
//! Preflight uses it for `cutover.records` (every problem in one `InvalidRequest`, before
//! any write), and the rehearsal for a user's export (`ZONE=`, refused before any write).
//! Each rule cites the Route 53 documentation it follows:
//! - DNS-TYPES: <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html>
//!   ("Supported DNS record types", one section per type: `#TXTFormat`, `#CAAFormat`, ...)
//! - API-RRSET: <https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html>
//! - API-RR: <https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecord.html>
//! - LIMITS: <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html>

use crate::name::Name;
use crate::zone::{RecordSet, RrType};

/// The largest TTL Route 53 takes: "Valid Range: Minimum value of 0. Maximum value of
/// 2147483647" (API-RRSET, `TTL`).
pub const MAX_TTL: i64 = 2_147_483_647;

/// "The current or new DNS record value, not to exceed 4,000 characters" (API-RR, `Value`).
pub const MAX_VALUE_CHARS: usize = 4_000;

/// "Values per record: 400" (LIMITS, "Records").
pub const MAX_VALUES: usize = 400;

/// One character-string of a TXT or SPF value: "each string can be up to 255
/// characters" (DNS-TYPES, `#TXTFormat`), as RFC 1035 3.3 bounds a <character-string>.
pub const MAX_STRING_OCTETS: usize = 255;

/// One token of a value: a word, or a quoted string with its length in octets once its
/// escapes are read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token<'a> {
    text: &'a str,
    quoted: bool,
    octets: usize,
}

/// Splits a value into words and quoted strings. A quoted string may hold `\"`, `\\` and
/// `\ooo` (three digits, one octet): "To include a quotation mark or a backslash in a
/// string, precede it with a backslash"; other characters as octal escapes (DNS-TYPES,
/// `#TXTFormat`). Refuses a quote that is not closed.
fn tokens(value: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            let mut octets = 0;
            loop {
                match bytes.get(j) {
                    None => {
                        return Err(format!(
                            "a quotation mark is not closed (string #{} of the value)",
                            out.len() + 1
                        ))
                    }
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let digits = bytes
                            .get(j + 1..j + 4)
                            .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
                        j += if digits { 4 } else { 2 };
                        octets += 1;
                    }
                    Some(_) => {
                        j += 1;
                        octets += 1;
                    }
                }
            }
            out.push(Token {
                text: &value[start..j.min(value.len())],
                quoted: true,
                octets,
            });
            i = j + 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'"' {
            i += 1;
        }
        out.push(Token {
            text: &value[start..i],
            quoted: false,
            octets: i - start,
        });
    }
    Ok(out)
}

/// Checks one value of a record of type `rtype`, in Route 53's own format.
pub fn check_value(rtype: RrType, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("an empty {rtype} value"));
    }
    // API-RR, `Value`: "not to exceed 4,000 characters".
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(format!(
            "a {rtype} value of {} characters, over Route 53's {MAX_VALUE_CHARS}",
            value.chars().count()
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("a {rtype} value with a control character"));
    }
    match rtype {
        RrType::TXT | RrType::SPF => character_strings(rtype, value),
        RrType::CAA => caa(value),
        RrType::NAPTR => naptr(value),
        _ => unquoted(rtype, value),
    }
}

/// TXT and SPF: "Enclose text in quotation marks"; "A TXT record contains one or more
/// strings that are enclosed in double quotation marks"; "each string can be up to 255
/// characters" (DNS-TYPES, `#TXTFormat`; `#SPFFormat`: "same format as a TXT record").
fn character_strings(rtype: RrType, value: &str) -> Result<(), String> {
    let strings = tokens(value)?;
    if let Some(bare) = strings.iter().find(|t| !t.quoted) {
        return Err(format!(
            "{rtype} text of {} characters is outside quotation marks: Route 53 takes each string quoted (\"v=spf1 -all\")",
            bare.text.chars().count()
        ));
    }
    if let Some((index, long)) = strings
        .iter()
        .enumerate()
        .find(|(_, t)| t.octets > MAX_STRING_OCTETS)
    {
        return Err(format!(
            "{rtype} string #{} is {} characters, over the {MAX_STRING_OCTETS} of one string: split it into several quoted strings (\"first 255 characters\" \"the rest\")",
            index + 1,
            long.octets
        ));
    }
    Ok(())
}

/// CAA: `flags tag "value"`, "three settings separated by spaces"; "Always enclose value
/// in quotation marks" (DNS-TYPES, `#CAAFormat`). Flags 0-255; the tag is letters and
/// digits, at most 15 (RFC 8659 4.1: `issue`, `issuewild`, `iodef`, ...).
fn caa(value: &str) -> Result<(), String> {
    let parts = tokens(value)?;
    let ok = parts.len() == 3
        && !parts[0].quoted
        && parts[0].text.parse::<u8>().is_ok()
        && !parts[1].quoted
        && (1..=15).contains(&parts[1].text.len())
        && parts[1].text.bytes().all(|b| b.is_ascii_alphanumeric())
        && parts[2].quoted;
    if ok {
        Ok(())
    } else {
        Err("not a valid CAA value: flags tag \"value\" (0 issue \"amazon.com\"), the value in quotation marks".into())
    }
}

/// NAPTR: `order preference "flags" "service" "regexp" replacement`; order and
/// preference 0-65535; flags empty, A, P, S or U; "If you specify a value for regexp,
/// specify . for replacement" (DNS-TYPES, `#NAPTRFormat`).
fn naptr(value: &str) -> Result<(), String> {
    let parts = tokens(value)?;
    let number = |t: &Token<'_>| !t.quoted && t.text.parse::<u16>().is_ok();
    let shape = parts.len() == 6
        && number(&parts[0])
        && number(&parts[1])
        && parts[2..5].iter().all(|t| t.quoted)
        && !parts[5].quoted
        && (parts[5].text == "." || Name::parse(parts[5].text).is_ok());
    if !shape {
        return Err("not a valid NAPTR value: order preference \"flags\" \"service\" \"regexp\" replacement (100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.)".into());
    }
    if !matches!(
        parts[2].text.to_ascii_uppercase().as_str(),
        "" | "A" | "P" | "S" | "U"
    ) {
        return Err("NAPTR flags: Route 53 takes \"\", \"A\", \"P\", \"S\" or \"U\"".into());
    }
    if !parts[4].text.is_empty() && parts[5].text != "." {
        return Err("NAPTR: a regexp and a replacement together; give `.` as the replacement when the regexp is set".into());
    }
    Ok(())
}

/// Every other type: words, no quoted strings.
fn unquoted(rtype: RrType, value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let number = |s: &str, max: u32| s.parse::<u32>().is_ok_and(|n| n <= max);
    // DNS-TYPES: "For record types that include a domain name, enter a fully qualified
    // domain name ... The trailing dot is optional".
    let name = |s: &str| Name::parse(s).is_ok();
    // MX, SRV, SVCB, HTTPS may name the root: "no service" or "this name".
    let target = |s: &str| s == "." || name(s);
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = match rtype {
        // `#AFormat`: "an IPv4 address in dotted decimal notation".
        RrType::A => value.parse::<std::net::Ipv4Addr>().is_ok(),
        // `#AAAAFormat`: "an IPv6 address in colon-separated hexadecimal format".
        RrType::AAAA => value.parse::<std::net::Ipv6Addr>().is_ok(),
        // `#CNAMEFormat`, `#NSFormat`, `#PTRFormat`: "the same format as a domain name".
        RrType::CNAME | RrType::NS | RrType::PTR => fields.len() == 1 && name(value),
        // `#MXFormat`: "priority and domain name", priority 0-65535.
        RrType::MX => fields.len() == 2 && number(fields[0], 65_535) && target(fields[1]),
        // `#SRVFormat`: "[priority] [weight] [port] [server host name]", each 0-65535.
        RrType::SRV => {
            fields.len() == 4 && fields[..3].iter().all(|f| number(f, 65_535)) && target(fields[3])
        }
        // `#DSFormat`: "key tag, algorithm, digest type, digest".
        RrType::DS => {
            fields.len() >= 4
                && number(fields[0], 65_535)
                && number(fields[1], 255)
                && number(fields[2], 255)
                && fields[3..].iter().all(|f| hex(f))
        }
        // `#SSHFPFormat`: "algorithm, fingerprint type, fingerprint".
        RrType::SSHFP => {
            fields.len() == 3 && number(fields[0], 255) && number(fields[1], 255) && hex(fields[2])
        }
        // `#TLSAFormat`: "usage, selector, matching type, certificate association data".
        RrType::TLSA => {
            fields.len() == 4 && fields[..3].iter().all(|f| number(f, 255)) && hex(fields[3])
        }
        // `#SOAFormat`: the seven fields of an SOA.
        RrType::SOA => {
            fields.len() == 7
                && name(fields[0])
                && name(fields[1])
                && fields[2..].iter().all(|f| number(f, u32::MAX))
        }
        // `#SVCBFormat`, `#HTTPSFormat`: "priority target [params]".
        RrType::SVCB | RrType::HTTPS => {
            fields.len() >= 2 && number(fields[0], 65_535) && target(fields[1])
        }
        RrType::TXT | RrType::SPF | RrType::CAA | RrType::NAPTR => true,
    };
    if ok {
        Ok(())
    } else {
        Err(match rtype {
            RrType::A => "not an IPv4 address (A)".to_owned(),
            RrType::AAAA => "not an IPv6 address (AAAA)".to_owned(),
            other => format!("not a valid {other} value"),
        })
    }
}

/// Every problem of one record set on its own: its TTL, its values and their count, a
/// CNAME's or SOA's single value, an NS at a wildcard.
pub fn record_set_problems(set: &RecordSet) -> Vec<String> {
    let mut problems = Vec::new();
    let key = set.key();
    // API-RRSET, `Name`: "You can't use the * wildcard for resource records sets that
    // have a type of NS."
    if set.rtype == RrType::NS && set.name.labels().next() == Some("\\052") {
        problems.push(format!(
            "{key}: an NS record at a wildcard name (Route 53 refuses the * wildcard for NS)"
        ));
    }
    if set.alias_target.is_some() {
        // An alias has neither TTL nor values of its own (API-RRSET, `AliasTarget`).
        return problems;
    }
    match set.ttl {
        // API-RRSET, `TTL`: 0 to 2147483647.
        Some(ttl) if !(0..=MAX_TTL).contains(&ttl) => {
            problems.push(format!("{key}: TTL {ttl} is outside 0..={MAX_TTL}"));
        }
        Some(_) => {}
        None => problems.push(format!(
            "{key}: no TTL (a record that is not an alias has one)"
        )),
    }
    let count = set.resource_records.len();
    if count == 0 {
        problems.push(format!("{key}: no values and no alias target"));
    }
    if count > MAX_VALUES {
        problems.push(format!(
            "{key}: {count} values, over Route 53's {MAX_VALUES} per record"
        ));
    }
    // API-RR, `Value`: "You can specify more than one value for all record types except
    // CNAME and SOA."
    if matches!(set.rtype, RrType::CNAME | RrType::SOA) && count > 1 {
        problems.push(format!("{key}: a {} holds one value", set.rtype));
    }
    for (i, value) in set.values().enumerate() {
        if let Err(e) = check_value(set.rtype, value) {
            problems.push(format!("{key}, value #{i}: {e}"));
        }
    }
    problems
}

/// What record sets cannot hold together in one zone of apex `apex`: a CNAME beside any
/// other type at its name ("if you create a CNAME record for a subdomain, you cannot
/// create any other records for that subdomain", DNS-TYPES `#CNAMEFormat`), a CNAME at
/// the apex (same section: "You can't create a CNAME record at the zone apex"), and an
/// SOA anywhere but the apex (`#SOAFormat`: "Route 53 creates one SOA record at the apex").
pub fn zone_problems<'a>(
    apex: &Name,
    sets: impl IntoIterator<Item = &'a RecordSet>,
) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut by_name: BTreeMap<&Name, Vec<RrType>> = BTreeMap::new();
    let mut problems = Vec::new();
    for set in sets {
        by_name.entry(&set.name).or_default().push(set.rtype);
        if set.rtype == RrType::SOA && set.name != *apex {
            problems.push(format!(
                "{}: an SOA below the apex {apex} (Route 53 holds one SOA, at the apex)",
                set.key()
            ));
        }
        if set.rtype == RrType::CNAME && set.name == *apex {
            problems.push(format!(
                "{}: a CNAME at the apex (Route 53 refuses it: the apex holds SOA and NS)",
                set.key()
            ));
        }
    }
    for (name, types) in by_name {
        if types.contains(&RrType::CNAME) && types.iter().any(|t| *t != RrType::CNAME) {
            let mut others: Vec<&str> = types
                .iter()
                .filter(|t| **t != RrType::CNAME)
                .map(|t| t.as_str())
                .collect();
            others.sort_unstable();
            others.dedup();
            problems.push(format!(
                "{name}: a CNAME beside {} (a CNAME must be alone at its name)",
                others.join(", ")
            ));
        }
    }
    problems
}

/// Every problem of a zone's record sets, each on its own and together.
pub fn problems(apex: &Name, sets: &[&RecordSet]) -> Vec<String> {
    let mut out: Vec<String> = sets.iter().flat_map(|s| record_set_problems(s)).collect();
    out.extend(zone_problems(apex, sets.iter().copied()));
    out
}

/// At most this many problems are listed in one message; the rest are counted.
pub const LISTED: usize = 20;

/// The first [`LISTED`] problems (each at most 400 characters) and how many there are in
/// all: a message that fits Step Functions' 32,768 characters of an error's cause,
/// however many problems there are.
pub fn summarize(problems: &[String]) -> String {
    let mut parts: Vec<String> = problems
        .iter()
        .take(LISTED)
        .map(|p| {
            if p.chars().count() > 400 {
                format!("{}...", p.chars().take(397).collect::<String>())
            } else {
                p.clone()
            }
        })
        .collect();
    if problems.len() > LISTED {
        parts.push(format!(
            "and {} more ({} problems in all; the first {LISTED} are listed)",
            problems.len() - LISTED,
            problems.len()
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    #[test]
    fn values_route53_takes_pass() {
        for (rtype, value) in [
            (RrType::TXT, "\"v=spf1 -all\""),
            (RrType::TXT, "\"\""),
            (RrType::TXT, "\"a\" \"b\""),
            (RrType::TXT, "\"a\"\"b\""),
            (RrType::TXT, "\"say \\\"hi\\\" \\\\ \\012\""),
            (RrType::SPF, "\"v=spf1 -all\""),
            (RrType::CAA, "0 issue \"amazon.com\""),
            (RrType::CAA, "128 iodef \"mailto:a@example.com\""),
            (RrType::CAA, "0 issue \";\""),
            (
                RrType::NAPTR,
                "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
            ),
            (
                RrType::NAPTR,
                "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
            ),
            (RrType::MX, "10 mail.example.com."),
            (RrType::MX, "0 ."),
            (RrType::SRV, "10 60 5060 sip.example.com."),
            (RrType::DS, "12345 13 2 3F6B8C6E1B2A"),
            (RrType::PTR, "www.example.com"),
            (RrType::NS, "ns-1.awsdns-01.org."),
            (RrType::A, "192.0.2.1"),
            (RrType::AAAA, "2001:db8::1"),
        ] {
            assert_eq!(check_value(rtype, value), Ok(()), "{rtype} {value}");
        }
        let long = format!("\"{}\" \"{}\"", "a".repeat(255), "b".repeat(255));
        assert_eq!(check_value(RrType::TXT, &long), Ok(()));
    }

    #[test]
    fn values_route53_refuses_are_named() {
        for (rtype, value, expected) in [
            (RrType::TXT, "v=spf1 -all", "outside quotation marks"),
            (RrType::TXT, "\"unclosed", "not closed"),
            (RrType::TXT, "\"a\" b", "outside quotation marks"),
            (RrType::SPF, "v=spf1", "outside quotation marks"),
            (RrType::CAA, "0 issue \"amazon.com", "not closed"),
            (RrType::CAA, "0 issue amazon.com", "not a valid CAA"),
            (RrType::CAA, "256 issue \"x\"", "not a valid CAA"),
            (RrType::CAA, "0 is-sue \"x\"", "not a valid CAA"),
            (RrType::CAA, "0 issue \"a\" \"b\"", "not a valid CAA"),
            (
                RrType::NAPTR,
                "100 10 S SIP+D2U \"\" .",
                "not a valid NAPTR",
            ),
            (RrType::NAPTR, "100 10 \"X\" \"s\" \"\" .", "flags"),
            (
                RrType::NAPTR,
                "1 1 \"U\" \"s\" \"!a!b!\" x.example.com.",
                "replacement",
            ),
            (RrType::MX, "mail.example.com.", "MX"),
            (RrType::MX, "65536 mail.example.com.", "MX"),
            (RrType::SRV, "10 5 99999 sip.example.com.", "SRV"),
            (RrType::DS, "1 2 3 xyz", "DS"),
            (RrType::PTR, "a..b", "PTR"),
            (RrType::NS, "two words", "NS"),
            (RrType::A, "192.0.2.256", "IPv4"),
        ] {
            let error = check_value(rtype, value).expect_err(value);
            assert!(error.contains(expected), "{rtype} {value:?}: {error}");
        }
        let over = format!("\"{}\"", "a".repeat(300));
        let error = check_value(RrType::TXT, &over).expect_err("300 characters");
        assert!(error.contains("300 characters"), "{error}");
        let huge = format!("\"{}\"", "a\" \"".repeat(1_500));
        assert!(check_value(RrType::TXT, &huge)
            .expect_err("over 4,000")
            .contains("4000"));
    }

    #[test]
    fn a_record_set_has_a_ttl_in_range_and_one_value_for_a_cname() {
        let mut set = RecordSet::simple(
            n("www.example.com"),
            RrType::CNAME,
            MAX_TTL + 1,
            &["a.", "b."],
        );
        let problems = record_set_problems(&set);
        assert!(
            problems.iter().any(|p| p.contains("TTL 2147483648")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("holds one value")),
            "{problems:?}"
        );
        set.ttl = Some(-1);
        assert!(record_set_problems(&set)
            .iter()
            .any(|p| p.contains("TTL -1")));
        let wildcard_ns =
            RecordSet::simple(n("*.example.com"), RrType::NS, 60, &["ns1.example.net."]);
        assert!(record_set_problems(&wildcard_ns)[0].contains("wildcard"));
        let fine = RecordSet::simple(n("*.example.com"), RrType::A, MAX_TTL, &["192.0.2.1"]);
        assert!(record_set_problems(&fine).is_empty());
    }

    #[test]
    fn a_cname_is_alone_at_its_name_and_an_soa_only_at_the_apex() {
        let apex = n("example.com");
        let sets = [
            RecordSet::simple(
                n("www.example.com"),
                RrType::CNAME,
                60,
                &["lb.example.net."],
            ),
            RecordSet::simple(n("www.example.com"), RrType::AAAA, 60, &["2001:db8::1"]),
            RecordSet::simple(n("sub.example.com"), RrType::SOA, 60, &["a. b. 1 2 3 4 5"]),
            RecordSet::simple(n("example.com"), RrType::CNAME, 60, &["x.example.net."]),
            RecordSet::simple(n("example.com"), RrType::SOA, 60, &["a. b. 1 2 3 4 5"]),
        ];
        let problems = zone_problems(&apex, &sets);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("www.example.com.: a CNAME beside AAAA")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("an SOA below the apex")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("a CNAME at the apex")),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn a_summary_fits_a_step_functions_cause_whatever_the_count() {
        let many: Vec<String> = (0..650)
            .map(|i| format!("problem {i}: {}", "x".repeat(1_000)))
            .collect();
        let message = summarize(&many);
        assert!(message.len() < 32_768 / 2, "{}", message.len());
        assert!(
            message.contains("and 630 more (650 problems in all"),
            "{message}"
        );
    }
}
