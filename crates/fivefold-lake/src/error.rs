//! Errors of the lake.

use std::path::PathBuf;

/// What can go wrong reading or writing the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("create", "rename", ...).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An object-store operation failed (after the store's own retries).
    #[error("{op} {path}: {message}")]
    Store {
        /// What was being done ("read", "create", "upload", ...).
        op: &'static str,
        /// The object's URL.
        path: String,
        /// The store's error.
        message: String,
    },
    /// The operation needs the lake on a local file system.
    #[error("{what} works on a lake in a local folder only, and {lake} is in object storage")]
    LocalOnly {
        /// What was asked.
        what: &'static str,
        /// The lake.
        lake: String,
    },
    /// Encoding a Parquet file failed.
    #[error("writing parquet file {path}: {source}")]
    Parquet {
        /// The staged file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Splitting a batch by date failed.
    #[error(
        "internal error splitting a batch of table `{table}` by date: {message}; please report"
    )]
    Internal {
        /// The table.
        table: &'static str,
        /// What happened.
        message: String,
    },
    /// A commit log file does not parse or contradicts the log.
    #[error(
        "the commit log is damaged at {path}: {message}. No data was skipped; restore the file from \
         backup, or run `fivefold lake repair --lake <DIR>` to move it and every later entry aside; the lake then resumes from the version before it"
    )]
    CorruptLog {
        /// The log file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A committed file is gone from both its final and its staged place.
    #[error(
        "file {path} of commit {version} is missing from the lake; it was deleted outside Fivefold"
    )]
    MissingFile {
        /// The commit that added it.
        version: u64,
        /// Its path relative to the lake.
        path: String,
    },
    /// A maintenance command found a writer holding the lake.
    #[error(
        "writer {writer} has the lake open; stop `fivefold run`/`replay` on this lake and try again"
    )]
    Busy {
        /// The writer's id.
        writer: String,
    },
    /// Another writer removed files this commit removes (a concurrent
    /// compaction of the same files); this commit was dropped.
    #[error(
        "another compaction rewrote these files first (at or before version {version}); nothing \
         was changed by this one, run it again if files are still small"
    )]
    Conflict {
        /// The version this commit tried to take.
        version: u64,
    },
    /// A file being compacted does not read back as its commit describes.
    #[error("cannot compact {path}: {message}")]
    Compact {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another writer committed positions for these sources since this writer
    /// read them: it owns them now, and this writer's uncommitted work is void.
    #[error(
        "another writer committed {} since this writer read them; this writer no longer owns \
         them and discarded its uncommitted work",
        .sources.join(", ")
    )]
    Fenced {
        /// The source keys that moved.
        sources: Vec<String>,
    },
}

/// The lake's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches an operation and a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { op, path: path.into(), source })
    }
}
