//! The registrar of a domain whose parent is a Route 53 hosted zone (`registrar.type:
//! route53zone`): the delegation is the parent zone's NS record for the domain (and a DS,
//! where one exists), changed in one atomic ChangeResourceRecordSets, and an operation is a
//! Route 53 change, done once it is INSYNC. Built on the [`HostedZones`] port, so the same
//! code runs on the SDK adapter and on the in-memory twin.

use zonehop_core::change::{Action, Change};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::name::Name;
use zonehop_core::zone::{RecordSet, RrType, Zone};

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::{read_zone, wait_in_sync, HostedZones};
use crate::ports::registrar::Registrar;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;

/// The NS TTL a delegation gets when the parent has none yet (Route 53's default for NS).
const DEFAULT_DELEGATION_TTL: i64 = 172_800;

/// The parent zone `zone_id`, reached through `zones` (a client in the parent's account).
#[derive(Debug)]
pub struct ParentZone<R> {
    zones: R,
    zone_id: String,
}

/// What the parent publishes for the domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delegation {
    pub ns: Option<RecordSet>,
    pub ds: Option<RecordSet>,
}

impl<R: HostedZones> ParentZone<R> {
    pub fn new(zones: R, zone_id: &str) -> ParentZone<R> {
        ParentZone {
            zones,
            zone_id: zone_id.trim_start_matches("/hostedzone/").to_owned(),
        }
    }

    pub fn zone_id(&self) -> &str {
        &self.zone_id
    }

    pub fn zones(&self) -> &R {
        &self.zones
    }

    /// The parent zone, checked: public, and the zone of a proper ancestor of `domain`
    /// (`example.com.` for `app.example.com.`). Its records, read once.
    pub async fn checked(&self, domain: &Name) -> Result<Zone, Error> {
        let zone = self.zones.get_zone(&self.zone_id).await?;
        if zone.private {
            return Err(Error::PrivateZone {
                zone_id: zone.id.clone(),
            });
        }
        if zone.name == *domain || !domain.is_at_or_below(&zone.name) {
            return Err(Error::InvalidRequest(format!(
                "registrar.hostedZoneId {} is the zone of {}, which is not a parent of {domain}",
                self.zone_id, zone.name
            )));
        }
        read_zone(&self.zones, &self.zone_id).await
    }

    /// The NS and DS record sets the parent holds at `domain`.
    pub async fn delegation(&self, domain: &Name) -> Result<Delegation, Error> {
        let records = self.checked(domain).await?;
        let at = |rtype: RrType| {
            records
                .iter()
                .find(|r| r.name == *domain && r.rtype == rtype)
                .cloned()
        };
        Ok(Delegation {
            ns: at(RrType::NS),
            ds: at(RrType::DS),
        })
    }

    /// Sends one change on the parent zone; returns its id.
    async fn change(&self, changes: &[Change], comment: &str) -> Result<String, Error> {
        self.zones
            .change_records(&self.zone_id, changes, comment)
            .await
    }

    /// Sets the TTL of the delegation's NS record (servers kept) unless it already has it,
    /// and waits until that change is INSYNC; returns the TTL before.
    pub async fn set_delegation_ttl_in_sync<C: Clock>(
        &self,
        clock: &C,
        domain: &Name,
        ttl: i64,
        settings: &Settings,
    ) -> Result<i64, Error> {
        let (previous, change) = self.set_delegation_ttl(domain, ttl).await?;
        if let Some(change) = change {
            let stats = RetryStats::default();
            let zones = Retrying::new(&self.zones, settings.retry, &stats);
            wait_in_sync(&zones, clock, &change, settings.in_sync_timeout).await?;
        }
        Ok(previous)
    }

    /// Sets the TTL of the delegation's NS record (servers kept) unless it already has it;
    /// returns the TTL before and the change to wait for, if one was sent.
    async fn set_delegation_ttl(
        &self,
        domain: &Name,
        ttl: i64,
    ) -> Result<(i64, Option<String>), Error> {
        let Some(mut ns) = self.delegation(domain).await?.ns else {
            return Err(Error::ParentDoesNotDelegate {
                zone_id: self.zone_id.clone(),
                domain: domain.to_string(),
                servers: Vec::new(),
            });
        };
        let previous = ns.ttl.unwrap_or(DEFAULT_DELEGATION_TTL);
        if previous == ttl {
            return Ok((previous, None));
        }
        ns.ttl = Some(ttl);
        let change = [Change {
            action: Action::Upsert,
            record: ns,
        }];
        let comment = format!("zonehop: NS TTL of the delegation of {domain} to {ttl} s");
        let id = self.change(&change, &comment).await?;
        Ok((previous, Some(id)))
    }

    /// The change that points the delegation at `servers`: the NS record (keeping its
    /// TTL), and the DS removed where one exists, in one atomic change (preflight refuses a
    /// DS; one added since would make the new, unsigned side bogus for validating
    /// resolvers). Returns the change and the DS it removed, if any.
    pub async fn point_delegation(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<(String, Option<RecordSet>), Error> {
        let current = self.delegation(domain).await?;
        let ttl = current
            .ns
            .as_ref()
            .and_then(|ns| ns.ttl)
            .unwrap_or(DEFAULT_DELEGATION_TTL);
        let wanted = canonical_servers(servers);
        let values: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let mut changes = vec![Change {
            action: Action::Upsert,
            record: RecordSet::simple(domain.clone(), RrType::NS, ttl, &values),
        }];
        if let Some(ds) = &current.ds {
            changes.push(Change {
                action: Action::Delete,
                record: ds.clone(),
            });
        }
        let comment = format!("zonehop: delegation of {domain}");
        let id = self.change(&changes, &comment).await?;
        Ok((id, current.ds))
    }
}

impl<R: HostedZones> Registrar for ParentZone<R> {
    async fn name_servers(&self, domain: &Name) -> Result<Vec<String>, Error> {
        let ns = self.delegation(domain).await?.ns;
        Ok(canonical_servers(
            &ns.map(|ns| ns.values().map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default(),
        ))
    }

    async fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<String, Error> {
        let (id, removed) = self.point_delegation(domain, servers).await?;
        if let Some(ds) = removed {
            tracing::warn!(
                ds = ?ds.values().collect::<Vec<_>>(),
                "removed the DS the parent held for the domain, with the NS, in one change"
            );
        }
        Ok(id)
    }

    async fn operation_status(&self, operation_id: &str) -> Result<String, Error> {
        Ok(if self.zones.change_in_sync(operation_id).await? {
            "SUCCESSFUL".to_owned()
        } else {
            "IN_PROGRESS".to_owned()
        })
    }
}

/// The ledger item that remembers the parent's NS TTL before lower-ns-ttl lowered it
/// (`{"original", "loweredAt"}`): rollback puts it back.
pub const PARENT_NS_TTL: &str = "parentNsTtl";
