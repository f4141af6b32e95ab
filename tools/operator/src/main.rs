//! `zonehop`: the operator's command line for migrations in AWS (or against the emulator,
//! with `AWS_ENDPOINT_URL`).
//!
//!     zonehop start REQUEST.json [--state-machine ARN] [--via-eventbridge BUS] [--name NAME]
//!     zonehop watch EXECUTION_ARN|DOMAIN [--state-machine ARN] [--poll SECONDS]
//!     zonehop report EXECUTION_ARN|DOMAIN [--out DIR] [--state-machine ARN]
//!     zonehop resume DOMAIN [--state-machine ARN] [--resolver ADDR] [--dns-port PORT]
//!
//! The state machine is `--state-machine`, else `ZONEHOP_STATE_MACHINE_ARN`; to find a
//! DOMAIN's execution without either, every state machine of the account is searched.
//! Exit status: 0 done (for `watch`, the execution succeeded), 1 refused or failed (the
//! reason in one line), 2 bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use zonehop::adapters::wire_dns::WireDns;
use zonehop::ports::dns::lookup::parse_resolver;
use zonehop_operator::progress::Progress;
use zonehop_operator::report;
use zonehop_operator::resume::{all_name, parent_views, waiting};
use zonehop_operator::sfn::Sfn;
use zonehop_operator::watch::{follow, FollowOptions, NobodyAnswers, View};
use zonehop_operator::OperatorError;

const USAGE: &str =
    "usage: zonehop start REQUEST.json [--state-machine ARN] [--via-eventbridge BUS] [--name NAME]
       zonehop watch EXECUTION_ARN|DOMAIN [--state-machine ARN] [--poll SECONDS]
       zonehop report EXECUTION_ARN|DOMAIN [--out DIR] [--state-machine ARN]
       zonehop resume DOMAIN [--state-machine ARN] [--resolver ADDR] [--dns-port PORT]";

/// A failure: its one line and exit status.
struct Failure(u8, String);

impl From<OperatorError> for Failure {
    fn from(e: OperatorError) -> Failure {
        Failure(1, e.to_string())
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure(2, format!("{}\n{USAGE}", message.into()))
}

struct Args {
    command: String,
    target: String,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(allowed: &[(&str, &[&str])]) -> Result<Args, Failure> {
        let mut it = std::env::args().skip(1);
        let command = it.next().ok_or_else(|| usage("no command"))?;
        if matches!(command.as_str(), "-h" | "--help" | "help") {
            return Err(Failure(0, USAGE.to_owned()));
        }
        let flags = allowed
            .iter()
            .find(|(c, _)| *c == command)
            .map(|(_, f)| *f)
            .ok_or_else(|| usage(format!("unknown command `{command}`")))?;
        let mut target = None;
        let mut options = Vec::new();
        while let Some(arg) = it.next() {
            if let Some(flag) = arg.strip_prefix("--") {
                if !flags.contains(&flag) {
                    return Err(usage(format!("{command}: unknown option --{flag}")));
                }
                let value = it
                    .next()
                    .ok_or_else(|| usage(format!("--{flag} needs a value")))?;
                options.push((flag.to_owned(), value));
            } else if target.is_none() {
                target = Some(arg);
            } else {
                return Err(usage(format!(
                    "{command}: one argument only, got `{arg}` too"
                )));
            }
        }
        let target = target.ok_or_else(|| usage(format!("{command}: what? (see usage)")))?;
        Ok(Args {
            command,
            target,
            options,
        })
    }

    fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn state_machine(&self) -> Option<String> {
        self.option("state-machine")
            .map(str::to_owned)
            .or_else(|| std::env::var("ZONEHOP_STATE_MACHINE_ARN").ok())
            .filter(|s| !s.is_empty())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let allowed: &[(&str, &[&str])] = &[
        ("start", &["state-machine", "via-eventbridge", "name"]),
        ("watch", &["state-machine", "poll"]),
        ("report", &["state-machine", "out"]),
        ("resume", &["state-machine", "resolver", "dns-port"]),
    ];
    let result = match Args::parse(allowed) {
        Ok(args) => run(&args).await,
        Err(failure) => Err(failure),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure(0, text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure(code, text)) => {
            eprintln!("zonehop: {text}");
            ExitCode::from(code)
        }
    }
}

async fn run(args: &Args) -> Result<u8, Failure> {
    match args.command.as_str() {
        "start" => start(args).await,
        "watch" => watch(args).await,
        "report" => write_report(args).await,
        "resume" => resume(args).await,
        other => Err(usage(format!("unknown command `{other}`"))),
    }
}

async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

async fn start(args: &Args) -> Result<u8, Failure> {
    let path = PathBuf::from(&args.target);
    let text = std::fs::read_to_string(&path)
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
    if let Some(bus) = args.option("via-eventbridge") {
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
            .map_err(|e| {
                Failure(
                    1,
                    format!(
                        "PutEvents: {}",
                        aws_sdk_eventbridge::error::DisplayErrorContext(&e)
                    ),
                )
            })?;
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
        println!("put the Migration Requested event {id} for {domain} on the bus {bus}; the rule starts the execution (then: zonehop watch {domain})");
        return Ok(0);
    }
    let machine = args.state_machine().ok_or_else(|| {
        usage("start: which state machine? --state-machine ARN or ZONEHOP_STATE_MACHINE_ARN")
    })?;
    let arn = Sfn::new(&config)
        .start(&machine, args.option("name"), &request)
        .await?;
    println!("started {arn}");
    println!("  watch it: zonehop watch {arn}");
    Ok(0)
}

/// The execution named by ARN, or the newest of DOMAIN (the running one first).
async fn execution_of(sfn: &Sfn, args: &Args, target: &str) -> Result<String, Failure> {
    if target.starts_with("arn:") {
        return Ok(target.to_owned());
    }
    let machines = match args.state_machine() {
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

async fn watch(args: &Args) -> Result<u8, Failure> {
    let poll = match args.option("poll") {
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0 && *s <= 3600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| usage(format!("--poll {text}: seconds, more than 0")))?,
        None => Duration::from_secs(5),
    };
    let config = config().await;
    let sfn = Sfn::new(&config);
    let arn = execution_of(&sfn, args, &args.target).await?;
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

async fn write_report(args: &Args) -> Result<u8, Failure> {
    let config = config().await;
    let sfn = Sfn::new(&config);
    let arn = execution_of(&sfn, args, &args.target).await?;
    let history = sfn.history(&arn).await?;
    let (report, _) = report::from_history(&arn, &history, &Default::default());
    let dir = args
        .option("out")
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let (json_path, html_path) = report::write(&dir, &report)?;
    println!(
        "{} ({}): {} and {}",
        arn,
        report["status"].as_str().unwrap_or("?"),
        json_path.display(),
        html_path.display()
    );
    Ok(0)
}

async fn resume(args: &Args) -> Result<u8, Failure> {
    let domain = zonehop::core::request::parse_domain(&args.target)
        .map_err(|e| usage(format!("resume: {}: {e}", args.target)))?;
    let port = match args.option("dns-port") {
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| usage(format!("--dns-port {text}: a port number")))?,
        None => 53,
    };
    let config = config().await;
    let sfn = Sfn::new(&config);
    let machines = match args.state_machine() {
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
                args.target,
                running.len()
            ),
        ));
    };
    let resolver_text = args
        .option("resolver")
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
            args.target
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
        args.target
    );
    println!("  watch it: zonehop watch {arn}");
    Ok(0)
}
