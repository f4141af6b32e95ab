//! The page as a browser shows it: headless Chromium (Debian's `chromium`, installed by
//! `make setup`) loads the HTML of the sample report from a file, dumps its DOM and takes a
//! screenshot. The files stay in the target directory's tmp/report-html/ to look at.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A run of Chromium that takes longer than this is killed and fails the test.
const TIMEOUT: Duration = Duration::from_secs(60);

fn sample() -> serde_json::Value {
    serde_json::from_str(include_str!("../testdata/sample-report.json"))
        .expect("the sample report is JSON")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&dir).expect("create the work directory");
    dir
}

/// Runs headless Chromium on `page` with `extra` flags, its standard output into `stdout`;
/// kills it (its whole process group) when it outlives [`TIMEOUT`].
fn chromium(page: &Path, extra: &[String], stdout: &Path) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium package)"
    );
    let profile = work_dir().join(format!(
        "profile-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&profile).expect("create the profile directory");
    let stderr = stdout.with_extension("stderr.log");
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(stdout).expect("create the stdout file"))
        .stderr(File::create(&stderr).expect("create the stderr file"));
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = std::fs::remove_dir_all(&profile);
    let Some(status) = status else {
        // The group's id is the child's: the wrapper script, the browser and its helpers.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "chromium did not finish within {} s (killed); its stderr: {}",
            TIMEOUT.as_secs(),
            stderr.display()
        );
    };
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
}

/// The element `<figure id="ID">` of a serialized DOM, up to its `</figure>`.
fn figure<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<figure id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let end = dom[start..]
        .find("</figure>")
        .unwrap_or_else(|| panic!("#{id} does not end"));
    &dom[start..start + end]
}

#[test]
fn chromium_shows_the_sample_report_with_its_charts() {
    let report = sample();
    let rounds = report["propagation"]["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(rounds, 6, "the sample has 6 rounds");
    let dir = work_dir();
    let page = dir.join("sample-report.html");
    let html = zonehop_report::render_html(&report);
    std::fs::write(&page, &html).expect("write the page");

    let dom_file = dir.join("sample-report.dom.html");
    chromium(&page, &["--dump-dom".to_owned()], &dom_file);
    let dom = std::fs::read_to_string(&dom_file).expect("read the DOM");
    assert!(dom.contains("<h1>"), "the page was not loaded: {dom}");

    let propagation = figure(&dom, "propagation-chart");
    assert!(
        propagation.contains("<svg"),
        "no <svg> in #propagation-chart"
    );
    let markers = propagation.matches("<circle").count();
    assert!(
        markers >= rounds,
        "{markers} data-point markers for {rounds} rounds"
    );
    assert!(
        propagation.contains("safe at 09:14:28"),
        "no safeAt marker in #propagation-chart"
    );
    assert!(propagation.contains("safeAt"), "no safeAt in the legend");
    assert!(propagation.contains("parent switch 09:14:24"));
    let phases = figure(&dom, "phases-chart");
    assert!(phases.contains("<svg"), "no <svg> in #phases-chart");
    assert!(phases.contains("check-propagation"));
    assert!(dom.contains("not before 2025-06-05 09:14:28 UTC"));

    let png = dir.join("sample-report.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,2000".to_owned(),
        ],
        &dir.join("sample-report.screenshot.log"),
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    assert!(
        bytes.len() > 50_000,
        "the screenshot is only {} bytes: a blank page?",
        bytes.len()
    );
}
