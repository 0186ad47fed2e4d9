//! The accept loop. `axum::serve` has no time limit on reading a request's
//! headers, no cap on connections and no TLS, so connections are served here
//! with hyper's HTTP/1 connection directly:
//!
//! - a client that sends its request line and headers slowly, or opens a
//!   connection and sends nothing, is cut off after `header_timeout`
//!   (hyper's `header_read_timeout`, which also bounds an idle keep-alive
//!   connection and is not reset by each byte that trickles in);
//! - a body that stalls is answered with 408 after `body_timeout` by the
//!   router's body middleware (`routes::read_body`);
//! - at most `max_connections` connections are served at once;
//! - with TLS, the handshake must also finish within `header_timeout`.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::AppState;
use crate::tls::TlsError;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error (part of the message, so not a `source`).
        error: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Binds `addr` and serves until `shutdown` resolves (see [`serve_on`]).
pub async fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener =
        TcpListener::bind(addr).await.map_err(|error| ServeError::Bind { addr, error })?;
    serve_on(state, listener, shutdown).await
}

/// Serves on a bound listener until `shutdown` resolves, refreshing the cache
/// in the background. Then stops accepting, lets every connection finish the
/// request it is serving, and returns.
pub async fn serve_on(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let opts = state.opts.clone();
    let tls = opts.tls.as_ref().map(crate::TlsFiles::load).transpose()?;
    tracing::debug!(options = ?opts, "Serving the API.");
    let refresher = Arc::clone(&state);
    let refresher = AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(refresher.opts.refresh_every).await;
            if let Err(error) = refresher.refresh().await {
                tracing::warn!(%error, "Refreshing the API cache failed.");
            }
        }
    }));
    let limits =
        Limits { header_timeout: opts.header_timeout, max_connections: opts.max_connections, tls };
    accept_loop(crate::app(state), listener, limits, shutdown).await;
    drop(refresher);
    Ok(())
}

/// What every connection of a server is held to.
pub(crate) struct Limits {
    /// Time to read a request's headers (and finish a TLS handshake).
    pub(crate) header_timeout: Duration,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// TLS, when configured.
    pub(crate) tls: Option<TlsAcceptor>,
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves,
/// then lets every connection finish the request it is serving.
pub(crate) async fn accept_loop(
    router: Router,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Every connection holds a receiver: a send asks them to close once their
    // current request is answered, and `closed` resolves when all have.
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // A peer that reset before the accept, or no file
                    // descriptors left: wait a little rather than spin.
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let conn = Conn {
            router: router.clone(),
            tls: limits.tls.clone(),
            header_timeout: limits.header_timeout,
            stop: stop_rx.clone(),
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop(slot);
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    stop_tx.closed().await;
}

/// One accepted connection.
struct Conn {
    router: Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    stop: watch::Receiver<()>,
}

impl Conn {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        // Responses are written whole; waiting for more to coalesce only adds latency.
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = self.tls.clone() else {
            return self.serve(stream, peer).await;
        };
        match tokio::time::timeout(self.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => self.serve(tls, peer).await,
            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed."),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out."),
        }
    }

    async fn serve<I>(mut self, io: I, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.header_timeout);
        let service = TowerToHyperService::new(self.router);
        let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
        let result = tokio::select! {
            result = conn.as_mut() => result,
            _ = self.stop.changed() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(error) = result {
            // Slow or vanished clients end here; nothing the server must act on.
            tracing::debug!(%peer, %error, "Connection ended with an error.");
        }
    }
}

/// Aborts a task when dropped: the cache refresher when the server stops, a
/// query when its request is answered with a timeout or its client leaves.
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
