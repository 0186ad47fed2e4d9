//! `fivefold demo`, the README's first command: with nothing but the binary
//! it serves risk scores that its embedded broker and pipeline keep adding,
//! says where (with the scheme it serves), and stops cleanly on SIGTERM,
//! leaving a lake that `fivefold sql` reads.

use std::io::Read as _;
use std::process::Stdio;

use crate::harness::{bin, http_get, sql_count};
use crate::runs::{terminate, wait_until};

#[test]
fn demo_serves_scores_from_its_embedded_broker_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // As the README runs it: the default lake, a folder relative to the
    // current directory.
    let lake = dir.path().join("fivefold-demo-lake");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut demo = bin()
        .current_dir(dir.path())
        .arg("demo")
        .args(["--listen", &format!("127.0.0.1:{port}"), "--enterprises", "50", "--rate", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drained beside the test, so that the demo never waits on a full pipe.
    let mut stdout = demo.stdout.take().unwrap();
    let printed = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let scored = || {
        http_get(port, "/api/v1/risk/enterprises?limit=1")
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|v| v["total"].as_u64())
            .unwrap_or(0)
    };
    wait_until("the demo to serve scored enterprises", 180, || scored() > 0);
    terminate(&mut demo);
    let printed = printed.join().unwrap();
    assert!(
        printed.contains(&format!("dashboard and API:     http://127.0.0.1:{port}/")),
        "{printed}"
    );
    assert!(sql_count(&lake, "SELECT count(*) FROM monitoring_reading") > 0);
    assert!(sql_count(&lake, "SELECT count(*) FROM risk_scores") > 0);
}
