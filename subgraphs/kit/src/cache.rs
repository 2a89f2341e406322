//! In-memory cache of hot entities by id, in front of the DataLoaders.
//!
//! A loader that read the database before a write committed must not put the old
//! row back after the write invalidated it. Every invalidation bumps an epoch; a
//! loader notes the epoch before its query and only caches what it read if no
//! invalidation happened meanwhile.

use std::{
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use moka::future::Cache;

#[derive(Clone)]
pub struct EntityCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    inner: Option<Cache<K, V>>,
    epoch: Arc<AtomicU64>,
}

/// The epoch at which a read started; hand it back to [`EntityCache::insert_read`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(u64);

impl<K, V> EntityCache<K, V>
where
    K: Hash + Eq + Send + Sync + Clone + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A capacity of 0 disables caching (every read goes to the database).
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let inner = (capacity > 0 && !ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build()
        });
        Self {
            inner,
            epoch: Arc::new(AtomicU64::new(0)),
        }
    }

    pub async fn get(&self, key: &K) -> Option<V> {
        self.inner.as_ref()?.get(key).await
    }

    /// Take before reading the database.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.epoch.load(Ordering::Acquire))
    }

    /// Caches rows read since `ticket` unless an invalidation happened in between.
    pub async fn insert_read(&self, ticket: ReadTicket, rows: impl IntoIterator<Item = (K, V)>) {
        let Some(cache) = &self.inner else { return };
        for (key, value) in rows {
            if self.epoch.load(Ordering::Acquire) != ticket.0 {
                return;
            }
            cache.insert(key.clone(), value).await;
            // An invalidation may have slipped in between the check and the insert.
            if self.epoch.load(Ordering::Acquire) != ticket.0 {
                cache.invalidate(&key).await;
                return;
            }
        }
    }

    /// Drops one entity; call after the write that changed it committed.
    pub async fn invalidate(&self, key: &K) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.inner {
            cache.invalidate(key).await;
        }
    }

    /// Drops every entity matching `predicate` (e.g. all of one user's rows).
    pub fn invalidate_where(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.inner {
            // Fails only when closures are not enabled, which `new` always does.
            if cache.invalidate_entries_if(predicate).is_err() {
                cache.invalidate_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_that_raced_an_invalidation_is_not_cached() {
        let cache: EntityCache<i32, &str> = EntityCache::new(10, Duration::from_secs(60));
        let ticket = cache.ticket();
        cache.invalidate(&1).await;
        cache.insert_read(ticket, [(1, "stale")]).await;
        assert_eq!(cache.get(&1).await, None);
        let ticket = cache.ticket();
        cache.insert_read(ticket, [(1, "fresh")]).await;
        assert_eq!(cache.get(&1).await, Some("fresh"));
    }

    #[tokio::test]
    async fn capacity_zero_caches_nothing() {
        let cache: EntityCache<i32, i32> = EntityCache::new(0, Duration::from_secs(60));
        cache.insert_read(cache.ticket(), [(1, 1)]).await;
        assert_eq!(cache.get(&1).await, None);
    }
}
