//! `zonehop`: the operator's command line for migrations in AWS (or against the emulator,
//! with `AWS_ENDPOINT_URL`).
//!
//!     zonehop start REQUEST.json [--state-machine ARN] [--via-eventbridge BUS] [--name NAME] [--output json]
//!     zonehop watch EXECUTION_ARN|DOMAIN [--state-machine ARN] [--poll SECONDS]
//!     zonehop report EXECUTION_ARN|DOMAIN [--out DIR] [--state-machine ARN] [--output json]
//!     zonehop resume DOMAIN [--state-machine ARN] [--resolver ADDR] [--dns-port PORT]
//!
//! Arguments are parsed by clap (`zonehop help`, `zonehop SUBCOMMAND --help`); an AWS error
//! is one line that says what failed and what to do (`zonehop_operator::sfn::one_line`).
//!
//! The state machine is `--state-machine`, else `ZONEHOP_STATE_MACHINE_ARN`; to find a
//! DOMAIN's execution without either, every state machine of the account is searched.
//! Exit status: 0 done (for `watch`, the execution succeeded), 1 refused or failed (the
//! reason in one line), 2 bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use zonehop::adapters::wire_dns::WireDns;
use zonehop::ports::dns::lookup::parse_resolver;
use zonehop_operator::progress::Progress;
use zonehop_operator::report;
use zonehop_operator::resume::{all_name, parent_views, waiting};
use zonehop_operator::sfn::Sfn;
use zonehop_operator::watch::{follow, FollowOptions, NobodyAnswers, View};
use zonehop_operator::OperatorError;

/// A failure: its one line and exit status.
struct Failure(u8, String);

impl From<OperatorError> for Failure {
    fn from(e: OperatorError) -> Failure {
        Failure(1, e.to_string())
    }
}

/// A bad argument found after parsing (exit status 2, as clap's own).
fn usage(message: impl Into<String>) -> Failure {
    Failure(2, message.into())
}

#[derive(Debug, Parser)]
#[command(
    name = "zonehop",
    version,
    about = "Start, watch, report on and resume zonehop migrations in AWS (or the emulator, with AWS_ENDPOINT_URL).",
    after_help = "Exit status: 0 done (for watch: the execution succeeded), 1 refused or failed (the reason in one line), 2 bad arguments.\nThe state machine is --state-machine, else ZONEHOP_STATE_MACHINE_ARN; to find a DOMAIN's execution without either, every state machine of the account is searched."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum Output {
    /// Sentences for a person.
    #[default]
    Text,
    /// One JSON object on stdout, for a script.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check REQUEST.json with preflight's own code, then start its execution (or put a
    /// Migration Requested event on the stack's bus)
    Start {
        /// The request (docs/design.md, "The request")
        request: PathBuf,
        /// The migration state machine's ARN
        #[arg(long, value_name = "ARN")]
        state_machine: Option<String>,
        /// Put a Migration Requested event on this bus instead of starting the execution
        #[arg(long, value_name = "BUS")]
        via_eventbridge: Option<String>,
        /// The execution's name
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Follow an execution (by ARN, or a DOMAIN's newest) until it ends
    Watch {
        /// EXECUTION_ARN or DOMAIN
        execution: String,
        #[arg(long, value_name = "ARN")]
        state_machine: Option<String>,
        /// Seconds between reads of the history (more than 0, at most 3600)
        #[arg(long, default_value = "5", value_parser = poll_seconds)]
        poll: Duration,
    },
    /// Write report.json and report.html of an execution
    Report {
        /// EXECUTION_ARN or DOMAIN
        execution: String,
        /// The directory to write to
        #[arg(long, default_value = ".")]
        out: PathBuf,
        #[arg(long, value_name = "ARN")]
        state_machine: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Resume DOMAIN's execution waiting for the operator (manual registrar), once every
    /// parent server delegates to the target zone's servers
    Resume {
        domain: String,
        #[arg(long, value_name = "ARN")]
        state_machine: Option<String>,
        /// The resolver that finds the parent's servers (default: the request's, then
        /// ZONEHOP_RESOLVER)
        #[arg(long, value_name = "ADDR")]
        resolver: Option<String>,
        /// The port the parent's servers answer on
        #[arg(long, default_value_t = 53, value_parser = clap::value_parser!(u16).range(1..))]
        dns_port: u16,
    },
}

fn poll_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "seconds, more than 0 and at most 3600".to_owned())
}

/// `--state-machine`, else `ZONEHOP_STATE_MACHINE_ARN` (empty is unset).
fn state_machine(flag: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var("ZONEHOP_STATE_MACHINE_ARN").ok())
        .filter(|s| !s.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Start {
            request,
            state_machine,
            via_eventbridge,
            name,
            output,
        } => {
            start(
                &request,
                &state_machine,
                via_eventbridge.as_deref(),
                name.as_deref(),
                output,
            )
            .await
        }
        Command::Watch {
            execution,
            state_machine,
            poll,
        } => watch(&execution, &state_machine, poll).await,
        Command::Report {
            execution,
            out,
            state_machine,
            output,
        } => write_report(&execution, &out, &state_machine, output).await,
        Command::Resume {
            domain,
            state_machine,
            resolver,
            dns_port,
        } => resume(&domain, &state_machine, resolver.as_deref(), dns_port).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure(code, text)) => {
            eprintln!("zonehop: {text}");
            ExitCode::from(code)
        }
    }
}

async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

async fn start(
    path: &std::path::Path,
    machine: &Option<String>,
    via_eventbridge: Option<&str>,
    name: Option<&str>,
    output: Output,
) -> Result<u8, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(2, format!("cannot read {}: {e}", path.display())))?;
    // Checked here with preflight's own code: a bad request never reaches AWS.
    let request = zonehop_operator::request::check(&text).await.map_err(|e| {
        Failure(
            1,
            format!(
                "the request is refused, nothing was started: {}: {}",
                e.error_type(),
                e
            ),
        )
    })?;
    let domain = request["domain"].as_str().unwrap_or_default().to_owned();
    let config = config().await;
    if let Some(bus) = via_eventbridge {
        let events = aws_sdk_eventbridge::Client::new(&config);
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source("zonehop")
            .detail_type("Migration Requested")
            .event_bus_name(bus)
            .detail(request.to_string())
            .build();
        let put = events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| Failure::from(zonehop_operator::sfn::api("PutEvents", e)))?;
        if put.failed_entry_count() > 0 {
            let why = put
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Failure(1, format!("PutEvents refused the event: {why}")));
        }
        let id = put
            .entries()
            .first()
            .and_then(|e| e.event_id())
            .unwrap_or("?");
        match output {
            Output::Json => println!("{}", json!({ "eventId": id, "domain": domain, "eventBus": bus })),
            Output::Text => println!("put the Migration Requested event {id} for {domain} on the bus {bus}; the rule starts the execution (then: zonehop watch {domain})"),
        }
        return Ok(0);
    }
    let machine = state_machine(machine).ok_or_else(|| {
        usage("start: which state machine? --state-machine ARN or ZONEHOP_STATE_MACHINE_ARN")
    })?;
    let arn = Sfn::new(&config).start(&machine, name, &request).await?;
    match output {
        Output::Json => println!("{}", json!({ "executionArn": arn, "domain": domain })),
        Output::Text => {
            println!("started {arn}");
            println!("  watch it: zonehop watch {arn}");
        }
    }
    Ok(0)
}

/// The execution named by ARN, or the newest of DOMAIN (the running one first).
async fn execution_of(
    sfn: &Sfn,
    machine: &Option<String>,
    target: &str,
) -> Result<String, Failure> {
    if target.starts_with("arn:") {
        return Ok(target.to_owned());
    }
    let machines = match state_machine(machine) {
        Some(machine) => vec![machine],
        None => sfn.state_machines().await?,
    };
    let describe = |what| OperatorError::NoExecution {
        domain: target.to_owned(),
        what,
        machines: if machines.is_empty() {
            "(no state machine)".to_owned()
        } else {
            machines.join(", ")
        },
    };
    let running = sfn.executions_for(&machines, target, true).await?;
    if let Some(found) = running.first() {
        return Ok(found.arn.clone());
    }
    let any = sfn.executions_for(&machines, target, false).await?;
    any.first()
        .map(|f| f.arn.clone())
        .ok_or_else(|| describe("").into())
}

async fn watch(target: &str, machine: &Option<String>, poll: Duration) -> Result<u8, Failure> {
    let config = config().await;
    let sfn = Sfn::new(&config);
    let arn = execution_of(&sfn, machine, target).await?;
    let mut view = View::new();
    view.say(&format!("execution {arn}"));
    let mut progress = Progress::default();
    let history = follow(
        &sfn,
        &arn,
        &mut progress,
        &mut view,
        &mut NobodyAnswers,
        FollowOptions {
            poll,
            timeout: None,
        },
    )
    .await?;
    let (report, _) = report::from_history(&arn, &history, &Default::default());
    for line in report::summary_lines(&report) {
        view.say(&line);
    }
    let status = report["status"].as_str().unwrap_or("?");
    for line in report::failure_lines(status, &report["error"]) {
        view.say(&line);
    }
    Ok(if status == "SUCCEEDED" { 0 } else { 1 })
}

async fn write_report(
    target: &str,
    dir: &std::path::Path,
    machine: &Option<String>,
    output: Output,
) -> Result<u8, Failure> {
    let config = config().await;
    let sfn = Sfn::new(&config);
    let arn = execution_of(&sfn, machine, target).await?;
    let history = sfn.history(&arn).await?;
    let (report, _) = report::from_history(&arn, &history, &Default::default());
    let (json_path, html_path) = report::write(dir, &report)?;
    let status = report["status"].as_str().unwrap_or("?");
    match output {
        Output::Json => println!(
            "{}",
            json!({ "executionArn": arn, "status": status, "json": json_path, "html": html_path })
        ),
        Output::Text => println!(
            "{} ({}): {} and {}",
            arn,
            status,
            json_path.display(),
            html_path.display()
        ),
    }
    Ok(0)
}

async fn resume(
    target: &str,
    machine: &Option<String>,
    resolver: Option<&str>,
    port: u16,
) -> Result<u8, Failure> {
    let domain = zonehop::core::request::parse_domain(target)
        .map_err(|e| usage(format!("resume: {target}: {e}")))?;
    let config = config().await;
    let sfn = Sfn::new(&config);
    let machines = match state_machine(machine) {
        Some(machine) => vec![machine],
        None => sfn.state_machines().await?,
    };
    let running = sfn.executions_for(&machines, domain.as_str(), true).await?;
    let mut found = None;
    for execution in &running {
        let history = sfn.history(&execution.arn).await?;
        if let Some(w) = waiting(&history) {
            let input = zonehop_operator::history::execution_input(&history).unwrap_or(Value::Null);
            found = Some((execution.arn.clone(), w, input));
            break;
        }
    }
    let Some((arn, wait, input)) = found else {
        return Err(Failure(
            1,
            format!(
                "no execution of {} is waiting for the operator ({} running)",
                target,
                running.len()
            ),
        ));
    };
    let resolver_text = resolver
        .map(str::to_owned)
        .or_else(|| input["resolver"].as_str().map(str::to_owned))
        .or_else(|| std::env::var("ZONEHOP_RESOLVER").ok())
        .unwrap_or_else(|| zonehop_operator::request::DEFAULT_RESOLVER.to_owned());
    let resolver = parse_resolver(&resolver_text).map_err(|e| usage(e.to_string()))?;
    let views = parent_views(&WireDns::default(), resolver, port, &domain)
        .await
        .map_err(|e| Failure(1, format!("cannot ask the parent zone's servers: {e}")))?;
    let wanted = wait.name_servers.join(" ");
    if !all_name(&views, &wait.name_servers) {
        let mut text = format!(
            "not resumed: the parent zone does not yet delegate {} to the target zone's servers ({wanted}); it says:",
            target
        );
        for view in &views {
            let says = if view.name_servers.is_empty() {
                view.problem.clone().unwrap_or_else(|| "nothing".to_owned())
            } else {
                view.name_servers.join(" ")
            };
            text.push_str(&format!("\n  {}: {says}", view.server.ip()));
        }
        text.push_str(
            "\nSet them at the registrar and run this again once the registry publishes them.",
        );
        return Err(Failure(1, text));
    }
    sfn.send_task_success(&wait.task_token, &json!(true))
        .await?;
    println!(
        "every parent server ({}) delegates {} to {wanted}: resumed {arn}",
        views.len(),
        target
    );
    println!("  watch it: zonehop watch {arn}");
    Ok(0)
}
