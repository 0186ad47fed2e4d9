//! Scale-out benchmark (not a criterion bench): 1, 2 and 3 `fivefold run`
//! processes in one consumer group draining the same topics into one lake.
//!
//! ```sh
//! cargo bench -p fivefold --bench scale [--profile dev] -- [--enterprises N] [--hours H]
//!     [--lake local|s3] [--broker mock|tansu]
//! ```
//!
//! The broker is librdkafka's mock cluster, in this process, which the
//! `fivefold` processes reach over TCP, or with `--broker tansu` a Tansu
//! process (`.ci/tansu/install.sh` builds it), produced one record per batch
//! as the tests do. The mock keeps at most 5 MiB per partition, so the default
//! city (150 enterprises, 3 hours, about 90,000 records) stays under it. The city
//! is produced once; then, for N = 1, 2, 3, N processes of
//! `fivefold run --exit-at-end` start at once in a fresh group and a fresh
//! lake, and the run is timed until all have exited. CPU time and peak RSS
//! come from `/usr/bin/time`. Each lake is reconciled exactly (rows plus dead
//! letters equal the records produced, no Kafka coordinate twice) through
//! `fivefold sql`. With `--lake s3` the lakes are buckets on moto's S3 server
//! (the venv `.ci/run` installs). Prints a table and writes
//! `target/bench/scale.json`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_fivefold");

#[path = "args.rs"]
mod args;
#[allow(dead_code)] // started, asked its address and its producer config; nothing more
#[path = "../tests/integration/broker.rs"]
mod broker;
#[path = "../tests/support/lake_sql.rs"]
mod lake_sql;
#[path = "../tests/support/moto.rs"]
mod moto;
use args::arg;

fn fivefold(env: &[(String, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.envs(env.iter().map(|(k, v)| (k, v))).env("FIVEFOLD_LOG", "warn");
    c
}

/// Runs `fivefold sql` and returns the single number it answers.
fn count(env: &[(String, String)], lake: &str, sql: &str) -> u64 {
    let out = fivefold(env).args(["sql", "--lake", lake, "--format", "csv", sql]).output();
    let out = out.expect("run fivefold sql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("{text}"))
}

/// Rows plus dead letters, and distinct Kafka coordinates among them.
fn reconcile(env: &[(String, String)], lake: &str) -> (u64, u64) {
    let coords = lake_sql::kafka_coordinates();
    (
        count(env, lake, &format!("SELECT count(*) FROM ({coords})")),
        count(
            env,
            lake,
            &format!("SELECT count(*) FROM (SELECT DISTINCT t, p, o FROM ({coords}))"),
        ),
    )
}

struct Run {
    instances: usize,
    records: u64,
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mib: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let enterprises = arg(&args, "--enterprises", "150");
    let hours = arg(&args, "--hours", "3");
    let kind = arg(&args, "--lake", "local");
    let broker_kind = arg(&args, "--broker", "mock");
    let work = tempfile::tempdir().unwrap();
    let names = fivefold_kafka::TopicNames::new("");
    let mock = (broker_kind == "mock").then(|| fivefold_kafka::mock_cluster(&names, 6).unwrap());
    let tansu = (broker_kind == "tansu")
        .then(|| broker::Broker::start(broker::Storage::Memory, work.path()));
    let brokers = match (&mock, &tansu) {
        (Some(cluster), _) => cluster.bootstrap_servers(),
        (_, Some(tansu)) => tansu.addr(),
        _ => panic!("--broker is mock or tansu, not {broker_kind}"),
    };
    // Tansu needs every offset a batch boundary (see `broker::ONE_RECORD_PER_BATCH`).
    // For the mock the file is empty: the defaults.
    let producer = work.path().join("producer.toml");
    let config = if tansu.is_some() { broker::ONE_RECORD_PER_BATCH } else { "" };
    std::fs::write(&producer, config).unwrap();
    let moto = (kind == "s3").then(moto::Moto::start);
    let env: Vec<(String, String)> = moto.as_ref().map(moto::Moto::env).unwrap_or_default();

    let out = fivefold(&env)
        .args(["generate", "--brokers", &brokers, "--partitions", "6", "--seed", "5"])
        .args(["--config", producer.to_str().unwrap()])
        .args(["--enterprises", &enterprises, "--hours", &hours, "--bad-ratio", "0.01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // "generated N records (G good, B malformed) into ..."
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let produced: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    eprintln!("produced {produced} records to 6 partitions");

    let mut runs = Vec::new();
    for n in 1..=3usize {
        let lake: String = match &moto {
            Some(m) => format!("{}/lake", m.bucket()),
            None => work.path().join(format!("lake{n}")).to_string_lossy().into_owned(),
        };
        let times: Vec<PathBuf> =
            (0..n).map(|i| work.path().join(format!("time-{n}-{i}"))).collect();
        let started = Instant::now();
        let members: Vec<Child> = times
            .iter()
            .map(|t| {
                Command::new("/usr/bin/time")
                    .args(["-f", "%U %S %M", "-o"])
                    .arg(t)
                    .arg(BIN)
                    .args(["run", "--brokers", &brokers, "--group", &format!("scale{n}")])
                    .args(["--lake", &lake, "--exit-at-end"])
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("FIVEFOLD_LOG", "warn")
                    .env("FIVEFOLD_LAKE__DURABLE", "false")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("/usr/bin/time (apt-get install time)")
            })
            .collect();
        for mut m in members {
            assert!(m.wait().unwrap().success(), "a member failed");
        }
        let wall_s = started.elapsed().as_secs_f64();
        let (mut cpu_s, mut peak_kib) = (0.0, 0u64);
        for t in &times {
            let text = std::fs::read_to_string(t).unwrap();
            let f: Vec<&str> = text.split_whitespace().collect();
            cpu_s += f[0].parse::<f64>().unwrap() + f[1].parse::<f64>().unwrap();
            peak_kib = peak_kib.max(f[2].parse().unwrap());
        }
        let (records, distinct) = reconcile(&env, &lake);
        assert_eq!(records, produced, "{n} instances: the lake holds {records} of {produced}");
        assert_eq!(distinct, records, "{n} instances: a Kafka record is in the lake twice");
        runs.push(Run { instances: n, records, wall_s, cpu_s, peak_rss_mib: peak_kib / 1024 });
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\n{cores} cores, lake: {kind}, broker: {broker_kind}\n");
    println!(
        "| instances | records | wall s | CPU s | records/s | records/CPU-s | peak RSS MiB (largest) | records/s vs 1 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = runs[0].records as f64 / runs[0].wall_s;
    let mut json = Vec::new();
    for r in &runs {
        let rate = r.records as f64 / r.wall_s;
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {} | {:.2} |",
            r.instances,
            r.records,
            r.wall_s,
            r.cpu_s,
            rate,
            r.records as f64 / r.cpu_s,
            r.peak_rss_mib,
            rate / base
        );
        json.push(format!(
            "{{\"instances\":{},\"records\":{},\"wall_s\":{:.3},\"cpu_s\":{:.3},\"records_per_s\":{:.0},\"peak_rss_mib\":{},\"vs_one\":{:.3}}}",
            r.instances, r.records, r.wall_s, r.cpu_s, rate, r.peak_rss_mib, rate / base
        ));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("scale.json"),
        format!(
            "{{\"lake\":\"{kind}\",\"broker\":\"{broker_kind}\",\"cores\":{cores},\"runs\":[{}]}}\n",
            json.join(",")
        ),
    )
    .unwrap();
}
