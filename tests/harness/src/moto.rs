//! moto server, started per test on its own loopback port and stopped on drop.
//!
//! It runs through `tests/world/moto_server.py`, which patches moto where it differs from
//! Route 53 in ways zonehop depends on (see tests/world/README.md).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

/// The Python of the project's virtualenv (`ZONEHOP_VENV`, default `.venv`).
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("ZONEHOP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".venv"));
    venv.join("bin").join("python")
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it accepts requests.
    pub async fn start() -> Moto {
        Moto::start_with(&[]).await
    }

    /// Starts moto with extra options for tests/world/moto_server.py, given after
    /// `--host 127.0.0.1 --port 0` (so a `--port` here wins), e.g.
    /// `["--lambda-endpoint", "http://127.0.0.1:9000"]`.
    pub async fn start_with(args: &[&str]) -> Moto {
        Moto::start_logged(args, None).await
    }

    /// [`Moto::start_with`], moto's own log (its stderr) going to `log` when given instead
    /// of this process's stderr.
    pub async fn start_logged(args: &[&str], log: Option<&std::path::Path>) -> Moto {
        Moto::try_start_logged(args, log)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Moto::start_logged`] that says what failed instead of panicking (a rehearsal reports
    /// it in one line).
    pub async fn try_start_logged(
        args: &[&str],
        log: Option<&std::path::Path>,
    ) -> Result<Moto, String> {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
            ),
            None => Stdio::inherit(),
        };
        let python = venv_python();
        if !python.exists() {
            return Err(format!(
                "{} is missing: run `make setup` first",
                python.display()
            ));
        }
        let mut child = Command::new(&python)
            .arg(crate::repo_root().join("tests/world/moto_server.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| "moto server's stdout was not piped".to_owned())?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("READY ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await;
        let port = match ready {
            Ok(Some(port)) => port,
            Ok(None) => {
                return Err(format!(
                    "moto server exited before it was ready{}",
                    log.map(|l| format!(" (its log: {})", l.display()))
                        .unwrap_or_default()
                ))
            }
            Err(_) => return Err("moto server was not ready within 60 s".to_owned()),
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Moto { child, port })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SDK configuration that reaches this server.
    pub async fn config(&self) -> aws_config::SdkConfig {
        crate::base_config(&self.endpoint()).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
