//! Step Functions executions in memory: which ones run.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::lock;
use crate::error::Error;
use crate::ports::executions::Executions;

/// The executions a test says are running.
#[derive(Debug, Default)]
pub struct MemoryExecutions {
    running: Mutex<BTreeSet<String>>,
}

impl MemoryExecutions {
    pub fn new() -> MemoryExecutions {
        MemoryExecutions::default()
    }

    pub fn set_running(&self, execution: &str, running: bool) {
        let mut set = lock(&self.running);
        if running {
            set.insert(execution.to_owned());
        } else {
            set.remove(execution);
        }
    }
}

impl Executions for MemoryExecutions {
    async fn is_running(&self, execution: &str) -> Result<bool, Error> {
        Ok(lock(&self.running).contains(execution))
    }
}
