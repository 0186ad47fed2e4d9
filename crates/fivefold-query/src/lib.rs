//! DataFusion over the Fivefold lake.
//!
//! This crate owns the read side of the lake: it turns a
//! [`fivefold_lake::Snapshot`] (the committed files as of one log version)
//! into SQL tables and views, and runs read-only SQL over them.
//!
//! - [`LakeTable`] is a DataFusion `TableProvider` over the committed Parquet
//!   files of one table. Its schema is the table's file schema
//!   ([`fivefold_model::Table::schema`]) plus a `date` (`Date32`) partition
//!   column taken from each file's [`fivefold_lake::LakeFile::date`]. Only files
//!   in the snapshot are read; directories are never listed, so uncommitted or
//!   half-renamed files are invisible. Filters on `date` alone prune whole files.
//! - [`lake_session`] builds a `SessionContext` with every table of
//!   [`fivefold_model::Table::ALL`] and every view of [`views`] (including [`kpi`]) registered;
//!   [`register_lake`] moves an existing context to a newer snapshot.
//! - [`query`] runs one read-only statement (DDL, DML and `SET` are refused
//!   with [`Error::ReadOnly`]); [`explain`] shows its plan.
//! - [`format_batches`] renders results as a table, CSV or JSON.
//!
//! # Example
//!
//! ```no_run
//! use fivefold_query::{OutputFormat, QueryOptions, format_batches, lake_session, query};
//!
//! # async fn run(snapshot: fivefold_lake::Snapshot) -> fivefold_query::Result<()> {
//! let ctx = lake_session(&snapshot, &QueryOptions::default())?;
//! let batches = query(
//!     &ctx,
//!     "SELECT industry, count(*) AS n FROM enterprise_latest \
//!      WHERE date >= DATE '2026-03-01' GROUP BY industry ORDER BY n DESC",
//! )
//! .await?;
//! println!("{}", format_batches(&batches, OutputFormat::Table)?);
//! # Ok(())
//! # }
//! ```

mod error;
mod format;
pub mod kpi;
mod run;
mod session;
pub mod shape;
mod table;

pub use error::{Error, Result};
pub use format::{BatchWriter, OutputFormat, format_batches};
pub use run::{explain, query, query_to};
pub use session::{QueryOptions, alarm_episodes, first_per, lake_session, register_lake, views};
pub use table::{DATE_COLUMN, LakeTable};

/// Arrow's record batch, the unit query results come in.
pub use datafusion::arrow::array::RecordBatch;
/// The DataFusion session type the API and CLI share.
pub use datafusion::prelude::SessionContext;
