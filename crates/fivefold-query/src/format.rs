//! Rendering query results as text: an aligned table, CSV or JSON.

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::csv::{Writer as CsvWriter, WriterBuilder as CsvWriterBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{EncoderOptions, JsonArray, make_encoder};
use datafusion::arrow::json::{Writer as JsonWriter, WriterBuilder as JsonWriterBuilder};
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::{Error, Result};

/// How [`format_batches`] renders results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned table with borders, for people.
    #[default]
    Table,
    /// A header line and one line per row; values that need it are quoted,
    /// nested values (lists, structs) are written as JSON text.
    Csv,
    /// A JSON array with one object per row; nulls are written as `null`.
    Json,
}

impl OutputFormat {
    /// Every format, in the order of the choices.
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Table, OutputFormat::Csv, OutputFormat::Json];

    /// The format's name: `table`, `csv` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = Error;

    /// Parses `table`, `csv` or `json` (any case); the error lists the choices.
    fn from_str(s: &str) -> Result<Self> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownFormat { name: s.to_string() })
    }
}

/// Renders batches: `Table` is an aligned pretty table; `Csv` is a header and
/// one line per row (nothing at all for no batches, as there is no schema);
/// `Json` is a JSON array of objects (`[]` for no rows).
///
/// Timestamps are written as RFC 3339, dates as `YYYY-MM-DD`.
pub fn format_batches(batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    let mut writer = BatchWriter::new(Vec::new(), format);
    for batch in batches {
        writer.write(batch)?;
    }
    let bytes = writer.finish(None)?;
    String::from_utf8(bytes).map_err(|e| Error::Format(ArrowError::ExternalError(Box::new(e))))
}

/// Writes a result batch by batch as [`format_batches`] renders it whole:
/// CSV and JSON go out as each batch comes, so a large result is never held;
/// the table needs every row for its column widths and collects them.
pub struct BatchWriter<W: Write> {
    inner: Inner<W>,
    wrote: bool,
}

enum Inner<W: Write> {
    Table(W, Vec<RecordBatch>),
    Csv(Box<CsvWriter<W>>),
    Json(JsonWriter<W, JsonArray>),
}

impl<W: Write> BatchWriter<W> {
    /// A writer of `format` into `out`.
    pub fn new(out: W, format: OutputFormat) -> Self {
        let inner = match format {
            OutputFormat::Table => Inner::Table(out, Vec::new()),
            OutputFormat::Csv => {
                Inner::Csv(Box::new(CsvWriterBuilder::new().with_header(true).build(out)))
            }
            OutputFormat::Json => Inner::Json(
                JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(out),
            ),
        };
        BatchWriter { inner, wrote: false }
    }

    /// Writes (or, for the table, keeps) one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.wrote = true;
        match &mut self.inner {
            Inner::Table(_, batches) => batches.push(batch.clone()),
            Inner::Csv(w) => w.write(&nested_as_json_text(batch)?)?,
            Inner::Json(w) => w.write(batch)?,
        }
        Ok(())
    }

    /// Ends the output and returns the writer. With `schema`, a result without
    /// batches still gets its table or CSV header.
    pub fn finish(mut self, schema: Option<SchemaRef>) -> Result<W> {
        if !self.wrote
            && let Some(schema) = schema
        {
            self.write(&RecordBatch::new_empty(schema))?;
        }
        Ok(match self.inner {
            Inner::Table(mut out, batches) => {
                write!(out, "{}", pretty_format_batches(&batches)?)
                    .map_err(|e| Error::Format(e.into()))?;
                out
            }
            Inner::Csv(w) => w.into_inner(),
            Inner::Json(mut w) => {
                w.finish()?;
                w.into_inner()
            }
        })
    }
}

/// The batch with every nested column (lists, structs, maps) replaced by a
/// string column holding each value as JSON text, which CSV can carry.
fn nested_as_json_text(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(Arc::clone(field));
            columns.push(Arc::clone(column));
            continue;
        }
        let mut encoder = make_encoder(field, column.as_ref(), &options)?;
        let mut text = StringBuilder::new();
        let mut buf = Vec::new();
        for row in 0..column.len() {
            if column.is_null(row) {
                text.append_null();
            } else {
                buf.clear();
                encoder.encode(row, &mut buf);
                text.append_value(String::from_utf8_lossy(&buf));
            }
        }
        fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, field.is_nullable())));
        columns.push(Arc::new(text.finish()));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        BooleanArray, Date32Array, Float64Array, Int64Array, ListBuilder, StringArray,
        TimestampMillisecondArray,
    };

    fn sample() -> RecordBatch {
        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.values().append_value("x");
        tags.values().append_value("y,\"z\"");
        tags.append(true);
        tags.append(true); // empty list
        tags.append_null();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
            Arc::new(StringArray::from(vec![Some("plain"), Some("a, \"b\""), None])),
            Arc::new(Float64Array::from(vec![Some(1.5), Some(0.0), None])),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_772_352_000_123), None, Some(0)])
                    .with_timezone("UTC"),
            ),
            Arc::new(Date32Array::from(vec![Some(20_513), None, Some(0)])),
            Arc::new(tags.finish()),
        ];
        let fields: Vec<Field> = vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("at", columns[4].data_type().clone(), true),
            Field::new("day", DataType::Date32, true),
            Field::new("tags", columns[6].data_type().clone(), true),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn csv() {
        let text = format_batches(&[sample()], OutputFormat::Csv).unwrap();
        let expected = "id,name,score,ok,at,day,tags\n\
            1,plain,1.5,true,2026-03-01T08:00:00.123Z,2026-03-01,\"[\"\"x\"\",\"\"y,\\\"\"z\\\"\"\"\"]\"\n\
            ,\"a, \"\"b\"\"\",0.0,,,,[]\n\
            -3,,,false,1970-01-01T00:00:00Z,1970-01-01,\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn json() {
        let text = format_batches(&[sample()], OutputFormat::Json).unwrap();
        let expected = concat!(
            r#"[{"id":1,"name":"plain","score":1.5,"ok":true,"at":"2026-03-01T08:00:00.123Z","#,
            r#""day":"2026-03-01","tags":["x","y,\"z\""]},"#,
            r#"{"id":null,"name":"a, \"b\"","score":0.0,"ok":null,"at":null,"day":null,"tags":[]},"#,
            r#"{"id":-3,"name":null,"score":null,"ok":false,"at":"1970-01-01T00:00:00Z","#,
            r#""day":"1970-01-01","tags":null}]"#
        );
        assert_eq!(text, expected);
        assert_eq!(format_batches(&[], OutputFormat::Json).unwrap(), "[]");
    }

    #[test]
    fn written_batch_by_batch_as_rendered_whole() {
        let whole = sample();
        let parts = [whole.slice(0, 1), whole.slice(1, 0), whole.slice(1, 2)];
        for format in OutputFormat::ALL {
            let mut w = BatchWriter::new(Vec::new(), format);
            for part in &parts {
                w.write(part).unwrap();
            }
            let streamed = String::from_utf8(w.finish(Some(whole.schema())).unwrap()).unwrap();
            let rendered = format_batches(std::slice::from_ref(&whole), format).unwrap();
            assert_eq!(streamed, rendered, "{format}");
        }
        // No batches: the header (or `[]`) from the schema alone.
        let empty = |format| {
            let w = BatchWriter::new(Vec::new(), format);
            String::from_utf8(w.finish(Some(whole.schema())).unwrap()).unwrap()
        };
        assert_eq!(empty(OutputFormat::Csv), "id,name,score,ok,at,day,tags\n");
        assert_eq!(empty(OutputFormat::Json), "[]");
        assert!(
            empty(OutputFormat::Table).contains("| id | name"),
            "{}",
            empty(OutputFormat::Table)
        );
    }

    #[test]
    fn table() {
        let text = format_batches(&[sample()], OutputFormat::Table).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7);
        assert!(lines[1].starts_with("| id | name"), "{text}");
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()), "{text}");
    }

    #[test]
    fn parse_format() {
        assert_eq!("csv".parse::<OutputFormat>().unwrap(), OutputFormat::Csv);
        assert_eq!("JSON".parse::<OutputFormat>().unwrap(), OutputFormat::Json);
        assert_eq!("table".parse::<OutputFormat>().unwrap(), OutputFormat::Table);
        let err = "xml".parse::<OutputFormat>().unwrap_err().to_string();
        assert!(err.contains("xml") && err.contains("table, csv, json"), "{err}");
    }
}
