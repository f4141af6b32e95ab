//! A Route 53 hosted zone, as ListResourceRecordSets returns it, rendered into a zone file
//! that knotd serves the way Route 53's name servers answer.
//!
//! Route 53 speaks its own dialect: names use *octal* escapes (`\052` is `*`), values in
//! TXT/SPF/CAA/NAPTR strings use octal escapes too, and every name in a value is absolute
//! whether it ends in a dot or not. Zone files use *decimal* escapes and treat a name
//! without a trailing dot as relative, so every name and string is decoded to octets and
//! encoded again.
//!
//! What the zone file cannot say is computed here, the way Route 53 answers:
//! - an alias to a record set of the same zone answers with the target's values and the
//!   target's TTL (chains are followed);
//! - an alias to an AWS resource (ELB, CloudFront, S3, API Gateway...) answers from fixture
//!   addresses derived from its DNS name ([`fixture_values`]), TTL 60;
//! - record sets with a routing policy are reduced to one deterministic answer
//!   ([`choose_routed`]); verify-zones compares those through the API instead.
//!
//! knotd refuses a whole zone file for one bad record (measured: a CNAME next to other data
//! makes `zone-reload` fail and the old zone stays served), and moto accepts what Route 53
//! would refuse (a bad IP, a CNAME at the apex). Such records are left out with a warning,
//! so that the rest of the zone is served.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use zonehop::core::zone::{bare_zone_id, RecordSet, RrType, Zone};
use zonehop::Name;

/// The TTL Route 53 gives answers for an alias to an AWS resource.
pub const AWS_ALIAS_TTL: u32 = 60;

/// How deep alias chains are followed before giving up (Route 53 refuses loops on write;
/// moto does not).
const MAX_ALIAS_DEPTH: usize = 16;

/// What [`render_hosted_zone`] needs to know about one hosted zone.
#[derive(Debug, Clone, Copy)]
pub struct HostedZoneInput<'a> {
    /// The zone's id (bare or with `/hostedzone/`): same-zone aliases carry it.
    pub id: &'a str,
    pub name: &'a Name,
    /// The zone's assigned name servers, for an apex SOA/NS that the records lack (an
    /// export may have dropped them).
    pub name_servers: &'a [Name],
    pub records: &'a Zone,
}

/// A zone file and what could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub warnings: Vec<String>,
}

/// One RRset as it will be served: a TTL and values in zone-file syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rrset {
    ttl: u32,
    values: Vec<String>,
}

/// Renders a hosted zone as a zone file (absolute owner names, one record per line, SOA
/// first, then Route 53's listing order).
pub fn render_hosted_zone(input: &HostedZoneInput<'_>) -> Rendered {
    let zone_id = bare_zone_id(input.id);
    let apex = input.name;
    let mut warnings = Vec::new();
    let mut groups: BTreeMap<(Name, RrType), Vec<&RecordSet>> = BTreeMap::new();
    for record in input.records.iter() {
        if !record.name.is_at_or_below(apex) {
            warnings.push(format!(
                "{}: outside the zone {apex}, left out",
                record.key()
            ));
            continue;
        }
        if record.rtype == RrType::SOA && record.name != *apex {
            warnings.push(format!("{}: an SOA below the apex, left out", record.key()));
            continue;
        }
        groups
            .entry((record.name.clone(), record.rtype))
            .or_default()
            .push(record);
    }
    let resolver = Resolver {
        zone_id,
        groups: &groups,
    };
    let mut served: BTreeMap<(Name, RrType), Rrset> = BTreeMap::new();
    for (key, records) in &groups {
        match resolver.rrset(records, 0, &mut BTreeSet::new()) {
            Ok(Some(rrset)) => {
                served.insert(key.clone(), rrset);
            }
            Ok(None) => {}
            Err(problem) => warnings.push(format!("{} {}: {problem}, left out", key.0, key.1)),
        }
    }
    add_missing_apex(apex, input.name_servers, &mut served, &mut warnings);
    drop_conflicting_cnames(&mut served, &mut warnings);
    Rendered {
        text: zone_text(apex, input.id, &served),
        warnings,
    }
}

/// Follows aliases and routing policies inside one zone.
struct Resolver<'a> {
    zone_id: &'a str,
    groups: &'a BTreeMap<(Name, RrType), Vec<&'a RecordSet>>,
}

impl Resolver<'_> {
    /// The RRset that the record sets of one name and type answer with.
    fn rrset(
        &self,
        records: &[&RecordSet],
        depth: usize,
        seen: &mut BTreeSet<(Name, RrType)>,
    ) -> Result<Option<Rrset>, String> {
        let chosen = choose_routed(records);
        let mut ttl: Option<u32> = None;
        let mut values: Vec<String> = Vec::new();
        for record in chosen {
            let Some(part) = self.record(record, depth, seen)? else {
                continue;
            };
            // An RRset has one TTL; multivalue answers may carry several: the smallest wins.
            ttl = Some(ttl.map_or(part.ttl, |t| t.min(part.ttl)));
            for value in part.values {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
        }
        Ok(ttl
            .filter(|_| !values.is_empty())
            .map(|ttl| Rrset { ttl, values }))
    }

    /// What one record set answers with.
    fn record(
        &self,
        record: &RecordSet,
        depth: usize,
        seen: &mut BTreeSet<(Name, RrType)>,
    ) -> Result<Option<Rrset>, String> {
        let Some(alias) = &record.alias_target else {
            let ttl = record
                .ttl
                .map_or(300, |t| u32::try_from(t.max(0)).unwrap_or(u32::MAX));
            let mut values = Vec::new();
            for value in record.values() {
                values.push(
                    render_value(record.rtype, value)
                        .map_err(|e| format!("value `{value}`: {e}"))?,
                );
            }
            return Ok(Some(Rrset { ttl, values }));
        };
        if bare_zone_id(&alias.hosted_zone_id) != self.zone_id {
            return match fixture_values(record.rtype, &alias.dns_name) {
                Some(values) => Ok(Some(Rrset {
                    ttl: AWS_ALIAS_TTL,
                    values,
                })),
                None => Err(format!(
                    "an alias of type {} to the AWS resource {} has no fixture",
                    record.rtype, alias.dns_name
                )),
            };
        }
        let target = (alias.dns_name.clone(), record.rtype);
        if depth >= MAX_ALIAS_DEPTH || !seen.insert(target.clone()) {
            return Err(format!("the alias chain through {} loops", alias.dns_name));
        }
        let Some(records) = self.groups.get(&target) else {
            return Err(format!(
                "the alias target {} {} does not exist",
                alias.dns_name, record.rtype
            ));
        };
        let answer = self.rrset(records, depth + 1, seen);
        seen.remove(&target);
        answer
    }
}

/// The record sets Route 53 answers with, among those of one name and type, for a resolver
/// with no location, no client subnet and every health check healthy:
/// - a simple record set (no SetIdentifier) if there is one;
/// - failover: the PRIMARY;
/// - multivalue answer: all of them, at most 8, by SetIdentifier (Route 53 returns up to 8
///   healthy ones);
/// - geolocation and IP-based routing: the default location (`*`), when there is one;
/// - anything else (weighted, latency, geoproximity, no default location): the record set
///   with the smallest SetIdentifier (byte order).
pub fn choose_routed<'a>(records: &[&'a RecordSet]) -> Vec<&'a RecordSet> {
    if let Some(simple) = records.iter().find(|r| r.set_identifier.is_none()) {
        return vec![*simple];
    }
    let mut sorted: Vec<&RecordSet> = records.to_vec();
    sorted.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
    if let Some(primary) = sorted
        .iter()
        .find(|r| r.failover == Some(zonehop::core::zone::Failover::Primary))
    {
        return vec![*primary];
    }
    if sorted.iter().any(|r| r.multi_value_answer == Some(true)) {
        return sorted
            .into_iter()
            .filter(|r| r.multi_value_answer == Some(true))
            .take(8)
            .collect();
    }
    let default_location = sorted.iter().find(|r| r.is_default_location());
    if let Some(default) = default_location {
        return vec![*default];
    }
    sorted.into_iter().take(1).collect()
}

/// The fixture answer for an alias to an AWS resource: two addresses derived from the
/// target's DNS name (FNV-1a of its canonical spelling), A in 192.0.2.0/24 and
/// 198.51.100.0/24, AAAA in 2001:db8::/32. `None` for types an AWS alias cannot have.
pub fn fixture_values(rtype: RrType, dns_name: &Name) -> Option<Vec<String>> {
    let h = fnv1a(dns_name.as_str().as_bytes());
    let byte = |shift: u32| u8::try_from((h >> shift) % 254 + 1).unwrap_or(1);
    let word = |shift: u32| u16::try_from((h >> shift) & 0xffff).unwrap_or(0);
    match rtype {
        RrType::A => Some(vec![
            Ipv4Addr::new(192, 0, 2, byte(0)).to_string(),
            Ipv4Addr::new(198, 51, 100, byte(8)).to_string(),
        ]),
        RrType::AAAA => Some(
            [1, 2]
                .into_iter()
                .map(|host| {
                    Ipv6Addr::new(0x2001, 0xdb8, word(16), word(32), 0, 0, 0, host).to_string()
                })
                .collect(),
        ),
        _ => None,
    }
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Route 53 would have refused a zone without an apex SOA and NS; an export may lack them.
fn add_missing_apex(
    apex: &Name,
    name_servers: &[Name],
    served: &mut BTreeMap<(Name, RrType), Rrset>,
    warnings: &mut Vec<String>,
) {
    let Some(first) = name_servers.first() else {
        return;
    };
    if let Entry::Vacant(slot) = served.entry((apex.clone(), RrType::SOA)) {
        warnings.push(format!(
            "{apex}: no SOA, one was made up as Route 53 writes it"
        ));
        slot.insert(Rrset {
            ttl: 900,
            values: vec![format!(
                "{} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                zone_file_name(first)
            )],
        });
    }
    if let Entry::Vacant(slot) = served.entry((apex.clone(), RrType::NS)) {
        warnings.push(format!("{apex}: no NS, the zone's name servers were used"));
        slot.insert(Rrset {
            ttl: 172_800,
            values: name_servers.iter().map(zone_file_name).collect(),
        });
    }
}

/// A CNAME cannot share its name with other data, and knotd refuses the whole zone for it.
fn drop_conflicting_cnames(
    served: &mut BTreeMap<(Name, RrType), Rrset>,
    warnings: &mut Vec<String>,
) {
    let names_with_other_data: BTreeSet<Name> = served
        .keys()
        .filter(|(_, t)| *t != RrType::CNAME)
        .map(|(n, _)| n.clone())
        .collect();
    served.retain(|(name, rtype), rrset| {
        if *rtype != RrType::CNAME {
            return true;
        }
        if names_with_other_data.contains(name) {
            warnings.push(format!(
                "{name} CNAME: the name has other data too (Route 53 refuses that), left out"
            ));
            return false;
        }
        if rrset.values.len() > 1 {
            warnings.push(format!(
                "{name} CNAME: {} values, only the first is served",
                rrset.values.len()
            ));
            rrset.values.truncate(1);
        }
        true
    });
}

fn zone_text(apex: &Name, id: &str, served: &BTreeMap<(Name, RrType), Rrset>) -> String {
    let mut keys: Vec<&(Name, RrType)> = served.keys().collect();
    keys.sort_by(|a, b| {
        let soa_first = |k: &(Name, RrType)| !(k.0 == *apex && k.1 == RrType::SOA);
        soa_first(a)
            .cmp(&soa_first(b))
            .then_with(|| listing_key(&a.0).cmp(&listing_key(&b.0)))
            .then(a.1.cmp(&b.1))
    });
    let mut text = format!(
        "; hosted zone {} ({}), rendered from Route 53 by zonehop-tests dnsworld\n",
        zone_file_name(apex),
        id.escape_default()
    );
    for key in keys {
        let rrset = &served[key];
        let owner = zone_file_name(&key.0);
        for value in &rrset.values {
            let _ = writeln!(text, "{owner} {} IN {} {value}", rrset.ttl, key.1);
        }
    }
    text
}

/// Route 53's listing order: labels compared from the right.
fn listing_key(name: &Name) -> Vec<Vec<u8>> {
    let mut labels = name.raw_labels();
    labels.reverse();
    labels
}

/// A name in zone-file syntax: absolute, decimal escapes for every octet outside
/// `[A-Za-z0-9_-]`, a literal `*` for a wildcard label.
pub fn zone_file_name(name: &Name) -> String {
    encode_labels(&name.raw_labels())
}

fn encode_labels(labels: &[Vec<u8>]) -> String {
    if labels.is_empty() {
        return ".".to_owned();
    }
    let mut out = String::new();
    for label in labels {
        if label.as_slice() == b"*" {
            out.push('*');
        } else {
            for &byte in label {
                if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                    out.push(char::from(byte));
                } else {
                    let _ = write!(out, "\\{byte:03}");
                }
            }
        }
        out.push('.');
    }
    out
}

/// A name inside a Route 53 value (always absolute, trailing dot optional, octal escapes,
/// case kept) in zone-file syntax.
fn value_name(token: &str) -> Result<String, String> {
    if token == "." {
        return Ok(".".to_owned());
    }
    let bytes = decode_route53(token.trim_end_matches('.').as_bytes(), true)?;
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    for piece in bytes {
        match piece {
            Decoded::Separator => {
                if label.is_empty() {
                    return Err(format!("`{token}` has an empty label"));
                }
                labels.push(std::mem::take(&mut label));
            }
            Decoded::Byte(b) => label.push(b),
        }
    }
    if label.is_empty() {
        return Err(format!("`{token}` is not a name"));
    }
    labels.push(label);
    if labels.iter().any(|l| l.len() > 63) {
        return Err(format!("`{token}` has a label longer than 63 octets"));
    }
    Ok(encode_labels(&labels))
}

enum Decoded {
    Byte(u8),
    /// An unescaped dot (only when decoding a name).
    Separator,
}

/// Decodes Route 53 escapes: `\ooo` (three octal digits) is that octet, `\x` is `x`.
fn decode_route53(input: &[u8], dots_separate: bool) -> Result<Vec<Decoded>, String> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\\' => {
                let rest = &input[i + 1..];
                if rest.len() >= 3 && rest[..3].iter().all(|b| (b'0'..=b'7').contains(b)) {
                    let value = rest[..3]
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    let byte = u8::try_from(value)
                        .map_err(|_| format!("the escape \\{} is not an octet", value))?;
                    out.push(Decoded::Byte(byte));
                    i += 4;
                } else if let Some(&literal) = rest.first() {
                    out.push(Decoded::Byte(literal));
                    i += 2;
                } else {
                    return Err("a trailing backslash".to_owned());
                }
            }
            b'.' if dots_separate => {
                out.push(Decoded::Separator);
                i += 1;
            }
            other => {
                out.push(Decoded::Byte(other));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A character-string (TXT, SPF, CAA value, NAPTR fields) in zone-file syntax: quoted,
/// decimal escapes for anything not printable ASCII.
fn character_string(raw: &[u8]) -> Result<String, String> {
    let octets: Vec<u8> = decode_route53(raw, false)?
        .into_iter()
        .map(|d| match d {
            Decoded::Byte(b) => b,
            Decoded::Separator => b'.',
        })
        .collect();
    if octets.len() > 255 {
        return Err(format!(
            "a string of {} octets (at most 255 each)",
            octets.len()
        ));
    }
    let mut out = String::with_capacity(octets.len() + 2);
    out.push('"');
    for byte in octets {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            other => {
                let _ = write!(out, "\\{other:03}");
            }
        }
    }
    out.push('"');
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    /// The inside of a quoted string, escapes untouched.
    Quoted(&'a [u8]),
    Bare(&'a [u8]),
}

/// Splits a value on whitespace outside double quotes (on octets: a backslash escapes the
/// next octet, whatever it is).
fn tokenize(value: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = value.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            if j >= bytes.len() {
                return Err("an unterminated quoted string".to_owned());
            }
            tokens.push(Token::Quoted(&bytes[start..j]));
            i = j + 1;
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let end = i.min(bytes.len());
            tokens.push(Token::Bare(&bytes[start..end]));
        }
    }
    Ok(tokens)
}

fn bare<'a>(token: &Token<'a>) -> Result<&'a str, String> {
    match token {
        Token::Bare(raw) => {
            std::str::from_utf8(raw).map_err(|_| "a field that is not UTF-8".to_owned())
        }
        Token::Quoted(_) => Err("a quoted string where a plain field belongs".to_owned()),
    }
}

fn parsed<T: std::str::FromStr>(token: &Token<'_>, what: &str) -> Result<String, String> {
    let s = bare(token)?;
    s.parse::<T>()
        .map(|_| s.to_owned())
        .map_err(|_| format!("`{s}` is not a valid {what}"))
}

fn string_token(token: &Token<'_>) -> Result<String, String> {
    match token {
        Token::Quoted(raw) | Token::Bare(raw) => character_string(raw),
    }
}

/// Plain fields (hex, numbers, SvcParams) passed through, refusing what would change the
/// meaning of a zone-file line.
fn plain(token: &Token<'_>) -> Result<String, String> {
    let s = bare(token)?;
    if s.contains([';', '(', ')']) || s.chars().any(|c| c.is_control()) {
        return Err(format!("`{s}` holds characters a zone file would misread"));
    }
    Ok(s.to_owned())
}

fn expect_fields(tokens: &[Token<'_>], n: usize, shape: &str) -> Result<(), String> {
    if tokens.len() == n {
        Ok(())
    } else {
        Err(format!("expected `{shape}`, found {} fields", tokens.len()))
    }
}

/// One Route 53 value in zone-file syntax.
pub fn render_value(rtype: RrType, value: &str) -> Result<String, String> {
    let tokens = tokenize(value.trim())?;
    if tokens.is_empty() {
        return Err("an empty value".to_owned());
    }
    let rendered: Vec<String> = match rtype {
        RrType::A => {
            expect_fields(&tokens, 1, "IPv4 address")?;
            vec![parsed::<Ipv4Addr>(&tokens[0], "IPv4 address")?]
        }
        RrType::AAAA => {
            expect_fields(&tokens, 1, "IPv6 address")?;
            vec![parsed::<Ipv6Addr>(&tokens[0], "IPv6 address")?]
        }
        RrType::CNAME | RrType::NS | RrType::PTR => {
            expect_fields(&tokens, 1, "name")?;
            vec![value_name(bare(&tokens[0])?)?]
        }
        RrType::MX => {
            expect_fields(&tokens, 2, "preference name")?;
            vec![
                parsed::<u16>(&tokens[0], "preference")?,
                value_name(bare(&tokens[1])?)?,
            ]
        }
        RrType::SRV => {
            expect_fields(&tokens, 4, "priority weight port target")?;
            vec![
                parsed::<u16>(&tokens[0], "priority")?,
                parsed::<u16>(&tokens[1], "weight")?,
                parsed::<u16>(&tokens[2], "port")?,
                value_name(bare(&tokens[3])?)?,
            ]
        }
        RrType::SOA => {
            expect_fields(
                &tokens,
                7,
                "mname rname serial refresh retry expire minimum",
            )?;
            let mut out = vec![
                value_name(bare(&tokens[0])?)?,
                value_name(bare(&tokens[1])?)?,
            ];
            for (token, what) in tokens[2..]
                .iter()
                .zip(["serial", "refresh", "retry", "expire", "minimum"])
            {
                out.push(parsed::<u32>(token, what)?);
            }
            out
        }
        RrType::NAPTR => {
            expect_fields(
                &tokens,
                6,
                "order preference \"flags\" \"service\" \"regexp\" replacement",
            )?;
            vec![
                parsed::<u16>(&tokens[0], "order")?,
                parsed::<u16>(&tokens[1], "preference")?,
                string_token(&tokens[2])?,
                string_token(&tokens[3])?,
                string_token(&tokens[4])?,
                value_name(bare(&tokens[5])?)?,
            ]
        }
        RrType::SVCB | RrType::HTTPS => {
            if tokens.len() < 2 {
                return Err("expected `priority target [params]`".to_owned());
            }
            let mut out = vec![
                parsed::<u16>(&tokens[0], "priority")?,
                value_name(bare(&tokens[1])?)?,
            ];
            // SvcParams (`alpn="h2,h3"`, `port=8443`) are zone-file syntax already; a quoted
            // parameter value splits into a bare `key=` and a quoted token here.
            let mut params = String::new();
            for token in &tokens[2..] {
                match token {
                    Token::Bare(_) => {
                        if !params.is_empty() {
                            params.push(' ');
                        }
                        params.push_str(&plain(token)?);
                    }
                    Token::Quoted(raw) => {
                        if !params.ends_with('=') {
                            return Err("a quoted SvcParam value without its key".to_owned());
                        }
                        let quoted = std::str::from_utf8(raw)
                            .map_err(|_| "a SvcParam value that is not UTF-8".to_owned())?;
                        let _ = write!(params, "\"{quoted}\"");
                    }
                }
            }
            if !params.is_empty() {
                out.push(params);
            }
            out
        }
        RrType::TXT | RrType::SPF => tokens
            .iter()
            .map(string_token)
            .collect::<Result<Vec<_>, _>>()?,
        RrType::CAA => {
            expect_fields(&tokens, 3, "flags tag \"value\"")?;
            let tag = bare(&tokens[1])?;
            if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("`{tag}` is not a CAA tag"));
            }
            vec![
                parsed::<u8>(&tokens[0], "flags")?,
                tag.to_owned(),
                string_token(&tokens[2])?,
            ]
        }
        RrType::DS | RrType::SSHFP | RrType::TLSA => {
            tokens.iter().map(plain).collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(rendered.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop::core::zone::{AliasTarget, CidrRoutingConfig, Failover, GeoLocation};

    fn n(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    fn simple(name: &str, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
        RecordSet::simple(n(name), rtype, ttl, values)
    }

    fn alias(name: &str, rtype: RrType, zone: &str, target: &str) -> RecordSet {
        RecordSet::alias(
            n(name),
            rtype,
            AliasTarget {
                hosted_zone_id: zone.to_owned(),
                dns_name: n(target),
                evaluate_target_health: false,
            },
        )
    }

    fn routed(mut r: RecordSet, id: &str) -> RecordSet {
        r.set_identifier = Some(id.to_owned());
        r
    }

    fn apex_records() -> Vec<RecordSet> {
        vec![
            simple(
                "example.com",
                RrType::SOA,
                900,
                &["ns1.z1.zonehop-dns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"],
            ),
            simple(
                "example.com",
                RrType::NS,
                172_800,
                &["ns1.z1.zonehop-dns.test.", "ns2.z1.zonehop-dns.test."],
            ),
        ]
    }

    fn render(records: Vec<RecordSet>) -> Rendered {
        let mut all = apex_records();
        all.extend(records);
        let zone = Zone::new(all);
        let name = n("example.com");
        let servers = [n("ns1.z1.zonehop-dns.test")];
        render_hosted_zone(&HostedZoneInput {
            id: "/hostedzone/Z1",
            name: &name,
            name_servers: &servers,
            records: &zone,
        })
    }

    fn lines(rendered: &Rendered) -> Vec<&str> {
        rendered
            .text
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect()
    }

    fn lines_for<'a>(rendered: &'a Rendered, owner: &str) -> Vec<&'a str> {
        lines(rendered)
            .into_iter()
            .filter(|l| l.starts_with(&format!("{owner} ")))
            .collect()
    }

    #[test]
    fn the_soa_comes_first_and_names_are_absolute() {
        let out = render(vec![
            simple("www.example.com", RrType::A, 60, &["192.0.2.10"]),
            simple("app.example.com", RrType::CNAME, 300, &["www.example.com"]),
        ]);
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            lines(&out),
            [
                "example.com. 900 IN SOA ns1.z1.zonehop-dns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                "example.com. 172800 IN NS ns1.z1.zonehop-dns.test.",
                "example.com. 172800 IN NS ns2.z1.zonehop-dns.test.",
                "app.example.com. 300 IN CNAME www.example.com.",
                "www.example.com. 60 IN A 192.0.2.10",
            ]
        );
    }

    #[test]
    fn route53_octal_escapes_become_zone_file_escapes() {
        let out = render(vec![
            simple("\\052.example.com", RrType::A, 60, &["192.0.2.80"]),
            simple("a\\052b.example.com", RrType::A, 60, &["192.0.2.81"]),
            simple("a\\100b.example.com", RrType::A, 60, &["192.0.2.82"]),
            simple("\\052.w.example.com", RrType::A, 60, &["192.0.2.83"]),
        ]);
        assert_eq!(
            lines_for(&out, "*.example.com."),
            ["*.example.com. 60 IN A 192.0.2.80"]
        );
        // `*` inside a label is an ordinary octet: decimal 42.
        assert_eq!(
            lines_for(&out, "a\\042b.example.com."),
            ["a\\042b.example.com. 60 IN A 192.0.2.81"]
        );
        // Route 53's octal \100 is `@`, decimal 64.
        assert_eq!(
            lines_for(&out, "a\\064b.example.com."),
            ["a\\064b.example.com. 60 IN A 192.0.2.82"]
        );
        assert_eq!(lines_for(&out, "*.w.example.com.").len(), 1);
    }

    #[test]
    fn every_type_renders_in_zone_file_syntax() {
        let cases: &[(RrType, &str, &str)] = &[
            (RrType::A, "192.0.2.1", "192.0.2.1"),
            (RrType::AAAA, "2001:db8::10", "2001:db8::10"),
            (
                RrType::CAA,
                "0 issue \"amazon.com\"",
                "0 issue \"amazon.com\"",
            ),
            (RrType::CNAME, "www.example.com", "www.example.com."),
            (
                RrType::DS,
                "12345 13 2 3F6B8C6E1B2A9D4C5E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D",
                "12345 13 2 3F6B8C6E1B2A9D4C5E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D",
            ),
            (RrType::HTTPS, "1 . alpn=\"h2,h3\"", "1 . alpn=\"h2,h3\""),
            (RrType::MX, "10 mail.example.com", "10 mail.example.com."),
            (
                RrType::NAPTR,
                "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
                "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
            ),
            (RrType::NS, "ns1.example.net", "ns1.example.net."),
            (RrType::PTR, "www.example.com.", "www.example.com."),
            (
                RrType::SOA,
                "ns1.z1.zonehop-dns.test awsdns-hostmaster.amazon.com 1 7200 900 1209600 86400",
                "ns1.z1.zonehop-dns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
            ),
            (RrType::SPF, "\"v=spf1 -all\"", "\"v=spf1 -all\""),
            (
                RrType::SRV,
                "10 60 5060 sip.example.com",
                "10 60 5060 sip.example.com.",
            ),
            (RrType::SSHFP, "4 2 12ab", "4 2 12ab"),
            (
                RrType::SVCB,
                "1 svc-backend.example.com alpn=\"h2\" port=8443",
                "1 svc-backend.example.com. alpn=\"h2\" port=8443",
            ),
            (RrType::TLSA, "3 1 1 0123ABCD", "3 1 1 0123ABCD"),
            (RrType::TXT, "\"a\" \"b c\"", "\"a\" \"b c\""),
        ];
        for (rtype, value, expected) in cases {
            assert_eq!(
                render_value(*rtype, value).as_deref(),
                Ok(*expected),
                "{rtype} {value}"
            );
        }
    }

    #[test]
    fn strings_decode_octal_escapes_and_keep_quotes_and_backslashes() {
        // Route 53: \303\251 is é in UTF-8 (octal); zone files say \195\169 (decimal).
        assert_eq!(
            render_value(RrType::TXT, "\"caf\\303\\251\"").as_deref(),
            Ok("\"caf\\195\\169\"")
        );
        assert_eq!(
            render_value(RrType::TXT, "\"say \\\"hi\\\" \\\\ bye\"").as_deref(),
            Ok("\"say \\\"hi\\\" \\\\ bye\"")
        );
        // A semicolon inside quotes is data, not a comment.
        assert_eq!(
            render_value(RrType::TXT, "\"v=DKIM1; k=rsa\"").as_deref(),
            Ok("\"v=DKIM1; k=rsa\"")
        );
        // Unquoted text becomes one quoted string per word, as a zone file would read it.
        assert_eq!(
            render_value(RrType::TXT, "hello world").as_deref(),
            Ok("\"hello\" \"world\"")
        );
        assert!(render_value(RrType::TXT, "\"unterminated").is_err());
        assert!(render_value(RrType::TXT, &format!("\"{}\"", "a".repeat(256))).is_err());
    }

    #[test]
    fn names_in_values_keep_their_case_and_decode_escapes() {
        assert_eq!(
            render_value(RrType::CNAME, "WWW.Example.COM").as_deref(),
            Ok("WWW.Example.COM.")
        );
        assert_eq!(
            render_value(RrType::CNAME, "a\\100b.example.com.").as_deref(),
            Ok("a\\064b.example.com.")
        );
        assert!(render_value(RrType::CNAME, "a..b").is_err());
    }

    #[test]
    fn bad_values_are_left_out_with_a_warning_and_the_rest_is_served() {
        let out = render(vec![
            simple("bad.example.com", RrType::A, 60, &["300.1.2.3"]),
            simple("good.example.com", RrType::A, 60, &["192.0.2.1"]),
            simple("mx.example.com", RrType::MX, 60, &["mail.example.com"]),
        ]);
        assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
        assert!(lines_for(&out, "bad.example.com.").is_empty());
        assert!(lines_for(&out, "mx.example.com.").is_empty());
        assert_eq!(lines_for(&out, "good.example.com.").len(), 1);
    }

    #[test]
    fn a_same_zone_alias_chain_answers_with_the_last_target_and_its_ttl() {
        let out = render(vec![
            simple(
                "www.example.com",
                RrType::A,
                42,
                &["192.0.2.10", "192.0.2.11"],
            ),
            alias("one.example.com", RrType::A, "Z1", "www.example.com"),
            alias(
                "two.example.com",
                RrType::A,
                "/hostedzone/Z1",
                "one.example.com",
            ),
        ]);
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            lines_for(&out, "two.example.com."),
            [
                "two.example.com. 42 IN A 192.0.2.10",
                "two.example.com. 42 IN A 192.0.2.11"
            ]
        );
        assert_eq!(lines_for(&out, "one.example.com.").len(), 2);
    }

    #[test]
    fn an_alias_loop_or_a_missing_target_is_a_warning() {
        let out = render(vec![
            alias("a.example.com", RrType::A, "Z1", "b.example.com"),
            alias("b.example.com", RrType::A, "Z1", "a.example.com"),
            alias("c.example.com", RrType::A, "Z1", "nothing.example.com"),
        ]);
        assert_eq!(out.warnings.len(), 3, "{:?}", out.warnings);
        assert_eq!(lines(&out).len(), 3, "only the apex is left");
    }

    #[test]
    fn an_alias_to_an_aws_resource_answers_from_fixtures_with_ttl_60() {
        let elb = "dualstack.my-lb-123.us-east-1.elb.amazonaws.com";
        let out = render(vec![
            alias("example.com", RrType::A, "Z35SXDOTRQ7X7K", elb),
            alias("example.com", RrType::AAAA, "Z35SXDOTRQ7X7K", elb),
        ]);
        let a: Vec<&str> = lines_for(&out, "example.com.")
            .into_iter()
            .filter(|l| l.contains(" IN A "))
            .collect();
        assert_eq!(a.len(), 2);
        assert!(a[0].starts_with("example.com. 60 IN A 192.0.2."), "{a:?}");
        assert!(
            a[1].starts_with("example.com. 60 IN A 198.51.100."),
            "{a:?}"
        );
        let aaaa = fixture_values(RrType::AAAA, &n(elb)).expect("AAAA fixture");
        assert!(aaaa.iter().all(|v| v.starts_with("2001:db8:")), "{aaaa:?}");
        // Deterministic: the same name gives the same addresses.
        assert_eq!(
            fixture_values(RrType::A, &n(elb)),
            fixture_values(RrType::A, &n(&elb.to_uppercase()))
        );
        assert_ne!(
            fixture_values(RrType::A, &n(elb)),
            fixture_values(RrType::A, &n("d111111abcdef8.cloudfront.net"))
        );
    }

    #[test]
    fn routing_policies_render_one_documented_choice() {
        let a = |name: &str, v: &str| simple(name, RrType::A, 60, &[v]);
        let mut primary = routed(a("fo.example.com", "192.0.2.40"), "z-primary");
        primary.failover = Some(Failover::Primary);
        let mut secondary = routed(a("fo.example.com", "192.0.2.41"), "a-secondary");
        secondary.failover = Some(Failover::Secondary);
        let geo = |v: &str, id: &str, country: &str| {
            let mut r = routed(a("geo.example.com", v), id);
            r.geo_location = Some(GeoLocation {
                continent_code: None,
                country_code: Some(country.to_owned()),
                subdivision_code: None,
            });
            r
        };
        let mut cidr_office = routed(a("cidr.example.com", "192.0.2.70"), "a-office");
        cidr_office.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c".into(),
            location_name: "office".into(),
        });
        let mut cidr_default = routed(a("cidr.example.com", "192.0.2.71"), "b-default");
        cidr_default.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c".into(),
            location_name: "*".into(),
        });
        let mv = |v: &str, id: &str, ttl: i64| {
            let mut r = routed(simple("mv.example.com", RrType::A, ttl, &[v]), id);
            r.multi_value_answer = Some(true);
            r
        };
        let mut heavy = routed(a("w.example.com", "192.0.2.21"), "blue");
        heavy.weight = Some(70);
        let mut light = routed(a("w.example.com", "192.0.2.20"), "amber");
        light.weight = Some(30);
        let out = render(vec![
            primary,
            secondary,
            geo("192.0.2.50", "a-de", "DE"),
            geo("192.0.2.51", "b-default", "*"),
            cidr_office,
            cidr_default,
            mv("192.0.2.90", "mv-1", 60),
            mv("192.0.2.91", "mv-2", 30),
            heavy,
            light,
        ]);
        assert_eq!(
            lines_for(&out, "fo.example.com."),
            ["fo.example.com. 60 IN A 192.0.2.40"]
        );
        assert_eq!(
            lines_for(&out, "geo.example.com."),
            ["geo.example.com. 60 IN A 192.0.2.51"]
        );
        assert_eq!(
            lines_for(&out, "cidr.example.com."),
            ["cidr.example.com. 60 IN A 192.0.2.71"]
        );
        assert_eq!(
            lines_for(&out, "mv.example.com."),
            [
                "mv.example.com. 30 IN A 192.0.2.90",
                "mv.example.com. 30 IN A 192.0.2.91"
            ]
        );
        // Weighted: the smallest SetIdentifier, whatever the weights.
        assert_eq!(
            lines_for(&out, "w.example.com."),
            ["w.example.com. 60 IN A 192.0.2.20"]
        );
    }

    #[test]
    fn a_cname_next_to_other_data_is_left_out() {
        let out = render(vec![
            simple("example.com", RrType::CNAME, 60, &["elsewhere.example.net"]),
            simple("x.example.com", RrType::CNAME, 60, &["www.example.com"]),
            simple("x.example.com", RrType::TXT, 60, &["\"x\""]),
        ]);
        assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
        assert!(!out.text.contains("CNAME"));
    }

    #[test]
    fn a_zone_without_apex_records_gets_them_from_its_name_servers() {
        let zone = Zone::new([simple("www.example.com", RrType::A, 60, &["192.0.2.1"])]);
        let name = n("example.com");
        let servers = [n("ns1.z4.zonehop-dns.test"), n("ns2.z4.zonehop-dns.test")];
        let out = render_hosted_zone(&HostedZoneInput {
            id: "Z4",
            name: &name,
            name_servers: &servers,
            records: &zone,
        });
        assert!(out
            .text
            .contains("example.com. 900 IN SOA ns1.z4.zonehop-dns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"));
        assert!(out
            .text
            .contains("example.com. 172800 IN NS ns2.z4.zonehop-dns.test."));
        assert_eq!(out.warnings.len(), 2);
    }

    #[test]
    fn the_every_kind_export_renders_without_warnings() {
        let zone = zonehop::core::export::load_export(include_str!(
            "../../../../functions/core/testdata/every-kind.json"
        ))
        .expect("export");
        let name = n("example.com");
        let out = render_hosted_zone(&HostedZoneInput {
            id: "Z0OLDEXAMPLE",
            name: &name,
            name_servers: &[],
            records: &zone,
        });
        assert_eq!(out.warnings, Vec::<String>::new());
        assert!(out.text.contains("*.example.com. 60 IN A 192.0.2.80"));
        assert!(out
            .text
            .contains("alias-www.example.com. 60 IN A 192.0.2.10"));
    }
}
