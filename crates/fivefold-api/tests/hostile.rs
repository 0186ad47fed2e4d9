//! Hostile HTTP input against the API on a real TCP port: oversized and deep
//! bodies, slow clients, SQL that reads files or exhausts memory or time,
//! path traversal. Each is answered with a 4xx (or cut off), nothing is read
//! or written outside the lake, and a normal request succeeds afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{Resp, Server, get, post_sql, post_sql_body, send};
use fivefold_api::ServeOptions;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The start of a response body, for assertion messages.
fn short(s: &str) -> &str {
    s.get(..300).unwrap_or(s)
}

/// A normal query that must still work after each attack.
async fn still_serves(server: &Server) {
    let r = send(server.addr, &post_sql("SELECT count(*) AS n FROM risk_latest")).await;
    assert_eq!(r.status, 200, "{}", short(&r.body));
    assert_eq!(r.json()["rows"][0]["n"], 60);
    assert_eq!(send(server.addr, &get("/healthz")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413_with_or_without_a_length() {
    let server = Server::start(ServeOptions::default()).await;
    let big = serde_json::json!({ "sql": format!("SELECT '{}'", "x".repeat(100_000)) }).to_string();
    let r = send(server.addr, &post_sql_body(&big)).await;
    assert_eq!(r.status, 413, "{}", short(&r.body));
    assert_eq!(r.error(), "the request body is larger than 65536 bytes");

    // A declared length over the limit is refused before any of the body is
    // read (the default 10 s body timeout would otherwise answer 408).
    let started = Instant::now();
    let head = "POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Content-Length: 1000000000\r\nConnection: close\r\n\r\n{\"sql\":";
    let r = send(server.addr, head.as_bytes()).await;
    assert_eq!(r.status, 413, "{}", short(&r.body));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // Chunked, with no length: counted as it arrives.
    let mut chunked = String::from(
        "POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for chunk in big.as_bytes().chunks(8192) {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), String::from_utf8_lossy(chunk)));
    }
    chunked.push_str("0\r\n\r\n");
    let r = send(server.addr, chunked.as_bytes()).await;
    assert_eq!(r.status, 413, "{}", short(&r.body));
    assert_eq!(r.error(), "the request body is larger than 65536 bytes");

    // A small chunked body is fine.
    let small = r#"{"sql": "SELECT 1 AS one"}"#;
    let ok = format!(
        "POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{small}\r\n0\r\n\r\n",
        small.len()
    );
    let r = send(server.addr, ok.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", short(&r.body));
    assert_eq!(r.json()["rows"][0]["one"], 1);
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_and_deep_sql_are_400() {
    let server = Server::start(ServeOptions::default()).await;
    // Under the body limit. serde_json stops at 128 levels where it builds
    // values and skips unknown fields without recursing, so none of these
    // recurses deeply.
    let n = 30_000;
    for (body, reason) in [
        ("[".repeat(2 * n), "invalid type: sequence"),
        (format!("{{\"sql\": {}", "[".repeat(2 * n)), "invalid type: sequence"),
        (format!("{{\"x\": {}{}}}", "[".repeat(n), "]".repeat(n)), "missing field `sql`"),
        (
            format!("{{\"x\": {}1{}}}", "{\"a\":".repeat(n / 6), "}".repeat(n / 6)),
            "missing field `sql`",
        ),
        (format!("{}1", "{\"sql\":".repeat(n / 8)), "invalid type: map"),
    ] {
        let r = send(server.addr, &post_sql_body(&body)).await;
        assert_eq!(r.status, 400, "{}", short(&r.body));
        let e = r.error();
        assert!(e.starts_with("the body must be JSON {\"sql\": \"...\"}"), "{e}");
        assert!(e.contains(reason), "{e}");
    }
    // 100k nested brackets are over the body limit before they are parsed.
    let r = send(server.addr, &post_sql_body(&"[".repeat(100_000))).await;
    assert_eq!(r.status, 413, "{}", short(&r.body));

    // Deeply nested SQL: refused by the SQL parser's recursion limit.
    let n = 20_000;
    for (sql, reason) in [
        (format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)), "nests too deeply"),
        (format!("SELECT {}1", "- ".repeat(n)), "nests too deeply"),
        (format!("SELECT {}1{}", "abs(".repeat(n / 4), ")".repeat(n / 4)), "nests too deeply"),
        (
            format!(
                "SELECT * FROM {}risk_latest{}",
                "(SELECT * FROM ".repeat(n / 20),
                ")".repeat(n / 20)
            ),
            "nests too deeply",
        ),
        (format!("SELECT {}true", "NOT ".repeat(n / 2)), "syntax error"),
    ] {
        let r = send(server.addr, &post_sql(&sql)).await;
        assert_eq!(r.status, 400, "{}: {}", &sql[..40], short(&r.body));
        let e = r.error();
        assert!(e.starts_with("invalid query: ") && e.contains(reason), "{}: {e}", &sql[..40]);
    }
    // Chains the parser builds without nesting but DataFusion plans by
    // recursion (a few hundred overflow a 2 MiB stack and abort the process):
    // refused by their depth or size before planning.
    let values = |i: usize| format!("(VALUES (1)) t{i}");
    for (sql, reason) in [
        (format!("SELECT {}1 AS n", "1+".repeat(n)), "more than 64 deep"),
        (format!("SELECT 1 AS n WHERE {}true", "true OR ".repeat(n / 4)), "more than 64 deep"),
        (format!("SELECT {}'a' AS n", "'a' || ".repeat(n / 4)), "more than 64 deep"),
        (format!("SELECT 1 AS n{}", " UNION ALL SELECT 1".repeat(n / 8)), "more than 32 SELECTs"),
        (
            format!(
                "SELECT 1 AS n FROM t0{}",
                (1..n / 40).map(|i| format!(" JOIN t{i} ON true")).collect::<String>()
            ),
            "more than 32 tables",
        ),
        (
            format!(
                "SELECT 1 AS n FROM {}",
                (0..n / 40).map(values).collect::<Vec<_>>().join(", ")
            ),
            "more than 32 tables",
        ),
        (
            format!(
                "WITH c0 AS (SELECT 1 AS n){} SELECT * FROM c{}",
                (1..n / 40)
                    .map(|i| format!(", c{i} AS (SELECT * FROM c{})", i - 1))
                    .collect::<String>(),
                n / 40 - 1
            ),
            "more than 32 SELECTs",
        ),
        (format!("EXPLAIN SELECT {}1 AS n", "1+".repeat(n)), "more than 64 deep"),
    ] {
        let r = send(server.addr, &post_sql(&sql)).await;
        assert_eq!(r.status, 400, "{}: {}", &sql[..40], short(&r.body));
        let e = r.error();
        assert!(
            e.starts_with("the query is too complex to plan safely: ") && e.contains(reason),
            "{}: {e}",
            &sql[..40]
        );
    }
    // Just under each limit, the same shapes run (on the test runtime's
    // 2 MiB worker stacks).
    let at_limit = [
        (format!("SELECT {}1 AS n", "1+".repeat(60)), 61),
        (
            format!(
                "SELECT count(*) AS n FROM {}",
                (0..32).map(values).collect::<Vec<_>>().join(", ")
            ),
            1,
        ),
        (
            format!(
                "SELECT count(*) AS n FROM t0{}",
                (1..32).map(|i| format!(" JOIN {} ON true", values(i))).collect::<String>()
            )
            .replacen("t0", &values(0), 1),
            1,
        ),
        (
            format!("SELECT sum(n) AS n FROM (SELECT 1 AS n{})", " UNION ALL SELECT 1".repeat(30)),
            31,
        ),
        (
            format!(
                "WITH c0 AS (SELECT 1 AS n){} SELECT * FROM c30",
                (1..31)
                    .map(|i| format!(", c{i} AS (SELECT n FROM c{})", i - 1))
                    .collect::<String>()
            ),
            1,
        ),
        // The optimiser merges the chain into one expression ~1,800 deep,
        // more than a 2 MiB (or 8 MiB) stack holds: run on the SQL threads.
        (
            format!(
                "WITH c0 AS (SELECT 1 AS n){} SELECT * FROM c30",
                (1..31)
                    .map(|i| format!(
                        ", c{i} AS (SELECT n + {}1 AS n FROM c{} WHERE {}true)",
                        "1+".repeat(58),
                        i - 1,
                        "true OR ".repeat(56)
                    ))
                    .collect::<String>()
            ),
            1 + 30 * 59,
        ),
    ];
    for (sql, n) in at_limit {
        let r = send(server.addr, &post_sql(&sql)).await;
        assert_eq!(r.status, 200, "{}: {}", &sql[..40], short(&r.body));
        assert_eq!(r.json()["rows"][0]["n"], n, "{}", &sql[..40]);
    }
    still_serves(&server).await;
    server.stop().await;
}

/// Reads until the server closes the connection (or 10 s pass), returning
/// what came and when the connection ended.
async fn read_until_closed(s: &mut TcpStream) -> (String, Instant) {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    (String::from_utf8_lossy(&out).into_owned(), Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let limit = Duration::from_millis(800);
    let opts = ServeOptions { header_timeout: limit, body_timeout: limit, ..Default::default() };
    let server = Server::start(opts).await;
    let addr = server.addr;
    let started = Instant::now();

    // Headers a byte at a time, every 100 ms: the limit is not reset per byte.
    let trickle = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = b"POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\nX-Pad: ";
        for b in head.iter().chain(std::iter::repeat(&b'a')).take(200) {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The server closing its side shows up as a read of 0 bytes.
            let mut probe = [0u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await
            {
                break;
            }
        }
        Instant::now()
    });
    // Connects and says nothing.
    let silent = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_until_closed(&mut s).await
    });
    // Headers complete, the body stops after 10 of 100 bytes.
    let stalled = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = "POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                    Content-Length: 100\r\n\r\n{\"sql\": \"S";
        s.write_all(head.as_bytes()).await.unwrap();
        read_until_closed(&mut s).await
    });

    // Meanwhile, others are served at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let t = Instant::now();
        still_serves(&server).await;
        assert!(t.elapsed() < limit, "served in {:?} while slow clients wait", t.elapsed());
    }

    let trickle_end = trickle.await.unwrap();
    let (silent_out, silent_end) = silent.await.unwrap();
    let (stalled_out, stalled_end) = stalled.await.unwrap();
    let margin = limit + Duration::from_millis(1500);
    for (what, end) in [("trickle", trickle_end), ("silent", silent_end), ("stalled", stalled_end)]
    {
        let after = end - started;
        assert!(after >= limit - Duration::from_millis(100) && after < margin, "{what}: {after:?}");
    }
    assert_eq!(silent_out, "", "nothing is sent to a client that sent nothing");
    let resp = common::parse(stalled_out.as_bytes()).expect(&stalled_out);
    assert_eq!(resp.status, 408, "{stalled_out}");
    assert_eq!(resp.error(), "the request body did not arrive within 800ms (serve.body_timeout)");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let limit = Duration::from_millis(700);
    let opts = ServeOptions { header_timeout: limit, max_connections: 1, ..Default::default() };
    let server = Server::start(opts).await;
    // One idle connection holds the only slot until the header timeout ends it.
    let idle = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let r = send(server.addr, &get("/healthz")).await;
    assert_eq!(r.status, 200);
    let waited = t.elapsed();
    assert!(waited >= limit - Duration::from_millis(250), "served after {waited:?}, not held back");
    assert!(waited < limit + Duration::from_millis(1500), "{waited:?}");
    drop(idle);
    server.stop().await;
}

/// Whether a response shows the contents of /etc/passwd.
fn leaks_passwd(r: &Resp) -> bool {
    r.body.contains("root:x:0:0") || r.body.contains("/bin/bash") || r.body.contains("nologin")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_that_reads_or_writes_files_is_refused() {
    let server = Server::start(ServeOptions::default()).await;
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("x.csv");
    let out = out.display();
    let lake_file = walk_one_parquet(common::shared_lake());
    let refused = [
        ("SELECT * FROM '/etc/passwd'".to_owned(), "/etc/passwd' not found"),
        ("SELECT * FROM read_csv('/etc/passwd')".to_owned(), "read_csv"),
        (format!("SELECT * FROM read_parquet('{lake_file}')"), "read_parquet"),
        ("SELECT * FROM read_json('/etc/passwd')".to_owned(), "read_json"),
        ("SELECT * FROM \"/etc/passwd\"".to_owned(), "/etc/passwd"),
        (
            "CREATE EXTERNAL TABLE p (a VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".to_owned(),
            "read-only: CREATE EXTERNAL TABLE statements are not allowed",
        ),
        (
            "CREATE EXTERNAL TABLE e STORED AS PARQUET LOCATION '/etc'".to_owned(),
            "read-only: CREATE EXTERNAL TABLE statements are not allowed",
        ),
        (format!("COPY (SELECT 1) TO '{out}'"), "read-only: COPY statements are not allowed"),
        (
            format!("COPY risk_scores TO '{out}' STORED AS CSV"),
            "read-only: COPY statements are not allowed",
        ),
        (
            format!("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'"),
            "read-only: COPY statements are not allowed",
        ),
        (
            "INSERT INTO risk_scores SELECT * FROM risk_scores".to_owned(),
            "read-only: INSERT statements are not allowed",
        ),
        (
            "SET datafusion.execution.batch_size = 1".to_owned(),
            "read-only: SET statements are not allowed",
        ),
        (
            "SET datafusion.runtime.memory_limit = '100G'".to_owned(),
            "read-only: SET statements are not allowed",
        ),
        ("RESET datafusion.execution.batch_size".to_owned(), "read-only: RESET"),
        ("CREATE TABLE t AS SELECT 1".to_owned(), "read-only: CREATE TABLE"),
        ("SELECT 1; SELECT 2".to_owned(), "invalid query"),
    ];
    for (sql, needle) in refused {
        let r = send(server.addr, &post_sql(&sql)).await;
        assert!(matches!(r.status, 400 | 403), "{sql}: {} {}", r.status, short(&r.body));
        assert!(r.error().contains(needle), "{sql}: {}", r.error());
        assert!(!leaks_passwd(&r), "{sql}: {}", short(&r.body));
    }
    assert!(!scratch.path().join("x.csv").exists(), "COPY wrote a file");
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "nothing was written");
    // The session's settings are unchanged.
    let r = send(server.addr, &post_sql("SHOW datafusion.execution.batch_size")).await;
    assert_eq!(r.status, 200, "{}", short(&r.body));
    assert_eq!(r.json()["rows"][0]["value"], "8192");
    still_serves(&server).await;
    server.stop().await;
}

/// Some Parquet file of the lake.
fn walk_one_parquet(dir: &std::path::Path) -> String {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                return p.display().to_string();
            }
        }
    }
    panic!("no parquet file under {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_memory_or_time_is_a_422_and_health_answers_meanwhile() {
    let opts = ServeOptions {
        sql_memory_bytes: 16 << 20,
        sql_timeout: Duration::from_millis(1500),
        max_rows: 1000,
        ..Default::default()
    };
    let server = Server::start(opts).await;
    let memory = [
        // A hash join whose build side is 20M rows.
        "SELECT count(*) AS n FROM generate_series(1, 20000000) a \
         JOIN generate_series(1, 20000000) b ON a.value = b.value",
        // A whole sort of 20M rows under a window (nothing spills to disk).
        "SELECT max(r) AS n FROM \
         (SELECT row_number() OVER (ORDER BY value DESC) AS r FROM generate_series(1, 20000000))",
        "SELECT array_agg(value) AS a FROM generate_series(1, 20000000)",
        "SELECT string_agg(repeat('x', 1000), ',') AS s FROM generate_series(1, 100000)",
        // A self-join of the lake's scores four times over.
        "SELECT count(*) AS n FROM risk_scores a JOIN risk_scores b ON a.uscc = b.uscc \
         JOIN risk_scores c ON b.uscc = c.uscc JOIN risk_scores d ON c.uscc = d.uscc",
        // Rows of 1 MB each: the result itself is over the limit.
        "SELECT repeat('x', 1000000) AS s FROM generate_series(1, 100)",
    ];
    for sql in memory {
        let t = Instant::now();
        let r = send(server.addr, &post_sql(sql)).await;
        assert_eq!(r.status, 422, "{sql}: {}", short(&r.body));
        let e = r.error();
        assert!(
            e.starts_with(
                "the query needs more memory than serve.sql_memory_bytes allows (16777216 bytes)"
            ),
            "{sql}: {e}"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{sql}: {:?}", t.elapsed());
    }

    // Huge results are cut at max_rows without being collected whole.
    for sql in [
        "SELECT * FROM generate_series(1, 10000000000)",
        "SELECT a.uscc AS a, b.uscc AS b, c.uscc AS c FROM risk_scores a, risk_scores b, risk_scores c",
        "SELECT * FROM risk_scores a CROSS JOIN risk_scores b ORDER BY a.risk_points DESC",
    ] {
        let t = Instant::now();
        let r = send(server.addr, &post_sql(sql)).await;
        assert_eq!(r.status, 200, "{sql}: {}", short(&r.body));
        assert_eq!(r.json()["truncated"], true, "{sql}");
        assert_eq!(r.json()["rows"].as_array().unwrap().len(), 1000, "{sql}");
        assert!(t.elapsed() < Duration::from_secs(5), "{sql}: {:?}", t.elapsed());
    }

    // Past the time limit: cancelled, while /healthz answers at once.
    let addr = server.addr;
    let slow = tokio::spawn(async move {
        let t = Instant::now();
        let sql = "SELECT count(*) AS n FROM generate_series(1, 100000000000) WHERE value % 7 = 3";
        (send(addr, &post_sql(sql)).await, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(send(addr, &get("/healthz")).await.status, 200);
        assert!(t.elapsed() < Duration::from_millis(500), "/healthz took {:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (r, took) = slow.await.unwrap();
    assert_eq!(r.status, 422, "{}", short(&r.body));
    assert!(
        r.error().starts_with("the query ran longer than 1.5s (serve.sql_timeout)"),
        "{}",
        r.error()
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_and_long_parameters_are_4xx() {
    let server = Server::start(ServeOptions::default()).await;
    let long = "9".repeat(10_000);
    let uris = [
        "/api/v1/risk/enterprises/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/api/v1/risk/enterprises/..%2F..%2Fetc%2Fpasswd/history".to_owned(),
        "/api/v1/risk/enterprises/../../etc/passwd".to_owned(),
        "/api/v1/risk/enterprises/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        "/api/v1/risk/enterprises/91440300708461136T'%20OR%20'1'='1/history".to_owned(),
        "/api/v1/alarms?uscc=..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/api/v1/alarms?uscc=x'%20OR%201=1%20--".to_owned(),
        "/report?town=../../x".to_owned(),
        "/report?county=..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/report?period=../../etc/passwd".to_owned(),
        "/report?lang=../../etc/passwd".to_owned(),
        "/api/v1/risk/enterprises?town=../../x".to_owned(),
        "/api/v1/risk/regions?level=../../etc/passwd".to_owned(),
        "/../../etc/passwd".to_owned(),
        "/static/..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("/api/v1/risk/enterprises/{long}"),
        format!("/api/v1/risk/enterprises/{long}/history"),
        format!("/api/v1/risk/enterprises?county={long}"),
        format!("/api/v1/alarms?since={long}x"),
        format!("/report?town={long}x"),
    ];
    for uri in &uris {
        let r = send(server.addr, &get(uri)).await;
        assert!(
            matches!(r.status, 400 | 404),
            "{}: {} {}",
            &uri[..uri.len().min(80)],
            r.status,
            short(&r.body)
        );
        assert!(!leaks_passwd(&r), "{uri}: {}", short(&r.body));
        let e = r.error();
        assert!(!e.is_empty(), "{uri}: a JSON error");
        assert!(
            e.len() < 400,
            "{}: the message does not echo the whole parameter: {e}",
            &uri[..60.min(uri.len())]
        );
    }
    // Longer than hyper takes for a request line or header block.
    let huge = format!("/api/v1/risk/enterprises/{}", "9".repeat(100_000));
    let r = send(server.addr, &get(&huge)).await;
    assert!(matches!(r.status, 414 | 431 | 400), "{}", r.status);
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_parameters_and_wrong_methods_get_json_errors() {
    let server = Server::start(ServeOptions::default()).await;
    let long = "9".repeat(10_000);
    let bad = [
        ("/api/v1/risk/enterprises?limit=abc", "limit"),
        ("/api/v1/risk/enterprises?limit=-1", "limit"),
        ("/api/v1/risk/enterprises?offset=1.5", "offset"),
        ("/api/v1/risk/enterprises?color=red&color=blue", "color"),
        ("/report?period=a&period=b", "period"),
        ("/api/v1/risk/enterprises/%FF%FE", "UTF-8"),
    ];
    for (uri, names) in bad {
        let r = send(server.addr, &get(uri)).await;
        assert_eq!(r.status, 400, "{uri}: {}", short(&r.body));
        assert!(r.headers.contains("content-type: application/json"), "{uri}: {}", r.headers);
        let e = r.error();
        assert!(e.contains(names), "{uri}: {e}");
    }
    let r = send(server.addr, &get(&format!("/api/v1/risk/enterprises?limit={long}"))).await;
    assert_eq!(r.status, 400);
    assert!(r.error().len() <= 200, "{}", r.error());

    // A known route with a method it does not serve: 405, JSON, and `Allow`.
    let r = send(server.addr, &get("/api/v1/sql")).await;
    assert_eq!(r.status, 405, "{}", short(&r.body));
    assert!(r.headers.contains("allow: post"), "{}", r.headers);
    assert_eq!(r.error(), "GET is not served at \"/api/v1/sql\"");
    let post =
        b"POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let r = send(server.addr, post).await;
    assert_eq!(r.status, 405, "{}", short(&r.body));
    assert!(r.headers.contains("allow: get"), "{}", r.headers);
    assert!(r.error().starts_with("POST is not served"), "{}", r.error());
    still_serves(&server).await;
    server.stop().await;
}
