//! One entity fetch's data: the representations read out of the response
//! tree (each sent once, remembering every object it came from), the
//! subgraph's `_entities` answer, and the merge of the entities back into
//! the tree at those objects.

use std::{collections::HashMap, hash::BuildHasher, ops::Range};

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
    planner::{FetchNode, FlattenNode, PathElement, SelectionSet},
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
    path: Vec<PathElement>,
    positions: Positions,
    /// Per position: the address of the object found there, to check that a
    /// later walk of the same path meets the same objects.
    addresses: Vec<usize>,
    /// Per position: the distinct representation read from it, if any.
    owner_of: Vec<Option<u32>>,
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
        let matches = |condition: &str, typename: &str| {
            supergraph.type_condition_matches(condition, typename)
        };
        let hasher = foldhash::fast::RandomState::default();
        let mut seen: HashMap<u64, SmallVec<[usize; 1]>> = HashMap::new();
        let mut out = Representations {
            path: flatten.path.clone(),
            addresses: Vec::with_capacity(positions.len()),
            owner_of: vec![None; positions.len()],
            text: Vec::with_capacity(positions.len() * 32),
            distinct: Vec::new(),
            positions: Positions::default(),
        };
        let mut scratch = Vec::with_capacity(64);
        let seed = cache.map(|c| c.fetch_seed(fetch.subgraph, &fetch.operation));
        for (i, position) in positions.iter().enumerate() {
            let Some(object) = json::get(data, position) else {
                out.addresses.push(0);
                continue;
            };
            out.addresses.push(std::ptr::from_ref(object) as usize);
            let Some(rep) =
                json::representation(object, requires, &fetch.typename_overrides, &matches)
            else {
                continue;
            };
            scratch.clear();
            rep.write_json(&mut scratch);
            let candidates = seen.entry(hasher.hash_one(&scratch)).or_default();
            let text = &out.text;
            let distinct = &out.distinct;
            match candidates
                .iter()
                .find(|d| text[distinct[**d].range.clone()] == scratch[..])
            {
                Some(d) => {
                    out.distinct[*d].owners.push(i as u32);
                    out.owner_of[i] = Some(*d as u32);
                }
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
                    out.owner_of[i] = Some(out.distinct.len() as u32);
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
        json::response_path(
            data,
            self.positions.get(self.distinct[i].owners[0] as usize),
        )
    }

    /// Merges the entity of each distinct representation (`None`: nothing)
    /// into every object it was read from; the last one gets it moved.
    ///
    /// The path is walked once, as when the objects were found, so shared
    /// prefixes are walked once too (walking each position from the root
    /// was a cache miss per step). Should the walk meet other objects than
    /// then (another fetch changed the tree meanwhile), the rest is merged
    /// position by position.
    pub fn merge(&self, data: &mut Value, entities: Vec<Option<Value>>) {
        let mut entities = entities;
        let mut remaining: Vec<u32> = self
            .distinct
            .iter()
            .map(|d| d.owners.len() as u32)
            .collect();
        let mut take = |d: u32| -> Option<Value> {
            let d = d as usize;
            remaining[d] = remaining[d].saturating_sub(1);
            if remaining[d] == 0 {
                entities.get_mut(d)?.take()
            } else {
                entities.get(d)?.clone()
            }
        };
        let mut visited = 0;
        let mut aligned = true;
        json::for_each_object_mut(data, &self.path, &mut |object| {
            if self.addresses.get(visited) != Some(&(std::ptr::from_mut(object) as usize)) {
                aligned = false;
                return false;
            }
            if let Some(d) = self.owner_of[visited]
                && let Some(entity) = take(d)
            {
                json::deep_merge(object, entity);
            }
            visited += 1;
            true
        });
        if aligned && visited == self.positions.len() {
            return;
        }
        for i in visited..self.positions.len() {
            if let Some(d) = self.owner_of[i]
                && let Some(entity) = take(d)
                && let Some(target) = json::get_mut(data, self.positions.get(i))
            {
                json::deep_merge(target, entity);
            }
        }
    }
}

/// Which sent representation an `_entities` error blames, and the rest of
/// its path: `_entities.N.rest` blames N.
pub(crate) fn entity_error_index(error: &Json, entities: &[Value]) -> Option<(usize, Vec<Json>)> {
    let path = error.get("path")?.as_array()?;
    if let Some((n, rest)) = indexed_entity(path) {
        return Some((n, rest.to_vec()));
    }
    match path.as_slice() {
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

/// N and the rest of an error path `_entities.N.rest`.
pub(crate) fn indexed_entity(path: &[Json]) -> Option<(usize, &[Json])> {
    match path {
        [Json::String(root), Json::Number(n), rest @ ..] if root == "_entities" => {
            Some((usize::try_from(n.as_u64()?).ok()?, rest))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::planner::{Field, InlineFragment, OperationKind, PlanNode, Selection};
    use crate::supergraph::SubgraphId;

    fn field(name: &str) -> Selection {
        Selection::Field(Field {
            alias: None,
            name: name.into(),
            arguments: Vec::new(),
            conditions: Default::default(),
            selection_set: SelectionSet::default(),
        })
    }

    /// An entity fetch of `U` by `id` at `list.@`.
    fn flatten() -> FlattenNode {
        let requires = SelectionSet {
            selections: vec![Selection::InlineFragment(InlineFragment {
                type_condition: Some("U".into()),
                selection_set: SelectionSet {
                    selections: vec![field("__typename"), field("id")],
                },
            })],
        };
        FlattenNode {
            path: vec![PathElement::Key("list".into()), PathElement::List],
            node: Box::new(PlanNode::Fetch(FetchNode {
                subgraph: SubgraphId(0),
                service_name: "s".into(),
                operation_kind: OperationKind::Query,
                operation: "query".into(),
                variable_usages: Vec::new(),
                requires: Some(requires),
                selection: SelectionSet::default(),
                typename_overrides: Vec::new(),
            })),
        }
    }

    #[test]
    fn each_representation_is_sent_once_and_merged_into_every_object_it_came_from() {
        let supergraph = crate::supergraph::Supergraph::parse(include_str!(
            "../../tests/fixtures/keys/supergraph.graphql"
        ))
        .expect("fixture");
        let flatten = flatten();
        let PlanNode::Fetch(fetch) = flatten.node.as_ref() else {
            unreachable!("a fetch")
        };
        let requires = fetch.requires.as_ref().expect("requires");
        let list = json!({ "list": [
            { "__typename": "U", "id": "1" },
            { "__typename": "U", "id": "2" },
            null,
            { "__typename": "U", "id": "1" },
        ] });
        let expected = json!({ "list": [
            { "__typename": "U", "id": "1", "name": "one" },
            { "__typename": "U", "id": "2", "name": "two" },
            null,
            { "__typename": "U", "id": "1", "name": "one" },
        ] });
        let entities = || {
            vec![
                Some(Value::from(json!({ "name": "one" }))),
                Some(Value::from(json!({ "name": "two" }))),
            ]
        };
        let mut data = Value::from(list.clone());
        let reps = Representations::collect(&data, &flatten, fetch, requires, &supergraph, None);
        assert_eq!(reps.len(), 2);
        assert_eq!(reps.text(0), br#"{"__typename":"U","id":"1"}"#);
        assert_eq!(reps.path_of(&data, 1), vec![json!("list"), json!(1)]);
        reps.merge(&mut data, entities());
        assert_eq!(data.to_json(), expected);

        // The tree moved between reading and merging (another fetch grew it):
        // merged position by position instead.
        let mut data = Value::from(list);
        let reps = Representations::collect(&data, &flatten, fetch, requires, &supergraph, None);
        let moved = data.clone();
        data = moved;
        reps.merge(&mut data, entities());
        assert_eq!(data.to_json(), expected);
    }

    #[test]
    fn entity_errors_blame_the_representation_they_name() {
        let entities = vec![
            Value::from(json!({ "name": "a" })),
            Value::from(json!({ "name": null })),
        ];
        let blame = |p: Json| entity_error_index(&json!({ "message": "x", "path": p }), &entities);
        assert_eq!(
            blame(json!(["_entities", 1, "name"])),
            Some((1, vec![json!("name")]))
        );
        // No index (async-graphql): the first entity without the field.
        assert_eq!(
            blame(json!(["_entities", "name"])),
            Some((1, vec![json!("name")]))
        );
        // The whole field failed: the first one.
        assert_eq!(blame(json!(["_entities"])), Some((0, vec![])));
        assert_eq!(blame(json!(["other"])), None);
    }
}
