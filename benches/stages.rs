//! The pipeline's stages after validation, one criterion group each, on
//! batches decoded from the synthetic city (400 enterprises, one hour):
//!
//! - `alarms`: the scoring operator's per-reading work (alarm derivation and
//!   point state), `Scorer::process` over the monitoring readings;
//! - `score`: the whole operator over every table of the hour, windows closed
//!   and score rows built (`process`, `advance`, `take_output`);
//! - `parquet`: encoding the readings into Parquet files in staging (zstd);
//! - `commit`: one commit of three small files with positions, with and without fsync.
//!
//! Validation per topic is `benches/validate.rs`. Criterion reports records/s
//! and bytes/s of the JSON input on one core.
//! Run: `cargo bench -p fivefold-pipeline --bench stages`.

// criterion_group! expands to an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use arrow::array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fivefold_generate::{GenConfig, Generator};
use fivefold_lake::{Lake, SourcePosition, WriterOptions};
use fivefold_model::{Decoder, SourceRef, Table, Topic};
use fivefold_score::{RiskModel, Scorer};

/// Decoded batches of one generated hour in event-time order, 8192 records a
/// batch per topic, with the JSON bytes of the readings.
struct Hour {
    batches: Vec<(Table, RecordBatch)>,
    records: u64,
    reading_rows: u64,
    reading_bytes: u64,
}

fn hour() -> Hour {
    let cfg = GenConfig { enterprises: 400, hours: 1.0, seed: 9, ..GenConfig::default() };
    let mut decoders: Vec<(Topic, Decoder, usize)> =
        Topic::ALL.iter().map(|t| (*t, Decoder::new(*t), 0)).collect();
    let mut out = Hour { batches: Vec::new(), records: 0, reading_rows: 0, reading_bytes: 0 };
    let flush = |d: &mut Decoder, out: &mut Hour| {
        for (table, batch) in d.finish().expect("builders match the schema") {
            if table == Table::MonitoringReading {
                out.reading_rows += batch.num_rows() as u64;
            }
            out.batches.push((table, batch));
        }
    };
    for r in Generator::new(cfg).expect("valid config") {
        let Some((_, d, n)) = decoders.iter_mut().find(|(t, ..)| *t == r.topic) else { continue };
        d.push(&r.payload, &SourceRef { topic: r.topic.name(), ..Default::default() }, 0);
        out.records += 1;
        if r.topic == Topic::Monitoring && r.payload.windows(9).any(|w| w == b"\"reading\"") {
            out.reading_bytes += r.payload.len() as u64 + 1;
        }
        *n += 1;
        if *n == 8192 {
            *n = 0;
            flush(d, &mut out);
        }
    }
    for (_, d, _) in &mut decoders {
        flush(d, &mut out);
    }
    out
}

/// A scorer that has seen the registry tables (enterprises, points) of the hour.
fn scorer(h: &Hour) -> Scorer {
    let mut s = Scorer::new(RiskModel::reference().expect("reference model")).expect("scorer");
    s.register_source(0, "bench");
    for (table, b) in &h.batches {
        if matches!(table, Table::Enterprise | Table::MonitoringPoint) {
            s.process(0, "bench", *table, b).expect("registry");
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let h = hour();
    let readings: Vec<&RecordBatch> =
        h.batches.iter().filter(|(t, _)| *t == Table::MonitoringReading).map(|(_, b)| b).collect();

    let mut g = c.benchmark_group("alarms");
    g.throughput(Throughput::Elements(h.reading_rows));
    g.bench_function("readings", |b| {
        b.iter_batched(
            || scorer(&h),
            |mut s| {
                for batch in &readings {
                    s.process(0, "bench", Table::MonitoringReading, batch).expect("process");
                }
                s
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();

    let mut g = c.benchmark_group("score");
    g.throughput(Throughput::Elements(h.records));
    g.bench_function("hour", |b| {
        b.iter_batched(
            || scorer(&h),
            |mut s| {
                for (table, batch) in &h.batches {
                    if !matches!(table, Table::Enterprise | Table::MonitoringPoint) {
                        s.process(0, "bench", *table, batch).expect("process");
                        s.advance(0, None);
                    }
                }
                s.flush(0);
                black_box(s.take_output(0).expect("output"))
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();

    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WriterOptions { durable: false, ..WriterOptions::default() };
    let mut lake = Lake::open(dir.path().join("encode"), opts.clone()).expect("lake");
    let mut g = c.benchmark_group("parquet");
    g.throughput(Throughput::Elements(h.reading_rows));
    g.bench_function("readings/records", |b| {
        b.iter(|| {
            for batch in &readings {
                lake.write(Table::MonitoringReading, batch).expect("write");
            }
            lake.abort();
        });
    });
    g.throughput(Throughput::Bytes(h.reading_bytes));
    g.bench_function("readings/json_bytes", |b| {
        b.iter(|| {
            for batch in &readings {
                lake.write(Table::MonitoringReading, batch).expect("write");
            }
            lake.abort();
        });
    });
    g.finish();

    let small: Vec<(Table, RecordBatch)> = h
        .batches
        .iter()
        .filter(|(t, _)| matches!(t, Table::MonitoringReading | Table::Hazard | Table::Enterprise))
        .map(|(t, b)| (*t, b.slice(0, b.num_rows().min(100))))
        .collect();
    let mut g = c.benchmark_group("commit");
    g.throughput(Throughput::Elements(1));
    for durable in [false, true] {
        let opts = WriterOptions { durable, ..WriterOptions::default() };
        let mut lake =
            Lake::open(dir.path().join(format!("commit-{durable}")), opts).expect("lake");
        let mut offset = 0;
        g.bench_function(if durable { "fsync" } else { "no_fsync" }, |b| {
            b.iter(|| {
                for (t, batch) in &small {
                    lake.write(*t, batch).expect("write");
                }
                offset += 100;
                lake.set_position(
                    "kafka:monitoring:0",
                    SourcePosition { next: offset, byte_offset: None },
                );
                black_box(lake.commit().expect("commit"))
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
