//! The operator tool's library (`zonehop start|watch|report|resume`), shared with the
//! rehearsal: reading an execution's history into phases, propagation rounds and
//! `report.json` ([`progress`], [`report`], [`cost`]), following it live ([`watch`]), and the
//! Step Functions calls ([`sfn`]). The rehearsal (`tools/rehearse`) runs the same [`watch`]
//! and [`report`] code against the emulator that `zonehop` runs against AWS.

pub mod cost;
pub mod history;
pub mod mermaid;
pub mod progress;
pub mod report;
pub mod request;
pub mod resume;
pub mod sfn;
pub mod watch;

#[cfg(test)]
mod tests;

/// What went wrong, said in one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorError {
    #[error("{operation}: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Aws {
        operation: String,
        code: Option<String>,
        message: String,
    },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("execution {arn} is still running after {waited_seconds} s")]
    StillRunning { arn: String, waited_seconds: u64 },
    #[error("no {what}execution of {domain} found in {machines}")]
    NoExecution {
        domain: String,
        what: &'static str,
        machines: String,
    },
    #[error(transparent)]
    Zonehop(#[from] zonehop::Error),
}
