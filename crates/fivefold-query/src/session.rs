//! The session: every lake table and view registered on a [`SessionContext`].

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::ViewTable;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use fivefold_lake::Snapshot;
use fivefold_model::Table;

use crate::error::{Result, planning_error};
use crate::table::LakeTable;

/// The newest version per key of a source table: the latest event time, and
/// of those the last one read (Kafka offset, or file line).
const NEWEST_VERSION: &str = "event_time DESC, _offset DESC NULLS LAST, _line DESC NULLS LAST";

/// The first row per `key` of `table` (a table name or a parenthesised query)
/// in `order`, as a parenthesised query to use in a `FROM`.
pub fn first_per(table: &str, key: &str, order: &str) -> String {
    format!(
        "(SELECT * EXCLUDE (__rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} \
         ORDER BY {order}) AS __rn FROM {table}) WHERE __rn = 1)"
    )
}

/// One row per alarm episode, as a parenthesised query: an episode still
/// open when a run ended is written again when it closes, and the closed
/// row wins.
pub fn alarm_episodes() -> String {
    first_per("alarms", "alarm_id", "end_time DESC NULLS LAST")
}

/// Town and county rows of the latest scores.
const REGION_RISK: &str = "WITH now AS (SELECT max(window_end) AS t FROM risk_scores), \
         ent AS ( \
           SELECT r.uscc, r.region_code, r.risk_points, r.color, e.major_hazard_level \
           FROM risk_latest r LEFT JOIN enterprise_latest e ON r.uscc = e.uscc), \
         haz AS ( \
           SELECT uscc, \
             sum(CASE WHEN level = 'major' THEN 1 ELSE 0 END) AS open_major, \
             sum(CASE WHEN deadline < (SELECT t FROM now) THEN 1 ELSE 0 END) AS overdue \
           FROM hazard_latest WHERE state NOT IN ('accepted', 'closed') GROUP BY uscc), \
         alm AS ( \
           SELECT uscc, count(DISTINCT alarm_id) AS n FROM alarms \
           WHERE start_time >= (SELECT t FROM now) - INTERVAL '24 hours' GROUP BY uscc), \
         base AS ( \
           SELECT ent.uscc, ent.region_code, ent.risk_points, ent.color, ent.major_hazard_level, \
             coalesce(haz.open_major, 0) AS open_major, coalesce(haz.overdue, 0) AS overdue, \
             coalesce(alm.n, 0) AS alarms \
           FROM ent LEFT JOIN haz ON ent.uscc = haz.uscc LEFT JOIN alm ON ent.uscc = alm.uscc), \
         levels AS ( \
           SELECT 'town' AS level, substr(region_code, 1, 9) || '000' AS region_code, risk_points, \
             color, major_hazard_level, open_major, overdue, alarms FROM base \
           UNION ALL \
           SELECT 'county' AS level, substr(region_code, 1, 6) || '000000' AS region_code, \
             risk_points, color, major_hazard_level, open_major, overdue, alarms FROM base), \
         agg AS ( \
           SELECT level, region_code, count(*) AS n, \
             sum(CASE WHEN color = 'red' THEN 1 ELSE 0 END) AS n_red, \
             sum(CASE WHEN color = 'orange' THEN 1 ELSE 0 END) AS n_orange, \
             sum(CASE WHEN color = 'yellow' THEN 1 ELSE 0 END) AS n_yellow, \
             sum(CASE WHEN color = 'blue' THEN 1 ELSE 0 END) AS n_blue, \
             sum(CASE WHEN color = 'red' AND major_hazard_level BETWEEN 1 AND 2 THEN 1 ELSE 0 END) \
               AS n_red_major, \
             avg(risk_points) AS mean_risk_points, \
             approx_percentile_cont(risk_points, 0.9) AS p90_risk_points, \
             sum(open_major) AS open_major_hazards, sum(overdue) AS overdue_hazards, \
             sum(alarms) AS alarms_24h \
           FROM levels GROUP BY level, region_code) \
         SELECT level, region_code, \
           CASE WHEN n_red_major >= 1 OR n_red >= 3 THEN 'red' \
                WHEN n_red >= 1 OR (n_red + n_orange) >= 0.1 * n THEN 'orange' \
                WHEN (n_red + n_orange + n_yellow) >= 0.2 * n THEN 'yellow' \
                ELSE 'blue' END AS color, \
           n_red, n_orange, n_yellow, n_blue, mean_risk_points, p90_risk_points, \
           open_major_hazards, overdue_hazards, alarms_24h \
         FROM agg";

/// The views over the lake tables, as `(name, SELECT)`, in registration order
/// (a view may use the views before it): the latest-version views,
/// `region_risk`, then the KPI views of [`crate::kpi`]. Add new views here.
pub fn views() -> Vec<(&'static str, String)> {
    let latest =
        |table, key, order| format!("SELECT * FROM {} AS latest", first_per(table, key, order));
    let mut out = vec![
        ("enterprise_latest", latest("enterprise", "uscc", NEWEST_VERSION)),
        ("hazard_latest", latest("hazard", "hazard_id", NEWEST_VERSION)),
        ("risk_latest", latest("risk_scores", "uscc", "window_end DESC, revision DESC")),
        ("region_risk", REGION_RISK.to_owned()),
    ];
    out.extend(crate::kpi::views());
    out
}

/// How a query session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOptions {
    /// How many partitions (threads) a query is split into, and the most file
    /// groups a table scan has. Default: the available parallelism.
    pub target_partitions: usize,
    /// A cap on the memory queries may reserve (sorts, joins and aggregates
    /// that exceed it fail with a resources-exhausted error). Default: none.
    pub memory_limit_bytes: Option<usize>,
    /// Rows per record batch. Default: 8192.
    pub batch_size: usize,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit_bytes: None,
            batch_size: 8192,
        }
    }
}

/// A SessionContext with every lake table and view registered.
///
/// The session also enables `information_schema` (for `SHOW TABLES` and
/// `SHOW COLUMNS`) and collects source spans, so that errors about unknown
/// names can point at their position in the query.
pub fn lake_session(snapshot: &Snapshot, opts: &QueryOptions) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_target_partitions(opts.target_partitions.max(1))
        .with_batch_size(opts.batch_size.max(1))
        .with_information_schema(true);
    config.options_mut().sql_parser.collect_spans = true;

    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit_bytes {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime.build_arc()?)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_lake(&ctx, snapshot)?;
    Ok(ctx)
}

/// Registers (or re-registers) all tables of `Table::ALL` and the views on an existing context.
///
/// Each table is a [`LakeTable`] over the snapshot's files of that table (none:
/// an empty table with the right schema). Views capture the tables they read
/// when they are created, so they are re-created here too; call this again
/// with a newer snapshot to move the whole session forward. This does no I/O.
pub fn register_lake(ctx: &SessionContext, snapshot: &Snapshot) -> Result<()> {
    let store = match &snapshot.store {
        Some(lake) => {
            let url = ObjectStoreUrl::parse(lake.base_url())?;
            ctx.register_object_store(url.as_ref(), lake.store());
            Some(url)
        }
        None => None,
    };
    for table in Table::ALL {
        let files = snapshot.table_files(table.name()).cloned().collect();
        let mut provider = LakeTable::new(table, files);
        if let Some(url) = &store {
            provider = provider.in_store(url.clone());
        }
        let provider: Arc<dyn TableProvider> = Arc::new(provider);
        ctx.deregister_table(table.name())?;
        ctx.register_table(table.name(), provider)?;
    }
    for (name, sql) in views() {
        // Planning a SELECT over in-memory catalog entries completes without
        // waiting on anything, so it is driven to completion right here.
        let plan = futures::executor::block_on(ctx.state().create_logical_plan(&sql))
            .map_err(planning_error)?;
        let view: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan, Some(sql)));
        ctx.deregister_table(name)?;
        ctx.register_table(name, view)?;
    }
    tracing::debug!(
        version = snapshot.version,
        files = snapshot.files.len(),
        "registered lake tables and views"
    );
    Ok(())
}
