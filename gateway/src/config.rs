//! The gateway's configuration: defaults that serve `schema/supergraph.graphql`
//! on 127.0.0.1:4000, overridden by a TOML file, then by `SWITCHYARD_*`
//! environment variables, then by command-line flags (in `main`).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("invalid gateway configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Address the gateway binds.
    pub listen: SocketAddr,
    /// Supergraph SDL file; watched, and reloaded when it changes.
    pub supergraph: Option<PathBuf>,
    /// How often the supergraph file is checked for changes.
    pub supergraph_poll_ms: u64,
    /// Routing URLs by subgraph name, overriding those in the supergraph.
    pub subgraph_urls: BTreeMap<String, String>,
    /// Per-request timeout of a subgraph fetch.
    pub subgraph_timeout_ms: u64,
    /// Timeouts of particular subgraphs, by name, overriding `subgraph_timeout_ms`.
    pub subgraph_timeouts_ms: BTreeMap<String, u64>,
    /// Idle keep-alive connections to subgraphs are closed after this long.
    pub pool_idle_timeout_ms: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Plans kept in memory (keyed by operation text and name).
    pub plan_cache_capacity: u64,
    /// Answer `__schema`/`__type` queries.
    pub introspection: bool,
    /// Put the query plan in `extensions.queryPlan` when the request has
    /// `x-switchyard-plan: true`.
    pub expose_query_plan: bool,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            supergraph: None,
            supergraph_poll_ms: 1_000,
            subgraph_urls: BTreeMap::new(),
            subgraph_timeout_ms: 30_000,
            subgraph_timeouts_ms: BTreeMap::new(),
            pool_idle_timeout_ms: 90_000,
            max_body_bytes: 2 * 1024 * 1024,
            plan_cache_capacity: 1_000,
            introspection: true,
            expose_query_plan: false,
        }
    }
}

impl GatewayConfig {
    /// Defaults, then the TOML file (if any), then `SWITCHYARD_<FIELD>` variables
    /// (`SWITCHYARD_SUBGRAPH_URLS__USERS=...` for a map entry).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("SWITCHYARD_").split("__"))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    pub fn subgraph_timeout(&self) -> Duration {
        Duration::from_millis(self.subgraph_timeout_ms)
    }

    /// The timeout of one subgraph's fetches.
    pub fn subgraph_timeout_for(&self, subgraph: &str) -> Duration {
        self.subgraph_timeouts_ms
            .get(subgraph)
            .map_or_else(|| self.subgraph_timeout(), |ms| Duration::from_millis(*ms))
    }

    pub fn pool_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_idle_timeout_ms)
    }

    pub fn supergraph_poll(&self) -> Duration {
        Duration::from_millis(self.supergraph_poll_ms.max(50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error type
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gw.toml", "listen = \"127.0.0.1:5000\"\nexpose_query_plan = true\n[subgraph_urls]\nusers = \"http://u/graphql\"\n[subgraph_timeouts_ms]\norders = 100\n")?;
            jail.set_env("SWITCHYARD_SUBGRAPH_TIMEOUT_MS", "250");
            let config = GatewayConfig::load(Some(std::path::Path::new("gw.toml"))).expect("loads");
            assert_eq!(config.listen.port(), 5000);
            assert!(config.expose_query_plan);
            assert_eq!(config.subgraph_urls["users"], "http://u/graphql");
            assert_eq!(config.subgraph_timeout(), Duration::from_millis(250));
            assert_eq!(
                config.subgraph_timeout_for("orders"),
                Duration::from_millis(100)
            );
            assert_eq!(
                config.subgraph_timeout_for("users"),
                Duration::from_millis(250)
            );
            jail.create_file("bad.toml", "no_such_option = 1\n")?;
            assert!(GatewayConfig::load(Some(std::path::Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
