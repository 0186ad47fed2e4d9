//! End-to-end tests of the `fivefold` binary: real processes, a real lake on
//! disk, read back through `fivefold sql` (DataFusion).

// Shared with the fault-injection suite (tests/faults), which uses all of it.
#[allow(dead_code)]
mod broker;
mod browser;
mod config;
mod demo;
mod harness;
mod kafka;
mod kpi;
#[path = "../support/lake_sql.rs"]
mod lake_sql;
#[path = "../support/moto.rs"]
mod moto;
mod replay;
mod runs;
mod s3;
mod scoring;
