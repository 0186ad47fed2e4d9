//! `fivefold generate`.

use anyhow::Context as _;
use fivefold_generate::{GenConfig, GenSummary, Generator, write_files};
use fivefold_kafka::Producer;
use fivefold_model::time::parse_rfc3339_ms;

use crate::cli::GenerateArgs;
use crate::progress;

pub(crate) fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let mut cfg = GenConfig {
        enterprises: args.enterprises,
        hours: args.hours,
        seed: args.seed,
        bad_ratio: args.bad_ratio,
        ..GenConfig::default()
    };
    if let Some(start) = &args.start {
        cfg.start_ms = parse_rfc3339_ms(start).map_err(|e| {
            anyhow::anyhow!("--start {start:?} is not an RFC 3339 timestamp ({})", e.0)
        })?;
    }
    let generator = Generator::new(cfg)?;
    let pb = progress::bar(generator.estimated_records(), "records");
    let (summary, target) = match (&args.out, &args.brokers) {
        (Some(out), _) => {
            let s = write_files(generator, out, &mut |n| pb.set_position(n))
                .with_context(|| format!("writing to {}", out.display()))?;
            (s, out.display().to_string())
        }
        (None, Some(brokers)) => {
            (produce(generator, brokers, &args, &pb)?, format!("Kafka at {brokers}"))
        }
        (None, None) => anyhow::bail!("give --out DIR or --brokers HOST:PORT"),
    };
    pb.finish_and_clear();
    let good: u64 = summary.good.iter().sum();
    let bad: u64 = summary.bad.iter().sum();
    println!("generated {} records ({good} good, {bad} malformed) into {target}", good + bad);
    Ok(())
}

/// Produces every record to its topic, keyed, creating missing topics.
fn produce(
    generator: Generator,
    brokers: &str,
    args: &GenerateArgs,
    pb: &indicatif::ProgressBar,
) -> anyhow::Result<GenSummary> {
    let mut cfg = fivefold_pipeline::Config::load(args.config.as_deref(), std::env::vars())?.kafka;
    cfg.brokers = brokers.to_owned();
    cfg.topic_prefix = args.topic_prefix.clone();
    cfg.partitions = args.partitions;
    fivefold_kafka::ensure_topics(&cfg)?;
    let names = cfg.names();
    let producer = Producer::new(&cfg)?;
    let mut summary = GenSummary::default();
    for (i, rec) in generator.enumerate() {
        match producer.send(names.name(rec.topic), rec.key.as_bytes(), &rec.payload, &[]) {
            Ok(()) => summary.record(&rec),
            // Oversized bad records cannot travel through Kafka at all; the
            // file output keeps them, the summary counts only what was sent.
            Err(fivefold_kafka::Error::MessageTooLarge { bytes }) => {
                tracing::warn!(bytes, "Skipped a record larger than Kafka accepts.");
            }
            Err(e) => return Err(e.into()),
        }
        if i % 65_536 == 0 {
            pb.set_position(i as u64);
        }
    }
    producer.flush(std::time::Duration::from_secs(60))?;
    Ok(summary)
}
