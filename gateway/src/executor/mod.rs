//! Executes a [`QueryPlan`]: root fetches and `_entities` fetches against the
//! subgraphs, merged into one response tree, then shaped to the client's
//! operation (field order, aliases, null propagation) by [`shape`].

mod client;
pub mod json;
pub mod shape;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::{BoxFuture, FutureExt, join_all};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use tracing::Instrument;

pub use client::{FetchError, SubgraphClient, SubgraphResponse, http_client};
use json::{PathSegment, Position};

use crate::{
    planner::{ConditionNode, FetchNode, FlattenNode, PlanNode, QueryPlan},
    supergraph::Supergraph,
};

/// Clients for every subgraph of one supergraph, indexed like its subgraphs.
pub struct Executor {
    supergraph: Arc<Supergraph>,
    clients: Vec<SubgraphClient>,
}

/// What execution produced before shaping: the merged data and the errors.
#[derive(Debug, Default)]
pub struct Execution {
    pub data: Value,
    pub errors: Vec<Value>,
}

struct Run<'a> {
    executor: &'a Executor,
    variables: &'a Map<String, Value>,
    headers: &'a HeaderMap,
    data: Mutex<Value>,
    errors: Mutex<Vec<Value>>,
}

impl Executor {
    /// `url_of` may override the supergraph's routing URLs (configuration).
    pub fn new(
        supergraph: Arc<Supergraph>,
        http: reqwest::Client,
        timeout_of: impl Fn(&str) -> Duration,
        url_of: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let clients = supergraph
            .subgraphs()
            .iter()
            .map(|s| {
                let url = url_of(&s.name).unwrap_or_else(|| s.url.clone());
                SubgraphClient::new(s.name.clone(), url, timeout_of(&s.name), http.clone())
            })
            .collect();
        Self {
            supergraph,
            clients,
        }
    }

    pub fn clients(&self) -> &[SubgraphClient] {
        &self.clients
    }

    /// Runs every fetch of `plan`; never fails as a whole: a failed fetch leaves
    /// its fields out of the data and says why in the errors.
    pub async fn execute(
        &self,
        plan: &QueryPlan,
        variables: &Map<String, Value>,
        headers: &HeaderMap,
    ) -> Execution {
        let run = Run {
            executor: self,
            variables,
            headers,
            data: Mutex::new(Value::Object(Map::new())),
            errors: Mutex::new(Vec::new()),
        };
        if let Some(node) = &plan.node {
            run.node(node).await;
        }
        Execution {
            data: run.data.into_inner().unwrap_or_else(|p| p.into_inner()),
            errors: run.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
        }
    }
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
            .variables
            .get(&condition.variable)
            .and_then(Value::as_bool)
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

    fn variables_for(&self, fetch: &FetchNode) -> Map<String, Value> {
        fetch
            .variable_usages
            .iter()
            .filter_map(|name| self.variables.get(name).map(|v| (name.clone(), v.clone())))
            .collect()
    }

    async fn send(
        &self,
        fetch: &FetchNode,
        variables: Map<String, Value>,
    ) -> Result<SubgraphResponse, (String, FetchError)> {
        let client = &self.executor.clients[fetch.subgraph.0];
        let body = json!({ "query": fetch.operation, "variables": variables });
        let span = tracing::info_span!("subgraph_fetch", subgraph = %client.name, entities = fetch.requires.is_some());
        client
            .fetch(&body, self.headers.clone())
            .instrument(span)
            .await
            .map_err(|e| (client.name.clone(), e))
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        match self.send(fetch, self.variables_for(fetch)).await {
            Ok(response) => {
                if let Some(data) = response.data {
                    json::deep_merge(
                        &mut self.data.lock().unwrap_or_else(|p| p.into_inner()),
                        data,
                    );
                }
                let service = &fetch.service_name;
                let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
                errors.extend(
                    response
                        .errors
                        .into_iter()
                        .map(|e| with_service(e, service, |path| Some(path.to_vec()))),
                );
            }
            Err((service, e)) => self.fetch_failed(&service, &e, None),
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
        // Representations, each sent once, and every position that produced it.
        let (representations, positions) = {
            let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
            let mut representations: Vec<Value> = Vec::new();
            let mut positions: Vec<Vec<Position>> = Vec::new();
            let mut index: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            let supergraph = &self.executor.supergraph;
            let matches = |condition: &str, typename: &str| {
                supergraph.type_condition_matches(condition, typename)
            };
            for position in json::objects_at(&data, &flatten.path) {
                let Some(object) = json::get(&data, &position) else {
                    continue;
                };
                let Some(rep) =
                    json::representation(object, requires, &fetch.typename_overrides, &matches)
                else {
                    continue;
                };
                let key = rep.to_string();
                let i = *index.entry(key).or_insert_with(|| {
                    representations.push(rep);
                    positions.push(Vec::new());
                    representations.len() - 1
                });
                positions[i].push(position);
            }
            (representations, positions)
        };
        if representations.is_empty() {
            return;
        }
        let mut variables = self.variables_for(fetch);
        variables.insert("representations".into(), Value::Array(representations));
        match self.send(fetch, variables).await {
            Ok(response) => {
                let entities = match response.data {
                    Some(Value::Object(mut data)) => match data.remove("_entities") {
                        Some(Value::Array(list)) => list,
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                {
                    let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
                    for (entity, at) in entities.iter().zip(&positions) {
                        for position in at {
                            if let Some(target) = json::get_mut(&mut data, position) {
                                json::deep_merge(target, entity.clone());
                            }
                        }
                    }
                }
                let service = &fetch.service_name;
                let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
                errors.extend(response.errors.into_iter().map(|e| {
                    with_service(e, service, |path| {
                        entity_error_path(path, &entities, &positions)
                    })
                }));
            }
            Err((service, e)) => {
                let first = positions.first().and_then(|p| p.first()).cloned();
                self.fetch_failed(&service, &e, first.as_deref())
            }
        }
    }

    fn fetch_failed(&self, service: &str, error: &FetchError, position: Option<&[PathSegment]>) {
        tracing::warn!(subgraph = service, %error, "subgraph fetch failed");
        let mut e = json!({
            "message": format!("request to subgraph `{service}` failed: {error}"),
            "extensions": { "code": "SUBGRAPH_REQUEST_FAILED", "serviceName": service },
        });
        if let Some(position) = position {
            e["path"] = Value::Array(position.iter().map(PathSegment::to_json).collect());
        }
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e);
    }
}

/// The client's path of an `_entities` error: `_entities.N.rest` becomes the
/// path of the N-th representation's first position, then `rest`.
fn entity_error_path(
    path: &[Value],
    entities: &[Value],
    positions: &[Vec<Position>],
) -> Option<Vec<Value>> {
    let (n, rest) = match path {
        [Value::String(root), Value::Number(n), rest @ ..] if root == "_entities" => {
            (usize::try_from(n.as_u64()?).ok()?, rest)
        }
        // Some subgraphs (async-graphql 7) leave the index out: blame the
        // first entity that came back without the field.
        [Value::String(root), Value::String(field), ..] if root == "_entities" => {
            let n = entities
                .iter()
                .position(|e| e.get(field).is_none_or(Value::is_null))?;
            (n, &path[1..])
        }
        // The whole `_entities` field failed (async-graphql fails it when any
        // one representation fails): every entity is null, so blame the first
        // one, as for a failed fetch, rather than lose the path.
        [Value::String(root)] if root == "_entities" => (0, &[][..]),
        _ => return None,
    };
    let first = positions.get(n)?.first()?;
    Some(
        first
            .iter()
            .map(PathSegment::to_json)
            .chain(rest.iter().cloned())
            .collect(),
    )
}

/// Adds `extensions.serviceName` and rewrites (or drops) the error's path.
fn with_service(
    mut error: Value,
    service: &str,
    rewrite: impl Fn(&[Value]) -> Option<Vec<Value>>,
) -> Value {
    if !error.is_object() {
        error = json!({ "message": error.to_string() });
    }
    let path = error
        .get("path")
        .and_then(Value::as_array)
        .and_then(|p| rewrite(p));
    let Some(object) = error.as_object_mut() else {
        return error;
    };
    match path {
        Some(path) => {
            object.insert("path".into(), Value::Array(path));
        }
        None => {
            object.remove("path");
        }
    }
    object.remove("locations");
    let extensions = object.entry("extensions").or_insert_with(|| json!({}));
    if let Some(ext) = extensions.as_object_mut() {
        ext.insert("serviceName".into(), Value::String(service.to_owned()));
    }
    error
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn position(path: Value) -> Position {
        path.as_array()
            .expect("array")
            .iter()
            .map(|s| match s {
                Value::String(k) => PathSegment::Key(k.clone()),
                Value::Number(i) => PathSegment::Index(i.as_u64().expect("index") as usize),
                _ => unreachable!("keys and indexes only"),
            })
            .collect()
    }

    #[test]
    fn entity_error_paths_map_to_the_client_path() {
        let positions = vec![
            vec![position(json!(["reviews", 0, "editor"]))],
            vec![
                position(json!(["reviews", 2, "editor"])),
                position(json!(["reviews", 3, "editor"])),
            ],
        ];
        let entities = vec![json!({ "name": "a" }), json!({ "name": null })];
        let path = |p: Value| {
            entity_error_path(p.as_array().expect("array"), &entities, &positions).map(Value::Array)
        };
        assert_eq!(
            path(json!(["_entities", 1, "name"])),
            Some(json!(["reviews", 2, "editor", "name"]))
        );
        assert_eq!(
            path(json!(["_entities", "name"])),
            Some(json!(["reviews", 2, "editor", "name"]))
        );
        // The whole field failed: the first entity's path.
        assert_eq!(
            path(json!(["_entities"])),
            Some(json!(["reviews", 0, "editor"]))
        );
        assert_eq!(path(json!(["_entities", 7])), None);
        assert_eq!(path(json!(["other"])), None);
    }
}
