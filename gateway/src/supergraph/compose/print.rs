//! The merged model printed as a supergraph SDL: the link/join machinery that
//! composed supergraphs carry, then every type with its join directives.

use apollo_compiler::ast::{self, Definition, Directive, DirectiveList, Value};
use apollo_compiler::{Name, Node, name};

use super::merge::{JoinField, MField, MType, Merged};
use super::subgraph::{Carried, Kind};

const LINK: &str = r#"directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar link__Import

enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY
  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}
"#;

const TAG: &str = "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA\n";

const INACCESSIBLE: &str = "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ENUM | ENUM_VALUE | SCALAR | INPUT_OBJECT | INPUT_FIELD_DEFINITION | ARGUMENT_DEFINITION\n";

const POLICY: &str = "directive @policy(policies: [[policy__Policy!]!]!) on ENUM | FIELD_DEFINITION | INTERFACE | OBJECT | SCALAR\n\nscalar policy__Policy\n";

const REQUIRES_SCOPES: &str = "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar requiresScopes__Scope\n";

const AUTHENTICATED: &str =
    "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n";

/// The join spec version composed supergraphs link for a federation version:
/// v0.4 brings `overrideLabel` (federation 2.7), v0.5 context arguments (2.8).
fn join_version(version: (u32, u32)) -> &'static str {
    match version {
        (2, 7) => "0.4",
        (2, minor) if minor >= 8 => "0.5",
        (major, _) if major > 2 => "0.5",
        _ => "0.3",
    }
}

fn join_definitions(join: &str) -> String {
    let label = if join != "0.3" {
        "\n  overrideLabel: String"
    } else {
        ""
    };
    let context = if join == "0.5" {
        "\n  contextArguments: [join__ContextArgument!]"
    } else {
        ""
    };
    let mut out = format!(
        r#"directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__field(
  graph: join__Graph
  requires: join__FieldSet
  provides: join__FieldSet
  type: String
  external: Boolean
  override: String
  usedOverridden: Boolean{label}{context}
) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(
  graph: join__Graph!
  key: join__FieldSet
  extension: Boolean! = false
  resolvable: Boolean! = true
  isInterfaceObject: Boolean! = false
) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

scalar join__FieldSet
"#
    );
    if join == "0.5" {
        out.push_str(
            "\ninput join__ContextArgument {\n  name: String!\n  type: String!\n  context: String!\n  selection: join__FieldValue!\n}\n\nscalar join__FieldValue\n",
        );
    }
    out
}

fn directive(name: Name, args: Vec<(Name, Value)>) -> Node<Directive> {
    Node::new(Directive {
        name,
        arguments: args
            .into_iter()
            .map(|(name, value)| {
                Node::new(ast::Argument {
                    name,
                    value: Node::new(value),
                })
            })
            .collect(),
    })
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

pub(super) fn print(merged: &Merged) -> String {
    let join = join_version(merged.version);
    let mut out = String::new();

    // Schema definition with its links.
    let mut links = vec![
        directive(
            name!("link"),
            vec![(name!("url"), string("https://specs.apollo.dev/link/v1.0"))],
        ),
        directive(
            name!("link"),
            vec![
                (
                    name!("url"),
                    string(&format!("https://specs.apollo.dev/join/v{join}")),
                ),
                (name!("for"), Value::Enum(name!("EXECUTION"))),
            ],
        ),
    ];
    if merged.uses_tag {
        links.push(directive(
            name!("link"),
            vec![(name!("url"), string("https://specs.apollo.dev/tag/v0.3"))],
        ));
    }
    if merged.uses_inaccessible {
        links.push(directive(
            name!("link"),
            vec![
                (
                    name!("url"),
                    string("https://specs.apollo.dev/inaccessible/v0.2"),
                ),
                (name!("for"), Value::Enum(name!("SECURITY"))),
            ],
        ));
    }
    for (used, spec) in [
        (merged.uses_policy, "policy/v0.1"),
        (merged.uses_scopes, "requiresScopes/v0.1"),
        (merged.uses_authenticated, "authenticated/v0.1"),
    ] {
        if used {
            links.push(directive(
                name!("link"),
                vec![
                    (
                        name!("url"),
                        string(&format!("https://specs.apollo.dev/{spec}")),
                    ),
                    (name!("for"), Value::Enum(name!("SECURITY"))),
                ],
            ));
        }
    }
    let mut composed_definitions: Vec<&Node<ast::DirectiveDefinition>> = Vec::new();
    for g in &merged.graphs {
        for link in &g.composed_links {
            if !links.contains(link) {
                links.push(link.clone());
            }
        }
        for d in &g.composed_definitions {
            if !composed_definitions.iter().any(|c| c.name == d.name) {
                composed_definitions.push(d);
            }
        }
    }
    let mut root_operations = Vec::new();
    for (op, name) in [
        (ast::OperationType::Query, "Query"),
        (ast::OperationType::Mutation, "Mutation"),
        (ast::OperationType::Subscription, "Subscription"),
    ] {
        if merged.types.contains_key(name) {
            root_operations.push(Node::new((op, Name::new_unchecked(name))));
        }
    }
    let mut document = ast::Document::new();
    document
        .definitions
        .push(Definition::SchemaDefinition(Node::new(
            ast::SchemaDefinition {
                description: None,
                directives: DirectiveList(links),
                root_operations,
            },
        )));
    out.push_str(&document.to_string());
    out.push('\n');
    out.push_str(&join_definitions(join));
    out.push('\n');
    out.push_str(LINK);
    if merged.uses_tag {
        out.push('\n');
        out.push_str(TAG);
    }
    if merged.uses_inaccessible {
        out.push('\n');
        out.push_str(INACCESSIBLE);
    }
    if merged.uses_policy {
        out.push('\n');
        out.push_str(POLICY);
    }
    if merged.uses_scopes {
        out.push('\n');
        out.push_str(REQUIRES_SCOPES);
    }
    if merged.uses_authenticated {
        out.push('\n');
        out.push_str(AUTHENTICATED);
    }

    let mut document = ast::Document::new();
    for d in composed_definitions {
        document
            .definitions
            .push(Definition::DirectiveDefinition(d.clone()));
    }
    for d in executable_directives(merged) {
        document
            .definitions
            .push(Definition::DirectiveDefinition(d));
    }
    document
        .definitions
        .push(Definition::EnumTypeDefinition(Node::new(
            ast::EnumTypeDefinition {
                description: None,
                name: name!("join__Graph"),
                directives: DirectiveList::default(),
                values: merged
                    .graphs
                    .iter()
                    .zip(&merged.enum_values)
                    .map(|(g, value)| {
                        Node::new(ast::EnumValueDefinition {
                            description: None,
                            value: Name::new_unchecked(value),
                            directives: DirectiveList(vec![directive(
                                name!("join__graph"),
                                vec![
                                    (name!("name"), string(&g.name)),
                                    (name!("url"), string(&g.url)),
                                ],
                            )]),
                        })
                    })
                    .collect(),
            },
        )));
    for kind in [
        Kind::Scalar,
        Kind::Object,
        Kind::Interface,
        Kind::Union,
        Kind::Enum,
        Kind::Input,
    ] {
        for ty in merged.types.values().filter(|t| t.kind == kind) {
            document.definitions.push(type_definition(merged, ty));
        }
    }
    out.push('\n');
    out.push_str(&document.to_string());
    out
}

/// Executable directives every subgraph defines, on the locations they share.
fn executable_directives(merged: &Merged) -> Vec<Node<ast::DirectiveDefinition>> {
    let Some((first, rest)) = merged.graphs.split_first() else {
        return Vec::new();
    };
    first
        .executable_directives
        .iter()
        .filter_map(|d| {
            let mut locations = d.locations.clone();
            for g in rest {
                let other = g.executable_directives.iter().find(|o| o.name == d.name)?;
                locations.retain(|l| other.locations.contains(l));
            }
            if locations.is_empty() {
                return None;
            }
            let mut d = (**d).clone();
            d.description = None;
            d.locations = locations;
            Some(Node::new(d))
        })
        .collect()
}

fn graph_value(merged: &Merged, g: usize) -> Value {
    Value::Enum(Name::new_unchecked(&merged.enum_values[g]))
}

fn carried(c: &Carried, out: &mut Vec<Node<Directive>>) {
    if c.inaccessible {
        out.push(directive(name!("inaccessible"), vec![]));
    }
    for tag in &c.tags {
        out.push(directive(name!("tag"), vec![(name!("name"), string(tag))]));
    }
    if let Some(d) = &c.deprecated {
        out.push(d.clone());
    }
    if let Some(d) = &c.specified_by {
        out.push(d.clone());
    }
    if c.authenticated {
        out.push(directive(name!("authenticated"), vec![]));
    }
    let groups = |groups: &[Vec<String>]| {
        Value::List(
            groups
                .iter()
                .map(|g| {
                    Node::new(Value::List(
                        g.iter().map(|s| Node::new(string(s))).collect(),
                    ))
                })
                .collect(),
        )
    };
    if !c.scopes.is_empty() {
        out.push(directive(
            name!("requiresScopes"),
            vec![(name!("scopes"), groups(&c.scopes))],
        ));
    }
    if !c.policies.is_empty() {
        out.push(directive(
            name!("policy"),
            vec![(name!("policies"), groups(&c.policies))],
        ));
    }
    out.extend(c.composed.iter().cloned());
}

fn type_directives(merged: &Merged, ty: &MType) -> DirectiveList {
    let mut out = Vec::new();
    for j in &ty.join_types {
        let mut args = vec![(name!("graph"), graph_value(merged, j.graph))];
        if let Some(key) = &j.key {
            args.push((name!("key"), string(key)));
        }
        if j.extension {
            args.push((name!("extension"), Value::Boolean(true)));
        }
        if !j.resolvable {
            args.push((name!("resolvable"), Value::Boolean(false)));
        }
        if j.interface_object {
            args.push((name!("isInterfaceObject"), Value::Boolean(true)));
        }
        out.push(directive(name!("join__type"), args));
    }
    for (g, interface) in &ty.implements {
        out.push(directive(
            name!("join__implements"),
            vec![
                (name!("graph"), graph_value(merged, *g)),
                (name!("interface"), string(interface)),
            ],
        ));
    }
    for (g, member) in &ty.members {
        out.push(directive(
            name!("join__unionMember"),
            vec![
                (name!("graph"), graph_value(merged, *g)),
                (name!("member"), string(member)),
            ],
        ));
    }
    carried(&ty.carried, &mut out);
    DirectiveList(out)
}

fn join_field(merged: &Merged, j: &JoinField) -> Node<Directive> {
    let mut args = Vec::new();
    if let Some(g) = j.graph {
        args.push((name!("graph"), graph_value(merged, g)));
    }
    if let Some(r) = &j.requires {
        args.push((name!("requires"), string(r)));
    }
    if let Some(p) = &j.provides {
        args.push((name!("provides"), string(p)));
    }
    if let Some(t) = &j.ty {
        args.push((name!("type"), string(t)));
    }
    if j.external {
        args.push((name!("external"), Value::Boolean(true)));
    }
    if let Some(o) = &j.override_from {
        args.push((name!("override"), string(o)));
    }
    if let Some(l) = &j.override_label {
        args.push((name!("overrideLabel"), string(l)));
    }
    if j.used_overridden {
        args.push((name!("usedOverridden"), Value::Boolean(true)));
    }
    directive(name!("join__field"), args)
}

fn field_definition(merged: &Merged, f: &MField) -> Node<ast::FieldDefinition> {
    let mut directives: Vec<Node<Directive>> =
        f.join.iter().map(|j| join_field(merged, j)).collect();
    carried(&f.carried, &mut directives);
    Node::new(ast::FieldDefinition {
        description: f.description.clone(),
        name: f.name.clone(),
        arguments: f
            .args
            .iter()
            .map(|a| {
                let mut directives = Vec::new();
                carried(&a.carried, &mut directives);
                Node::new(ast::InputValueDefinition {
                    description: a.description.clone(),
                    name: a.name.clone(),
                    ty: Node::new(a.ty.clone()),
                    default_value: a.default.clone(),
                    directives: DirectiveList(directives),
                })
            })
            .collect(),
        ty: f.ty.clone(),
        directives: DirectiveList(directives),
    })
}

fn type_definition(merged: &Merged, ty: &MType) -> Definition {
    let directives = type_directives(merged, ty);
    let description = ty.description.clone();
    let name = ty.name.clone();
    let fields = || {
        ty.fields
            .values()
            .map(|f| field_definition(merged, f))
            .collect()
    };
    match ty.kind {
        Kind::Scalar => Definition::ScalarTypeDefinition(Node::new(ast::ScalarTypeDefinition {
            description,
            name,
            directives,
        })),
        Kind::Object => Definition::ObjectTypeDefinition(Node::new(ast::ObjectTypeDefinition {
            description,
            name,
            implements_interfaces: ty.interfaces.clone(),
            directives,
            fields: fields(),
        })),
        Kind::Interface => {
            Definition::InterfaceTypeDefinition(Node::new(ast::InterfaceTypeDefinition {
                description,
                name,
                implements_interfaces: ty.interfaces.clone(),
                directives,
                fields: fields(),
            }))
        }
        Kind::Union => {
            let mut members: Vec<Name> = Vec::new();
            for (_, m) in &ty.members {
                if !members.contains(m) {
                    members.push(m.clone());
                }
            }
            Definition::UnionTypeDefinition(Node::new(ast::UnionTypeDefinition {
                description,
                name,
                directives,
                members,
            }))
        }
        Kind::Enum => Definition::EnumTypeDefinition(Node::new(ast::EnumTypeDefinition {
            description,
            name,
            directives,
            values: ty
                .values
                .iter()
                .map(|(value, v)| {
                    let mut directives: Vec<Node<Directive>> = v
                        .graphs
                        .iter()
                        .map(|g| {
                            directive(
                                name!("join__enumValue"),
                                vec![(name!("graph"), graph_value(merged, *g))],
                            )
                        })
                        .collect();
                    carried(&v.carried, &mut directives);
                    Node::new(ast::EnumValueDefinition {
                        description: v.description.clone(),
                        value: value.clone(),
                        directives: DirectiveList(directives),
                    })
                })
                .collect(),
        })),
        Kind::Input => {
            Definition::InputObjectTypeDefinition(Node::new(ast::InputObjectTypeDefinition {
                description,
                name,
                directives,
                fields: ty
                    .fields
                    .values()
                    .map(|f| {
                        let mut directives: Vec<Node<Directive>> =
                            f.join.iter().map(|j| join_field(merged, j)).collect();
                        carried(&f.carried, &mut directives);
                        Node::new(ast::InputValueDefinition {
                            description: f.description.clone(),
                            name: f.name.clone(),
                            ty: Node::new(f.ty.clone()),
                            default_value: f.default.clone(),
                            directives: DirectiveList(directives),
                        })
                    })
                    .collect(),
            }))
        }
    }
}
