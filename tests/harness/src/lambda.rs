//! The real function binaries behind the Lambda Invoke API, served by `cargo lambda watch`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running `cargo lambda watch`.
#[derive(Debug)]
pub struct LambdaWatch {
    child: Child,
    port: u16,
}

/// A function's error as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

fn cargo_lambda() -> PathBuf {
    crate::moto::venv_python().with_file_name("cargo-lambda")
}

/// A loopback port free right now (a small race remains until it is bound again).
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|e| panic!("{e}"))
}

/// [`free_port`], or why there is none.
pub fn try_free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port ({e}): is the loopback interface up?"))
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` on a free loopback port; the functions see `env`
    /// (the emulator's endpoint, dummy credentials). Its output and the functions' logs
    /// go to `log`.
    pub async fn start(env: &[(&str, String)], log: &std::path::Path) -> LambdaWatch {
        LambdaWatch::try_start(env, log)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`LambdaWatch::start`] that says what failed instead of panicking.
    pub async fn try_start(
        env: &[(&str, String)],
        log: &std::path::Path,
    ) -> Result<LambdaWatch, String> {
        LambdaWatch::try_start_on(env, log, try_free_port()?).await
    }

    /// [`LambdaWatch::try_start`] on `port` (free, chosen by the caller: moto must know it
    /// before the functions' environment is known, as when it comes from a deployed stack).
    pub async fn try_start_on(
        env: &[(&str, String)],
        log: &std::path::Path,
        port: u16,
    ) -> Result<LambdaWatch, String> {
        let venv_bin = cargo_lambda()
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let path = format!(
            "{}:{}",
            venv_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(cargo_lambda());
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(crate::repo_root())
            .env("PATH", path)
            .kill_on_drop(true);
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        command
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err));
        for (key, value) in env {
            command.env(key, value);
            command.arg("--env-var").arg(format!("{key}={value}"));
        }
        let mut child = command.spawn().map_err(|e| {
            format!(
                "cannot start {} ({e}): run `make setup`",
                cargo_lambda().display()
            )
        })?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "cargo lambda watch exited ({status}) before it listened; its log: {}",
                    log.display()
                ));
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "cargo lambda watch did not listen within 60 s; its log: {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(LambdaWatch { child, port })
    }

    /// The loopback port of the Invoke API.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Invokes a function through the Lambda Invoke API (the first call of a function
    /// waits for its build).
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, FunctionError> {
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let reply = crate::http::request(
            self.port,
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            &payload.to_string(),
        )
        .await
        .map_err(|e| FunctionError {
            error_type: "InvokeFailed".into(),
            error_message: e.to_string(),
        })?;
        let body = reply.body.clone();
        // cargo lambda watch answers a function error with 500; AWS with 200 and
        // X-Amz-Function-Error. Both carry {errorType, errorMessage}.
        let function_error = reply.status != 200 || reply.has_header("x-amz-function-error");
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body.clone()));
        if function_error {
            return Err(FunctionError {
                error_type: value["errorType"]
                    .as_str()
                    .unwrap_or("Unhandled")
                    .to_owned(),
                error_message: value["errorMessage"]
                    .as_str()
                    .map_or_else(|| body.clone(), str::to_owned),
            });
        }
        Ok(value)
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
