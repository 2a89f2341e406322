//! Rate limiting of GraphQL requests, per client and for all clients
//! together: `limit` requests per `period_ms`, of which all may come at once
//! (GCRA: a client that waited a whole period has its whole allowance back).
//! In one process the state is `governor`'s; with `redis_url` set it lives
//! in Redis, so every replica of the gateway counts against the same limits.
//! When Redis cannot be reached the replica limits on its own rather than
//! either refusing everything or nothing.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use serde::{Deserialize, Serialize};

use super::{Gateway, accepts_graphql_response, error_response, redis::Redis};
use crate::error::{InvalidSetting, RequestError};

/// Who a request is from, for rate limiting: put in the request's extensions
/// by whatever identified the client (authentication puts the verified
/// token's `sub` there). Without it the client is its IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(pub String);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeySource {
    /// The authenticated subject (a [`ClientKey`]) when there is one, else the IP.
    SubjectOrIp,
    /// Always the IP address, even for authenticated requests.
    Ip,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off by default: a fair limit depends on the deployment.
    pub enabled: bool,
    /// Requests each client may make per period; 0 is no per-client limit.
    pub per_client: u32,
    /// Requests all clients together may make per period; 0 is no global limit.
    pub global: u32,
    /// The period both limits are counted over, in milliseconds.
    pub period_ms: u64,
    /// What identifies a client.
    pub client_key: ClientKeySource,
    /// A header carrying the client's address set by a proxy in front of the
    /// gateway (e.g. `x-forwarded-for`, its last entry is taken); without
    /// one, the peer address of the connection. Only set it behind a proxy
    /// that overwrites the header, or clients choose their own key.
    pub client_ip_header: Option<String>,
    /// Prefix of the Redis keys, so several deployments can share a Redis.
    pub redis_key_prefix: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            per_client: 100,
            global: 0,
            period_ms: 1_000,
            client_key: ClientKeySource::SubjectOrIp,
            client_ip_header: None,
            redis_key_prefix: "switchyard:rate".into(),
        }
    }
}

/// The gateway's limiters; `None` from [`RateLimiter::new`] when limiting is off.
pub struct Limiter {
    config: RateLimitConfig,
    per_client: Option<(Cell, DefaultKeyedRateLimiter<String>)>,
    global: Option<(Cell, DefaultDirectRateLimiter)>,
    redis: Option<Arc<Redis>>,
    checks: AtomicU64,
}

/// One limit in GCRA terms: a request every `interval`, `burst` at once.
#[derive(Debug, Clone, Copy)]
struct Cell {
    interval: Duration,
    burst: u32,
}

/// How many checks pass between sweeps of idle clients from memory.
const SWEEP_EVERY: u64 = 4096;

impl Limiter {
    pub fn new(
        config: &RateLimitConfig,
        redis: Option<Arc<Redis>>,
    ) -> Result<Option<Self>, InvalidSetting> {
        if !config.enabled {
            return Ok(None);
        }
        if config.period_ms == 0 {
            return Err(InvalidSetting::new(
                "rate_limit.period_ms",
                "must be at least 1",
            ));
        }
        if let Some(name) = &config.client_ip_header {
            axum::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                InvalidSetting::new(
                    "rate_limit.client_ip_header",
                    format!("`{name}` is not a header name"),
                )
            })?;
        }
        let period = Duration::from_millis(config.period_ms);
        let cell = |n: u32| {
            NonZeroU32::new(n).map(|burst| {
                let interval = (period / n).max(Duration::from_nanos(1));
                (
                    Cell {
                        interval,
                        burst: burst.get(),
                    },
                    Quota::with_period(interval).map(|q| q.allow_burst(burst)),
                )
            })
        };
        let per_client = cell(config.per_client)
            .and_then(|(cell, quota)| quota.map(|q| (cell, RateLimiter::keyed(q))));
        let global = cell(config.global)
            .and_then(|(cell, quota)| quota.map(|q| (cell, RateLimiter::direct(q))));
        Ok(Some(Self {
            config: config.clone(),
            per_client,
            global,
            redis,
            checks: AtomicU64::new(0),
        }))
    }

    /// `Err(wait)` when `client` is over a limit: the time until it may retry.
    pub async fn check(&self, client: &str) -> Result<(), Duration> {
        if let Some((cell, local)) = &self.per_client {
            let key = format!("client:{client}");
            match self.shared(&key, *cell).await {
                Some(result) => result?,
                None => local.check_key(&client.to_owned()).map_err(wait)?,
            }
            if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                local.retain_recent();
            }
        }
        if let Some((cell, local)) = &self.global {
            match self.shared("global", *cell).await {
                Some(result) => result?,
                None => local.check().map_err(wait)?,
            }
        }
        Ok(())
    }

    /// The shared limit's answer, or `None` without Redis or when it fails.
    async fn shared(&self, key: &str, cell: Cell) -> Option<Result<(), Duration>> {
        let redis = self.redis.as_ref()?;
        let key = format!("{}:{key}", self.config.redis_key_prefix);
        match redis.gcra(&key, cell.interval, cell.burst).await {
            Ok(result) => Some(result),
            Err(e) => {
                tracing::warn!(error = %e, "rate limit: Redis unavailable, limiting this replica alone");
                None
            }
        }
    }

    /// The client's key: its subject if known and wanted, else its address.
    fn client_of(&self, request: &Request) -> String {
        if self.config.client_key == ClientKeySource::SubjectOrIp
            && let Some(ClientKey(key)) = request.extensions().get::<ClientKey>()
        {
            return format!("sub:{key}");
        }
        let forwarded = self.config.client_ip_header.as_ref().and_then(|name| {
            request
                .headers()
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|v| v.trim().parse::<IpAddr>().ok())
                .next_back()
        });
        let ip = forwarded.or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip())
        });
        match ip {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        }
    }
}

fn wait(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(DefaultClock::default().now())
}

/// Middleware on the GraphQL routes: `429` with `Retry-After` (whole seconds,
/// at least 1) and `RATE_LIMITED` for a client over a limit.
pub async fn limit(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let Some(limiter) = gateway.traffic.rate_limiter.as_ref() else {
        return next.run(request).await;
    };
    let client = limiter.client_of(&request);
    match limiter.check(&client).await {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            let error = RequestError::RateLimited(seconds);
            let mut response = error_response(&error, accepts_graphql_response(request.headers()));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}
