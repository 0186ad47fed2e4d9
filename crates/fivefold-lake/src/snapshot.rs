//! What a reader sees of the lake: the committed files, as of one log version.

use std::path::PathBuf;

/// One committed Parquet file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeFile {
    /// The table name (`fivefold_model::Table::name`).
    pub table: String,
    /// The `date=` partition value as days since 1970-01-01 (UTC).
    pub date: i64,
    /// Where the bytes are now: the file's final path under the table folder,
    /// or, while a commit is being rolled forward, its staged path. Absolute
    /// for a local lake; for a lake in object storage, the object's path in
    /// the bucket of [`Snapshot::store`].
    pub location: PathBuf,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// The committed state of the lake at one log version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The log version this snapshot reflects (0: nothing committed yet).
    pub version: u64,
    /// Every visible file, sorted by table, date and path.
    pub files: Vec<LakeFile>,
    /// The bucket the files are in, for a lake in object storage.
    pub store: Option<crate::ObjectLake>,
    /// Wall clock of the newest commit of new input, epoch ms
    /// ([`crate::LakeState::input_committed_at_ms`]).
    pub input_committed_at_ms: Option<i64>,
}

impl Snapshot {
    /// The visible files of one table.
    pub fn table_files<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a LakeFile> + 'a {
        self.files.iter().filter(move |f| f.table == table)
    }
}
