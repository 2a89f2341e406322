//! The gateway's configuration: defaults that serve `schema/supergraph.graphql`
//! on 127.0.0.1:4000, overridden by a TOML file, then by `SWITCHYARD_*`
//! environment variables, then by command-line flags (in `main`).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

pub use crate::{
    executor::{
        breaker::BreakerConfig,
        entity_cache::{EntityCacheConfig, TypeCacheConfig},
        retry::RetryConfig,
    },
    server::{
        authz::{AuthorizationConfig, PolicyRule},
        cors::CorsConfig,
        csrf::CsrfConfig,
        limits::OperationLimits,
        persisted::PersistedConfig,
        rate_limit::RateLimitConfig,
    },
};
pub use auth::JwtConfig;

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
    /// Largest request body accepted, in bytes; a larger one is answered
    /// `413` without being buffered.
    pub max_body_bytes: usize,
    /// Time a client has to send its whole request body, in milliseconds;
    /// a slower one (slowloris) gets `408`.
    pub body_timeout_ms: u64,
    /// Operation limits (depth, aliases, root fields, directives, tokens).
    pub limits: OperationLimits,
    /// Plans kept in memory (keyed by operation text and name).
    pub plan_cache_capacity: u64,
    /// Answer `__schema`/`__type` queries.
    pub introspection: bool,
    /// Put the query plan in `extensions.queryPlan` when the request has
    /// `x-switchyard-plan: true`.
    pub expose_query_plan: bool,
    /// Client request headers passed on to every subgraph (trace context
    /// always is).
    pub forward_headers: Vec<String>,
    /// Identical subgraph queries in flight at the same time share one HTTP
    /// call (never mutations, nor anything of a mutation operation).
    pub dedup_subgraph_requests: bool,
    /// Entity fetches of concurrent client requests for the same subgraph and
    /// selection coalesce into one `_entities` call within this window, in
    /// microseconds; 0 turns it off.
    pub entity_batch_window_us: u64,
    /// A shared entity batch goes out as soon as it holds this many representations.
    pub entity_batch_max: usize,
    /// The gateway's cache of `_entities` results.
    pub entity_cache: EntityCacheConfig,
    /// Circuit breaker of every subgraph.
    pub breaker: BreakerConfig,
    /// Retries of subgraph queries that got no answer.
    pub retry: RetryConfig,
    /// `breaker` and `retry` fields set for one subgraph, by name.
    pub subgraph_overrides: BTreeMap<String, SubgraphOverrides>,
    /// Client requests served at once; more are refused with `503` at once.
    pub max_in_flight_requests: u32,
    /// A client request that takes longer is answered `504`.
    pub request_timeout_ms: u64,
    /// On shutdown, how long requests in flight may take to finish.
    pub drain_timeout_ms: u64,
    /// Which other origins' pages may read responses in a browser.
    pub cors: CorsConfig,
    /// Refusing operations a browser could send cross-site without a preflight.
    pub csrf: CsrfConfig,
    /// Requests per period per client and for everyone (off by default).
    pub rate_limit: RateLimitConfig,
    /// Trusted documents (a manifest), only-persisted mode, and APQ.
    pub persisted_queries: PersistedConfig,
    /// A Redis shared by the gateway's replicas (`redis://127.0.0.1:6379`):
    /// rate limits and persisted queries are kept there instead of in memory.
    pub redis_url: Option<String>,
    /// JWT authentication: where tokens come from and the keys that verify them.
    pub jwt: JwtConfig,
    /// Enforcement of `@authenticated`, `@requiresScopes` and `@policy`.
    pub authorization: AuthorizationConfig,
}

/// Settings of one subgraph that differ from the gateway-wide ones: only
/// the fields given change (e.g. `[subgraph_overrides.orders.retry]
/// max_retries = 0`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SubgraphOverrides {
    pub breaker: serde_json::Map<String, serde_json::Value>,
    pub retry: serde_json::Map<String, serde_json::Value>,
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
            body_timeout_ms: 10_000,
            limits: OperationLimits::default(),
            plan_cache_capacity: 1_000,
            introspection: true,
            expose_query_plan: false,
            forward_headers: Vec::new(),
            dedup_subgraph_requests: true,
            entity_batch_window_us: 0,
            entity_batch_max: 500,
            entity_cache: EntityCacheConfig::default(),
            breaker: BreakerConfig::default(),
            retry: RetryConfig::default(),
            subgraph_overrides: BTreeMap::new(),
            max_in_flight_requests: 1_024,
            request_timeout_ms: 60_000,
            drain_timeout_ms: 20_000,
            cors: CorsConfig::default(),
            csrf: CsrfConfig::default(),
            rate_limit: RateLimitConfig::default(),
            persisted_queries: PersistedConfig::default(),
            redis_url: None,
            jwt: JwtConfig::default(),
            authorization: AuthorizationConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// Defaults, then the TOML file (if any), then `SWITCHYARD_<FIELD>` variables
    /// (`SWITCHYARD_SUBGRAPH_URLS__USERS=...` for a map entry). A file key
    /// that is no setting is an error; a `SWITCHYARD_*` variable that names
    /// none is ignored with a warning, as the environment also carries other
    /// tools' variables (`SWITCHYARD_BIN` of the benchmarks and tests).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Vec<String> = serde_json::to_value(Self::default())
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        let env = Env::prefixed("SWITCHYARD_").split("__").filter(move |key| {
            let key = key.as_str().to_ascii_lowercase();
            let known = settings.iter().any(|s| {
                key.strip_prefix(s.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with("__"))
            });
            if !known {
                tracing::warn!(variable = %format!("SWITCHYARD_{}", key.to_ascii_uppercase()), "not a gateway setting; ignored");
            }
            known
        });
        let config: Self = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))?;
        config.check()?;
        Ok(config)
    }

    /// What serde cannot see: overrides that name no setting, zero bounds.
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| ConfigError(Box::new(figment::Error::from(m)));
        for (name, overrides) in &self.subgraph_overrides {
            overridden(&self.breaker, &overrides.breaker)
                .map_err(|e| invalid(format!("subgraph_overrides.{name}.breaker: {e}")))?;
            overridden(&self.retry, &overrides.retry)
                .map_err(|e| invalid(format!("subgraph_overrides.{name}.retry: {e}")))?;
        }
        if self.max_in_flight_requests == 0 {
            return Err(invalid("max_in_flight_requests must be at least 1".into()));
        }
        Ok(())
    }

    /// The circuit breaker settings of one subgraph.
    pub fn breaker_for(&self, subgraph: &str) -> BreakerConfig {
        self.subgraph_overrides
            .get(subgraph)
            .and_then(|o| overridden(&self.breaker, &o.breaker).ok())
            .unwrap_or_else(|| self.breaker.clone())
    }

    /// The retry settings of one subgraph.
    pub fn retry_for(&self, subgraph: &str) -> RetryConfig {
        self.subgraph_overrides
            .get(subgraph)
            .and_then(|o| overridden(&self.retry, &o.retry).ok())
            .unwrap_or_else(|| self.retry.clone())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
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

/// `base` with the fields of `patch` replaced.
fn overridden<T: Serialize + serde::de::DeserializeOwned>(
    base: &T,
    patch: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, serde_json::Error> {
    let mut value = serde_json::to_value(base)?;
    if let Some(fields) = value.as_object_mut() {
        fields.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error type
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gw.toml", "listen = \"127.0.0.1:5000\"\nexpose_query_plan = true\n[subgraph_urls]\nusers = \"http://u/graphql\"\n[subgraph_timeouts_ms]\norders = 100\n[entity_cache]\nenabled = true\n[entity_cache.types.User]\nttl_secs = 30\n[limits]\nmax_depth = 10\n")?;
            jail.set_env("SWITCHYARD_SUBGRAPH_TIMEOUT_MS", "250");
            jail.set_env("SWITCHYARD_LIMITS__MAX_ALIASES", "5");
            jail.set_env("SWITCHYARD_ENTITY_CACHE__TYPES__ORDER__PRIVATE", "true");
            jail.set_env(
                "SWITCHYARD_ENTITY_CACHE__PRIVATE_KEY_HEADERS",
                "[authorization]",
            );
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
            assert_eq!(
                (config.limits.max_depth, config.limits.max_aliases),
                (10, 5)
            );
            assert_eq!(
                config.limits.max_root_fields,
                OperationLimits::default().max_root_fields
            );
            let cache = &config.entity_cache;
            assert!(cache.enabled);
            assert_eq!(cache.types["User"].ttl_secs, Some(30));
            assert!(cache.types["order"].private);
            assert_eq!(cache.private_key_headers, ["authorization"]);
            jail.set_env("SWITCHYARD_RETRY__MAX_RETRIES", "3");
            jail.set_env(
                "SWITCHYARD_SUBGRAPH_OVERRIDES__ORDERS__RETRY__MAX_RETRIES",
                "0",
            );
            jail.set_env(
                "SWITCHYARD_SUBGRAPH_OVERRIDES__ORDERS__BREAKER__OPEN_MS",
                "250",
            );
            let config = GatewayConfig::load(None).expect("loads");
            assert_eq!(config.retry_for("users").max_retries, 3);
            assert_eq!(
                (
                    config.retry_for("orders").max_retries,
                    config.retry_for("orders").backoff_max_ms
                ),
                (0, RetryConfig::default().backoff_max_ms),
                "only the fields given change"
            );
            assert_eq!(config.breaker_for("orders").open_ms, 250);
            assert_eq!(config.breaker_for("users"), BreakerConfig::default());
            jail.set_env(
                "SWITCHYARD_SUBGRAPH_OVERRIDES__ORDERS__BREAKER__OPEN_SECS",
                "1",
            );
            assert!(
                GatewayConfig::load(None).is_err(),
                "an override that names no setting is an error"
            );
            jail.clear_env();
            jail.set_env("SWITCHYARD_BIN", "/usr/bin/true");
            assert!(
                GatewayConfig::load(None).is_ok(),
                "other tools' variables are ignored"
            );
            jail.create_file("bad.toml", "no_such_option = 1\n")?;
            assert!(GatewayConfig::load(Some(std::path::Path::new("bad.toml"))).is_err());
            Ok(())
        });
    }
}
