//! Metric names, in one place. Counters end in `_total`; units are base units.

/// Records read from a source, by `topic`.
pub const RECORDS_RECEIVED_TOTAL: &str = "fivefold_records_received_total";
/// Bytes read from a source, by `topic`.
pub const BYTES_RECEIVED_TOTAL: &str = "fivefold_received_bytes_total";
/// Records accepted into a source table, by `table`.
pub const RECORDS_ACCEPTED_TOTAL: &str = "fivefold_records_accepted_total";
/// Records rejected to dead letters, by `reason` (an error class).
pub const DEAD_LETTERS_TOTAL: &str = "fivefold_dead_letters_total";
/// Seconds per lake commit.
pub const COMMIT_DURATION_SECONDS: &str = "fivefold_commit_duration_seconds";
/// Lake commits.
pub const COMMITS_TOTAL: &str = "fivefold_commits_total";
/// Records a partition delivered past the next expected offset, by `topic`.
pub const OFFSET_GAPS_TOTAL: &str = "fivefold_offset_gaps_total";
/// Commits the lake refused (a full disk, say); counter.
pub const COMMIT_FAILURES_TOTAL: &str = "fivefold_commit_failures_total";
/// Parquet files committed, by `table`.
pub const LAKE_FILES_WRITTEN_TOTAL: &str = "fivefold_parquet_files_written_total";
/// Rows committed, by `table`.
pub const LAKE_ROWS_WRITTEN_TOTAL: &str = "fivefold_parquet_rows_written_total";
/// Parquet bytes committed, by `table`.
pub const LAKE_BYTES_WRITTEN_TOTAL: &str = "fivefold_parquet_written_bytes_total";
/// Rows per decoded batch, by `topic`.
pub const BATCH_ROWS: &str = "fivefold_batch_rows";
/// Consumer lag in records, by `topic` and `partition`.
pub const CONSUMER_LAG: &str = "fivefold_consumer_lag";
