//! Following an execution live: each event's lines as they come (phases, each step's
//! result, each propagation round with the time left until safe), with progress bars on the
//! long steps when stderr is a terminal. `zonehop watch` and `make rehearse` both run
//! [`follow`]; on a finished execution it prints the whole story once and returns.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_types::DateTime;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::history::HistoryEvent;
use crate::progress::Progress;
use crate::sfn::Sfn;
use crate::OperatorError;

/// Who answers when the execution asks an operator (`registrar.type: manual`).
pub trait Operator {
    /// Called once per request (`awaiting-operator` event detail); returns lines to print.
    fn asked(
        &mut self,
        sfn: &Sfn,
        request: &Value,
    ) -> impl Future<Output = Result<Vec<String>, OperatorError>>;

    /// Called for each new history event, after `progress` took it in (the rehearsal
    /// injects its faults here); returns lines to print.
    fn observed(
        &mut self,
        _event: &HistoryEvent,
        _progress: &Progress,
    ) -> impl Future<Output = Vec<String>> {
        async { Vec::new() }
    }

    /// Called once per poll, after the new events; returns lines to print.
    fn tick(&mut self, _progress: &Progress) -> impl Future<Output = Vec<String>> {
        async { Vec::new() }
    }
}

/// A watcher only: says what the operator has to do.
#[derive(Debug, Default)]
pub struct NobodyAnswers;

impl Operator for NobodyAnswers {
    async fn asked(&mut self, _: &Sfn, _: &Value) -> Result<Vec<String>, OperatorError> {
        Ok(vec![
            "  (waiting for the operator; this watch goes on until the execution moves)".to_owned(),
        ])
    }
}

/// How to follow.
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    /// How often the history is read again.
    pub poll: Duration,
    /// Give up (an error) after this long; `None`: until the execution ends.
    pub timeout: Option<Duration>,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions {
            poll: Duration::from_secs(5),
            timeout: None,
        }
    }
}

/// The steps that take long enough for a bar.
const LONG_STEPS: [&str; 3] = ["Sync Records", "Verify Zones", "Delegate Subdomains"];

/// The terminal side: lines on stdout, bars on stderr (only when it is a terminal).
#[derive(Debug)]
pub struct View {
    bars: MultiProgress,
    step: Option<ProgressBar>,
    window: Option<ProgressBar>,
    /// The execution's start, for each line's `[+time]`.
    started: Option<DateTime>,
    /// The last round's safe time (epoch seconds), for the time left.
    safe_at: Option<i64>,
    window_from: Option<i64>,
    /// Every line printed, in order (what a test or a log keeps).
    pub printed: Vec<String>,
}

impl Default for View {
    fn default() -> View {
        View::new()
    }
}

fn offset(seconds: f64) -> String {
    if seconds < 3600.0 {
        format!("+{seconds:>6.1}s")
    } else {
        let s = seconds as u64;
        format!("+{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl View {
    /// Bars drawn on stderr when it is a terminal, else none (lines only).
    pub fn new() -> View {
        View::with_target(ProgressDrawTarget::stderr())
    }

    /// Lines only.
    pub fn plain() -> View {
        View::with_target(ProgressDrawTarget::hidden())
    }

    fn with_target(target: ProgressDrawTarget) -> View {
        View {
            bars: MultiProgress::with_draw_target(target),
            step: None,
            window: None,
            started: None,
            safe_at: None,
            window_from: None,
            printed: Vec::new(),
        }
    }

    /// Prints one line (above the bars), prefixed with the time since the execution started.
    pub fn line(&mut self, at: DateTime, line: &str) {
        let since = self
            .started
            .map_or(0.0, |s| (at.as_secs_f64() - s.as_secs_f64()).max(0.0));
        let text = format!("[{}] {line}", offset(since));
        self.say(&text);
    }

    /// Prints one line as is.
    pub fn say(&mut self, text: &str) {
        if self.bars.is_hidden() {
            println!("{text}");
        } else {
            let _ = self.bars.println(text);
        }
        self.printed.push(text.to_owned());
    }

    /// Takes one event in: starts and ends the bars.
    fn event(&mut self, event: &HistoryEvent, progress: &Progress, live: bool) {
        if event.event_type == "ExecutionStarted" {
            self.started = Some(event.timestamp);
        }
        if let Some(state) = event.state_entered() {
            if live && LONG_STEPS.contains(&state) {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(state.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.step = Some(bar);
            }
        }
        if event
            .state_exited()
            .is_some_and(|s| LONG_STEPS.contains(&s))
        {
            if let Some(bar) = self.step.take() {
                bar.finish_and_clear();
            }
        }
        if event.state_exited() == Some("Check Propagation") {
            let p = progress.propagation.as_ref();
            self.safe_at = p.and_then(|p| p["safeAt"].as_i64());
            let from = p
                .and_then(|p| p["parentSwitchSeenAt"].as_i64())
                .or_else(|| progress.rounds.first().map(|r| r.checked_at));
            self.window_from = self.window_from.or(from);
            if live && self.window.is_none() {
                let bar = self.bars.add(ProgressBar::new(1));
                bar.set_style(
                    ProgressStyle::with_template("window [{bar:40}] {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                self.window = Some(bar);
            }
            if p.is_some_and(|p| p["safe"] == true) {
                if let Some(bar) = self.window.take() {
                    bar.finish_and_clear();
                }
            }
        }
        if event.ends_execution() {
            self.finish();
        }
    }

    /// Moves the window's bar to now: how much of it has passed, the time left until safe.
    fn tick(&mut self, progress: &Progress) {
        let (Some(bar), Some(safe), Some(from)) = (&self.window, self.safe_at, self.window_from)
        else {
            return;
        };
        let now = now_secs();
        bar.set_length(u64::try_from((safe - from).max(1)).unwrap_or(1));
        bar.set_position(u64::try_from((now - from).max(0)).unwrap_or(0));
        let round = progress.rounds.last();
        bar.set_message(format!(
            "{} s left until safe; parent servers on new {}/{}, resolvers on new {}/{}",
            (safe - now).max(0),
            round.and_then(|r| r.parent_on_new).unwrap_or(0),
            round.and_then(|r| r.parent_total).unwrap_or(0),
            round.map_or(0, |r| r.resolvers_on_new),
            round.map_or(0, |r| r.resolvers_total),
        ));
    }

    /// Clears every bar.
    pub fn finish(&mut self) {
        for bar in [self.step.take(), self.window.take()].into_iter().flatten() {
            bar.finish_and_clear();
        }
    }
}

/// Follows the execution `arn` until it ends: prints each new event's lines through `view`,
/// hands an operator request to `operator` once, and returns the whole history. On an
/// execution that has already ended, prints its whole story and returns at once.
pub async fn follow<O: Operator>(
    sfn: &Sfn,
    arn: &str,
    progress: &mut Progress,
    view: &mut View,
    operator: &mut O,
    options: FollowOptions,
) -> Result<Vec<HistoryEvent>, OperatorError> {
    let begun = Instant::now();
    let mut seen = 0;
    loop {
        let history = sfn.history(arn).await?;
        let ended = history.iter().any(HistoryEvent::ends_execution);
        let before = seen;
        for event in history.iter().filter(|e| e.id > before) {
            let lines = progress.observe(event);
            view.event(event, progress, !ended);
            for line in lines {
                view.line(event.timestamp, &line);
            }
            for line in operator.observed(event, progress).await {
                view.line(event.timestamp, &line);
            }
            seen = event.id;
        }
        let now = history
            .last()
            .map_or(DateTime::from_secs(0), |e| e.timestamp);
        for line in operator.tick(progress).await {
            view.line(now, &line);
        }
        if let Some(request) = progress.operator_request.take() {
            if !ended {
                let at = history
                    .last()
                    .map_or(DateTime::from_secs(0), |e| e.timestamp);
                for line in operator.asked(sfn, &request).await? {
                    view.line(at, &line);
                }
            }
        }
        if ended {
            view.finish();
            return Ok(history);
        }
        view.tick(progress);
        if options.timeout.is_some_and(|t| begun.elapsed() > t) {
            view.finish();
            return Err(OperatorError::StillRunning {
                arn: arn.to_owned(),
                waited_seconds: begun.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(options.poll).await;
    }
}
