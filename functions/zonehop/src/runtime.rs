//! What every Lambda's `main` shares besides [`crate::Settings`]: logging.

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`), no ANSI.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// A function's log context: every line a function logs is inside one span, `zonehop`, with
/// its `step` (the function), and from the first invocation on the `execution` (the name of
/// the Step Functions execution, from the request's `executionId` when the state machine
/// passes it) and the `domain` of the invocation at hand. A function runs one invocation at
/// a time, so each invocation records its own on the span before its first line, and the
/// runtime's line about its outcome (logged after the handler returns) still carries them.
/// Nothing else of the request is logged: no role, no credentials, no task token.
#[derive(Debug, Clone)]
pub struct StepLog {
    span: tracing::Span,
}

/// What an invocation is about, read from its request before the handler takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The execution's name (the last part of `executionId`), empty when not passed.
    pub execution: String,
    pub domain: String,
}

impl Invocation {
    pub fn of(payload: &serde_json::Value) -> Invocation {
        let field = |key: &str| payload[key].as_str().unwrap_or_default();
        Invocation {
            execution: field("executionId")
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_owned(),
            domain: field("domain").trim_end_matches('.').to_owned(),
        }
    }
}

impl StepLog {
    pub fn new(step: &'static str) -> StepLog {
        StepLog {
            span: tracing::info_span!(
                "zonehop",
                step,
                execution = tracing::field::Empty,
                domain = tracing::field::Empty
            ),
        }
    }

    /// The function's runtime loop, inside the span.
    pub fn run<F: std::future::Future>(&self, runtime: F) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(runtime, self.span.clone())
    }

    /// One invocation: records its execution and domain on the span, logs its start and its
    /// outcome (the error's type; its message goes to Step Functions, not to the log).
    pub async fn invocation<T, F>(&self, about: Invocation, work: F) -> Result<T, crate::Error>
    where
        F: std::future::Future<Output = Result<T, crate::Error>>,
    {
        let domain = if about.domain.is_empty() {
            "(not in the request)"
        } else {
            about.domain.as_str()
        };
        let execution = if about.execution.is_empty() {
            "(not passed by the state machine)"
        } else {
            about.execution.as_str()
        };
        self.span.record("execution", execution);
        self.span.record("domain", domain);
        let span = self.span.clone();
        tracing::Instrument::instrument(
            async move {
                tracing::info!("step started");
                let result = work.await;
                match &result {
                    Ok(_) => tracing::info!("step succeeded"),
                    Err(e) => tracing::warn!(error_type = e.error_type(), "step failed"),
                }
                result
            },
            span,
        )
        .await
    }

    /// The process's end: a runtime that stopped with an error (the Runtime API gone) says
    /// so in one JSON line, in the span, rather than Rust's plain `Error: ...` on stderr.
    pub fn exit<E: std::fmt::Display>(&self, ended: Result<(), E>) -> std::process::ExitCode {
        match ended {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                self.span
                    .in_scope(|| tracing::error!(%error, "the Lambda runtime stopped"));
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// A function's runtime loop: each invocation of `handler` in the step's [`StepLog`].
pub async fn serve<F, Fut, T>(step: &'static str, handler: F) -> std::process::ExitCode
where
    F: Fn(lambda_runtime::LambdaEvent<crate::request::Event>) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::Error>>,
    T: serde::Serialize,
{
    crate::adapters::route53::pace_every_adapter(
        crate::Settings::from_env().route53_calls_per_second,
    );
    let log = StepLog::new(step);
    let ended = log
        .run(lambda_runtime::run(lambda_runtime::service_fn(
            |event: lambda_runtime::LambdaEvent<crate::request::Event>| {
                let about = Invocation::of(&event.payload);
                log.invocation(about, handler(event))
            },
        )))
        .await;
    log.exit(ended)
}

#[cfg(test)]
mod tests {
    use super::Invocation;
    use serde_json::json;

    #[test]
    fn an_invocation_is_named_by_its_executions_name_and_domain_only() {
        let about = Invocation::of(&json!({
            "domain": "example.com.",
            "executionId": "arn:aws:states:us-east-1:111111111111:execution:zonehop-migration:run-7",
            "source": { "roleArn": "arn:aws:iam::111111111111:role/zonehop", "externalId": "secret-ish" },
        }));
        assert_eq!(
            about,
            Invocation {
                execution: "run-7".to_owned(),
                domain: "example.com".to_owned(),
            }
        );
        assert_eq!(Invocation::of(&json!({})), Invocation::default());
    }
}
