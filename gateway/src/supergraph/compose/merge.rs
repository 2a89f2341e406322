//! The merge rules: subgraph types folded into one supergraph model that
//! records, per type and field, which subgraphs define and resolve it, with
//! every rule violation collected as a [`ComposeError`].

use std::collections::{BTreeSet, HashMap, HashSet};

use apollo_compiler::ast::{self, Value};
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;

use super::ComposeError;
use super::fieldset::{self, Usage};
use super::subgraph::{Argument, Carried, EnumValue, Field, Kind, Subgraph, Type, top_level_names};

/// Index into [`Merged::graphs`].
pub(super) type GraphIdx = usize;

#[derive(Debug)]
pub(super) struct Merged {
    pub(super) graphs: Vec<Subgraph>,
    pub(super) enum_values: Vec<String>,
    pub(super) types: IndexMap<Name, MType>,
    /// Highest federation version among the subgraphs.
    pub(super) version: (u32, u32),
    pub(super) uses_tag: bool,
    pub(super) uses_inaccessible: bool,
    pub(super) uses_authenticated: bool,
    pub(super) uses_scopes: bool,
    pub(super) uses_policy: bool,
}

#[derive(Debug)]
pub(super) struct JoinType {
    pub(super) graph: GraphIdx,
    pub(super) key: Option<String>,
    pub(super) extension: bool,
    pub(super) resolvable: bool,
    pub(super) interface_object: bool,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct JoinField {
    /// `None`: a field no subgraph resolves directly (added by `@interfaceObject`).
    pub(super) graph: Option<GraphIdx>,
    pub(super) requires: Option<String>,
    pub(super) provides: Option<String>,
    pub(super) ty: Option<String>,
    pub(super) external: bool,
    pub(super) override_from: Option<String>,
    pub(super) override_label: Option<String>,
    pub(super) used_overridden: bool,
}

#[derive(Debug)]
pub(super) struct MArg {
    pub(super) name: Name,
    pub(super) description: Option<Node<str>>,
    pub(super) ty: ast::Type,
    pub(super) default: Option<Node<Value>>,
    pub(super) carried: Carried,
}

#[derive(Debug)]
pub(super) struct MField {
    pub(super) name: Name,
    pub(super) description: Option<Node<str>>,
    pub(super) ty: ast::Type,
    pub(super) args: Vec<MArg>,
    pub(super) default: Option<Node<Value>>,
    pub(super) join: Vec<JoinField>,
    pub(super) carried: Carried,
}

/// An enum value and the subgraphs that define it.
#[derive(Debug)]
pub(super) struct MValue {
    pub(super) description: Option<Node<str>>,
    pub(super) carried: Carried,
    pub(super) graphs: Vec<GraphIdx>,
}

#[derive(Debug)]
pub(super) struct MType {
    pub(super) name: Name,
    pub(super) kind: Kind,
    pub(super) description: Option<Node<str>>,
    pub(super) join_types: Vec<JoinType>,
    pub(super) interfaces: Vec<Name>,
    pub(super) implements: Vec<(GraphIdx, Name)>,
    pub(super) members: Vec<(GraphIdx, Name)>,
    pub(super) fields: IndexMap<Name, MField>,
    pub(super) values: IndexMap<Name, MValue>,
    pub(super) carried: Carried,
}

/// `a_products` -> `A_PRODUCTS`, the join__Graph value of a subgraph.
fn enum_value(name: &str) -> String {
    let mut value: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        value.insert(0, '_');
    }
    value
}

pub(super) fn merge(mut graphs: Vec<Subgraph>) -> Result<Merged, Vec<ComposeError>> {
    graphs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut errors = Vec::new();
    let enum_values: Vec<String> = graphs.iter().map(|g| enum_value(&g.name)).collect();
    for (i, value) in enum_values.iter().enumerate() {
        if let Some(j) = enum_values[..i].iter().position(|v| v == value) {
            errors.push(ComposeError::DuplicateSubgraph {
                first: graphs[j].name.clone(),
                second: graphs[i].name.clone(),
            });
        }
    }
    check_field_sets(&graphs, &mut errors);

    let usage = EnumUsage::of(&graphs);
    let used_by_sets = used_by_field_sets(&graphs);
    check_unused_externals(&graphs, &used_by_sets, &mut errors);
    let mut names: Vec<Name> = Vec::new();
    for g in &graphs {
        for name in g.types.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut types = IndexMap::new();
    for name in names {
        let defs: Vec<(GraphIdx, &Type)> = graphs
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.types.get(&name).map(|t| (i, t)))
            .collect();
        let Some(&(_, first)) = defs.first() else {
            continue;
        };
        let ctx = TypeCtx {
            graphs: &graphs,
            first,
            defs: &defs,
            used_by_sets: &used_by_sets,
        };
        match ctx.merge_type(&usage) {
            Ok(t) => {
                types.insert(name, t);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    add_interface_object_fields(&mut types);
    if errors.is_empty() {
        check_reachability(&graphs, &types, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let version = graphs.iter().map(|g| g.version).max().unwrap_or((2, 0));
    let any = |f: &dyn Fn(&Carried) -> bool| {
        types.values().any(|t| {
            f(&t.carried)
                || t.fields
                    .values()
                    .any(|fl| f(&fl.carried) || fl.args.iter().any(|a| f(&a.carried)))
                || t.values.values().any(|v| f(&v.carried))
        })
    };
    let uses_tag = any(&|c| !c.tags.is_empty());
    let uses_inaccessible = any(&|c| c.inaccessible);
    let uses_authenticated = any(&|c| c.authenticated);
    let uses_scopes = any(&|c| !c.scopes.is_empty());
    let uses_policy = any(&|c| !c.policies.is_empty());
    Ok(Merged {
        graphs,
        enum_values,
        types,
        version,
        uses_tag,
        uses_inaccessible,
        uses_authenticated,
        uses_scopes,
        uses_policy,
    })
}

/// Keys, `@requires` and `@provides` select fields that exist (and are external
/// where they must be) in the subgraph that wrote them.
fn check_field_sets(graphs: &[Subgraph], errors: &mut Vec<ComposeError>) {
    for g in graphs {
        for ty in g.types.values() {
            for key in &ty.keys {
                if let Err(reason) = fieldset::check(g, &ty.name, &key.fields, Usage::Key) {
                    errors.push(ComposeError::InvalidFieldSet {
                        subgraph: g.name.clone(),
                        coordinate: ty.name.to_string(),
                        directive: Usage::Key.directive(),
                        fields: key.fields.clone(),
                        reason,
                    });
                }
            }
            for field in ty.fields.values() {
                let coordinate = format!("{}.{}", ty.name, field.name);
                if let Some(requires) = &field.requires {
                    // Federation 1 did not demand @external on required fields of
                    // value types; apply the Federation 2 rule to both.
                    if let Err(reason) = fieldset::check(g, &ty.name, requires, Usage::Requires) {
                        errors.push(ComposeError::InvalidFieldSet {
                            subgraph: g.name.clone(),
                            coordinate: coordinate.clone(),
                            directive: Usage::Requires.directive(),
                            fields: requires.clone(),
                            reason,
                        });
                    }
                }
                if let Some(provides) = &field.provides {
                    let target = field.ty.inner_named_type();
                    if let Err(reason) = fieldset::check(g, target, provides, Usage::Provides) {
                        errors.push(ComposeError::InvalidFieldSet {
                            subgraph: g.name.clone(),
                            coordinate,
                            directive: Usage::Provides.directive(),
                            fields: provides.clone(),
                            reason,
                        });
                    }
                }
            }
        }
    }
}

/// Per subgraph, the (type, field) pairs selected by some `@requires` or
/// `@provides` there: external fields the gateway must fetch or may trust.
fn used_by_field_sets(graphs: &[Subgraph]) -> Vec<HashSet<(String, String)>> {
    graphs
        .iter()
        .map(|g| {
            let mut used = HashSet::new();
            for ty in g.types.values() {
                for field in ty.fields.values() {
                    if let Some(r) = &field.requires {
                        used.extend(fieldset::coordinates(g, &ty.name, r));
                    }
                    if let Some(p) = &field.provides {
                        used.extend(fieldset::coordinates(g, field.ty.inner_named_type(), p));
                    }
                }
            }
            used
        })
        .collect()
}

/// A Federation 2 `@external` field must serve a key, a `@requires`, a
/// `@provides` or an interface of its type in the same subgraph.
fn check_unused_externals(
    graphs: &[Subgraph],
    used: &[HashSet<(String, String)>],
    errors: &mut Vec<ComposeError>,
) {
    for (g, graph) in graphs.iter().enumerate() {
        if graph.is_fed1() {
            continue;
        }
        let key_fields: HashSet<(String, String)> = graph
            .types
            .values()
            .flat_map(|ty| {
                ty.keys
                    .iter()
                    .flat_map(|k| fieldset::coordinates(graph, &ty.name, &k.fields))
            })
            .collect();
        for ty in graph.types.values() {
            for field in ty.fields.values().filter(|f| f.external) {
                let coordinate = (ty.name.to_string(), field.name.to_string());
                let for_interface = ty.implements.iter().any(|i| {
                    graph
                        .types
                        .get(i)
                        .is_some_and(|i| i.fields.contains_key(&field.name))
                });
                if !used[g].contains(&coordinate)
                    && !key_fields.contains(&coordinate)
                    && !for_interface
                {
                    errors.push(ComposeError::UnusedExternal {
                        subgraph: graph.name.clone(),
                        coordinate: format!("{}.{}", ty.name, field.name),
                    });
                }
            }
        }
    }
}

/// Where each enum is used: decides between union and intersection of values.
#[derive(Default)]
struct EnumUsage {
    input: HashSet<String>,
    output: HashSet<String>,
}

impl EnumUsage {
    fn of(graphs: &[Subgraph]) -> Self {
        let mut usage = EnumUsage::default();
        for g in graphs {
            for ty in g.types.values() {
                for field in ty.fields.values() {
                    let inner = field.ty.inner_named_type().to_string();
                    if ty.kind == Kind::Input {
                        usage.input.insert(inner);
                    } else {
                        usage.output.insert(inner);
                    }
                    for arg in &field.args {
                        usage.input.insert(arg.ty.inner_named_type().to_string());
                    }
                }
            }
        }
        usage
    }
}

struct TypeCtx<'a> {
    graphs: &'a [Subgraph],
    /// The first subgraph's definition: names the type in messages.
    first: &'a Type,
    defs: &'a [(GraphIdx, &'a Type)],
    used_by_sets: &'a [HashSet<(String, String)>],
}

/// The merged kind: an `@interfaceObject` is the interface in disguise.
fn effective_kind(t: &Type) -> Kind {
    if t.interface_object {
        Kind::Interface
    } else {
        t.kind
    }
}

impl TypeCtx<'_> {
    fn name(&self, g: GraphIdx) -> String {
        self.graphs[g].name.clone()
    }

    fn merge_type(&self, usage: &EnumUsage) -> Result<MType, Vec<ComposeError>> {
        let first = self.first;
        let kind = effective_kind(first);
        if self.defs.iter().any(|(_, t)| effective_kind(t) != kind) {
            return Err(vec![ComposeError::KindMismatch {
                type_name: first.name.to_string(),
                kinds: self
                    .defs
                    .iter()
                    .map(|(g, t)| format!("{} in `{}`", t.kind.label(), self.name(*g)))
                    .collect::<Vec<_>>()
                    .join(", "),
            }]);
        }
        let mut ty = MType {
            name: first.name.clone(),
            kind,
            description: self.defs.iter().find_map(|(_, t)| t.description.clone()),
            join_types: Vec::new(),
            interfaces: Vec::new(),
            implements: Vec::new(),
            members: Vec::new(),
            fields: IndexMap::new(),
            values: IndexMap::new(),
            carried: merge_carried(self.defs.iter().map(|(_, t)| &t.carried)),
        };
        for (g, t) in self.defs {
            if t.keys.is_empty() {
                ty.join_types.push(JoinType {
                    graph: *g,
                    key: None,
                    extension: false,
                    resolvable: true,
                    interface_object: t.interface_object,
                });
            }
            for key in &t.keys {
                ty.join_types.push(JoinType {
                    graph: *g,
                    key: Some(key.fields.clone()),
                    extension: t.printed_extension,
                    resolvable: key.resolvable,
                    interface_object: t.interface_object,
                });
            }
            for i in &t.implements {
                ty.implements.push((*g, i.clone()));
                if !ty.interfaces.contains(i) {
                    ty.interfaces.push(i.clone());
                }
            }
            for m in &t.members {
                ty.members.push((*g, m.clone()));
            }
        }
        // Every subgraph can answer `Query` (for `_entities`), composers record
        // that on the supergraph's Query.
        if ty.name == "Query" {
            ty.join_types = (0..self.graphs.len())
                .map(|g| JoinType {
                    graph: g,
                    key: None,
                    extension: false,
                    resolvable: true,
                    interface_object: false,
                })
                .collect();
        }
        match kind {
            Kind::Object | Kind::Interface => ty.fields = self.merge_output_fields(&ty)?,
            Kind::Input => ty.fields = self.merge_input_fields()?,
            Kind::Enum => ty.values = self.merge_enum_values(usage)?,
            Kind::Scalar | Kind::Union => {}
        }
        Ok(ty)
    }

    fn merge_output_fields(&self, ty: &MType) -> Result<IndexMap<Name, MField>, Vec<ComposeError>> {
        let mut errors = Vec::new();
        let mut names: Vec<&Name> = Vec::new();
        for (_, t) in self.defs {
            for name in t.fields.keys() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let is_query = ty.name == "Query";
        let type_graphs = if is_query {
            self.graphs.len()
        } else {
            self.defs.len()
        };
        let mut fields = IndexMap::new();
        for name in names {
            let coordinate = format!("{}.{}", ty.name, name);
            let entries: Vec<(GraphIdx, &Type, &Field)> = self
                .defs
                .iter()
                .filter_map(|(g, t)| t.fields.get(name).map(|f| (*g, *t, f)))
                .collect();
            let is_subtype = |sub: &Name, sup: &Name| {
                self.graphs.iter().any(|g| {
                    g.types.get(sub).is_some_and(|t| t.implements.contains(sup))
                        || g.types.get(sup).is_some_and(|t| t.members.contains(sub))
                })
            };
            let field_ty = match merge_output_type(
                &entries.iter().map(|e| (e.0, &e.2.ty)).collect::<Vec<_>>(),
                &is_subtype,
            ) {
                Some(t) => t,
                None => {
                    errors.push(
                        self.type_mismatch(&coordinate, entries.iter().map(|e| (e.0, &e.2.ty))),
                    );
                    continue;
                }
            };
            let args = match self.merge_args(&coordinate, &entries) {
                Ok(a) => a,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            // Key fields are shareable by nature and feed entity fetches.
            let is_key = |t: &Type| {
                t.keys.iter().any(|k| {
                    top_level_names(&k.fields)
                        .iter()
                        .any(|n| n == name.as_str())
                })
            };
            // Graphs whose definition an @override (without label) replaced.
            let mut overridden: HashMap<GraphIdx, Option<String>> = HashMap::new();
            for (_, _, f) in &entries {
                if let Some(from) = &f.override_from
                    && let Some(src) = self.graphs.iter().position(|s| &s.name == from)
                {
                    overridden.insert(src, f.override_label.clone());
                }
            }
            let resolving: Vec<&(GraphIdx, &Type, &Field)> = entries
                .iter()
                .filter(|(g, _, f)| !f.external && overridden.get(g).is_none_or(|l| l.is_some()))
                .collect();
            if ty.kind == Kind::Object && resolving.is_empty() {
                errors.push(ComposeError::ExternalEverywhere {
                    coordinate: coordinate.clone(),
                    subgraphs: entries.iter().map(|e| self.name(e.0)).collect(),
                });
                continue;
            }
            let shareable = |(g, t, f): &&(GraphIdx, &Type, &Field)| {
                f.shareable
                    || self.graphs[*g].is_fed1()
                    || is_key(t)
                    || f.override_from.is_some()
                    || overridden.contains_key(g)
            };
            if ty.kind == Kind::Object && resolving.len() > 1 && !resolving.iter().all(shareable) {
                errors.push(ComposeError::NonShareable {
                    coordinate: coordinate.clone(),
                    subgraphs: resolving.iter().map(|e| self.name(e.0)).collect(),
                });
                continue;
            }

            let type_differs = entries.iter().any(|e| e.2.ty != field_ty);
            let mut join = Vec::new();
            let defined_everywhere = entries.len() == type_graphs;
            let any_override = entries.iter().any(|e| e.2.override_from.is_some());
            let mut differences = type_differs || any_override;
            let mut candidates = Vec::new();
            for (g, t, f) in &entries {
                let used = self.used_by_sets[*g].contains(&(ty.name.to_string(), name.to_string()));
                let key_in_extension = is_key(t) && t.extension;
                let external = f.external && !key_in_extension;
                differences |= external || f.requires.is_some() || f.provides.is_some();
                // Unused externals of Federation 1 and key fields of extensions
                // say nothing the supergraph needs.
                let fed1_unused = self.graphs[*g].is_fed1() && !is_key(t);
                if f.external && !used && (fed1_unused || key_in_extension) {
                    continue;
                }
                let label = match overridden.get(g) {
                    Some(Some(label)) => Some(label.clone()),
                    Some(None) => {
                        if is_key(t) || used {
                            candidates.push(JoinField {
                                graph: Some(*g),
                                used_overridden: true,
                                external: external && used,
                                ..JoinField::default()
                            });
                        }
                        continue;
                    }
                    None => f.override_from.as_ref().and(f.override_label.clone()),
                };
                candidates.push(JoinField {
                    graph: Some(*g),
                    requires: f.requires.as_deref().map(normalized),
                    provides: f.provides.as_deref().map(normalized),
                    ty: type_differs.then(|| f.ty.to_string()),
                    external,
                    override_from: f.override_from.clone(),
                    override_label: label,
                    used_overridden: false,
                });
            }
            // A root field returning a subtype of its supergraph type in some
            // subgraph says so, as on any other type: the planner must ask
            // that subgraph within the subtype.
            let subtyped = entries
                .iter()
                .any(|e| e.2.ty.inner_named_type() != field_ty.inner_named_type());
            if is_query && !any_override {
                if self.graphs.len() > 1 && (!defined_everywhere || subtyped) {
                    join = candidates
                        .into_iter()
                        .map(|j| JoinField {
                            graph: j.graph,
                            provides: j.provides,
                            ty: j.ty,
                            ..JoinField::default()
                        })
                        .collect();
                }
            } else if any_override {
                let single_graph = ty
                    .join_types
                    .iter()
                    .map(|j| j.graph)
                    .collect::<BTreeSet<_>>();
                if !(candidates.len() == 1
                    && single_graph.len() == 1
                    && candidates
                        .first()
                        .and_then(|c| c.graph)
                        .is_some_and(|g| single_graph.contains(&g)))
                {
                    join = candidates;
                }
            } else if !defined_everywhere || differences {
                join = candidates;
            }
            let description = entries.iter().find_map(|e| e.2.description.clone());
            fields.insert(
                name.clone(),
                MField {
                    name: name.clone(),
                    description,
                    ty: field_ty,
                    args,
                    default: None,
                    join,
                    carried: merge_carried(entries.iter().map(|e| &e.2.carried)),
                },
            );
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }

    fn type_mismatch<'t>(
        &self,
        coordinate: &str,
        types: impl Iterator<Item = (GraphIdx, &'t ast::Type)>,
    ) -> ComposeError {
        ComposeError::FieldTypeMismatch {
            coordinate: coordinate.to_owned(),
            types: types
                .map(|(g, t)| format!("`{t}` in `{}`", self.name(g)))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Arguments present in every subgraph that defines the field; a required
    /// argument missing from one of them is an error.
    fn merge_args(
        &self,
        coordinate: &str,
        entries: &[(GraphIdx, &Type, &Field)],
    ) -> Result<Vec<MArg>, ComposeError> {
        let mut names: Vec<&Name> = Vec::new();
        for (_, _, f) in entries {
            for a in &f.args {
                if !names.contains(&&a.name) {
                    names.push(&a.name);
                }
            }
        }
        let mut args = Vec::new();
        for name in names {
            let found: Vec<(GraphIdx, &Argument)> = entries
                .iter()
                .filter_map(|(g, _, f)| f.args.iter().find(|a| &a.name == name).map(|a| (*g, a)))
                .collect();
            let arg_coordinate = format!("{coordinate}({name}:)");
            if found.len() < entries.len() {
                if let Some((g, _)) = found
                    .iter()
                    .find(|(_, a)| a.ty.is_non_null() && a.default.is_none())
                {
                    return Err(ComposeError::RequiredMissing {
                        coordinate: arg_coordinate,
                        required_in: self.name(*g),
                        missing_in: entries
                            .iter()
                            .filter(|e| !found.iter().any(|f| f.0 == e.0))
                            .map(|e| self.name(e.0))
                            .collect(),
                    });
                }
                continue;
            }
            let ty = merge_input_type(&found.iter().map(|(g, a)| (*g, &a.ty)).collect::<Vec<_>>())
                .ok_or_else(|| {
                    self.type_mismatch(&arg_coordinate, found.iter().map(|(g, a)| (*g, &a.ty)))
                })?;
            args.push(MArg {
                name: name.clone(),
                description: found.iter().find_map(|(_, a)| a.description.clone()),
                ty,
                default: found.iter().find_map(|(_, a)| a.default.clone()),
                carried: merge_carried(found.iter().map(|(_, a)| &a.carried)),
            });
        }
        Ok(args)
    }

    /// Input objects keep the fields every subgraph has.
    fn merge_input_fields(&self) -> Result<IndexMap<Name, MField>, Vec<ComposeError>> {
        let mut errors = Vec::new();
        let mut fields = IndexMap::new();
        let first = self.first;
        let mut names: Vec<&Name> = Vec::new();
        for (_, t) in self.defs {
            for name in t.fields.keys() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        for name in names {
            let coordinate = format!("{}.{}", first.name, name);
            let found: Vec<(GraphIdx, &Field)> = self
                .defs
                .iter()
                .filter_map(|(g, t)| t.fields.get(name).map(|f| (*g, f)))
                .collect();
            if found.len() < self.defs.len() {
                if let Some((g, _)) = found
                    .iter()
                    .find(|(_, f)| f.ty.is_non_null() && f.default.is_none())
                {
                    errors.push(ComposeError::RequiredMissing {
                        coordinate,
                        required_in: self.name(*g),
                        missing_in: self
                            .defs
                            .iter()
                            .filter(|d| !found.iter().any(|f| f.0 == d.0))
                            .map(|d| self.name(d.0))
                            .collect(),
                    });
                }
                continue;
            }
            let Some(ty) =
                merge_input_type(&found.iter().map(|(g, f)| (*g, &f.ty)).collect::<Vec<_>>())
            else {
                errors
                    .push(self.type_mismatch(&coordinate, found.iter().map(|(g, f)| (*g, &f.ty))));
                continue;
            };
            let join = if found.iter().any(|(_, f)| f.ty != ty) {
                found
                    .iter()
                    .map(|(g, f)| JoinField {
                        graph: Some(*g),
                        ty: Some(f.ty.to_string()),
                        ..JoinField::default()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            // A default only some subgraphs apply is no default of the supergraph.
            let default = if found.iter().all(|(_, f)| f.default.is_some()) {
                found.iter().find_map(|(_, f)| f.default.clone())
            } else {
                None
            };
            fields.insert(
                name.clone(),
                MField {
                    name: name.clone(),
                    description: found.iter().find_map(|(_, f)| f.description.clone()),
                    ty,
                    args: Vec::new(),
                    default,
                    join,
                    carried: merge_carried(found.iter().map(|(_, f)| &f.carried)),
                },
            );
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }

    /// Output-only enums take every value, input-only ones the values all
    /// subgraphs share, and enums used both ways must agree.
    fn merge_enum_values(
        &self,
        usage: &EnumUsage,
    ) -> Result<IndexMap<Name, MValue>, Vec<ComposeError>> {
        let first = self.first;
        let name = first.name.as_str();
        let input = usage.input.contains(name);
        let output = usage.output.contains(name);
        let mut values = IndexMap::new();
        let mut all: Vec<&Name> = Vec::new();
        for (_, t) in self.defs {
            for v in t.values.keys() {
                if !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        let mut errors = Vec::new();
        for value in all {
            let found: Vec<(GraphIdx, &EnumValue)> = self
                .defs
                .iter()
                .filter_map(|(g, t)| t.values.get(value).map(|v| (*g, v)))
                .collect();
            let everywhere = found.len() == self.defs.len();
            if !everywhere && input && output {
                errors.push(ComposeError::EnumMismatch {
                    enum_name: name.to_owned(),
                    value: value.to_string(),
                    defined_in: found.iter().map(|(g, _)| self.name(*g)).collect(),
                    missing_in: self
                        .defs
                        .iter()
                        .filter(|d| !found.iter().any(|f| f.0 == d.0))
                        .map(|d| self.name(d.0))
                        .collect(),
                });
                continue;
            }
            if !everywhere && input {
                continue;
            }
            values.insert(
                value.clone(),
                MValue {
                    description: found.iter().find_map(|(_, v)| v.description.clone()),
                    carried: merge_carried(found.iter().map(|(_, v)| &v.carried)),
                    graphs: found.iter().map(|(g, _)| *g).collect(),
                },
            );
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }
}

fn normalized(fields: &str) -> String {
    fieldset::normalize(fields).unwrap_or_else(|_| fields.to_owned())
}

/// One shape for every subgraph's type of an output field: the same list
/// structure, nullable wherever some subgraph is nullable, and the most
/// general named type where subgraphs return a subtype of it (an object in
/// one, an interface or union it belongs to in another): each subgraph's
/// own type is then recorded with `@join__field(type:)`.
fn merge_output_type(
    types: &[(GraphIdx, &ast::Type)],
    is_subtype: &dyn Fn(&Name, &Name) -> bool,
) -> Option<ast::Type> {
    merge_types(types, false, is_subtype)
}

/// Input positions take the strictest nullability and the same named type.
fn merge_input_type(types: &[(GraphIdx, &ast::Type)]) -> Option<ast::Type> {
    merge_types(types, true, &|_, _| false)
}

fn merge_types(
    types: &[(GraphIdx, &ast::Type)],
    strict: bool,
    is_subtype: &dyn Fn(&Name, &Name) -> bool,
) -> Option<ast::Type> {
    let mut iter = types.iter().map(|(_, t)| (*t).clone());
    let mut merged = iter.next()?;
    for t in iter {
        merged = merge_two(&merged, &t, strict, is_subtype)?;
    }
    Some(merged)
}

fn merge_two(
    a: &ast::Type,
    b: &ast::Type,
    strict: bool,
    is_subtype: &dyn Fn(&Name, &Name) -> bool,
) -> Option<ast::Type> {
    use ast::Type as T;
    let non_null = if strict {
        a.is_non_null() || b.is_non_null()
    } else {
        a.is_non_null() && b.is_non_null()
    };
    let inner = match (a, b) {
        (T::Named(x) | T::NonNullNamed(x), T::Named(y) | T::NonNullNamed(y)) => {
            if x == y || is_subtype(x, y) {
                T::Named(y.clone())
            } else if is_subtype(y, x) {
                T::Named(x.clone())
            } else {
                return None;
            }
        }
        (T::List(x) | T::NonNullList(x), T::List(y) | T::NonNullList(y)) => {
            T::List(Box::new(merge_two(x, y, strict, is_subtype)?))
        }
        _ => return None,
    };
    Some(if non_null { inner.non_null() } else { inner })
}

fn merge_carried<'a>(all: impl Iterator<Item = &'a Carried>) -> Carried {
    let mut merged = Carried::default();
    for c in all {
        merged.inaccessible |= c.inaccessible;
        for tag in &c.tags {
            if !merged.tags.contains(tag) {
                merged.tags.push(tag.clone());
            }
        }
        if merged.deprecated.is_none() {
            merged.deprecated = c.deprecated.clone();
        }
        if merged.specified_by.is_none() {
            merged.specified_by = c.specified_by.clone();
        }
        for d in &c.composed {
            if !merged.composed.contains(d) {
                merged.composed.push(d.clone());
            }
        }
        merged.authenticated |= c.authenticated;
        merged.scopes = merge_groups(&merged.scopes, &c.scopes);
        merged.policies = merge_groups(&merged.policies, &c.policies);
    }
    merged
}

/// Two `@requiresScopes`/`@policy` requirements, both to be met: every pair of
/// alternatives joined, then alternatives implied by a smaller one dropped.
pub(crate) fn merge_groups(a: &[Vec<String>], b: &[Vec<String>]) -> Vec<Vec<String>> {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() { b.to_vec() } else { a.to_vec() };
    }
    let mut candidates: Vec<Vec<String>> = Vec::new();
    for x in a {
        for y in b {
            let joined: BTreeSet<String> = x.iter().chain(y).cloned().collect();
            let joined: Vec<String> = joined.into_iter().collect();
            if !candidates.contains(&joined) {
                candidates.push(joined);
            }
        }
    }
    candidates.sort_by_key(|c| c.len());
    let mut out: Vec<Vec<String>> = Vec::new();
    for c in candidates {
        if !out.iter().any(|o| o.iter().all(|s| c.contains(s))) {
            out.push(c);
        }
    }
    out.sort_by(|x, y| {
        x.len()
            .cmp(&y.len())
            .then_with(|| x.join(",").cmp(&y.join(",")))
    });
    out
}

/// Fields an `@interfaceObject` adds to an interface reach every implementation:
/// no subgraph resolves them on the object itself (`@join__field` without graph).
fn add_interface_object_fields(types: &mut IndexMap<Name, MType>) {
    let mut additions: Vec<(Name, MField)> = Vec::new();
    for interface in types.values() {
        let object_graphs: Vec<GraphIdx> = interface
            .join_types
            .iter()
            .filter(|j| j.interface_object)
            .map(|j| j.graph)
            .collect();
        if object_graphs.is_empty() {
            continue;
        }
        for field in interface.fields.values() {
            let from_object = field
                .join
                .iter()
                .any(|j| j.graph.is_some_and(|g| object_graphs.contains(&g)));
            // Fields without join entries are defined everywhere, including the
            // interface objects.
            if !from_object && !field.join.is_empty() {
                continue;
            }
            for implementer in types.values() {
                if implementer.kind != Kind::Object
                    || !implementer.interfaces.contains(&interface.name)
                    || implementer.fields.contains_key(&field.name)
                {
                    continue;
                }
                let args = field
                    .args
                    .iter()
                    .map(|a| MArg {
                        name: a.name.clone(),
                        description: a.description.clone(),
                        ty: a.ty.clone(),
                        default: a.default.clone(),
                        carried: a.carried.clone(),
                    })
                    .collect();
                additions.push((
                    implementer.name.clone(),
                    MField {
                        name: field.name.clone(),
                        description: field.description.clone(),
                        ty: field.ty.clone(),
                        args,
                        default: None,
                        join: vec![JoinField::default()],
                        carried: field.carried.clone(),
                    },
                ));
            }
        }
    }
    for (type_name, field) in additions {
        if let Some(t) = types.get_mut(&type_name) {
            t.fields.insert(field.name.clone(), field);
        }
    }
}

/// A field is reachable when some subgraph that resolves it can be entered at
/// its type: from a root field through that subgraph's own fields, or through a
/// resolvable key of a type some subgraph reaches.
fn check_reachability(
    graphs: &[Subgraph],
    types: &IndexMap<Name, MType>,
    errors: &mut Vec<ComposeError>,
) {
    let roots = ["Query", "Mutation", "Subscription"];
    let mut reached: Vec<HashSet<String>> = vec![HashSet::new(); graphs.len()];
    let mut global: HashSet<String> = HashSet::new();
    // Whether another subgraph that reaches `type_name` can send the key's
    // fields: it resolves them, or holds them as its own key fields.
    let can_send_key = |reached: &[HashSet<String>], g: GraphIdx, type_name: &str, key: &str| {
        let wanted = top_level_names(key);
        graphs.iter().enumerate().any(|(other, graph)| {
            other != g
                && reached[other].contains(type_name)
                && graph.types.get(type_name).is_some_and(|t| {
                    let own_keys: Vec<String> = t
                        .keys
                        .iter()
                        .flat_map(|k| top_level_names(&k.fields))
                        .collect();
                    wanted.iter().all(|w| {
                        own_keys.contains(w)
                            || t.fields.get(w.as_str()).is_some_and(|f| !f.external)
                    })
                })
        })
    };
    loop {
        let mut changed = false;
        for (g, graph) in graphs.iter().enumerate() {
            let mut stack: Vec<String> = Vec::new();
            for (name, t) in &graph.types {
                let entry = roots.contains(&name.as_str())
                    || (global.contains(name.as_str())
                        && t.keys
                            .iter()
                            .any(|k| k.resolvable && can_send_key(&reached, g, name, &k.fields)));
                if entry && !reached[g].contains(name.as_str()) {
                    stack.push(name.to_string());
                }
            }
            while let Some(name) = stack.pop() {
                if !reached[g].insert(name.clone()) {
                    continue;
                }
                changed = true;
                global.insert(name.clone());
                let Some(t) = graph.types.get(name.as_str()) else {
                    continue;
                };
                let mut next: Vec<String> = t
                    .fields
                    .values()
                    .filter(|f| !f.external || f.provides.is_some())
                    .map(|f| f.ty.inner_named_type().to_string())
                    .collect();
                next.extend(t.members.iter().map(|m| m.to_string()));
                if t.kind == Kind::Interface {
                    next.extend(
                        graph
                            .types
                            .values()
                            .filter(|o| o.implements.contains(&t.name))
                            .map(|o| o.name.to_string()),
                    );
                }
                for n in next {
                    if graph.types.contains_key(n.as_str()) && !reached[g].contains(&n) {
                        stack.push(n);
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for ty in types.values() {
        if ty.kind != Kind::Object || !global.contains(ty.name.as_str()) {
            continue;
        }
        for field in ty.fields.values() {
            let resolving: Vec<GraphIdx> = if field.join.is_empty() {
                ty.join_types.iter().map(|j| j.graph).collect()
            } else {
                field
                    .join
                    .iter()
                    .filter(|j| !j.external && !j.used_overridden)
                    .filter_map(|j| j.graph)
                    .collect()
            };
            if field.join.iter().any(|j| j.graph.is_none()) {
                continue;
            }
            if !resolving.is_empty()
                && !resolving
                    .iter()
                    .any(|g| reached[*g].contains(ty.name.as_str()))
            {
                errors.push(ComposeError::Unreachable {
                    coordinate: format!("{}.{}", ty.name, field.name),
                    subgraphs: resolving.iter().map(|g| graphs[*g].name.clone()).collect(),
                });
            }
        }
    }
}
