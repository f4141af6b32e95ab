//! The ledger port on a DynamoDB table (`infra/template.yaml`'s `Ledger`): partition key
//! `domain`, sort key `item`, the document as a JSON string in `doc`, the lock's holder
//! also in `execution` for the condition, and `expiresAt` (the table's TTL attribute,
//! 30 days on) so that a finished migration's items go away by themselves.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use zonehop_core::Name;

use crate::adapters::route53::classify;
use crate::error::Error;
use crate::ports::ledger::{Ledger, Lock};

/// How long an item outlives its last write.
const KEEP_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> DynamoLedger {
        DynamoLedger {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn domain_key(domain: &Name) -> AttributeValue {
    s(domain.as_str())
}

fn expires_at() -> AttributeValue {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    AttributeValue::N((now + KEEP_SECONDS).to_string())
}

impl Ledger for DynamoLedger {
    async fn take_lock(
        &self,
        domain: &Name,
        execution: &str,
        replacing: Option<&str>,
    ) -> Result<Lock, Error> {
        let doc = serde_json::json!({ "execution": execution }).to_string();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("domain", domain_key(domain))
            .item("item", s("lock"))
            .item("execution", s(execution))
            .item("doc", s(doc))
            .item("expiresAt", expires_at())
            .expression_attribute_values(":me", s(execution));
        let mut condition = "attribute_not_exists(#d) OR #e = :me".to_owned();
        if let Some(previous) = replacing {
            condition.push_str(" OR #e = :previous");
            put = put.expression_attribute_values(":previous", s(previous));
        }
        let result = put
            .condition_expression(condition)
            .expression_attribute_names("#d", "domain")
            .expression_attribute_names("#e", "execution")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Lock::Taken),
            Err(e) => match classify("PutItem", e) {
                Error::Aws { code, .. } if code == "ConditionalCheckFailedException" => {
                    let holder = crate::ports::ledger::lock_holder(self, domain).await?;
                    Ok(Lock::HeldBy(
                        holder.unwrap_or_else(|| "an unknown execution".into()),
                    ))
                }
                other => Err(other),
            },
        }
    }

    async fn read(&self, domain: &Name, item: &str) -> Result<Option<Value>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("domain", domain_key(domain))
            .key("item", s(item))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(doc) = out.item().and_then(|i| i.get("doc")) else {
            return Ok(None);
        };
        let text = doc.as_s().map_err(|_| Error::Aws {
            operation: "GetItem".into(),
            code: "LedgerDamaged".into(),
            message: format!("the ledger item {item} has no text document"),
        })?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| Error::Aws {
                operation: "GetItem".into(),
                code: "LedgerDamaged".into(),
                message: format!("the ledger item {item} is not JSON: {e}"),
            })
    }

    async fn write(&self, domain: &Name, item: &str, value: &Value) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("domain", domain_key(domain))
            .item("item", s(item))
            .item("doc", s(value.to_string()))
            .item("expiresAt", expires_at())
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}

/// The ledger of a deployment that configured none (`ZONEHOP_LEDGER_TABLE` unset, as with
/// `cargo lambda invoke` by hand): it holds nothing and every lock is granted, so the
/// canary alone is the lock (not atomic). A deployed stack always has its table.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLedger;

impl Ledger for NoLedger {
    async fn take_lock(&self, _: &Name, _: &str, _: Option<&str>) -> Result<Lock, Error> {
        Ok(Lock::Taken)
    }

    async fn read(&self, _: &Name, _: &str) -> Result<Option<Value>, Error> {
        Ok(None)
    }

    async fn write(&self, _: &Name, _: &str, _: &Value) -> Result<(), Error> {
        Ok(())
    }

    fn remembers(&self) -> bool {
        false
    }
}

/// The deployment's ledger: its table when `ZONEHOP_LEDGER_TABLE` is set, else [`NoLedger`].
#[derive(Debug, Clone)]
pub enum ConfiguredLedger {
    Table(DynamoLedger),
    None(NoLedger),
}

impl ConfiguredLedger {
    pub fn new(config: &aws_config::SdkConfig, table: Option<&str>) -> ConfiguredLedger {
        match table {
            Some(table) => ConfiguredLedger::Table(DynamoLedger::new(config, table)),
            None => ConfiguredLedger::None(NoLedger),
        }
    }
}

impl Ledger for ConfiguredLedger {
    async fn take_lock(
        &self,
        domain: &Name,
        execution: &str,
        replacing: Option<&str>,
    ) -> Result<Lock, Error> {
        match self {
            ConfiguredLedger::Table(l) => l.take_lock(domain, execution, replacing).await,
            ConfiguredLedger::None(l) => l.take_lock(domain, execution, replacing).await,
        }
    }

    async fn read(&self, domain: &Name, item: &str) -> Result<Option<Value>, Error> {
        match self {
            ConfiguredLedger::Table(l) => l.read(domain, item).await,
            ConfiguredLedger::None(l) => l.read(domain, item).await,
        }
    }

    async fn write(&self, domain: &Name, item: &str, value: &Value) -> Result<(), Error> {
        match self {
            ConfiguredLedger::Table(l) => l.write(domain, item, value).await,
            ConfiguredLedger::None(l) => l.write(domain, item, value).await,
        }
    }

    fn remembers(&self) -> bool {
        matches!(self, ConfiguredLedger::Table(_))
    }
}
