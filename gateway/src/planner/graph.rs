//! The query graph, built once per supergraph: nodes are (type, subgraph)
//! pairs; field edges are the fields a subgraph resolves on its type (with
//! their `@requires` conditions and `@provides` shortcuts, already parsed);
//! key edges are the resolvable `@key`s through which another subgraph can
//! reach the same entity; abstract types know their possible types per subgraph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use apollo_compiler::executable::FieldSet;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema};

use super::PlanError;
use super::operation::{self, FieldSel, Sel};
use crate::supergraph::{SubgraphId, Supergraph, TypeInfo, TypeKind};

/// A resolvable `@key`, parsed.
#[derive(Debug)]
pub(crate) struct KeyEdge {
    pub(crate) fields: Vec<Sel>,
}

/// How a subgraph resolves a field on its own (no entity fetch needed to reach it).
pub(crate) struct LocalField<'g> {
    /// `@requires` fields that must be sent in a representation first.
    pub(crate) requires: Option<&'g [Sel]>,
    /// Fields the subgraph also resolves below this one (`@provides`).
    pub(crate) provides: Option<&'g [Sel]>,
}

#[derive(Debug)]
pub(crate) struct QueryGraph {
    pub(crate) supergraph: Arc<Supergraph>,
    keys: HashMap<(String, SubgraphId), Vec<KeyEdge>>,
    requires: HashMap<(String, String, SubgraphId), Vec<Sel>>,
    provides: HashMap<(String, String, SubgraphId), Vec<Sel>>,
    /// Object types that can appear where an abstract type is expected.
    possible: HashMap<String, Vec<Name>>,
    /// (type, top-level key field, subgraph) for every key, resolvable or not.
    key_fields: HashSet<(String, String, SubgraphId)>,
}

impl QueryGraph {
    pub(crate) fn build(supergraph: Arc<Supergraph>) -> Result<Self, PlanError> {
        let schema = supergraph.schema();
        let mut keys: HashMap<(String, SubgraphId), Vec<KeyEdge>> = HashMap::new();
        let mut requires = HashMap::new();
        let mut provides = HashMap::new();
        let mut key_fields = HashSet::new();
        for (type_name, info) in supergraph.types() {
            for (graph, in_graph) in &info.graphs {
                for key in &in_graph.keys {
                    let fields = parse_field_set(schema, type_name, &key.fields)?;
                    for sel in &fields {
                        if let Sel::Field(field) = sel {
                            key_fields.insert((type_name.clone(), field.name.to_string(), *graph));
                        }
                    }
                    if key.resolvable {
                        keys.entry((type_name.clone(), *graph))
                            .or_default()
                            .push(KeyEdge { fields });
                    }
                }
            }
            for (field_name, field) in &info.fields {
                for (graph, in_graph) in &field.graphs {
                    if let Some(set) = &in_graph.requires {
                        let parsed = parse_field_set(schema, type_name, set)?;
                        requires.insert((type_name.clone(), field_name.clone(), *graph), parsed);
                    }
                    if let Some(set) = &in_graph.provides {
                        let target = field_type(schema, type_name, field_name)?;
                        let parsed = parse_field_set(schema, &target, set)?;
                        provides.insert((type_name.clone(), field_name.clone(), *graph), parsed);
                    }
                }
            }
        }
        let mut possible: HashMap<String, Vec<Name>> = HashMap::new();
        let implementers = schema.implementers_map();
        for (name, ty) in &schema.types {
            if let Some(union_) = ty.as_union() {
                possible.insert(
                    name.to_string(),
                    union_.members.iter().map(|m| m.name.clone()).collect(),
                );
            } else if ty.is_interface() {
                let objects = implementers
                    .get(name)
                    .map(|i| i.objects.iter().cloned().collect())
                    .unwrap_or_default();
                possible.insert(name.to_string(), objects);
            }
        }
        Ok(Self {
            supergraph,
            keys,
            requires,
            provides,
            possible,
            key_fields,
        })
    }

    pub(crate) fn schema(&self) -> &Valid<Schema> {
        self.supergraph.schema()
    }

    pub(crate) fn type_info(&self, name: &str) -> Option<&TypeInfo> {
        self.supergraph.type_info(name)
    }

    pub(crate) fn is_abstract(&self, name: &str) -> bool {
        self.type_info(name)
            .is_some_and(|t| matches!(t.kind, TypeKind::Interface | TypeKind::Union))
    }

    pub(crate) fn subgraph_count(&self) -> usize {
        self.supergraph.subgraphs().len()
    }

    pub(crate) fn subgraph_name(&self, graph: SubgraphId) -> &str {
        self.supergraph
            .subgraph(graph)
            .map(|s| s.name.as_str())
            .unwrap_or("?")
    }

    /// Whether a subgraph resolves a field itself: it defines the type and the
    /// field, not as `@external`, not overridden away, and (for progressive
    /// overrides) on the right side of the label. Fields of the subgraph's own
    /// keys always count: it can return them for the entities it names, even
    /// where old supergraphs mark them `@external` or leave them out.
    pub(crate) fn resolves(
        &self,
        type_name: &str,
        field: &str,
        graph: SubgraphId,
        labels: &HashSet<String>,
    ) -> bool {
        let Some(info) = self.type_info(type_name) else {
            return false;
        };
        if !info.in_graph(graph) {
            return false;
        }
        if self
            .key_fields
            .contains(&(type_name.to_owned(), field.to_owned(), graph))
        {
            return true;
        }
        let Some(in_graph) = info.fields.get(field).and_then(|f| f.graphs.get(&graph)) else {
            return false;
        };
        if in_graph.external || in_graph.used_overridden {
            return false;
        }
        match &in_graph.override_label {
            Some(label) => labels.contains(label) == in_graph.override_from.is_some(),
            None => true,
        }
    }

    /// The field as resolvable in `graph` right here: either provided by the
    /// parent field's `@provides`, or resolved by the subgraph itself.
    pub(crate) fn local_field<'g>(
        &'g self,
        type_name: &str,
        field: &str,
        graph: SubgraphId,
        provided: Option<&'g [Sel]>,
        labels: &HashSet<String>,
    ) -> Option<LocalField<'g>> {
        if let Some(provided) = provided
            && let Some(sel) = self.find_provided(provided, type_name, field)
        {
            return Some(LocalField {
                requires: None,
                provides: Some(&sel.selections),
            });
        }
        if !self.resolves(type_name, field, graph, labels) {
            return None;
        }
        let key = (type_name.to_owned(), field.to_owned(), graph);
        Some(LocalField {
            requires: self.requires.get(&key).map(Vec::as_slice),
            provides: self.provides.get(&key).map(Vec::as_slice),
        })
    }

    fn find_provided<'g>(
        &self,
        provided: &'g [Sel],
        type_name: &str,
        field: &str,
    ) -> Option<&'g FieldSel> {
        provided.iter().find_map(|sel| match sel {
            Sel::Field(f) if f.name == field => Some(f),
            Sel::Fragment(fragment)
                if fragment.type_condition == type_name
                    || self
                        .possible_types(&fragment.type_condition)
                        .iter()
                        .any(|p| p == type_name) =>
            {
                self.find_provided(&fragment.selections, type_name, field)
            }
            _ => None,
        })
    }

    /// The subgraphs that resolve `type.field` themselves, in supergraph order.
    pub(crate) fn resolvers(
        &self,
        type_name: &str,
        field: &str,
        labels: &HashSet<String>,
    ) -> Vec<SubgraphId> {
        (0..self.subgraph_count())
            .map(SubgraphId)
            .filter(|g| self.resolves(type_name, field, *g, labels))
            .collect()
    }

    /// Every resolvable key: (type, subgraph, key).
    pub(crate) fn all_keys(&self) -> impl Iterator<Item = (&str, SubgraphId, &KeyEdge)> {
        self.keys.iter().flat_map(|((type_name, graph), keys)| {
            keys.iter()
                .map(move |key| (type_name.as_str(), *graph, key))
        })
    }

    /// The resolvable keys through which an entity fetch reaches `type` in `graph`.
    pub(crate) fn keys(&self, type_name: &str, graph: SubgraphId) -> &[KeyEdge] {
        self.keys
            .get(&(type_name.to_owned(), graph))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Object types possible for `type_name` (itself, when it is an object).
    pub(crate) fn possible_types(&self, type_name: &str) -> Vec<Name> {
        match self.possible.get(type_name) {
            Some(types) => types.clone(),
            None => Name::new(type_name).map(|n| vec![n]).unwrap_or_default(),
        }
    }

    /// Object types that `graph` may return where `type_name` is expected.
    pub(crate) fn possible_in(&self, type_name: &str, graph: SubgraphId) -> Vec<Name> {
        let Some(info) = self.type_info(type_name) else {
            return Vec::new();
        };
        let schema = self.schema();
        self.possible_types(type_name)
            .into_iter()
            .filter(|object| {
                let Some(object_info) = self.type_info(object) else {
                    return false;
                };
                if !object_info.in_graph(graph) {
                    return false;
                }
                match info.kind {
                    TypeKind::Interface => {
                        let declared = schema
                            .get_object(object)
                            .is_some_and(|o| o.implements_interfaces.contains(type_name));
                        object_info.implements_in(graph, type_name, declared)
                    }
                    TypeKind::Union => info.has_member_in(graph, object, true),
                    _ => true,
                }
            })
            .collect()
    }
}

fn field_type(schema: &Valid<Schema>, type_name: &str, field: &str) -> Result<String, PlanError> {
    schema
        .type_field(type_name, field)
        .map(|def| def.ty.inner_named_type().to_string())
        .map_err(|_| PlanError::InvalidFieldSet {
            coordinate: format!("{type_name}.{field}"),
            message: "no such field".to_owned(),
        })
}

fn parse_field_set(
    schema: &Valid<Schema>,
    type_name: &str,
    source: &str,
) -> Result<Vec<Sel>, PlanError> {
    let invalid = |message: String| PlanError::InvalidFieldSet {
        coordinate: format!("{type_name}(\"{source}\")"),
        message,
    };
    let name = Name::new(type_name).map_err(|e| invalid(e.to_string()))?;
    let set = FieldSet::parse_and_validate(schema, name, source, "field_set.graphql")
        .map_err(|e| invalid(e.errors.to_string()))?;
    operation::normalize(None, &set.selection_set, 0)
}

impl QueryGraph {
    /// Whether any subgraph can be reached for this type through a key.
    pub(crate) fn has_keys(&self, type_name: &str) -> bool {
        self.type_info(type_name).is_some_and(|t| {
            t.graphs
                .values()
                .any(|g| g.keys.iter().any(|k| k.resolvable))
        })
    }

    /// The named type `type.field` returns in `graph` when it differs from
    /// the supergraph's `output` (a subtype: `@join__field(type:)`).
    pub(crate) fn field_type_in(
        &self,
        type_name: &str,
        field: &str,
        graph: SubgraphId,
        output: &str,
    ) -> Option<Name> {
        let in_graph = self
            .type_info(type_name)?
            .fields
            .get(field)?
            .graphs
            .get(&graph)?
            .type_in_graph
            .as_deref()?;
        let named = in_graph.trim_matches(|c| matches!(c, '[' | ']' | '!'));
        (named != output).then(|| Name::new(named).ok()).flatten()
    }

    /// Whether `graph` knows the interface `type_name` only as an `@interfaceObject`.
    pub(crate) fn is_interface_object(&self, type_name: &str, graph: SubgraphId) -> bool {
        self.type_info(type_name)
            .and_then(|t| t.graphs.get(&graph))
            .is_some_and(|g| g.is_interface_object)
    }
}
