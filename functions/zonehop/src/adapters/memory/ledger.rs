//! The ledger in memory, with the DynamoDB table's conditional lock.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};
use zonehop_core::Name;

use super::lock;
use crate::error::Error;
use crate::ports::ledger::{Ledger, Lock};

#[derive(Debug, Default)]
pub struct MemoryLedger {
    items: Mutex<BTreeMap<(Name, String), Value>>,
}

impl MemoryLedger {
    pub fn new() -> MemoryLedger {
        MemoryLedger::default()
    }

    /// Every item of `domain`, by name.
    pub fn items(&self, domain: &Name) -> BTreeMap<String, Value> {
        lock(&self.items)
            .iter()
            .filter(|((d, _), _)| d == domain)
            .map(|((_, item), v)| (item.clone(), v.clone()))
            .collect()
    }
}

impl Ledger for MemoryLedger {
    async fn take_lock(
        &self,
        domain: &Name,
        execution: &str,
        replacing: Option<&str>,
    ) -> Result<Lock, Error> {
        let mut items = lock(&self.items);
        let key = (domain.clone(), "lock".to_owned());
        if let Some(holder) = items.get(&key).and_then(|v| v["execution"].as_str()) {
            if holder != execution && Some(holder) != replacing {
                return Ok(Lock::HeldBy(holder.to_owned()));
            }
        }
        items.insert(key, json!({ "execution": execution }));
        Ok(Lock::Taken)
    }

    async fn read(&self, domain: &Name, item: &str) -> Result<Option<Value>, Error> {
        Ok(lock(&self.items)
            .get(&(domain.clone(), item.to_owned()))
            .cloned())
    }

    async fn write(&self, domain: &Name, item: &str, value: &Value) -> Result<(), Error> {
        lock(&self.items).insert((domain.clone(), item.to_owned()), value.clone());
        Ok(())
    }
}
