//! The fault proxy: a small HTTP/1.1 proxy on loopback between the functions (their
//! `AWS_ENDPOINT_URL`) and moto. Whatever it does not touch goes to moto unchanged (STS,
//! Step Functions, EventBridge, and every call when no fault applies); one request per
//! connection (`Connection: close` both ways), so a dropped connection is one call's.
//!
//! - `api-faults=N`: each Route 53 call (`/2013-04-01/...`) and Route 53 Domains call
//!   (`X-Amz-Target: Route53Domains_v20140515.*`) is, with probability N% (a seeded RNG: the
//!   same seed, the same draws), answered with throttling (HTTP 400 `Throttling` /
//!   `ThrottlingException`), a 503 `ServiceUnavailable`, a 500 `InternalFailure`, or delayed
//!   1-3 s and then forwarded, or its connection dropped unanswered (not forwarded).
//! - crash (`crash-sync`, `crash-delegate`): the first ChangeResourceRecordSets that a
//!   named function binary sends is forwarded to moto, and once moto has applied it the
//!   process that sent it is killed (SIGKILL) and its connection dropped: the real binary
//!   dies mid-invocation, as in a Lambda timeout or crash. The process is found by its
//!   socket (`/proc/net/tcp`, then `/proc/<pid>/fd`), and killed only when it is the named
//!   binary and a descendant of this process (the rehearsal started it).
//!   So that the execution hears of it as Step Functions hears of a Lambda timeout or crash,
//!   moto's Lambda invokes come through the proxy too (`--lambda-endpoint`, then on to
//!   `cargo lambda watch`, [`FaultProxy::set_lambda_upstream`]): an invocation of the killed
//!   function is answered with a function error `Lambda.Unknown` (what Step Functions reports
//!   for a Lambda that timed out or ran out of memory: no error type from the function)
//!   instead of hanging, as `cargo lambda watch` does when its function process dies. And as
//!   Lambda starts a new sandbox for the next invoke, the proxy has a new `cargo lambda watch`
//!   started ([`FaultProxy::on_crash`]) and sends the invokes there from then on (the old
//!   one never runs a killed function again).
//! - deny (`cleanup-fails`, `cutover-fails`): every Route 53 call of a named binary gets
//!   403 `AccessDenied`.
//! - crash at a step (`crash-at=STEP`): every invoke of the named function is forwarded
//!   (the function does its work) and its answer replaced with the function error a crashed
//!   runtime gives (`Runtime.ExitError`, which no Retry of the state machine covers): the
//!   step's writes are made, but the execution sees the step fail past its retries.
//!
//! - [`FaultProxy::disarm`] ends every injection at once (`AGAIN=1`: the second execution
//!   runs with the faults off); the meter goes on.
//! - registrar (`registrar-slow`, `registrar-fails`): the first UpdateDomainNameservers is
//!   held, not forwarded; its operation is IN_PROGRESS for a while and then applied and
//!   SUCCESSFUL (slow), or FAILED and never applied (fails). A second
//!   UpdateDomainNameservers while it is in progress is refused (`DuplicateRequest`), as
//!   Route 53 Domains does.
//!
//! - gates (`edit-storm`): every Lambda invoke of a gated function (moto's, on its way to
//!   `cargo lambda watch`) waits for a permit, which the rehearsal gives once it has seen
//!   the task in the execution's history and done what that moment calls for (the storm's
//!   edits of a phase): so a function cannot read the zones before the edits of its phase
//!   are written, whatever the timing ([`FaultProxy::release`]). A permit not given within
//!   [`GATE_PATIENCE`] lets the invoke through and is logged (`gate timed out`).
//!
//! - rate (`rehearse-fleet`): every Route 53 call is timed and put to the account that signed
//!   it, and with a limit set ([`FaultProxy::limit_route53_rate`]) refused with Route 53's
//!   `Throttling` once that account's token bucket is empty (`super::rate`).
//!
//! Everything injected is counted ([`ProxyCounts`]) and logged with its time.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy injects.
#[derive(Debug, Clone, Default)]
pub struct ProxyPlan {
    /// `api-faults=N`: N% of Route 53 and Route 53 Domains calls (0: none).
    pub api_fault_percent: u8,
    /// The RNG's seed (printed in the report, so a run can be repeated).
    pub seed: u64,
    /// Function binaries killed after their first ChangeResourceRecordSets.
    pub crash_after_first_change: Vec<String>,
    /// Function binaries whose every Route 53 call is refused (AccessDenied).
    pub deny: Vec<String>,
    pub registrar: Option<RegistrarFault>,
    /// Function binaries whose every invoke waits for a permit ([`FaultProxy::release`]).
    pub gates: Vec<String>,
    /// Function binaries whose every invoke runs and is then answered as a crash
    /// (`crash-at=`).
    pub fail_after_invoke: Vec<String>,
}

/// The longest a gated invoke waits for its permit before it is let through anyway.
pub const GATE_PATIENCE: Duration = Duration::from_secs(120);

/// What becomes of the registrar's first UpdateDomainNameservers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrarFault {
    /// IN_PROGRESS for this long, then applied and SUCCESSFUL.
    Slow(Duration),
    /// FAILED, never applied.
    Fails,
}

/// What the proxy did, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyCounts {
    /// Route 53 and Route 53 Domains calls seen (eligible for api-faults).
    pub api_calls: u64,
    pub throttled: u64,
    pub unavailable_503: u64,
    pub internal_500: u64,
    pub slowed: u64,
    pub dropped: u64,
    /// Function processes killed after their first change batch: (binary, pid).
    pub killed: Vec<(String, u32)>,
    pub denied: u64,
    /// Invokes answered as a crash after the function ran (`crash-at=`).
    pub crashed_invokes: u64,
    /// GetOperationDetail answers IN_PROGRESS / FAILED for the held operation.
    pub registrar_in_progress: u64,
    pub registrar_failed: u64,
    pub registrar_refused_duplicate: u64,
    /// Seconds the held operation was IN_PROGRESS before it was applied (slow).
    pub registrar_applied_after: Option<f64>,
}

impl ProxyCounts {
    pub fn to_json(&self) -> Value {
        json!({
            "apiCalls": self.api_calls,
            "throttled": self.throttled,
            "unavailable503": self.unavailable_503,
            "internal500": self.internal_500,
            "slowed": self.slowed,
            "dropped": self.dropped,
            "injected": self.throttled + self.unavailable_503 + self.internal_500 + self.slowed + self.dropped,
            "killed": self.killed.iter().map(|(b, p)| json!({"binary": b, "pid": p})).collect::<Vec<_>>(),
            "denied": self.denied,
            "crashedInvokes": self.crashed_invokes,
            "registrarInProgress": self.registrar_in_progress,
            "registrarFailed": self.registrar_failed,
            "registrarRefusedDuplicate": self.registrar_refused_duplicate,
            "registrarAppliedAfterSeconds": self.registrar_applied_after,
        })
    }
}

/// Starts a fresh `cargo lambda watch` after a crash and returns its port (the rehearsal
/// keeps it running).
#[derive(Clone)]
pub struct Respawner(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<u16, String>> + Send>> + Send + Sync>,
);

impl std::fmt::Debug for Respawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Respawner")
    }
}

/// One injection, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub what: String,
    pub call: String,
}

#[derive(Debug)]
struct HeldOperation {
    id: String,
    submitted: Instant,
    submitted_epoch: f64,
    request: Request,
    applied: bool,
}

#[derive(Debug)]
struct State {
    upstream: u16,
    plan: ProxyPlan,
    rng: Mutex<StdRng>,
    counts: Mutex<ProxyCounts>,
    log: Mutex<Vec<Injection>>,
    held: tokio::sync::Mutex<Option<HeldOperation>>,
    crashed: Mutex<Vec<String>>,
    /// `cargo lambda watch`'s port, for moto's Lambda invokes (0: not set).
    lambda_upstream: AtomicU16,
    /// Every function binary killed so far (each invoke in flight watches it).
    killed: tokio::sync::watch::Sender<Vec<String>>,
    respawn: Mutex<Option<Respawner>>,
    /// Serializes respawns: one new watch per crash.
    respawning: tokio::sync::Mutex<usize>,
    /// Route 53 calls per account, and the emulated rate limit.
    meter: Mutex<super::rate::Meter>,
    /// Per gated function, the permits its invokes wait for.
    gates: BTreeMap<String, Arc<tokio::sync::Semaphore>>,
    /// False once [`FaultProxy::disarm`]ed: every call is forwarded untouched (and metered).
    armed: std::sync::atomic::AtomicBool,
}

/// A running fault proxy; stops on drop.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[error("the fault proxy could not listen on loopback: {0}")]
pub struct ProxyError(String);

impl FaultProxy {
    /// Listens on a free loopback port and forwards to moto on `upstream` (127.0.0.1).
    pub async fn start(upstream: u16, plan: ProxyPlan) -> Result<FaultProxy, ProxyError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| ProxyError(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| ProxyError(e.to_string()))?
            .port();
        let gates = plan
            .gates
            .iter()
            .map(|f| (f.clone(), Arc::new(tokio::sync::Semaphore::new(0))))
            .collect();
        let state = Arc::new(State {
            upstream,
            gates,
            rng: Mutex::new(StdRng::seed_from_u64(plan.seed)),
            plan,
            counts: Mutex::new(ProxyCounts::default()),
            log: Mutex::new(Vec::new()),
            held: tokio::sync::Mutex::new(None),
            crashed: Mutex::new(Vec::new()),
            lambda_upstream: AtomicU16::new(0),
            killed: tokio::sync::watch::channel(Vec::new()).0,
            respawn: Mutex::new(None),
            respawning: tokio::sync::Mutex::new(0),
            meter: Mutex::new(super::rate::Meter::default()),
            armed: std::sync::atomic::AtomicBool::new(true),
        });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, peer)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(&state, client, peer).await;
                });
            }
        });
        Ok(FaultProxy { port, state, task })
    }

    /// The endpoint to give the functions (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forwards moto's Lambda invokes (`/2015-03-31/functions/NAME/invocations`, moto's
    /// `--lambda-endpoint` being [`FaultProxy::endpoint`]) to `cargo lambda watch` on `port`.
    pub fn set_lambda_upstream(&self, port: u16) {
        self.state.lambda_upstream.store(port, Ordering::SeqCst);
    }

    /// What starts a new `cargo lambda watch` once a function was killed.
    pub fn on_crash(&self, respawn: Respawner) {
        if let Ok(mut slot) = self.state.respawn.lock() {
            *slot = Some(respawn);
        }
    }

    pub fn counts(&self) -> ProxyCounts {
        self.state
            .counts
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Emulates Route 53's per-account request rate: a call over it gets HTTP 400
    /// `Throttling` ("Rate exceeded") and never reaches moto. `None`: no limit.
    pub fn limit_route53_rate(&self, limit: Option<super::rate::RateLimit>) {
        if let Ok(mut meter) = self.state.meter.lock() {
            meter.set_limit(limit);
        }
    }

    /// Every Route 53 call seen so far, with its account and whether it was throttled.
    pub fn route53_calls(&self) -> Vec<super::rate::MeteredCall> {
        self.state
            .meter
            .lock()
            .map(|m| m.calls())
            .unwrap_or_default()
    }

    /// Lets one invoke of the gated `function` through (the one waiting, or the next).
    /// Returns false when `function` is not gated.
    pub fn release(&self, function: &str) -> bool {
        match self.state.gates.get(function) {
            Some(gate) => {
                gate.add_permits(1);
                true
            }
            None => false,
        }
    }

    /// Ends every injection from now on (a held registrar operation stays as it is; the
    /// gates open): calls are forwarded untouched and still metered.
    pub fn disarm(&self) {
        self.state.armed.store(false, Ordering::SeqCst);
        for gate in self.state.gates.values() {
            gate.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
        }
    }

    pub fn injections(&self) -> Vec<Injection> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP request as read from a client.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    /// Header lines, without the request line, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// `Route53Domains_v20140515.GetOperationDetail` -> `GetOperationDetail`.
    fn domains_operation(&self) -> Option<&str> {
        self.header("x-amz-target")?
            .strip_prefix("Route53Domains_v20140515.")
    }

    fn is_route53(&self) -> bool {
        self.path().starts_with("/2013-04-01/")
    }

    /// The function a Lambda invoke names (`/2015-03-31/functions/NAME/invocations`).
    fn invoked_function(&self) -> Option<String> {
        let rest = self.path().strip_prefix("/2015-03-31/functions/")?;
        let name = rest.strip_suffix("/invocations")?;
        Some(name.to_owned())
    }

    fn is_change_batch(&self) -> bool {
        self.method == "POST" && self.is_route53() && self.path().ends_with("/rrset")
    }

    /// `POST /2013-04-01/hostedzone/Z1/rrset` or `UpdateDomainNameservers`.
    fn describe(&self) -> String {
        match self.domains_operation() {
            Some(op) => format!("route53domains {op}"),
            None => format!("{} {}", self.method, self.path()),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (k, v) in &self.headers {
            if [
                "connection",
                "content-length",
                "transfer-encoding",
                "keep-alive",
            ]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        // Read until the last chunk, then decode.
        while find(&rest, b"0\r\n\r\n").is_none() {
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        let mut body = Vec::new();
        let mut at = 0;
        while let Some(eol) = find(&rest[at..], b"\r\n") {
            let size_text = String::from_utf8_lossy(&rest[at..at + eol]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            at += eol + 2;
            if size == 0 || at + size > rest.len() {
                break;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        request.body = body;
    } else {
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < length {
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        request.body = rest;
    }
    Ok(Some(request))
}

/// Sends `request` to moto and returns its whole response (moto closes after it).
async fn forward(upstream: u16, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut moto = TcpStream::connect(("127.0.0.1", upstream)).await?;
    moto.write_all(&request.to_bytes()).await?;
    let mut response = Vec::new();
    moto.read_to_end(&mut response).await?;
    Ok(with_connection_close(&response))
}

/// `response` with its Connection header replaced by `close` (the client must not reuse
/// the connection: the proxy answers one request per connection).
fn with_connection_close(response: &[u8]) -> Vec<u8> {
    let Some(head_end) = find(response, b"\r\n\r\n") else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let mut out = Vec::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&response[head_end + 4..]);
    out
}

fn reply(status: u16, reason: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: 7b1c2d3e-0000-4000-8000-00000000fa17\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Route 53's own XML error body.
fn route53_error(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    reply(
        status,
        reason,
        "text/xml",
        &format!(
            r#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>7b1c2d3e-0000-4000-8000-00000000fa17</RequestId></ErrorResponse>"#
        ),
    )
}

/// Route 53 Domains' JSON error body.
fn domains_error(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    reply(
        status,
        reason,
        "application/x-amz-json-1.1",
        &json!({ "__type": code, "message": message }).to_string(),
    )
}

fn now_ms() -> i64 {
    crate::prober::now_ms()
}

impl State {
    fn count(&self, f: impl FnOnce(&mut ProxyCounts)) {
        if let Ok(mut counts) = self.counts.lock() {
            f(&mut counts);
        }
    }

    fn note(&self, what: &str, request: &Request) {
        if let Ok(mut log) = self.log.lock() {
            log.push(Injection {
                at_ms: now_ms(),
                what: what.to_owned(),
                call: request.describe(),
            });
        }
    }

    fn armed(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    fn draw(&self) -> Option<(u32, u64)> {
        let mut rng = self.rng.lock().ok()?;
        let hit = rng.random_range(0..100u32) < u32::from(self.plan.api_fault_percent);
        let kind = rng.random_range(0..5u32);
        let delay_ms = rng.random_range(1_000..3_000u64);
        hit.then_some((kind, delay_ms))
    }
}

async fn serve(state: &State, mut client: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    if let Some(function) = request.invoked_function() {
        return invoke(state, client, &request, &function).await;
    }
    let route53 = request.is_route53();
    let domains = request.domains_operation().map(str::to_owned);
    if !route53 && domains.is_none() {
        let response = forward(state.upstream, &request).await?;
        if String::from_utf8_lossy(&request.body).contains("Action=AssumeRole") {
            if let Ok(mut meter) = state.meter.lock() {
                meter.learn_from_sts(&String::from_utf8_lossy(&response));
            }
        }
        return client.write_all(&response).await;
    }
    state.count(|c| c.api_calls += 1);
    if route53 {
        let throttled = state.meter.lock().is_ok_and(|mut meter| {
            let account = meter.account_of(request.header("authorization"));
            meter.admit(account, now_ms())
        });
        if throttled {
            state.count(|c| c.throttled += 1);
            let response = route53_error(400, "Bad Request", "Throttling", "Rate exceeded");
            return client.write_all(&response).await;
        }
    }
    if !state.armed() {
        let response = forward(state.upstream, &request).await?;
        return client.write_all(&response).await;
    }
    let binary = if state.plan.deny.is_empty() && state.plan.crash_after_first_change.is_empty() {
        None
    } else {
        client
            .local_addr()
            .ok()
            .and_then(|local| caller_binary(peer, local))
    };
    if binary.is_none()
        && request.is_change_batch()
        && !state.plan.crash_after_first_change.is_empty()
    {
        state.note(
            "a change batch from a caller that could not be identified",
            &request,
        );
    }

    // cleanup-fails: the named binary may not touch Route 53.
    if let Some((name, _)) = &binary {
        if route53 && state.plan.deny.contains(name) {
            state.count(|c| c.denied += 1);
            state.note(&format!("AccessDenied for {name}"), &request);
            let response = route53_error(
                403,
                "Forbidden",
                "AccessDenied",
                &format!("User: {name} is not authorized to perform this action (zonehop fault: every Route 53 call of {name} denied)"),
            );
            return client.write_all(&response).await;
        }
    }

    // registrar-slow / registrar-fails.
    if let (Some(op), Some(fault)) = (domains.as_deref(), state.plan.registrar) {
        if let Some(response) = registrar(state, fault, op, &request).await {
            return client.write_all(&response).await;
        }
    }

    // api-faults=N (never on the crash's own change batch: it must reach moto).
    if let Some((kind, delay_ms)) = state.draw() {
        let (status, code) = match kind {
            0 => (400, "Throttling"),
            1 => (503, "ServiceUnavailable"),
            2 => (500, "InternalFailure"),
            3 => (0, "slow"),
            _ => (0, "drop"),
        };
        match code {
            "slow" => {
                state.count(|c| c.slowed += 1);
                state.note(&format!("slow answer ({delay_ms} ms)"), &request);
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            "drop" => {
                state.count(|c| c.dropped += 1);
                state.note("connection dropped, not forwarded", &request);
                return client.shutdown().await;
            }
            _ => {
                state.count(|c| match status {
                    400 => c.throttled += 1,
                    503 => c.unavailable_503 += 1,
                    _ => c.internal_500 += 1,
                });
                state.note(&format!("HTTP {status} {code}"), &request);
                let reason = match status {
                    400 => "Bad Request",
                    503 => "Service Unavailable",
                    _ => "Internal Server Error",
                };
                let response = if route53 {
                    route53_error(status, reason, code, "zonehop fault: api-faults")
                } else {
                    let code = if status == 400 {
                        "ThrottlingException"
                    } else {
                        code
                    };
                    domains_error(status, reason, code, "zonehop fault: api-faults")
                };
                return client.write_all(&response).await;
            }
        }
    }

    let response = forward(state.upstream, &request).await?;

    // crash-*: the named binary dies once its first change batch is applied.
    if request.is_change_batch() {
        if let Some((name, pid)) = &binary {
            let first = state.plan.crash_after_first_change.contains(name)
                && state
                    .crashed
                    .lock()
                    .map(|mut done| {
                        if done.contains(name) {
                            false
                        } else {
                            done.push(name.clone());
                            true
                        }
                    })
                    .unwrap_or(false);
            if first {
                let killed = kill(*pid).await;
                state.note(
                    &format!(
                        "{name} (pid {pid}) killed after its first change batch was applied{}",
                        if killed { "" } else { " (kill failed)" }
                    ),
                    &request,
                );
                if killed {
                    state.count(|c| c.killed.push((name.clone(), *pid)));
                    state.killed.send_modify(|list| list.push(name.clone()));
                }
                return client.shutdown().await;
            }
        }
    }
    client.write_all(&response).await
}

/// A Lambda invoke from moto: forwarded to `cargo lambda watch`, unless the function's
/// process is killed meanwhile, when the invoke gets the function error Step Functions sees
/// for a Lambda timeout or crash (`Lambda.Unknown`).
async fn invoke(
    state: &State,
    mut client: TcpStream,
    request: &Request,
    function: &str,
) -> std::io::Result<()> {
    if let Some(gate) = state.gates.get(function).filter(|_| state.armed()) {
        match tokio::time::timeout(GATE_PATIENCE, gate.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => state.note(&format!("gate timed out: {function} let through"), request),
        }
    }
    let upstream = state.lambda_upstream.load(Ordering::SeqCst);
    let mut killed = state.killed.subscribe();
    let before = killed.borrow().iter().filter(|k| *k == function).count();
    let crashed = async {
        loop {
            if killed.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            if killed.borrow().iter().filter(|k| *k == function).count() > before {
                return;
            }
        }
    };
    let crash_at = state.armed() && state.plan.fail_after_invoke.iter().any(|f| f == function);
    tokio::select! {
        answered = forward(upstream, request) => {
            let response = answered?;
            if crash_at {
                state.count(|c| c.crashed_invokes += 1);
                state.note(&format!("{function} invoke answered as a crash after it ran (Runtime.ExitError)"), request);
                let body = json!({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": format!("{function}: the runtime exited after the function's work, before its answer (zonehop fault: crash-at={function})"),
                });
                return client
                    .write_all(&reply(500, "Internal Server Error", "application/json", &body.to_string()))
                    .await;
            }
            client.write_all(&response).await
        }
        () = crashed => {
            // A new sandbox for the next invoke: a fresh cargo lambda watch.
            let respawn = state.respawn.lock().ok().and_then(|r| r.clone());
            if let Some(Respawner(respawn)) = respawn {
                let mut done = state.respawning.lock().await;
                let crashes = state.killed.borrow().len();
                if *done < crashes {
                    match respawn().await {
                        Ok(port) => {
                            state.lambda_upstream.store(port, Ordering::SeqCst);
                            state.note(&format!("a new cargo lambda watch serves the functions (port {port})"), request);
                        }
                        Err(e) => state.note(&format!("no new cargo lambda watch: {e}"), request),
                    }
                    *done = crashes;
                }
            }
            let body = json!({
                "errorType": "Lambda.Unknown",
                "errorMessage": format!("{function}: the function's process was killed mid-invocation (zonehop fault); Step Functions reports a Lambda timeout or out-of-memory so: The cause could not be determined because Lambda did not return an error type."),
            });
            client
                .write_all(&reply(500, "Internal Server Error", "application/json", &body.to_string()))
                .await
        }
    }
}

/// The held UpdateDomainNameservers: the answer the proxy gives instead of moto's, if any.
async fn registrar(
    state: &State,
    fault: RegistrarFault,
    op: &str,
    request: &Request,
) -> Option<Vec<u8>> {
    let mut held = state.held.lock().await;
    match op {
        "UpdateDomainNameservers" => match held.as_ref() {
            None => {
                let id = "zonehop-fault-operation-1".to_owned();
                *held = Some(HeldOperation {
                    id: id.clone(),
                    submitted: Instant::now(),
                    submitted_epoch: now_ms() as f64 / 1000.0,
                    request: request.clone(),
                    applied: false,
                });
                state.note("UpdateDomainNameservers held by the registrar", request);
                Some(reply(
                    200,
                    "OK",
                    "application/x-amz-json-1.1",
                    &json!({ "OperationId": id }).to_string(),
                ))
            }
            Some(h) if !h.applied && matches!(fault, RegistrarFault::Slow(_)) => {
                state.count(|c| c.registrar_refused_duplicate += 1);
                state.note(
                    "DuplicateRequest: the first operation is in progress",
                    request,
                );
                Some(domains_error(
                    400,
                    "Bad Request",
                    "DuplicateRequest",
                    "The request is already in progress for the domain.",
                ))
            }
            // After the held one ended: as moto answers.
            Some(_) => None,
        },
        "GetOperationDetail" => {
            let asked: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let h = held.as_mut()?;
            if asked["OperationId"] != h.id.as_str() {
                return None;
            }
            let domain = serde_json::from_slice::<Value>(&h.request.body)
                .ok()
                .and_then(|v| v["DomainName"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let status = match fault {
                RegistrarFault::Fails => {
                    state.count(|c| c.registrar_failed += 1);
                    "FAILED"
                }
                RegistrarFault::Slow(for_how_long) => {
                    if h.applied {
                        "SUCCESSFUL"
                    } else if h.submitted.elapsed() >= for_how_long {
                        // The registry publishes it now: moto applies it.
                        let applied = forward(state.upstream, &h.request).await;
                        let ok = applied
                            .as_ref()
                            .is_ok_and(|r| r.starts_with(b"HTTP/1.1 200"));
                        if !ok {
                            state.note(
                                "the held UpdateDomainNameservers was refused by moto",
                                request,
                            );
                            "ERROR"
                        } else {
                            h.applied = true;
                            let after = h.submitted.elapsed().as_secs_f64();
                            state.count(|c| c.registrar_applied_after = Some(after));
                            state.note(
                                &format!("UpdateDomainNameservers applied after {after:.1} s"),
                                request,
                            );
                            "SUCCESSFUL"
                        }
                    } else {
                        state.count(|c| c.registrar_in_progress += 1);
                        "IN_PROGRESS"
                    }
                }
            };
            Some(reply(
                200,
                "OK",
                "application/x-amz-json-1.1",
                &json!({
                    "OperationId": h.id,
                    "Status": status,
                    "Message": if status == "FAILED" { "zonehop fault: registrar-fails" } else { "" },
                    "DomainName": domain,
                    "Type": "UPDATE_NAMESERVER",
                    "SubmittedDate": h.submitted_epoch,
                })
                .to_string(),
            ))
        }
        _ => None,
    }
}

/// `127.0.0.1:53` as `/proc/net/tcp` writes it: `0100007F:0035`.
fn proc_net_addr(addr: SocketAddr) -> Option<String> {
    match addr {
        SocketAddr::V4(v4) => {
            let o = v4.ip().octets();
            Some(format!(
                "{:02X}{:02X}{:02X}{:02X}:{:04X}",
                o[3],
                o[2],
                o[1],
                o[0],
                v4.port()
            ))
        }
        SocketAddr::V6(_) => None,
    }
}

/// The function binary (and its pid) whose socket is `peer`'s (connected to the proxy's
/// `local`): that connection in `/proc/net/tcp`, its inode, the process holding it; only a
/// descendant of this process.
fn caller_binary(peer: SocketAddr, local: SocketAddr) -> Option<(String, u32)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let (from, to) = (proc_net_addr(peer)?, proc_net_addr(local)?);
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&from.as_str()) && fields.get(2) == Some(&to.as_str()))
            .then(|| fields.get(9).map(|s| (*s).to_owned()))?
    })?;
    let link = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == link));
        if !holds {
            continue;
        }
        if !descends_from_us(pid) {
            return None;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let argv0 = cmdline.split(|b| *b == 0).next()?;
        let name = std::path::Path::new(&*String::from_utf8_lossy(argv0))
            .file_name()?
            .to_string_lossy()
            .into_owned();
        return Some((name, pid));
    }
    None
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

fn descends_from_us(pid: u32) -> bool {
    let us = std::process::id();
    let mut at = pid;
    for _ in 0..64 {
        match parent_of(at) {
            Some(p) if p == us => return true,
            Some(p) if p > 1 => at = p,
            _ => return false,
        }
    }
    false
}

async fn kill(pid: u32) -> bool {
    tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// The report's view of an injection log: `[{at, what, call}]`, at most `limit` entries.
pub fn injections_json(injections: &[Injection], limit: usize) -> Value {
    let mut by_what: BTreeMap<String, u64> = BTreeMap::new();
    for i in injections {
        *by_what.entry(i.what.clone()).or_default() += 1;
    }
    json!({
        "first": injections.iter().take(limit).map(|i| json!({
            "at": crate::rehearsal::iso(aws_smithy_types::DateTime::from_millis(i.at_ms)),
            "what": i.what,
            "call": i.call,
        })).collect::<Vec<_>>(),
        "total": injections.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_proc_net_tcp_writes_them() {
        let addr: SocketAddr = "127.0.0.1:53".parse().expect("addr");
        assert_eq!(proc_net_addr(addr).as_deref(), Some("0100007F:0035"));
    }

    async fn upstream_echo() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(Some(r)) = read_request(&mut s).await {
                        let body = format!("{} {} {}", r.method, r.path(), r.body.len());
                        let _ = s.write_all(&reply(200, "OK", "text/plain", &body)).await;
                    }
                });
            }
        });
        port
    }

    async fn call(port: u16, head: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let request = format!(
            "{head}\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).await.expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    #[tokio::test]
    async fn untouched_calls_pass_and_a_hundred_percent_faults_every_route53_call() {
        let upstream = upstream_echo().await;
        let clean = FaultProxy::start(upstream, ProxyPlan::default())
            .await
            .expect("proxy");
        let out = call(
            clean.port,
            "POST /2013-04-01/hostedzone/Z1/rrset HTTP/1.1",
            "abc",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(
            out.ends_with("POST /2013-04-01/hostedzone/Z1/rrset 3"),
            "{out}"
        );
        assert!(out.contains("Connection: close"), "{out}");
        assert_eq!(clean.counts().api_calls, 1);

        let faulty = FaultProxy::start(
            upstream,
            ProxyPlan {
                api_fault_percent: 100,
                seed: 7,
                ..ProxyPlan::default()
            },
        )
        .await
        .expect("proxy");
        // STS and the rest are never faulted.
        let sts = call(faulty.port, "POST / HTTP/1.1", "Action=AssumeRole").await;
        assert!(sts.starts_with("HTTP/1.1 200"), "{sts}");
        for _ in 0..12 {
            let out = call(faulty.port, "GET /2013-04-01/hostedzone/Z1 HTTP/1.1", "").await;
            assert!(
                out.is_empty()
                    || out.contains("<Code>Throttling</Code>")
                    || out.contains("<Code>ServiceUnavailable</Code>")
                    || out.contains("<Code>InternalFailure</Code>")
                    || out.ends_with("GET /2013-04-01/hostedzone/Z1 0"),
                "{out}"
            );
        }
        let counts = faulty.counts();
        assert_eq!(counts.api_calls, 12);
        assert_eq!(
            counts.throttled
                + counts.unavailable_503
                + counts.internal_500
                + counts.slowed
                + counts.dropped,
            12,
            "{counts:?}"
        );
        assert_eq!(faulty.injections().len(), 12);
    }

    #[tokio::test]
    async fn a_failing_registrar_holds_the_update_and_reports_failed() {
        let upstream = upstream_echo().await;
        let proxy = FaultProxy::start(
            upstream,
            ProxyPlan {
                registrar: Some(RegistrarFault::Fails),
                ..ProxyPlan::default()
            },
        )
        .await
        .expect("proxy");
        let update = call(
            proxy.port,
            "POST / HTTP/1.1\r\nX-Amz-Target: Route53Domains_v20140515.UpdateDomainNameservers",
            r#"{"DomainName":"example.com","Nameservers":[]}"#,
        )
        .await;
        assert!(update.contains("zonehop-fault-operation-1"), "{update}");
        let detail = call(
            proxy.port,
            "POST / HTTP/1.1\r\nX-Amz-Target: Route53Domains_v20140515.GetOperationDetail",
            r#"{"OperationId":"zonehop-fault-operation-1"}"#,
        )
        .await;
        assert!(detail.contains(r#""Status":"FAILED""#), "{detail}");
        assert!(detail.contains("example.com"), "{detail}");
        assert_eq!(proxy.counts().registrar_failed, 1);
    }

    #[tokio::test]
    async fn a_gated_functions_invoke_waits_for_its_permit_and_others_pass() {
        let upstream = upstream_echo().await;
        let proxy = FaultProxy::start(
            upstream,
            ProxyPlan {
                gates: vec!["sync-records".into()],
                ..ProxyPlan::default()
            },
        )
        .await
        .expect("proxy");
        proxy.set_lambda_upstream(upstream);
        let free = call(
            proxy.port,
            "POST /2015-03-31/functions/verify-zones/invocations HTTP/1.1",
            "{}",
        )
        .await;
        assert!(free.starts_with("HTTP/1.1 200"), "{free}");
        let port = proxy.port;
        let mut held = tokio::spawn(async move {
            call(
                port,
                "POST /2015-03-31/functions/sync-records/invocations HTTP/1.1",
                "{}",
            )
            .await
        });
        let early = tokio::time::timeout(Duration::from_millis(500), &mut held).await;
        assert!(early.is_err(), "answered without a permit: {early:?}");
        assert!(proxy.release("sync-records"));
        assert!(!proxy.release("finalize"), "not gated");
        let out = tokio::time::timeout(Duration::from_secs(10), held)
            .await
            .expect("answered once released")
            .expect("task");
        assert!(
            out.ends_with("POST /2015-03-31/functions/sync-records/invocations 2"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn a_crash_at_step_runs_the_function_then_answers_a_crash_until_disarmed() {
        // GIVEN crash-at=sync-records, an upstream that counts what reaches it
        let upstream = upstream_echo().await;
        let proxy = FaultProxy::start(
            upstream,
            ProxyPlan {
                fail_after_invoke: vec!["sync-records".into()],
                ..ProxyPlan::default()
            },
        )
        .await
        .expect("proxy");
        proxy.set_lambda_upstream(upstream);
        let invoke = |function: &'static str| {
            let port = proxy.port;
            async move {
                call(
                    port,
                    &format!("POST /2015-03-31/functions/{function}/invocations HTTP/1.1"),
                    "{}",
                )
                .await
            }
        };
        // WHEN sync-records is invoked, THEN the crash a runtime exit gives, after the
        // function ran; another function is answered as it answered.
        let crashed = invoke("sync-records").await;
        assert!(crashed.starts_with("HTTP/1.1 500"), "{crashed}");
        assert!(crashed.contains("Runtime.ExitError"), "{crashed}");
        assert_eq!(proxy.counts().crashed_invokes, 1);
        let other = invoke("verify-zones").await;
        assert!(other.starts_with("HTTP/1.1 200"), "{other}");
        // AND once disarmed (AGAIN=1), sync-records answers as it does.
        proxy.disarm();
        let again = invoke("sync-records").await;
        assert!(again.starts_with("HTTP/1.1 200"), "{again}");
        assert_eq!(proxy.counts().crashed_invokes, 1);
    }
}
