//! The lake's metrics, emitted once per commit.

use fivefold_model::metric;

use crate::log::CommitEntry;

pub(crate) fn commit(entry: &CommitEntry, seconds: f64) {
    metrics::histogram!(metric::COMMIT_DURATION_SECONDS).record(seconds);
    metrics::counter!(metric::COMMITS_TOTAL).increment(1);
    for a in &entry.adds {
        let table = a.table.clone();
        metrics::counter!(metric::LAKE_FILES_WRITTEN_TOTAL, "table" => table.clone()).increment(1);
        metrics::counter!(metric::LAKE_ROWS_WRITTEN_TOTAL, "table" => table.clone())
            .increment(a.rows);
        metrics::counter!(metric::LAKE_BYTES_WRITTEN_TOTAL, "table" => table).increment(a.bytes);
    }
}
