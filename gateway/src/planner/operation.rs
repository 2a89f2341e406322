//! The client operation normalized for planning: named fragments inlined,
//! literal `@skip`/`@include` applied, variable ones pushed down onto the fields
//! they guard, type conditions that cannot narrow anything dropped.
//! `@key`/`@requires`/`@provides` field sets use the same shape.

use std::collections::HashMap;

use apollo_compiler::ast::{self, Value};
use apollo_compiler::executable::{self, ExecutableDocument, Selection};
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;

use super::PlanError;

/// Deeper operations are refused rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 96;

/// One variable `@skip`/`@include`: the selection is kept when the variable
/// equals `include_when`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Condition {
    pub(crate) variable: Name,
    pub(crate) include_when: bool,
}

/// A set of conditions that must all hold, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Conditions(pub(crate) Vec<Condition>);

impl Conditions {
    pub(crate) fn union(&self, other: &Conditions) -> Conditions {
        let mut all = self.0.clone();
        all.extend(other.0.iter().cloned());
        all.sort();
        all.dedup();
        Conditions(all)
    }

    pub(crate) fn intersection(&self, other: &Conditions) -> Conditions {
        Conditions(
            self.0
                .iter()
                .filter(|c| other.0.contains(c))
                .cloned()
                .collect(),
        )
    }

    pub(crate) fn minus(&self, other: &Conditions) -> Conditions {
        Conditions(
            self.0
                .iter()
                .filter(|c| !other.0.contains(c))
                .cloned()
                .collect(),
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Sel {
    Field(FieldSel),
    Fragment(FragmentSel),
}

#[derive(Debug, Clone)]
pub(crate) struct FieldSel {
    pub(crate) alias: Option<Name>,
    pub(crate) name: Name,
    pub(crate) arguments: Vec<Node<ast::Argument>>,
    pub(crate) conditions: Conditions,
    /// The named type the field returns.
    pub(crate) output_type: Name,
    /// How many list levels wrap the output type (each is an `@` in merge paths).
    pub(crate) list_depth: usize,
    /// Whether the output type is an object, interface or union: such a
    /// field needs a sub-selection in a fetch even when `@skip`/`@include`
    /// with literals removed every selection the client wrote.
    pub(crate) composite: bool,
    pub(crate) selections: Vec<Sel>,
}

impl FieldSel {
    pub(crate) fn response_key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FragmentSel {
    pub(crate) type_condition: Name,
    pub(crate) selections: Vec<Sel>,
}

/// Normalizes a selection set of a validated document (or field set).
pub(crate) fn normalize(
    document: Option<&ExecutableDocument>,
    set: &executable::SelectionSet,
    depth: usize,
) -> Result<Vec<Sel>, PlanError> {
    Normalizer {
        document,
        fragments: HashMap::new(),
    }
    .selections(set, &Conditions::default(), depth)
}

/// Inlines fragments once per (fragment, conditions) and merges what repeats,
/// so a fragment spread many times (or a "fragment bomb" that doubles at each
/// level) costs its size, not the number of times it is reached.
struct Normalizer<'d> {
    document: Option<&'d ExecutableDocument>,
    fragments: HashMap<(Name, Conditions), Vec<Sel>>,
}

impl Normalizer<'_> {
    fn selections(
        &mut self,
        set: &executable::SelectionSet,
        inherited: &Conditions,
        depth: usize,
    ) -> Result<Vec<Sel>, PlanError> {
        if depth > MAX_DEPTH {
            return Err(PlanError::TooDeep(MAX_DEPTH));
        }
        let mut out = Vec::new();
        for selection in &set.selections {
            let Some(own) = conditions_of(selection.directives()) else {
                continue;
            };
            let conditions = inherited.union(&own);
            match selection {
                Selection::Field(field) => {
                    let selections =
                        self.selections(&field.selection_set, &Conditions::default(), depth + 1)?;
                    let ty = &field.definition.ty;
                    out.push(Sel::Field(FieldSel {
                        alias: field.alias.clone(),
                        name: field.name.clone(),
                        arguments: field.arguments.clone(),
                        conditions,
                        output_type: ty.inner_named_type().clone(),
                        list_depth: list_depth(ty),
                        composite: !field.selection_set.selections.is_empty(),
                        selections,
                    }));
                }
                Selection::InlineFragment(inline) => {
                    let type_condition = inline
                        .type_condition
                        .clone()
                        .unwrap_or_else(|| set.ty.clone());
                    let selections =
                        self.selections(&inline.selection_set, &conditions, depth + 1)?;
                    push_fragment(&mut out, &set.ty, type_condition, selections);
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .and_then(|d| d.fragments.get(&spread.fragment_name))
                        .ok_or_else(|| {
                            PlanError::Internal(format!(
                                "unknown fragment `{}` in a validated document",
                                spread.fragment_name
                            ))
                        })?;
                    let key = (spread.fragment_name.clone(), conditions.clone());
                    let selections = match self.fragments.get(&key) {
                        Some(done) => done.clone(),
                        None => {
                            // Directives on a fragment definition cannot be @skip/@include.
                            let done =
                                self.selections(&fragment.selection_set, &conditions, depth + 1)?;
                            self.fragments.insert(key, done.clone());
                            done
                        }
                    };
                    push_fragment(
                        &mut out,
                        &set.ty,
                        fragment.type_condition().clone(),
                        selections,
                    );
                }
            }
        }
        Ok(merge(out))
    }
}

/// A fragment on the parent's own type adds nothing: splice its selections in.
fn push_fragment(out: &mut Vec<Sel>, parent: &Name, type_condition: Name, selections: Vec<Sel>) {
    if &type_condition == parent {
        out.extend(selections);
    } else {
        out.push(Sel::Fragment(FragmentSel {
            type_condition,
            selections,
        }));
    }
}

#[derive(PartialEq, Eq, Hash)]
enum MergeKey {
    Field(Name),
    Fragment(Name),
}

/// Merges fields with the same response key (validation guarantees they are
/// the same field) and fragments with the same type condition. Merged
/// conditions are those all occurrences share: fetching a little more is safe,
/// the response is shaped from the client's own document.
fn merge(selections: Vec<Sel>) -> Vec<Sel> {
    let mut merged: IndexMap<MergeKey, Sel> = IndexMap::with_capacity(selections.len());
    let mut repeated = Vec::new();
    for selection in selections {
        let key = match &selection {
            Sel::Field(f) => MergeKey::Field(f.response_key().clone()),
            Sel::Fragment(f) => MergeKey::Fragment(f.type_condition.clone()),
        };
        match (merged.get_full_mut(&key), selection) {
            (Some((index, _, Sel::Field(existing))), Sel::Field(field)) => {
                existing.conditions = existing.conditions.intersection(&field.conditions);
                existing.selections.extend(field.selections);
                repeated.push(index);
            }
            (Some((index, _, Sel::Fragment(existing))), Sel::Fragment(fragment)) => {
                existing.selections.extend(fragment.selections);
                repeated.push(index);
            }
            (_, selection) => {
                merged.insert(key, selection);
            }
        }
    }
    repeated.sort_unstable();
    repeated.dedup();
    for index in repeated {
        if let Some((_, sel)) = merged.get_index_mut(index) {
            let children = match sel {
                Sel::Field(f) => &mut f.selections,
                Sel::Fragment(f) => &mut f.selections,
            };
            *children = merge(std::mem::take(children));
        }
    }
    merged.into_values().collect()
}

/// `None` when a literal `@skip(if: true)`/`@include(if: false)` removes the
/// selection; otherwise the variable conditions that guard it.
fn conditions_of(directives: &executable::DirectiveList) -> Option<Conditions> {
    let mut conditions = Vec::new();
    for directive in directives.iter() {
        let include_when = match directive.name.as_str() {
            "include" => true,
            "skip" => false,
            _ => continue,
        };
        match directive.specified_argument_by_name("if").map(|v| &**v) {
            Some(Value::Boolean(value)) if *value != include_when => return None,
            Some(Value::Variable(variable)) => conditions.push(Condition {
                variable: variable.clone(),
                include_when,
            }),
            _ => {}
        }
    }
    conditions.sort();
    conditions.dedup();
    Some(Conditions(conditions))
}

fn list_depth(ty: &ast::Type) -> usize {
    match ty {
        ast::Type::Named(_) | ast::Type::NonNullNamed(_) => 0,
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => 1 + list_depth(inner),
    }
}

/// Variables referenced by a value.
pub(crate) fn collect_variables(value: &Value, out: &mut Vec<Name>) {
    match value {
        Value::Variable(name) if !out.contains(name) => out.push(name.clone()),
        Value::List(items) => items.iter().for_each(|v| collect_variables(v, out)),
        Value::Object(fields) => fields.iter().for_each(|(_, v)| collect_variables(v, out)),
        _ => {}
    }
}
