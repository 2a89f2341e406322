//! The Switchyard federation gateway: reads a supergraph, plans each operation
//! into subgraph fetches (`planner`, pure), runs them (`executor`), and serves
//! GraphQL over HTTP (`server`). `composition` builds the supergraph from live
//! subgraphs instead of a file.

pub mod composition;
pub mod config;
pub mod error;
pub mod executor;
pub mod metrics;
pub mod planner;
pub mod server;
pub mod supergraph;

use std::{future::Future, net::SocketAddr, sync::Arc};

pub use config::GatewayConfig;
pub use server::{Gateway, LoadError, app};
use tokio::net::TcpListener;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no supergraph given: pass --supergraph FILE or set `supergraph` in the configuration")]
    NoSupergraph,
    #[error("cannot read supergraph {path}: {source}")]
    ReadSupergraph {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Setting(#[from] error::InvalidSetting),
    #[error("cannot load supergraph: {0}")]
    Load(#[from] LoadError),
    #[error("JWT keys: {0}")]
    Keys(#[from] auth::KeyError),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
}

/// A gateway with its supergraph loaded from `sdl`.
pub fn build(config: GatewayConfig, sdl: &str) -> Result<Arc<Gateway>, StartError> {
    let http = executor::http_client(config.pool_idle_timeout())?;
    let gateway = Arc::new(Gateway::new(config, http)?);
    gateway.load(sdl)?;
    Ok(gateway)
}

/// Serves the configured supergraph file on `config.listen` until `shutdown`,
/// reloading the file when it changes.
pub async fn run(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let path = config.supergraph.clone().ok_or(StartError::NoSupergraph)?;
    let sdl = std::fs::read_to_string(&path).map_err(|source| StartError::ReadSupergraph {
        path: path.display().to_string(),
        source,
    })?;
    let addr = config.listen;
    let poll = config.supergraph_poll();
    let gateway = build(config, &sdl)?;
    let watcher = server::watch_supergraph(gateway.clone(), path, poll);
    serve_watched(addr, gateway, watcher, shutdown).await
}

/// Binds `addr` and serves `gateway` until `shutdown`, with `watcher` (what
/// keeps its supergraph current) running alongside.
pub(crate) async fn serve_watched(
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    watcher: impl Future<Output = ()> + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    tracing::info!(
        "gateway listening on http://{}/graphql",
        listener.local_addr()?
    );
    let watcher = tokio::spawn(watcher);
    let result = serve(listener, gateway, shutdown).await;
    watcher.abort();
    result
}

/// Serves `gateway` on an already bound listener (tests bind port 0) until
/// `shutdown`, then drains: `/ready` answers `503` and new requests are
/// refused at once, requests in flight finish (within `drain_timeout_ms`),
/// then the server stops.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (drained, mut stopping) = tokio::sync::watch::channel(false);
    let draining = gateway.clone();
    let stop = async move {
        shutdown.await;
        draining.admission.drain().await;
        let _ = drained.send(true);
    };
    // The peer address is the client's key for rate limiting.
    let app = app(gateway).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(stop);
    // Drained, the server closes its idle connections and stops; a request a
    // timed-out drain left running gets a moment before it is cut off.
    let cut_off = async move {
        let _ = stopping.wait_for(|d| *d).await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    tokio::select! {
        served = server => served?,
        () = cut_off => tracing::warn!("stopped with connections still open"),
    }
    Ok(())
}
