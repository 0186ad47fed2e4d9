//! The JSON Schemas in `schemas/` and the table specs in code are one
//! contract: this test fails as soon as they drift apart, and checks every
//! example record in `schemas/examples/` against the validator.

use std::collections::BTreeSet;
use std::path::PathBuf;

use arrow::datatypes::DataType;
use fivefold_model::spec::{FieldSpec, Kind, Presence};
use fivefold_model::{Decoder, ErrorClass, Outcome, SourceRef, Table, Topic};
use serde_json::Value;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn load(topic: Topic) -> Value {
    let path = schemas_dir().join(format!("{}.schema.json", topic.name()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The object schema of each table of a topic.
fn object_schemas(topic: Topic) -> Vec<(Table, Value)> {
    let doc = load(topic);
    assert_eq!(doc["$schema"], "https://json-schema.org/draft/2020-12/schema");
    match topic {
        Topic::Monitoring => vec![
            (Table::MonitoringPoint, doc["$defs"]["point"].clone()),
            (Table::MonitoringReading, doc["$defs"]["reading"].clone()),
        ],
        _ => vec![(topic.tables()[0], doc)],
    }
}

fn json_types(prop: &Value) -> BTreeSet<String> {
    match &prop["type"] {
        Value::String(s) => [s.clone()].into(),
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => BTreeSet::new(),
    }
}

fn check_field(table: Table, f: &FieldSpec, prop: &Value) {
    let at = format!("{}.{}", table.name(), f.name);
    let mut types = json_types(prop);
    types.remove("null");
    let expected = match f.kind {
        Kind::Str { .. } | Kind::Enum(_) | Kind::Uscc | Kind::RegionCode => "string",
        Kind::Int { .. } => "integer",
        Kind::Float { .. } => "number",
        Kind::Bool => "boolean",
        Kind::Timestamp => {
            let alts: BTreeSet<String> =
                prop["oneOf"].as_array().into_iter().flatten().flat_map(json_types).collect();
            assert_eq!(
                alts,
                ["integer".to_owned(), "string".to_owned()].into(),
                "{at}: timestamp oneOf"
            );
            return;
        }
    };
    assert_eq!(types, [expected.to_owned()].into(), "{at}: type");
    match f.kind {
        Kind::Enum(values) => {
            let listed: Vec<&str> =
                prop["enum"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            assert_eq!(listed, values, "{at}: enum");
        }
        Kind::Int { min, max } => {
            assert_eq!(prop["minimum"].as_i64(), Some(min), "{at}: minimum");
            let max = (max < i64::from(i32::MAX)).then_some(max);
            assert_eq!(prop["maximum"].as_i64(), max, "{at}: maximum");
        }
        Kind::Float { min, max } => {
            let bound = |v: f64| (v.is_finite() && v != f64::MIN && v != f64::MAX).then_some(v);
            assert_eq!(prop["minimum"].as_f64(), bound(min), "{at}: minimum");
            assert_eq!(prop["maximum"].as_f64(), bound(max), "{at}: maximum");
        }
        Kind::Str { min, max } => {
            assert_eq!(
                prop["minLength"].as_u64(),
                (min > 0).then_some(min as u64),
                "{at}: minLength"
            );
            let max = (max != usize::MAX).then_some(max as u64);
            assert_eq!(prop["maxLength"].as_u64(), max, "{at}: maxLength");
        }
        Kind::Uscc | Kind::RegionCode => assert!(prop["pattern"].is_string(), "{at}: pattern"),
        Kind::Bool | Kind::Timestamp => {}
    }
}

#[test]
fn json_schemas_match_the_table_specs_and_arrow_schemas() {
    for topic in Topic::ALL {
        for (table, obj) in object_schemas(topic) {
            let fields = table.fields().unwrap();
            let props = obj["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{}: properties", table.name()));
            let in_schema: BTreeSet<&str> = props.keys().map(String::as_str).collect();
            let in_spec: BTreeSet<&str> = fields.iter().map(|f| f.name).collect();
            assert_eq!(in_schema, in_spec, "{}: property names", table.name());
            let required: BTreeSet<&str> = obj["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let spec_required: BTreeSet<&str> = fields
                .iter()
                .filter(|f| f.presence == Presence::Required)
                .map(|f| f.name)
                .collect();
            assert_eq!(required, spec_required, "{}: required", table.name());
            let arrow = table.schema();
            for f in fields {
                check_field(table, f, &props[f.name]);
                let col = arrow.field_with_name(f.name).unwrap();
                assert_eq!(col.data_type(), &f.kind.data_type(), "{}.{}", table.name(), f.name);
                assert_eq!(
                    col.is_nullable(),
                    !f.non_null(),
                    "{}.{} nullability",
                    table.name(),
                    f.name
                );
                if let Presence::Default(_) = f.presence {
                    assert!(
                        props[f.name].get("default").is_some(),
                        "{}.{}: default",
                        table.name(),
                        f.name
                    );
                }
            }
            assert!(matches!(
                arrow.field_with_name("quality_flags").unwrap().data_type(),
                DataType::List(_)
            ));
        }
    }
}

fn example_lines(name: &str) -> Vec<String> {
    let path = schemas_dir().join("examples").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn example_records_are_judged_as_documented() {
    for topic in Topic::ALL {
        let mut dec = Decoder::new(topic);
        let src = SourceRef { topic: topic.name(), ..Default::default() };
        for (i, line) in example_lines(&format!("{}.valid.jsonl", topic.name())).iter().enumerate()
        {
            let out = dec.push(line.as_bytes(), &src, 0);
            assert!(
                matches!(out, Outcome::Accepted(_)),
                "{} valid line {}: {out:?}",
                topic.name(),
                i + 1
            );
        }
        let bad = example_lines(&format!("{}.invalid.jsonl", topic.name()));
        let reasons = example_lines(&format!("{}.invalid.reasons", topic.name()));
        assert_eq!(bad.len(), reasons.len(), "{}: one reason per invalid line", topic.name());
        for (i, (line, want)) in bad.iter().zip(&reasons).enumerate() {
            let at = format!("{} invalid line {}", topic.name(), i + 1);
            match dec.push(line.as_bytes(), &src, 0) {
                Outcome::Accepted(t) => panic!("{at} was accepted into {t:?}"),
                Outcome::Rejected(r) => match want.trim() {
                    "not-json" => assert_eq!(r.class, ErrorClass::NotJson, "{at}"),
                    "not-object" => assert_eq!(r.class, ErrorClass::NotObject, "{at}"),
                    field => assert_eq!(r.field, Some(field), "{at}: {}", r.reason()),
                },
            }
        }
    }
}
