//! Authorization of an operation before it is planned: fields whose
//! `@authenticated` / `@requiresScopes` / `@policy` requirement the caller
//! does not meet are taken out of the document the planner sees, so no
//! subgraph is ever asked for them; the response shaper then answers them
//! `null` with an `UNAUTHENTICATED` (anonymous caller) or `FORBIDDEN` error
//! at their path, and the rest of the operation is served (the federation
//! authorization semantics).
//!
//! Policies are evaluated here, from a configured rule set over the token's
//! claims ([`PolicyRule`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use apollo_compiler::{
    ExecutableDocument, Name, Node, Schema,
    executable::{Field, Selection, SelectionSet},
    validation::Valid,
};
use auth::Principal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::supergraph::access::AccessRules;

/// `[authorization]`: enforcement and the policies `@policy` names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// Enforce the supergraph's `@authenticated`, `@requiresScopes` and `@policy`.
    pub enabled: bool,
    /// Policy name (as in `@policy(policies:)`) to the claim it needs; a
    /// policy without a rule is never granted.
    pub policies: BTreeMap<String, PolicyRule>,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            policies: BTreeMap::new(),
        }
    }
}

/// A policy holds when the claim at `claim` (dots walk into objects) equals
/// one of `one_of`, or is a list holding one of them; with `one_of` empty,
/// when the claim is present and neither `false` nor `null`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub claim: String,
    #[serde(default)]
    pub one_of: Vec<Value>,
}

impl PolicyRule {
    fn holds(&self, claims: &serde_json::Map<String, Value>) -> bool {
        let mut path = self.claim.split('.');
        let Some(first) = path.next() else {
            return false;
        };
        let mut value = claims.get(first);
        for step in path {
            value = value.and_then(|v| v.get(step));
        }
        match value {
            None | Some(Value::Null | Value::Bool(false)) => false,
            Some(v) if self.one_of.is_empty() => !matches!(v, Value::Array(a) if a.is_empty()),
            Some(Value::Array(items)) => items.iter().any(|i| self.one_of.contains(i)),
            Some(v) => self.one_of.contains(v),
        }
    }
}

/// What of a caller decides which fields an operation may select: the
/// scopes and policies the supergraph names at all, so that the plan cache
/// keeps one plan per distinct outcome, not per token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Grants {
    pub authenticated: bool,
    pub scopes: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

impl Grants {
    pub fn of(
        principal: Option<&Principal>,
        rules: &AccessRules,
        config: &AuthorizationConfig,
    ) -> Self {
        let Some(principal) = principal else {
            return Self::default();
        };
        Self {
            authenticated: true,
            scopes: principal
                .scopes
                .intersection(&rules.scopes)
                .cloned()
                .collect(),
            policies: rules
                .policies
                .iter()
                .filter(|p| {
                    config
                        .policies
                        .get(p.as_str())
                        .is_some_and(|rule| rule.holds(&principal.claims))
                })
                .cloned()
                .collect(),
        }
    }
}

/// Fields taken out of an operation, by the address of their node in the
/// client's document, with the error code each gets.
pub type Denied = HashMap<usize, &'static str>;

/// The address a field node is known by in [`Denied`].
pub fn field_id(field: &Node<Field>) -> usize {
    std::ptr::from_ref::<Field>(field) as usize
}

/// The document the planner gets: `document` without the fields `grants`
/// do not allow (a selection left empty asks `__typename` instead), and
/// those fields. `None` when everything is allowed.
pub fn filter(
    document: &Valid<ExecutableDocument>,
    supergraph: &Schema,
    api_schema: &Valid<Schema>,
    rules: &AccessRules,
    grants: &Grants,
) -> Option<(Valid<ExecutableDocument>, Denied)> {
    if rules.is_empty() {
        return None;
    }
    let mut filter = Filter {
        supergraph,
        api_schema,
        rules,
        grants,
        denied: Denied::new(),
    };
    let mut filtered = ExecutableDocument::clone(document);
    if let Some(op) = &document.operations.anonymous {
        let set = filter.set(&op.selection_set);
        if let Some(target) = &mut filtered.operations.anonymous {
            target.make_mut().selection_set = set;
        }
    }
    for (name, op) in &document.operations.named {
        let set = filter.set(&op.selection_set);
        if let Some(target) = filtered.operations.named.get_mut(name) {
            target.make_mut().selection_set = set;
        }
    }
    for (name, fragment) in &document.fragments {
        let set = filter.set(&fragment.selection_set);
        if let Some(target) = filtered.fragments.get_mut(name) {
            target.make_mut().selection_set = set;
        }
    }
    if filter.denied.is_empty() {
        return None;
    }
    // Only selections were removed from a valid document (and `__typename`
    // added), so it stays valid but for variables that may now go unused,
    // which planning does not mind.
    Some((Valid::assume_valid(filtered), filter.denied))
}

struct Filter<'a> {
    supergraph: &'a Schema,
    api_schema: &'a Valid<Schema>,
    rules: &'a AccessRules,
    grants: &'a Grants,
    denied: Denied,
}

impl Filter<'_> {
    fn set(&mut self, set: &SelectionSet) -> SelectionSet {
        let mut out = SelectionSet::new(set.ty.clone());
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if let Some(code) = self.refusal(&set.ty, field) {
                        self.denied.insert(field_id(field), code);
                        continue;
                    }
                    if field.selection_set.selections.is_empty() {
                        out.push(selection.clone());
                    } else {
                        let mut kept = Field::clone(field);
                        kept.selection_set = self.set(&field.selection_set);
                        out.push(kept);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let mut kept = inline.as_ref().clone();
                    kept.selection_set = self.set(&inline.selection_set);
                    out.push(kept);
                }
                Selection::FragmentSpread(_) => out.push(selection.clone()),
            }
        }
        if out.selections.is_empty()
            && !set.selections.is_empty()
            && let Ok(typename) = out.new_field(self.api_schema, Name::new_unchecked("__typename"))
        {
            out.push(typename);
        }
        out
    }

    fn refusal(&self, parent: &Name, field: &Field) -> Option<&'static str> {
        if field.name.starts_with("__") {
            return None;
        }
        let requirement = self.rules.field(
            self.supergraph,
            parent,
            &field.name,
            field.ty().inner_named_type(),
        );
        if requirement.allows(
            self.grants.authenticated,
            &self.grants.scopes,
            &self.grants.policies,
        ) {
            None
        } else if !self.grants.authenticated && requirement.needs_caller() {
            Some("UNAUTHENTICATED")
        } else {
            Some("FORBIDDEN")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn policy_rules_match_claims() {
        let claims =
            json!({ "role": "staff", "groups": ["a", "b"], "org": { "tier": 2 }, "beta": true })
                .as_object()
                .cloned()
                .unwrap_or_default();
        let rule = |claim: &str, one_of: Value| PolicyRule {
            claim: claim.into(),
            one_of: serde_json::from_value(one_of).unwrap_or_default(),
        };
        assert!(rule("role", json!(["staff", "admin"])).holds(&claims));
        assert!(!rule("role", json!(["admin"])).holds(&claims));
        assert!(rule("groups", json!(["b"])).holds(&claims));
        assert!(rule("org.tier", json!([2])).holds(&claims));
        assert!(rule("beta", json!([])).holds(&claims));
        assert!(!rule("missing", json!([])).holds(&claims));
    }
}
