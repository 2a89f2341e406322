//! The Redis that gateway replicas share (`redis_url`): rate-limit state and
//! automatic persisted queries. Connected on first use and reconnected by
//! the connection manager, with short timeouts, so a Redis that is down costs
//! a request little and callers fall back to what they hold in memory.

use std::time::Duration;

use redis::{
    AsyncCommands, Client, RedisError, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::OnceCell;

use crate::error::InvalidSetting;

pub struct Redis {
    client: Client,
    connection: OnceCell<ConnectionManager>,
    gcra: Script,
}

/// GCRA in one round trip, on Redis' clock so replicas agree on time.
/// KEYS[1]: the limit's key; ARGV[1]: microseconds between requests;
/// ARGV[2]: requests allowed at once. Returns 0 when the request may go,
/// else the microseconds until it may.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
local allow_at = new_tat - interval * tonumber(ARGV[2])
if now < allow_at then return allow_at - now end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

impl Redis {
    pub fn new(url: &str) -> Result<Self, InvalidSetting> {
        let client =
            Client::open(url).map_err(|e| InvalidSetting::new("redis_url", e.to_string()))?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            gcra: Script::new(GCRA),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        self.connection
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    /// One request against the GCRA limit at `key`: `Err(wait)` when over it.
    pub async fn gcra(
        &self,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Result<(), Duration>, RedisError> {
        let mut connection = self.connection().await?;
        let interval_us = u64::try_from(interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let wait_us: u64 = self
            .gcra
            .key(key)
            .arg(interval_us)
            .arg(burst)
            .invoke_async(&mut connection)
            .await?;
        Ok(match wait_us {
            0 => Ok(()),
            us => Err(Duration::from_micros(us)),
        })
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, RedisError> {
        self.connection().await?.get(key).await
    }

    /// Sets `key`, expiring after `ttl` (none when zero).
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        if ttl.is_zero() {
            connection.set(key, value).await
        } else {
            connection.set_ex(key, value, ttl.as_secs().max(1)).await
        }
    }
}
