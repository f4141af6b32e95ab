//! One change to a record set: what ChangeResourceRecordSets takes, and what the planner,
//! the batch packer and every step that writes a zone speak in.

use serde::{Deserialize, Serialize};

use crate::zone::RecordSet;

/// A ChangeResourceRecordSets action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Create,
    Upsert,
    Delete,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub record: RecordSet,
}
