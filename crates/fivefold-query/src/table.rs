//! [`LakeTable`]: a DataFusion table over the committed Parquet files of one lake table.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, Date32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{DFSchema, ScalarValue, Statistics, project_schema};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use fivefold_lake::LakeFile;
use fivefold_model::Table;

/// The name of the partition column every lake table ends with.
pub const DATE_COLUMN: &str = "date";

/// A TableProvider over the committed files of one table.
///
/// The SQL schema is the table's file schema ([`Table::schema`]) followed by
/// the partition column `date` (`Date32`, non-null), whose value for each file
/// is [`LakeFile::date`] — never parsed from the path. Only the files given to
/// [`LakeTable::new`] are ever opened; directories are never listed.
///
/// A scan is a Parquet [`DataSourceExec`] over those files, with projection and
/// limit pushed down. Filters that reference only `date` prune whole files
/// before the scan and are reported [`TableProviderFilterPushDown::Exact`];
/// any other filter is reported `Inexact`, stays above the scan, and is pushed
/// into the Parquet reader by DataFusion's physical filter pushdown (row-group
/// statistics pruning, plus row filtering when
/// `datafusion.execution.parquet.pushdown_filters` is on).
#[derive(Debug, Clone)]
pub struct LakeTable {
    table: Table,
    files: Vec<LakeFile>,
    table_schema: TableSchema,
    /// The object store the files are in (`None`: the local file system).
    store: Option<ObjectStoreUrl>,
}

impl LakeTable {
    /// A table over `files`, which should all belong to `table`
    /// (callers usually pass `snapshot.table_files(table.name())`).
    pub fn new(table: Table, files: Vec<LakeFile>) -> Self {
        let table_schema = TableSchema::builder(table.schema())
            .with_table_partition_cols(vec![date_field()])
            .build();
        Self { table, files, table_schema, store: None }
    }

    /// The same table over files in the object store registered under
    /// `store` (`s3://bucket`); their locations are object paths.
    pub fn in_store(mut self, store: ObjectStoreUrl) -> Self {
        self.store = Some(store);
        self
    }

    /// The lake table this provider reads.
    pub fn table(&self) -> Table {
        self.table
    }

    /// The committed files this provider reads.
    pub fn files(&self) -> &[LakeFile] {
        &self.files
    }

    /// The files whose date passes every filter of `date_filters` (each of
    /// which references only `date`).
    fn prune_files(&self, state: &dyn Session, date_filters: &[Expr]) -> DfResult<Vec<&LakeFile>> {
        let Some(predicate) = conjunction(date_filters.iter().cloned().map(unnormalize_col)) else {
            return Ok(self.files.iter().collect());
        };
        let dates: Vec<i32> = self
            .files
            .iter()
            .map(file_date)
            .collect::<DfResult<BTreeSet<i32>>>()?
            .into_iter()
            .collect();
        if dates.is_empty() {
            return Ok(Vec::new());
        }
        let schema = Arc::new(Schema::new(vec![date_field()]));
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let predicate = state.create_physical_expr(predicate, &df_schema)?;
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(dates.clone()))])?;
        let result = predicate.evaluate(&batch)?.into_array(batch.num_rows())?;
        let mask = result.as_boolean_opt().ok_or_else(|| {
            DataFusionError::Plan(format!(
                "filter on `{DATE_COLUMN}` of {} evaluated to {}, not a boolean",
                self.table.name(),
                result.data_type()
            ))
        })?;
        // A null result (e.g. comparing with NULL) excludes the date, as in WHERE.
        let kept: BTreeSet<i32> = dates
            .iter()
            .enumerate()
            .filter(|(i, _)| mask.is_valid(*i) && mask.value(*i))
            .map(|(_, d)| *d)
            .collect();
        let mut files = Vec::new();
        for file in &self.files {
            if kept.contains(&file_date(file)?) {
                files.push(file);
            }
        }
        Ok(files)
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(self.table_schema.table_schema())
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if is_date_filter(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let date_filters: Vec<Expr> =
            filters.iter().filter(|f| is_date_filter(f)).cloned().collect();
        let files = self.prune_files(state, &date_filters)?;
        tracing::debug!(
            table = self.table.name(),
            committed = self.files.len(),
            scanned = files.len(),
            "lake scan"
        );
        if files.is_empty() {
            let schema = project_schema(&self.schema(), projection)?;
            return Ok(Arc::new(EmptyExec::new(schema)));
        }

        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let remote = self.store.is_some();
        let partitioned =
            files.into_iter().map(|f| partitioned_file(f, remote)).collect::<DfResult<Vec<_>>>()?;
        let groups = group_files(partitioned, state.config().target_partitions());

        // Row and byte counts come from the commit log; they are marked inexact
        // so that they guide planning (join order) but never answer a query.
        let mut statistics = Statistics::new_unknown(&self.schema());
        statistics.num_rows = Precision::Inexact(usize::try_from(rows).unwrap_or(usize::MAX));
        statistics.total_byte_size =
            Precision::Inexact(usize::try_from(bytes).unwrap_or(usize::MAX));

        let store_url = self.store.clone().unwrap_or_else(ObjectStoreUrl::local_filesystem);
        let source = ParquetSource::new(self.table_schema.clone())
            .with_table_parquet_options(state.table_options().parquet.clone());
        let config = FileScanConfigBuilder::new(store_url, Arc::new(source))
            .with_file_groups(groups)
            .with_statistics(statistics)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// The `date` partition column.
fn date_field() -> FieldRef {
    Arc::new(Field::new(DATE_COLUMN, DataType::Date32, false))
}

/// True when `expr` can be decided from a file's date alone: it references
/// `date` and nothing else, and holds no subquery or non-deterministic function.
fn is_date_filter(expr: &Expr) -> bool {
    let has_subquery = expr
        .exists(|e| {
            Ok(matches!(
                e,
                Expr::Exists(_)
                    | Expr::InSubquery(_)
                    | Expr::ScalarSubquery(_)
                    | Expr::SetComparison(_)
            ))
        })
        .unwrap_or(true);
    !has_subquery
        && !expr.column_refs().is_empty()
        && expr_applicable_for_cols(&[DATE_COLUMN], expr)
}

/// A file's date as a `Date32` value.
fn file_date(file: &LakeFile) -> DfResult<i32> {
    i32::try_from(file.date).map_err(|_| {
        DataFusionError::Execution(format!(
            "lake file {} has date {} days, outside the Date32 range",
            file.location.display(),
            file.date
        ))
    })
}

/// The DataFusion view of one committed file: its absolute path on the local
/// file system (or its path in the bucket), its size, and its `date`
/// partition value.
fn partitioned_file(file: &LakeFile, remote: bool) -> DfResult<PartitionedFile> {
    let location = if remote {
        ObjectPath::from(file.location.to_string_lossy().as_ref())
    } else {
        ObjectPath::from_absolute_path(&file.location).map_err(|e| {
            DataFusionError::Execution(format!(
                "lake file {} has no usable absolute path: {e}",
                file.location.display()
            ))
        })?
    };
    let mut pf = PartitionedFile::new(String::new(), file.bytes)
        .with_partition_values(vec![ScalarValue::Date32(Some(file_date(file)?))]);
    pf.object_meta.location = location;
    Ok(pf)
}

/// Spreads files over at most `target` groups, balancing bytes: largest file
/// first, each into the group holding the fewest bytes so far. Files inside a
/// group are ordered by path, so plans are stable.
fn group_files(mut files: Vec<PartitionedFile>, target: usize) -> Vec<FileGroup> {
    let n = target.max(1).min(files.len());
    if n == 0 {
        return Vec::new();
    }
    files.sort_by(|a, b| {
        b.object_meta
            .size
            .cmp(&a.object_meta.size)
            .then_with(|| a.object_meta.location.cmp(&b.object_meta.location))
    });
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = (0..n).map(|_| (0, Vec::new())).collect();
    for file in files {
        if let Some(group) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            group.0 += file.object_meta.size;
            group.1.push(file);
        }
    }
    groups
        .into_iter()
        .map(|(_, mut files)| {
            files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
            FileGroup::new(files)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn pf(name: &str, size: u64) -> PartitionedFile {
        PartitionedFile::new(name.to_string(), size)
    }

    #[test]
    fn groups_at_most_target_and_balanced() {
        let files = vec![pf("a", 10), pf("b", 9), pf("c", 1), pf("d", 1), pf("e", 1)];
        let groups = group_files(files, 2);
        assert_eq!(groups.len(), 2);
        let sizes: Vec<u64> =
            groups.iter().map(|g| g.iter().map(|f| f.object_meta.size).sum()).collect();
        assert_eq!(sizes, vec![11, 11]);
        assert_eq!(group_files(vec![pf("a", 1)], 8).len(), 1);
        assert!(group_files(Vec::new(), 8).is_empty());
        assert_eq!(group_files(vec![pf("a", 1), pf("b", 1)], 0).len(), 1);
    }

    #[test]
    fn date_filters_are_recognised() {
        assert!(is_date_filter(&col("date").eq(lit(1))));
        assert!(!is_date_filter(&col("uscc").eq(lit("x"))));
        assert!(!is_date_filter(&col("date").eq(col("uscc"))));
        assert!(!is_date_filter(&lit(true)));
    }
}
