//! Executes a [`QueryPlan`]: root fetches and `_entities` fetches against the
//! subgraphs, merged into one response tree ([`value`]), then written out in
//! the client's shape by [`shape`]. Entity fetches go through the entity
//! cache ([`entity_cache`], when configured) and, optionally, batches shared
//! with concurrent requests ([`batch`]); identical queries in flight share
//! one HTTP call ([`client`]).

mod batch;
pub mod breaker;
mod client;
pub mod entities;
pub mod entity_cache;
pub mod json;
pub mod retry;
pub mod shape;
pub mod value;

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::{BoxFuture, FutureExt, join_all};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value as Json, json};
use tracing::Instrument;

use crate::planner::EntityKeys;
pub use client::{
    FetchError, RawResponse, SubgraphClient, SubgraphResponse, TRACE_CONTEXT, http_client,
    request_body, variables_text,
};
use entities::entity_error_index;
pub use entities::{EntitiesResponse, Representations};
use entity_cache::EntityCache;
use value::Value;

use crate::{
    config::GatewayConfig,
    metrics::Metrics,
    planner::{ConditionNode, FetchNode, FlattenNode, OperationKind, PlanNode, QueryPlan},
    supergraph::Supergraph,
};

/// Clients for every subgraph of one supergraph, indexed like its subgraphs,
/// and what entity fetches go through.
pub struct Executor {
    supergraph: Arc<Supergraph>,
    clients: Vec<SubgraphClient>,
    cache: Option<EntityCache>,
    batcher: Option<batch::Batcher>,
    dedup: bool,
}

/// One client request, as execution needs it.
pub struct Request<'a> {
    pub variables: &'a Map<String, Json>,
    /// Headers passed on to every subgraph.
    pub headers: &'a HeaderMap,
    /// Whose private data this request may see in the entity cache
    /// ([`Executor::private_scope`]).
    pub scope: Option<u64>,
    /// A mutation operation: its fetches read fresh data (no cache, no
    /// sharing with other requests), and the entities it returns are evicted.
    pub mutation: bool,
}

/// What execution produced before shaping: the merged data and the errors.
#[derive(Debug, Default)]
pub struct Execution {
    pub data: Value,
    pub errors: Vec<Json>,
    /// Bytes of subgraph bodies received, to size the response buffer.
    pub received: usize,
}

impl Executor {
    /// Clients per subgraph (routing URLs and timeouts from `config` where it
    /// sets them), the entity cache and batching as `config` asks.
    /// `entity_keys` are the supergraph's `@key`s (from the planner).
    pub fn new(
        supergraph: Arc<Supergraph>,
        http: reqwest::Client,
        config: &GatewayConfig,
        metrics: &Metrics,
        entity_keys: EntityKeys,
    ) -> Self {
        let clients: Vec<SubgraphClient> = supergraph
            .subgraphs()
            .iter()
            .map(|s| {
                let url = config
                    .subgraph_urls
                    .get(&s.name)
                    .cloned()
                    .unwrap_or_else(|| s.url.clone());
                let now = std::time::Instant::now();
                SubgraphClient::new(
                    s.name.clone(),
                    url,
                    config.subgraph_timeout_for(&s.name),
                    http.clone(),
                    metrics.subgraph(&s.name),
                    breaker::Breaker::new(
                        &s.name,
                        config.breaker_for(&s.name),
                        metrics.breaker(&s.name),
                        now,
                    ),
                    retry::Retry::new(config.retry_for(&s.name), now),
                )
            })
            .collect();
        let longest_fetch = clients
            .iter()
            .map(|c| c.timeout)
            .max()
            .unwrap_or(Duration::ZERO);
        let cache = config.entity_cache.enabled.then(|| {
            EntityCache::new(
                config.entity_cache.clone(),
                entity_keys,
                longest_fetch,
                metrics.entity_cache_evictions.clone(),
            )
        });
        let batcher = (config.entity_batch_window_us > 0).then(|| {
            batch::Batcher::new(
                Duration::from_micros(config.entity_batch_window_us),
                config.entity_batch_max,
            )
        });
        Self {
            supergraph,
            clients,
            cache,
            batcher,
            dedup: config.dedup_subgraph_requests,
        }
    }

    pub fn clients(&self) -> &[SubgraphClient] {
        &self.clients
    }

    /// The entity cache, when configured.
    pub fn entity_cache(&self) -> Option<&EntityCache> {
        self.cache.as_ref()
    }

    /// The private scope of a client request (from its headers).
    pub fn private_scope(&self, headers: &HeaderMap) -> Option<u64> {
        self.cache.as_ref().and_then(|c| c.scope(headers))
    }

    /// Runs every fetch of `plan`; never fails as a whole: a failed fetch leaves
    /// its fields out of the data and says why in the errors.
    pub async fn execute(&self, plan: &QueryPlan, request: &Request<'_>) -> Execution {
        let run = Run {
            executor: self,
            request,
            data: Mutex::new(Value::Object(value::Object::default())),
            errors: Mutex::new(Vec::new()),
            received: AtomicUsize::new(0),
        };
        if let Some(node) = &plan.node {
            run.node(node).await;
        }
        let execution = Execution {
            data: run.data.into_inner().unwrap_or_else(|p| p.into_inner()),
            errors: run.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
            received: run.received.into_inner(),
        };
        if request.mutation
            && let Some(cache) = &self.cache
        {
            let evicted = cache.evict_all_in(&execution.data);
            if evicted > 0 {
                tracing::debug!(evicted, "mutation evicted cached entities");
            }
        }
        execution
    }
}

struct Run<'a> {
    executor: &'a Executor,
    request: &'a Request<'a>,
    data: Mutex<Value>,
    errors: Mutex<Vec<Json>>,
    received: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Run<'_> {
    fn node<'s>(&'s self, node: &'s PlanNode) -> BoxFuture<'s, ()> {
        async move {
            match node {
                PlanNode::Fetch(fetch) => self.root_fetch(fetch).await,
                PlanNode::Flatten(flatten) => self.flatten(flatten).await,
                PlanNode::Sequence(nodes) => {
                    for node in nodes {
                        self.node(node).await;
                    }
                }
                PlanNode::Parallel(nodes) => {
                    join_all(nodes.iter().map(|n| self.node(n))).await;
                }
                PlanNode::Condition(condition) => self.condition(condition).await,
            }
        }
        .boxed()
    }

    async fn condition(&self, condition: &ConditionNode) {
        let value = self
            .request
            .variables
            .get(&condition.variable)
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let branch = if value {
            &condition.if_true
        } else {
            &condition.if_false
        };
        if let Some(node) = branch {
            self.node(node).await;
        }
    }

    /// Queries may share an identical request in flight, and be retried;
    /// nothing of a mutation operation is (it must read its own writes, and
    /// run once).
    fn may_share(&self, fetch: &FetchNode) -> bool {
        !self.request.mutation && fetch.operation_kind == OperationKind::Query
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        let client = &self.executor.clients[fetch.subgraph.0];
        let variables = variables_text(self.request.variables, &fetch.variable_usages);
        let body = request_body(
            &fetch.operation,
            &variables,
            None::<std::iter::Empty<&[u8]>>,
        );
        let span = tracing::info_span!("subgraph_fetch", subgraph = %client.name, entities = false);
        match self.send(fetch, client, body).instrument(span).await {
            Ok((response, _)) => {
                if let Some(data) = response.data {
                    json::deep_merge(&mut lock(&self.data), data);
                }
                let service = &fetch.service_name;
                lock(&self.errors).extend(
                    response
                        .errors
                        .into_iter()
                        .map(|e| with_service(e, service, Some)),
                );
            }
            Err(e) => self.fetch_failed(&client.name, &e, None),
        }
    }

    async fn flatten(&self, flatten: &FlattenNode) {
        let PlanNode::Fetch(fetch) = flatten.node.as_ref() else {
            // The planner only puts fetches under a flatten.
            return;
        };
        let Some(requires) = &fetch.requires else {
            return;
        };
        let cache = self
            .executor
            .cache
            .as_ref()
            .filter(|_| self.may_share(fetch));
        let reps = {
            let data = lock(&self.data);
            Representations::collect(
                &data,
                flatten,
                fetch,
                requires,
                &self.executor.supergraph,
                cache,
            )
        };
        if reps.is_empty() {
            return;
        }
        let client = &self.executor.clients[fetch.subgraph.0];
        let span = tracing::info_span!(
            "subgraph_fetch",
            subgraph = %client.name,
            entities = reps.len(),
            cache_hits = tracing::field::Empty,
            cache_misses = tracing::field::Empty,
        );

        // Entities per distinct representation: from the cache, or fetched.
        let mut results: Vec<Option<Value>> = vec![None; reps.len()];
        let mut misses: Vec<usize> = Vec::with_capacity(reps.len());
        if let Some(cache) = cache {
            let now = std::time::Instant::now();
            for (i, result) in results.iter_mut().enumerate() {
                *result = reps
                    .cached_as(i)
                    .and_then(|(id, selection)| cache.get(id, *selection, self.request.scope, now));
                if result.is_none() {
                    misses.push(i);
                }
            }
            let hits = reps.len() - misses.len();
            span.record("cache_hits", hits);
            span.record("cache_misses", misses.len());
            client.metrics().cache_hits.increment(hits as u64);
            client.metrics().cache_misses.increment(misses.len() as u64);
        } else {
            misses.extend(0..reps.len());
        }

        // Errors with the index (into `misses`) of the representation they
        // blame, and the rest of their path.
        let mut blamed: Vec<(Json, Option<Blame>)> = Vec::new();
        if !misses.is_empty() {
            let epoch = cache.map(EntityCache::epoch);
            let sent: Vec<&[u8]> = misses.iter().map(|d| reps.text(*d)).collect();
            match self
                .fetch_entities(fetch, client, &sent)
                .instrument(span)
                .await
            {
                Ok(response) => {
                    if let (Some(cache), Some(epoch)) = (cache, epoch)
                        && response.errors.is_empty()
                    {
                        self.keep(cache, epoch, &reps, &misses, &response);
                    }
                    for error in response.errors {
                        let blame = entity_error_index(&error, &response.entities);
                        blamed.push((error, blame));
                    }
                    for (k, entity) in response.entities.into_iter().enumerate() {
                        if let Some(d) = misses.get(k) {
                            results[*d] = Some(entity);
                        }
                    }
                }
                Err(e) => {
                    let path = reps.path_of(&lock(&self.data), misses[0]);
                    self.fetch_failed(&client.name, &e, Some(path));
                }
            }
        }

        let mut data = lock(&self.data);
        // Error paths first: `_entities.N.rest` becomes the path of the N-th
        // sent representation's first object, then `rest`.
        let service = &fetch.service_name;
        let errors: Vec<Json> = blamed
            .into_iter()
            .map(|(error, blame)| {
                let path = blame.and_then(|(n, rest)| {
                    let mut path = reps.path_of(&data, *misses.get(n)?);
                    path.extend(rest);
                    Some(path)
                });
                with_service(error, service, |_| path)
            })
            .collect();
        reps.merge(&mut data, results);
        drop(data);
        lock(&self.errors).extend(errors);
    }

    /// Keeps freshly fetched entities in the cache, as the subgraph's
    /// `Cache-Control` and the configuration allow.
    fn keep(
        &self,
        cache: &EntityCache,
        epoch: u64,
        reps: &Representations,
        misses: &[usize],
        response: &EntitiesResponse,
    ) {
        for (entity, d) in response.entities.iter().zip(misses) {
            let Some((id, selection)) = reps.cached_as(*d) else {
                continue;
            };
            if !matches!(entity, Value::Object(_)) {
                continue;
            }
            if let Some(policy) = cache.policy(&id.typename, response.cache_control.as_ref()) {
                cache.insert(
                    id.clone(),
                    *selection,
                    self.request.scope,
                    policy,
                    epoch,
                    entity.clone(),
                );
            }
        }
    }

    async fn fetch_entities(
        &self,
        fetch: &FetchNode,
        client: &SubgraphClient,
        representations: &[&[u8]],
    ) -> Result<EntitiesResponse, FetchError> {
        let variables = variables_text(self.request.variables, &fetch.variable_usages);
        if let Some(batcher) = &self.executor.batcher
            && self.may_share(fetch)
        {
            return batcher
                .fetch(
                    client,
                    fetch.subgraph.0,
                    &fetch.operation,
                    variables,
                    self.request.headers,
                    representations,
                )
                .await;
        }
        let body = request_body(
            &fetch.operation,
            &variables,
            Some(representations.iter().copied()),
        );
        let (parsed, cache_control) = self.send(fetch, client, body).await?;
        Ok(EntitiesResponse::new(parsed, cache_control))
    }

    /// Sends one request of `fetch` (joining an identical one in flight
    /// where that is allowed) and parses the answer; its `Cache-Control` too.
    async fn send(
        &self,
        fetch: &FetchNode,
        client: &SubgraphClient,
        body: Vec<u8>,
    ) -> Result<(SubgraphResponse, Option<HeaderValue>), FetchError> {
        let dedup = self.executor.dedup && self.may_share(fetch);
        let raw = client
            .fetch(body, self.request.headers, dedup, self.may_share(fetch))
            .await?;
        self.received.fetch_add(raw.body.len(), Ordering::Relaxed);
        Ok((raw.parse()?, raw.cache_control))
    }

    fn fetch_failed(&self, service: &str, error: &FetchError, path: Option<Vec<Json>>) {
        tracing::warn!(subgraph = service, %error, "subgraph fetch failed");
        let mut e = json!({
            "message": format!("request to subgraph `{service}` failed: {error}"),
            "extensions": { "code": error.code(), "serviceName": service },
        });
        if let Some(path) = path {
            e["path"] = Json::Array(path);
        }
        lock(&self.errors).push(e);
    }
}

/// Which sent representation an error blames, and the rest of its path.
type Blame = (usize, Vec<Json>);

/// Adds `extensions.serviceName` and rewrites (or drops) the error's path.
fn with_service(
    mut error: Json,
    service: &str,
    rewrite: impl FnOnce(Vec<Json>) -> Option<Vec<Json>>,
) -> Json {
    if !error.is_object() {
        error = json!({ "message": error.to_string() });
    }
    let Some(object) = error.as_object_mut() else {
        return error;
    };
    let path = match object.remove("path") {
        Some(Json::Array(path)) => rewrite(path),
        _ => rewrite(Vec::new()).filter(|p| !p.is_empty()),
    };
    if let Some(path) = path {
        object.insert("path".into(), Json::Array(path));
    }
    object.remove("locations");
    let extensions = object.entry("extensions").or_insert_with(|| json!({}));
    if let Some(ext) = extensions.as_object_mut() {
        ext.insert("serviceName".into(), Json::String(service.to_owned()));
    }
    error
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn service_errors_get_the_service_and_a_rewritten_path() {
        let error = with_service(
            json!({ "message": "m", "path": ["a"], "locations": [] }),
            "users",
            |_| Some(vec![json!("b"), json!(0)]),
        );
        assert_eq!(
            error,
            json!({ "message": "m", "path": ["b", 0], "extensions": { "serviceName": "users" } })
        );
        let error = with_service(json!({ "message": "m" }), "users", Some);
        assert_eq!(
            error,
            json!({ "message": "m", "extensions": { "serviceName": "users" } })
        );
    }
}
