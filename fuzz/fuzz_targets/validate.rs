//! Record validation of the five source topics.
//!
//! The first input byte picks the topic (`Topic::ALL[b % 5]`), the rest is raw
//! record bytes. The payload is pushed into that topic's [`Decoder`] whole, then
//! line by line (as replay splits a file), then drained with `finish()`, then
//! pushed once more and drained again (builders are reused after a drain).
//!
//! Checked: no panic whatever the bytes; `finish()` never fails (an error
//! there means the builders and the table schema disagree, i.e. a half-appended
//! row); every push lands exactly one row, in the table its [`Outcome`] names.

#![no_main]

use std::collections::BTreeMap;

use fivefold_model::{Decoder, Outcome, SourceRef, Table, Topic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else {
        return;
    };
    let topic = Topic::ALL[usize::from(first) % Topic::ALL.len()];
    let mut dec = Decoder::new(topic);
    let file = format!("{}.jsonl", topic.name());

    let mut expected = Expected::default();
    let whole =
        SourceRef { topic: topic.name(), file: Some(&file), line: Some(1), ..Default::default() };
    expected.push(dec.push(payload, &whole, 0));
    if payload.contains(&b'\n') {
        for (i, line) in payload.split(|&b| b == b'\n').enumerate() {
            let src = SourceRef {
                topic: topic.name(),
                partition: Some(0),
                offset: Some(i as i64),
                key: Some(line.get(..18).unwrap_or(line)),
                ..Default::default()
            };
            expected.push(dec.push(line, &src, i64::MAX));
        }
    }
    expected.check(&mut dec);

    let mut expected = Expected::default();
    expected.push(dec.push(payload, &whole, i64::MIN));
    expected.check(&mut dec);
});

/// Rows each table should hold after the pushes since the last drain.
#[derive(Default)]
struct Expected {
    rows: BTreeMap<Table, usize>,
    pushes: usize,
}

impl Expected {
    fn push(&mut self, outcome: Outcome) {
        let table = match outcome {
            Outcome::Accepted(t) => t,
            Outcome::Rejected(_) => Table::DeadLetters,
        };
        *self.rows.entry(table).or_default() += 1;
        self.pushes += 1;
    }

    fn check(self, dec: &mut Decoder) {
        assert_eq!(dec.buffered_rows(), self.pushes, "buffered rows");
        let batches = dec.finish().expect("the builders match the table schema");
        let got: BTreeMap<Table, usize> =
            batches.iter().map(|(t, b)| (*t, b.num_rows())).filter(|(_, n)| *n > 0).collect();
        assert_eq!(got, self.rows, "rows per table");
        for (t, b) in &batches {
            assert_eq!(b.schema(), t.schema(), "schema of {}", t.name());
        }
        assert_eq!(dec.buffered_rows(), 0, "buffered rows after finish");
    }
}
