//! Validation and normalisation: raw record bytes -> Arrow columns.
//!
//! A [`Decoder`] owns the column builders of its topic's tables and of the
//! dead-letter table. [`Decoder::push`] checks one record completely before it
//! appends anything, so a bad record never leaves a half-written row; the
//! builders are drained into `RecordBatch`es by [`Decoder::finish`].

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMillisecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use base64::Engine as _;

use crate::json::{self, KeyOrder, Layout, ScanError, Scanned, Value};
use crate::spec::{Default, FieldSpec, Kind, Presence, SCHEMA_VERSION, Table, Topic};
use crate::time::{MAX_EPOCH_MS, MIN_EPOCH_MS, parse_rfc3339_ms};
use crate::uscc;

/// Largest record accepted, in bytes (1 MiB).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The quality flag of a USCC whose shape is valid but whose check digit is not.
pub const FLAG_USCC_CHECKSUM: &str = "USCC_CHECKSUM";

/// Most fields a table spec may have. Every record's checked values sit in an
/// array of this length, which is set up and dropped once per record: it is
/// kept near the widest table (enterprise, 17 fields) rather than at
/// [`json::MAX_SLOTS`]. A wider table fails every decoder test.
const MAX_FIELDS: usize = 20;

/// The class of a rejection: a bounded set, used as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// The bytes are not JSON (or not UTF-8).
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A string is not one of the listed values.
    BadEnum,
    /// A timestamp does not parse.
    BadTimestamp,
    /// A USCC of the wrong shape.
    BadUscc,
    /// A region code that is not 12 digits.
    BadRegionCode,
    /// A number (or a string's length) out of its range.
    OutOfRange,
    /// The record is over [`MAX_RECORD_BYTES`].
    TooLarge,
    /// `schema_version` newer than [`SCHEMA_VERSION`].
    NewerSchemaVersion,
}

impl ErrorClass {
    /// Every class.
    pub const ALL: [ErrorClass; 11] = [
        ErrorClass::NotJson,
        ErrorClass::NotObject,
        ErrorClass::MissingField,
        ErrorClass::WrongType,
        ErrorClass::BadEnum,
        ErrorClass::BadTimestamp,
        ErrorClass::BadUscc,
        ErrorClass::BadRegionCode,
        ErrorClass::OutOfRange,
        ErrorClass::TooLarge,
        ErrorClass::NewerSchemaVersion,
    ];

    /// The snake_case name stored in `dead_letters.error_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NotJson => "not_json",
            ErrorClass::NotObject => "not_object",
            ErrorClass::MissingField => "missing_field",
            ErrorClass::WrongType => "wrong_type",
            ErrorClass::BadEnum => "bad_enum",
            ErrorClass::BadTimestamp => "bad_timestamp",
            ErrorClass::BadUscc => "bad_uscc",
            ErrorClass::BadRegionCode => "bad_region_code",
            ErrorClass::OutOfRange => "out_of_range",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::NewerSchemaVersion => "newer_schema_version",
        }
    }
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The class.
    pub class: ErrorClass,
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    /// What was wrong, in words.
    pub message: String,
}

impl Rejection {
    fn new(class: ErrorClass, field: Option<&'static str>, message: impl Into<String>) -> Self {
        Rejection { class, field, message: message.into() }
    }

    /// The full reason: ``field `x`: message`` or the message alone.
    pub fn reason(&self) -> String {
        match self.field {
            Some(f) => format!("field `{f}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceRef<'a> {
    /// The topic name as consumed (with any deployment prefix).
    pub topic: &'a str,
    /// Kafka partition.
    pub partition: Option<i32>,
    /// Kafka offset.
    pub offset: Option<i64>,
    /// Input file (replay).
    pub file: Option<&'a str>,
    /// 1-based line in the input file (replay).
    pub line: Option<i64>,
    /// The Kafka message key.
    pub key: Option<&'a [u8]>,
}

/// What became of one pushed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Appended to this table.
    Accepted(Table),
    /// Appended to dead letters.
    Rejected(Rejection),
}

/// A checked field value, before it is appended.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'de> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Cow<'de, str>),
    Ts(i64),
}

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMillisecondBuilder),
}

impl Column {
    fn for_kind(kind: Kind) -> Column {
        match kind {
            Kind::Str { .. } | Kind::Enum(_) | Kind::Uscc | Kind::RegionCode => {
                Column::Str(StringBuilder::new())
            }
            Kind::Int { .. } => Column::Int(Int64Builder::new()),
            Kind::Float { .. } => Column::Float(Float64Builder::new()),
            Kind::Bool => Column::Bool(BooleanBuilder::new()),
            Kind::Timestamp => Column::Ts(ts_builder()),
        }
    }

    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Column::Str(b), Cell::Str(s)) => b.append_value(s),
            (Column::Int(b), Cell::Int(v)) => b.append_value(*v),
            (Column::Float(b), Cell::Float(v)) => b.append_value(*v),
            (Column::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Column::Ts(b), Cell::Ts(v)) => b.append_value(*v),
            (Column::Str(b), _) => b.append_null(),
            (Column::Int(b), _) => b.append_null(),
            (Column::Float(b), _) => b.append_null(),
            (Column::Bool(b), _) => b.append_null(),
            (Column::Ts(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Ts(b) => Arc::new(b.finish()),
        }
    }
}

fn ts_builder() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

/// Source coordinates and bookkeeping columns shared by every source table.
struct SourceColumns {
    flags: ListBuilder<StringBuilder>,
    extra: StringBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    file: StringBuilder,
    line: Int64Builder,
}

impl SourceColumns {
    fn new() -> Self {
        SourceColumns {
            flags: ListBuilder::new(StringBuilder::new()),
            extra: StringBuilder::new(),
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
        }
    }

    fn append(&mut self, flags: &[&str], extra: Option<&str>, src: &SourceRef<'_>) {
        for f in flags {
            self.flags.values().append_value(f);
        }
        self.flags.append(true);
        self.extra.append_option(extra);
        self.topic.append_value(src.topic);
        self.partition.append_option(src.partition);
        self.offset.append_option(src.offset);
        self.file.append_option(src.file);
        self.line.append_option(src.line);
    }

    fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.flags.finish()));
        out.push(Arc::new(self.extra.finish()));
        out.push(Arc::new(self.topic.finish()));
        out.push(Arc::new(self.partition.finish()));
        out.push(Arc::new(self.offset.finish()));
        out.push(Arc::new(self.file.finish()));
        out.push(Arc::new(self.line.finish()));
    }
}

/// The builders of one source table.
struct TableBuilder {
    table: Table,
    fields: &'static [FieldSpec],
    /// Slot in the topic layout of each field.
    slots: Vec<usize>,
    /// Slots the topic knows but this table does not (a point's fields on a
    /// reading, say), with their names, in slot order: these go to `extra`.
    foreign: Vec<(usize, &'static str)>,
    /// `foreign` as a mask of slot bits: one test tells whether a record
    /// holds any of them.
    foreign_mask: u32,
    columns: Vec<Column>,
    /// `rescue.grade`, computed from the casualties and loss.
    grade: Option<StringBuilder>,
    source: SourceColumns,
    rows: usize,
}

impl TableBuilder {
    fn new(table: Table, layout: &Layout) -> Self {
        let fields = table.fields().unwrap_or_default();
        let slots: Vec<usize> =
            fields.iter().map(|f| layout.slot(f.name).unwrap_or(usize::MAX)).collect();
        let foreign: Vec<(usize, &'static str)> = (0..json::MAX_SLOTS)
            .map_while(|slot| layout.name(slot).map(|name| (slot, name)))
            .filter(|(slot, _)| !slots.contains(slot))
            .collect();
        let foreign_mask = foreign.iter().fold(0, |m, (slot, _)| m | 1 << slot);
        assert!(fields.len() <= MAX_FIELDS, "a table has at most {MAX_FIELDS} fields");
        TableBuilder {
            table,
            fields,
            slots,
            foreign,
            foreign_mask,
            columns: fields.iter().map(|f| Column::for_kind(f.kind)).collect(),
            grade: (table == Table::Rescue).then(StringBuilder::new),
            source: SourceColumns::new(),
            rows: 0,
        }
    }

    fn finish(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut cols: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        if let Some(g) = &mut self.grade {
            cols.push(Arc::new(g.finish()));
        }
        self.source.finish(&mut cols);
        self.rows = 0;
        // The columns are built from the same specs as the schema; a mismatch
        // is a bug that every test would hit, but it is reported, not hidden.
        RecordBatch::try_new(self.table.schema(), cols).map(Some)
    }
}

/// Builders of the dead-letter table.
struct DeadLetters {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    file: StringBuilder,
    line: Int64Builder,
    key: StringBuilder,
    raw: StringBuilder,
    raw_encoding: StringBuilder,
    reason: StringBuilder,
    class: StringBuilder,
    field: StringBuilder,
    seen_at: TimestampMillisecondBuilder,
    rows: usize,
}

impl DeadLetters {
    fn new() -> Self {
        DeadLetters {
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
            key: StringBuilder::new(),
            raw: StringBuilder::new(),
            raw_encoding: StringBuilder::new(),
            reason: StringBuilder::new(),
            class: StringBuilder::new(),
            field: StringBuilder::new(),
            seen_at: ts_builder(),
            rows: 0,
        }
    }

    fn append(&mut self, raw: &[u8], src: &SourceRef<'_>, why: &Rejection, seen_at_ms: i64) {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.topic.append_value(src.topic);
        self.partition.append_option(src.partition);
        self.offset.append_option(src.offset);
        self.file.append_option(src.file);
        self.line.append_option(src.line);
        match src.key.map(std::str::from_utf8) {
            None => self.key.append_null(),
            Some(Ok(k)) => self.key.append_value(k),
            Some(Err(_)) => {
                self.key.append_value(format!("base64:{}", b64.encode(src.key.unwrap_or_default())))
            }
        }
        match std::str::from_utf8(raw) {
            Ok(s) => {
                self.raw.append_value(s);
                self.raw_encoding.append_value("utf8");
            }
            Err(_) => {
                self.raw.append_value(b64.encode(raw));
                self.raw_encoding.append_value("base64");
            }
        }
        self.reason.append_value(why.reason());
        self.class.append_value(why.class.as_str());
        self.field.append_option(why.field);
        self.seen_at.append_value(seen_at_ms);
        self.rows += 1;
    }

    fn finish(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.raw.finish()),
            Arc::new(self.raw_encoding.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.field.finish()),
            Arc::new(self.seen_at.finish()),
        ];
        RecordBatch::try_new(Table::DeadLetters.schema(), cols).map(Some)
    }
}

/// Validates and normalises the records of one topic into Arrow batches.
pub struct Decoder {
    topic: Topic,
    layout: Layout,
    key_order: KeyOrder,
    tables: Vec<TableBuilder>,
    dead: DeadLetters,
    record_type_slot: Option<usize>,
    /// Every table has `schema_version`, so it has one slot per topic, and
    /// it is checked before the record is routed to a table.
    schema_version_slot: Option<usize>,
}

impl Decoder {
    /// A decoder for one topic.
    pub fn new(topic: Topic) -> Decoder {
        let tables = topic.tables();
        let layout = Layout::new(
            tables.iter().flat_map(|t| t.fields().unwrap_or_default().iter().map(|f| f.name)),
        );
        let record_type_slot =
            (topic == Topic::Monitoring).then(|| layout.slot("record_type")).flatten();
        let schema_version_slot = layout.slot("schema_version");
        Decoder {
            topic,
            tables: tables.iter().map(|t| TableBuilder::new(*t, &layout)).collect(),
            layout,
            key_order: KeyOrder::new(),
            dead: DeadLetters::new(),
            record_type_slot,
            schema_version_slot,
        }
    }

    /// The topic this decoder reads.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// Rows buffered (accepted and rejected) since the last [`Decoder::finish`].
    pub fn buffered_rows(&self) -> usize {
        self.tables.iter().map(|t| t.rows).sum::<usize>() + self.dead.rows
    }

    /// Validates one record and appends it to its table, or to dead letters
    /// with the reason. Never fails: every input has an outcome.
    pub fn push(&mut self, raw: &[u8], src: &SourceRef<'_>, seen_at_ms: i64) -> Outcome {
        match self.try_push(raw, src) {
            Ok(t) => Outcome::Accepted(t),
            Err(why) => {
                self.dead.append(raw, src, &why, seen_at_ms);
                Outcome::Rejected(why)
            }
        }
    }

    /// Records a line that was too large to hold: `prefix` is its start,
    /// `len` its full length. Goes to dead letters as `too_large`.
    pub fn push_too_large(
        &mut self,
        prefix: &[u8],
        len: usize,
        src: &SourceRef<'_>,
        seen_at_ms: i64,
    ) -> Outcome {
        if len <= MAX_RECORD_BYTES {
            return self.push(prefix, src, seen_at_ms);
        }
        let why = too_large(len, Some(prefix.len()));
        self.dead.append(prefix, src, &why, seen_at_ms);
        Outcome::Rejected(why)
    }

    fn try_push(&mut self, raw: &[u8], src: &SourceRef<'_>) -> Result<Table, Rejection> {
        if raw.len() > MAX_RECORD_BYTES {
            return Err(too_large(raw.len(), None));
        }
        let mut scanned = Scanned::new();
        json::scan(raw, &self.layout, &mut self.key_order, &mut scanned).map_err(|e| match e {
            ScanError::NotJson(m) => {
                Rejection::new(ErrorClass::NotJson, None, format!("not valid JSON: {m}"))
            }
            ScanError::NotObject(what) => Rejection::new(
                ErrorClass::NotObject,
                None,
                format!("expected a JSON object, got {what}"),
            ),
        })?;
        check_schema_version(&scanned, self.schema_version_slot)?;
        let which = match self.record_type_slot {
            None => 0,
            Some(slot) => self.monitoring_table(&scanned, slot)?,
        };
        let builder = &mut self.tables[which];
        let mut cells: [Cell<'_>; MAX_FIELDS] = [const { Cell::Null }; MAX_FIELDS];
        let mut flags: Vec<&'static str> = Vec::new();
        for (i, (spec, &slot)) in builder.fields.iter().zip(&builder.slots).enumerate() {
            cells[i] = check_field(spec, scanned.value(slot), &mut flags)?;
        }
        check_conditions(builder.table, builder.fields, &cells)?;

        let extra = extra_json(&scanned, &builder.foreign, builder.foreign_mask);
        for (col, cell) in builder.columns.iter_mut().zip(&cells) {
            col.append(cell);
        }
        if let Some(g) = &mut builder.grade {
            g.append_value(rescue_grade(builder.fields, &cells));
        }
        builder.source.append(&flags, extra.as_deref(), src);
        builder.rows += 1;
        Ok(builder.table)
    }

    fn monitoring_table(&self, scanned: &Scanned<'_>, slot: usize) -> Result<usize, Rejection> {
        let field = Some("record_type");
        match scanned.value(slot) {
            None | Some(Value::Null) => {
                Err(Rejection::new(ErrorClass::MissingField, field, "required field is missing"))
            }
            Some(Value::Str(s)) if s == "point" => Ok(0),
            Some(Value::Str(s)) if s == "reading" => Ok(1),
            Some(Value::Str(s)) => Err(Rejection::new(
                ErrorClass::BadEnum,
                field,
                format!("{s:?} is not one of \"point\", \"reading\""),
            )),
            Some(v) => Err(Rejection::new(
                ErrorClass::WrongType,
                field,
                format!("expected a string, got {}", v.type_name()),
            )),
        }
    }

    /// Drains the builders into batches (empty tables are left out). An
    /// error means the builders and the table schema disagree: a bug.
    pub fn finish(&mut self) -> Result<Vec<(Table, RecordBatch)>, ArrowError> {
        let mut out = Vec::new();
        for t in &mut self.tables {
            if let Some(b) = t.finish()? {
                out.push((t.table, b));
            }
        }
        if let Some(b) = self.dead.finish()? {
            out.push((Table::DeadLetters, b));
        }
        Ok(out)
    }
}

fn too_large(len: usize, kept: Option<usize>) -> Rejection {
    let mut m = format!("record is {len} bytes, more than the limit of {MAX_RECORD_BYTES}");
    if let Some(k) = kept {
        m.push_str(&format!(" (raw holds its first {k} bytes)"));
    }
    Rejection::new(ErrorClass::TooLarge, None, m)
}

/// A newer major version is its own rejection class, checked before any
/// other field: the other fields may follow rules this engine does not know.
fn check_schema_version(scanned: &Scanned<'_>, slot: Option<usize>) -> Result<(), Rejection> {
    if let Some(Value::Number(n)) = slot.and_then(|slot| scanned.value(slot))
        && let Ok(v) = parse_int(n)
        && v > SCHEMA_VERSION
    {
        return Err(Rejection::new(
            ErrorClass::NewerSchemaVersion,
            Some("schema_version"),
            format!("version {v} is newer than the newest this engine knows ({SCHEMA_VERSION})"),
        ));
    }
    Ok(())
}

/// Why a JSON number is not an integer.
enum NotInt {
    /// It has a fractional part (or is not a number at all).
    Fraction,
    /// It is integral, but too large to hold exactly.
    TooLarge,
}

/// Parses a JSON number as an integer; integral fractions like `3.0` count.
fn parse_int(text: &str) -> Result<i64, NotInt> {
    if let Ok(v) = text.parse::<i64>() {
        return Ok(v);
    }
    let f: f64 = text.parse().map_err(|_| NotInt::Fraction)?;
    if f.fract() != 0.0 {
        Err(NotInt::Fraction)
    } else if f.abs() >= 9.0e15 {
        Err(NotInt::TooLarge)
    } else {
        Ok(f as i64)
    }
}

/// Checks one field's value (`None`: the key is absent) against its spec.
fn check_field<'de>(
    spec: &FieldSpec,
    value: Option<Value<'de>>,
    flags: &mut Vec<&'static str>,
) -> Result<Cell<'de>, Rejection> {
    let name = Some(spec.name);
    let present = value.is_some();
    let v = value.unwrap_or(Value::Null);
    if v == Value::Null {
        return match spec.presence {
            Presence::Required => {
                let msg =
                    if present { "required field is null" } else { "required field is missing" };
                Err(Rejection::new(ErrorClass::MissingField, name, msg))
            }
            Presence::Default(Default::Int(d)) => Ok(Cell::Int(d)),
            Presence::Default(Default::Bool(d)) => Ok(Cell::Bool(d)),
            Presence::Default(Default::Str(d)) => Ok(Cell::Str(Cow::Borrowed(d))),
            Presence::Optional | Presence::Conditional => Ok(Cell::Null),
        };
    }
    let wrong = |expected: &str, v: &Value<'_>| {
        Rejection::new(
            ErrorClass::WrongType,
            name,
            format!("expected {expected}, got {}", v.type_name()),
        )
    };
    match spec.kind {
        Kind::Str { min, max } => {
            let Value::Str(s) = v else {
                return Err(wrong("a string", &v));
            };
            // A UTF-8 string of `len` bytes has `len / 4` (rounded up) to
            // `len` characters: count them only when that range is not
            // already within bounds.
            let n =
                if s.len() <= max && s.len().div_ceil(4) >= min { min } else { s.chars().count() };
            if n < min || n > max {
                let bound =
                    if n < min { format!("at least {min}") } else { format!("at most {max}") };
                return Err(Rejection::new(
                    ErrorClass::OutOfRange,
                    name,
                    format!("string has {n} characters, expected {bound}"),
                ));
            }
            Ok(Cell::Str(s))
        }
        Kind::Enum(allowed) => {
            let Value::Str(s) = v else {
                return Err(wrong("a string", &v));
            };
            if allowed.contains(&s.as_ref()) {
                Ok(Cell::Str(s))
            } else {
                let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
                Err(Rejection::new(
                    ErrorClass::BadEnum,
                    name,
                    format!("{s:?} is not one of {list}"),
                ))
            }
        }
        Kind::Int { min, max } => {
            let Value::Number(n) = v else {
                return Err(wrong("an integer", &v));
            };
            let x = match parse_int(n) {
                Ok(x) => x,
                Err(NotInt::TooLarge) => {
                    return Err(Rejection::new(
                        ErrorClass::OutOfRange,
                        name,
                        format!("{n} is out of range, too large for an integer"),
                    ));
                }
                Err(NotInt::Fraction) => {
                    return Err(Rejection::new(
                        ErrorClass::WrongType,
                        name,
                        format!("expected an integer, got {n}"),
                    ));
                }
            };
            if x < min || x > max {
                return Err(Rejection::new(
                    ErrorClass::OutOfRange,
                    name,
                    range_message(
                        n,
                        min as f64,
                        max as f64,
                        max == i64::MAX || max == i64::from(i32::MAX),
                    ),
                ));
            }
            Ok(Cell::Int(x))
        }
        Kind::Float { min, max } => {
            let Value::Number(n) = v else {
                return Err(wrong("a number", &v));
            };
            let x: f64 = n.parse().map_err(|_| wrong("a number", &v))?;
            if !x.is_finite() || x < min || x > max {
                return Err(Rejection::new(
                    ErrorClass::OutOfRange,
                    name,
                    range_message(n, min, max, max == f64::MAX),
                ));
            }
            Ok(Cell::Float(x))
        }
        Kind::Bool => match v {
            Value::Bool(b) => Ok(Cell::Bool(b)),
            _ => Err(wrong("true or false", &v)),
        },
        Kind::Timestamp => match v {
            Value::Str(s) => parse_rfc3339_ms(&s).map(Cell::Ts).map_err(|e| {
                Rejection::new(
                    ErrorClass::BadTimestamp,
                    name,
                    format!("{s:?} is not an RFC 3339 timestamp with offset ({})", e.0),
                )
            }),
            Value::Number(n) => match n.parse::<i64>() {
                Ok(ms) if (MIN_EPOCH_MS..=MAX_EPOCH_MS).contains(&ms) => Ok(Cell::Ts(ms)),
                // Beyond what RFC 3339 can write; left in, one such value
                // would stretch every window computation from it to now.
                Ok(_) => Err(Rejection::new(
                    ErrorClass::OutOfRange,
                    name,
                    format!(
                        "{n} is out of range, expected epoch milliseconds within the years 0000 to 9999"
                    ),
                )),
                Err(_) => Err(Rejection::new(
                    ErrorClass::BadTimestamp,
                    name,
                    format!("{n} is not an integer of epoch milliseconds"),
                )),
            },
            _ => Err(wrong("an RFC 3339 string or epoch milliseconds", &v)),
        },
        Kind::Uscc => {
            let Value::Str(s) = v else {
                return Err(wrong("a string", &v));
            };
            if let Err(e) = uscc::check_shape(&s) {
                return Err(Rejection::new(ErrorClass::BadUscc, name, format!("{s:?} {e}")));
            }
            if !uscc::checksum_ok(&s) && !flags.contains(&FLAG_USCC_CHECKSUM) {
                flags.push(FLAG_USCC_CHECKSUM);
            }
            Ok(Cell::Str(s))
        }
        Kind::RegionCode => {
            let Value::Str(s) = v else {
                return Err(wrong("a string", &v));
            };
            if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Rejection::new(
                    ErrorClass::BadRegionCode,
                    name,
                    format!("{s:?} is not 12 digits"),
                ));
            }
            Ok(Cell::Str(s))
        }
    }
}

fn range_message(text: &str, min: f64, max: f64, unbounded_above: bool) -> String {
    if unbounded_above {
        format!("{text} is out of range, expected at least {min}")
    } else {
        format!("{text} is out of range, expected {min} to {max}")
    }
}

fn cell<'a, 'de>(fields: &[FieldSpec], cells: &'a [Cell<'de>], name: &str) -> &'a Cell<'de> {
    fields.iter().position(|f| f.name == name).map_or(&Cell::Null, |i| &cells[i])
}

/// Requirements that depend on other fields of the record.
fn check_conditions(
    table: Table,
    fields: &[FieldSpec],
    cells: &[Cell<'_>],
) -> Result<(), Rejection> {
    let needs = |field: &'static str, when: &str| -> Result<(), Rejection> {
        match cell(fields, cells, field) {
            Cell::Null => Err(Rejection::new(
                ErrorClass::MissingField,
                Some(field),
                format!("required when {when}"),
            )),
            _ => Ok(()),
        }
    };
    let is =
        |field: &str, value: &str| matches!(cell(fields, cells, field), Cell::Str(s) if s == value);
    match table {
        Table::Hazard if is("level", "major") => needs("deadline", "level is \"major\""),
        Table::Enforcement => {
            let (field, kind) = match cell(fields, cells, "record_type") {
                Cell::Str(s) if s == "inspection" => ("violations", "inspection"),
                Cell::Str(s) if s == "recheck" => ("recheck_passed", "recheck"),
                Cell::Str(s) if s == "penalty" => ("fine_cny", "penalty"),
                Cell::Str(s) if s == "suspension" => ("suspended_until", "suspension"),
                _ => return Ok(()),
            };
            needs(field, &format!("record_type is \"{kind}\""))
        }
        Table::MonitoringReading if is("quality", "good") => {
            needs("value", "quality is \"good\" (a number)")
        }
        _ => Ok(()),
    }
}

/// The accident grade of 国务院令第493号 from deaths, serious injuries and loss.
pub fn grade(deaths: i64, serious_injuries: i64, direct_loss_cny: f64) -> &'static str {
    if deaths >= 30 || serious_injuries >= 100 || direct_loss_cny >= 1.0e8 {
        "especially_major"
    } else if deaths >= 10 || serious_injuries >= 50 || direct_loss_cny >= 5.0e7 {
        "major"
    } else if deaths >= 3 || serious_injuries >= 10 || direct_loss_cny >= 1.0e7 {
        "larger"
    } else {
        "general"
    }
}

fn rescue_grade(fields: &[FieldSpec], cells: &[Cell<'_>]) -> &'static str {
    let int = |n| match cell(fields, cells, n) {
        Cell::Int(v) => *v,
        _ => 0,
    };
    let loss = match cell(fields, cells, "direct_loss_cny") {
        Cell::Float(v) => *v,
        _ => 0.0,
    };
    grade(int("deaths"), int("serious_injuries"), loss)
}

/// The `extra` column: unknown keys, and keys the topic knows but this record
/// type does not (`foreign`), as one JSON object of their raw values.
/// `foreign_mask` holds the slot bits of `foreign`: one test settles the
/// common case, a record with none of them.
fn extra_json(
    scanned: &Scanned<'_>,
    foreign: &[(usize, &'static str)],
    foreign_mask: u32,
) -> Option<String> {
    if scanned.extra.is_empty() && !scanned.any_of(foreign_mask) {
        return None;
    }
    let others = foreign.iter().filter_map(|&(slot, name)| Some((name, scanned.raw(slot)?)));
    let mut out = String::from("{");
    let all = scanned.extra.iter().map(|(k, v)| (k.as_ref(), *v)).chain(others);
    for (i, (k, v)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"?\"".into()));
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMillisecondType};

    use super::*;

    const USCC: &str = "91440300708461136T";
    const ENT: &str = r#"{"event_id":"e1","event_time":"2026-03-01T08:00:00+08:00","uscc":"91440300708461136T","region_code":"320505001000","name":"苏州某化工有限公司","industry":"hazchem_storage","major_hazard_level":2,"major_hazard_units":1,"hazardous_processes":0,"standardization_grade":2,"own_rescue_team":false,"employees":120,"status":"operating"}"#;

    fn src() -> SourceRef<'static> {
        SourceRef { topic: "t", file: Some("f.jsonl"), line: Some(7), ..SourceRef::default() }
    }

    fn with(base: &str, key: &str, value: Option<&str>) -> String {
        let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(base).unwrap();
        match value {
            Some(x) => v.insert(key.into(), serde_json::from_str(x).unwrap()),
            None => v.remove(key),
        };
        serde_json::to_string(&v).unwrap()
    }

    fn reject(topic: Topic, raw: &[u8]) -> Rejection {
        match Decoder::new(topic).push(raw, &src(), 0) {
            Outcome::Rejected(r) => r,
            Outcome::Accepted(t) => panic!("accepted into {t:?}: {}", String::from_utf8_lossy(raw)),
        }
    }

    /// One case per bad-input class of `records.md`, with the reason text.
    #[test]
    fn every_bad_input_class_has_a_clear_reason() {
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_RECORD_BYTES));
        let reading = r#"{"event_time":1772323200000,"uscc":"91440300708461136T","record_type":"reading","point_id":"p1","value":1.5}"#;
        let hazard = r#"{"event_id":"h1","event_time":"2026-03-01T08:00:00+08:00","uscc":"91440300708461136T","hazard_id":"H1","level":"major","found_by":"self","found_at":"2026-03-01T08:00:00+08:00","deadline":"2026-04-01T00:00:00+08:00","state":"open"}"#;
        let cases: Vec<(Topic, String, ErrorClass, &str)> = vec![
            (
                Topic::Enterprise,
                "{\"event_id\": ".into(),
                ErrorClass::NotJson,
                "not valid JSON: EOF while parsing a value at line 1 column 13",
            ),
            (
                Topic::Enterprise,
                "[1,2]".into(),
                ErrorClass::NotObject,
                "expected a JSON object, got an array",
            ),
            (
                Topic::Enterprise,
                with(ENT, "uscc", None),
                ErrorClass::MissingField,
                "field `uscc`: required field is missing",
            ),
            (
                Topic::Enterprise,
                with(ENT, "name", Some("null")),
                ErrorClass::MissingField,
                "field `name`: required field is null",
            ),
            (
                Topic::Enterprise,
                with(ENT, "employees", Some("\"many\"")),
                ErrorClass::WrongType,
                "field `employees`: expected an integer, got a string",
            ),
            (
                Topic::Enterprise,
                with(ENT, "employees", Some("2.5")),
                ErrorClass::WrongType,
                "field `employees`: expected an integer, got 2.5",
            ),
            (
                Topic::Enterprise,
                with(ENT, "industry", Some("\"chemicals\"")),
                ErrorClass::BadEnum,
                "field `industry`: \"chemicals\" is not one of \"hazchem_production\", \"hazchem_storage\", \"hazchem_use\", \"fireworks\", \"non_coal_mine\", \"metallurgy\", \"dust_explosion\", \"ammonia_refrigeration\", \"other_industrial\", \"commercial\"",
            ),
            (
                Topic::Enterprise,
                with(ENT, "event_time", Some("\"2026-13-45 25:00\"")),
                ErrorClass::BadTimestamp,
                "field `event_time`: \"2026-13-45 25:00\" is not an RFC 3339 timestamp with offset (expected ':' after the minute)",
            ),
            (
                Topic::Enterprise,
                with(ENT, "uscc", Some("\"1234\"")),
                ErrorClass::BadUscc,
                "field `uscc`: \"1234\" is 4 characters long, expected 18",
            ),
            (
                Topic::Enterprise,
                with(ENT, "uscc", Some("\"9144030070846113IT\"")),
                ErrorClass::BadUscc,
                "field `uscc`: \"9144030070846113IT\" character 17 is not one of 0-9 A-H J-N P Q R T U W X Y",
            ),
            (
                Topic::Enterprise,
                with(ENT, "region_code", Some("\"3205\"")),
                ErrorClass::BadRegionCode,
                "field `region_code`: \"3205\" is not 12 digits",
            ),
            (
                Topic::Enterprise,
                with(ENT, "major_hazard_level", Some("7")),
                ErrorClass::OutOfRange,
                "field `major_hazard_level`: 7 is out of range, expected 0 to 4",
            ),
            (
                Topic::Enterprise,
                with(ENT, "employees", Some("-1")),
                ErrorClass::OutOfRange,
                "field `employees`: -1 is out of range, expected at least 0",
            ),
            (
                Topic::Enterprise,
                with(ENT, "employees", Some("1e20")),
                ErrorClass::OutOfRange,
                "field `employees`: 1e+20 is out of range, too large for an integer",
            ),
            (
                Topic::Enterprise,
                with(ENT, "event_time", Some("-9223372036854775808")),
                ErrorClass::OutOfRange,
                "field `event_time`: -9223372036854775808 is out of range, expected epoch milliseconds within the years 0000 to 9999",
            ),
            (
                Topic::Enterprise,
                big,
                ErrorClass::TooLarge,
                "record is 1048586 bytes, more than the limit of 1048576",
            ),
            (
                Topic::Enterprise,
                with(ENT, "schema_version", Some("2")),
                ErrorClass::NewerSchemaVersion,
                "field `schema_version`: version 2 is newer than the newest this engine knows (1)",
            ),
            (
                Topic::Hazard,
                with(hazard, "deadline", None),
                ErrorClass::MissingField,
                "field `deadline`: required when level is \"major\"",
            ),
            (
                Topic::Monitoring,
                with(
                    &with(reading, "schema_version", Some("2")),
                    "record_type",
                    Some("\"sample\""),
                ),
                ErrorClass::NewerSchemaVersion,
                "field `schema_version`: version 2 is newer than the newest this engine knows (1)",
            ),
            (
                Topic::Monitoring,
                with(reading, "record_type", Some("\"sample\"")),
                ErrorClass::BadEnum,
                "field `record_type`: \"sample\" is not one of \"point\", \"reading\"",
            ),
            (
                Topic::Monitoring,
                with(reading, "value", Some("null")),
                ErrorClass::MissingField,
                "field `value`: required when quality is \"good\" (a number)",
            ),
        ];
        for (topic, raw, class, reason) in cases {
            let r = reject(topic, raw.as_bytes());
            assert_eq!(
                (r.class, r.reason().as_str()),
                (class, reason),
                "input: {}",
                raw.chars().take(200).collect::<String>()
            );
        }
    }

    #[test]
    fn string_lengths_are_counted_in_characters() {
        let mut dec = Decoder::new(Topic::Enterprise);
        let id =
            |chars: &str, n: usize| with(ENT, "event_id", Some(&format!("{:?}", chars.repeat(n))));
        // 128 four-byte characters (512 bytes) are within `event_id`'s 1..=128.
        assert_eq!(
            dec.push(id("𝄞", 128).as_bytes(), &src(), 0),
            Outcome::Accepted(Table::Enterprise)
        );
        assert_eq!(
            dec.push(id("a", 128).as_bytes(), &src(), 0),
            Outcome::Accepted(Table::Enterprise)
        );
        let reason = |raw: String, dec: &mut Decoder| match dec.push(raw.as_bytes(), &src(), 0) {
            Outcome::Rejected(r) => r.reason(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(id("企", 129), &mut dec),
            "field `event_id`: string has 129 characters, expected at most 128"
        );
        assert_eq!(
            reason(id("a", 0), &mut dec),
            "field `event_id`: string has 0 characters, expected at least 1"
        );
    }

    #[test]
    fn a_good_record_becomes_one_row() {
        let mut dec = Decoder::new(Topic::Enterprise);
        let raw = with(ENT, "hobby", Some(r#"{"a":[1]}"#));
        assert_eq!(dec.push(raw.as_bytes(), &src(), 0), Outcome::Accepted(Table::Enterprise));
        let out = dec.finish().unwrap();
        assert_eq!(out.len(), 1);
        let (table, batch) = &out[0];
        assert_eq!(*table, Table::Enterprise);
        assert_eq!(batch.num_rows(), 1);
        let col = |n: &str| batch.column_by_name(n).unwrap();
        assert_eq!(col("uscc").as_string::<i32>().value(0), USCC);
        assert_eq!(
            col("event_time").as_primitive::<TimestampMillisecondType>().value(0),
            1_772_323_200_000
        );
        assert_eq!(col("schema_version").as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(col("extra").as_string::<i32>().value(0), r#"{"hobby":{"a":[1]}}"#);
        assert!(col("official_color").is_null(0));
        assert_eq!(col("quality_flags").as_list::<i32>().value(0).len(), 0);
        assert_eq!(col("_line").as_primitive::<Int64Type>().value(0), 7);
        assert!(col("_offset").is_null(0));
    }

    #[test]
    fn wrong_check_digit_is_kept_and_flagged() {
        let mut dec = Decoder::new(Topic::Enterprise);
        let raw = with(ENT, "uscc", Some("\"91440300708461136A\""));
        assert_eq!(dec.push(raw.as_bytes(), &src(), 0), Outcome::Accepted(Table::Enterprise));
        let (_, batch) = &dec.finish().unwrap()[0];
        let flags = batch.column_by_name("quality_flags").unwrap().as_list::<i32>().value(0);
        assert_eq!(flags.as_string::<i32>().value(0), FLAG_USCC_CHECKSUM);
    }

    #[test]
    fn monitoring_splits_points_and_readings_and_bad_rows_do_not_leak() {
        let mut dec = Decoder::new(Topic::Monitoring);
        let point = r#"{"event_id":"p","event_time":"2026-03-01T08:00:00+08:00","uscc":"91440300708461136T","record_type":"point","point_id":"P1","kind":"combustible_gas","unit":"%LEL","high":25,"high_high":50}"#;
        let reading = r#"{"event_time":1772323200000,"uscc":"91440300708461136T","record_type":"reading","point_id":"P1","value":null,"quality":"comm_fail","unit":"x"}"#;
        assert_eq!(
            dec.push(point.as_bytes(), &src(), 0),
            Outcome::Accepted(Table::MonitoringPoint)
        );
        assert!(matches!(
            dec.push(b"{\"record_type\":\"reading\",\"point_id\":7}", &src(), 5),
            Outcome::Rejected(_)
        ));
        assert_eq!(
            dec.push(reading.as_bytes(), &src(), 0),
            Outcome::Accepted(Table::MonitoringReading)
        );
        let out = dec.finish().unwrap();
        let rows: Vec<(Table, usize)> = out.iter().map(|(t, b)| (*t, b.num_rows())).collect();
        assert_eq!(
            rows,
            vec![
                (Table::MonitoringPoint, 1),
                (Table::MonitoringReading, 1),
                (Table::DeadLetters, 1)
            ]
        );
        let points = &out[0].1;
        let period =
            points.column_by_name("expected_period_s").unwrap().as_primitive::<Int64Type>();
        assert_eq!(period.value(0), 30);
        let readings = &out[1].1;
        assert_eq!(
            readings.column_by_name("extra").unwrap().as_string::<i32>().value(0),
            r#"{"unit":"x"}"#
        );
        assert!(readings.column_by_name("value").unwrap().is_null(0));
        let dead = &out[2].1;
        assert_eq!(
            dead.column_by_name("seen_at")
                .unwrap()
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            5
        );
        assert_eq!(
            dead.column_by_name("error_class").unwrap().as_string::<i32>().value(0),
            "missing_field"
        );
    }

    #[test]
    fn non_utf8_input_is_kept_as_base64() {
        let mut dec = Decoder::new(Topic::Rescue);
        let out = dec.push(b"{\"a\":\"\xff\"}", &src(), 0);
        assert!(matches!(out, Outcome::Rejected(r) if r.class == ErrorClass::NotJson));
        let (_, batch) = &dec.finish().unwrap()[0];
        assert_eq!(
            batch.column_by_name("raw_encoding").unwrap().as_string::<i32>().value(0),
            "base64"
        );
        assert_eq!(
            batch.column_by_name("raw").unwrap().as_string::<i32>().value(0),
            "eyJhIjoi/yJ9"
        );
    }

    #[test]
    fn rescue_grades_follow_decree_493() {
        assert_eq!(grade(0, 0, 0.0), "general");
        assert_eq!(grade(2, 9, 9_999_999.0), "general");
        assert_eq!(grade(3, 0, 0.0), "larger");
        assert_eq!(grade(0, 10, 0.0), "larger");
        assert_eq!(grade(0, 0, 1.0e7), "larger");
        assert_eq!(grade(10, 0, 0.0), "major");
        assert_eq!(grade(0, 50, 0.0), "major");
        assert_eq!(grade(0, 0, 5.0e7), "major");
        assert_eq!(grade(30, 0, 0.0), "especially_major");
        assert_eq!(grade(0, 100, 0.0), "especially_major");
        assert_eq!(grade(0, 0, 1.0e8), "especially_major");
    }
}
