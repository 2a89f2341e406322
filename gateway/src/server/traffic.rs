//! The state behind the gateway's traffic policy, built once from the
//! configuration (a bad setting stops the start, not a request).

use std::sync::Arc;

use super::{persisted::PersistedDocuments, rate_limit::Limiter, redis::Redis};
use crate::{config::GatewayConfig, error::InvalidSetting};

pub struct Traffic {
    pub(super) rate_limiter: Option<Limiter>,
    pub(super) persisted: PersistedDocuments,
}

impl Traffic {
    pub fn new(config: &GatewayConfig) -> Result<Self, InvalidSetting> {
        let _ = config.cors.layer()?;
        let redis = config
            .redis_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .map(Redis::new)
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            rate_limiter: Limiter::new(&config.rate_limit, redis.clone())?,
            persisted: PersistedDocuments::new(&config.persisted_queries, redis)?,
        })
    }
}
