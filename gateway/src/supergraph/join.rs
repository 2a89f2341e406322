//! The join directives read into a per-subgraph model: which subgraphs know a
//! type, with which keys, and which subgraphs resolve each field and how.

use apollo_compiler::Schema;
use apollo_compiler::ast::{Directive, DirectiveList as AstDirectives, Value};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;

use super::SupergraphError;
use super::links::Feature;

/// Index of a subgraph in [`super::Supergraph::subgraphs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubgraphId(pub usize);

/// One subgraph, from a `join__Graph` enum value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subgraph {
    /// The name given in `@join__graph(name:)`, used in plans and errors.
    pub name: String,
    /// Where the gateway sends its fetches.
    pub url: String,
    /// The `join__Graph` enum value that stands for it in join directives.
    pub enum_value: String,
}

/// What kind of named type this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

/// A named type and what each subgraph knows of it.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub name: String,
    pub kind: TypeKind,
    /// The subgraphs that define the type, in supergraph order.
    pub graphs: IndexMap<SubgraphId, TypeInGraph>,
    /// Fields (objects and interfaces), with the subgraphs that resolve each.
    pub fields: IndexMap<String, FieldInfo>,
    /// Interfaces implemented, per subgraph (`@join__implements`).
    pub implements: Vec<(SubgraphId, String)>,
    /// Union members, per subgraph (`@join__unionMember`).
    pub union_members: Vec<(SubgraphId, String)>,
    /// Enum values, with the subgraphs that define each (`@join__enumValue`).
    pub enum_values: IndexMap<String, Vec<SubgraphId>>,
    /// Whether the supergraph recorded implementations/members per subgraph
    /// (join v0.2+); older supergraphs share them across every subgraph.
    pub(crate) per_graph_membership: bool,
}

/// A type as one subgraph defines it (`@join__type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeInGraph {
    /// Entity keys, in declaration order; empty for value types.
    pub keys: Vec<Key>,
    pub extension: bool,
    pub is_interface_object: bool,
}

/// One `@key` of an entity in one subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The field set as written, e.g. `"id"` or `"store { id } aisle"`.
    pub fields: String,
    /// `false` for `@key(resolvable: false)`: the subgraph can name the entity
    /// but cannot be asked for it through `_entities`.
    pub resolvable: bool,
}

/// A field and the subgraphs that define it.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    pub name: String,
    pub graphs: IndexMap<SubgraphId, FieldInGraph>,
}

/// A field as one subgraph defines it (`@join__field`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldInGraph {
    pub requires: Option<String>,
    pub provides: Option<String>,
    /// The field's type in this subgraph when it differs from the supergraph's.
    pub type_in_graph: Option<String>,
    pub external: bool,
    /// `@override(from:)`: the subgraph this one took the field from.
    pub override_from: Option<String>,
    /// Progressive override label. With `override_from` this subgraph owns the
    /// field while the label is active; without, while it is not.
    pub override_label: Option<String>,
    /// The field was overridden away from this subgraph but is still used there
    /// (as a key or `@requires` input): it must not be fetched from here.
    pub used_overridden: bool,
}

/// Reads the `graph:` argument of a join directive (on the named coordinate).
type GraphOf<'a> = dyn Fn(&Directive, &str) -> Result<Option<SubgraphId>, SupergraphError> + 'a;

pub(crate) struct Model {
    pub(crate) subgraphs: Vec<Subgraph>,
    pub(crate) types: IndexMap<String, TypeInfo>,
}

/// Local names of the join directives.
struct JoinNames {
    graph: String,
    type_: String,
    field: String,
    implements: String,
    union_member: String,
    enum_value: String,
    owner: String,
}

pub(crate) fn read(schema: &Schema, join: &Feature) -> Result<Model, SupergraphError> {
    let names = JoinNames {
        graph: join.directive("graph"),
        type_: join.directive("type"),
        field: join.directive("field"),
        implements: join.directive("implements"),
        union_member: join.directive("unionMember"),
        enum_value: join.directive("enumValue"),
        owner: join.directive("owner"),
    };
    let graph_enum_name = join.type_name("Graph");
    let graph_enum = schema
        .get_enum(&graph_enum_name)
        .ok_or_else(|| SupergraphError::MissingGraphEnum(graph_enum_name.clone()))?;

    let mut subgraphs = Vec::new();
    for (value, def) in &graph_enum.values {
        let directive = def
            .directives
            .get(&names.graph)
            .ok_or_else(|| SupergraphError::MissingGraphName(value.to_string()))?;
        let name = string_arg(directive, "name")
            .ok_or_else(|| SupergraphError::MissingGraphName(value.to_string()))?;
        let url = string_arg(directive, "url").unwrap_or_default();
        subgraphs.push(Subgraph {
            name: name.to_owned(),
            url: url.to_owned(),
            enum_value: value.to_string(),
        });
    }
    let graph_of =
        |directive: &Directive, coordinate: &str| -> Result<Option<SubgraphId>, SupergraphError> {
            let Some(value) = directive.specified_argument_by_name("graph") else {
                return Ok(None);
            };
            let Some(enum_value) = value.as_enum() else {
                return Err(SupergraphError::InvalidDirective {
                    directive: directive.name.to_string(),
                    coordinate: coordinate.to_owned(),
                    message: "`graph` must be a join__Graph value".to_owned(),
                });
            };
            subgraphs
                .iter()
                .position(|s| s.enum_value == enum_value.as_str())
                .map(|i| Some(SubgraphId(i)))
                .ok_or_else(|| SupergraphError::UnknownGraph {
                    directive: directive.name.to_string(),
                    coordinate: coordinate.to_owned(),
                    graph: enum_value.to_string(),
                })
        };
    let all_graphs: Vec<SubgraphId> = (0..subgraphs.len()).map(SubgraphId).collect();

    let mut types = IndexMap::new();
    for (type_name, ty) in &schema.types {
        if ty.is_built_in() || type_name.as_str() == graph_enum_name || is_link_machinery(type_name)
        {
            continue;
        }
        let kind = match ty {
            ExtendedType::Scalar(_) => TypeKind::Scalar,
            ExtendedType::Object(_) => TypeKind::Object,
            ExtendedType::Interface(_) => TypeKind::Interface,
            ExtendedType::Union(_) => TypeKind::Union,
            ExtendedType::Enum(_) => TypeKind::Enum,
            ExtendedType::InputObject(_) => TypeKind::InputObject,
        };
        let directives = ty.directives();

        // @join__type: one application per key (or one without key) per graph.
        let mut graphs: IndexMap<SubgraphId, TypeInGraph> = IndexMap::new();
        for directive in directives.get_all(&names.type_) {
            let Some(graph) = graph_of(directive, type_name)? else {
                continue;
            };
            let entry = graphs.entry(graph).or_default();
            if let Some(key) = string_arg(directive, "key") {
                entry.keys.push(Key {
                    fields: key.to_owned(),
                    resolvable: bool_arg(directive, "resolvable").unwrap_or(true),
                });
            }
            entry.extension |= bool_arg(directive, "extension").unwrap_or(false);
            entry.is_interface_object |= bool_arg(directive, "isInterfaceObject").unwrap_or(false);
        }
        // Federation 1 value types carry no @join__type: every subgraph has them.
        if graphs.is_empty() {
            graphs = all_graphs
                .iter()
                .map(|g| (*g, TypeInGraph::default()))
                .collect();
        }
        // Join v0.1: fields without @join__field belong to the owner only.
        let owner = match directives.get(&names.owner) {
            Some(d) => graph_of(d, type_name)?,
            None => None,
        };

        let mut implements = Vec::new();
        for directive in directives.get_all(&names.implements) {
            if let (Some(graph), Some(interface)) = (
                graph_of(directive, type_name)?,
                string_arg(directive, "interface"),
            ) {
                implements.push((graph, interface.to_owned()));
            }
        }
        let mut union_members = Vec::new();
        for directive in directives.get_all(&names.union_member) {
            if let (Some(graph), Some(member)) = (
                graph_of(directive, type_name)?,
                string_arg(directive, "member"),
            ) {
                union_members.push((graph, member.to_owned()));
            }
        }
        let per_graph_membership = join.version.as_str() != "0.1";

        let mut fields = IndexMap::new();
        let field_defs: Vec<(&Name, &AstDirectives)> = match ty {
            ExtendedType::Object(o) => o.fields.iter().map(|(n, f)| (n, &f.directives)).collect(),
            ExtendedType::Interface(i) => {
                i.fields.iter().map(|(n, f)| (n, &f.directives)).collect()
            }
            _ => Vec::new(),
        };
        {
            for (field_name, directives) in field_defs {
                let coordinate = format!("{type_name}.{field_name}");
                let info = read_field(
                    directives,
                    &names.field,
                    &coordinate,
                    &graphs,
                    owner,
                    &graph_of,
                )?;
                fields.insert(
                    field_name.to_string(),
                    FieldInfo {
                        name: field_name.to_string(),
                        graphs: info,
                    },
                );
            }
        }

        let mut enum_values = IndexMap::new();
        if let ExtendedType::Enum(e) = ty {
            for (value, def) in &e.values {
                let mut in_graphs = Vec::new();
                for directive in def.directives.get_all(&names.enum_value) {
                    if let Some(graph) = graph_of(directive, &format!("{type_name}.{value}"))? {
                        in_graphs.push(graph);
                    }
                }
                if in_graphs.is_empty() {
                    in_graphs = graphs.keys().copied().collect();
                }
                enum_values.insert(value.to_string(), in_graphs);
            }
        }

        types.insert(
            type_name.to_string(),
            TypeInfo {
                name: type_name.to_string(),
                kind,
                graphs,
                fields,
                implements,
                union_members,
                enum_values,
                per_graph_membership,
            },
        );
    }
    // A v0.2+ supergraph may still omit @join__implements when nothing differs
    // per subgraph; only trust the per-graph lists where some exist.
    let any_implements = types.values().any(|t| !t.implements.is_empty());
    let any_members = types.values().any(|t| !t.union_members.is_empty());
    for t in types.values_mut() {
        t.per_graph_membership &= match t.kind {
            TypeKind::Union => any_members,
            _ => any_implements,
        };
    }
    Ok(Model { subgraphs, types })
}

fn read_field(
    directives: &AstDirectives,
    join_field: &str,
    coordinate: &str,
    type_graphs: &IndexMap<SubgraphId, TypeInGraph>,
    owner: Option<SubgraphId>,
    graph_of: &GraphOf<'_>,
) -> Result<IndexMap<SubgraphId, FieldInGraph>, SupergraphError> {
    let applications: Vec<&Node<Directive>> = directives.get_all(join_field).collect();
    if applications.is_empty() {
        // No @join__field: every subgraph that has the type resolves it
        // (only the owner, for join v0.1 entities).
        return Ok(match owner {
            Some(owner) => [(owner, FieldInGraph::default())].into_iter().collect(),
            None => type_graphs
                .keys()
                .map(|g| (*g, FieldInGraph::default()))
                .collect(),
        });
    }
    let mut graphs = IndexMap::new();
    for directive in applications {
        // A @join__field without graph marks a field that no subgraph
        // resolves directly (e.g. added to an interface by @interfaceObject).
        let Some(graph) = graph_of(directive, coordinate)? else {
            continue;
        };
        graphs.insert(
            graph,
            FieldInGraph {
                requires: string_arg(directive, "requires").map(str::to_owned),
                provides: string_arg(directive, "provides").map(str::to_owned),
                type_in_graph: string_arg(directive, "type").map(str::to_owned),
                external: bool_arg(directive, "external").unwrap_or(false),
                override_from: string_arg(directive, "override").map(str::to_owned),
                override_label: string_arg(directive, "overrideLabel").map(str::to_owned),
                used_overridden: bool_arg(directive, "usedOverridden").unwrap_or(false),
            },
        );
    }
    Ok(graphs)
}

fn is_link_machinery(name: &str) -> bool {
    name.starts_with("link__") || name.starts_with("core__") || name.starts_with("join__")
}

fn string_arg<'a>(directive: &'a Directive, name: &str) -> Option<&'a str> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v: &Node<Value>| v.as_str())
}

fn bool_arg(directive: &Directive, name: &str) -> Option<bool> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.to_bool())
}

impl TypeInfo {
    /// Whether `graph` defines this type.
    pub fn in_graph(&self, graph: SubgraphId) -> bool {
        self.graphs.contains_key(&graph)
    }

    /// Whether this object type implements `interface` in `graph`.
    pub fn implements_in(&self, graph: SubgraphId, interface: &str, declared: bool) -> bool {
        if self.per_graph_membership {
            self.implements
                .iter()
                .any(|(g, i)| *g == graph && i == interface)
        } else {
            declared && self.in_graph(graph)
        }
    }

    /// Whether this union has `member` in `graph`.
    pub fn has_member_in(&self, graph: SubgraphId, member: &str, declared: bool) -> bool {
        if self.per_graph_membership {
            self.union_members
                .iter()
                .any(|(g, m)| *g == graph && m == member)
        } else {
            declared && self.in_graph(graph)
        }
    }
}
