//! End-to-end tests over a lake of Parquet files written into a temp dir.

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray,
    ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray,
    new_empty_array, new_null_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use fivefold_lake::{LakeFile, Snapshot};
use fivefold_model::Table;
use fivefold_query::{Error, QueryOptions, explain, lake_session, query, register_lake, views};

const MAR_1: i64 = 20_513; // 2026-03-01
const MAR_2: i64 = 20_514; // 2026-03-02
const HOUR_MS: i64 = 3_600_000;
const MAR_1_MS: i64 = MAR_1 * 24 * HOUR_MS;

/// One row of a fixture: column name → value, for the columns a test cares about.
type Row = Vec<(&'static str, Value)>;

#[derive(Clone)]
enum Value {
    Str(&'static str),
    Int(i64),
    Time(i64),
    Null,
}

/// A batch of `table`'s file schema; columns not given in a row get a valid
/// non-null default (or null where the column is nullable).
fn batch(table: Table, rows: &[Row]) -> RecordBatch {
    let schema = table.schema();
    let get = |row: &Row, name: &str| row.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let name = field.name().as_str();
            let values: Vec<Option<Value>> = rows.iter().map(|r| get(r, name)).collect();
            let n = rows.len();
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from(
                    values
                        .iter()
                        .map(|v| match v {
                            Some(Value::Str(s)) => Some(s.to_string()),
                            Some(Value::Null) => None,
                            _ if field.is_nullable() => None,
                            _ => Some(format!("{name}-default")),
                        })
                        .collect::<Vec<_>>(),
                )),
                DataType::Int64 => Arc::new(Int64Array::from(
                    values
                        .iter()
                        .map(|v| match v {
                            Some(Value::Int(i)) => Some(*i),
                            Some(Value::Null) => None,
                            _ if field.is_nullable() => None,
                            _ => Some(1),
                        })
                        .collect::<Vec<_>>(),
                )),
                DataType::Int32 => Arc::new(Int32Array::from(
                    values
                        .iter()
                        .map(|v| match v {
                            Some(Value::Int(i)) => Some(*i as i32),
                            _ if field.is_nullable() => None,
                            _ => Some(0),
                        })
                        .collect::<Vec<_>>(),
                )),
                DataType::Float64 if field.is_nullable() => new_null_array(field.data_type(), n),
                DataType::Float64 => Arc::new(Float64Array::from(vec![0.0; n])),
                DataType::Boolean => Arc::new(BooleanArray::from(vec![false; n])),
                DataType::Timestamp(_, _) => Arc::new(
                    TimestampMillisecondArray::from(
                        values
                            .iter()
                            .map(|v| match v {
                                Some(Value::Time(t)) => Some(*t),
                                _ => Some(MAR_1_MS),
                            })
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                DataType::List(item) if item.data_type() == &DataType::Utf8 => {
                    let mut b = ListBuilder::new(StringBuilder::new());
                    for _ in 0..n {
                        b.append(true);
                    }
                    Arc::new(b.finish())
                }
                // Empty lists of any other item type.
                DataType::List(item) => Arc::new(ListArray::new(
                    Arc::clone(item),
                    OffsetBuffer::new_zeroed(n),
                    new_empty_array(item.data_type()),
                    None,
                )),
                other => panic!("no fixture values for {other}"),
            };
            array
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// The test lake: files written under `<root>/<table>/date=YYYY-MM-DD/`.
struct Lake {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Lake {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Lake { _dir: dir, root }
    }

    /// Writes a Parquet file and returns its (committed-to-be) LakeFile.
    fn write(&self, table: Table, date: i64, file: &str, rows: &[Row]) -> LakeFile {
        let day = date_string(date);
        let folder = self.root.join(table.name()).join(format!("date={day}"));
        fs::create_dir_all(&folder).unwrap();
        let location = folder.join(file);
        let batch = batch(table, rows);
        let mut writer =
            ArrowWriter::try_new(File::create(&location).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        LakeFile {
            table: table.name().to_string(),
            date,
            bytes: fs::metadata(&location).unwrap().len(),
            rows: batch.num_rows() as u64,
            location,
        }
    }
}

fn date_string(days: i64) -> &'static str {
    match days {
        MAR_1 => "2026-03-01",
        MAR_2 => "2026-03-02",
        _ => panic!("unexpected date"),
    }
}

fn snapshot(files: Vec<LakeFile>) -> Snapshot {
    Snapshot { version: 1, files, store: None, input_committed_at_ms: None }
}

fn ent(uscc: &'static str, hours: i64, offset: Value, line: Value, name: &'static str) -> Row {
    vec![
        ("uscc", Value::Str(uscc)),
        ("event_time", Value::Time(MAR_1_MS + hours * HOUR_MS)),
        ("_offset", offset),
        ("_line", line),
        ("name", Value::Str(name)),
    ]
}

fn simple(uscc: &'static str) -> Row {
    ent(uscc, 0, Value::Int(0), Value::Int(0), "n")
}

fn options() -> QueryOptions {
    QueryOptions { target_partitions: 4, ..QueryOptions::default() }
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = query(ctx, sql).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "{sql}");
    let b = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    b.column(0).as_primitive::<Int64Type>().value(0)
}

/// The strings of column `idx` over all batches.
fn strings(batches: &[RecordBatch], idx: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let col = datafusion::arrow::compute::cast(b.column(idx), &DataType::Utf8).unwrap();
            let col = col.as_string::<i32>();
            (0..col.len()).map(|i| col.value(i).to_string()).collect::<Vec<_>>()
        })
        .collect()
}

/// Two enterprise files on two dates: a.parquet (2 rows, 03-01), b.parquet (3 rows, 03-02).
fn two_dates(lake: &Lake) -> (LakeFile, LakeFile) {
    let a = lake.write(Table::Enterprise, MAR_1, "a.parquet", &[simple("A"), simple("B")]);
    let b =
        lake.write(Table::Enterprise, MAR_2, "b.parquet", &[simple("C"), simple("D"), simple("E")]);
    (a, b)
}

#[tokio::test]
async fn counts_across_two_dates() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let ctx = lake_session(&snapshot(vec![a, b]), &options()).unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 5);
    let batches =
        query(&ctx, "SELECT date, count(*) AS n FROM enterprise GROUP BY date ORDER BY date")
            .await
            .unwrap();
    assert_eq!(strings(&batches, 0), ["2026-03-01", "2026-03-02"]);
    assert_eq!(strings(&batches, 1), ["2", "3"]);
    let dates: Vec<i32> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Date32Type>().values().to_vec())
        .collect();
    assert_eq!(dates, [MAR_1 as i32, MAR_2 as i32]);
}

/// Schema evolution: a file written before an optional column existed reads
/// back with that column null, beside files that have it.
#[tokio::test]
async fn files_written_before_an_optional_column_was_added_still_read() {
    let lake = Lake::new();
    let new = lake.write(Table::Enterprise, MAR_1, "new.parquet", &[simple("A"), simple("B")]);
    // The old file: the same table without `official_color`, as an older
    // engine wrote it.
    let full = batch(Table::Enterprise, &[simple("C")]);
    let keep: Vec<usize> = (0..full.num_columns())
        .filter(|&i| full.schema().field(i).name() != "official_color")
        .collect();
    assert!(Table::Enterprise.schema().field_with_name("official_color").unwrap().is_nullable());
    let old_batch = full.project(&keep).unwrap();
    let location = lake.root.join("enterprise/date=2026-03-02/old.parquet");
    fs::create_dir_all(location.parent().unwrap()).unwrap();
    let mut w =
        ArrowWriter::try_new(File::create(&location).unwrap(), old_batch.schema(), None).unwrap();
    w.write(&old_batch).unwrap();
    w.close().unwrap();
    let old = LakeFile {
        table: "enterprise".into(),
        date: MAR_2,
        bytes: fs::metadata(&location).unwrap().len(),
        rows: 1,
        location,
    };
    let ctx = lake_session(&snapshot(vec![new, old]), &options()).unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 3);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM enterprise WHERE uscc = 'C' AND official_color IS NULL")
            .await,
        1
    );
    let batches =
        query(&ctx, "SELECT uscc FROM enterprise WHERE date = '2026-03-02'").await.unwrap();
    assert_eq!(strings(&batches, 0), ["C"]);
}

#[tokio::test]
async fn date_filter_reads_only_that_dates_files() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let b_path = b.location.clone();
    let ctx = lake_session(&snapshot(vec![a, b]), &options()).unwrap();

    let plan = explain(&ctx, "SELECT count(*) FROM enterprise WHERE date = DATE '2026-03-01'")
        .await
        .unwrap();
    assert!(plan.contains("a.parquet"), "{plan}");
    assert!(!plan.contains("b.parquet"), "{plan}");
    // Exact: no filter is left to evaluate on `date`.
    assert!(!plan.contains("FilterExec"), "{plan}");

    // The other date's file can vanish without the date-filtered query noticing...
    fs::remove_file(&b_path).unwrap();
    let sql = "SELECT count(*) FROM enterprise WHERE date = DATE '2026-03-01'";
    assert_eq!(count(&ctx, sql).await, 2);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM enterprise WHERE date < DATE '2026-03-02'").await,
        2
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM enterprise WHERE date IN (DATE '2026-03-01')").await,
        2
    );
    // ...while a query that needs it does.
    let err = query(&ctx, "SELECT count(*) FROM enterprise WHERE uscc <> 'Z'").await.unwrap_err();
    assert!(matches!(err, Error::DataFusion(_)), "{err}");
}

#[tokio::test]
async fn files_not_in_the_snapshot_are_invisible() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    // A complete file that was never committed, and a half-written one.
    lake.write(Table::Enterprise, MAR_1, "uncommitted.parquet", &[simple("X"), simple("Y")]);
    let junk = a.location.parent().unwrap().join("half.parquet");
    fs::write(&junk, b"PAR1 not really parquet").unwrap();
    let ctx = lake_session(&snapshot(vec![a, b]), &options()).unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 5);
    let batches = query(&ctx, "SELECT uscc FROM enterprise ORDER BY uscc").await.unwrap();
    assert_eq!(strings(&batches, 0), ["A", "B", "C", "D", "E"]);
    // Other tables have no committed files: empty, with their schema.
    assert_eq!(count(&ctx, "SELECT count(*) FROM hazard").await, 0);
}

#[tokio::test]
async fn empty_snapshot_gives_empty_tables_with_schema() {
    let ctx = lake_session(&Snapshot::default(), &options()).unwrap();
    for table in Table::ALL {
        let sql = format!("SELECT * FROM {}", table.name());
        let rows: usize = query(&ctx, &sql).await.unwrap().iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 0, "{sql}");
        let df = ctx.table(table.name()).await.unwrap();
        let schema = df.schema().as_arrow().clone();
        let file = table.schema();
        assert_eq!(schema.fields().len(), file.fields().len() + 1);
        assert_eq!(&schema.fields()[..file.fields().len()], &file.fields()[..]);
        let date = schema.field_with_name("date").unwrap();
        assert_eq!(date.data_type(), &DataType::Date32);
        assert!(!date.is_nullable());
    }
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise_latest").await, 0);
    assert_eq!(count(&ctx, "SELECT count(*) FROM hazard_latest").await, 0);
}

#[tokio::test]
async fn enterprise_latest_picks_the_newest_version() {
    let lake = Lake::new();
    let day1 = lake.write(
        Table::Enterprise,
        MAR_1,
        "a.parquet",
        &[
            // A: the later event_time wins even with a smaller offset.
            ent("A", 1, Value::Int(9), Value::Int(1), "a-old"),
            // B: same time: the greater offset wins.
            ent("B", 1, Value::Int(3), Value::Null, "b-old"),
            ent("B", 1, Value::Int(7), Value::Null, "b-new"),
            // C: same time: a non-null offset beats a null one.
            ent("C", 1, Value::Null, Value::Int(100), "c-old"),
            ent("C", 1, Value::Int(2), Value::Int(1), "c-new"),
            // D: same time and offset: the greater line wins.
            ent("D", 1, Value::Int(5), Value::Int(1), "d-old"),
            ent("D", 1, Value::Int(5), Value::Int(9), "d-new"),
        ],
    );
    let day2 = lake.write(
        Table::Enterprise,
        MAR_2,
        "b.parquet",
        &[ent("A", 25, Value::Int(1), Value::Int(1), "a-new")],
    );
    let ctx = lake_session(&snapshot(vec![day1, day2]), &options()).unwrap();
    let batches =
        query(&ctx, "SELECT uscc, name, date FROM enterprise_latest ORDER BY uscc").await.unwrap();
    assert_eq!(strings(&batches, 0), ["A", "B", "C", "D"]);
    assert_eq!(strings(&batches, 1), ["a-new", "b-new", "c-new", "d-new"]);
    assert_eq!(strings(&batches, 2), ["2026-03-02", "2026-03-01", "2026-03-01", "2026-03-01"]);

    // The view has exactly the table's columns, in order.
    let view = ctx.table("enterprise_latest").await.unwrap();
    let table = ctx.table("enterprise").await.unwrap();
    let names = |df: &datafusion::prelude::DataFrame| {
        df.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&view), names(&table));
}

#[tokio::test]
async fn hazard_latest_picks_the_newest_version() {
    let lake = Lake::new();
    let row = |id: &'static str, hours: i64, offset: i64, state: &'static str| -> Row {
        vec![
            ("hazard_id", Value::Str(id)),
            ("event_time", Value::Time(MAR_1_MS + hours * HOUR_MS)),
            ("_offset", Value::Int(offset)),
            ("state", Value::Str(state)),
        ]
    };
    let f = lake.write(
        Table::Hazard,
        MAR_1,
        "h.parquet",
        &[row("h1", 1, 1, "open"), row("h1", 2, 0, "closed"), row("h2", 1, 1, "open")],
    );
    let ctx = lake_session(&snapshot(vec![f]), &options()).unwrap();
    let batches =
        query(&ctx, "SELECT hazard_id, state FROM hazard_latest ORDER BY hazard_id").await.unwrap();
    assert_eq!(strings(&batches, 0), ["h1", "h2"]);
    assert_eq!(strings(&batches, 1), ["closed", "open"]);
}

#[tokio::test]
async fn register_lake_moves_to_a_newer_snapshot() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let ctx = lake_session(&snapshot(vec![a.clone()]), &options()).unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 2);
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise_latest").await, 2);
    register_lake(&ctx, &snapshot(vec![a, b])).unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 5);
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise_latest").await, 5);
    for (name, _) in views() {
        query(&ctx, &format!("SELECT * FROM {name}")).await.unwrap();
    }
}

#[tokio::test]
async fn scans_push_down_projection_limit_and_filters() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let opts = QueryOptions { target_partitions: 1, ..QueryOptions::default() };
    let ctx = lake_session(&snapshot(vec![a, b]), &opts).unwrap();

    let plan = explain(&ctx, "SELECT uscc FROM enterprise LIMIT 1").await.unwrap();
    let scan = plan.lines().find(|l| l.contains("DataSourceExec")).unwrap();
    assert!(scan.contains("projection=[uscc]"), "{plan}");
    assert!(scan.contains("limit=1"), "{plan}");
    // target_partitions = 1: both files in a single group.
    assert!(scan.contains("1 group"), "{plan}");
    let rows: usize = query(&ctx, "SELECT uscc FROM enterprise LIMIT 1")
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 1);

    // A filter on a file column reaches the Parquet reader as a pruning predicate.
    let plan = explain(&ctx, "SELECT name FROM enterprise WHERE uscc = 'C'").await.unwrap();
    let scan = plan.lines().find(|l| l.contains("DataSourceExec")).unwrap();
    assert!(scan.contains("predicate="), "{plan}");
    let batches = query(&ctx, "SELECT uscc FROM enterprise WHERE uscc = 'C'").await.unwrap();
    assert_eq!(strings(&batches, 0), ["C"]);

    // A filter mixing `date` and a file column is still answered correctly.
    let sql = "SELECT count(*) FROM enterprise WHERE date = DATE '2026-03-02' OR uscc = 'A'";
    assert_eq!(count(&ctx, sql).await, 4);

    // EXPLAIN written in the SQL runs as written.
    let analyzed = explain(&ctx, "EXPLAIN ANALYZE SELECT count(*) FROM enterprise").await.unwrap();
    assert!(analyzed.contains("output_rows"), "{analyzed}");
}

#[tokio::test]
async fn query_refuses_statements_that_write() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let ctx = lake_session(&snapshot(vec![a, b]), &options()).unwrap();
    let out = lake.root.join("out.csv");
    let cases = [
        ("CREATE TABLE t (a INT)", "CREATE TABLE"),
        ("CREATE TABLE t AS SELECT * FROM enterprise", "CREATE TABLE"),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("INSERT INTO enterprise SELECT * FROM enterprise", "INSERT"),
        ("INSERT INTO nowhere VALUES (1)", "INSERT"),
        ("DROP TABLE enterprise", "DROP TABLE"),
        ("DROP VIEW enterprise_latest", "DROP VIEW"),
        ("DELETE FROM enterprise", "DELETE"),
        ("UPDATE enterprise SET name = 'x'", "UPDATE"),
        (&format!("COPY enterprise TO '{}'", out.display()), "COPY"),
        (&format!("COPY (SELECT 1) TO '{}'", out.display()), "COPY"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
        ("SET TIME ZONE 'Asia/Shanghai'", "SET"),
        ("RESET datafusion.execution.batch_size", "RESET"),
        (
            &format!(
                "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '{}'",
                lake.root.display()
            ),
            "CREATE EXTERNAL TABLE",
        ),
        ("EXPLAIN ANALYZE INSERT INTO enterprise SELECT * FROM enterprise", "INSERT"),
        ("SELECT * INTO copied FROM enterprise", "CREATE TABLE"),
        ("BEGIN", "START TRANSACTION"),
    ];
    for (sql, kind) in cases {
        match query(&ctx, sql).await {
            Err(Error::ReadOnly { statement }) => assert_eq!(statement, kind, "{sql}"),
            other => panic!("{sql}: expected ReadOnly, got {other:?}"),
        }
        assert!(matches!(explain(&ctx, sql).await, Err(Error::ReadOnly { .. })), "{sql}");
    }
    // Nothing was changed.
    assert!(!out.exists());
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise").await, 5);
    assert_eq!(count(&ctx, "SELECT count(*) FROM enterprise_latest").await, 5);
    assert!(ctx.table("copied").await.is_err());
    let err = query(&ctx, "SELECT 1").await.err();
    assert!(err.is_none());
    // Reading statements other than SELECT are fine.
    query(&ctx, "SHOW TABLES").await.unwrap();
    query(&ctx, "DESCRIBE enterprise").await.unwrap();
    query(&ctx, "VALUES (1), (2)").await.unwrap();
}

#[tokio::test]
async fn bad_sql_is_an_sql_error_with_its_position() {
    let ctx = lake_session(&Snapshot::default(), &options()).unwrap();
    for sql in ["SELEC 1", "SELECT * FROM enterprise WHERE", "SELECT (1"] {
        match query(&ctx, sql).await {
            Err(Error::Sql { message }) => {
                assert!(message.contains("Line: 1, Column: "), "{sql}: {message}")
            }
            other => panic!("{sql}: expected Sql, got {other:?}"),
        }
    }
    match query(&ctx, "SELECT 1;\nSELECT 2").await {
        Err(Error::Sql { message }) => assert!(message.contains("single"), "{message}"),
        other => panic!("expected Sql, got {other:?}"),
    }
    match query(&ctx, "SELECT * FROM nosuch").await {
        Err(Error::Sql { message }) => assert!(message.contains("nosuch"), "{message}"),
        other => panic!("expected Sql, got {other:?}"),
    }
    match query(&ctx, "SELECT uscc,\n       bogus FROM enterprise").await {
        Err(Error::Sql { message }) => {
            assert!(message.contains("bogus"), "{message}");
            assert!(message.contains("line 2, column 8"), "{message}");
        }
        other => panic!("expected Sql, got {other:?}"),
    }
}

#[tokio::test]
async fn memory_limit_and_batch_size_apply() {
    let lake = Lake::new();
    let (a, b) = two_dates(&lake);
    let opts =
        QueryOptions { target_partitions: 2, memory_limit_bytes: Some(64 << 20), batch_size: 2 };
    let ctx = lake_session(&snapshot(vec![a, b]), &opts).unwrap();
    let batches = query(&ctx, "SELECT uscc FROM enterprise").await.unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= 2));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    assert_eq!(ctx.state().config().batch_size(), 2);
}

/// An episode still open at the end of one replay is written again when a
/// later run closes it: `region_risk` counts it once.
#[tokio::test]
async fn region_risk_counts_an_alarm_episode_once() {
    let lake = Lake::new();
    let score = vec![
        ("uscc", Value::Str("A")),
        ("region_code", Value::Str("320505001000")),
        ("window_end", Value::Time(MAR_1_MS + HOUR_MS)),
        ("color", Value::Str("blue")),
    ];
    let scores = lake.write(Table::RiskScores, MAR_1, "s.parquet", &[score]);
    let episode = |id: &'static str, end_ms: i64| {
        vec![
            ("alarm_id", Value::Str(id)),
            ("uscc", Value::Str("A")),
            ("start_time", Value::Time(MAR_1_MS)),
            ("end_time", Value::Time(end_ms)),
        ]
    };
    let alarms = lake.write(
        Table::Alarms,
        MAR_1,
        "a.parquet",
        &[
            episode("p1:HH:1", MAR_1_MS + HOUR_MS),
            episode("p1:HH:1", MAR_1_MS),
            episode("p2:H:1", MAR_1_MS),
        ],
    );
    let ctx = lake_session(&snapshot(vec![scores, alarms]), &options()).unwrap();
    assert_eq!(count(&ctx, "SELECT alarms_24h FROM region_risk WHERE level = 'town'").await, 2);
}
