//! Helpers shared by the API's test binaries: a lake built by replay, the
//! server on a real TCP port, and a raw HTTP/1.1 client that can misbehave.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fivefold_api::{AppState, ServeError, ServeOptions};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Builds a lake by replaying a generated city of 60 enterprises over 3 hours.
pub fn build_lake(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    let cfg =
        fivefold_generate::GenConfig { enterprises: 60, hours: 3.0, seed: 4, ..Default::default() };
    fivefold_generate::write_files(
        fivefold_generate::Generator::new(cfg).unwrap(),
        &input,
        &mut |_| {},
    )
    .unwrap();
    let root = dir.join("lake");
    let mut lake = fivefold_lake::Lake::open(
        &root,
        fivefold_lake::WriterOptions { durable: false, ..Default::default() },
    )
    .unwrap();
    let opts = fivefold_pipeline::ReplayOptions {
        model: Some(fivefold_score::RiskModel::reference().unwrap()),
        ..Default::default()
    };
    fivefold_pipeline::replay(&input, &mut lake, &opts, &mut |_| {}).unwrap();
    root
}

/// One lake for every test of a binary (they only read it).
pub fn shared_lake() -> &'static Path {
    static LAKE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &LAKE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let root = build_lake(dir.path());
            (dir, root)
        })
        .1
}

/// The API serving the shared lake on a free port of 127.0.0.1.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Server {
    pub async fn start(opts: ServeOptions) -> Server {
        let lake = tokio::task::spawn_blocking(|| shared_lake().to_path_buf()).await.unwrap();
        let state = AppState::load(lake, opts, None).await.unwrap();
        Server::start_with(state).await
    }

    pub async fn start_with(state: Arc<AppState>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(fivefold_api::serve_on(state, listener, async {
            let _ = rx.await;
        }));
        Server { addr, stop: Some(tx), task }
    }

    /// Stops the server and waits until it has returned.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let done = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        done.expect("the server stops within 5 s").unwrap().unwrap();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The `error` text of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends `raw` (a whole request, with `Connection: close`) and reads the
/// response to the end, within 20 s.
pub async fn send(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    exchange(&mut s, raw).await
}

/// [`send`] over any stream (e.g. TLS).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, raw: &[u8]) -> Resp {
    s.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("a response within 20 s")
        .unwrap();
    parse(&out)
        .unwrap_or_else(|| panic!("not an HTTP response: {:?}", String::from_utf8_lossy(&out)))
}

/// Parses a response read to its end (Content-Length or chunked body).
pub fn parse(raw: &[u8]) -> Option<Resp> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let headers = head.to_ascii_lowercase();
    let body = if headers.contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(tail.get(..n)?);
            rest = tail.get(n + 2..)?;
        }
        out
    } else {
        body.to_owned()
    };
    Some(Resp { status, headers, body })
}

/// A GET request.
pub fn get(uri: &str) -> Vec<u8> {
    format!("GET {uri} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A GET request with a bearer token.
pub fn get_with_token(uri: &str, token: &str) -> Vec<u8> {
    format!(
        "GET {uri} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// A POST of `body` to `/api/v1/sql` with its length.
pub fn post_sql_body(body: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/sql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A POST of `{"sql": sql}`.
pub fn post_sql(sql: &str) -> Vec<u8> {
    post_sql_body(&serde_json::json!({ "sql": sql }).to_string())
}
