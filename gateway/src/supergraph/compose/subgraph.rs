//! One subgraph SDL read into what composition needs: its types with their
//! federation directives resolved through `@link(import:)` renames (or the bare
//! Federation 1 names), with `extend type` folded into the definition.

use apollo_compiler::ast::{self, Definition, DirectiveList, Value};
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;

use super::ComposeError;

const FEDERATION_SPEC: &str = "https://specs.apollo.dev/federation/";

/// Type kinds as composition compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    Input,
}

impl Kind {
    pub(super) fn label(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Object => "object type",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Input => "input object",
        }
    }
}

/// Directives that travel to the supergraph as they are written.
#[derive(Debug, Clone, Default)]
pub(super) struct Carried {
    pub(super) inaccessible: bool,
    pub(super) tags: Vec<String>,
    pub(super) deprecated: Option<Node<ast::Directive>>,
    pub(super) specified_by: Option<Node<ast::Directive>>,
    /// Applications of `@composeDirective` directives, under their local name.
    pub(super) composed: Vec<Node<ast::Directive>>,
    pub(super) authenticated: bool,
    /// `@requiresScopes(scopes:)`: alternatives, each a set of scopes.
    pub(super) scopes: Vec<Vec<String>>,
    /// `@policy(policies:)`, shaped like scopes.
    pub(super) policies: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(super) struct Argument {
    pub(super) name: Name,
    pub(super) description: Option<Node<str>>,
    pub(super) ty: ast::Type,
    pub(super) default: Option<Node<Value>>,
    pub(super) carried: Carried,
}

#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: Name,
    pub(super) description: Option<Node<str>>,
    pub(super) ty: ast::Type,
    pub(super) args: Vec<Argument>,
    /// Input fields only.
    pub(super) default: Option<Node<Value>>,
    pub(super) external: bool,
    pub(super) shareable: bool,
    pub(super) requires: Option<String>,
    pub(super) provides: Option<String>,
    pub(super) override_from: Option<String>,
    pub(super) override_label: Option<String>,
    pub(super) carried: Carried,
}

#[derive(Debug, Clone)]
pub(super) struct EnumValue {
    pub(super) description: Option<Node<str>>,
    pub(super) carried: Carried,
}

#[derive(Debug, Clone)]
pub(super) struct Key {
    pub(super) fields: String,
    pub(super) resolvable: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Type {
    pub(super) name: Name,
    pub(super) kind: Kind,
    pub(super) description: Option<Node<str>>,
    pub(super) keys: Vec<Key>,
    /// Declared with `extend type` or `@extends` (Federation 1 key fields of
    /// such types are implicitly external).
    pub(super) extension: bool,
    /// What `@join__type(extension:)` records: `@extends`, or (Federation 2)
    /// only `extend type` without a definition.
    pub(super) printed_extension: bool,
    has_definition: bool,
    extends_directive: bool,
    pub(super) interface_object: bool,
    pub(super) implements: Vec<Name>,
    pub(super) members: Vec<Name>,
    pub(super) fields: IndexMap<Name, Field>,
    pub(super) values: IndexMap<Name, EnumValue>,
    pub(super) carried: Carried,
}

/// A parsed subgraph.
#[derive(Debug)]
pub(super) struct Subgraph {
    pub(super) name: String,
    pub(super) url: String,
    /// Federation version as (major, minor); Federation 1 is (1, 0).
    pub(super) version: (u32, u32),
    pub(super) types: IndexMap<Name, Type>,
    /// `@composeDirective` definitions to copy into the supergraph.
    pub(super) composed_definitions: Vec<Node<ast::DirectiveDefinition>>,
    /// `@link`s of the specs whose directives are composed.
    pub(super) composed_links: Vec<Node<ast::Directive>>,
    /// Directives usable only in operations: composed when every subgraph
    /// defines them.
    pub(super) executable_directives: Vec<Node<ast::DirectiveDefinition>>,
}

impl Subgraph {
    pub(super) fn is_fed1(&self) -> bool {
        self.version.0 < 2
    }
}

/// Local names of the federation directives in one subgraph.
struct Names {
    imports: IndexMap<String, String>,
    prefix: Option<String>,
}

impl Names {
    /// The local name of federation directive `name` (without `@`).
    fn local(&self, name: &str) -> String {
        if let Some(local) = self.imports.get(name) {
            return local.clone();
        }
        match &self.prefix {
            Some(prefix) => format!("{prefix}__{name}"),
            None => name.to_owned(),
        }
    }
}

/// Types and directives a subgraph carries for its own runtime, never composed.
fn is_federation_machinery(name: &str) -> bool {
    matches!(
        name,
        "_Service"
            | "_Any"
            | "_Entity"
            | "_FieldSet"
            | "FieldSet"
            | "link__Import"
            | "link__Purpose"
    ) || name.starts_with("federation__")
        || name.starts_with("link__")
        || name.starts_with("__")
}

pub(super) fn read(name: &str, url: &str, sdl: &str) -> Result<Subgraph, ComposeError> {
    let document = ast::Document::parse(sdl, format!("{name}.graphql")).map_err(|e| {
        ComposeError::InvalidSdl {
            subgraph: name.to_owned(),
            message: e.errors.to_string(),
        }
    })?;
    let invalid = |message: String| ComposeError::InvalidSdl {
        subgraph: name.to_owned(),
        message,
    };

    // The federation @link decides the version and the directive names.
    let mut names = Names {
        imports: IndexMap::new(),
        prefix: None,
    };
    let mut version = (1, 0);
    let mut links: Vec<Node<ast::Directive>> = Vec::new();
    let mut roots: IndexMap<Name, &'static str> = IndexMap::new();
    for definition in &document.definitions {
        let (directives, operations) = match definition {
            Definition::SchemaDefinition(s) => (&s.directives, &s.root_operations),
            Definition::SchemaExtension(s) => (&s.directives, &s.root_operations),
            Definition::OperationDefinition(_) | Definition::FragmentDefinition(_) => {
                return Err(invalid("executable definitions are not allowed".to_owned()));
            }
            _ => continue,
        };
        for op in operations {
            let root = match op.0 {
                ast::OperationType::Query => "Query",
                ast::OperationType::Mutation => "Mutation",
                ast::OperationType::Subscription => "Subscription",
            };
            roots.insert(op.1.clone(), root);
        }
        for link in directives.get_all("link") {
            let Some(link_url) = link
                .specified_argument_by_name("url")
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            if let Some(v) = link_url.strip_prefix(FEDERATION_SPEC) {
                version = parse_version(v)
                    .ok_or_else(|| invalid(format!("unsupported federation version `{v}`")))?;
                names.prefix = Some(
                    link.specified_argument_by_name("as")
                        .and_then(|v| v.as_str())
                        .unwrap_or("federation")
                        .to_owned(),
                );
                for (original, local) in imports(link) {
                    names.imports.insert(original, local);
                }
            } else {
                links.push(link.clone());
            }
        }
    }
    let mut fed = Fed::new(&names);
    fed.compose_directives = compose_directive_names(&document, &names.local("composeDirective"));

    let mut types: IndexMap<Name, Type> = IndexMap::new();
    let mut definitions: IndexMap<Name, Node<ast::DirectiveDefinition>> = IndexMap::new();
    for definition in &document.definitions {
        if let Definition::DirectiveDefinition(d) = definition {
            definitions.insert(d.name.clone(), d.clone());
            continue;
        }
        let Some(parts) = Parts::of(definition) else {
            continue;
        };
        if is_federation_machinery(parts.name) {
            continue;
        }
        let type_name = roots
            .get(parts.name)
            .map(|r| Name::new_unchecked(r))
            .unwrap_or_else(|| parts.name.clone());
        if let Some(existing) = types.get(&type_name)
            && existing.kind != parts.kind
        {
            return Err(invalid(format!(
                "`{type_name}` is defined both as {} and {}",
                existing.kind.label(),
                parts.kind.label()
            )));
        }
        let ty = types.entry(type_name.clone()).or_insert_with(|| Type {
            name: type_name.clone(),
            kind: parts.kind,
            description: None,
            keys: Vec::new(),
            extension: false,
            printed_extension: false,
            has_definition: false,
            extends_directive: false,
            interface_object: false,
            implements: Vec::new(),
            members: Vec::new(),
            fields: IndexMap::new(),
            values: IndexMap::new(),
            carried: Carried::default(),
        });
        if parts.extension {
            ty.extension = true;
        } else {
            ty.has_definition = true;
        }
        if ty.description.is_none() {
            ty.description = parts.description.cloned();
        }
        let directives = parts.directives;
        for key in directives.get_all(&fed.key) {
            let fields = key
                .specified_argument_by_name("fields")
                .and_then(|v| v.as_str())
                .ok_or_else(|| invalid(format!("@key on `{type_name}` has no `fields` string")))?;
            ty.keys.push(Key {
                fields: fields.to_owned(),
                resolvable: key
                    .specified_argument_by_name("resolvable")
                    .and_then(|v| v.to_bool())
                    .unwrap_or(true),
            });
        }
        if directives.get(&fed.extends).is_some() {
            ty.extension = true;
            ty.extends_directive = true;
        }
        ty.interface_object |= directives.get(&fed.interface_object).is_some();
        // `@shareable` on a type covers the fields of that definition only,
        // not those of its other extensions.
        let shareable_here = directives.get(&fed.shareable).is_some();
        // So does `@external` on a type (Federation 2).
        let external_here = directives.get(&fed.external).is_some();
        fed.carry(directives, &mut ty.carried);
        ty.implements.extend(parts.implements.iter().cloned());
        ty.members.extend(parts.members.iter().cloned());
        for f in parts.fields {
            if parts.kind == Kind::Object && matches!(f.name.as_str(), "_service" | "_entities") {
                continue;
            }
            let mut field = fed.field(f, &invalid)?;
            field.shareable |= shareable_here;
            field.external |= external_here;
            ty.fields.insert(field.name.clone(), field);
        }
        for f in parts.input_fields {
            let mut carried = Carried::default();
            fed.carry(&f.directives, &mut carried);
            ty.fields.insert(
                f.name.clone(),
                Field {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    ty: (*f.ty).clone(),
                    args: Vec::new(),
                    default: f.default_value.clone(),
                    external: false,
                    shareable: false,
                    requires: None,
                    provides: None,
                    override_from: None,
                    override_label: None,
                    carried,
                },
            );
        }
        for v in parts.values {
            let mut carried = Carried::default();
            fed.carry(&v.directives, &mut carried);
            let description = v.description.clone();
            ty.values.insert(
                v.value.clone(),
                EnumValue {
                    description,
                    carried,
                },
            );
        }
    }
    for ty in types.values_mut() {
        ty.printed_extension =
            ty.extends_directive || (ty.extension && version.0 >= 2 && !ty.has_definition);
    }
    if version.0 < 2 {
        // Federation 1: key fields of an extension are implicitly external.
        for ty in types.values_mut() {
            if !ty.extension {
                continue;
            }
            let key_fields: Vec<String> = ty
                .keys
                .iter()
                .flat_map(|k| top_level_names(&k.fields))
                .collect();
            for field in ty.fields.values_mut() {
                if key_fields.iter().any(|k| k == field.name.as_str()) {
                    field.external = true;
                }
            }
        }
    }

    let mut composed_definitions = Vec::new();
    let mut composed_links = Vec::new();
    for local in &fed.compose_directives {
        let definition = definitions.get(local.as_str()).ok_or_else(|| {
            invalid(format!(
                "@composeDirective names `@{local}`, which is not defined"
            ))
        })?;
        composed_definitions.push(definition.clone());
        for link in &links {
            if imports(link).iter().any(|(_, l)| l == local) {
                composed_links.push(link.clone());
            }
        }
    }
    let executable_directives = definitions
        .into_values()
        .filter(|d| !d.locations.is_empty() && d.locations.iter().all(|l| is_executable(*l)))
        .collect();
    Ok(Subgraph {
        name: name.to_owned(),
        url: url.to_owned(),
        version,
        types,
        composed_definitions,
        composed_links,
        executable_directives,
    })
}

/// Resolved local names of the federation directives, plus the composed ones.
struct Fed {
    key: String,
    extends: String,
    external: String,
    shareable: String,
    requires: String,
    provides: String,
    override_: String,
    inaccessible: String,
    tag: String,
    interface_object: String,
    authenticated: String,
    requires_scopes: String,
    policy: String,
    compose_directives: Vec<String>,
}

impl Fed {
    fn new(names: &Names) -> Self {
        Fed {
            key: names.local("key"),
            extends: names.local("extends"),
            external: names.local("external"),
            shareable: names.local("shareable"),
            requires: names.local("requires"),
            provides: names.local("provides"),
            override_: names.local("override"),
            inaccessible: names.local("inaccessible"),
            tag: names.local("tag"),
            interface_object: names.local("interfaceObject"),
            authenticated: names.local("authenticated"),
            requires_scopes: names.local("requiresScopes"),
            policy: names.local("policy"),
            compose_directives: Vec::new(),
        }
    }

    fn carry(&self, directives: &DirectiveList, carried: &mut Carried) {
        for d in directives.iter() {
            let name = d.name.as_str();
            if name == self.inaccessible {
                carried.inaccessible = true;
            } else if name == self.tag {
                if let Some(tag) = d
                    .specified_argument_by_name("name")
                    .and_then(|v| v.as_str())
                    && !carried.tags.iter().any(|t| t == tag)
                {
                    carried.tags.push(tag.to_owned());
                }
            } else if name == self.authenticated {
                carried.authenticated = true;
            } else if name == self.requires_scopes {
                carried.scopes = super::merge::merge_groups(&carried.scopes, &groups(d, "scopes"));
            } else if name == self.policy {
                carried.policies =
                    super::merge::merge_groups(&carried.policies, &groups(d, "policies"));
            } else if name == "deprecated" {
                carried.deprecated = Some(d.clone());
            } else if name == "specifiedBy" {
                carried.specified_by = Some(d.clone());
            } else if self.compose_directives.iter().any(|c| c == name) {
                carried.composed.push(d.clone());
            }
        }
    }

    fn field(
        &self,
        f: &ast::FieldDefinition,
        invalid: &dyn Fn(String) -> ComposeError,
    ) -> Result<Field, ComposeError> {
        let d = &f.directives;
        let string = |directive: &str, arg: &str| -> Option<String> {
            d.get(directive)
                .and_then(|x| x.specified_argument_by_name(arg))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let override_from = string(&self.override_, "from");
        if d.get(&self.override_).is_some() && override_from.is_none() {
            return Err(invalid(format!("@override on `{}` needs `from`", f.name)));
        }
        let mut carried = Carried::default();
        self.carry(d, &mut carried);
        let args = f
            .arguments
            .iter()
            .map(|a| {
                let mut carried = Carried::default();
                self.carry(&a.directives, &mut carried);
                Argument {
                    name: a.name.clone(),
                    description: a.description.clone(),
                    ty: (*a.ty).clone(),
                    default: a.default_value.clone(),
                    carried,
                }
            })
            .collect();
        Ok(Field {
            name: f.name.clone(),
            description: f.description.clone(),
            ty: f.ty.clone(),
            args,
            default: None,
            external: d.get(&self.external).is_some(),
            shareable: d.get(&self.shareable).is_some(),
            requires: string(&self.requires, "fields"),
            provides: string(&self.provides, "fields"),
            override_from,
            override_label: string(&self.override_, "label"),
            carried,
        })
    }
}

/// `[["a", "b"], ["c"]]` from a `@requiresScopes`/`@policy` argument.
fn groups(directive: &ast::Directive, arg: &str) -> Vec<Vec<String>> {
    directive
        .specified_argument_by_name(arg)
        .and_then(|v| v.as_list())
        .map(|outer| {
            outer
                .iter()
                .map(|inner| {
                    inner
                        .as_list()
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| i.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A type definition or extension seen through one shape.
struct Parts<'a> {
    name: &'a Name,
    kind: Kind,
    extension: bool,
    description: Option<&'a Node<str>>,
    directives: &'a DirectiveList,
    implements: &'a [Name],
    members: &'a [Name],
    fields: &'a [Node<ast::FieldDefinition>],
    input_fields: &'a [Node<ast::InputValueDefinition>],
    values: &'a [Node<ast::EnumValueDefinition>],
}

impl<'a> Parts<'a> {
    fn of(definition: &'a Definition) -> Option<Self> {
        let base = |name, kind, extension, description, directives| Parts {
            name,
            kind,
            extension,
            description,
            directives,
            implements: &[],
            members: &[],
            fields: &[],
            input_fields: &[],
            values: &[],
        };
        Some(match definition {
            Definition::ScalarTypeDefinition(d) => base(
                &d.name,
                Kind::Scalar,
                false,
                d.description.as_ref(),
                &d.directives,
            ),
            Definition::ScalarTypeExtension(d) => {
                base(&d.name, Kind::Scalar, true, None, &d.directives)
            }
            Definition::ObjectTypeDefinition(d) => Parts {
                implements: &d.implements_interfaces,
                fields: &d.fields,
                ..base(
                    &d.name,
                    Kind::Object,
                    false,
                    d.description.as_ref(),
                    &d.directives,
                )
            },
            Definition::ObjectTypeExtension(d) => Parts {
                implements: &d.implements_interfaces,
                fields: &d.fields,
                ..base(&d.name, Kind::Object, true, None, &d.directives)
            },
            Definition::InterfaceTypeDefinition(d) => Parts {
                implements: &d.implements_interfaces,
                fields: &d.fields,
                ..base(
                    &d.name,
                    Kind::Interface,
                    false,
                    d.description.as_ref(),
                    &d.directives,
                )
            },
            Definition::InterfaceTypeExtension(d) => Parts {
                implements: &d.implements_interfaces,
                fields: &d.fields,
                ..base(&d.name, Kind::Interface, true, None, &d.directives)
            },
            Definition::UnionTypeDefinition(d) => Parts {
                members: &d.members,
                ..base(
                    &d.name,
                    Kind::Union,
                    false,
                    d.description.as_ref(),
                    &d.directives,
                )
            },
            Definition::UnionTypeExtension(d) => Parts {
                members: &d.members,
                ..base(&d.name, Kind::Union, true, None, &d.directives)
            },
            Definition::EnumTypeDefinition(d) => Parts {
                values: &d.values,
                ..base(
                    &d.name,
                    Kind::Enum,
                    false,
                    d.description.as_ref(),
                    &d.directives,
                )
            },
            Definition::EnumTypeExtension(d) => Parts {
                values: &d.values,
                ..base(&d.name, Kind::Enum, true, None, &d.directives)
            },
            Definition::InputObjectTypeDefinition(d) => Parts {
                input_fields: &d.fields,
                ..base(
                    &d.name,
                    Kind::Input,
                    false,
                    d.description.as_ref(),
                    &d.directives,
                )
            },
            Definition::InputObjectTypeExtension(d) => Parts {
                input_fields: &d.fields,
                ..base(&d.name, Kind::Input, true, None, &d.directives)
            },
            _ => return None,
        })
    }
}

fn is_executable(location: ast::DirectiveLocation) -> bool {
    use ast::DirectiveLocation as L;
    matches!(
        location,
        L::Query
            | L::Mutation
            | L::Subscription
            | L::Field
            | L::FragmentDefinition
            | L::FragmentSpread
            | L::InlineFragment
            | L::VariableDefinition
    )
}

/// `v2.7` -> (2, 7).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.trim_end_matches('/').strip_prefix('v')?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `import: ["@key", { name: "@shareable", as: "@share" }]` as (original, local)
/// pairs without `@`.
fn imports(link: &ast::Directive) -> Vec<(String, String)> {
    let Some(items) = link
        .specified_argument_by_name("import")
        .and_then(|v| v.as_list())
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let (name, alias) = if let Some(name) = item.as_str() {
                (name, name)
            } else {
                let fields = item.as_object()?;
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(n, _)| n == k)
                        .and_then(|(_, v)| v.as_str())
                };
                let name = get("name")?;
                (name, get("as").unwrap_or(name))
            };
            Some((
                name.trim_start_matches('@').to_owned(),
                alias.trim_start_matches('@').to_owned(),
            ))
        })
        .collect()
}

/// Top-level field names of a field set, e.g. `id` and `store` in `id store { id }`.
pub(super) fn top_level_names(fields: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut paren = 0usize;
    let mut current = String::new();
    let flush = |current: &mut String, names: &mut Vec<String>| {
        if !current.is_empty() {
            names.push(std::mem::take(current));
        }
    };
    for c in fields.chars() {
        match c {
            '{' => {
                flush(&mut current, &mut names);
                depth += 1;
            }
            '}' => depth = depth.saturating_sub(1),
            '(' => {
                flush(&mut current, &mut names);
                paren += 1;
            }
            ')' => paren = paren.saturating_sub(1),
            c if depth == 0 && paren == 0 && (c.is_alphanumeric() || c == '_') => current.push(c),
            _ => flush(&mut current, &mut names),
        }
    }
    flush(&mut current, &mut names);
    names
}

/// Reads `@composeDirective(name: "@x")` from the schema definition/extension.
fn compose_directive_names(sdl_document: &ast::Document, local: &str) -> Vec<String> {
    let mut out = Vec::new();
    for definition in &sdl_document.definitions {
        let directives = match definition {
            Definition::SchemaDefinition(s) => &s.directives,
            Definition::SchemaExtension(s) => &s.directives,
            _ => continue,
        };
        for d in directives.get_all(local) {
            if let Some(name) = d
                .specified_argument_by_name("name")
                .and_then(|v| v.as_str())
            {
                out.push(name.trim_start_matches('@').to_owned());
            }
        }
    }
    out
}
