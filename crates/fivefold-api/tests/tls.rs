//! HTTPS: the API serves with a PEM certificate and key, a client that trusts
//! the certificate gets answers, plain HTTP to the port gets none, and bad
//! files are one clear error naming the config key.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Server, exchange, get, post_sql};
use fivefold_api::{AppState, ServeOptions, TlsFiles};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// A self-signed certificate for localhost, written as PEM files.
struct SelfSigned {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn self_signed(dir: &Path, name: &str) -> SelfSigned {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    SelfSigned { cert, key, der: made.cert.der().clone() }
}

/// A TLS client that trusts only `root`.
fn connector(root: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_server(files: &SelfSigned) -> Server {
    let tls = TlsFiles { cert: files.cert.clone(), key: files.key.clone() };
    Server::start(ServeOptions { tls: Some(tls), ..Default::default() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_with_the_given_certificate_and_plain_http_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ours = self_signed(dir.path(), "api");
    let server = tls_server(&ours).await;
    let name = ServerName::try_from("localhost").unwrap();

    for (request, check) in [
        (get("/healthz"), "ok"),
        (post_sql("SELECT count(*) AS n FROM risk_latest"), "{\"rows\":[{\"n\":60}]"),
    ] {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut tls = connector(&ours.der).connect(name.clone(), tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let r = exchange(&mut tls, &request).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.starts_with(check), "{}", r.body);
    }

    // A client that trusts another certificate refuses this server.
    let other = self_signed(dir.path(), "other");
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let refused = connector(&other.der).connect(name, tcp).await;
    let Err(e) = refused else { panic!("the handshake succeeds with an untrusted certificate") };
    let e = e.to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");

    // Plain HTTP to the TLS port: no HTTP response, and the connection ends.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain.write_all(&get("/healthz")).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut out))
        .await
        .expect("the server ends the connection")
        .ok();
    assert!(!out.starts_with(b"HTTP/"), "{:?}", String::from_utf8_lossy(&out));
    assert!(common::parse(&out).is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_files_are_one_clear_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = self_signed(dir.path(), "good");
    let other = self_signed(dir.path(), "other");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let d = |p: &Path| p.display().to_string();
    let cases = [
        (
            TlsFiles { cert: missing.clone(), key: good.key.clone() },
            format!("serve.tls_cert (--tls-cert): cannot read {}: No such file", d(&missing)),
        ),
        (
            TlsFiles { cert: good.cert.clone(), key: missing.clone() },
            format!("serve.tls_key (--tls-key): cannot read {}: No such file", d(&missing)),
        ),
        (
            TlsFiles { cert: garbage.clone(), key: good.key.clone() },
            format!("serve.tls_cert (--tls-cert): {} holds no PEM certificate", d(&garbage)),
        ),
        (
            TlsFiles { cert: good.cert.clone(), key: good.cert.clone() },
            format!("serve.tls_key (--tls-key): {} holds no PEM private key", d(&good.cert)),
        ),
        (
            TlsFiles { cert: good.cert.clone(), key: other.key.clone() },
            format!(
                "serve.tls_cert / serve.tls_key: {} and {} cannot be used together",
                d(&good.cert),
                d(&other.key)
            ),
        ),
    ];
    for (files, expected) in cases {
        let e = files.load().err().expect("refused").to_string();
        assert!(e.starts_with(&expected), "{e}\nexpected: {expected}");
        assert!(!e.contains('\n'), "one line: {e}");
        // The server refuses to start with them, with the same message.
        let opts = ServeOptions { tls: Some(files), ..Default::default() };
        let lake = tokio::task::spawn_blocking(|| common::shared_lake().to_path_buf());
        let state = AppState::load(lake.await.unwrap(), opts, None).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = tokio::time::timeout(
            Duration::from_secs(5),
            fivefold_api::serve_on(state, listener, std::future::pending()),
        )
        .await
        .expect("returns at once");
        assert_eq!(served.expect_err("refused").to_string(), e);
    }
    assert!(TlsFiles { cert: good.cert, key: good.key }.load().is_ok());
}
