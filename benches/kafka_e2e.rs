//! End-to-end Kafka benchmark driver (not a criterion bench): one mode per
//! process so that each reports its own CPU time and peak RSS.
//!
//! - `produce --brokers B --records N`: a generated city, about N records, to the five topics;
//! - `bare --brokers B --group G`: a bare rdkafka consumer-group loop that drains
//!   the five topics and does nothing with the messages (the raw limit);
//! - `pipeline --brokers B --group G --lake DIR [--bytes N]`: `fivefold run` to the
//!   end into a committed lake (validation, dead letters, Parquet, offsets), with
//!   `[run]` read as `fivefold run` reads it (`FIVEFOLD_RUN__BATCH_ROWS=32768`, say).
//!
//! - `files --out DIR --records N`: the same records as `produce`, as files;
//! - `replay --input DIR --lake DIR`: `fivefold replay` of those files.
//! - `latency --brokers B --lake DIR [--rate R] [--seconds S]`: event-to-queryable
//!   latency. Readings stamped with the wall clock are produced at a steady R
//!   records/s while the pipeline runs; a poller reads the lake through
//!   DataFusion every 50 ms, as `fivefold sql` would, and a record counts as
//!   queryable when its window's score row is committed. The model uses 1 s
//!   windows, 500 ms out-of-orderness and 1 s idleness, with 1 s commits: the
//!   latency is that configuration's, not the default 5-minute windows'.
//!
//! Each prints one JSON line. `benches/e2e/run.sh` runs them against one
//! broker, beside DuckDB and Flink, and prints the comparison.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use arrow::array::Array as _;
use fivefold_generate::{GenConfig, Generator};
use fivefold_kafka::{KafkaConfig, Producer};
use fivefold_lake::{Lake, WriterOptions};
use fivefold_pipeline::{Config, RunOptions};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

#[path = "args.rs"]
mod args;
use args::arg;

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

/// The built-in configuration with `FIVEFOLD_SECTION__KEY` overrides from
/// the environment, as `fivefold run` reads it.
fn config() -> Config {
    Config::load(None, std::env::vars()).unwrap_or_else(|e| panic!("{e}"))
}

fn kafka(brokers: &str) -> KafkaConfig {
    brokers_of(config(), brokers)
}

/// The Kafka section of `config`, pointed at `brokers`.
fn brokers_of(config: Config, brokers: &str) -> KafkaConfig {
    let mut cfg = config.kafka;
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
    // `[run]` as `fivefold run` reads it: the defaults (5 s, 1M rows, 8192
    // rows a batch) unless the environment overrides them.
    let config = config();
    let run = config.run.clone();
    let mut cfg = brokers_of(config, &arg(args, "--brokers", "127.0.0.1:9092"));
    cfg.group = arg(args, "--group", "bench-pipeline");
    let lake_dir = arg(args, "--lake", "target/bench/lake");
    let lake = Lake::open(&lake_dir, WriterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let model = fivefold_score::RiskModel::reference().unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        commit_interval: run.commit_interval(),
        commit_rows: run.commit_rows,
        batch_rows: run.batch_rows,
        exit_at_end: true,
        model: Some(model),
        check_clock: true,
        health: Default::default(),
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
    // The lake's default level unless `--zstd-level` asks for another.
    let mut writer = WriterOptions::default();
    if let Ok(level) = arg(args, "--zstd-level", "").parse() {
        writer.zstd_level = level;
    }
    let mut lake = Lake::open(&lake_dir, writer).unwrap_or_else(|e| panic!("{e}"));
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

/// A USCC with a valid check character for enterprise `i`.
fn uscc(i: u32) -> String {
    let body = format!("91320505{i:09}");
    let c = fivefold_model::uscc::check_char(body.as_bytes()).map_or('0', char::from);
    format!("{body}{c}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The newest committed `window_end` of `risk_scores` (epoch ms), through DataFusion.
fn newest_score(lake: &std::path::Path, rt: &tokio::runtime::Runtime) -> Option<i64> {
    let snapshot = fivefold_lake::read_snapshot(lake).ok()?;
    rt.block_on(async {
        let ctx = fivefold_query::lake_session(&snapshot, &fivefold_query::QueryOptions::default())
            .ok()?;
        let sql = "SELECT CAST(max(window_end) AS BIGINT) FROM risk_scores";
        let batches = fivefold_query::query(&ctx, sql).await.ok()?;
        let col = batches.first()?.column(0).as_any();
        let col = col.downcast_ref::<arrow::array::Int64Array>()?;
        (!col.is_null(0)).then(|| col.value(0))
    })
}

fn latency(args: &[String]) {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let mut cfg = kafka(&arg(args, "--brokers", "127.0.0.1:9092"));
    cfg.topic_prefix = "latency-".into();
    cfg.group = "bench-latency".into();
    cfg.partitions = 3;
    let rate: u64 = arg(args, "--rate", "5000").parse().unwrap_or(5000);
    let seconds: u64 = arg(args, "--seconds", "30").parse().unwrap_or(30);
    let lake_dir = std::path::PathBuf::from(arg(args, "--lake", "target/bench/latency-lake"));
    fivefold_kafka::ensure_topics(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let producer = Producer::new(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let names = cfg.names();
    let (enterprises, per) = (100u32, 10u32);
    let t0 = now_ms();
    for i in 0..enterprises {
        let u = uscc(i);
        let ent = format!(
            r#"{{"event_id":"e{i}","event_time":{t0},"uscc":"{u}","region_code":"320505001001","name":"n","industry":"hazchem_storage","major_hazard_level":2,"major_hazard_units":1,"hazardous_processes":1,"standardization_grade":2,"own_rescue_team":false,"employees":10,"status":"operating"}}"#
        );
        producer
            .send(names.name(fivefold_model::Topic::Enterprise), u.as_bytes(), ent.as_bytes(), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        for p in 0..per {
            let pt = format!(
                r#"{{"event_id":"p{i}-{p}","event_time":{t0},"uscc":"{u}","record_type":"point","point_id":"P{i}-{p}","kind":"pressure","unit":"MPa","high":2.0,"high_high":2.5,"expected_period_s":60}}"#
            );
            producer
                .send(
                    names.name(fivefold_model::Topic::Monitoring),
                    u.as_bytes(),
                    pt.as_bytes(),
                    &[],
                )
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));

    let mut model = fivefold_score::RiskModel::reference().unwrap_or_else(|e| panic!("{e}"));
    let window = 1000;
    model.windows.score_window = fivefold_score::Millis(window);
    model.windows.out_of_orderness = fivefold_score::Millis(500);
    model.windows.idle_timeout = fivefold_score::Millis(1000);
    let opts = RunOptions {
        commit_interval: Duration::from_secs(1),
        commit_rows: 1_000_000,
        batch_rows: 8192,
        exit_at_end: false,
        model: Some(model),
        check_clock: true,
        health: Default::default(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let lake = Lake::open(&lake_dir, WriterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let (run_cfg, run_stop) = (cfg.clone(), Arc::clone(&stop));
    let pipeline = std::thread::spawn(move || {
        fivefold_pipeline::run(&run_cfg, lake, &opts, &run_stop, &AtomicU64::new(0))
    });

    // Bursts every 10 ms: (window end, produce time, records).
    let bursts = Arc::new(std::sync::Mutex::new(Vec::<(i64, i64, u64)>::new()));
    let b2 = Arc::clone(&bursts);
    let started = Instant::now();
    let start_ms = now_ms();
    let produce = std::thread::spawn(move || {
        let per_burst = (rate / 100).max(1);
        let points = u64::from(enterprises * per);
        let mut k = 0u64;
        let mut sent = 0u64;
        // Three seconds more than measured, so the last measured windows close.
        while started.elapsed() < Duration::from_secs(seconds + 3) {
            let t = now_ms();
            for _ in 0..per_burst {
                let (i, p) = ((k % points) / u64::from(per), k % u64::from(per));
                let u = uscc(i as u32);
                let v = 1.0 + (k % 13) as f64 * 0.01;
                let line = format!(
                    r#"{{"event_time":{t},"uscc":"{u}","record_type":"reading","point_id":"P{i}-{p}","value":{v}}}"#
                );
                let _ = producer.send(
                    names.name(fivefold_model::Topic::Monitoring),
                    u.as_bytes(),
                    line.as_bytes(),
                    &[],
                );
                k += 1;
            }
            sent += per_burst;
            if let Ok(mut b) = b2.lock() {
                b.push(((t / window + 1) * window, t, per_burst));
            }
            let due = Duration::from_millis(sent * 1000 / rate.max(1));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let _ = producer.flush(Duration::from_secs(30));
        sent
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut latencies: Vec<(i64, u64)> = Vec::new();
    let mut next = 0usize;
    let (warmup, measured) = (Duration::from_secs(3), Duration::from_secs(seconds));
    let deadline = Duration::from_secs(seconds + 30);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let seen = now_ms();
        if let Some(newest) = newest_score(&lake_dir, &rt) {
            let b = bursts.lock().map(|b| b.clone()).unwrap_or_default();
            while next < b.len() && b[next].0 <= newest {
                let (_, produced, n) = b[next];
                let at = Duration::from_millis((produced - start_ms).max(0) as u64);
                if at > warmup && at <= measured {
                    latencies.push((seen - produced, n));
                }
                next += 1;
            }
            let last = b.last().map_or(0, |l| l.1);
            if last - start_ms > measured.as_millis() as i64
                && b.get(next).is_some_and(|x| x.1 - start_ms > measured.as_millis() as i64)
            {
                break;
            }
        }
        if started.elapsed() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = produce.join().unwrap_or(0);
    let _ = pipeline.join();
    latencies.sort_unstable();
    let total: u64 = latencies.iter().map(|l| l.1).sum();
    let pct = |q: f64| {
        let mut acc = 0u64;
        let want = (total as f64 * q).ceil() as u64;
        latencies
            .iter()
            .find(|(_, n)| {
                acc += n;
                acc >= want
            })
            .map_or(-1, |l| l.0)
    };
    println!(
        "{{\"mode\":\"latency\",\"rate\":{rate},\"records\":{sent},\"measured\":{total},\
         \"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{},\"window_ms\":{window},\"peak_rss_mib\":{:.1}}}",
        pct(0.5),
        pct(0.99),
        latencies.last().map_or(-1, |l| l.0),
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().skip(1).find(|a| !a.starts_with('-')).map(String::as_str) {
        Some("produce") => produce(&args),
        Some("bare") => bare(&args),
        Some("pipeline") => pipeline(&args),
        Some("replay") => replay(&args),
        Some("files") => files(&args),
        Some("latency") => latency(&args),
        _ => eprintln!(
            "usage: kafka_e2e produce|bare|pipeline|replay|files|latency [--brokers HOST:PORT] [...]"
        ),
    }
}
