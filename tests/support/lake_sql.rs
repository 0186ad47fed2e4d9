//! SQL that reconciles a lake, shared by the tests and the benchmarks so that
//! both account for records the same way.

#![allow(unreachable_pub, dead_code)]

/// The source tables, whose rows plus dead letters account for every record.
pub const SOURCE_TABLES: [&str; 6] =
    ["enterprise", "hazard", "enforcement", "monitoring_point", "monitoring_reading", "rescue"];

/// A query of every record's Kafka coordinates as rows `(t, p, o)`: those of
/// the source tables' rows and of the dead letters.
pub fn kafka_coordinates() -> String {
    SOURCE_TABLES
        .iter()
        .map(|t| format!("SELECT _topic AS t, _partition AS p, _offset AS o FROM {t}"))
        .chain(std::iter::once(
            "SELECT topic, \"partition\", \"offset\" FROM dead_letters".to_owned(),
        ))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}
