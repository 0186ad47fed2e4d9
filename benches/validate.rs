//! Validation and normalisation: raw JSON records -> Arrow batches, per topic.
//!
//! Records come from the synthetic generator (realistic field mix and sizes).
//! Criterion reports elements/s (records) and bytes/s for one core.
//! Run: `cargo bench -p fivefold-model --bench validate`.

// criterion_group! expands to an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fivefold_generate::{GenConfig, Generator};
use fivefold_model::{Decoder, SourceRef, Topic};

fn records(topic: Topic, limit: usize) -> Vec<Vec<u8>> {
    let cfg = GenConfig { enterprises: 400, hours: 6.0, seed: 3, ..GenConfig::default() };
    let mut out = Vec::new();
    for r in Generator::new(cfg).expect("valid config") {
        if r.topic == topic {
            out.push(r.payload);
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    for topic in Topic::ALL {
        let recs = records(topic, 20_000);
        if recs.is_empty() {
            continue;
        }
        let bytes: usize = recs.iter().map(Vec::len).sum();
        group.throughput(Throughput::Elements(recs.len() as u64));
        group.bench_function(format!("{}/records", topic.name()), |b| {
            let mut dec = Decoder::new(topic);
            b.iter(|| {
                for (i, r) in recs.iter().enumerate() {
                    let src = SourceRef {
                        topic: topic.name(),
                        offset: Some(i as i64),
                        partition: Some(0),
                        ..Default::default()
                    };
                    black_box(dec.push(r, &src, 0));
                }
                black_box(dec.finish().expect("builders match the schema"))
            });
        });
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("{}/bytes", topic.name()), |b| {
            let mut dec = Decoder::new(topic);
            b.iter(|| {
                for r in &recs {
                    black_box(dec.push(
                        r,
                        &SourceRef { topic: topic.name(), ..Default::default() },
                        0,
                    ));
                }
                black_box(dec.finish().expect("builders match the schema"))
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
