//! The dashboard in a real headless Chromium: the colour counts on the page
//! equal those of `/api/v1/risk/enterprises`, and a screenshot is saved to
//! `target/dashboard.png` for people to look at.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::*;

fn chromium() -> PathBuf {
    let p = PathBuf::from(
        std::env::var("FIVEFOLD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        p.is_file(),
        "Chromium is needed for the dashboard test: apt-get install chromium (bash .ci/run does)"
    );
    p
}

pub(crate) fn headless(url: &str, extra: &[&str], profile: &Path) -> String {
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=10000", "--window-size=1280,1000"])
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn count_on_page(dom: &str, color: &str) -> Option<u64> {
    let marker = format!("id=\"n-{color}\">");
    let start = dom.find(&marker)? + marker.len();
    dom[start..].split('<').next()?.trim().parse().ok()
}

#[test]
fn the_dashboard_shows_the_colour_counts_of_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    generate(&input, 120, 3.0, 31, 0.0);
    run_ok(&["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()]);
    let (mut server, port) = spawn_serve(&lake);
    let api: serde_json::Value =
        serde_json::from_str(&http_get(port, "/api/v1/risk/enterprises?limit=1").unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let dom = headless(&url, &["--dump-dom"], &dir.path().join("chrome-a"));
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    headless(&url, &[&format!("--screenshot={}", shot.display())], &dir.path().join("chrome-b"));
    let _ = server.kill();
    let _ = server.wait();
    let mut total = 0;
    for color in ["red", "orange", "yellow", "blue"] {
        let expected = api["counts"][color].as_u64().unwrap();
        assert_eq!(count_on_page(&dom, color), Some(expected), "{color} on the page");
        total += expected;
    }
    assert_eq!(total, 120, "every enterprise has a colour");
    assert!(dom.contains("class=\"town\""), "the town grid is drawn");
    assert!(dom.contains("href=\"/report\""), "the dashboard links its report page");
    assert!(
        std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false),
        "screenshot saved"
    );
}
