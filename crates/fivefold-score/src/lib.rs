//! Fivefold risk scoring: from validated record batches to alarm episodes,
//! risk scores per enterprise per window, and late-event records.
//!
//! Pure compute, no I/O: the pipeline feeds [`Scorer::process`] the batches
//! it decoded, calls [`Scorer::advance`] to move event time, drains
//! [`Scorer::take_output`] into the lake, and stores [`Scorer::snapshot`] in
//! the same commit as the data and offsets. The model — every weight,
//! half-life, cap, window and threshold, and the event rules as SQL — is
//! configuration ([`RiskModel`], `config/risk-model.toml`).

pub mod alarms;
pub mod config;
pub mod enterprise;
mod error;
mod keyed;
pub mod operator;
pub mod output;
pub mod rules;

pub use config::{Millis, RiskModel};
pub use error::{Error, Result};
pub use operator::Scorer;
