//! The rule compiler of the risk model (`fivefold_score::rules::Rules`): SQL
//! text planned into DataFusion physical expressions, then evaluated.
//!
//! The first input byte picks the source table the rule reads (one of the six
//! tables with a field list); the rest must be UTF-8 (anything else is
//! skipped): the `when` predicate up to the first newline, the `points`
//! expression after it (`"1"` when there is no newline).
//!
//! Checked: `Rules::compile` never panics, whatever the text. A rule that
//! compiles is then evaluated on a batch of that table decoded from
//! `schemas/examples/<topic>.valid.jsonl`, and on an empty slice of it: errors
//! are fine, panics are not, and hits must point at rows of the batch.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arrow::record_batch::RecordBatch;
use fivefold_model::{Decoder, SourceRef, Table, Topic};
use fivefold_score::Millis;
use fivefold_score::config::RuleConfig;
use fivefold_score::rules::Rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let tables = source_tables();
    let table = tables[usize::from(first) % tables.len()];
    let (when, points) = text.split_once('\n').unwrap_or((text, "1"));
    let rule = RuleConfig {
        id: "FUZZ".into(),
        table: table.name().into(),
        family: "hazards".into(),
        when: when.into(),
        points: points.into(),
        decay: Millis(86_400_000),
        at: None,
        key: None,
    };
    let Ok(rules) = Rules::compile(&[rule]) else {
        return;
    };
    let batch = &example_batches()[&table];
    for b in [batch.clone(), batch.slice(0, 0)] {
        if let Ok(hits) = rules.eval(table, &b) {
            assert!(hits.iter().all(|h| h.rule == 0 && h.row < b.num_rows()), "hits {hits:?}");
        }
    }
});

/// The tables a rule may read.
fn source_tables() -> &'static [Table] {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    TABLES.get_or_init(|| Table::ALL.into_iter().filter(|t| t.fields().is_some()).collect())
}

/// One batch per source table from the valid schema examples.
fn example_batches() -> &'static BTreeMap<Table, RecordBatch> {
    static BATCHES: OnceLock<BTreeMap<Table, RecordBatch>> = OnceLock::new();
    BATCHES.get_or_init(|| {
        let mut out = BTreeMap::new();
        for topic in Topic::ALL {
            let mut dec = Decoder::new(topic);
            for (i, line) in examples(topic).lines().enumerate() {
                let src = SourceRef {
                    topic: topic.name(),
                    line: Some(i as i64 + 1),
                    ..Default::default()
                };
                dec.push(line.as_bytes(), &src, 0);
            }
            for (t, b) in dec.finish().expect("the examples decode") {
                if t != Table::DeadLetters {
                    out.insert(t, b);
                }
            }
        }
        for t in source_tables() {
            out.entry(*t).or_insert_with(|| RecordBatch::new_empty(t.schema()));
        }
        out
    })
}

fn examples(topic: Topic) -> &'static str {
    match topic {
        Topic::Enterprise => include_str!("../../schemas/examples/enterprise.valid.jsonl"),
        Topic::Hazard => include_str!("../../schemas/examples/hazard.valid.jsonl"),
        Topic::Enforcement => include_str!("../../schemas/examples/enforcement.valid.jsonl"),
        Topic::Monitoring => include_str!("../../schemas/examples/monitoring.valid.jsonl"),
        Topic::Rescue => include_str!("../../schemas/examples/rescue.valid.jsonl"),
    }
}
