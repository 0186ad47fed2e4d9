//! The tables of the lake, declared once.
//!
//! Every source table is a list of [`FieldSpec`]s taken from `records.md`; the
//! validator, the Arrow schema and the drift test against `schemas/*.json` all
//! read these lists, so a field is added in exactly one place.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// What values a field accepts and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A string of `min..=max` characters; stored as `Utf8`.
    Str {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// One of the listed strings; stored as `Utf8`.
    Enum(&'static [&'static str]),
    /// An integer in `min..=max`; stored as `Int64`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A number in `min..=max`; stored as `Float64`.
    Float {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// `true` or `false`; stored as `Boolean`.
    Bool,
    /// RFC 3339 with offset, or integer epoch milliseconds; stored as UTC `Timestamp(ms)`.
    Timestamp,
    /// A 统一社会信用代码: shape checked, check digit flagged; stored as `Utf8`.
    Uscc,
    /// A 12-digit 统计用区划代码; stored as `Utf8`.
    RegionCode,
}

impl Kind {
    /// The Arrow type a column of this kind is stored as.
    pub fn data_type(&self) -> DataType {
        match self {
            Kind::Str { .. } | Kind::Enum(_) | Kind::Uscc | Kind::RegionCode => DataType::Utf8,
            Kind::Int { .. } => DataType::Int64,
            Kind::Float { .. } => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Timestamp => timestamp_type(),
        }
    }
}

/// When a field must be present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Presence {
    /// Always present; a missing field rejects the record.
    Required,
    /// May be absent or null; stored as null.
    Optional,
    /// May be absent; then this value is stored.
    Default(Default),
    /// Required only for some records; [`crate::decode`] checks the condition.
    Conditional,
}

/// A default value for a field that may be absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(&'static str),
}

/// One field of a source record, and the column it becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// The JSON key and the column name.
    pub name: &'static str,
    /// What values it takes.
    pub kind: Kind,
    /// When it must be present.
    pub presence: Presence,
}

impl FieldSpec {
    /// True when every row has a value (required or defaulted).
    pub fn non_null(&self) -> bool {
        matches!(self.presence, Presence::Required | Presence::Default(_))
    }
}

const fn req(name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec { name, kind, presence: Presence::Required }
}
const fn opt(name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec { name, kind, presence: Presence::Optional }
}
const fn cond(name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec { name, kind, presence: Presence::Conditional }
}
const fn dflt(name: &'static str, kind: Kind, d: Default) -> FieldSpec {
    FieldSpec { name, kind, presence: Presence::Default(d) }
}

const ANY_STR: Kind = Kind::Str { min: 0, max: usize::MAX };
const NONEMPTY: Kind = Kind::Str { min: 1, max: usize::MAX };
const ID: Kind = Kind::Str { min: 1, max: 128 };
const COUNT: Kind = Kind::Int { min: 0, max: i64::MAX };
const AMOUNT: Kind = Kind::Float { min: 0.0, max: f64::MAX };
const ANY_NUMBER: Kind = Kind::Float { min: f64::MIN, max: f64::MAX };
/// `schema_version`: the newest major version this engine knows.
pub const SCHEMA_VERSION: i64 = 1;
const VERSION: FieldSpec =
    dflt("schema_version", Kind::Int { min: 1, max: i32::MAX as i64 }, Default::Int(1));

/// Values of `enterprise.industry`.
pub const INDUSTRIES: &[&str] = &[
    "hazchem_production",
    "hazchem_storage",
    "hazchem_use",
    "fireworks",
    "non_coal_mine",
    "metallurgy",
    "dust_explosion",
    "ammonia_refrigeration",
    "other_industrial",
    "commercial",
];
/// Risk colours, best to worst.
pub const COLORS: &[&str] = &["blue", "yellow", "orange", "red"];
/// Values of `monitoring_point.kind`.
pub const POINT_KINDS: &[&str] =
    &["combustible_gas", "toxic_gas", "oxygen", "temperature", "pressure", "level", "flow"];
/// Values of `enforcement.record_type`.
pub const ENFORCEMENT_TYPES: &[&str] = &["inspection", "order", "recheck", "penalty", "suspension"];
/// Values of `hazard.state`; the last two end a hazard.
pub const HAZARD_STATES: &[&str] =
    &["open", "rectifying", "pending_acceptance", "accepted", "closed"];
/// GB 6441 accident classes `"01"..="20"`.
pub const ACCIDENT_TYPES: &[&str] = &[
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20",
];

/// `enterprise` (企业数据信息).
pub const ENTERPRISE: &[FieldSpec] = &[
    req("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("uscc", Kind::Uscc),
    req("region_code", Kind::RegionCode),
    req("name", NONEMPTY),
    req("industry", Kind::Enum(INDUSTRIES)),
    req("major_hazard_level", Kind::Int { min: 0, max: 4 }),
    req("major_hazard_units", COUNT),
    req("hazardous_processes", COUNT),
    req("standardization_grade", Kind::Int { min: 0, max: 3 }),
    req("own_rescue_team", Kind::Bool),
    req("employees", COUNT),
    req("status", Kind::Enum(&["operating", "suspended", "closed"])),
    opt("lon", Kind::Float { min: -180.0, max: 180.0 }),
    opt("lat", Kind::Float { min: -90.0, max: 90.0 }),
    opt("official_color", Kind::Enum(COLORS)),
];

/// `hazard` (隐患排查治理).
pub const HAZARD: &[FieldSpec] = &[
    req("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("uscc", Kind::Uscc),
    req("hazard_id", ID),
    req("level", Kind::Enum(&["general", "major"])),
    req("found_by", Kind::Enum(&["self", "government", "third_party"])),
    req("found_at", Kind::Timestamp),
    cond("deadline", Kind::Timestamp),
    req("state", Kind::Enum(HAZARD_STATES)),
    opt("description", Kind::Str { min: 0, max: 4000 }),
];

/// `enforcement` (行政执法).
pub const ENFORCEMENT: &[FieldSpec] = &[
    req("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("uscc", Kind::Uscc),
    req("case_id", ID),
    req("record_type", Kind::Enum(ENFORCEMENT_TYPES)),
    cond("violations", COUNT),
    cond("recheck_passed", Kind::Bool),
    cond("fine_cny", AMOUNT),
    cond("suspended_until", Kind::Timestamp),
];

/// `monitoring` records with `record_type: "point"`: the sensor registry.
pub const MONITORING_POINT: &[FieldSpec] = &[
    req("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("uscc", Kind::Uscc),
    req("record_type", Kind::Enum(&["point"])),
    req("point_id", ID),
    req("kind", Kind::Enum(POINT_KINDS)),
    req("unit", ANY_STR),
    opt("unit_level", Kind::Int { min: 1, max: 4 }),
    opt("low_low", ANY_NUMBER),
    opt("low", ANY_NUMBER),
    opt("high", ANY_NUMBER),
    opt("high_high", ANY_NUMBER),
    dflt("expected_period_s", Kind::Int { min: 1, max: i32::MAX as i64 }, Default::Int(30)),
    dflt("flatline_applicable", Kind::Bool, Default::Bool(false)),
];

/// `monitoring` records with `record_type: "reading"`: the high-volume stream.
pub const MONITORING_READING: &[FieldSpec] = &[
    opt("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("uscc", Kind::Uscc),
    req("record_type", Kind::Enum(&["reading"])),
    req("point_id", ID),
    // A number, or null when `quality` is not `good`.
    cond("value", ANY_NUMBER),
    dflt("quality", Kind::Enum(&["good", "bad", "comm_fail"]), Default::Str("good")),
];

/// `rescue` (安全生产应急救援).
pub const RESCUE: &[FieldSpec] = &[
    req("event_id", ID),
    req("event_time", Kind::Timestamp),
    VERSION,
    req("region_code", Kind::RegionCode),
    opt("uscc", Kind::Uscc),
    req("incident_id", ID),
    req("accident_type", Kind::Enum(ACCIDENT_TYPES)),
    req("occurred_at", Kind::Timestamp),
    req("reported_at", Kind::Timestamp),
    req("deaths", COUNT),
    req("serious_injuries", COUNT),
    req("minor_injuries", COUNT),
    req("direct_loss_cny", AMOUNT),
    req("public_impact", Kind::Bool),
    req("status", Kind::Enum(&["reported", "responding", "controlled", "closed"])),
    req("revision", COUNT),
];

/// Accident grades (国务院令第493号), mildest first, as stored in `rescue.grade`.
pub const GRADES: &[&str] = &["general", "larger", "major", "especially_major"];

/// The five Kafka topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// 企业数据信息.
    Enterprise,
    /// 隐患排查.
    Hazard,
    /// 行政执法.
    Enforcement,
    /// 监测监控: points and readings.
    Monitoring,
    /// 应急救援.
    Rescue,
}

impl Topic {
    /// All topics, in the order of the contract.
    pub const ALL: [Topic; 5] =
        [Topic::Enterprise, Topic::Hazard, Topic::Enforcement, Topic::Monitoring, Topic::Rescue];

    /// The position in [`Topic::ALL`] (declaration order), for per-topic arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The topic name (without any deployment prefix), also the replay file stem.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Enterprise => "enterprise",
            Topic::Hazard => "hazard",
            Topic::Enforcement => "enforcement",
            Topic::Monitoring => "monitoring",
            Topic::Rescue => "rescue",
        }
    }

    /// The topic of a name, if it is one of the five.
    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The source tables records of this topic land in.
    pub fn tables(self) -> &'static [Table] {
        match self {
            Topic::Enterprise => &[Table::Enterprise],
            Topic::Hazard => &[Table::Hazard],
            Topic::Enforcement => &[Table::Enforcement],
            Topic::Monitoring => &[Table::MonitoringPoint, Table::MonitoringReading],
            Topic::Rescue => &[Table::Rescue],
        }
    }
}

/// The tables of the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Enterprise registry versions.
    Enterprise,
    /// Hazard versions.
    Hazard,
    /// Enforcement records.
    Enforcement,
    /// Sensor registry versions.
    MonitoringPoint,
    /// Sensor readings.
    MonitoringReading,
    /// Rescue incident revisions, with the computed `grade`.
    Rescue,
    /// Records that failed validation, with the reason.
    DeadLetters,
    /// Sensor alarm episodes derived from readings.
    Alarms,
    /// Risk scores per enterprise per scoring window.
    RiskScores,
    /// Records that arrived later than the allowed lateness.
    LateEvents,
}

impl Table {
    /// Every table, in a stable order.
    pub const ALL: [Table; 10] = [
        Table::Enterprise,
        Table::Hazard,
        Table::Enforcement,
        Table::MonitoringPoint,
        Table::MonitoringReading,
        Table::Rescue,
        Table::DeadLetters,
        Table::Alarms,
        Table::RiskScores,
        Table::LateEvents,
    ];

    /// The position in [`Table::ALL`] (declaration order), for per-table arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The table (and folder) name in the lake.
    pub fn name(self) -> &'static str {
        match self {
            Table::Enterprise => "enterprise",
            Table::Hazard => "hazard",
            Table::Enforcement => "enforcement",
            Table::MonitoringPoint => "monitoring_point",
            Table::MonitoringReading => "monitoring_reading",
            Table::Rescue => "rescue",
            Table::DeadLetters => "dead_letters",
            Table::Alarms => "alarms",
            Table::RiskScores => "risk_scores",
            Table::LateEvents => "late_events",
        }
    }

    /// The table of a name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The fields of a source table, `None` for derived tables.
    pub fn fields(self) -> Option<&'static [FieldSpec]> {
        match self {
            Table::Enterprise => Some(ENTERPRISE),
            Table::Hazard => Some(HAZARD),
            Table::Enforcement => Some(ENFORCEMENT),
            Table::MonitoringPoint => Some(MONITORING_POINT),
            Table::MonitoringReading => Some(MONITORING_READING),
            Table::Rescue => Some(RESCUE),
            Table::DeadLetters | Table::Alarms | Table::RiskScores | Table::LateEvents => None,
        }
    }

    /// The timestamp column whose UTC date names the `date=` partition of a row.
    pub fn partition_time_column(self) -> &'static str {
        match self {
            Table::DeadLetters => "seen_at",
            Table::Alarms => "start_time",
            Table::RiskScores => "window_start",
            _ => "event_time",
        }
    }

    /// The Arrow schema of the table's Parquet files (without the `date`
    /// partition column, which lives in the path).
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all =
            SCHEMAS.get_or_init(|| Table::ALL.iter().map(|t| Arc::new(t.build_schema())).collect());
        let idx = Table::ALL.iter().position(|t| *t == self).unwrap_or_default();
        Arc::clone(&all[idx])
    }

    fn build_schema(self) -> Schema {
        match self.fields() {
            Some(fields) => {
                let mut cols: Vec<Field> = fields
                    .iter()
                    .map(|f| Field::new(f.name, f.kind.data_type(), !f.non_null()))
                    .collect();
                if self == Table::Rescue {
                    cols.push(Field::new("grade", DataType::Utf8, false));
                }
                cols.extend(source_columns());
                Schema::new(cols)
            }
            None => Schema::new(self.derived_columns()),
        }
    }

    fn derived_columns(self) -> Vec<Field> {
        let ts = |n: &str, nullable| Field::new(n, timestamp_type(), nullable);
        let utf8 = |n: &str, nullable| Field::new(n, DataType::Utf8, nullable);
        let f64 = |n: &str| Field::new(n, DataType::Float64, false);
        match self {
            Table::Alarms => vec![
                utf8("alarm_id", false),
                utf8("uscc", false),
                utf8("point_id", true),
                utf8("kind", false),
                ts("start_time", false),
                ts("end_time", true),
                Field::new("peak_value", DataType::Float64, true),
                Field::new("set_point", DataType::Float64, true),
            ],
            Table::RiskScores => vec![
                utf8("uscc", false),
                utf8("region_code", true),
                ts("window_start", false),
                ts("window_end", false),
                Field::new("revision", DataType::Int64, false),
                utf8("model_version", false),
                f64("inherent_points"),
                f64("monitoring_points"),
                f64("hazard_points"),
                f64("enforcement_points"),
                f64("rescue_points"),
                f64("risk_points"),
                f64("safety_score"),
                utf8("color", false),
                Field::new("overrides", list_of(DataType::Utf8), false),
                Field::new("contributions", list_of(contribution_type()), false),
                ts("computed_at", false),
            ],
            Table::LateEvents => {
                let mut cols = vec![utf8("table", false)];
                cols.extend(record_coordinates());
                cols.extend([
                    ts("event_time", false),
                    ts("watermark", false),
                    utf8("reason", false),
                ]);
                cols
            }
            _ => record_coordinates()
                .into_iter()
                .chain([
                    utf8("raw", false),
                    utf8("raw_encoding", false),
                    utf8("reason", false),
                    utf8("error_class", false),
                    utf8("field", true),
                    ts("seen_at", false),
                ])
                .collect(),
        }
    }
}

/// Where a record came from, as `dead_letters` and `late_events` name it:
/// Kafka topic, partition, offset and key, or replay file and line.
fn record_coordinates() -> [Field; 6] {
    [
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, true),
        Field::new("offset", DataType::Int64, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::Int64, true),
        Field::new("key", DataType::Utf8, true),
    ]
}

/// `List<T>` with a nullable `item` field, as Arrow's list builders make it.
pub fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// One entry of `risk_scores.contributions`: `{rule, points, event_ids}`.
pub fn contribution_type() -> DataType {
    DataType::Struct(
        vec![
            Field::new("rule", DataType::Utf8, false),
            Field::new("points", DataType::Float64, false),
            Field::new("event_ids", list_of(DataType::Utf8), false),
        ]
        .into(),
    )
}

/// UTC millisecond timestamps, the type of every time column.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The columns every source table ends with: quality flags, unknown fields,
/// and where the record came from (Kafka coordinates, or file and line in replay).
pub fn source_columns() -> Vec<Field> {
    vec![
        Field::new("quality_flags", list_of(DataType::Utf8), false),
        Field::new("extra", DataType::Utf8, true),
        Field::new("_topic", DataType::Utf8, false),
        Field::new("_partition", DataType::Int32, true),
        Field::new("_offset", DataType::Int64, true),
        Field::new("_file", DataType::Utf8, true),
        Field::new("_line", DataType::Int64, true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_the_position_in_all() {
        for (i, t) in Topic::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i, "{}", t.name());
        }
        for (i, t) in Table::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i, "{}", t.name());
        }
    }

    #[test]
    fn every_table_has_its_partition_column() {
        for t in Table::ALL {
            let s = t.schema();
            let f = s.field_with_name(t.partition_time_column()).unwrap();
            assert_eq!(f.data_type(), &timestamp_type(), "{}", t.name());
            assert!(!f.is_nullable(), "{}", t.name());
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
    }
}
