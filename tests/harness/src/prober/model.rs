//! The zone as DNS answers from it: what a resolver gets for any name and type of the zone,
//! by RFC 1034 4.3.2 and RFC 4592. A delegation below the apex refers the name and all below
//! it to other servers; a name that exists (an owner, or an empty non-terminal: a name with
//! owners below it) answers its own data, or nothing; a name that does not exist answers the
//! wildcard of its closest encloser, as if the wildcard's RRsets were its own, or NXDOMAIN;
//! a CNAME is followed, as a resolver follows it, as long as it stays in the zone.
//!
//! Pure: built from the zone as the world serves it (one rendering per routing variant,
//! [`super::expectations::derive`]).

use std::collections::{BTreeMap, BTreeSet};

use zonehop::core::zone::RrType;
use zonehop::Name;

use super::expectations::{name_in_zone_file, Accepted, DataSet};
use crate::dnsworld::NS_DOMAIN;

/// One rendering of the zone: each name and type's TTL and values.
pub type Served = BTreeMap<(Name, RrType), (u32, DataSet)>;

/// How many CNAMEs a chain is followed through (the wire layer's limit too).
pub const MAX_CHAIN: usize = 16;

/// Who serves the names below a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Servers {
    /// Name servers the world does not serve (the world's are all under
    /// `zonehop-dns.test.`): a resolver cannot reach them.
    Outside,
    /// A zone of the world: its own data, not this zone's.
    World,
}

/// What a resolver answers for one name and type of the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// An answer the zone decides: its data (after the CNAME chain), or nothing (NXDOMAIN or
    /// NODATA); `ttl` is the longest TTL along the way (how long a resolver may keep it).
    Answer { accepted: Accepted, ttl: u32 },
    /// The name, or a name its chain leads to, is at or below a delegation.
    Delegated { cut: Name, servers: Servers },
    /// The chain leaves the zone at `target`: what it answers is not this zone's to say.
    LeavesZone { target: Name },
    /// A CNAME loop, or a chain longer than [`MAX_CHAIN`].
    Loop,
}

/// One rendering's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Data(u32, DataSet),
    Nothing(u32),
    Delegated(Name, Servers),
    LeavesZone(Name),
    Loop,
}

/// The zone, ready to be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneModel {
    domain: Name,
    /// The zone as loaded, then one rendering per routing variant.
    variants: Vec<Served>,
    /// Every name that exists: the owners, and every name between them and the apex.
    existing: BTreeSet<Name>,
    /// The delegations below the apex, and who serves them.
    cuts: BTreeMap<Name, Servers>,
    /// How long a negative answer may be cached, at most: the apex SOA's TTL.
    negative_ttl: u32,
}

impl ZoneModel {
    pub fn new(domain: &Name, variants: Vec<Served>) -> ZoneModel {
        let mut existing = BTreeSet::new();
        let mut cuts = BTreeMap::new();
        for served in &variants {
            for ((owner, rtype), (_, data)) in served {
                let mut name = Some(owner.clone());
                while let Some(n) = name.filter(|n| n.is_at_or_below(domain)) {
                    if !existing.insert(n.clone()) {
                        break;
                    }
                    name = parent(&n);
                }
                if *rtype == RrType::NS && owner != domain {
                    let world = data.values().any(|server| {
                        name_in_zone_file(server).is_some_and(|s| {
                            Name::parse(NS_DOMAIN)
                                .is_ok_and(|ns_domain| s.is_at_or_below(&ns_domain))
                        })
                    });
                    let servers = if world {
                        Servers::World
                    } else {
                        Servers::Outside
                    };
                    cuts.entry(owner.clone())
                        .and_modify(|s: &mut Servers| *s = (*s).max(servers))
                        .or_insert(servers);
                }
            }
        }
        let negative_ttl = variants
            .first()
            .and_then(|s| s.get(&(domain.clone(), RrType::SOA)))
            .map_or(0, |(ttl, _)| *ttl);
        ZoneModel {
            domain: domain.clone(),
            variants,
            existing,
            cuts,
            negative_ttl,
        }
    }

    pub fn domain(&self) -> &Name {
        &self.domain
    }

    /// The delegation `name` is at or below, if any.
    pub fn cut_above(&self, name: &Name) -> Option<(&Name, Servers)> {
        self.cuts
            .iter()
            .find(|(cut, _)| name.is_at_or_below(cut))
            .map(|(cut, servers)| (cut, *servers))
    }

    /// Whether `name` exists in the zone (an owner, or an empty non-terminal).
    pub fn exists(&self, name: &Name) -> bool {
        self.existing.contains(name)
    }

    /// The types the zone holds at `owner` (in any rendering).
    pub fn types_at(&self, owner: &Name) -> BTreeSet<RrType> {
        self.variants
            .iter()
            .flat_map(BTreeMap::keys)
            .filter(|(o, _)| o == owner)
            .map(|(_, t)| *t)
            .collect()
    }

    /// What a resolver answers for `name` and `rtype`: the same in every rendering is exact;
    /// data that differs between renderings (a routing policy) is any of theirs.
    pub fn resolve(&self, name: &Name, rtype: RrType) -> Resolution {
        let steps: Vec<Step> = self
            .variants
            .iter()
            .map(|served| self.resolve_in(served, name, rtype))
            .collect();
        let mut ttl: Option<u32> = None;
        let mut sets: Vec<&DataSet> = Vec::new();
        for step in &steps {
            let step_ttl = match step {
                Step::Data(t, data) => {
                    sets.push(data);
                    *t
                }
                Step::Nothing(t) => *t,
                Step::Delegated(cut, servers) => {
                    return Resolution::Delegated {
                        cut: cut.clone(),
                        servers: *servers,
                    }
                }
                Step::LeavesZone(target) => {
                    return Resolution::LeavesZone {
                        target: target.clone(),
                    }
                }
                Step::Loop => return Resolution::Loop,
            };
            ttl = Some(ttl.map_or(step_ttl, |t| t.min(step_ttl)));
        }
        let ttl = ttl.unwrap_or(0);
        let accepted = match sets.first() {
            None => Accepted::Nothing,
            Some(first) if sets.len() == steps.len() && sets.iter().all(|s| s == first) => {
                Accepted::Exactly((*first).clone())
            }
            Some(_) => Accepted::AnyOf(
                sets.iter()
                    .flat_map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .collect(),
            ),
        };
        Resolution::Answer { accepted, ttl }
    }

    /// Where `name`'s CNAME chain ends in the zone (the owner whose data answers: a wildcard
    /// for a synthesized name), when `name` is a CNAME and the chain stays in the zone.
    pub fn chain_end(&self, name: &Name) -> Option<Name> {
        let served = self.variants.first()?;
        let mut name = name.clone();
        let mut followed = 0;
        for _ in 0..MAX_CHAIN {
            if !name.is_at_or_below(&self.domain) || self.cut_above(&name).is_some() {
                return None;
            }
            let owner = self.owner_for(&name)?;
            match served.get(&(owner.clone(), RrType::CNAME)) {
                Some((_, data)) => {
                    name = cname_target(data)?;
                    followed += 1;
                }
                None => return (followed > 0).then_some(owner),
            }
        }
        None
    }

    /// The owner whose RRsets answer for `name`: itself when it exists, else the wildcard
    /// of its closest encloser (RFC 4592), else none (NXDOMAIN).
    fn owner_for(&self, name: &Name) -> Option<Name> {
        if self.exists(name) {
            return Some(name.clone());
        }
        let mut encloser = parent(name);
        while let Some(candidate) = encloser {
            if !candidate.is_at_or_below(&self.domain) {
                return None;
            }
            if self.exists(&candidate) {
                let wildcard = candidate.prepend("*").ok()?;
                return self.exists(&wildcard).then_some(wildcard);
            }
            encloser = parent(&candidate);
        }
        None
    }

    fn resolve_in(&self, served: &Served, name: &Name, rtype: RrType) -> Step {
        let mut name = name.clone();
        let mut ttl = 0;
        for _ in 0..=MAX_CHAIN {
            if !name.is_at_or_below(&self.domain) {
                return Step::LeavesZone(name);
            }
            if let Some((cut, servers)) = self.cut_above(&name) {
                return Step::Delegated(cut.clone(), servers);
            }
            let Some(owner) = self.owner_for(&name) else {
                return Step::Nothing(ttl.max(self.negative_ttl));
            };
            if let Some((t, data)) = served.get(&(owner.clone(), rtype)) {
                return Step::Data(ttl.max(*t), data.clone());
            }
            match served.get(&(owner, RrType::CNAME)) {
                Some((t, data)) if rtype != RrType::CNAME => {
                    ttl = ttl.max(*t);
                    match cname_target(data) {
                        Some(target) => name = target,
                        None => return Step::Loop,
                    }
                }
                _ => return Step::Nothing(ttl.max(self.negative_ttl)),
            }
        }
        Step::Loop
    }
}

/// The name one label up, if `name` has more than one label.
pub fn parent(name: &Name) -> Option<Name> {
    let labels = name.raw_labels();
    if labels.len() < 2 {
        return None;
    }
    Name::from_raw_labels(labels[1..].iter().map(Vec::as_slice)).ok()
}

/// A CNAME RRset's target (its one value, in zone-file syntax).
fn cname_target(data: &DataSet) -> Option<Name> {
    data.values().next().and_then(|v| name_in_zone_file(v))
}
