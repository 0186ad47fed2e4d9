//! Rules as data: a SQL predicate and a SQL points expression per rule,
//! planned once with DataFusion against the source table's Arrow schema and
//! evaluated on whole record batches.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use fivefold_model::Table;

use crate::config::RuleConfig;
use crate::error::{Error, Result};

/// The rule families with a cap each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Family {
    /// 监测监控.
    Monitoring,
    /// 隐患.
    Hazards,
    /// 执法.
    Enforcement,
    /// 事故.
    Rescue,
}

impl Family {
    /// The family of a config name.
    pub fn from_name(name: &str) -> Option<Family> {
        match name {
            "monitoring" => Some(Family::Monitoring),
            "hazards" => Some(Family::Hazards),
            "enforcement" => Some(Family::Enforcement),
            "rescue" => Some(Family::Rescue),
            _ => None,
        }
    }
}

/// One compiled rule.
pub struct Rule {
    /// Rule id.
    pub id: String,
    /// Source table.
    pub table: Table,
    /// Family it adds to.
    pub family: Family,
    /// Half-life of its points, ms.
    pub half_life_ms: i64,
    /// Column the decay runs from.
    pub at: String,
    /// Column a later record replaces by.
    pub key: String,
    when: Arc<dyn PhysicalExpr>,
    points: Arc<dyn PhysicalExpr>,
}

/// A rule that matched a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index of the rule in [`Rules`].
    pub rule: usize,
    /// Row in the batch.
    pub row: usize,
    /// Points (before decay).
    pub points: f64,
}

/// All compiled rules.
#[derive(Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Plans every rule; an expression that does not parse or names an
    /// unknown column is reported with the rule's id.
    pub fn compile(cfgs: &[RuleConfig]) -> Result<Rules> {
        let ctx = SessionContext::new();
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for c in cfgs {
            let Some(table) = Table::from_name(&c.table).filter(|t| t.fields().is_some()) else {
                problems.push(format!("rule {}: table {:?} is not a source table", c.id, c.table));
                continue;
            };
            let Some(family) = Family::from_name(&c.family) else {
                problems.push(format!("rule {}: family {:?} is unknown", c.id, c.family));
                continue;
            };
            let schema = table.schema();
            let df_schema = match DFSchema::try_from(schema.as_ref().clone()) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("rule {}: {e}", c.id));
                    continue;
                }
            };
            let plan =
                |what: &str, sql: &str| -> std::result::Result<Arc<dyn PhysicalExpr>, String> {
                    let expr = ctx.parse_sql_expr(sql, &df_schema).map_err(|e| {
                        format!("rule {}: {what} {sql:?}: {}", c.id, first_line(&e.to_string()))
                    })?;
                    ctx.create_physical_expr(expr, &df_schema).map_err(|e| {
                        format!("rule {}: {what} {sql:?}: {}", c.id, first_line(&e.to_string()))
                    })
                };
            let at = c.at.clone().unwrap_or_else(|| "event_time".into());
            let key = c.key.clone().unwrap_or_else(|| "event_id".into());
            for col in [&at, &key] {
                if schema.field_with_name(col).is_err() {
                    problems
                        .push(format!("rule {}: column {col:?} is not in table {}", c.id, c.table));
                }
            }
            match (plan("when", &c.when), plan("points", &c.points)) {
                (Ok(when), Ok(points)) => rules.push(Rule {
                    id: c.id.clone(),
                    table,
                    family,
                    half_life_ms: c.decay.0,
                    at,
                    key,
                    when,
                    points,
                }),
                (Err(a), Err(b)) => problems.extend([a, b]),
                (Err(a), _) | (_, Err(a)) => problems.push(a),
            }
        }
        if problems.is_empty() { Ok(Rules { rules }) } else { Err(Error::Config { problems }) }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// True when some rule reads `table`.
    pub fn reads(&self, table: Table) -> bool {
        self.rules.iter().any(|r| r.table == table)
    }

    /// Evaluates the rules of `table` on a batch; the hits come in row order.
    pub fn eval(&self, table: Table, batch: &RecordBatch) -> Result<Vec<Hit>> {
        let mut hits = Vec::new();
        for (i, r) in self.rules.iter().enumerate().filter(|(_, r)| r.table == table) {
            let err = |e: &dyn std::fmt::Display| Error::Rule {
                rule: r.id.clone(),
                message: e.to_string(),
            };
            let mask = r
                .when
                .evaluate(batch)
                .and_then(|v| v.into_array(batch.num_rows()))
                .map_err(|e| err(&e))?;
            let mask: &BooleanArray =
                mask.as_boolean_opt().ok_or_else(|| err(&"`when` is not a boolean"))?;
            if mask.true_count() == 0 {
                continue;
            }
            let pts = r
                .points
                .evaluate(batch)
                .and_then(|v| v.into_array(batch.num_rows()))
                .map_err(|e| err(&e))?;
            let pts = cast(&pts, &DataType::Float64).map_err(|e| err(&e))?;
            let pts = pts.as_primitive::<Float64Type>();
            for row in 0..batch.num_rows() {
                if mask.is_valid(row) && mask.value(row) && pts.is_valid(row) {
                    hits.push(Hit { rule: i, row, points: pts.value(row) });
                }
            }
        }
        // Callers walk the hits alongside the rows: row order, rules in order within a row.
        hits.sort_unstable_by_key(|h| (h.row, h.rule));
        Ok(hits)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
