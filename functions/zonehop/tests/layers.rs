//! The layers of docs/design.md, held by a test: the core talks to no network, no step
//! imports another step, and every function's `main.rs` only wires.

use std::path::{Path, PathBuf};

fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("functions/")
        .to_path_buf()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The core crate's dependencies are pure: nothing that reaches AWS, a socket, a runtime or a
/// clock can be compiled into it, so the compiler itself holds the layer.
#[test]
fn the_core_depends_on_nothing_that_talks_to_a_network() {
    let manifest = std::fs::read_to_string(functions_dir().join("core/Cargo.toml"))
        .expect("functions/core/Cargo.toml");
    let dependencies: Vec<&str> = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    let allowed = ["serde", "serde_json", "thiserror", "rand", "sha2", "idna"];
    for dependency in &dependencies {
        assert!(
            allowed.contains(dependency),
            "zonehop-core depends on `{dependency}`: the core must stay pure (allowed: {allowed:?})"
        );
    }
    for source in rust_files(&functions_dir().join("core/src")) {
        let text = std::fs::read_to_string(&source).expect("source");
        for forbidden in [
            "UdpSocket",
            "TcpStream",
            "TcpListener",
            "ToSocketAddrs",
            "tokio",
            "SystemTime",
            "std::fs",
            "aws_sdk",
            "aws_config",
            "aws_smithy",
            "hickory",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: the core opens no socket and knows no clock, files or AWS (address types are fine)",
                source.display()
            );
        }
    }
}

/// A step uses the core and the ports, never another step.
#[test]
fn no_step_imports_another_step() {
    let steps = functions_dir().join("zonehop/src/steps");
    for source in rust_files(&steps) {
        let text = std::fs::read_to_string(&source).expect("source");
        assert!(
            !text.contains("crate::steps::") && !text.contains("super::super"),
            "{} imports another step",
            source.display()
        );
    }
    // Nor do the ports and adapters reach up into the steps.
    for layer in ["zonehop/src/ports", "zonehop/src/adapters"] {
        for source in rust_files(&functions_dir().join(layer)) {
            let text = std::fs::read_to_string(&source).expect("source");
            assert!(
                !text.contains("crate::steps"),
                "{} imports a step",
                source.display()
            );
        }
    }
}

/// The steps and ports wait on the `Clock` port they are given, so the twins' clock plays a
/// poll's whole schedule at once: none sleeps on tokio's timer or measures by `Instant`,
/// except the waits named here, not yet moved to the port.
#[test]
fn steps_and_ports_wait_only_through_the_clock_port() {
    let not_yet = [
        // Pauses between one request's retries (Throttling, PriorRequestNotComplete).
        "zonehop/src/ports/retry.rs",
        // DNS waits: a stale server settling, a new child zone starting to answer.
        "zonehop/src/ports/dns/compare.rs",
        "zonehop/src/steps/delegate_subdomain.rs",
        // Measures how long its API and DNS comparisons took, for its output.
        "zonehop/src/steps/verify_zones.rs",
        // The port's real adapter.
        "zonehop/src/ports/clock.rs",
    ];
    for layer in ["zonehop/src/steps", "zonehop/src/ports"] {
        for source in rust_files(&functions_dir().join(layer)) {
            let relative = source
                .strip_prefix(functions_dir())
                .expect("under functions/")
                .to_string_lossy()
                .replace('\\', "/");
            if not_yet.contains(&relative.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&source).expect("source");
            for forbidden in ["tokio::time", "Instant", "SystemTime"] {
                assert!(
                    !text.contains(forbidden),
                    "{relative} uses {forbidden}: wait and measure on the Clock port"
                );
            }
        }
    }
}

/// A Lambda's `main.rs` only wires: logging, the base configuration, the settings, the
/// handler; every function reads its settings the same way.
#[test]
fn every_main_only_wires_and_reads_the_one_settings() {
    let mut mains = 0;
    for entry in std::fs::read_dir(functions_dir())
        .expect("functions/")
        .flatten()
    {
        let main = entry.path().join("src/main.rs");
        let Ok(text) = std::fs::read_to_string(&main) else {
            continue;
        };
        mains += 1;
        assert!(
            text.contains("zonehop::Settings::from_env()"),
            "{} does not read zonehop::Settings::from_env()",
            main.display()
        );
        let code_lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .count();
        assert!(
            code_lines <= 16,
            "{}: {code_lines} lines of code",
            main.display()
        );
    }
    assert_eq!(mains, 12, "one main per Lambda");
}

/// Every crate of the repository is a workspace member, so `make test` builds and runs it
/// (a crate that only the filesystem knows is silently skipped: path dependencies become
/// members only while something depends on them).
#[test]
fn every_crate_folder_is_a_workspace_member() {
    let root = functions_dir()
        .parent()
        .expect("the repository")
        .to_path_buf();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("a members list");
    let mut crates = Vec::new();
    for parent in ["functions", "tools"] {
        for entry in std::fs::read_dir(root.join(parent))
            .expect("folder")
            .flatten()
        {
            if entry.path().join("Cargo.toml").exists() {
                crates.push(format!("{parent}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    crates.extend(["tests".to_owned(), "tests/harness".to_owned()]);
    for krate in crates {
        assert!(
            members.contains(&format!("\"{krate}\"")),
            "{krate} is not a workspace member"
        );
    }
}
