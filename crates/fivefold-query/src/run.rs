//! Running read-only SQL: [`query`] and [`explain`].

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SQLOptions, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use futures::StreamExt as _;

use crate::error::{Error, Result, planning_error};
use crate::format::{BatchWriter, OutputFormat};

/// Runs one read-only statement: DDL, DML and SET-like statements are refused
/// with [`Error::ReadOnly`] naming the statement kind.
///
/// Queries (`SELECT`, `WITH`, `VALUES`), `EXPLAIN` of a query, `SHOW` and
/// `DESCRIBE` run; a statement that does not parse or names an unknown table or
/// column is an [`Error::Sql`]; failures while executing are
/// [`Error::DataFusion`]. Exactly one statement is accepted.
///
/// The result holds at least one batch (an empty one when no rows match), so
/// the columns are known even for an empty result — [`crate::format_batches`]
/// then still writes the table or CSV header.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let (df, _) = plan_read_only(ctx, sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut batches = df.collect().await?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// Runs one read-only statement, as [`query`] does, and writes its rows to
/// `out` in `format` as they come instead of collecting them, so that CSV and
/// JSON results of any size print (see [`BatchWriter`]). Returns `out`.
pub async fn query_to<W: std::io::Write>(
    ctx: &SessionContext,
    sql: &str,
    format: OutputFormat,
    out: W,
) -> Result<W> {
    let (df, _) = plan_read_only(ctx, sql).await?;
    let mut stream = df.execute_stream().await?;
    let schema = stream.schema();
    let mut writer = BatchWriter::new(out, format);
    while let Some(batch) = stream.next().await {
        writer.write(&batch?)?;
    }
    writer.finish(Some(schema))
}

/// EXPLAIN of a query as text.
///
/// `sql` is a query (it is explained without running it) or itself an
/// `EXPLAIN [ANALYZE] ...` statement (run as written). The text holds one
/// section per plan, each a line with the plan type (`logical_plan`,
/// `physical_plan`, ...) followed by the plan indented by two spaces.
pub async fn explain(ctx: &SessionContext, sql: &str) -> Result<String> {
    let (df, is_explain) = plan_read_only(ctx, sql).await?;
    let df = if is_explain { df } else { df.explain(false, false)? };
    let batches = df.collect().await?;
    Ok(render_explain(&batches)?)
}

/// Parses and plans one statement, refusing anything that is not read-only.
/// Returns the DataFrame and whether the statement already is an EXPLAIN.
async fn plan_read_only(ctx: &SessionContext, sql: &str) -> Result<(DataFrame, bool)> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    crate::shape::set_operations(sql)?;
    let statement = state.sql_to_statement(sql, &dialect).map_err(|e| parse_error(e, sql))?;
    crate::shape::check(&statement)?;
    if let Some(kind) = refused_kind(&statement) {
        return Err(Error::ReadOnly { statement: kind });
    }
    let plan = state.statement_to_plan(statement).await.map_err(planning_error)?;
    // The syntax check above names the statement; this is the authoritative
    // check on the plan (it also catches e.g. `SELECT ... INTO t`).
    read_only_options().verify_plan(&plan).map_err(planning_error)?;
    let is_explain = matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_));
    let df = ctx.execute_logical_plan(plan).await.map_err(planning_error)?;
    Ok((df, is_explain))
}

/// [`planning_error`] for a parse error; the parser gives no position for an
/// unexpected end of input, so the end of `sql` is named as the position.
fn parse_error(err: datafusion::error::DataFusionError, sql: &str) -> Error {
    match planning_error(err) {
        Error::Sql { message } if message.contains("EOF") && !message.contains("Line: ") => {
            let line = sql.lines().count().max(1);
            let column = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
            Error::Sql { message: format!("{message} at Line: {line}, Column: {column}") }
        }
        other => other,
    }
}

/// The options under which statements run: no DDL, no DML, no SET-like statements.
fn read_only_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// The kind of a statement that is not read-only, in SQL words; `None` for a
/// statement that only reads.
fn refused_kind(statement: &DfStatement) -> Option<String> {
    match statement {
        DfStatement::Statement(s) => refused_sql_kind(s),
        DfStatement::CreateExternalTable(_) => Some("CREATE EXTERNAL TABLE".to_string()),
        DfStatement::CopyTo(_) => Some("COPY".to_string()),
        DfStatement::Explain(e) => refused_kind(&e.statement),
        DfStatement::Reset(_) => Some("RESET".to_string()),
    }
}

fn refused_sql_kind(statement: &SqlStatement) -> Option<String> {
    match statement {
        SqlStatement::Query(_)
        | SqlStatement::ExplainTable { .. }
        | SqlStatement::ShowTables { .. }
        | SqlStatement::ShowColumns { .. }
        | SqlStatement::ShowFunctions { .. }
        | SqlStatement::ShowVariable { .. }
        | SqlStatement::ShowVariables { .. }
        | SqlStatement::ShowCreate { .. }
        | SqlStatement::ShowSchemas { .. }
        | SqlStatement::ShowCatalogs { .. }
        | SqlStatement::ShowDatabases { .. }
        | SqlStatement::ShowViews { .. }
        | SqlStatement::ShowObjects { .. }
        | SqlStatement::ShowStatus { .. }
        | SqlStatement::ShowCollation { .. }
        | SqlStatement::ShowCharset { .. } => None,
        SqlStatement::Explain { statement, .. } => refused_sql_kind(statement),
        SqlStatement::Drop { object_type, .. } => Some(format!("DROP {object_type}")),
        SqlStatement::CreateTable(create) if create.external => {
            Some("CREATE EXTERNAL TABLE".to_string())
        }
        other => Some(variant_words(other)),
    }
}

/// The statement's variant name as SQL words: `CreateTable` becomes
/// `CREATE TABLE`, `Insert` becomes `INSERT`.
fn variant_words(statement: &SqlStatement) -> String {
    let debug = format!("{statement:?}");
    let name: String = debug.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let mut words = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            words.push(' ');
        }
        prev_lower = c.is_ascii_lowercase();
        words.push(c.to_ascii_uppercase());
    }
    words
}

/// Renders the `(plan_type, plan)` rows of an EXPLAIN.
fn render_explain(batches: &[RecordBatch]) -> Result<String, datafusion::arrow::error::ArrowError> {
    let mut out = String::new();
    for batch in batches {
        let schema = batch.schema();
        let (Ok(type_idx), Ok(plan_idx)) = (schema.index_of("plan_type"), schema.index_of("plan"))
        else {
            continue;
        };
        for row in 0..batch.num_rows() {
            let plan_type = array_value_to_string(batch.column(type_idx), row)?;
            let plan = array_value_to_string(batch.column(plan_idx), row)?;
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&plan_type);
            out.push('\n');
            for line in plan.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn kind(sql: &str) -> Option<String> {
        let mut statements = DFParser::parse_sql(sql).unwrap();
        refused_kind(&statements.pop_front().unwrap())
    }

    #[test]
    fn statement_kinds() {
        assert_eq!(kind("SELECT 1"), None);
        assert_eq!(kind("WITH a AS (SELECT 1) SELECT * FROM a"), None);
        assert_eq!(kind("EXPLAIN SELECT 1"), None);
        assert_eq!(kind("SHOW TABLES"), None);
        assert_eq!(kind("CREATE TABLE t (a INT)").as_deref(), Some("CREATE TABLE"));
        assert_eq!(kind("INSERT INTO t VALUES (1)").as_deref(), Some("INSERT"));
        assert_eq!(kind("DROP TABLE t").as_deref(), Some("DROP TABLE"));
        assert_eq!(kind("DROP VIEW v").as_deref(), Some("DROP VIEW"));
        assert_eq!(kind("COPY t TO '/tmp/x.csv'").as_deref(), Some("COPY"));
        assert_eq!(kind("SET datafusion.execution.batch_size = 1").as_deref(), Some("SET"));
        assert_eq!(
            kind("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/tmp/x'").as_deref(),
            Some("CREATE EXTERNAL TABLE")
        );
        assert_eq!(kind("EXPLAIN ANALYZE INSERT INTO t VALUES (1)").as_deref(), Some("INSERT"));
        assert_eq!(kind("BEGIN").as_deref(), Some("START TRANSACTION"));
        assert_eq!(kind("UPDATE t SET a = 1").as_deref(), Some("UPDATE"));
        assert_eq!(kind("DELETE FROM t").as_deref(), Some("DELETE"));
    }
}
