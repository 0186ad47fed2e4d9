//! `fivefold demo`: an embedded broker, the generator producing to it, and
//! the pipeline consuming into a lake, in one process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use fivefold_generate::{GenConfig, Generator};
use fivefold_kafka::{Producer, TopicNames};
use fivefold_lake::Lake;
use fivefold_pipeline::{Config, RunOptions};

use crate::cli::DemoArgs;

/// The embedded broker keeps about 5 MiB per partition and silently drops the
/// oldest beyond that, so the producer never runs further ahead than this.
const MAX_AHEAD_PER_PARTITION: u64 = 10_000;

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut cfg = Config::load(None, std::env::vars())?;
    let names = TopicNames::new("");
    let cluster = fivefold_kafka::mock_cluster(&names, args.partitions)
        .context("starting the embedded Kafka broker")?;
    cfg.kafka.brokers = cluster.bootstrap_servers();
    cfg.kafka.group = "fivefold-demo".into();
    cfg.kafka.topic_prefix = String::new();
    cfg.lake.path = args.lake.clone();
    let lake = Lake::open(&cfg.lake.path, cfg.lake.writer_options())
        .with_context(|| format!("opening the lake at {}", cfg.lake.path.display()))?;
    let stop = super::shutdown_flag()?;
    let addr: std::net::SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not HOST:PORT", args.listen))?;
    let (serve_opts, scheme) = super::serve::checked_options(&cfg)?;
    let consumed = Arc::new(AtomicU64::new(0));

    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let gen_cfg = GenConfig {
        enterprises: args.enterprises,
        hours: 24.0 * 365.0,
        seed: args.seed,
        bad_ratio: 0.002,
        start_ms: now - now.rem_euclid(86_400_000),
    };
    let generator = Generator::new(gen_cfg)?;
    let producer = Producer::new(&cfg.kafka)?;
    let max_ahead = MAX_AHEAD_PER_PARTITION * args.partitions.max(1) as u64;
    let rate = f64::from(args.rate.max(1));
    let (p_stop, p_consumed) = (Arc::clone(&stop), Arc::clone(&consumed));
    let producer_thread = std::thread::Builder::new().name("generator".into()).spawn(
        move || -> anyhow::Result<u64> {
            let started = Instant::now();
            let mut sent = 0u64;
            for rec in generator {
                if p_stop.load(Ordering::Relaxed) {
                    break;
                }
                // Pace to the rate, and never run far ahead of the pipeline.
                while !p_stop.load(Ordering::Relaxed)
                    && (sent as f64 > started.elapsed().as_secs_f64() * rate
                        || sent.saturating_sub(p_consumed.load(Ordering::Relaxed)) > max_ahead)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                match producer.send(rec.topic.name(), rec.key.as_bytes(), &rec.payload, &[]) {
                    Ok(()) => sent += 1,
                    Err(fivefold_kafka::Error::MessageTooLarge { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            producer.flush(Duration::from_secs(5))?;
            Ok(sent)
        },
    )?;

    // The API serves the lake as it grows: it reloads on every new commit.
    let server = super::serve::spawn(
        cfg.lake.path.clone(),
        addr,
        serve_opts,
        super::serve::metrics(),
        Arc::clone(&stop),
    )?;
    println!("Fivefold demo");
    println!("  dashboard and API:     {scheme}://{addr}/");
    println!("  embedded Kafka broker: {}", cfg.kafka.brokers);
    println!("  lake:                  {}", cfg.lake.path.display());
    println!(
        "  generator:             {} enterprises, {} records/s (event time runs ahead of the clock)",
        args.enterprises, args.rate
    );
    println!(
        "  query it:              fivefold sql --lake {} \"SELECT count(*) FROM monitoring_reading\"",
        cfg.lake.path.display()
    );
    println!("Ctrl-C stops it cleanly.");

    let opts = RunOptions {
        commit_interval: cfg.run.commit_interval(),
        commit_rows: cfg.run.commit_rows,
        batch_rows: cfg.run.batch_rows,
        exit_at_end: false,
        // Event time runs far ahead of the clock here: topics that are quiet
        // (rescue, enforcement) stop holding it back after 3 s, not 30 s.
        model: cfg.scoring.model(None)?.map(|mut m| {
            m.windows.idle_timeout = fivefold_score::config::Millis(3_000);
            m
        }),
        check_clock: false,
        health: Default::default(),
    };
    let result = fivefold_pipeline::run(&cfg.kafka, lake, &opts, &stop, &consumed);
    stop.store(true, Ordering::Relaxed);
    let sent =
        producer_thread.join().map_err(|_| anyhow::anyhow!("the generator thread panicked"))??;
    server.join().map_err(|_| anyhow::anyhow!("the API thread panicked"))??;
    let summary = result?;
    println!(
        "stopped: produced {sent} records, the lake took {} of them in {} commits",
        summary.records, summary.commits
    );
    drop(cluster);
    Ok(())
}
