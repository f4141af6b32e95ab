//! The world's processes: spawned in the foreground, their output kept (the last lines) for
//! error reports, killed on drop.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::probe;
use super::WorldError;

/// Lines of output kept per process.
const TAIL_LINES: usize = 40;

/// How long a process may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// One running daemon.
#[derive(Debug)]
pub struct Daemon {
    role: String,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Set once its death has been reported.
    reported: bool,
}

fn keep_lines<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    });
}

impl Daemon {
    /// Starts `program args` in `dir`, output kept.
    pub fn spawn<I, S>(role: &str, program: &str, args: I, dir: &Path) -> Result<Daemon, WorldError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| WorldError::Spawn {
                program: program.to_owned(),
                message: if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{e}: install the Debian packages knot knot-dnsutils unbound knot-resolver"
                    )
                } else {
                    e.to_string()
                },
            })?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(out) = child.stdout.take() {
            keep_lines(out, Arc::clone(&tail));
        }
        if let Some(err) = child.stderr.take() {
            keep_lines(err, Arc::clone(&tail));
        }
        Ok(Daemon {
            role: role.to_owned(),
            child,
            tail,
            reported: false,
        })
    }

    pub fn role(&self) -> &str {
        &self.role
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines it printed.
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// `Some(error)` the first time it is found dead.
    pub fn check(&mut self) -> Option<WorldError> {
        if self.reported {
            return None;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reported = true;
                Some(WorldError::ProcessDied {
                    role: self.role.clone(),
                    status: status.to_string(),
                    output_tail: self.tail(),
                })
            }
            _ => None,
        }
    }

    /// Sends SIGKILL (the world's state lives in files it rewrites: nothing to flush).
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// Kills it and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    fn not_ready(&self, started: Instant) -> WorldError {
        WorldError::NotReady {
            role: self.role.clone(),
            waited: started.elapsed(),
            output_tail: self.tail(),
        }
    }

    /// Waits until knotd's control socket answers.
    pub async fn wait_knot_control(&mut self, socket: &Path) -> Result<(), WorldError> {
        let started = Instant::now();
        loop {
            if let Some(died) = self.check() {
                return Err(died);
            }
            if socket.exists() && knotc(socket, &["status"]).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(self.not_ready(started));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until a resolver resolves `name` (type A) through the world.
    pub async fn wait_resolving(&mut self, addr: SocketAddr, name: &str) -> Result<(), WorldError> {
        let started = Instant::now();
        loop {
            if let Some(died) = self.check() {
                return Err(died);
            }
            if let Ok(reply) = probe::query(addr, name, 1, true, Duration::from_millis(300)).await {
                if reply.rcode == 0 && reply.answers > 0 {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(self.not_ready(started));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Runs `knotc -s SOCKET ARGS...`; its output on failure.
pub async fn knotc(socket: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("knotc")
        .arg("-s")
        .arg(socket)
        .args(["-t", "20"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("knotc: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text.trim().to_owned())
    }
}
