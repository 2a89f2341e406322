//! One entity fetch's data: the representations read out of the response
//! tree (each sent once, remembering every object it came from), the
//! subgraph's `_entities` answer, and the merge of the entities back into
//! the tree at those objects.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash, Hasher},
    ops::Range,
};

use reqwest::header::HeaderValue;
use serde_json::Value as Json;
use smallvec::SmallVec;

use super::{
    client::SubgraphResponse,
    entity_cache::{EntityCache, EntityId},
    json::{self, Positions},
    value::Value,
};
use crate::{
    planner::{FetchNode, FlattenNode, SelectionSet},
    supergraph::Supergraph,
};

/// An `_entities` answer: the entities in the order the representations were
/// sent, and the subgraph's errors as it gave them.
#[derive(Debug, Default)]
pub struct EntitiesResponse {
    pub entities: Vec<Value>,
    pub errors: Vec<Json>,
    pub cache_control: Option<HeaderValue>,
}

impl EntitiesResponse {
    pub fn new(response: SubgraphResponse, cache_control: Option<HeaderValue>) -> Self {
        let entities = match response.data {
            Some(Value::Object(mut data)) => match data.remove("_entities") {
                Some(Value::Array(list)) => list,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        Self {
            entities,
            errors: response.errors,
            cache_control,
        }
    }
}

/// The representations of one entity fetch, each once, with the objects
/// (positions in the tree) it was read from.
#[derive(Default)]
pub struct Representations {
    positions: Positions,
    /// Every distinct representation's JSON text, back to back.
    text: Vec<u8>,
    distinct: Vec<Distinct>,
}

struct Distinct {
    range: Range<usize>,
    /// Indexes into `positions` of the objects it was read from.
    owners: SmallVec<[u32; 1]>,
    /// With the entity cache on: the entity and its variant.
    cached_as: Option<(EntityId, u64)>,
}

impl Representations {
    /// Reads the representations of `fetch` (an entity fetch, whose
    /// `requires` is given) out of the objects at the flatten's path; with a
    /// cache, also which cached entity each stands for.
    pub fn collect(
        data: &Value,
        flatten: &FlattenNode,
        fetch: &FetchNode,
        requires: &SelectionSet,
        supergraph: &Supergraph,
        cache: Option<&EntityCache>,
    ) -> Self {
        let positions = json::objects_at(data, &flatten.path);
        let matches =
            |condition: &str, typename: &str| supergraph.type_condition_matches(condition, typename);
        let hasher = std::hash::RandomState::new();
        let mut seen: HashMap<u64, SmallVec<[usize; 1]>> = HashMap::new();
        let mut out = Representations {
            text: Vec::with_capacity(positions.len() * 32),
            distinct: Vec::new(),
            positions: Positions::default(),
        };
        let mut scratch = Vec::with_capacity(64);
        let seed = cache.map(|c| c.fetch_seed(fetch.subgraph, &fetch.operation));
        for (i, position) in positions.iter().enumerate() {
            let Some(object) = json::get(data, position) else {
                continue;
            };
            let Some(rep) =
                json::representation(object, requires, &fetch.typename_overrides, &matches)
            else {
                continue;
            };
            scratch.clear();
            rep.write_json(&mut scratch);
            let mut h = hasher.build_hasher();
            scratch.hash(&mut h);
            let candidates = seen.entry(h.finish()).or_default();
            let text = &out.text;
            let distinct = &out.distinct;
            match candidates
                .iter()
                .find(|d| text[distinct[**d].range.clone()] == scratch[..])
            {
                Some(d) => out.distinct[*d].owners.push(i as u32),
                None => {
                    let start = out.text.len();
                    out.text.extend_from_slice(&scratch);
                    let cached_as = cache.and_then(|cache| {
                        let typename = rep.get("__typename")?.as_str()?;
                        if !cache.caches(typename) {
                            return None;
                        }
                        let id = cache.identity(&rep, fetch.subgraph)?;
                        Some((id, cache.selection(seed?, &scratch)))
                    });
                    candidates.push(out.distinct.len());
                    out.distinct.push(Distinct {
                        range: start..out.text.len(),
                        owners: SmallVec::from_elem(i as u32, 1),
                        cached_as,
                    });
                }
            }
        }
        out.positions = positions;
        out
    }

    /// How many distinct representations there are.
    pub fn len(&self) -> usize {
        self.distinct.len()
    }

    pub fn is_empty(&self) -> bool {
        self.distinct.is_empty()
    }

    /// The JSON text of the `i`-th distinct representation.
    pub fn text(&self, i: usize) -> &[u8] {
        &self.text[self.distinct[i].range.clone()]
    }

    /// The cached entity and variant the `i`-th stands for (cache on).
    pub(crate) fn cached_as(&self, i: usize) -> Option<&(EntityId, u64)> {
        self.distinct[i].cached_as.as_ref()
    }

    /// The response path of the first object the `i`-th was read from.
    pub fn path_of(&self, data: &Value, i: usize) -> Vec<Json> {
        json::response_path(data, self.positions.get(self.distinct[i].owners[0] as usize))
    }

    /// Merges the entity of each distinct representation (`None`: nothing)
    /// into every object it was read from; the last one gets it moved.
    pub fn merge(&self, data: &mut Value, entities: Vec<Option<Value>>) {
        for (distinct, entity) in self.distinct.iter().zip(entities) {
            let Some(mut entity) = entity else { continue };
            let (last, rest) = match distinct.owners.split_last() {
                Some(split) => split,
                None => continue,
            };
            for owner in rest {
                if let Some(target) = json::get_mut(data, self.positions.get(*owner as usize)) {
                    json::deep_merge(target, entity.clone());
                }
            }
            if let Some(target) = json::get_mut(data, self.positions.get(*last as usize)) {
                json::deep_merge(target, std::mem::take(&mut entity));
            }
        }
    }
}

/// Which sent representation an `_entities` error blames, and the rest of
/// its path: `_entities.N.rest` blames N.
pub(crate) fn entity_error_index(error: &Json, entities: &[Value]) -> Option<(usize, Vec<Json>)> {
    let path = error.get("path")?.as_array()?;
    match path.as_slice() {
        [Json::String(root), Json::Number(n), rest @ ..] if root == "_entities" => {
            Some((usize::try_from(n.as_u64()?).ok()?, rest.to_vec()))
        }
        // Some subgraphs (async-graphql 7) leave the index out: blame the
        // first entity that came back without the field.
        [Json::String(root), Json::String(field), ..] if root == "_entities" => {
            let n = entities
                .iter()
                .position(|e| e.get(field).is_none_or(Value::is_null))?;
            Some((n, path[1..].to_vec()))
        }
        // The whole `_entities` field failed (async-graphql fails it when any
        // one representation fails): every entity is null, so blame the first
        // one, as for a failed fetch, rather than lose the path.
        [Json::String(root)] if root == "_entities" => Some((0, Vec::new())),
        _ => None,
    }
}


#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entity_errors_blame_the_representation_they_name() {
        let entities = vec![
            Value::from(json!({ "name": "a" })),
            Value::from(json!({ "name": null })),
        ];
        let blame = |p: Json| entity_error_index(&json!({ "message": "x", "path": p }), &entities);
        assert_eq!(blame(json!(["_entities", 1, "name"])), Some((1, vec![json!("name")])));
        // No index (async-graphql): the first entity without the field.
        assert_eq!(blame(json!(["_entities", "name"])), Some((1, vec![json!("name")])));
        // The whole field failed: the first one.
        assert_eq!(blame(json!(["_entities"])), Some((0, vec![])));
        assert_eq!(blame(json!(["other"])), None);
    }
}
