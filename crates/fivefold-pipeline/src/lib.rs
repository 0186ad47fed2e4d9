//! Fivefold's pipelines: sources -> validation -> lake, checkpointed through
//! the lake's commit log.
//!
//! [`replay`] runs the pipeline over files, [`run`] from Kafka; [`Config`] is the layered
//! configuration every command shares.

pub mod config;
mod error;
pub mod health;
pub mod replay;
pub mod run;

pub use config::Config;
pub use error::{Error, Result};
pub use health::{Health, Status};
pub use replay::{Progress, ReplayOptions, ReplaySummary, replay};
pub use run::{RunOptions, RunSummary, run};
