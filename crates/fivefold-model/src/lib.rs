//! Fivefold's record model: the tables, their Arrow schemas, and the
//! validation that turns raw topic records into Arrow batches.
//!
//! No I/O happens here. The entry point is [`Decoder`]: one per topic, fed raw
//! record bytes with their source coordinates, drained into `RecordBatch`es
//! per lake table, with every rejected record in the dead-letter batch.
//!
//! ```
//! use fivefold_model::{Decoder, Outcome, SourceRef, Table, Topic};
//!
//! let mut dec = Decoder::new(Topic::Hazard);
//! let src = SourceRef { topic: "hazard", file: Some("hazard.jsonl"), line: Some(1), ..Default::default() };
//! let out = dec.push(br#"{"event_id":"h1"}"#, &src, 0);
//! assert!(matches!(out, Outcome::Rejected(r) if r.reason() == "field `event_time`: required field is missing"));
//! let batches = dec.finish().expect("builders match the schema");
//! assert_eq!(batches[0].0, Table::DeadLetters);
//! ```

pub mod decode;
pub mod json;
pub mod metric;
pub mod spec;
pub mod time;
pub mod uscc;

pub use decode::{Decoder, ErrorClass, Outcome, Rejection, SourceRef};
pub use spec::{Table, Topic};
