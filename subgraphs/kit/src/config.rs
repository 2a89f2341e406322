//! Configuration of one subgraph: defaults that make `cargo run` work, overridden
//! by environment variables with the subgraph's prefix (`USERS_DATABASE_URL`, ...).

use std::{net::SocketAddr, time::Duration};

use figment::{
    Figment,
    providers::{Env, Serialized},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgraphConfig {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` or `postgres://...`.
    pub database_url: String,
    pub db_max_connections: u32,
    pub db_min_connections: u32,
    pub db_acquire_timeout_secs: u64,
    /// Hot entities kept in memory; 0 turns the cache off.
    pub cache_capacity: u64,
    pub cache_ttl_secs: u64,
    /// How long the DataLoader waits to gather keys into one batch.
    pub dataloader_delay_ms: u64,
    /// Insert demo data when the database is empty.
    pub seed: bool,
    /// NATS server with JetStream (`nats://host:4222`) carrying domain events
    /// between services. Unset: events reach consumers in this process only.
    pub nats_url: Option<String>,
    /// JetStream stream of the orders domain, and the prefix of its subjects
    /// (`<prefix>.placed`, `<prefix>.status_changed`).
    pub events_stream: String,
    pub events_subject: String,
    /// Durable consumer through which notifications reads the orders events.
    pub events_consumer: String,
    /// How often the outbox relay looks for pending events when nothing woke it
    /// (events another replica wrote, or a broker that was down).
    pub events_poll_ms: u64,
    /// Not configuration: the in-process event link of dev mode, shared by the
    /// orders and notifications of one process when no broker is configured.
    #[serde(skip)]
    pub local_events: crate::events::LocalBus,
    /// Verification of the token the gateway forwards (`<NAME>_JWT__*`):
    /// the same keys as the gateway's.
    pub jwt: auth::JwtConfig,
}

impl SubgraphConfig {
    /// The variables read after the prefix; others with the same prefix are ignored.
    pub const KEYS: &'static [&'static str] = &[
        "listen",
        "database_url",
        "db_max_connections",
        "db_min_connections",
        "db_acquire_timeout_secs",
        "cache_capacity",
        "cache_ttl_secs",
        "dataloader_delay_ms",
        "seed",
        "nats_url",
        "events_stream",
        "events_subject",
        "events_consumer",
        "events_poll_ms",
        "jwt__jwks_url",
        "jwt__jwks_file",
        "jwt__public_key_pem",
        "jwt__pem_algorithm",
        "jwt__hs256_secret",
        "jwt__issuer",
        "jwt__audience",
        "jwt__leeway_secs",
        "jwt__header",
        "jwt__cookie",
        "jwt__jwks_refresh_secs",
        "jwt__jwks_refetch_min_secs",
    ];

    /// Defaults for a subgraph named `name` on `port`: a SQLite file under `./data/`.
    pub fn defaults(name: &str, port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            database_url: format!("sqlite://data/{name}.db?mode=rwc"),
            db_max_connections: 10,
            db_min_connections: 1,
            db_acquire_timeout_secs: 5,
            cache_capacity: 10_000,
            cache_ttl_secs: 60,
            dataloader_delay_ms: 1,
            seed: false,
            jwt: auth::JwtConfig::default(),
            nats_url: None,
            events_stream: "ORDERS".into(),
            events_subject: "orders".into(),
            events_consumer: "notifications".into(),
            events_poll_ms: 5_000,
            local_events: Default::default(),
        }
    }

    /// Defaults overridden by `<NAME>_*` environment variables. `dev` (dev
    /// mode, not a production role) is the default of `<NAME>_SEED`, and
    /// verifies tokens with the development key when no key is configured.
    pub fn load(name: &str, port: u16, dev: bool) -> Result<Self, ConfigError> {
        let prefix = format!("{}_", name.to_ascii_uppercase());
        let config: Self = Figment::from(Serialized::defaults(Self {
            seed: dev,
            ..Self::defaults(name, port)
        }))
        .merge(Env::prefixed(&prefix).only(Self::KEYS).split("__"))
        .extract()
        .map_err(|e| ConfigError(Box::new(e)))?;
        Ok(if dev {
            Self {
                jwt: config.jwt.clone().or_development(),
                ..config
            }
        } else {
            config
        })
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }

    pub fn events_poll(&self) -> Duration {
        Duration::from_millis(self.events_poll_ms)
    }

    pub fn dataloader_delay(&self) -> Duration {
        Duration::from_millis(self.dataloader_delay_ms)
    }
}
