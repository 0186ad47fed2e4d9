//! End-to-end tests of the `fivefold` binary: real processes, a real lake on
//! disk, read back through `fivefold sql` (DataFusion).

mod broker;
mod browser;
mod config;
mod harness;
mod kafka;
mod kpi;
mod replay;
mod scoring;
