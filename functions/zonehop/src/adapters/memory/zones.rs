//! Route 53's hosted zones in memory.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use zonehop_core::batch::{BatchLimits, Cost};
use zonehop_core::change::{Action, Change};
use zonehop_core::name::Name;
use zonehop_core::zone::{bare_zone_id, RecordKey, RecordSet, RrType, Zone};

use super::{lock, Fault, Faults};
use crate::error::Error;
use crate::ports::hosted_zones::{HostedZone, HostedZones, PageStart, RecordPage};

/// The Route 53 operations [`MemoryZones`] answers, named as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZoneOp {
    GetHostedZone,
    ListHostedZonesByName,
    CreateHostedZone,
    ListResourceRecordSets,
    ChangeResourceRecordSets,
    GetChange,
    GetDnssec,
    GetHealthCheck,
}

impl ZoneOp {
    /// The API's name of the operation.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneOp::GetHostedZone => "GetHostedZone",
            ZoneOp::ListHostedZonesByName => "ListHostedZonesByName",
            ZoneOp::CreateHostedZone => "CreateHostedZone",
            ZoneOp::ListResourceRecordSets => "ListResourceRecordSets",
            ZoneOp::ChangeResourceRecordSets => "ChangeResourceRecordSets",
            ZoneOp::GetChange => "GetChange",
            ZoneOp::GetDnssec => "GetDNSSEC",
            ZoneOp::GetHealthCheck => "GetHealthCheck",
        }
    }
}

/// One call received: the operation, what it named (a zone id, a change id or a zone
/// name), and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneCall {
    pub op: ZoneOp,
    pub subject: String,
    /// `None` when the call succeeded, else the errorType returned.
    pub error: Option<&'static str>,
    /// For ChangeResourceRecordSets: the name and type of every record set it changes.
    pub written: Vec<(Name, RrType)>,
}

#[derive(Debug, Clone)]
struct Entry {
    zone: HostedZone,
    records: Zone,
    dnssec: bool,
}

#[derive(Debug, Default)]
struct State {
    zones: BTreeMap<String, Entry>,
    /// Change id to the GetChange polls still answered PENDING.
    changes: BTreeMap<String, u32>,
    next_change: u32,
    polls_until_in_sync: u32,
    page_size: usize,
    calls: Vec<ZoneCall>,
    faults: Faults<ZoneOp>,
    /// The health checks of this account, by id.
    health_checks: std::collections::BTreeSet<String>,
}

/// Any number of hosted zones, with Route 53's rules: ListResourceRecordSets pages of 300
/// in Route 53's order; ChangeResourceRecordSets refuses, all or nothing, a CREATE of an
/// existing record set, a DELETE of a missing one or of one whose values or TTL differ, a
/// batch over 1,000 values or 32,000 characters (an UPSERT counted twice), a CNAME beside
/// other data at the same name, a same-zone alias to nothing, a name outside the zone, and
/// deleting the apex SOA or NS. Each zone has four name servers of its own
/// (`ns-N.memory.test.`, see [`MemoryZones::server_address`]), an apex SOA and NS.
#[derive(Debug)]
pub struct MemoryZones {
    state: Mutex<State>,
}

impl Default for MemoryZones {
    fn default() -> Self {
        MemoryZones::new()
    }
}

/// The apex NS TTL of a new zone, as Route 53 sets it.
pub const NEW_ZONE_NS_TTL: i64 = 172_800;
/// The apex SOA TTL of a new zone, as Route 53 sets it.
pub const NEW_ZONE_SOA_TTL: i64 = 900;

impl MemoryZones {
    pub fn new() -> MemoryZones {
        MemoryZones {
            state: Mutex::new(State {
                page_size: 300,
                ..State::default()
            }),
        }
    }

    /// GetChange answers PENDING this many times for each change before INSYNC (0 by default).
    pub fn set_polls_until_in_sync(&self, polls: u32) {
        lock(&self.state).polls_until_in_sync = polls;
    }

    /// ListResourceRecordSets' page size (300, Route 53's maximum, by default).
    pub fn set_page_size(&self, size: usize) {
        lock(&self.state).page_size = size.max(1);
    }

    /// The next `times` calls of `op` fail with `fault` (and change nothing).
    pub fn fail_next(&self, op: ZoneOp, times: u32, fault: Fault) {
        lock(&self.state).faults.add(op, times, fault);
    }

    /// Every call received so far, in order.
    pub fn calls(&self) -> Vec<ZoneCall> {
        lock(&self.state).calls.clone()
    }

    /// How many calls of `op` were received (failed ones included).
    pub fn count(&self, op: ZoneOp) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.op == op)
            .count()
    }

    /// The writes that were accepted (ChangeResourceRecordSets and CreateHostedZone).
    pub fn writes(&self) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| {
                c.error.is_none()
                    && matches!(
                        c.op,
                        ZoneOp::ChangeResourceRecordSets | ZoneOp::CreateHostedZone
                    )
            })
            .count()
    }

    /// The accepted ChangeResourceRecordSets calls on one zone.
    pub fn writes_to(&self, zone_id: &str) -> usize {
        let zone_id = bare_zone_id(zone_id);
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| {
                c.error.is_none()
                    && c.op == ZoneOp::ChangeResourceRecordSets
                    && c.subject == zone_id
            })
            .count()
    }

    /// Forgets the calls received so far (the zones stay).
    pub fn clear_calls(&self) {
        lock(&self.state).calls.clear();
    }

    /// Adds a public zone, as CreateHostedZone would, without logging a call.
    pub fn add_zone(&self, name: &Name) -> HostedZone {
        let mut state = lock(&self.state);
        let reference = format!("memory-{}", NEXT_REFERENCE.fetch_add(1, Ordering::Relaxed));
        new_zone(&mut state, name, &reference)
    }

    /// Adds an empty zone created with `reference` as its CallerReference (one an earlier
    /// execution left, say).
    pub fn add_zone_with_reference(&self, name: &Name, reference: &str) -> HostedZone {
        new_zone(&mut lock(&self.state), name, reference)
    }

    /// Puts record sets in a zone (replacing those with the same key), without Route 53's
    /// checks and without logging a call: the zone's contents before the test begins.
    pub fn put_records(
        &self,
        zone_id: &str,
        records: impl IntoIterator<Item = RecordSet>,
    ) -> Result<(), Error> {
        let mut state = lock(&self.state);
        let entry = entry_mut(&mut state, zone_id)?;
        for record in records {
            entry.records.insert(record);
        }
        Ok(())
    }

    /// Removes a record set without checks or a call (something else changing the zone).
    pub fn remove_record(&self, zone_id: &str, key: &RecordKey) -> Result<(), Error> {
        let mut state = lock(&self.state);
        entry_mut(&mut state, zone_id)?.records.remove(key);
        Ok(())
    }

    /// The zone's record sets now.
    pub fn records(&self, zone_id: &str) -> Result<Zone, Error> {
        let state = lock(&self.state);
        entry(&state, zone_id).map(|e| e.records.clone())
    }

    /// The hosted zone, as GetHostedZone returns it (no call logged).
    pub fn zone(&self, zone_id: &str) -> Result<HostedZone, Error> {
        let state = lock(&self.state);
        entry(&state, zone_id).map(|e| e.zone.clone())
    }

    /// Every zone, in id order.
    pub fn zones(&self) -> Vec<HostedZone> {
        lock(&self.state)
            .zones
            .values()
            .map(|e| e.zone.clone())
            .collect()
    }

    /// The zone whose name servers include `server` (what a server answers for).
    pub fn zone_served_by(&self, server: &Name) -> Option<HostedZone> {
        lock(&self.state)
            .zones
            .values()
            .find(|e| {
                e.zone
                    .name_servers
                    .iter()
                    .any(|s| Name::parse(s).is_ok_and(|n| n == *server))
            })
            .map(|e| e.zone.clone())
    }

    pub fn set_private(&self, zone_id: &str, private: bool) -> Result<(), Error> {
        let mut state = lock(&self.state);
        entry_mut(&mut state, zone_id)?.zone.private = private;
        Ok(())
    }

    /// Gives this account a health check with this id.
    pub fn add_health_check(&self, id: &str) {
        lock(&self.state).health_checks.insert(id.to_owned());
    }

    pub fn set_dnssec_signing(&self, zone_id: &str, signing: bool) -> Result<(), Error> {
        let mut state = lock(&self.state);
        entry_mut(&mut state, zone_id)?.dnssec = signing;
        Ok(())
    }

    /// The IPv4 address of a name server of these zones (`ns-N.memory.test.`): 10.53.x.y
    /// from N. `None` for any other name.
    pub fn server_address(server: &Name) -> Option<IpAddr> {
        let first = server.labels().next()?;
        let rest: Vec<&str> = server.labels().skip(1).collect();
        if rest != ["memory", "test"] {
            return None;
        }
        let n: u16 = first.strip_prefix("ns-")?.parse().ok()?;
        let [hi, lo] = n.to_be_bytes();
        Some(IpAddr::V4(Ipv4Addr::new(10, 53, hi, lo)))
    }

    /// The IPv6 address a [`MemoryZones::server_address`] name publishes when the twin's
    /// servers are dual-stack ([`super::ScriptedDns::publish_ipv6`]): `fd00:53::N`.
    pub fn server_address6(server: &Name) -> Option<IpAddr> {
        let IpAddr::V4(v4) = MemoryZones::server_address(server)? else {
            return None;
        };
        let [_, _, hi, lo] = v4.octets();
        Some(IpAddr::V6(std::net::Ipv6Addr::new(
            0xfd00,
            0x53,
            0,
            0,
            0,
            0,
            0,
            u16::from_be_bytes([hi, lo]),
        )))
    }

    fn begin(&self, op: ZoneOp, subject: &str) -> Result<(), Error> {
        let mut state = lock(&self.state);
        let fault = state.faults.take(op);
        let error = fault.map(|f| f.to_error(op.as_str()));
        state.calls.push(ZoneCall {
            op,
            subject: subject.to_owned(),
            error: error.as_ref().map(Error::error_type),
            written: Vec::new(),
        });
        error.map_or(Ok(()), Err)
    }

    /// Marks the last call as failed with `error` (which is returned).
    fn failed(state: &mut State, error: Error) -> Error {
        if let Some(last) = state.calls.last_mut() {
            last.error = Some(error.error_type());
        }
        error
    }
}

// Zone ids and name servers are unique in the process, as they are in Route 53, so that
// twins standing for different accounts never share one (and a ScriptedDns can serve them
// all at once).
static NEXT_ZONE: AtomicU32 = AtomicU32::new(1);
static NEXT_SERVER: AtomicU32 = AtomicU32::new(1);
static NEXT_REFERENCE: AtomicU32 = AtomicU32::new(1);

fn new_zone(state: &mut State, name: &Name, reference: &str) -> HostedZone {
    let id = format!("ZMEM{:06}", NEXT_ZONE.fetch_add(1, Ordering::Relaxed));
    let servers: Vec<String> = (0..4)
        .map(|_| {
            let n = NEXT_SERVER.fetch_add(1, Ordering::Relaxed) % 65_536;
            format!("ns-{n}.memory.test.")
        })
        .collect();
    let values: Vec<&str> = servers.iter().map(String::as_str).collect();
    let soa = format!(
        "{} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
        servers[0]
    );
    let records = Zone::new([
        RecordSet::simple(name.clone(), RrType::NS, NEW_ZONE_NS_TTL, &values),
        RecordSet::simple(name.clone(), RrType::SOA, NEW_ZONE_SOA_TTL, &[&soa]),
    ]);
    let zone = HostedZone {
        id: id.clone(),
        name: name.clone(),
        private: false,
        caller_reference: reference.to_owned(),
        name_servers: servers,
    };
    state.zones.insert(
        id,
        Entry {
            zone: zone.clone(),
            records,
            dnssec: false,
        },
    );
    zone
}

fn no_such_zone(zone_id: &str) -> Error {
    Error::ZoneNotFound {
        zone_id: zone_id.to_owned(),
    }
}

fn entry<'a>(state: &'a State, zone_id: &str) -> Result<&'a Entry, Error> {
    state
        .zones
        .get(bare_zone_id(zone_id))
        .ok_or_else(|| no_such_zone(zone_id))
}

fn entry_mut<'a>(state: &'a mut State, zone_id: &str) -> Result<&'a mut Entry, Error> {
    state
        .zones
        .get_mut(bare_zone_id(zone_id))
        .ok_or_else(|| no_such_zone(zone_id))
}

/// Route 53's listing order: labels reversed, then type, then SetIdentifier.
fn listing_key(name: &Name, rtype: RrType, id: Option<&str>) -> (Vec<String>, RrType, String) {
    let mut labels: Vec<String> = name.labels().map(str::to_ascii_lowercase).collect();
    labels.reverse();
    (labels, rtype, id.unwrap_or("").to_owned())
}

fn rejected(message: String) -> Error {
    Error::ChangeRejected {
        operation: "ChangeResourceRecordSets".into(),
        message,
    }
}

fn describe(record: &RecordSet) -> String {
    match &record.set_identifier {
        Some(id) => format!(
            "[name='{}', type='{}', set-identifier='{id}']",
            record.name, record.rtype
        ),
        None => format!("[name='{}', type='{}']", record.name, record.rtype),
    }
}

/// Applies a batch to a copy of the zone with Route 53's checks; the copy on success.
fn apply(entry: &Entry, changes: &[Change]) -> Result<Zone, Error> {
    if changes.is_empty() {
        return Err(rejected("the change batch is empty".into()));
    }
    let cost = Cost::of_batch(changes);
    if !cost.fits(BatchLimits::ROUTE53) {
        return Err(rejected(format!(
            "the batch counts {} values and {} characters (UPSERT counted twice); the limits are 1000 and 32000",
            cost.values, cost.chars
        )));
    }
    let apex = &entry.zone.name;
    let mut zone = entry.records.clone();
    let mut messages = Vec::new();
    for change in changes {
        let record = &change.record;
        if !record.name.is_at_or_below(apex) {
            messages.push(format!(
                "RRSet with DNS name {} is not permitted in zone {apex}",
                record.name
            ));
            continue;
        }
        let key = record.key();
        match change.action {
            Action::Create => {
                if zone.get(&key).is_some() {
                    messages.push(format!(
                        "Tried to create resource record set {} but it already exists",
                        describe(record)
                    ));
                } else {
                    zone.insert(record.clone());
                }
            }
            Action::Delete => {
                if record.name == *apex && matches!(record.rtype, RrType::SOA | RrType::NS) {
                    messages.push(format!(
                        "the apex {} record of {apex} cannot be deleted",
                        record.rtype
                    ));
                    continue;
                }
                match zone.get(&key) {
                    None => messages.push(format!(
                        "Tried to delete resource record set {} but it was not found",
                        describe(record)
                    )),
                    Some(current) if !current.same_content(record) => messages.push(format!(
                        "Tried to delete resource record set {} but the values provided do not match the current values",
                        describe(record)
                    )),
                    Some(_) => {
                        zone.remove(&key);
                    }
                }
            }
            Action::Upsert => zone.insert(record.clone()),
        }
    }
    // Like Route 53, the checks below look at the names this batch touched only.
    let touched: std::collections::BTreeSet<&Name> =
        changes.iter().map(|c| &c.record.name).collect();
    for record in zone.iter().filter(|r| touched.contains(&r.name)) {
        let same_name = || zone.iter().filter(|r| r.name == record.name);
        if record.rtype == RrType::CNAME {
            if record.name == *apex {
                messages.push(format!("a CNAME is not permitted at the zone apex {apex}"));
            } else if same_name().any(|r| r.rtype != RrType::CNAME) {
                messages.push(format!(
                    "RRSet of type CNAME with DNS name {} is not permitted as it conflicts with other records with the same DNS name",
                    record.name
                ));
            }
        }
        let same_type = same_name().filter(|r| r.rtype == record.rtype);
        if record.set_identifier.is_none() && same_type.count() > 1 {
            messages.push(format!(
                "RRSet {} mixes a simple record set with record sets that have a routing policy",
                describe(record)
            ));
        }
        if let Some(alias) = &record.alias_target {
            if bare_zone_id(&alias.hosted_zone_id) == entry.zone.id
                && !zone
                    .iter()
                    .any(|r| r.name == alias.dns_name && r.rtype == record.rtype)
            {
                messages.push(format!(
                    "Tried to create an alias that targets {}, type {} in zone {}, but that target was not found",
                    alias.dns_name, record.rtype, entry.zone.id
                ));
            }
        }
    }
    if messages.is_empty() {
        Ok(zone)
    } else {
        messages.sort();
        messages.dedup();
        Err(rejected(messages.join("; ")))
    }
}

impl HostedZones for MemoryZones {
    async fn get_zone(&self, zone_id: &str) -> Result<HostedZone, Error> {
        self.begin(ZoneOp::GetHostedZone, bare_zone_id(zone_id))?;
        let mut state = lock(&self.state);
        match entry(&state, zone_id).map(|e| e.zone.clone()) {
            Ok(zone) => Ok(zone),
            Err(e) => Err(MemoryZones::failed(&mut state, e)),
        }
    }

    async fn zones_named(&self, name: &Name) -> Result<Vec<HostedZone>, Error> {
        self.begin(ZoneOp::ListHostedZonesByName, name.as_str())?;
        let state = lock(&self.state);
        Ok(state
            .zones
            .values()
            .filter(|e| e.zone.name == *name)
            .map(|e| HostedZone {
                name_servers: Vec::new(),
                ..e.zone.clone()
            })
            .collect())
    }

    async fn create_zone(
        &self,
        name: &Name,
        caller_reference: &str,
        _comment: &str,
    ) -> Result<HostedZone, Error> {
        self.begin(ZoneOp::CreateHostedZone, name.as_str())?;
        let mut state = lock(&self.state);
        // Route 53 refuses a second zone with the same CallerReference.
        if let Some(existing) = state
            .zones
            .values()
            .find(|e| e.zone.caller_reference == caller_reference)
        {
            let error = Error::Aws {
                operation: "CreateHostedZone".into(),
                code: "HostedZoneAlreadyExists".into(),
                message: format!(
                    "a hosted zone ({}) has already been created with the specified caller reference",
                    existing.zone.id
                ),
            };
            return Err(MemoryZones::failed(&mut state, error));
        }
        Ok(new_zone(&mut state, name, caller_reference))
    }

    async fn list_records_page(
        &self,
        zone_id: &str,
        start: Option<&PageStart>,
    ) -> Result<RecordPage, Error> {
        self.begin(ZoneOp::ListResourceRecordSets, bare_zone_id(zone_id))?;
        let mut state = lock(&self.state);
        let page_size = state.page_size;
        let entry = match entry(&state, zone_id) {
            Ok(e) => e,
            Err(e) => return Err(MemoryZones::failed(&mut state, e)),
        };
        let ordered = entry.records.in_listing_order();
        let from = match start {
            None => 0,
            Some(start) => {
                let name = match Name::parse(&start.name) {
                    Ok(n) => n,
                    Err(e) => {
                        let error = Error::Aws {
                            operation: "ListResourceRecordSets".into(),
                            code: "InvalidInput".into(),
                            message: format!("StartRecordName {}: {e}", start.name),
                        };
                        return Err(MemoryZones::failed(&mut state, error));
                    }
                };
                let wanted = listing_key(&name, start.rtype, start.identifier.as_deref());
                ordered
                    .iter()
                    .position(|r| {
                        listing_key(&r.name, r.rtype, r.set_identifier.as_deref()) >= wanted
                    })
                    .unwrap_or(ordered.len())
            }
        };
        let records: Vec<RecordSet> = ordered
            .iter()
            .skip(from)
            .take(page_size)
            .map(|r| (*r).clone())
            .collect();
        let next = ordered.get(from + page_size).map(|r| PageStart {
            name: r.name.to_string(),
            rtype: r.rtype,
            identifier: r.set_identifier.clone(),
        });
        Ok(RecordPage { records, next })
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[Change],
        _comment: &str,
    ) -> Result<String, Error> {
        let begun = self.begin(ZoneOp::ChangeResourceRecordSets, bare_zone_id(zone_id));
        let mut state = lock(&self.state);
        if let Some(last) = state.calls.last_mut() {
            last.written = changes
                .iter()
                .map(|c| (c.record.name.clone(), c.record.rtype))
                .collect();
        }
        begun?;
        let applied = entry(&state, zone_id).and_then(|e| apply(e, changes));
        let zone = match applied {
            Ok(zone) => zone,
            Err(e) => return Err(MemoryZones::failed(&mut state, e)),
        };
        if let Ok(entry) = entry_mut(&mut state, zone_id) {
            entry.records = zone;
        }
        state.next_change += 1;
        let id = format!("CMEM{:08}", state.next_change);
        let polls = state.polls_until_in_sync;
        state.changes.insert(id.clone(), polls);
        Ok(id)
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool, Error> {
        let id = change_id.trim_start_matches("/change/");
        self.begin(ZoneOp::GetChange, id)?;
        let mut state = lock(&self.state);
        match state.changes.get_mut(id) {
            Some(0) => Ok(true),
            Some(pending) => {
                *pending -= 1;
                Ok(false)
            }
            None => {
                let error = Error::Aws {
                    operation: "GetChange".into(),
                    code: "NoSuchChange".into(),
                    message: format!("no change with id {change_id}"),
                };
                Err(MemoryZones::failed(&mut state, error))
            }
        }
    }

    async fn dnssec_signing(&self, zone_id: &str) -> Result<bool, Error> {
        self.begin(ZoneOp::GetDnssec, bare_zone_id(zone_id))?;
        let mut state = lock(&self.state);
        match entry(&state, zone_id).map(|e| e.dnssec) {
            Ok(signing) => Ok(signing),
            Err(e) => Err(MemoryZones::failed(&mut state, e)),
        }
    }

    async fn health_check_exists(&self, id: &str) -> Result<bool, Error> {
        self.begin(ZoneOp::GetHealthCheck, id)?;
        Ok(lock(&self.state).health_checks.contains(id))
    }
}
