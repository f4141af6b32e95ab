//! The ledger: what a migration must remember beyond one execution (a DynamoDB table in
//! AWS, `adapters::dynamodb`; [`crate::adapters::memory::MemoryLedger`] in tests). One item
//! per (domain, name), holding a JSON document:
//! - `lock`: the execution that holds the domain, taken with a conditional write, so that
//!   of two executions started in the same second exactly one proceeds;
//! - `baseline` and `baseline#<generation>#<n>`: what both zones agreed on after the last
//!   round of the window ([`zonehop_core::drift::Baseline`]), in chunks.

use std::future::Future;

use serde_json::{json, Value};
use zonehop_core::drift::Baseline;
use zonehop_core::Name;

use crate::error::Error;

/// The result of asking for the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// The caller holds it now (it may have held it before).
    Taken,
    /// Another execution holds it.
    HeldBy(String),
}

/// A table of small JSON documents per domain, with one atomic operation: the lock.
pub trait Ledger: Send + Sync {
    /// Takes `domain`'s lock for `execution`, atomically: it succeeds when nobody holds the
    /// lock, when `execution` already does, or when `replacing` does (an execution the
    /// caller found finished). Otherwise it names the holder.
    fn take_lock(
        &self,
        domain: &Name,
        execution: &str,
        replacing: Option<&str>,
    ) -> impl Future<Output = Result<Lock, Error>> + Send;

    /// The document stored under `item`, if any.
    fn read(
        &self,
        domain: &Name,
        item: &str,
    ) -> impl Future<Output = Result<Option<Value>, Error>> + Send;

    /// False for a ledger that keeps nothing (a deployment without a table): no baseline
    /// found there means nothing, rather than "none was ever saved".
    fn remembers(&self) -> bool {
        true
    }

    /// Stores `value` under `item`, replacing what was there.
    fn write(
        &self,
        domain: &Name,
        item: &str,
        value: &Value,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The execution holding `domain`'s lock, if any.
pub async fn lock_holder<L: Ledger>(ledger: &L, domain: &Name) -> Result<Option<String>, Error> {
    Ok(ledger
        .read(domain, "lock")
        .await?
        .and_then(|v| v["execution"].as_str().map(str::to_owned)))
}

/// Record-set fingerprints per ledger item: 10,000 x 34 characters stays well under
/// DynamoDB's 400 KB item limit.
const BASELINE_CHUNK: usize = 10_000;

/// The two zones a baseline is about: a baseline saved for another pair (an earlier
/// migration of the same domain) is none for this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonePair<'a> {
    pub source: &'a str,
    pub target: &'a str,
}

impl ZonePair<'_> {
    fn holds(&self, header: &Value) -> bool {
        header["source"].as_str() == Some(self.source)
            && header["target"].as_str() == Some(self.target)
    }
}

/// The header of the baseline saved for `zones`, if any.
async fn baseline_header<L: Ledger>(
    ledger: &L,
    domain: &Name,
    zones: ZonePair<'_>,
) -> Result<Option<Value>, Error> {
    Ok(ledger
        .read(domain, "baseline")
        .await?
        .filter(|header| zones.holds(header)))
}

/// The baseline last saved for these zones, if one was.
pub async fn load_baseline<L: Ledger>(
    ledger: &L,
    domain: &Name,
    zones: ZonePair<'_>,
) -> Result<Option<Baseline>, Error> {
    let Some(header) = baseline_header(ledger, domain, zones).await? else {
        return Ok(None);
    };
    let generation = header["generation"].as_u64().unwrap_or(0);
    let chunks = header["chunks"].as_u64().unwrap_or(0);
    let mut texts = Vec::new();
    for n in 0..chunks {
        let item = format!("baseline#{generation}#{n}");
        let Some(chunk) = ledger.read(domain, &item).await? else {
            return Err(ledger_damaged(&item));
        };
        texts.push(chunk["pairs"].as_str().unwrap_or_default().to_owned());
    }
    Baseline::from_chunks(texts.iter().map(String::as_str))
        .map(Some)
        .ok_or_else(|| ledger_damaged("baseline"))
}

/// Saves `baseline` as the next generation: the chunks first, then the header that names
/// them, so that a crash in between leaves the previous baseline in force.
pub async fn save_baseline<L: Ledger>(
    ledger: &L,
    domain: &Name,
    zones: ZonePair<'_>,
    baseline: &Baseline,
    saved_at: i64,
) -> Result<(), Error> {
    let generation = match ledger.read(domain, "baseline").await? {
        Some(header) => header["generation"].as_u64().unwrap_or(0) + 1,
        None => 0,
    };
    let chunks = baseline.to_chunks(BASELINE_CHUNK);
    for (n, pairs) in chunks.iter().enumerate() {
        let item = format!("baseline#{generation}#{n}");
        ledger
            .write(domain, &item, &json!({ "pairs": pairs }))
            .await?;
    }
    ledger
        .write(
            domain,
            "baseline",
            &json!({
                "generation": generation,
                "chunks": chunks.len(),
                "recordSets": baseline.0.len(),
                "savedAt": saved_at,
                "source": zones.source,
                "target": zones.target,
            }),
        )
        .await
}

/// When the last baseline of these zones was saved, and of how many record sets.
pub async fn baseline_saved<L: Ledger>(
    ledger: &L,
    domain: &Name,
    zones: ZonePair<'_>,
) -> Result<Option<(i64, u64)>, Error> {
    Ok(baseline_header(ledger, domain, zones).await?.map(|header| {
        (
            header["savedAt"].as_i64().unwrap_or(0),
            header["recordSets"].as_u64().unwrap_or(0),
        )
    }))
}

fn ledger_damaged(item: &str) -> Error {
    Error::Aws {
        operation: "ledger".into(),
        code: "LedgerDamaged".into(),
        message: format!("the ledger item {item} is missing or unreadable"),
    }
}
