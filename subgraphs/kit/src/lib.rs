//! What every Switchyard subgraph shares: configuration, database connection and
//! migrations, the entity cache, metrics, errors, pagination, and the HTTP server.
//! A subgraph crate only holds its domain: entities, repository, loaders, schema.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod input;
pub mod live;
pub mod loader;
pub mod metrics;
pub mod pagination;
pub mod related;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod workers;

pub use cache::EntityCache;
pub use config::SubgraphConfig;
pub use error::ApiError;
pub use metrics::Metrics;

/// Installs rustls' ring provider once per process; a second call is a no-op.
/// reqwest is built without a provider so that aws-lc is never compiled.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
