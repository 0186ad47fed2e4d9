//! Errors of the query layer, and how DataFusion's planning errors map onto them.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

/// What can go wrong while registering the lake or running a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DataFusion failed while planning or executing a well-formed query
    /// (an unreadable file, a resource limit, an internal error, ...).
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// The query is not valid SQL, or names something that does not exist.
    /// `message` names the problem and, when DataFusion or the SQL parser gives
    /// one, the position (line and column) in the query text.
    #[error("invalid query: {message}")]
    Sql {
        /// What is wrong, with the position when known.
        message: String,
    },
    /// The statement would change something; only read-only statements may run.
    #[error(
        "read-only: {statement} statements are not allowed; only queries \
         (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE) may be run"
    )]
    ReadOnly {
        /// The kind of the refused statement, e.g. `CREATE TABLE`, `INSERT`, `SET`.
        statement: String,
    },
    /// The statement is too deep or too large to plan without risking the
    /// stack ([`crate::shape`]).
    #[error("{message}")]
    TooComplex {
        /// Which limit it passes and how to stay under it.
        message: String,
    },
    /// An output format name that is not one of the choices.
    #[error("unknown output format `{name}`; choose one of: table, csv, json")]
    UnknownFormat {
        /// The name given.
        name: String,
    },
    /// Rendering batches as text failed.
    #[error("formatting results: {0}")]
    Format(#[from] ArrowError),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Prefixes of the errors [`datafusion::prelude::SQLOptions::verify_plan`] raises.
const REFUSAL_PREFIXES: [&str; 3] =
    ["DDL not supported: ", "DML not supported: ", "Statement not supported: "];

/// Classifies an error raised while parsing or planning a statement: a refused
/// plan node becomes [`Error::ReadOnly`], a parse, plan or schema error becomes
/// [`Error::Sql`], anything else stays [`Error::DataFusion`].
pub(crate) fn planning_error(err: DataFusionError) -> Error {
    let position = err.diagnostic().and_then(|d| d.span).and_then(|span| {
        (span.start.line > 0)
            .then(|| format!(" (at line {}, column {})", span.start.line, span.start.column))
    });
    let root = err.find_root();
    let message = match root {
        DataFusionError::SQL(parser_error, _) => {
            let text = match parser_error.as_ref() {
                ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
                ParserError::RecursionLimitExceeded => "the query nests too deeply".to_string(),
            };
            format!("syntax error: {text}")
        }
        DataFusionError::Plan(text) => {
            if let Some(kind) = refused_plan_kind(text) {
                return Error::ReadOnly { statement: kind };
            }
            text.clone()
        }
        DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_) => {
            root.message().into_owned()
        }
        _ => return Error::DataFusion(err),
    };
    let message = strip_backtrace(&message);
    let message = match position {
        Some(at) if !message.contains("Line: ") => format!("{message}{at}"),
        _ => message.to_string(),
    };
    Error::Sql { message }
}

/// The statement kind named by a `verify_plan` refusal, in SQL words.
fn refused_plan_kind(message: &str) -> Option<String> {
    let name = REFUSAL_PREFIXES.iter().find_map(|p| message.strip_prefix(p))?;
    let name = strip_backtrace(name).trim();
    let sql = match name {
        "CreateMemoryTable" | "Ctas" => "CREATE TABLE",
        "CreateExternalTable" => "CREATE EXTERNAL TABLE",
        "CreateView" => "CREATE VIEW",
        "CreateCatalogSchema" => "CREATE SCHEMA",
        "CreateCatalog" => "CREATE DATABASE",
        "CreateIndex" => "CREATE INDEX",
        "CreateFunction" => "CREATE FUNCTION",
        "DropTable" => "DROP TABLE",
        "DropView" => "DROP VIEW",
        "DropCatalogSchema" => "DROP SCHEMA",
        "DropFunction" => "DROP FUNCTION",
        "Insert Into" | "Insert Overwrite" => "INSERT",
        "Replace Into" => "REPLACE",
        "MergeInto" => "MERGE",
        "Delete" => "DELETE",
        "Update" => "UPDATE",
        "Truncate" => "TRUNCATE",
        "SetVariable" => "SET",
        "ResetVariable" => "RESET",
        "TransactionStart" => "START TRANSACTION",
        "TransactionEnd" => "COMMIT",
        "Prepare" => "PREPARE",
        "Execute" => "EXECUTE",
        "Deallocate" => "DEALLOCATE",
        other => other,
    };
    Some(sql.to_string())
}

/// DataFusion appends a backtrace after this separator when built with backtraces.
fn strip_backtrace(message: &str) -> &str {
    message.split(DataFusionError::BACK_TRACE_SEP).next().unwrap_or(message)
}
