//! Running the `fivefold` binary and reading the lake back through it.

use std::path::Path;
use std::process::{Command, Output};

use crate::lake_sql::SOURCE_TABLES;

thread_local! {
    /// Environment every command of this test thread gets (the object-store
    /// credentials and endpoint of a test whose lake is in a bucket).
    static STORE_ENV: std::cell::RefCell<Vec<(String, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Gives every later command of this test (thread) the variables `env`.
pub(crate) fn use_store_env(env: Vec<(String, String)>) {
    STORE_ENV.with(|e| *e.borrow_mut() = env);
}

/// The binary under test.
pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fivefold"));
    c.env_remove("FIVEFOLD_LOG");
    STORE_ENV.with(|e| c.envs(e.borrow().iter().map(|(k, v)| (k, v))));
    c
}

/// The body of `GET path` on a local port, if it answered.
pub(crate) fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Starts `fivefold serve` over `lake` on a free port and waits until it
/// answers `/healthz`; returns the server and its port.
pub(crate) fn spawn_serve(lake: &Path) -> (std::process::Child, u16) {
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lake = lake.to_str().expect("utf-8 path");
    let server = bin()
        .args(["serve", "--lake", lake, "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(port, "/healthz").as_deref() != Some("ok") {
        assert!(Instant::now() < deadline, "fivefold serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

/// Runs the binary to completion and returns stdout; fails with stderr.
pub(crate) fn run_ok(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("spawn fivefold");
    assert_success(&out, args);
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Asserts that a finished command succeeded.
pub(crate) fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "fivefold {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs SQL over the lake and returns the rows as CSV records (header dropped).
pub(crate) fn sql(lake: &Path, query: &str) -> Vec<Vec<String>> {
    let lake = lake.to_str().expect("utf-8 path");
    let out = run_ok(&["sql", "--lake", lake, "--format", "csv", query]);
    out.lines().skip(1).map(csv_fields).collect()
}

/// Splits one CSV line, honouring double quotes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut quoted, mut chars) = (false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().expect("a field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().expect("a field").push(c),
        }
    }
    out
}

/// Runs SQL that returns one integer.
pub(crate) fn sql_count(lake: &Path, query: &str) -> u64 {
    let rows = sql(lake, query);
    rows.first()
        .and_then(|r| r.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{query} returned {rows:?}"))
}

/// Generates a city with `fivefold generate` into `target` (`["--out", DIR]` or
/// `["--brokers", ADDR, ...]`); returns (good, malformed) from its summary line.
pub(crate) fn generate_into(
    target: &[&str],
    enterprises: u32,
    hours: f64,
    seed: u64,
    bad_ratio: f64,
) -> (u64, u64) {
    let (e, h, s, b) =
        (enterprises.to_string(), hours.to_string(), seed.to_string(), bad_ratio.to_string());
    let mut args = vec!["generate", "--enterprises", &e, "--hours", &h, "--seed", &s];
    args.extend(["--bad-ratio", &b]);
    args.extend(target);
    let text = run_ok(&args);
    // "generated N records (G good, B malformed) into ..."
    let nums: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.parse().expect("number"))
        .collect();
    assert_eq!(nums.len(), 3, "unexpected generate output: {text}");
    assert_eq!(nums[0], nums[1] + nums[2]);
    (nums[1], nums[2])
}

/// Generates input files; returns (good, malformed).
pub(crate) fn generate(
    out: &Path,
    enterprises: u32,
    hours: f64,
    seed: u64,
    bad_ratio: f64,
) -> (u64, u64) {
    generate_into(
        &["--out", out.to_str().expect("utf-8 path")],
        enterprises,
        hours,
        seed,
        bad_ratio,
    )
}

/// Non-blank lines across the input files.
pub(crate) fn input_records(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("read input dir") {
        let text = std::fs::read(e.expect("entry").path()).expect("read input");
        n += text.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count()
            as u64;
    }
    n
}

/// Rows in all source tables and in dead letters.
pub(crate) fn lake_rows(lake: &Path) -> (u64, u64) {
    let good =
        SOURCE_TABLES.iter().map(|t| sql_count(lake, &format!("SELECT count(*) FROM {t}"))).sum();
    (good, sql_count(lake, "SELECT count(*) FROM dead_letters"))
}

/// Asserts that no input line landed twice: distinct (file, line) across all tables.
pub(crate) fn assert_no_duplicates(lake: &Path) {
    let union = SOURCE_TABLES
        .iter()
        .map(|t| format!("SELECT _file AS f, _line AS l FROM {t}"))
        .chain(std::iter::once("SELECT file AS f, line AS l FROM dead_letters".to_owned()))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let total = sql_count(lake, &format!("SELECT count(*) FROM ({union})"));
    let distinct =
        sql_count(lake, &format!("SELECT count(*) FROM (SELECT DISTINCT f, l FROM ({union}))"));
    assert_eq!(total, distinct, "some input lines are in the lake more than once");
}

/// Writes `<topic>.jsonl` in `dir`, one line per record.
pub(crate) fn write(dir: &Path, topic: &str, lines: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(dir.join(format!("{topic}.jsonl")), text).unwrap();
}

/// `fivefold replay` of `input` into `lake` in batches of `batch_rows`,
/// without fsync (throwaway lakes).
pub(crate) fn replay(input: &Path, lake: &Path, batch_rows: usize) {
    let out = bin()
        .args(["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()])
        .env("FIVEFOLD_REPLAY__BATCH_ROWS", batch_rows.to_string())
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .output()
        .unwrap();
    assert_success(&out, &["replay"]);
}

/// Every score row (uscc, window end, revision, points, colour, overrides) as
/// text, in a fixed order: two lakes scored the same input alike iff equal.
pub(crate) fn scores_text(lake: &Path) -> String {
    sql(
        lake,
        "SELECT uscc, CAST(window_end AS BIGINT) AS we, revision, risk_points, color, \
           array_to_string(overrides, '|') AS ov FROM risk_scores ORDER BY 1, 2, 3",
    )
    .into_iter()
    .map(|r| r.join(","))
    .collect::<Vec<_>>()
    .join("\n")
}

/// Every alarm row (uscc, point, kind, start, end, peak) as text, in a fixed
/// order; an episode still open at the end has an empty end.
pub(crate) fn alarms_text(lake: &Path) -> String {
    sql(
        lake,
        "SELECT uscc, point_id, kind, CAST(start_time AS BIGINT) AS s, \
           CAST(end_time AS BIGINT) AS e, peak_value FROM alarms ORDER BY 1, 2, 3, 4, 5",
    )
    .into_iter()
    .map(|r| r.join(","))
    .collect::<Vec<_>>()
    .join("\n")
}
