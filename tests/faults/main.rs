//! Fault injection: `fivefold run` against a real broker process (Tansu)
//! through kill -9, broker outages, a full disk, a damaged commit log and
//! clock skew. Every scenario ends with an exact reconciliation of the lake
//! against what was produced: every good record exactly once, every bad one
//! in `dead_letters` once, and, where scores are compared, `risk_scores`
//! identical to an undisturbed run of the same input.
//!
//! ```text
//! cargo test -p fivefold --test faults                # CI size (part of cargo test)
//! cargo test -p fivefold --test faults -- --soak      # longer: more data, 100 kills
//! cargo test -p fivefold --test faults -- disk        # scenarios whose name has "disk"
//! ```
//!
//! It is a plain program (`harness = false`) so that it can take `--soak` and
//! print one table of figures at the end. The full-disk scenario mounts a
//! small tmpfs, so the suite runs as root (as CI does).

#[allow(dead_code)]
#[path = "../integration/broker.rs"]
mod broker;
#[allow(dead_code)]
#[path = "../integration/harness.rs"]
mod harness;
#[path = "../support/lake_sql.rs"]
mod lake_sql;
#[allow(dead_code)]
#[path = "../integration/runs.rs"]
mod runs;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use broker::{Broker, Storage};
use harness::*;
use runs::*;

/// How big a run is.
#[derive(Clone, Copy)]
struct Size {
    /// Enterprises in the generated city.
    enterprises: u32,
    /// Enterprises in the kill -9 scenario's city: enough data that every
    /// round is killed before it runs out.
    kill_enterprises: u32,
    /// Hours of event time.
    hours: f64,
    /// kill -9 rounds.
    kills: u32,
    /// Seconds the broker stays down.
    outage_secs: u64,
}

const CI: Size =
    Size { enterprises: 600, kill_enterprises: 1000, hours: 2.0, kills: 20, outage_secs: 10 };
const SOAK: Size =
    Size { enterprises: 1500, kill_enterprises: 3000, hours: 4.0, kills: 100, outage_secs: 60 };

/// What the suite did, for the closing table.
#[derive(Default)]
struct Figures {
    rows: Vec<(String, String)>,
    records: u64,
    kills: u32,
}

impl Figures {
    fn add(&mut self, scenario: &str, what: String) {
        self.rows.push((scenario.to_owned(), what));
    }
}

type Scenario = fn(Size, &mut Figures);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let soak = args.iter().any(|a| a == "--soak");
    // `cargo test` passes its own flags (e.g. --nocapture); words are filters.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let size = if soak { SOAK } else { CI };
    let scenarios: [(&str, Scenario); 6] = [
        ("kill_9_at_random_moments", kill_9_at_random_moments),
        ("broker_killed_and_restarted", broker_killed_and_restarted),
        ("broker_unreachable_at_startup", broker_unreachable_at_startup),
        ("disk_full_then_space_returns", disk_full_then_space_returns),
        ("damaged_log_refused_then_repaired", damaged_log_refused_then_repaired),
        ("clock_skew_is_quarantined", clock_skew_is_quarantined),
    ];
    let mut figures = Figures::default();
    let started = Instant::now();
    let mut ran = 0;
    for (name, f) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        println!("fault scenario {name} ...");
        let t = Instant::now();
        f(size, &mut figures);
        println!("fault scenario {name} ok ({:.0} s)", t.elapsed().as_secs_f64());
        ran += 1;
    }
    println!();
    println!("| scenario | outcome |");
    println!("|---|---|");
    for (s, what) in &figures.rows {
        println!("| {s} | {what} |");
    }
    println!(
        "\n{ran} scenarios, {} kill -9s survived, {} records reconciled exactly once, {:.0} s \
         ({}); zero lost, zero duplicated",
        figures.kills,
        figures.records,
        started.elapsed().as_secs_f64(),
        if soak { "soak" } else { "CI size" }
    );
}

/// The reference risk model with an idle timeout of an hour, written to a
/// file for `scoring.rules`.
fn event_time_only_model() -> PathBuf {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/risk-model.toml");
    let text = std::fs::read_to_string(reference).unwrap();
    assert!(text.contains("idle_timeout = \"30s\""), "config/risk-model.toml changed");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("risk-model-no-idle.toml");
    std::fs::write(&path, text.replace("idle_timeout = \"30s\"", "idle_timeout = \"1h\"")).unwrap();
    path
}

/// A tiny xorshift, so that the kill moments vary but a failing round can be
/// repeated from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A scratch folder, kept for a post-mortem when `FIVEFOLD_KEEP` is set.
fn scratch() -> tempfile::TempDir {
    let keep = std::env::var_os("FIVEFOLD_KEEP").is_some();
    let dir = tempfile::Builder::new().prefix("fivefold-faults-").disable_cleanup(keep).tempdir();
    let dir = dir.unwrap();
    if keep {
        println!("  scratch folder {}", dir.path().display());
    }
    dir
}

fn kill_9_at_random_moments(size: Size, fig: &mut Figures) {
    let dir = scratch();
    let broker = Broker::start(Storage::Memory, dir.path());
    let (good, bad) = produce(&broker, size.kill_enterprises, size.hours, 31, 3);
    let lake = dir.path().join("lake");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("  {} records; kill moments from seed {seed}", good + bad);
    // Idleness is measured on the wall clock, so a run longer than
    // windows.idle_timeout (30 s) may close windows at other moments than a
    // run cut into short pieces. Comparing scores needs event time alone.
    let model = event_time_only_model();
    let mut rng = Rng(seed);
    let (mut kills, mut rounds) = (0, 0);
    // Until `size.kills` processes were killed mid-run; a round whose process
    // ends by itself (the data ran out) does not count.
    while kills < size.kills && rounds < size.kills * 2 {
        let round = rounds;
        rounds += 1;
        // The lake alone says where to resume, whatever the group. Each round
        // joins a fresh group, so that it need not wait out the session of
        // the member killed before it (10 s); groups are tested in
        // tests/integration (kafka.rs, s3.rs).
        let group = format!("kill-{round}");
        // Small commits, so that a kill often lands in the middle of one.
        let mut child = run_command(&broker.addr(), &lake)
            .args(["--exit-at-end", "--group", &group])
            .env("FIVEFOLD_RUN__COMMIT_ROWS", "2000")
            .env("FIVEFOLD_SCORING__RULES", &model)
            .spawn()
            .unwrap();
        if rng.below(4) == 0 {
            // While starting: joining the group, restoring the shards.
            std::thread::sleep(Duration::from_millis(rng.below(800)));
        } else {
            // While consuming and committing: after its first commit.
            let before = log_versions(&lake);
            let deadline = Instant::now() + Duration::from_secs(60);
            while log_versions(&lake) == before
                && Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(rng.below(400)));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let to_end = |lake: &Path, group: &str| {
        let out = run_command(&broker.addr(), lake)
            .args(["--exit-at-end", "--group", group])
            .env("FIVEFOLD_SCORING__RULES", &model)
            .output()
            .unwrap();
        assert_success(&out, &["run", group]);
    };
    to_end(&lake, "fivefold");
    reconcile(&lake, good, bad);
    // The same topics, read by another group in one undisturbed run.
    let calm = dir.path().join("calm");
    to_end(&calm, "calm");
    reconcile(&calm, good, bad);
    let scores = scores_text(&lake);
    assert!(scores.lines().count() > 100, "scores were produced");
    assert_eq!(scores, scores_text(&calm), "risk_scores differ from an undisturbed run");
    let classes = sql(
        &lake,
        "SELECT error_class, count(*) FROM dead_letters GROUP BY error_class ORDER BY error_class",
    );
    assert!(classes.len() >= 8, "the generator mixes in every bad-input class: {classes:?}");
    fig.add(
        "bad inputs by class (kill -9 run)",
        classes.iter().map(|r| format!("{} {}", r[0], r[1])).collect::<Vec<_>>().join(", "),
    );
    assert_eq!(kills, size.kills, "kills in {rounds} rounds; the data ran out: produce more");
    fig.kills += kills;
    fig.records += good + bad;
    fig.add(
        "kill -9 at random moments",
        format!(
            "{kills} kills in {rounds} rounds; {} good + {bad} bad reconciled; {} score rows \
             identical to an undisturbed run",
            good,
            scores.lines().count()
        ),
    );
}

fn broker_killed_and_restarted(size: Size, fig: &mut Figures) {
    let dir = scratch();
    let mut broker = Broker::start(Storage::Sqlite(dir.path().join("broker.db")), dir.path());
    let (good, bad) = produce(&broker, size.enterprises / 2, size.hours, 32, 2);
    let lake = dir.path().join("lake");
    // librdkafka says a lot while the broker is away: into a file.
    let mut run = run_command(&broker.addr(), &lake)
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    wait_until("the first commit", 60, || log_versions(&lake) >= 1);
    broker.kill();
    std::thread::sleep(Duration::from_secs(size.outage_secs));
    assert!(
        run.try_wait().unwrap().is_none(),
        "the pipeline keeps running while the broker is away"
    );
    broker.restart();
    drain_and_reconcile(&mut run, &lake, good, bad);
    fig.records += good + bad;
    fig.add(
        "broker killed mid-run, restarted",
        format!("down {} s; {good} good + {bad} bad reconciled", size.outage_secs),
    );
}

fn broker_unreachable_at_startup(size: Size, fig: &mut Figures) {
    let dir = scratch();
    let mut broker = Broker::start(Storage::Sqlite(dir.path().join("broker.db")), dir.path());
    let (good, bad) = produce(&broker, size.enterprises / 2, size.hours / 2.0, 33, 2);
    broker.kill();
    let lake = dir.path().join("lake");
    let log = dir.path().join("run.log");
    let mut run = run_command(&broker.addr(), &lake)
        .env("FIVEFOLD_KAFKA__STARTUP_WAIT", "2m")
        .env("FIVEFOLD_KAFKA__CONNECT_TIMEOUT", "1s")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert!(run.try_wait().unwrap().is_none(), "kafka.startup_wait keeps the pipeline waiting");
    assert_eq!(log_versions(&lake), 0, "nothing committed without a broker");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Kafka is not answering yet; retrying"), "logged: {text}");
    broker.restart();
    drain_and_reconcile(&mut run, &lake, good, bad);
    fig.records += good + bad;
    fig.add(
        "broker unreachable at startup",
        format!("waited 5 s (kafka.startup_wait), then {good} good + {bad} bad reconciled"),
    );
}

/// A tmpfs mounted for the life of the value.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the full-disk scenario mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `path` with a file until the disk refuses.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// `GET path` on `addr`: (status, body).
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// Parquet files under the table folders (not under `_fivefold/`).
fn visible_parquet(lake: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("_fivefold") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out
}

fn disk_full_then_space_returns(size: Size, fig: &mut Figures) {
    let dir = scratch();
    let broker = Broker::start(Storage::Memory, dir.path());
    let (good, bad) = produce(&broker, size.enterprises / 2, size.hours / 2.0, 34, 2);
    let mnt = Tmpfs::mount(&dir.path().join("disk"), "32m");
    let lake = mnt.0.join("lake");
    let filler = mnt.0.join("filler");
    fill(&filler);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let log = dir.path().join("run.log");
    let mut run = run_command(&broker.addr(), &lake)
        .args(["--listen", &addr])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The disk refuses: not ready, with the reason, and nothing visible.
    let mut refused = String::new();
    wait_until("/readyz to report the full disk", 120, || match http_get(&addr, "/readyz") {
        Some((503, body)) if body.contains("No space left on device") => {
            refused = body;
            true
        }
        _ => false,
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "the pipeline waits for space, it does not exit");
    assert_eq!(lake_rows(&lake), (0, 0), "nothing of a refused commit is visible");
    assert_eq!(visible_parquet(&lake), Vec::<PathBuf>::new(), "no partial file in the tables");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("The lake refused a commit"), "logged: {text}");
    // Space returns: the pipeline resumes by itself.
    std::fs::remove_file(&filler).unwrap();
    wait_until(
        "/readyz to recover",
        120,
        || matches!(http_get(&addr, "/readyz"), Some((200, b)) if b.contains("\"ready\":true")),
    );
    drain_and_reconcile(&mut run, &lake, good, bad);
    let attempts = refused
        .split("\"failed_attempts\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or("?")
        .to_owned();
    fig.records += good + bad;
    fig.add(
        "lake disk full (32 MiB tmpfs)",
        format!(
            "/readyz 503 naming ENOSPC after {attempts} refused commit(s), no file visible; \
             resumed by itself; {good} good + {bad} bad reconciled"
        ),
    );
}

fn damaged_log_refused_then_repaired(size: Size, fig: &mut Figures) {
    let dir = scratch();
    let broker = Broker::start(Storage::Memory, dir.path());
    let (good, bad) = produce(&broker, size.enterprises / 2, size.hours / 2.0, 35, 2);
    let lake = dir.path().join("lake");
    let lake_str = lake.to_str().unwrap();
    let once = ["run", "--brokers", &broker.addr(), "--lake", lake_str, "--exit-at-end"];
    run_ok(&once);
    reconcile(&lake, good, bad);
    // Tear the newest log entry in half.
    let logdir = lake.join("_fivefold/log");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".json") && !p.to_string_lossy().contains("checkpoint")
        })
        .collect();
    entries.sort();
    let last = entries.last().unwrap().clone();
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();

    let out = bin().args(once).output().unwrap();
    assert!(!out.status.success(), "a damaged log stops the pipeline");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("the commit log is damaged at"), "{err}");
    assert!(err.contains(&last.file_name().unwrap().to_string_lossy().into_owned()), "{err}");
    assert!(err.contains("fivefold lake repair --lake"), "{err}");
    let sql_err = bin().args(["sql", "--lake", lake_str, "SELECT 1"]).output().unwrap();
    assert!(!sql_err.status.success(), "readers refuse a damaged log too");

    let repaired = run_ok(&["lake", "repair", "--lake", lake_str]);
    assert!(repaired.contains("moved 1 log file(s)"), "{repaired}");
    run_ok(&once);
    reconcile(&lake, good, bad);
    fig.records += good + bad;
    fig.add(
        "commit log entry torn",
        format!(
            "start-up refused in one line naming the file and `fivefold lake repair`; after \
             repair, {good} good + {bad} bad reconciled"
        ),
    );
}

/// A monitoring reading as on the wire.
fn reading(uscc: &str, point: &str, t_ms: i64, value: f64) -> String {
    format!(
        r#"{{"event_time":{t_ms},"uscc":"{uscc}","record_type":"reading","point_id":"{point}","value":{value}}}"#
    )
}

fn kafka_config(broker: &Broker) -> fivefold_kafka::KafkaConfig {
    let config = PathBuf::from(one_record_per_batch());
    let mut cfg = fivefold_pipeline::Config::load(Some(&config), []).unwrap().kafka;
    cfg.brokers = broker.addr();
    cfg
}

fn produce_lines(broker: &Broker, topic: &str, lines: &[String]) {
    let producer = fivefold_kafka::Producer::new(&kafka_config(broker)).unwrap();
    for (i, l) in lines.iter().enumerate() {
        producer.send(topic, format!("skew-{i}").as_bytes(), l.as_bytes(), &[]).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn clock_skew_is_quarantined(size: Size, fig: &mut Figures) {
    const USCC: &str = "91440300708461136T";
    let dir = scratch();
    let broker = Broker::start(Storage::Memory, dir.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let day = 86_400_000;
    let addr = broker.addr();
    // Six hours, so that several score windows close.
    let config = one_record_per_batch();
    let generate = |prefix: &str| {
        generate_into(
            &[
                "--brokers",
                &addr,
                "--partitions",
                "2",
                "--topic-prefix",
                prefix,
                "--config",
                &config,
            ],
            size.enterprises / 4,
            6.0,
            36,
            0.0,
        )
    };
    // Far-future readings first, before any watermark exists, and far-past
    // ones once the city is scored: neither may move event time.
    let future: Vec<String> =
        (0..20).map(|i| reading(USCC, "SKEW-F", now + 400 * day + i * 1000, 1.0)).collect();
    let (good, bad) = generate("calm_");
    assert_eq!(bad, 0);
    // The skewed topics exist, as the generator would create them, before
    // the first write.
    let mut cfg = kafka_config(&broker);
    (cfg.topic_prefix, cfg.create_topics, cfg.partitions) = ("skew_".into(), true, 2);
    fivefold_kafka::ensure_topics(&cfg).unwrap();
    produce_lines(&broker, "skew_monitoring", &future);
    let (again, _) = generate("skew_");
    assert_eq!(again, good, "the same city twice");
    let past: Vec<String> =
        (0..20).map(|i| reading(USCC, "SKEW-P", 1_600_000_000_000 + i * 1000, 1.0)).collect();

    let (calm, skew) = (dir.path().join("calm"), dir.path().join("skew"));
    let model = event_time_only_model();
    let run_to_end = |prefix: &str, lake: &Path| {
        let out = run_command(&addr, lake)
            .args(["--topic-prefix", prefix, "--group", prefix, "--exit-at-end"])
            .env("FIVEFOLD_SCORING__RULES", &model)
            .output()
            .unwrap();
        assert_success(&out, &["run", prefix]);
    };
    run_to_end("calm_", &calm);
    run_to_end("skew_", &skew);
    // The sensor with the 2020 clock reports while the pipeline runs, once
    // event time stands in 2026.
    produce_lines(&broker, "skew_monitoring", &past);
    run_to_end("skew_", &skew);
    reconcile(&calm, good, 0);
    reconcile(&skew, good + 40, 0);
    let scores = scores_text(&calm);
    assert!(scores.lines().count() > 100, "scores were produced: {}", scores.lines().count());
    assert_eq!(scores_text(&skew), scores, "skewed records changed the scores");
    let late = |reason: &str| {
        sql_count(
            &skew,
            &format!(
                "SELECT count(*) FROM late_events WHERE key = '{USCC}' AND reason LIKE '%{reason}%'"
            ),
        )
    };
    assert_eq!(late("ahead of the clock"), 20, "every far-future reading quarantined");
    assert_eq!(late("behind the watermark"), 20, "every far-past reading set aside as late");
    fig.records += good + 40;
    fig.add(
        "clock skew",
        "20 readings 400 days ahead (before any watermark) quarantined, 20 from 2020 late; \
         risk_scores identical to the run without them"
            .to_owned(),
    );
}
