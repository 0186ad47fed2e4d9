//! End-to-end Kafka benchmark driver (not a criterion bench): one mode per
//! process so that each reports its own CPU time and peak RSS.
//!
//! - `produce --brokers B --records N`: a generated city, about N records, to the five topics;
//! - `bare --brokers B --group G`: a bare rdkafka consumer-group loop that drains
//!   the five topics and does nothing with the messages (the raw limit);
//! - `pipeline --brokers B --group G --lake DIR [--bytes N]`: `fivefold run` to the
//!   end into a committed lake (validation, dead letters, Parquet, offsets).
//!
//! - `files --out DIR --records N`: the same records as `produce`, as files;
//! - `replay --input DIR --lake DIR`: `fivefold replay` of those files.
//!
//! Each prints one JSON line. `benches/e2e/kafka.sh` runs all three against
//! one broker and prints the comparison.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use fivefold_generate::{GenConfig, Generator};
use fivefold_kafka::{KafkaConfig, Producer};
use fivefold_lake::{Lake, WriterOptions};
use fivefold_pipeline::{Config, RunOptions};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// User + system CPU seconds of this process (from /proc; USER_HZ is 100 on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn kafka(brokers: &str) -> KafkaConfig {
    let mut cfg = Config::load(None, []).map(|c| c.kafka).unwrap_or_else(|e| panic!("{e}"));
    cfg.brokers = brokers.to_owned();
    cfg
}

fn report(mode: &str, records: u64, bytes: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    println!(
        "{{\"mode\":\"{mode}\",\"records\":{records},\"bytes\":{bytes},\"seconds\":{secs:.3},\
         \"cpu_seconds\":{cpu:.3},\"records_per_second\":{:.0},\"records_per_cpu_second\":{:.0},\
         \"mb_per_second\":{:.1},\"peak_rss_mib\":{:.1}}}",
        records as f64 / secs,
        records as f64 / cpu.max(0.001),
        bytes as f64 / secs / 1e6,
        peak_rss_mib()
    );
}

fn records(args: &[String]) -> u64 {
    arg(args, "--records", "1000000").parse().unwrap_or(1_000_000)
}

/// A city of 500 enterprises (about 80k records an hour), long enough for `target` records.
fn city(target: u64) -> GenConfig {
    let hours = (target as f64 / 75_000.0).max(0.05);
    GenConfig { enterprises: 500, hours, seed: 42, ..GenConfig::default() }
}

/// The same records as `produce`, as `<topic>.jsonl` files.
fn files(args: &[String]) {
    let out = arg(args, "--out", "target/bench/input");
    let generator = Generator::new(city(records(args))).unwrap_or_else(|e| panic!("{e}"));
    let limited = generator.take(records(args) as usize);
    let mut files: std::collections::BTreeMap<&str, std::io::BufWriter<std::fs::File>> =
        std::collections::BTreeMap::new();
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    for rec in limited {
        let name = rec.topic.name();
        let f = files.entry(name).or_insert_with(|| {
            let f = std::fs::File::create(format!("{out}/{name}.jsonl"))
                .unwrap_or_else(|e| panic!("{e}"));
            std::io::BufWriter::with_capacity(1 << 20, f)
        });
        std::io::Write::write_all(f, &rec.payload).unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(f, b"\n").unwrap_or_else(|e| panic!("{e}"));
        n += 1;
        bytes += rec.payload.len() as u64 + 1;
    }
    for (_, mut f) in files {
        std::io::Write::flush(&mut f).unwrap_or_else(|e| panic!("{e}"));
    }
    report("files", n, bytes, started);
}

fn produce(args: &[String]) {
    let cfg = {
        let mut c = kafka(&arg(args, "--brokers", "127.0.0.1:9092"));
        c.partitions = arg(args, "--partitions", "3").parse().unwrap_or(3);
        c
    };
    let target = records(args);
    fivefold_kafka::ensure_topics(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let gen_cfg = city(target);
    let producer = Producer::new(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let names = cfg.names();
    let started = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    for rec in Generator::new(gen_cfg).unwrap_or_else(|e| panic!("{e}")).take(target as usize) {
        producer
            .send(names.name(rec.topic), rec.key.as_bytes(), &rec.payload, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        n += 1;
        bytes += rec.payload.len() as u64;
    }
    producer.flush(Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
    report("produce", n, bytes, started);
}

fn bare(args: &[String]) {
    let cfg = kafka(&arg(args, "--brokers", "127.0.0.1:9092"));
    let mut cc = cfg.client_config();
    cc.set("group.id", arg(args, "--group", "bench-bare"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = cc.create().unwrap_or_else(|e| panic!("{e}"));
    let names = cfg.names();
    let topics: Vec<&str> = names.all().collect();
    // How many to drain: what the producer reported.
    let total: u64 = records(args);
    consumer.subscribe(&topics).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    while n < total {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            n += 1;
            bytes += m.payload().map_or(0, <[u8]>::len) as u64;
        }
    }
    report("bare", n, bytes, started);
}

fn pipeline(args: &[String]) {
    let mut cfg = kafka(&arg(args, "--brokers", "127.0.0.1:9092"));
    cfg.group = arg(args, "--group", "bench-pipeline");
    let lake_dir = arg(args, "--lake", "target/bench/lake");
    let lake = Lake::open(&lake_dir, WriterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let model = fivefold_score::RiskModel::reference().unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        commit_interval: Duration::from_secs(5),
        commit_rows: 1_000_000,
        exit_at_end: true,
        model: Some(model),
    };
    let started = Instant::now();
    let summary =
        fivefold_pipeline::run(&cfg, lake, &opts, &AtomicBool::new(false), &AtomicU64::new(0))
            .unwrap_or_else(|e| panic!("{e}"));
    // The input size, as the producer reported it (the pipeline does not re-count it).
    let bytes: u64 = arg(args, "--bytes", "0").parse().unwrap_or(0);
    report("pipeline", summary.records, bytes, started);
}

fn replay(args: &[String]) {
    let input = arg(args, "--input", "target/bench/input");
    let lake_dir = arg(args, "--lake", "target/bench/replay-lake");
    let mut lake =
        Lake::open(&lake_dir, WriterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let bytes: u64 = std::fs::read_dir(&input)
        .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    let started = Instant::now();
    let model = fivefold_score::RiskModel::reference().unwrap_or_else(|e| panic!("{e}"));
    let opts = fivefold_pipeline::ReplayOptions { model: Some(model), ..Default::default() };
    let summary =
        fivefold_pipeline::replay(std::path::Path::new(&input), &mut lake, &opts, &mut |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
    report("replay", summary.records, bytes, started);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().skip(1).find(|a| !a.starts_with('-')).map(String::as_str) {
        Some("produce") => produce(&args),
        Some("bare") => bare(&args),
        Some("pipeline") => pipeline(&args),
        Some("replay") => replay(&args),
        Some("files") => files(&args),
        _ => eprintln!("usage: kafka_e2e produce|bare|pipeline|replay [--brokers HOST:PORT] [...]"),
    }
}
