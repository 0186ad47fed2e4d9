//! The bearer token never reaches the log: every request kind, with the
//! right and wrong tokens, under trace-level logging captured in memory.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, get, get_with_token, send};
use fivefold_api::ServeOptions;
use tokio::io::AsyncWriteExt as _;

const TOKEN: &str = "tok-3f9a1c7e5b2d";

/// Log output, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn with_token(method: &str, uri: &str, auth: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {uri} HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_the_log() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let opts = ServeOptions {
        token: Some(TOKEN.to_owned()),
        body_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    assert!(!format!("{opts:?}").contains(TOKEN));
    let server = Server::start(opts).await;
    let addr = server.addr;

    let sql = r#"{"sql": "SELECT count(*) AS n FROM risk_latest"}"#;
    let wrong = format!("{TOKEN}x");
    let cases = [
        (get_with_token("/api/v1/risk/enterprises", TOKEN), 200),
        (get_with_token("/api/v1/risk/enterprises", &wrong), 401),
        (get_with_token(&format!("/api/v1/alarms?token={TOKEN}"), &wrong), 401),
        (get(&format!("/api/v1/risk/enterprises?access_token={TOKEN}")), 401),
        (with_token("POST", "/api/v1/sql", &format!("Bearer {TOKEN}"), sql), 200),
        (with_token("POST", "/api/v1/sql", &format!("Bearer {TOKEN}"), "{\"sql\": 1}"), 400),
        (
            with_token("POST", "/api/v1/sql", &format!("Bearer {TOKEN}"), "{\"sql\": \"SELEC\"}"),
            400,
        ),
        (with_token("POST", "/api/v1/sql", &format!("Basic {TOKEN}"), sql), 401),
        (with_token("POST", "/api/v1/sql", TOKEN, sql), 401),
        (get_with_token("/api/v1/risk/enterprises/91440300708461136T", TOKEN), 404),
        (get_with_token("/report?period=2026-Q9", TOKEN), 400),
        (get_with_token("/no/such/route", TOKEN), 404),
        (get_with_token("/healthz", TOKEN), 200),
    ];
    for (request, status) in cases {
        let r = send(addr, &request).await;
        assert_eq!(r.status, status, "{}: {}", String::from_utf8_lossy(&request), r.body);
        assert!(!r.body.contains(TOKEN), "{}", r.body);
    }
    // A client that stalls mid-body after sending the token, and one that
    // sends it and never finishes its headers: both cut off, and logged.
    for head in [
        format!(
            "POST /api/v1/sql HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 50\r\n\r\n{{\"sql\""
        ),
        format!("GET /api/v1/alarms HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"),
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut out);
        tokio::time::timeout(Duration::from_secs(5), read).await.unwrap().unwrap();
    }
    server.stop().await;

    let text = log.text();
    assert!(text.contains("Serving the API."), "the log was captured: {text}");
    assert!(text.contains("token: Some(\"****\")"), "the options are logged, redacted: {text}");
    assert!(text.contains("Refused a request without a valid token."), "{text}");
    assert!(text.contains("Connection ended with an error."), "{text}");
    assert!(!text.contains(TOKEN), "the token is in the log:\n{text}");

    // The configuration's Debug, as `fivefold check-config` would show it.
    let env = [("FIVEFOLD_SERVE__TOKEN".to_owned(), TOKEN.to_owned())];
    let cfg = fivefold_pipeline::Config::load(None, env).unwrap();
    assert_eq!(cfg.serve.token, TOKEN);
    assert!(!format!("{cfg:?}").contains(TOKEN));
}
