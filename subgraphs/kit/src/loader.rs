//! The by-id loader every subgraph uses for its own entity: one `WHERE id IN (...)`
//! per batch, behind the moka cache, counted in the metrics.

use std::{collections::HashMap, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{cache::EntityCache, error::LoadError, metrics::LoaderMetrics};

pub struct EntityLoader<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
{
    db: DatabaseConnection,
    cache: EntityCache<i32, E::Model>,
    metrics: LoaderMetrics,
    id_column: E::Column,
    id_of: fn(&E::Model) -> i32,
}

impl<E> EntityLoader<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
{
    pub fn new(
        db: DatabaseConnection,
        cache: EntityCache<i32, E::Model>,
        metrics: LoaderMetrics,
        id_column: E::Column,
        id_of: fn(&E::Model) -> i32,
    ) -> Self {
        Self {
            db,
            cache,
            metrics,
            id_column,
            id_of,
        }
    }
}

impl<E> Loader<i32> for EntityLoader<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync,
    E::Column: Send + Sync,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, E::Model>, LoadError> {
        self.metrics.batches.increment(1);
        self.metrics.keys.increment(keys.len() as u64);
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            match self.cache.get(key).await {
                Some(model) => {
                    found.insert(*key, model);
                }
                None => missing.push(*key),
            }
        }
        self.metrics.cache_hits.increment(found.len() as u64);
        self.metrics.cache_misses.increment(missing.len() as u64);
        if !missing.is_empty() {
            let ticket = self.cache.ticket();
            let rows = E::find()
                .filter(self.id_column.is_in(missing))
                .all(&self.db)
                .await?;
            let rows: Vec<(i32, E::Model)> =
                rows.into_iter().map(|m| ((self.id_of)(&m), m)).collect();
            self.cache.insert_read(ticket, rows.clone()).await;
            found.extend(rows);
        }
        Ok(found)
    }
}

/// Wraps a loader in async-graphql's DataLoader without its never-expiring
/// cache: moka holds hot entities, with a TTL and invalidation.
pub fn batched<L>(loader: L, delay: Duration) -> DataLoader<L> {
    DataLoader::new(loader, tokio::spawn).delay(delay)
}
