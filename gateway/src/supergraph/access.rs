//! Access requirements of the supergraph: `@authenticated`,
//! `@requiresScopes(scopes:)` and `@policy(policies:)` (the federation
//! `authenticated`, `requiresScopes` and `policy` specs) on fields and types,
//! read once per supergraph. The API schema drops these directives; the
//! gateway enforces them (`server::authz`).

use std::collections::{BTreeSet, HashMap};

use apollo_compiler::{
    Schema,
    ast::{Directive, Value},
    schema::ExtendedType,
};

use super::{compose::merge_groups, links::Links};

/// What a field asks of the caller: every part must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    pub authenticated: bool,
    /// Alternatives, each a set of scopes the caller must all have.
    pub scopes: Vec<Vec<String>>,
    /// Alternatives, each a set of policies that must all be granted.
    pub policies: Vec<Vec<String>>,
}

impl Requirement {
    pub fn is_empty(&self) -> bool {
        !self.authenticated && self.scopes.is_empty() && self.policies.is_empty()
    }

    /// Both requirements.
    fn and(&mut self, other: &Requirement) {
        self.authenticated |= other.authenticated;
        self.scopes = merge_groups(&self.scopes, &other.scopes);
        self.policies = merge_groups(&self.policies, &other.policies);
    }

    /// Whether a caller with these scopes and granted policies meets it
    /// (`authenticated`: there is a caller at all).
    pub fn allows(
        &self,
        authenticated: bool,
        scopes: &BTreeSet<String>,
        policies: &BTreeSet<String>,
    ) -> bool {
        let any_all = |groups: &[Vec<String>], have: &BTreeSet<String>| {
            groups.is_empty() || groups.iter().any(|g| g.iter().all(|s| have.contains(s)))
        };
        (!self.authenticated || authenticated)
            && any_all(&self.scopes, scopes)
            && any_all(&self.policies, policies)
    }

    /// Whether only an authenticated caller could ever meet it.
    pub fn needs_caller(&self) -> bool {
        self.authenticated || !self.scopes.is_empty() || !self.policies.is_empty()
    }
}

/// Requirements by field coordinate and by type, for the whole supergraph.
#[derive(Debug, Default)]
pub struct AccessRules {
    fields: HashMap<(String, String), Requirement>,
    types: HashMap<String, Requirement>,
    /// Every scope and policy named anywhere: what of a caller's grants
    /// can change an operation's outcome.
    pub scopes: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

impl AccessRules {
    pub(crate) fn read(schema: &Schema, links: &Links) -> Self {
        let local = |spec: &str| {
            links
                .features
                .iter()
                .find(|f| f.name == spec)
                .map(|f| f.directive(spec))
        };
        let names = Names {
            authenticated: local("authenticated"),
            scopes: local("requiresScopes"),
            policy: local("policy"),
        };
        let mut rules = AccessRules::default();
        if names.authenticated.is_none() && names.scopes.is_none() && names.policy.is_none() {
            return rules;
        }
        for (name, ty) in &schema.types {
            let requirement = names.read(ty.directives().iter().map(|d| &***d));
            if !requirement.is_empty() {
                rules.types.insert(name.to_string(), requirement);
            }
            let fields = match ty {
                ExtendedType::Object(o) => &o.fields,
                ExtendedType::Interface(i) => &i.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let requirement = names.read(field.directives.iter().map(|d| &**d));
                if !requirement.is_empty() {
                    rules
                        .fields
                        .insert((name.to_string(), field_name.to_string()), requirement);
                }
            }
        }
        for requirement in rules.fields.values().chain(rules.types.values()) {
            rules
                .scopes
                .extend(requirement.scopes.iter().flatten().cloned());
            rules
                .policies
                .extend(requirement.policies.iter().flatten().cloned());
        }
        rules
    }

    /// Nothing in the supergraph is protected.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.types.is_empty()
    }

    /// What selecting `parent.field` (returning `returns`) asks: the field's
    /// own directives, those of the type it returns, and, on an interface,
    /// those of the field on every implementation (the strictest applies,
    /// as any of them may be the one resolved).
    pub fn field(&self, schema: &Schema, parent: &str, field: &str, returns: &str) -> Requirement {
        let mut requirement = Requirement::default();
        let key = |t: &str| (t.to_owned(), field.to_owned());
        if let Some(r) = self.fields.get(&key(parent)) {
            requirement.and(r);
        }
        if let Some(r) = self.types.get(returns) {
            requirement.and(r);
        }
        if !matches!(schema.types.get(parent), Some(ExtendedType::Object(_))) {
            for implementer in schema
                .types
                .iter()
                .filter(|(_, t)| matches!(t, ExtendedType::Object(_)))
                .filter(|(name, _)| schema.is_subtype(parent, name))
                .map(|(name, _)| name.as_str())
            {
                if let Some(r) = self.fields.get(&key(implementer)) {
                    requirement.and(r);
                }
            }
        }
        requirement
    }
}

/// Local names of the three directives in this supergraph.
struct Names {
    authenticated: Option<String>,
    scopes: Option<String>,
    policy: Option<String>,
}

impl Names {
    fn read<'d>(&self, directives: impl Iterator<Item = &'d Directive>) -> Requirement {
        let mut requirement = Requirement::default();
        for d in directives {
            let is = |name: &Option<String>| name.as_deref() == Some(d.name.as_str());
            if is(&self.authenticated) {
                requirement.authenticated = true;
            } else if is(&self.scopes) {
                requirement.scopes = merge_groups(&requirement.scopes, &groups(d, "scopes"));
            } else if is(&self.policy) {
                requirement.policies = merge_groups(&requirement.policies, &groups(d, "policies"));
            }
        }
        requirement
    }
}

/// `[["a", "b"], ["c"]]` from the directive's argument.
fn groups(directive: &Directive, argument: &str) -> Vec<Vec<String>> {
    let Some(Value::List(outer)) = directive.specified_argument_by_name(argument).map(|v| &**v)
    else {
        return Vec::new();
    };
    outer
        .iter()
        .filter_map(|inner| match &**inner {
            Value::List(items) => Some(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}
