//! What each question must answer, and when: derived from the zone as it was loaded, and
//! judged against what a resolver answered. Pure: no socket, no clock (times are passed in,
//! milliseconds since the epoch).
//!
//! The expected data is what the DNS world serves for the source export: the export goes
//! through [`render_hosted_zone`], the same rendering the world's name servers serve, so that
//! aliases answer their target's data (an AWS-resource alias its fixture addresses) exactly
//! as they are served. Both zones hold the same data during a migration (that is the
//! point), so one expectation holds on either side, and under a kept subtree (the child zone
//! holds the same records). Records with a routing policy answer one member's values: any
//! value a member could give is accepted ([`Accepted::AnyOf`]). An RRset that changes (a
//! cutover, an edit during the window) is accepted old or new until its TTL has run out
//! after the change, then only new ([`Expectations::begin_change`],
//! [`Expectations::end_change`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use zonehop::core::zone::{RecordSet, RrType, Zone};
use zonehop::Name;

use super::model::{Resolution, Served, Servers, ZoneModel};
use crate::dnsworld::render::{render_hosted_zone, HostedZoneInput};

/// One value of an answer, as the wire carries it (names in lowercase, uncompressed: the
/// DNSSEC canonical form), with its presentation for a report.
pub type Datum = (Vec<u8>, String);

/// An RRset's values: canonical wire form to presentation.
pub type DataSet = BTreeMap<Vec<u8>, String>;

/// One question asked of a resolver.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Question {
    pub name: Name,
    pub rtype: RrType,
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// What an answer may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// This RRset, value for value.
    Exactly(DataSet),
    /// A routing policy's answer: at least one value, each one that some member gives.
    AnyOf(DataSet),
    /// No such data: NXDOMAIN, or NOERROR without it (a record a cutover creates, before).
    Nothing,
    /// Whatever comes: what the zone answers is decided elsewhere (a CNAME chain that
    /// leaves the zone, a name below a delegation), said why.
    Anything(String),
}

impl Accepted {
    fn admits(&self, data: &DataSet) -> bool {
        match self {
            Accepted::Exactly(expected) => expected.keys().eq(data.keys()),
            Accepted::AnyOf(members) => {
                !data.is_empty() && data.keys().all(|k| members.contains_key(k))
            }
            Accepted::Nothing => data.is_empty(),
            Accepted::Anything(_) => true,
        }
    }

    fn describe(&self) -> String {
        let values = |set: &DataSet| set.values().cloned().collect::<Vec<_>>().join(" | ");
        match self {
            Accepted::Exactly(set) => values(set),
            Accepted::AnyOf(set) => format!("any of {}", values(set)),
            Accepted::Nothing => "no data".to_owned(),
            Accepted::Anything(why) => format!("anything ({why})"),
        }
    }
}

/// An accepted answer and when it is acceptable (`None`: unbounded on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub accepted: Accepted,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Window {
    pub fn always(accepted: Accepted) -> Window {
        Window {
            accepted,
            from_ms: None,
            until_ms: None,
        }
    }

    /// Valid at some instant of `[sent, received]`: an answer was produced somewhere in
    /// between.
    fn overlaps(&self, sent_ms: i64, received_ms: i64) -> bool {
        self.from_ms.is_none_or(|from| from <= received_ms)
            && self.until_ms.is_none_or(|until| until >= sent_ms)
    }
}

/// Everything known about one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub windows: Vec<Window>,
    /// The RRset's TTL as served (seconds): how long a resolver may keep the old data
    /// after a change.
    pub ttl: u32,
    /// Asked in every round, however long the list (the apex, kept subtrees, aliases,
    /// wildcards, cutover records).
    pub always: bool,
    /// Judged only when the prober stops, once its changes' times are known (a cutover's
    /// times come from the execution's history).
    pub deferred: bool,
}

impl Expectation {
    /// How long data stays acceptable after a write replaced it: the TTL (at least a
    /// resolver's minimum cache time) and the world's serving delay.
    fn linger_ms(&self) -> i64 {
        i64::from(self.ttl.max(RESOLVER_MIN_CACHE_SECONDS)) * 1_000 + SERVE_DELAY_MS
    }
}

/// What a resolver said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No reply within the timeout.
    NoReply,
    /// A reply that is not a DNS answer to the question.
    Malformed(String),
    /// A reply: its rcode, and the question's RRset in it (after the CNAME chain, when
    /// another type than CNAME was asked).
    Reply { rcode: ResponseCode, data: DataSet },
}

impl Answer {
    /// For a report: `NOERROR 203.0.113.7 | 203.0.113.8`, `NXDOMAIN`, `no reply`.
    pub fn describe(&self) -> String {
        match self {
            Answer::NoReply => "no reply".to_owned(),
            Answer::Malformed(why) => format!("malformed reply: {why}"),
            Answer::Reply { rcode, data } if data.is_empty() => {
                format!("{}, no data", rcode_name(*rcode))
            }
            Answer::Reply { rcode, data } => format!(
                "{} {}",
                rcode_name(*rcode),
                data.values().cloned().collect::<Vec<_>>().join(" | ")
            ),
        }
    }
}

/// An rcode as dig names it.
pub fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => other.to_string().to_uppercase(),
    }
}

/// How an answer is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Correct,
    /// NOERROR with data that is not accepted (or none where data is expected).
    Wrong,
    /// NXDOMAIN where data is expected.
    NxDomain,
    ServFail,
    /// No reply within the timeout.
    Timeout,
    /// Any other rcode (REFUSED...), or a malformed reply.
    OtherRcode,
}

/// Judges one answer against the windows of its question; the query left at `sent_ms` and
/// the reply came at `received_ms`.
pub fn judge(windows: &[Window], answer: &Answer, sent_ms: i64, received_ms: i64) -> Verdict {
    let admitted = |data: &DataSet| {
        windows
            .iter()
            .any(|w| w.overlaps(sent_ms, received_ms) && w.accepted.admits(data))
    };
    match answer {
        Answer::NoReply => Verdict::Timeout,
        Answer::Malformed(_) => Verdict::OtherRcode,
        Answer::Reply { rcode, data } => match *rcode {
            ResponseCode::NoError if admitted(data) => Verdict::Correct,
            ResponseCode::NoError => Verdict::Wrong,
            ResponseCode::NXDomain if admitted(&DataSet::new()) => Verdict::Correct,
            ResponseCode::NXDomain => Verdict::NxDomain,
            ResponseCode::ServFail => Verdict::ServFail,
            _ => Verdict::OtherRcode,
        },
    }
}

/// What was expected at `at_ms`, for a report.
pub fn describe_expected(windows: &[Window], at_ms: i64) -> String {
    let valid: Vec<String> = windows
        .iter()
        .filter(|w| w.overlaps(at_ms, at_ms))
        .map(|w| w.accepted.describe())
        .collect();
    if valid.is_empty() {
        "nothing valid at that time".to_owned()
    } else {
        valid.join(" or ")
    }
}

/// How long after a change's end a resolver may still answer the old data, beyond the
/// RRset's TTL: the world serves a change in moto within about a second (measured
/// 56-208 ms to reload, polled every 500 ms), and kresd never caches anything for less
/// than 5 s whatever the TTL (LOCAL-WORLD.md).
pub const SERVE_DELAY_MS: i64 = 1_500;
pub const RESOLVER_MIN_CACHE_SECONDS: u32 = 5;

/// Every question and what it must answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    pub questions: BTreeMap<Question, Expectation>,
    /// The zone they were derived from, to answer a question not asked: a name an edit
    /// creates, before it (a name under a wildcard answers the wildcard's data), or one it
    /// deletes, after. `None`: such a name had no data.
    pub model: Option<Arc<ZoneModel>>,
}

impl Expectations {
    /// What `question` answered in the zone before any change, and the TTL it may be kept
    /// for: its first window when it is asked, else what the zone answers for it.
    pub fn answer(&self, question: &Question) -> Option<(Accepted, u32)> {
        if let Some(e) = self.questions.get(question) {
            return e.windows.first().map(|w| (w.accepted.clone(), e.ttl));
        }
        self.resolve(question)
    }

    /// What the zone answers for `question`, asked or not (`None` without the zone).
    pub fn resolve(&self, question: &Question) -> Option<(Accepted, u32)> {
        let model = self.model.as_ref()?;
        Some(match model.resolve(&question.name, question.rtype) {
            Resolution::Answer { accepted, ttl } => (accepted, ttl),
            Resolution::Delegated { cut, servers } => (
                Accepted::Anything(format!(
                    "below {cut}, {}",
                    match servers {
                        Servers::Outside => DELEGATED_OUTSIDE,
                        Servers::World => DELEGATED_IN_WORLD,
                    }
                )),
                0,
            ),
            Resolution::LeavesZone { target } => (
                Accepted::Anything(format!("a CNAME chain to {target}, outside the zone")),
                0,
            ),
            Resolution::Loop => (Accepted::Anything("a CNAME loop".to_owned()), 0),
        })
    }

    pub fn windows(&self, question: &Question) -> &[Window] {
        self.questions
            .get(question)
            .map_or(&[], |e| e.windows.as_slice())
    }

    /// Adds (or replaces) a question that always answers `accepted`.
    pub fn insert(&mut self, question: Question, accepted: Accepted, ttl: u32, always: bool) {
        self.questions.insert(
            question,
            Expectation {
                windows: vec![Window::always(accepted)],
                ttl,
                always,
                deferred: false,
            },
        );
    }

    /// A change to `question` starts at `at_ms`: from then on `new` is acceptable too (the
    /// old data stays acceptable until [`Expectations::end_change`]). A question not known
    /// before had no data: [`Accepted::Nothing`] was its answer.
    pub fn begin_change(&mut self, question: &Question, new: Accepted, new_ttl: u32, at_ms: i64) {
        let entry = self
            .questions
            .entry(question.clone())
            .or_insert_with(|| Expectation {
                windows: vec![Window::always(Accepted::Nothing)],
                ttl: 0,
                always: true,
                deferred: false,
            });
        entry.windows.push(Window {
            accepted: new,
            from_ms: Some(at_ms),
            until_ms: None,
        });
        entry.ttl = entry.ttl.max(new_ttl);
    }

    /// The change begun at `begun_ms` is done in both zones at `at_ms`: the data that was
    /// acceptable before it stays acceptable for its TTL (at least a resolver's minimum
    /// cache time) and the world's serving delay, then only what the change wrote.
    pub fn end_change(&mut self, question: &Question, begun_ms: i64, at_ms: i64) {
        let Some(entry) = self.questions.get_mut(question) else {
            return;
        };
        let linger = entry.linger_ms();
        for window in &mut entry.windows {
            let older = window.from_ms.is_none_or(|from| from < begun_ms);
            if older && window.until_ms.is_none() {
                window.until_ms = Some(at_ms + linger);
            }
        }
    }

    /// `accepted` was served from `from_ms` until `until_ms` (a zone's own version of an
    /// RRset until another write replaced it): acceptable in that interval and for the
    /// TTL and the serving delay after it.
    pub fn served_between(
        &mut self,
        question: &Question,
        accepted: Accepted,
        from_ms: i64,
        until_ms: i64,
    ) {
        let Some(entry) = self.questions.get_mut(question) else {
            return;
        };
        let linger = entry.linger_ms();
        entry.windows.push(Window {
            accepted,
            from_ms: Some(from_ms),
            until_ms: Some(until_ms + linger),
        });
    }

    /// Judges `question`'s answer only when the prober stops.
    pub fn defer(&mut self, question: &Question) {
        if let Some(entry) = self.questions.get_mut(question) {
            entry.deferred = true;
            entry.always = true;
        }
    }
}

/// Why a record of the zone is not asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAsked {
    pub question: Question,
    pub why: &'static str,
}

/// The expectations of a zone, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub expectations: Expectations,
    pub not_asked: Vec<NotAsked>,
    /// Records the world cannot serve either (the rendering's warnings).
    pub warnings: Vec<String>,
}

/// The label of the name asked under a wildcard (a name the zone does not hold).
const WILDCARD_PROBE_LABEL: &str = "zonehop-probe";

/// Why an RRset at or below a delegation to servers outside the world is not asked (counted
/// apart in the report: `notAskedOutside`).
pub const DELEGATED_OUTSIDE: &str = "delegated to name servers outside the world";

/// Why an RRset at or below a delegation to another zone of the world is not asked (that
/// zone's data answers, not this one's).
pub const DELEGATED_IN_WORLD: &str = "delegated to another zone of the world";

/// What each RRset of the zone `domain` (records as loaded into the source zone `zone_id`,
/// TTLs as scaled; `keep`: the subtrees that stay behind) must answer through a resolver,
/// as DNS answers it ([`ZoneModel`]).
///
/// Not asked: the apex SOA and NS (each zone has its own), the canary `_zonehop.<domain>`,
/// and anything at or below a delegation the zone makes to other servers (outside the
/// world: [`DELEGATED_OUTSIDE`], counted apart; or another zone of the world). A wildcard
/// is asked through a name under it that the zone does not hold. A CNAME is asked as a
/// CNAME (its target may be outside the world), and, when its chain ends in the zone, for
/// each type the end holds, as the resolver follows it.
pub fn derive(domain: &Name, zone_id: &str, records: &[RecordSet], keep: &[Name]) -> Derived {
    let mut derived = Derived::default();
    let variants = routing_variants(records);
    let mut rendered: Vec<Served> = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        let zone = Zone::new(variant.iter().cloned());
        let out = render_hosted_zone(&HostedZoneInput {
            id: zone_id,
            name: domain,
            name_servers: &[],
            records: &zone,
        });
        if i == 0 {
            derived.warnings.extend(out.warnings);
        }
        let mut served = Served::new();
        for line in out.text.lines().filter(|l| !l.starts_with(';')) {
            match parse_zone_line(line) {
                Ok((owner, rtype, ttl, datum)) => {
                    let entry = served
                        .entry((owner, rtype))
                        .or_insert((ttl, DataSet::new()));
                    entry.0 = entry.0.min(ttl);
                    entry.1.insert(datum.0, datum.1);
                }
                Err(e) if i == 0 => derived.warnings.push(format!("`{line}`: {e}")),
                Err(_) => {}
            }
        }
        rendered.push(served);
    }
    if rendered.is_empty() {
        return derived;
    }
    let keys: BTreeSet<(Name, RrType)> =
        rendered.iter().flat_map(BTreeMap::keys).cloned().collect();
    let model = ZoneModel::new(domain, rendered);
    let owners: BTreeSet<Name> = keys.iter().map(|(name, _)| name.clone()).collect();
    let aliases: BTreeSet<(Name, RrType)> = records
        .iter()
        .filter(|r| r.alias_target.is_some())
        .map(|r| (r.name.clone(), r.rtype))
        .collect();
    let canary = domain.prepend("_zonehop").ok();
    let own_apex = |name: &Name, rtype: RrType| {
        rtype == RrType::SOA || (rtype == RrType::NS && name == domain)
    };
    for key in &keys {
        let (name, rtype) = key;
        let question = Question {
            name: name.clone(),
            rtype: *rtype,
        };
        let why = if own_apex(name, *rtype) {
            Some("each zone has its own apex SOA and NS")
        } else if canary.as_ref() == Some(name) {
            Some("the canary differs by design")
        } else {
            match model.cut_above(name) {
                Some((_, Servers::Outside)) => Some(DELEGATED_OUTSIDE),
                Some((_, Servers::World)) => Some(DELEGATED_IN_WORLD),
                None => None,
            }
        };
        if let Some(why) = why {
            derived.not_asked.push(NotAsked { question, why });
            continue;
        }
        let wildcard = name.raw_labels().first().is_some_and(|l| l == b"*");
        let asked = if wildcard {
            match wildcard_probe(name, &owners) {
                Some(asked) => asked,
                None => {
                    derived.not_asked.push(NotAsked {
                        question,
                        why: "no free name under the wildcard",
                    });
                    continue;
                }
            }
        } else {
            name.clone()
        };
        let Resolution::Answer { accepted, ttl } = model.resolve(&asked, *rtype) else {
            // The RRset's own name and type answer it: only a wildcard below a name that
            // exists gets here (it answers nothing asked through it).
            derived.not_asked.push(NotAsked {
                question,
                why: "not answered as the zone holds it",
            });
            continue;
        };
        let routed = matches!(accepted, Accepted::AnyOf(_));
        let always = name == domain
            || wildcard
            || routed
            || aliases.contains(key)
            || keep.iter().any(|k| name.is_at_or_below(k));
        // The chain a CNAME starts, followed by the resolver to each type its end holds.
        if *rtype == RrType::CNAME {
            let end_types = model
                .chain_end(&asked)
                .map(|end| model.types_at(&end))
                .unwrap_or_default();
            for followed in end_types
                .into_iter()
                .filter(|t| *t != RrType::CNAME && !own_apex(domain, *t))
            {
                if let Resolution::Answer { accepted, ttl } = model.resolve(&asked, followed) {
                    let chain_always = always || matches!(accepted, Accepted::AnyOf(_));
                    derived.expectations.insert(
                        Question {
                            name: asked.clone(),
                            rtype: followed,
                        },
                        accepted,
                        ttl,
                        chain_always,
                    );
                }
            }
        }
        derived.expectations.insert(
            Question {
                name: asked,
                rtype: *rtype,
            },
            accepted,
            ttl,
            always,
        );
    }
    derived.expectations.model = Some(Arc::new(model));
    derived
}

/// The zone as loaded, then one variant per member index of the largest routing set: in
/// variant k each routed name and type holds only its k-th member (cyclically), which the
/// rendering then serves (an alias to a routed set follows that member too). What all
/// variants serve alike is exact; what differs is a set to pick from.
fn routing_variants(records: &[RecordSet]) -> Vec<Vec<RecordSet>> {
    let mut groups: BTreeMap<(Name, RrType), Vec<&RecordSet>> = BTreeMap::new();
    for record in records.iter().filter(|r| r.set_identifier.is_some()) {
        groups
            .entry((record.name.clone(), record.rtype))
            .or_default()
            .push(record);
    }
    let largest = groups.values().map(Vec::len).max().unwrap_or(0);
    let mut variants = vec![records.to_vec()];
    for k in 0..largest {
        let mut variant: Vec<RecordSet> = records
            .iter()
            .filter(|r| r.set_identifier.is_none())
            .cloned()
            .collect();
        variant.extend(
            groups
                .values()
                .map(|members| members[k % members.len()].clone()),
        );
        variants.push(variant);
    }
    variants
}

/// A name under the wildcard `*.rest` that the zone does not hold at or above any owner.
fn wildcard_probe(wildcard: &Name, owners: &BTreeSet<Name>) -> Option<Name> {
    let parent_labels = &wildcard.raw_labels()[1..];
    (0..100).find_map(|i| {
        let label = if i == 0 {
            WILDCARD_PROBE_LABEL.to_owned()
        } else {
            format!("{WILDCARD_PROBE_LABEL}-{i}")
        };
        let mut labels = vec![label.into_bytes()];
        labels.extend(parent_labels.iter().cloned());
        let candidate = Name::from_raw_labels(labels.iter().map(Vec::as_slice)).ok()?;
        (!owners.iter().any(|o| o.is_at_or_below(&candidate))).then_some(candidate)
    })
}

pub use zonehop::adapters::wire_dns::record_type;

/// A name in zone-file syntax (absolute, decimal escapes), as a [`Name`].
pub fn name_in_zone_file(text: &str) -> Option<Name> {
    let labels = zone_file_labels(text.trim()).ok()?;
    Name::from_raw_labels(labels.iter().map(Vec::as_slice)).ok()
}

/// The canonical wire form of some RDATA: what an answer and an expectation are compared
/// by (names lowercased where DNSSEC's canonical form lowercases them, never compressed).
pub fn canonical(data: &RData) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_canonical_form(true);
    encoder.set_name_encoding(NameEncoding::UncompressedLowercase);
    data.emit(&mut encoder).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// One line of a rendered zone (`owner ttl IN TYPE rdata`): its owner, type, TTL and the
/// value in canonical wire form.
pub fn parse_zone_line(line: &str) -> Result<(Name, RrType, u32, Datum), String> {
    let mut rest = line.trim_start();
    let mut field = || -> Result<&str, String> {
        let (token, tail) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| "too few fields".to_owned())?;
        rest = tail.trim_start();
        Ok(token)
    };
    let owner = field()?;
    let ttl: u32 = field()?.parse().map_err(|e| format!("TTL: {e}"))?;
    let class = field()?;
    let type_text = field()?;
    let value = rest.trim_end();
    if class != "IN" {
        return Err(format!("class {class}"));
    }
    let rtype = RrType::parse(type_text).ok_or_else(|| format!("type {type_text}"))?;
    let labels = zone_file_labels(owner)?;
    let owner = Name::from_raw_labels(labels.iter().map(Vec::as_slice))
        .map_err(|e| format!("owner: {e}"))?;
    Ok((
        owner,
        rtype,
        ttl,
        (value_wire(rtype, value)?, value.to_owned()),
    ))
}

/// A value in zone-file syntax, in canonical wire form.
fn value_wire(rtype: RrType, value: &str) -> Result<Vec<u8>, String> {
    match rtype {
        // SPF's RDATA is TXT's. The strings are decoded here: hickory's lexer reads a
        // decimal escape over 127 as a character, not as the octet it is.
        RrType::TXT | RrType::SPF => {
            let mut bytes = Vec::new();
            for string in character_strings(value)? {
                bytes.push(u8::try_from(string.len()).map_err(|_| "a string over 255 octets")?);
                bytes.extend(string);
            }
            Ok(bytes)
        }
        // flags, tag, value: the value's octets as they are (no length).
        RrType::CAA => {
            let strings = character_strings(value)?;
            let [flags, tag, value] = strings.as_slice() else {
                return Err(format!("CAA `{value}`: not flags, tag and value"));
            };
            let flags: u8 = std::str::from_utf8(flags)
                .ok()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| "CAA flags".to_owned())?;
            let mut bytes = vec![flags];
            bytes.push(u8::try_from(tag.len()).map_err(|_| "a CAA tag over 255 octets")?);
            bytes.extend(tag);
            bytes.extend(value);
            Ok(bytes)
        }
        // hickory parses DS only with its DNSSEC features: key tag, algorithm, digest
        // type, then the digest in hex (maybe split by spaces).
        RrType::DS => {
            let mut tokens = value.split_whitespace();
            let mut number = |what: &str| -> Result<u16, String> {
                tokens
                    .next()
                    .ok_or_else(|| format!("DS without {what}"))?
                    .parse::<u16>()
                    .map_err(|e| format!("DS {what}: {e}"))
            };
            let tag = number("key tag")?;
            let algorithm = u8::try_from(number("algorithm")?).map_err(|e| e.to_string())?;
            let digest_type = u8::try_from(number("digest type")?).map_err(|e| e.to_string())?;
            let hex: String = tokens.collect();
            let mut bytes = tag.to_be_bytes().to_vec();
            bytes.extend([algorithm, digest_type]);
            bytes.extend(decode_hex(&hex)?);
            Ok(bytes)
        }
        // A name, alone or after numbers: encoded here for the same reason (hickory reads
        // `\DDD` in a name as octal).
        RrType::CNAME | RrType::NS | RrType::PTR => wire_name(value.trim()),
        RrType::MX | RrType::SRV => {
            let numbers = if rtype == RrType::MX { 1 } else { 3 };
            let mut tokens = value.split_whitespace();
            let mut bytes = Vec::new();
            for _ in 0..numbers {
                let number: u16 = tokens
                    .next()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| format!("{rtype} `{value}`: a number"))?;
                bytes.extend(number.to_be_bytes());
            }
            let target = tokens
                .next()
                .ok_or_else(|| format!("{rtype} `{value}`: no name"))?;
            bytes.extend(wire_name(target)?);
            Ok(bytes)
        }
        other => canonical(&parse_rdata(record_type(other), value)?),
    }
}

/// The labels of an absolute name in zone-file syntax (`\DDD` a decimal octet, `\X` the
/// character X).
fn zone_file_labels(text: &str) -> Result<Vec<Vec<u8>>, String> {
    if text == "." {
        return Ok(Vec::new());
    }
    let bytes = text.as_bytes();
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if label.is_empty() {
                    return Err(format!("`{text}`: an empty label"));
                }
                labels.push(std::mem::take(&mut label));
                i += 1;
            }
            b'\\' => {
                let (octet, used) =
                    escape(&bytes[i + 1..]).ok_or_else(|| format!("`{text}`: a bad escape"))?;
                label.push(octet);
                i += 1 + used;
            }
            b => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    Ok(labels)
}

/// The octet an escape stands for (after its backslash) and how many bytes it takes.
fn escape(after: &[u8]) -> Option<(u8, usize)> {
    match after.get(..3) {
        Some(digits) if digits.iter().all(u8::is_ascii_digit) => {
            let octet = std::str::from_utf8(digits).ok()?.parse::<u8>().ok()?;
            Some((octet, 3))
        }
        _ => after.first().map(|b| (*b, 1)),
    }
}

/// A name in canonical wire form: length-prefixed labels, ASCII lowercased.
fn wire_name(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for label in zone_file_labels(text)? {
        bytes.push(
            u8::try_from(label.len()).map_err(|_| format!("`{text}`: a label over 63 octets"))?,
        );
        bytes.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    bytes.push(0);
    Ok(bytes)
}

/// The character strings of a value in zone-file syntax: quoted or bare, `\DDD` a decimal
/// octet, `\X` the character X.
fn character_strings(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = value.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut string = Vec::new();
        loop {
            let Some(&b) = bytes.get(i) else {
                if quoted {
                    return Err(format!("`{value}`: an unterminated string"));
                }
                break;
            };
            if (quoted && b == b'"') || (!quoted && b.is_ascii_whitespace()) {
                i += 1;
                break;
            }
            if b == b'\\' {
                let (octet, used) = escape(&bytes[i + 1..])
                    .ok_or_else(|| format!("`{value}`: a trailing backslash"))?;
                string.push(octet);
                i += 1 + used;
                continue;
            }
            string.push(b);
            i += 1;
        }
        strings.push(string);
    }
    Ok(strings)
}

fn parse_rdata(rtype: RecordType, value: &str) -> Result<RData, String> {
    RData::try_from_str(rtype, value).map_err(|e| format!("{rtype} `{value}`: {e}"))
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if hex.len() % 2 != 0 {
        return Err(format!("odd-length hex `{hex}`"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex `{hex}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zonehop::core::zone::{AliasTarget, Failover};

    fn n(s: &str) -> Name {
        Name::parse(s).expect("name")
    }

    fn q(name: &str, rtype: RrType) -> Question {
        Question {
            name: n(name),
            rtype,
        }
    }

    fn rr(name: &str, rtype: RrType, values: &[&str]) -> RecordSet {
        RecordSet::simple(n(name), rtype, 2, values)
    }

    /// The data a value of `rtype` is compared by.
    fn data(rtype: RrType, values: &[&str]) -> DataSet {
        values
            .iter()
            .map(|v| (value_wire(rtype, v).expect("value"), (*v).to_owned()))
            .collect()
    }

    fn reply(rcode: ResponseCode, rtype: RrType, values: &[&str]) -> Answer {
        Answer::Reply {
            rcode,
            data: data(rtype, values),
        }
    }

    fn a(values: &[&str]) -> Answer {
        reply(ResponseCode::NoError, RrType::A, values)
    }

    fn example() -> Vec<RecordSet> {
        let mut weighted_blue = rr("w.example.com", RrType::A, &["192.0.2.21"]);
        weighted_blue.set_identifier = Some("blue".into());
        weighted_blue.weight = Some(70);
        let mut weighted_amber = rr("w.example.com", RrType::A, &["192.0.2.20"]);
        weighted_amber.set_identifier = Some("amber".into());
        weighted_amber.weight = Some(30);
        let mut primary = rr("fo.example.com", RrType::A, &["192.0.2.40"]);
        primary.set_identifier = Some("p".into());
        primary.failover = Some(Failover::Primary);
        let mut secondary = rr("fo.example.com", RrType::A, &["192.0.2.41"]);
        secondary.set_identifier = Some("s".into());
        secondary.failover = Some(Failover::Secondary);
        let alias = |name: &str, zone: &str, target: &str| {
            RecordSet::alias(
                n(name),
                RrType::A,
                AliasTarget {
                    hosted_zone_id: zone.into(),
                    dns_name: n(target),
                    evaluate_target_health: false,
                },
            )
        };
        vec![
            rr("example.com", RrType::A, &["203.0.113.10"]),
            rr(
                "example.com",
                RrType::TXT,
                &["\"v=spf1 -all\"", "\"a\" \"b c\""],
            ),
            rr("example.com", RrType::CAA, &["0 issue \"amazon.com\""]),
            rr("www.example.com", RrType::A, &["203.0.113.7"]),
            rr("app.example.com", RrType::CNAME, &["www.example.com"]),
            rr("*.preview.example.com", RrType::A, &["203.0.113.9"]),
            rr("dev.example.com", RrType::A, &["198.51.100.5"]),
            rr("ext.example.com", RrType::NS, &["ns1.elsewhere.net"]),
            rr("x.ext.example.com", RrType::TXT, &["\"occluded\""]),
            rr("_zonehop.example.com", RrType::TXT, &["\"side=old\""]),
            alias("shop.example.com", "SOURCE", "www.example.com"),
            alias(
                "lb.example.com",
                "Z35SXDOTRQ7X7K",
                "my-lb.elb.amazonaws.com",
            ),
            alias("wa.example.com", "SOURCE", "w.example.com"),
            weighted_blue,
            weighted_amber,
            primary,
            secondary,
        ]
    }

    fn derived() -> Derived {
        derive(
            &n("example.com"),
            "SOURCE",
            &example(),
            &[n("dev.example.com")],
        )
    }

    #[test]
    fn every_rrset_is_asked_but_the_apex_soa_ns_the_canary_and_other_servers_delegations() {
        let d = derived();
        assert_eq!(d.warnings, Vec::<String>::new());
        let mut asked: Vec<String> = d
            .expectations
            .questions
            .keys()
            .map(ToString::to_string)
            .collect();
        asked.sort();
        assert_eq!(
            asked,
            [
                "app.example.com. A",
                "app.example.com. CNAME",
                "dev.example.com. A",
                "example.com. A",
                "example.com. CAA",
                "example.com. TXT",
                "fo.example.com. A",
                "lb.example.com. A",
                "shop.example.com. A",
                "w.example.com. A",
                "wa.example.com. A",
                "www.example.com. A",
                "zonehop-probe.preview.example.com. A",
            ]
        );
        let not_asked: Vec<String> = d.not_asked.iter().map(|n| n.question.to_string()).collect();
        assert_eq!(
            not_asked,
            [
                "_zonehop.example.com. TXT",
                "ext.example.com. NS",
                "x.ext.example.com. TXT"
            ]
        );
        let always: Vec<String> = d
            .expectations
            .questions
            .iter()
            .filter(|(_, e)| e.always)
            .map(|(q, _)| q.to_string())
            .collect();
        assert!(
            always.contains(&"dev.example.com. A".to_owned()),
            "{always:?}"
        );
        assert!(
            !always.contains(&"www.example.com. A".to_owned()),
            "{always:?}"
        );
    }

    #[test]
    fn an_alias_expects_its_targets_data_and_an_aws_alias_the_worlds_fixture() {
        let d = derived();
        let e = &d.expectations;
        assert_eq!(
            e.windows(&q("shop.example.com", RrType::A)),
            [Window::always(Accepted::Exactly(data(
                RrType::A,
                &["203.0.113.7"]
            )))]
        );
        let fixture =
            crate::dnsworld::render::fixture_values(RrType::A, &n("my-lb.elb.amazonaws.com"))
                .expect("fixture");
        let fixture: Vec<&str> = fixture.iter().map(String::as_str).collect();
        assert_eq!(
            e.windows(&q("lb.example.com", RrType::A)),
            [Window::always(Accepted::Exactly(data(RrType::A, &fixture)))]
        );
    }

    #[test]
    fn a_routing_set_accepts_any_members_values_and_nothing_else() {
        let d = derived();
        let windows = d.expectations.windows(&q("w.example.com", RrType::A));
        for member in ["192.0.2.20", "192.0.2.21"] {
            assert_eq!(judge(windows, &a(&[member]), 0, 0), Verdict::Correct);
        }
        assert_eq!(judge(windows, &a(&["192.0.2.99"]), 0, 0), Verdict::Wrong);
        assert_eq!(judge(windows, &a(&[]), 0, 0), Verdict::Wrong);
        // An alias to the weighted set follows whichever member.
        let alias = d.expectations.windows(&q("wa.example.com", RrType::A));
        assert_eq!(judge(alias, &a(&["192.0.2.20"]), 0, 0), Verdict::Correct);
        assert_eq!(judge(alias, &a(&["192.0.2.21"]), 0, 0), Verdict::Correct);
        let failover = d.expectations.windows(&q("fo.example.com", RrType::A));
        assert_eq!(judge(failover, &a(&["192.0.2.41"]), 0, 0), Verdict::Correct);
    }

    #[test]
    fn a_wrong_value_a_missing_one_an_extra_one_and_each_failure_are_classified() {
        let windows = [Window::always(Accepted::Exactly(data(
            RrType::A,
            &["203.0.113.20", "203.0.113.21"],
        )))];
        let judged = |answer: &Answer| judge(&windows, answer, 0, 0);
        assert_eq!(
            judged(&a(&["203.0.113.21", "203.0.113.20"])),
            Verdict::Correct
        );
        assert_eq!(judged(&a(&["203.0.113.20"])), Verdict::Wrong);
        assert_eq!(
            judged(&a(&["203.0.113.20", "203.0.113.21", "203.0.113.22"])),
            Verdict::Wrong
        );
        assert_eq!(judged(&a(&["198.51.100.1"])), Verdict::Wrong);
        assert_eq!(
            judged(&a(&[])),
            Verdict::Wrong,
            "NODATA where data is expected"
        );
        assert_eq!(
            judged(&reply(ResponseCode::NXDomain, RrType::A, &[])),
            Verdict::NxDomain
        );
        assert_eq!(
            judged(&reply(ResponseCode::ServFail, RrType::A, &[])),
            Verdict::ServFail
        );
        assert_eq!(
            judged(&reply(ResponseCode::Refused, RrType::A, &[])),
            Verdict::OtherRcode
        );
        assert_eq!(judged(&Answer::NoReply), Verdict::Timeout);
        assert_eq!(
            judged(&Answer::Malformed("short".into())),
            Verdict::OtherRcode
        );
    }

    #[test]
    fn a_cutover_accepts_old_or_new_until_the_ttl_has_passed_then_only_new() {
        let www = q("www.example.com", RrType::A);
        let mut e = Expectations::default();
        e.insert(
            www.clone(),
            Accepted::Exactly(data(RrType::A, &["203.0.113.7"])),
            2,
            true,
        );
        let old = a(&["203.0.113.7"]);
        let new = a(&["203.0.113.8"]);
        // Before the change: only the old value.
        assert_eq!(judge(e.windows(&www), &new, 900, 900), Verdict::Wrong);
        e.begin_change(
            &www,
            Accepted::Exactly(data(RrType::A, &["203.0.113.8"])),
            2,
            1_000,
        );
        // Written in one zone, then the other: both, until the end is known.
        assert_eq!(judge(e.windows(&www), &new, 900, 900), Verdict::Wrong);
        assert_eq!(judge(e.windows(&www), &new, 1_100, 1_100), Verdict::Correct);
        assert_eq!(
            judge(e.windows(&www), &old, 60_000, 60_000),
            Verdict::Correct
        );
        e.end_change(&www, 1_000, 2_000);
        // Old data lingers for the TTL (at least kresd's 5 s) and the serving delay.
        let linger = 2_000 + 5_000 + SERVE_DELAY_MS;
        assert_eq!(
            judge(e.windows(&www), &old, linger, linger),
            Verdict::Correct
        );
        assert_eq!(
            judge(e.windows(&www), &old, linger + 1, linger + 1),
            Verdict::Wrong
        );
        assert_eq!(
            judge(e.windows(&www), &new, linger + 1, linger + 1),
            Verdict::Correct
        );
        // An answer is judged over its flight: sent before the end of the old window.
        assert_eq!(
            judge(e.windows(&www), &old, linger - 10, linger + 500),
            Verdict::Correct
        );
    }

    #[test]
    fn a_zones_own_version_of_a_conflict_is_accepted_until_the_carry_then_not() {
        // Both zones write the RRset at 1,000 (the source 203.0.113.3, the target
        // 203.0.113.4, which wins); the carry makes both hold .4 at 9,000.
        let both = q("both.example.com", RrType::A);
        let mut e = Expectations::default();
        e.insert(both.clone(), Accepted::Nothing, 2, true);
        let own = a(&["203.0.113.3"]);
        let winner = a(&["203.0.113.4"]);
        e.begin_change(
            &both,
            Accepted::Exactly(data(RrType::A, &["203.0.113.4"])),
            2,
            1_000,
        );
        e.end_change(&both, 1_000, 9_000);
        // Without the zone's own version, its answer is wrong even before the carry.
        assert_eq!(judge(e.windows(&both), &own, 5_000, 5_000), Verdict::Wrong);
        e.served_between(
            &both,
            Accepted::Exactly(data(RrType::A, &["203.0.113.3"])),
            1_000,
            9_000,
        );
        // The TTL (2 s) is below a resolver's minimum cache time (5 s).
        let linger = 9_000 + 5_000 + SERVE_DELAY_MS;
        assert_eq!(judge(e.windows(&both), &own, 900, 900), Verdict::Wrong);
        assert_eq!(
            judge(e.windows(&both), &own, 5_000, 5_000),
            Verdict::Correct
        );
        assert_eq!(
            judge(e.windows(&both), &own, linger, linger),
            Verdict::Correct
        );
        assert_eq!(
            judge(e.windows(&both), &own, linger + 1, linger + 1),
            Verdict::Wrong
        );
        assert_eq!(
            judge(e.windows(&both), &winner, linger + 1, linger + 1),
            Verdict::Correct
        );
    }

    #[test]
    fn a_record_a_cutover_creates_is_nxdomain_before_it() {
        let new_name = q("new.example.com", RrType::A);
        let mut e = Expectations::default();
        e.begin_change(
            &new_name,
            Accepted::Exactly(data(RrType::A, &["192.0.2.1"])),
            2,
            1_000,
        );
        let nx = reply(ResponseCode::NXDomain, RrType::A, &[]);
        assert_eq!(judge(e.windows(&new_name), &nx, 500, 500), Verdict::Correct);
        assert_eq!(
            judge(e.windows(&new_name), &a(&["192.0.2.1"]), 500, 500),
            Verdict::Wrong
        );
        e.end_change(&new_name, 1_000, 1_200);
        assert_eq!(
            judge(e.windows(&new_name), &nx, 100_000, 100_000),
            Verdict::NxDomain
        );
    }

    #[test]
    fn values_compare_by_wire_form_whatever_their_spelling() {
        // Names in RDATA compare case-insensitively; TXT keeps its string boundaries.
        assert_eq!(
            value_wire(RrType::CNAME, "WWW.Example.COM."),
            value_wire(RrType::CNAME, "www.example.com.")
        );
        assert_ne!(
            value_wire(RrType::TXT, "\"a\" \"b\""),
            value_wire(RrType::TXT, "\"ab\"")
        );
        // The rendering's decimal escapes are octets.
        assert_eq!(
            value_wire(RrType::TXT, "\"caf\\195\\169\""),
            Ok([5, b'c', b'a', b'f', 0xc3, 0xa9].to_vec())
        );
        assert_eq!(
            value_wire(RrType::CAA, "0 issue \"amazon.com; x=\\\"y\\\"\""),
            Ok([&[0, 5][..], b"issue", b"amazon.com; x=\"y\""].concat())
        );
        assert_eq!(
            value_wire(RrType::SPF, "\"v=spf1 -all\""),
            value_wire(RrType::TXT, "\"v=spf1 -all\"")
        );
        assert_eq!(
            value_wire(RrType::DS, "12345 13 2 3F6B 8C"),
            Ok(vec![0x30, 0x39, 13, 2, 0x3f, 0x6b, 0x8c])
        );
        let (owner, rtype, ttl, _) =
            parse_zone_line("a\\064b.example.com. 60 IN A 192.0.2.82").expect("line");
        assert_eq!(
            (owner, rtype, ttl),
            (n("a\\100b.example.com"), RrType::A, 60)
        );
    }

    #[test]
    fn the_every_kind_export_is_asked_without_a_value_left_unparsed() {
        let zone = zonehop::core::export::load_export(include_str!(
            "../../../../functions/core/testdata/every-kind.json"
        ))
        .expect("export");
        let domain = n("example.com");
        let records = crate::records_to_seed(&zone, &domain);
        let d = derive(&domain, "SOURCE", &records, &[]);
        assert_eq!(d.warnings, Vec::<String>::new());
        assert!(d.expectations.questions.len() > 20, "{:?}", d.expectations);
    }

    /// A zone with a wildcard CNAME at the apex (to the apex), an ordinary wildcard below,
    /// an empty non-terminal, a CNAME chain of depth 3, and delegations to servers outside
    /// the world and to a zone of the world.
    fn wild() -> Vec<RecordSet> {
        vec![
            rr("example.com", RrType::A, &["203.0.113.10"]),
            rr("example.com", RrType::TXT, &["\"v=spf1 -all\""]),
            rr("*.example.com", RrType::CNAME, &["example.com"]),
            rr("www.example.com", RrType::A, &["203.0.113.7"]),
            rr("a.b.example.com", RrType::TXT, &["\"below b\""]),
            rr("*.w.example.com", RrType::A, &["192.0.2.9"]),
            rr("c1.example.com", RrType::CNAME, &["c2.example.com"]),
            rr("c2.example.com", RrType::CNAME, &["c3.example.com"]),
            rr("c3.example.com", RrType::CNAME, &["www.example.com"]),
            rr("tow.example.com", RrType::CNAME, &["made-up.w.example.com"]),
            rr("ext.example.com", RrType::NS, &["ns1.elsewhere.net"]),
            rr("x.ext.example.com", RrType::TXT, &["\"occluded\""]),
            rr("into.example.com", RrType::CNAME, &["y.ext.example.com"]),
            rr("away.example.com", RrType::CNAME, &["host.example.net"]),
            rr(
                "kin.example.com",
                RrType::NS,
                &["ns1.z3.zonehop-dns.test", "ns2.z3.zonehop-dns.test"],
            ),
            rr("extra.example.com", RrType::A, &["203.0.113.11"]),
        ]
    }

    fn wild_derived() -> Derived {
        derive(&n("example.com"), "SOURCE", &wild(), &[])
    }

    /// What `question` answers in the wild zone, as a window.
    fn resolved(d: &Derived, name: &str, rtype: RrType) -> [Window; 1] {
        let (accepted, _) = d.expectations.resolve(&q(name, rtype)).expect("a model");
        [Window::always(accepted)]
    }

    fn nothing(rcode: ResponseCode) -> Answer {
        reply(rcode, RrType::A, &[])
    }

    #[test]
    fn an_absent_name_under_a_wildcard_answers_the_wildcards_data_and_nothing_else() {
        let d = wild_derived();
        assert_eq!(d.warnings, Vec::<String>::new());
        let under_w = resolved(&d, "absent.w.example.com", RrType::A);
        assert_eq!(judge(&under_w, &a(&["192.0.2.9"]), 0, 0), Verdict::Correct);
        assert_eq!(
            judge(&under_w, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::NxDomain,
            "a synthesized name exists"
        );
        assert_eq!(judge(&under_w, &a(&["192.0.2.8"]), 0, 0), Verdict::Wrong);
        // Two labels below the wildcard's parent: the closest encloser is still w.
        let deeper = resolved(&d, "x.y.w.example.com", RrType::A);
        assert_eq!(judge(&deeper, &a(&["192.0.2.9"]), 0, 0), Verdict::Correct);
        // A type the wildcard does not hold: NODATA.
        let aaaa = resolved(&d, "absent.w.example.com", RrType::AAAA);
        assert_eq!(
            aaaa,
            [Window::always(Accepted::Nothing)],
            "the wildcard holds no AAAA"
        );
        // Under the apex's wildcard CNAME, followed to the apex.
        let under_apex = resolved(&d, "absent.example.com", RrType::A);
        assert_eq!(
            judge(&under_apex, &a(&["203.0.113.10"]), 0, 0),
            Verdict::Correct
        );
        assert_eq!(
            judge(&under_apex, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::NxDomain
        );
        assert_eq!(
            judge(&under_apex, &a(&["203.0.113.7"]), 0, 0),
            Verdict::Wrong
        );
        // A name that exists is never synthesized: www answers its own data only.
        let www = resolved(&d, "www.example.com", RrType::A);
        assert_eq!(judge(&www, &a(&["203.0.113.7"]), 0, 0), Verdict::Correct);
        assert_eq!(judge(&www, &a(&["203.0.113.10"]), 0, 0), Verdict::Wrong);
        let www_txt = resolved(&d, "www.example.com", RrType::TXT);
        assert_eq!(www_txt, [Window::always(Accepted::Nothing)]);
    }

    #[test]
    fn an_empty_non_terminal_under_a_wildcard_is_not_synthesized_nor_is_what_is_below_it() {
        let d = wild_derived();
        // b exists (a.b holds a TXT): NODATA, not the apex wildcard's answer.
        let ent = resolved(&d, "b.example.com", RrType::A);
        assert_eq!(
            judge(&ent, &nothing(ResponseCode::NoError), 0, 0),
            Verdict::Correct
        );
        assert_eq!(
            judge(&ent, &a(&["203.0.113.10"]), 0, 0),
            Verdict::Wrong,
            "the wildcard does not apply to a name that exists"
        );
        // Below b, its closest encloser, there is no wildcard: NXDOMAIN, not the apex's.
        let below = resolved(&d, "z.b.example.com", RrType::A);
        assert_eq!(
            judge(&below, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::Correct
        );
        assert_eq!(judge(&below, &a(&["203.0.113.10"]), 0, 0), Verdict::Wrong);
        // The wildcard's own parent is an empty non-terminal too.
        let w = resolved(&d, "w.example.com", RrType::A);
        assert_eq!(w, [Window::always(Accepted::Nothing)]);
    }

    #[test]
    fn a_wildcard_cname_is_asked_as_itself_and_followed_to_its_target() {
        let d = wild_derived();
        let e = &d.expectations;
        let probe = "zonehop-probe.example.com";
        assert_eq!(
            e.windows(&q(probe, RrType::CNAME)),
            [Window::always(Accepted::Exactly(data(
                RrType::CNAME,
                &["example.com."]
            )))]
        );
        // Followed to each type the apex holds but its own SOA and NS.
        let followed = e.windows(&q(probe, RrType::A));
        assert_eq!(
            judge(followed, &a(&["203.0.113.10"]), 0, 0),
            Verdict::Correct
        );
        assert_eq!(judge(followed, &a(&["203.0.113.7"]), 0, 0), Verdict::Wrong);
        assert_eq!(
            judge(followed, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::NxDomain
        );
        assert!(e.questions.contains_key(&q(probe, RrType::TXT)));
        assert!(!e.questions.contains_key(&q(probe, RrType::SOA)));
        assert!(!e.questions.contains_key(&q(probe, RrType::NS)));
        assert!(e.questions[&q(probe, RrType::A)].always);
        // A CNAME to a name a wildcard synthesizes: the wildcard's data.
        let tow = e.windows(&q("tow.example.com", RrType::A));
        assert_eq!(judge(tow, &a(&["192.0.2.9"]), 0, 0), Verdict::Correct);
        assert_eq!(judge(tow, &a(&["203.0.113.10"]), 0, 0), Verdict::Wrong);
    }

    #[test]
    fn a_cname_chain_of_depth_three_answers_its_ends_data() {
        let d = wild_derived();
        let e = &d.expectations;
        let c1 = e.windows(&q("c1.example.com", RrType::A));
        assert_eq!(judge(c1, &a(&["203.0.113.7"]), 0, 0), Verdict::Correct);
        assert_eq!(
            judge(c1, &a(&["203.0.113.10"]), 0, 0),
            Verdict::Wrong,
            "not the apex wildcard's: c1 exists"
        );
        assert_eq!(
            judge(c1, &nothing(ResponseCode::NoError), 0, 0),
            Verdict::Wrong,
            "a chain cut short"
        );
        assert_eq!(
            judge(c1, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::NxDomain
        );
        // Each link is asked as itself too, and each starts its own chain.
        for (name, target) in [
            ("c1.example.com", "c2.example.com."),
            ("c2.example.com", "c3.example.com."),
            ("c3.example.com", "www.example.com."),
        ] {
            assert_eq!(
                e.windows(&q(name, RrType::CNAME)),
                [Window::always(Accepted::Exactly(data(
                    RrType::CNAME,
                    &[target]
                )))]
            );
            assert!(e.questions.contains_key(&q(name, RrType::A)), "{name}");
        }
        // The end holds no TXT: the chain is not asked for one.
        assert!(!e.questions.contains_key(&q("c1.example.com", RrType::TXT)));
        // A chain that leaves the zone is asked as a CNAME only.
        assert!(e
            .questions
            .contains_key(&q("away.example.com", RrType::CNAME)));
        assert!(!e.questions.contains_key(&q("away.example.com", RrType::A)));
        // When the end changes, the chain's answer changes with it.
        let mut records = wild();
        records.retain(|r| r.name != n("www.example.com"));
        records.push(rr("www.example.com", RrType::A, &["203.0.113.8"]));
        let after = derive(&n("example.com"), "SOURCE", &records, &[]);
        let changed = after.expectations.windows(&q("c1.example.com", RrType::A));
        assert_eq!(judge(changed, &a(&["203.0.113.8"]), 0, 0), Verdict::Correct);
        assert_eq!(judge(changed, &a(&["203.0.113.7"]), 0, 0), Verdict::Wrong);
    }

    #[test]
    fn a_loop_of_cnames_is_no_answer_the_zone_decides() {
        let records = vec![
            rr("example.com", RrType::A, &["203.0.113.10"]),
            rr("l1.example.com", RrType::CNAME, &["l2.example.com"]),
            rr("l2.example.com", RrType::CNAME, &["l1.example.com"]),
        ];
        let d = derive(&n("example.com"), "SOURCE", &records, &[]);
        assert!(!d
            .expectations
            .questions
            .contains_key(&q("l1.example.com", RrType::A)));
        assert!(matches!(
            d.expectations.resolve(&q("l1.example.com", RrType::A)),
            Some((Accepted::Anything(_), _))
        ));
    }

    #[test]
    fn a_delegation_to_outside_servers_is_not_asked_and_counted_apart_from_the_worlds() {
        let d = wild_derived();
        let why = |question: &str| {
            d.not_asked
                .iter()
                .find(|n| n.question.to_string() == question)
                .map(|n| n.why)
        };
        assert_eq!(why("ext.example.com. NS"), Some(DELEGATED_OUTSIDE));
        assert_eq!(why("x.ext.example.com. TXT"), Some(DELEGATED_OUTSIDE));
        assert_eq!(why("kin.example.com. NS"), Some(DELEGATED_IN_WORLD));
        let asked: Vec<String> = d
            .expectations
            .questions
            .keys()
            .map(ToString::to_string)
            .collect();
        assert!(
            asked
                .iter()
                .all(|q| !q.contains("ext.example.com.") || q == "into.example.com. CNAME"),
            "{asked:?}"
        );
        // A chain into the delegation is asked as a CNAME, not followed.
        assert!(asked.contains(&"into.example.com. CNAME".to_owned()));
        assert!(!asked.contains(&"into.example.com. A".to_owned()));
        // Below the cut the apex wildcard does not apply: whatever the outside servers say.
        assert!(matches!(
            d.expectations.resolve(&q("new.ext.example.com", RrType::A)),
            Some((Accepted::Anything(why), _)) if why.contains(DELEGATED_OUTSIDE)
        ));
        // A name beside the cut is still asked, and a wrong answer there still counts.
        let extra = d.expectations.windows(&q("extra.example.com", RrType::A));
        assert_eq!(judge(extra, &a(&["203.0.113.11"]), 0, 0), Verdict::Correct);
        assert_eq!(judge(extra, &a(&["203.0.113.10"]), 0, 0), Verdict::Wrong);
        assert_eq!(
            judge(extra, &nothing(ResponseCode::NXDomain), 0, 0),
            Verdict::NxDomain
        );
    }
}
