//! Scoring throughput and state memory at municipal scale (not a criterion
//! bench: one run, one JSON line, so peak RSS means something).
//!
//! 10,000 enterprises with 10 sensor points each (100,000 points), readings
//! every 60 s for `--minutes` (default 60) of event time, scored with the
//! reference model. Validation is timed apart from scoring.
//!
//! Run: `cargo bench -p fivefold-score --bench score -- --minutes 60`.

use std::time::Instant;

use fivefold_model::time::format_rfc3339_ms;
use fivefold_model::uscc::check_char;
use fivefold_model::{Decoder, SourceRef, Table, Topic};
use fivefold_score::{RiskModel, Scorer};

const T0: i64 = 1_772_323_200_000;

fn uscc(i: u32) -> String {
    let body = format!("91320505{i:09}");
    let c = check_char(body.as_bytes()).map_or('0', char::from);
    format!("{body}{c}")
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Default)]
struct Stats {
    decode_s: f64,
    score_s: f64,
    records: u64,
}

/// Validates `lines` (timed as decode), then scores them (timed as score).
fn run(scorer: &mut Scorer, stats: &mut Stats, topic: Topic, lines: Vec<String>, source: &str) {
    let t = Instant::now();
    let mut d = Decoder::new(topic);
    for l in &lines {
        d.push(l.as_bytes(), &SourceRef { topic: topic.name(), ..Default::default() }, 0);
    }
    let batches = d.finish().unwrap_or_else(|e| panic!("{e}"));
    stats.decode_s += t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (table, b) in &batches {
        if *table != Table::DeadLetters {
            scorer.process(0, source, *table, b).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    scorer.advance(0, None);
    let _ = scorer.take_output(0);
    stats.score_s += t.elapsed().as_secs_f64();
    stats.records += lines.len() as u64;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |n: &str, d: u32| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (enterprises, per, minutes) =
        (arg("--enterprises", 10_000), arg("--points", 10), arg("--minutes", 60));
    let mut scorer = Scorer::new(RiskModel::reference().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stats = Stats::default();
    scorer.register_source(0, "e");
    scorer.register_source(0, "m");
    let ents: Vec<String> = (0..enterprises)
        .map(|i| {
            format!(
                r#"{{"event_id":"e{i}","event_time":{T0},"uscc":"{}","region_code":"320505{:03}{:03}","name":"n","industry":"hazchem_storage","major_hazard_level":{},"major_hazard_units":1,"hazardous_processes":1,"standardization_grade":2,"own_rescue_team":false,"employees":10,"status":"operating"}}"#,
                uscc(i),
                i % 50,
                i % 7,
                i % 5
            )
        })
        .collect();
    run(&mut scorer, &mut stats, Topic::Enterprise, ents, "e");
    scorer.finish_source(0, "e");
    let points: Vec<String> = (0..enterprises * per)
        .map(|p| {
            format!(
                r#"{{"event_id":"p{p}","event_time":{T0},"uscc":"{}","record_type":"point","point_id":"P{p}","kind":"pressure","unit":"MPa","high":2.0,"high_high":2.5,"low":0.2,"expected_period_s":60,"flatline_applicable":true,"unit_level":{}}}"#,
                uscc(p / per),
                1 + p % 4
            )
        })
        .collect();
    run(&mut scorer, &mut stats, Topic::Monitoring, points, "m");
    for minute in 0..i64::from(minutes) {
        let t = T0 + minute * 60_000;
        let lines: Vec<String> = (0..enterprises * per)
            .map(|p| {
                // A few points run hot now and then, so alarms and standing alarms occur.
                let hot = p % 997 == 0 && (minute / 10) % 2 == 1;
                let v = if hot { 2.2 } else { 1.0 + f64::from(p % 7) * 0.01 + (minute % 5) as f64 * 0.001 };
                format!(
                    r#"{{"event_time":"{}","uscc":"{}","record_type":"reading","point_id":"P{p}","value":{v}}}"#,
                    format_rfc3339_ms(t + i64::from(p % 50) * 1000, 480),
                    uscc(p / per)
                )
            })
            .collect();
        run(&mut scorer, &mut stats, Topic::Monitoring, lines, "m");
    }
    scorer.flush(0);
    let state = scorer.snapshot(0).map_or(0, |s| s.len());
    let Stats { decode_s, score_s, records } = stats;
    println!(
        "{{\"enterprises\":{enterprises},\"points\":{},\"records\":{records},\"decode_seconds\":{decode_s:.2},\
         \"score_seconds\":{score_s:.2},\"score_records_per_second\":{:.0},\"state_snapshot_mib\":{:.1},\
         \"peak_rss_mib\":{:.1}}}",
        enterprises * per,
        records as f64 / score_s,
        state as f64 / 1048576.0,
        peak_rss_mib()
    );
}
