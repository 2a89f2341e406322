//! Cross-request entity batching: entity fetches for the same subgraph and
//! selection from concurrent client requests coalesce into one `_entities`
//! call. The first fetch opens a batch and sends it after a short window (or
//! once it holds `max` representations); fetches arriving meanwhile add
//! their representations (each sent once) and wait for the shared answer,
//! from which each takes its own entities and errors.
//!
//! Off by default (window 0): on a machine where the subgraphs are the
//! bottleneck it trades each request's latency for fewer, larger subgraph
//! calls; `bench/RESULTS.md` has the measurements.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde_json::Value as Json;
use tokio::sync::oneshot;

use super::{
    EntitiesResponse,
    client::{FetchError, SubgraphClient, header_identity, request_body},
    entities::indexed_entity,
};

/// What makes entity fetches share one request: the same subgraph, the same
/// operation and variables, the same forwarded headers.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BatchKey {
    subgraph: usize,
    operation: Arc<str>,
    variables: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

type Shared = Arc<Result<EntitiesResponse, FetchError>>;

#[derive(Default)]
struct Pending {
    id: u64,
    representations: Vec<Bytes>,
    index: HashMap<Bytes, usize>,
    waiters: Vec<oneshot::Sender<Shared>>,
}

pub struct Batcher {
    window: Duration,
    max: usize,
    pending: Arc<Mutex<HashMap<BatchKey, Pending>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Batcher {
    pub fn new(window: Duration, max: usize) -> Self {
        Self {
            window,
            max: max.max(1),
            pending: Arc::default(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Fetches `representations` through a batch shared with other requests;
    /// the answer holds this caller's entities, in its order, and the errors
    /// that concern them (`_entities.N` renumbered to this caller's list).
    pub async fn fetch(
        &self,
        client: &SubgraphClient,
        subgraph: usize,
        operation: &str,
        variables: Vec<u8>,
        headers: &HeaderMap,
        representations: &[&[u8]],
    ) -> Result<EntitiesResponse, FetchError> {
        let key = BatchKey {
            subgraph,
            operation: Arc::from(operation),
            variables,
            // The batch goes out with its opener's trace context.
            headers: header_identity(headers),
        };
        let (receiver, mine, joined) = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let joined = pending.contains_key(&key);
            let batch = pending.entry(key.clone()).or_insert_with(|| {
                let id = self
                    .next_id
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.flush_after_window(key.clone(), id, client.clone(), headers.clone());
                Pending {
                    id,
                    ..Pending::default()
                }
            });
            let mine: Vec<usize> = representations
                .iter()
                .map(|rep| {
                    let rep = Bytes::copy_from_slice(rep);
                    *batch.index.entry(rep.clone()).or_insert_with(|| {
                        batch.representations.push(rep);
                        batch.representations.len() - 1
                    })
                })
                .collect();
            let (sender, receiver) = oneshot::channel();
            batch.waiters.push(sender);
            if batch.representations.len() >= self.max
                && let Some(full) = pending.remove(&key)
            {
                tokio::spawn(send(key, full, client.clone(), headers.clone()));
            }
            (receiver, mine, joined)
        };
        if joined {
            client.metrics().batched.increment(1);
        }
        let shared = receiver
            .await
            .map_err(|_| FetchError::Connect("the shared entity batch was dropped".into()))?;
        match shared.as_ref() {
            Ok(response) => Ok(response.for_caller(&mine)),
            Err(e) => Err(e.clone()),
        }
    }

    fn flush_after_window(
        &self,
        key: BatchKey,
        id: u64,
        client: SubgraphClient,
        headers: HeaderMap,
    ) {
        let pending = self.pending.clone();
        let window = self.window;
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            let batch = {
                let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
                match pending.get(&key) {
                    // Still this window's batch (not already sent because it filled up).
                    Some(batch) if batch.id == id => pending.remove(&key),
                    _ => None,
                }
            };
            if let Some(batch) = batch {
                send(key, batch, client, headers).await;
            }
        });
    }
}

async fn send(key: BatchKey, batch: Pending, client: SubgraphClient, headers: HeaderMap) {
    let body = request_body(
        &key.operation,
        &key.variables,
        Some(batch.representations.iter().map(|r| r.as_ref())),
    );
    // Every representation is in the body once: nothing identical to dedup.
    // Only queries' fetches are batched, so a failed batch may be retried.
    let outcome = match client.fetch(body, &headers, false, true).await {
        Ok(raw) => raw
            .parse()
            .map(|parsed| EntitiesResponse::new(parsed, raw.cache_control)),
        Err(e) => Err(e),
    };
    let shared: Shared = Arc::new(outcome);
    for waiter in batch.waiters {
        // A waiter that went away (its client disconnected) needs nothing.
        let _ = waiter.send(shared.clone());
    }
}

impl EntitiesResponse {
    /// The part of a shared batch answer that concerns the representations at
    /// `mine` (indexes into the batch), renumbered from 0.
    fn for_caller(&self, mine: &[usize]) -> EntitiesResponse {
        let entities = mine
            .iter()
            .map(|i| self.entities.get(*i).cloned().unwrap_or_default())
            .collect();
        let errors = self
            .errors
            .iter()
            .filter_map(|error| {
                let index = error
                    .get("path")
                    .and_then(Json::as_array)
                    .and_then(|path| indexed_entity(path))
                    .map(|(n, _)| n);
                match index {
                    // An error about one entity goes to whoever asked for it.
                    Some(n) => {
                        let local = mine.iter().position(|i| *i == n)?;
                        let mut error = error.clone();
                        if let Some(path) = error.get_mut("path").and_then(Json::as_array_mut) {
                            path[1] = Json::from(local);
                        }
                        Some(error)
                    }
                    // One that names no entity concerns the whole batch.
                    None => Some(error.clone()),
                }
            })
            .collect();
        EntitiesResponse {
            entities,
            errors,
            cache_control: self.cache_control.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::executor::value::Value;

    #[test]
    fn each_caller_gets_its_entities_and_their_errors() {
        let response = EntitiesResponse {
            entities: vec![
                Value::from(json!({ "n": 0 })),
                Value::from(json!({ "n": 1 })),
                Value::Null,
            ],
            errors: vec![
                json!({ "message": "boom", "path": ["_entities", 2, "n"] }),
                json!({ "message": "everyone" }),
            ],
            cache_control: None,
        };
        let mine = response.for_caller(&[2, 0]);
        assert_eq!(
            mine.entities,
            vec![Value::Null, Value::from(json!({ "n": 0 }))]
        );
        assert_eq!(
            mine.errors,
            vec![
                json!({ "message": "boom", "path": ["_entities", 0, "n"] }),
                json!({ "message": "everyone" }),
            ]
        );
        let other = response.for_caller(&[1]);
        assert_eq!(other.errors, vec![json!({ "message": "everyone" })]);
    }
}
