//! The query plan the executor walks, and its text form (what snapshot tests
//! compare and `switchyard plan` prints).

use std::fmt::{self, Write as _};

use apollo_compiler::ast;
use apollo_compiler::{Name, Node};

use super::PlanError;
use super::operation::{Condition, Conditions};
use crate::supergraph::SubgraphId;

/// What to run for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    /// `None` when nothing needs a subgraph (only introspection or `__typename`).
    pub node: Option<PlanNode>,
    /// Response keys of root introspection fields (`__schema`, `__type`) that the
    /// gateway answers itself from the API schema; no fetch carries them.
    pub introspection: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlanNode {
    Fetch(FetchNode),
    /// Runs an entity fetch for the objects found at `path`, merging results there.
    Flatten(FlattenNode),
    /// Children one after another.
    Sequence(Vec<PlanNode>),
    /// Children at the same time.
    Parallel(Vec<PlanNode>),
    /// A variable `@skip`/`@include` that cuts whole fetches.
    Condition(ConditionNode),
}

/// Whether a fetch is a query or a mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
}

/// One request to one subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchNode {
    pub subgraph: SubgraphId,
    pub service_name: String,
    pub operation_kind: OperationKind,
    /// The exact operation text sent, with the variable definitions it uses
    /// (and `$representations` for entity fetches).
    pub operation: String,
    /// Client variables the operation uses; the executor forwards only these.
    pub variable_usages: Vec<String>,
    /// For entity fetches: what each representation holds, read from the data at
    /// the flatten path (`... on T { __typename <key> <required fields> }`).
    /// A field with an alias is read under the alias (the planner fetched it so
    /// because a client alias took its name) and sent under its name. A type
    /// condition may be an interface: it matches its possible types
    /// ([`crate::supergraph::Supergraph::type_condition_matches`]).
    pub requires: Option<SelectionSet>,
    /// What the fetch selects: root fields, or `... on T { }` under `_entities`.
    pub selection: SelectionSet,
    /// Type conditions of `requires` whose representations must carry the
    /// condition itself as `__typename`: the subgraph knows that interface
    /// only as an `@interfaceObject`, not its implementations.
    /// (type condition, name): representations read through that condition
    /// carry `name` as `__typename`, for a subgraph that knows the type only
    /// as an `@interfaceObject` of that name.
    pub typename_overrides: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlattenNode {
    pub path: Vec<PathElement>,
    pub node: Box<PlanNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionNode {
    pub variable: String,
    /// Runs when the variable is true.
    pub if_true: Option<Box<PlanNode>>,
    /// Runs when the variable is false.
    pub if_false: Option<Box<PlanNode>>,
}

/// One step of a merge path: a response key, or `@` for every item of a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    Key(String),
    List,
}

/// A selection set as sent to a subgraph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectionSet {
    pub selections: Vec<Selection>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Field(Field),
    InlineFragment(InlineFragment),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub arguments: Vec<Node<ast::Argument>>,
    pub(crate) conditions: Conditions,
    pub selection_set: SelectionSet,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InlineFragment {
    pub type_condition: Option<String>,
    pub selection_set: SelectionSet,
}

impl Field {
    /// The key under which the field appears in the subgraph's response.
    pub fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// `(variable, include_when)` pairs from the field's `@skip`/`@include`.
    pub fn conditions(&self) -> impl Iterator<Item = (&str, bool)> {
        self.conditions
            .0
            .iter()
            .map(|c| (c.variable.as_str(), c.include_when))
    }
}

impl SelectionSet {
    pub fn is_empty(&self) -> bool {
        self.selections.is_empty()
    }

    /// Whether some field is selected whatever the variables: a subgraph
    /// may answer an object whose selections were all skipped with `null`
    /// (async-graphql does) rather than `{}`.
    pub(crate) fn always_selects_a_field(&self) -> bool {
        self.selections
            .iter()
            .any(|s| matches!(s, Selection::Field(f) if f.conditions.0.is_empty()))
    }

    /// Removes inline fragments that ended up selecting nothing.
    pub(crate) fn drop_empty_fragments(&mut self) {
        for selection in &mut self.selections {
            match selection {
                Selection::Field(f) => {
                    let composite = !f.selection_set.is_empty();
                    f.selection_set.drop_empty_fragments();
                    if composite && f.selection_set.is_empty() {
                        f.selection_set.selections.push(Selection::Field(Field {
                            alias: None,
                            name: "__typename".to_owned(),
                            arguments: Vec::new(),
                            conditions: Conditions::default(),
                            selection_set: SelectionSet::default(),
                        }));
                    }
                }
                Selection::InlineFragment(f) => f.selection_set.drop_empty_fragments(),
            }
        }
        self.selections.retain(|s| match s {
            Selection::InlineFragment(f) => !f.selection_set.is_empty(),
            Selection::Field(_) => true,
        });
    }

    /// Index of a field with this response key, to merge into.
    pub(crate) fn field_index(&self, response_key: &str) -> Option<usize> {
        self.selections.iter().position(|s| match s {
            Selection::Field(f) => f.response_key() == response_key,
            Selection::InlineFragment(_) => false,
        })
    }

    pub(crate) fn fragment_index(&self, type_condition: &str) -> Option<usize> {
        self.selections.iter().position(|s| match s {
            Selection::InlineFragment(f) => f.type_condition.as_deref() == Some(type_condition),
            Selection::Field(_) => false,
        })
    }

    /// The nested selection set at `position` (indexes of fields/fragments).
    pub(crate) fn at_mut(&mut self, position: &[usize]) -> Option<&mut SelectionSet> {
        let mut set = self;
        for index in position {
            set = match set.selections.get_mut(*index)? {
                Selection::Field(f) => &mut f.selection_set,
                Selection::InlineFragment(f) => &mut f.selection_set,
            };
        }
        Some(set)
    }

    /// Adds (or merges into) a field; returns its index. Merged conditions are
    /// those both occurrences share: fetching a little more is always safe.
    pub(crate) fn add_field(
        &mut self,
        alias: Option<&Name>,
        name: &Name,
        arguments: &[Node<ast::Argument>],
        conditions: &Conditions,
    ) -> Result<usize, PlanError> {
        let key = alias.unwrap_or(name);
        if let Some(index) = self.field_index(key) {
            if let Some(Selection::Field(existing)) = self.selections.get_mut(index) {
                // Validation rules out clashes between client fields; this one
                // is an alias shadowing a key or required field the plan adds.
                if existing.name != name.as_str() || existing.arguments != arguments {
                    return Err(PlanError::Unsupported(format!(
                        "response key `{key}` is used both for `{}` and for `{name}`, which the plan needs; \
                         rename the alias",
                        existing.name
                    )));
                }
                existing.conditions = existing.conditions.intersection(conditions);
            }
            return Ok(index);
        }
        self.selections.push(Selection::Field(Field {
            alias: alias.map(|a| a.to_string()),
            name: name.to_string(),
            arguments: arguments.to_vec(),
            conditions: conditions.clone(),
            selection_set: SelectionSet::default(),
        }));
        Ok(self.selections.len() - 1)
    }

    pub(crate) fn add_fragment(&mut self, type_condition: &str) -> usize {
        if let Some(index) = self.fragment_index(type_condition) {
            return index;
        }
        self.selections
            .push(Selection::InlineFragment(InlineFragment {
                type_condition: Some(type_condition.to_owned()),
                selection_set: SelectionSet::default(),
            }));
        self.selections.len() - 1
    }

    /// Variables used by arguments and conditions, in order of appearance.
    pub(crate) fn variables(&self, out: &mut Vec<Name>) {
        for selection in &self.selections {
            match selection {
                Selection::Field(f) => {
                    for argument in &f.arguments {
                        super::operation::collect_variables(&argument.value, out);
                    }
                    for condition in &f.conditions.0 {
                        if !out.contains(&condition.variable) {
                            out.push(condition.variable.clone());
                        }
                    }
                    f.selection_set.variables(out);
                }
                Selection::InlineFragment(f) => f.selection_set.variables(out),
            }
        }
    }
}

impl fmt::Display for SelectionSet {
    /// One line: `{ a b(x: $x) @include(if: $v) { c } ... on T { d } }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for selection in &self.selections {
            f.write_str(" ")?;
            match selection {
                Selection::Field(field) => {
                    // `@skip`/`@include` are not repeatable: beyond one of
                    // each on the field, typeless fragments carry the rest.
                    let mut on_field: Vec<&Condition> = Vec::new();
                    let mut wrappers = 0;
                    // On `__typename` every condition travels as a fragment:
                    // async-graphql does not count a variable used only
                    // there, and rejects the operation.
                    let typename = field.name == "__typename";
                    for condition in &field.conditions.0 {
                        if typename
                            || on_field
                                .iter()
                                .any(|c| c.include_when == condition.include_when)
                        {
                            let directive = if condition.include_when {
                                "include"
                            } else {
                                "skip"
                            };
                            write!(f, "... @{directive}(if: ${}) {{ ", condition.variable)?;
                            wrappers += 1;
                        } else {
                            on_field.push(condition);
                        }
                    }
                    if let Some(alias) = &field.alias {
                        write!(f, "{alias}: ")?;
                    }
                    f.write_str(&field.name)?;
                    if !field.arguments.is_empty() {
                        f.write_str("(")?;
                        for (i, argument) in field.arguments.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{}: {}", argument.name, argument.value)?;
                        }
                        f.write_str(")")?;
                    }
                    for Condition {
                        variable,
                        include_when,
                    } in on_field
                    {
                        let directive = if *include_when { "include" } else { "skip" };
                        write!(f, " @{directive}(if: ${variable})")?;
                    }
                    if !field.selection_set.is_empty() {
                        write!(f, " {}", field.selection_set)?;
                    }
                    for _ in 0..wrappers {
                        f.write_str(" }")?;
                    }
                }
                Selection::InlineFragment(fragment) => {
                    f.write_str("...")?;
                    if let Some(ty) = &fragment.type_condition {
                        write!(f, " on {ty}")?;
                    }
                    write!(f, " {}", fragment.selection_set)?;
                }
            }
        }
        f.write_str(" }")
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Key(key) => f.write_str(key),
            PathElement::List => f.write_str("@"),
        }
    }
}

/// `users.@.orders`
pub fn format_path(path: &[PathElement]) -> String {
    let mut out = String::new();
    for (i, element) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let _ = write!(out, "{element}");
    }
    out
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node.is_none() && self.introspection.is_empty() {
            return f.write_str("QueryPlan {}");
        }
        f.write_str("QueryPlan {\n")?;
        if !self.introspection.is_empty() {
            writeln!(
                f,
                "  Introspection(fields: \"{}\"),",
                self.introspection.join(", ")
            )?;
        }
        if let Some(node) = &self.node {
            write_node(f, node, 1)?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for PlanNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, self, 0)
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &PlanNode, depth: usize) -> fmt::Result {
    let indent = "  ".repeat(depth);
    match node {
        PlanNode::Fetch(fetch) => {
            write!(f, "{indent}Fetch(service: \"{}\") {{ ", fetch.service_name)?;
            if fetch.operation_kind == OperationKind::Mutation {
                f.write_str("mutation ")?;
            }
            if let Some(requires) = &fetch.requires {
                write!(f, "{requires} => ")?;
            }
            writeln!(f, "{} }},", fetch.selection)
        }
        PlanNode::Flatten(flatten) => {
            writeln!(
                f,
                "{indent}Flatten(path: \"{}\") {{",
                format_path(&flatten.path)
            )?;
            write_node(f, &flatten.node, depth + 1)?;
            writeln!(f, "{indent}}},")
        }
        PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
            let name = if matches!(node, PlanNode::Sequence(_)) {
                "Sequence"
            } else {
                "Parallel"
            };
            writeln!(f, "{indent}{name} {{")?;
            for child in nodes {
                write_node(f, child, depth + 1)?;
            }
            writeln!(f, "{indent}}},")
        }
        PlanNode::Condition(condition) => {
            match (&condition.if_true, &condition.if_false) {
                (Some(then), None) | (None, Some(then)) => {
                    let name = if condition.if_true.is_some() {
                        "Include"
                    } else {
                        "Skip"
                    };
                    writeln!(f, "{indent}{name}(if: ${}) {{", condition.variable)?;
                    write_node(f, then, depth + 1)?;
                }
                (then, otherwise) => {
                    writeln!(f, "{indent}Condition(if: ${}) {{", condition.variable)?;
                    writeln!(f, "{indent}  Then {{")?;
                    if let Some(then) = then {
                        write_node(f, then, depth + 2)?;
                    }
                    writeln!(f, "{indent}  }} Else {{")?;
                    if let Some(otherwise) = otherwise {
                        write_node(f, otherwise, depth + 2)?;
                    }
                    writeln!(f, "{indent}  }},")?;
                }
            }
            writeln!(f, "{indent}}},")
        }
    }
}
