//! The API over a real lake built by replay: every route, filters, paging,
//! 404s, and a 400 for every refused SQL class.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fivefold_api::{AppState, ServeOptions, app};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn lake() -> (tempfile::TempDir, Arc<AppState>) {
    let dir = tempfile::tempdir().unwrap();
    let root = common::build_lake(dir.path());
    // The report's queries can take longer than the default 10 s in a debug
    // build on a loaded machine; the timeout itself is tested in hostile.rs.
    let opts = ServeOptions { sql_timeout: Duration::from_secs(300), ..Default::default() };
    let state = AppState::load(root, opts, None).await.unwrap();
    (dir, state)
}

async fn call(state: &Arc<AppState>, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app(Arc::clone(state)).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

async fn get(state: &Arc<AppState>, uri: &str) -> (StatusCode, Value) {
    call(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn sql(state: &Arc<AppState>, body: &str) -> (StatusCode, Value) {
    let req = Request::post("/api/v1/sql")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()));
    call(state, req.unwrap()).await
}

const RANK: [&str; 4] = ["blue", "yellow", "orange", "red"];

fn rank(v: &Value) -> usize {
    RANK.iter().position(|c| Some(*c) == v["color"].as_str()).unwrap()
}

#[tokio::test]
async fn risk_routes_filters_paging_and_404s() {
    let (_dir, st) = lake().await;
    let (s, all) = get(&st, "/api/v1/risk/enterprises?limit=1000").await;
    assert_eq!(s, StatusCode::OK);
    let total = all["total"].as_u64().unwrap();
    assert_eq!(total, 60, "one latest row per enterprise");
    let counts: u64 = RANK.iter().map(|c| all["counts"][c].as_u64().unwrap()).sum();
    assert_eq!(counts, total);
    let items = all["items"].as_array().unwrap();
    assert!(items.windows(2).all(|w| rank(&w[0]) >= rank(&w[1])), "worst first");
    assert!(items[0].get("contributions").is_none(), "the list leaves explanations out");

    let (_, page) = get(&st, "/api/v1/risk/enterprises?limit=10&offset=10").await;
    assert_eq!(page["items"].as_array().unwrap(), &items[10..20].to_vec());

    let (_, blue) = get(&st, "/api/v1/risk/enterprises?color=blue&limit=1000").await;
    assert_eq!(blue["total"], all["counts"]["blue"]);
    assert!(blue["items"].as_array().unwrap().iter().all(|e| e["color"] == "blue"));

    let county = &items[0]["region_code"].as_str().unwrap()[..6];
    let (_, by_county) =
        get(&st, &format!("/api/v1/risk/enterprises?county={county}&limit=1000")).await;
    let expected =
        items.iter().filter(|e| e["region_code"].as_str().unwrap().starts_with(county)).count();
    assert_eq!(by_county["total"].as_u64().unwrap() as usize, expected);
    let town = &items[0]["region_code"].as_str().unwrap()[..9];
    let (_, by_town) = get(&st, &format!("/api/v1/risk/enterprises?town={town}&limit=1000")).await;
    assert!(
        by_town["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["region_code"].as_str().unwrap().starts_with(town))
    );

    assert_eq!(get(&st, "/api/v1/risk/enterprises?color=purple").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&st, "/api/v1/risk/enterprises?county=32").await.0, StatusCode::BAD_REQUEST);

    let uscc = items[0]["uscc"].as_str().unwrap();
    let (s, one) = get(&st, &format!("/api/v1/risk/enterprises/{uscc}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!one["contributions"].as_array().unwrap().is_empty(), "explained: {one}");
    assert!(one["inherent_points"].is_number() && one["overrides"].is_array());

    let (s, hist) = get(&st, &format!("/api/v1/risk/enterprises/{uscc}/history")).await;
    assert_eq!(s, StatusCode::OK);
    let rows = hist["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.windows(2).all(|w| w[0]["window_end"].as_str() <= w[1]["window_end"].as_str()));
    let (_, none) =
        get(&st, &format!("/api/v1/risk/enterprises/{uscc}/history?from=2030-01-01T00:00:00Z"))
            .await;
    assert!(none["rows"].as_array().unwrap().is_empty());
    assert_eq!(
        get(&st, &format!("/api/v1/risk/enterprises/{uscc}/history?from=soon")).await.0,
        StatusCode::BAD_REQUEST
    );

    let (s, e) = get(&st, "/api/v1/risk/enterprises/91440300708461136T").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("91440300708461136T"));
    let (s, e) = get(&st, "/api/v1/risk/enterprises/..%2F..%2Fetc%2Fpasswd").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    let (s, towns) = get(&st, "/api/v1/risk/regions?level=town").await;
    assert_eq!(s, StatusCode::OK);
    let towns = towns["items"].as_array().unwrap();
    assert!(!towns.is_empty() && towns.iter().all(|t| t["level"] == "town"));
    let in_towns: u64 = towns
        .iter()
        .map(|t| {
            ["n_red", "n_orange", "n_yellow", "n_blue"]
                .iter()
                .map(|k| t[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(in_towns, total);
    let (_, counties) = get(&st, "/api/v1/risk/regions?level=county").await;
    assert!(counties["items"].as_array().unwrap().iter().all(|t| t["level"] == "county"));
    assert_eq!(get(&st, "/api/v1/risk/regions?level=street").await.0, StatusCode::BAD_REQUEST);

    let (s, alarms) = get(&st, "/api/v1/alarms").await;
    assert_eq!(s, StatusCode::OK);
    let items = alarms["items"].as_array().unwrap();
    assert!(!items.is_empty(), "the replayed city has alarm episodes");
    let ids: std::collections::BTreeSet<&str> =
        items.iter().map(|a| a["alarm_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "one row per episode");
}

#[tokio::test]
async fn sql_is_read_only_and_every_refused_class_is_a_400() {
    let (_dir, st) = lake().await;
    let (s, ok) =
        sql(&st, r#"{"sql": "SELECT color, count(*) AS n FROM risk_latest GROUP BY color"}"#).await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    let n: u64 = ok["rows"].as_array().unwrap().iter().map(|r| r["n"].as_u64().unwrap()).sum();
    assert_eq!(n, 60);
    let refused = [
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        ("INSERT INTO enterprise SELECT * FROM enterprise", "INSERT"),
        ("COPY enterprise TO '/tmp/x.parquet'", "COPY"),
        ("DROP TABLE enterprise", "DROP"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
        ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'", "CREATE EXTERNAL TABLE"),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("SELEC 1", "syntax"),
        ("SELECT * FROM no_such_table", "no_such_table"),
    ];
    for (q, what) in refused {
        let (s, e) = sql(&st, &json!({ "sql": q }).to_string()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {e}");
        let msg = e["error"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{q}: {e}");
        if what != "syntax" {
            assert!(msg.to_lowercase().contains(&what.to_lowercase()), "{q}: {msg}");
        }
    }
    assert_eq!(sql(&st, "not json").await.0, StatusCode::BAD_REQUEST);
    let big = json!({ "sql": format!("SELECT '{}'", "x".repeat(100_000)) }).to_string();
    assert_eq!(sql(&st, &big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_metrics_dashboard_and_token() {
    let (dir, st) = lake().await;
    assert_eq!(get(&st, "/healthz").await.0, StatusCode::OK);
    let (s, ready) = get(&st, "/readyz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ready["ready"], true);
    // The lake was written moments ago by a replay that moved its sources.
    let committed = ready["last_input_commit_ms"].as_i64().expect("a commit time");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    assert!((now.as_millis() as i64 - committed) < 600_000, "{ready}");
    let lag = ready["input_lag_s"].as_f64().expect("a lag");
    assert!((0.0..600.0).contains(&lag), "{ready}");
    let (s, page) = get(&st, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("五位一体"));
    assert_eq!(get(&st, "/metrics").await.0, StatusCode::OK);

    let opts = ServeOptions { token: Some("s3cret".into()), ..Default::default() };
    let guarded = AppState::load(dir.path().join("lake"), opts, None).await.unwrap();
    assert_eq!(get(&guarded, "/api/v1/risk/enterprises").await.0, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/v1/risk/enterprises")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty());
    assert_eq!(call(&guarded, req.unwrap()).await.0, StatusCode::OK);
    assert_eq!(get(&guarded, "/healthz").await.0, StatusCode::OK, "health needs no token");
}

#[tokio::test]
async fn the_report_page_shows_a_period_and_refuses_bad_parameters() {
    let (_dir, st) = lake().await;
    // No period: the quarter of the lake's newest score (the generator starts in March 2026).
    let (s, page) = get(&st, "/report").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let page = page.as_str().unwrap().to_owned();
    assert!(page.contains("data-period=\"2026-Q1\""), "the quarter of the newest score");
    assert!(page.contains("<form class=\"pick\""), "a form asks for another period");
    let (s, month) = get(&st, "/report?period=2026-03&lang=en").await;
    assert_eq!(s, StatusCode::OK);
    let month = month.as_str().unwrap().to_owned();
    assert!(month.contains("Safety risk monitoring report 2026-03"));
    // The enterprises scored at the end of March, as the view counts them.
    let (_, rows) = sql(
        &st,
        r#"{"sql": "SELECT enterprises FROM kpi_risk WHERE period_kind = 'month' AND period = '2026-03' AND level = 'all'"}"#,
    )
    .await;
    let n = rows["rows"][0]["enterprises"].as_i64().unwrap();
    assert_eq!(n, 60);
    assert!(month.contains(&format!(
        "data-kpi=\"kpi_risk.enterprises\" data-period=\"2026-03\" data-value=\"{n}\""
    )));
    for (uri, needle) in [
        ("/report?period=2026-Q5", "period '2026-Q5' is not one of"),
        ("/report?period=2026-03&town=44a", "region '44a' is not a region code"),
        ("/report?period=2026-03&lang=fr", "language 'fr' is not one of zh, en"),
    ] {
        let (s, body) = get(&st, uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{uri}: {body}");
    }
}
