//! An S3 API server for tests: moto's server mode (from PyPI), started as a
//! child process on a free loopback port and stopped when dropped.
//!
//! `.ci/run` installs moto into `/var/cache/fivefold/s3-venv`; `MOTO_SERVER`
//! names another `moto_server` executable. Without one the tests fail with a
//! message that says how to install it: they are never skipped.

#![allow(unreachable_pub, dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// The moto executable: `$MOTO_SERVER`, the CI venv's, or `moto_server` on PATH.
fn executable() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from("/var/cache/fivefold/s3-venv/bin/moto_server");
    if venv.exists() { venv } else { PathBuf::from("moto_server") }
}

impl Moto {
    /// Starts a server and waits until it answers.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let exe = executable();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the S3 test server {}: {e}. Run `bash .ci/run` once (it installs \
                     moto into /var/cache/fivefold/s3-venv), or `pip install 'moto[server]'` and \
                     set MOTO_SERVER to its moto_server",
                    exe.display()
                )
            });
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while moto.request("GET", "/").is_none() {
            assert!(Instant::now() < deadline, "moto did not answer on {}", moto.endpoint);
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// One HTTP/1.1 request without a body; the status line, if it answered.
    fn request(&self, method: &str, path: &str) -> Option<String> {
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines().next().map(str::to_owned)
    }

    /// Creates a new bucket with a unique name and returns `s3://NAME`.
    pub fn bucket(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("lake-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let status = self.request("PUT", &format!("/{name}")).unwrap_or_default();
        assert!(status.contains(" 200"), "creating bucket {name}: {status}");
        format!("s3://{name}")
    }

    /// The object-store options that reach this server.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint_url", self.endpoint.clone()),
            ("aws_access_key_id", "test".into()),
            ("aws_secret_access_key", "test".into()),
            ("aws_region", "us-east-1".into()),
        ]
    }

    /// The same as environment variables, for a `fivefold` child process.
    pub fn env(&self) -> Vec<(String, String)> {
        self.options().into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
