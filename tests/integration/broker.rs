//! A real Kafka-protocol broker process (Tansu) for end-to-end tests.
//!
//! The binary comes from `FIVEFOLD_TANSU`, else `tansu` on `PATH`, else the
//! place `.ci/run` installs it (`/var/cache/fivefold/tools/bin/tansu`). A test
//! that needs it and cannot find it fails with the install command: it is
//! never skipped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `fivefold generate` config that produces one record per batch.
///
/// Tansu 0.6 serves a fetch that starts inside a record batch from the next
/// batch, silently skipping the rest of the batch (a real Kafka broker
/// returns the whole batch and the client skips what precedes the offset).
/// A pipeline that resumes from the lake's offsets starts mid-batch, so
/// whatever produces to Tansu makes every offset a batch boundary.
pub(crate) const ONE_RECORD_PER_BATCH: &str =
    "[kafka.properties]\n\"batch.num.messages\" = \"1\"\n\"linger.ms\" = \"0\"\n";

/// Where the broker keeps its data.
pub(crate) enum Storage {
    /// In memory: lost when the process stops.
    Memory,
    /// A SQLite file: survives a kill and restart.
    Sqlite(PathBuf),
}

/// A running broker; killed when dropped.
pub(crate) struct Broker {
    child: Option<Child>,
    port: u16,
    storage: Storage,
    log: PathBuf,
}

fn tansu_binary() -> PathBuf {
    if let Ok(p) = std::env::var("FIVEFOLD_TANSU") {
        return PathBuf::from(p);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("tansu");
            if p.is_file() {
                return p;
            }
        }
    }
    let cached = PathBuf::from("/var/cache/fivefold/tools/bin/tansu");
    assert!(
        cached.is_file(),
        "the Kafka-protocol broker `tansu` is not installed: run `bash .ci/tansu/install.sh \
         0.6.0 /var/cache/fivefold/tools` (bash .ci/run does), or set FIVEFOLD_TANSU to its path"
    );
    cached
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Broker {
    /// Starts a broker on a free loopback port and waits until it accepts connections.
    pub(crate) fn start(storage: Storage, workdir: &Path) -> Broker {
        let mut b =
            Broker { child: None, port: free_port(), storage, log: workdir.join("tansu.log") };
        b.restart();
        b
    }

    /// `HOST:PORT` for clients.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker process (SIGKILL).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // Tansu reads a SQLite path relative to its working directory.
        let (engine, cwd) = match &self.storage {
            Storage::Memory => {
                ("memory://tansu/".to_owned(), self.log.parent().map(Path::to_path_buf))
            }
            Storage::Sqlite(p) => (
                format!(
                    "sqlite://{}",
                    p.file_name().and_then(|n| n.to_str()).unwrap_or("broker.db")
                ),
                p.parent().map(Path::to_path_buf),
            ),
        };
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log");
        let child = Command::new(tansu_binary())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &engine])
            .env("RUST_LOG", "warn")
            .current_dir(cwd.unwrap_or_else(|| PathBuf::from(".")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start; see {}", self.log.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
