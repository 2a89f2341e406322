//! The last pass of execution: the client's operation walked over the merged
//! data, written straight out as the response's JSON text (no second tree).
//! It gives the response the client's field order and aliases, fills
//! `__typename`, drops fields added only for planning (keys, requires), and
//! propagates nulls: a null in a non-null position nulls the nearest nullable
//! parent ("Handling Field Errors" in the GraphQL spec) — the text written for
//! that parent so far is cut off and replaced by `null`.

use std::{cell::OnceCell, collections::HashMap, rc::Rc};

use apollo_compiler::{
    ExecutableDocument, Node, Schema,
    ast::{Type, Value as AstValue},
    executable::{DirectiveList, Field, Operation, Selection, SelectionSet},
    schema::{EnumType, ExtendedType},
    validation::Valid,
};
use indexmap::IndexMap;
use serde_json::{Map, json};
use smallvec::SmallVec;

use super::value::{Object, Value, write_str};

pub struct Shaper<'a> {
    pub schema: &'a Valid<Schema>,
    pub document: &'a Valid<ExecutableDocument>,
    pub variables: &'a Map<String, serde_json::Value>,
    /// Fields the caller may not select (by node address, with the error
    /// code): never fetched, answered `null` with an error at their path.
    pub denied: &'a HashMap<usize, &'static str>,
}

impl<'a> Shaper<'a> {
    /// Writes the response's `data` to `out`: an object, or `null` when a
    /// non-null root field is null. Errors found on the way are appended.
    pub fn shape(
        &self,
        operation: &'a Operation,
        data: &'a Value,
        errors: &mut Vec<serde_json::Value>,
        out: &mut Vec<u8>,
    ) {
        static EMPTY: std::sync::OnceLock<Object> = std::sync::OnceLock::new();
        let source = data
            .as_object()
            .unwrap_or_else(|| EMPTY.get_or_init(Object::default));
        let mut walk = Walk {
            shaper: self,
            memo: HashMap::new(),
            last: None,
            path: Vec::new(),
            errors,
            out,
        };
        let start = walk.out.len();
        let root = operation.object_type().as_str();
        if !walk.object(&[&operation.selection_set], root, source) {
            walk.out.truncate(start);
            walk.out.extend_from_slice(b"null");
        }
    }

    /// CollectFields: fields by response key in document order, through
    /// fragments whose type condition applies to `type_name`.
    fn collect_into(
        &self,
        set: &'a SelectionSet,
        type_name: &str,
        out: &mut IndexMap<&'a str, SmallVec<[&'a Node<Field>; 1]>>,
    ) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if self.included(&field.directives) {
                        out.entry(field.response_key().as_str())
                            .or_default()
                            .push(field);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name)
                        && self.applies(fragment.type_condition().as_str(), type_name)
                    {
                        self.collect_into(&fragment.selection_set, type_name, out);
                    }
                }
                Selection::InlineFragment(inline) => {
                    if !self.included(&inline.directives) {
                        continue;
                    }
                    if inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.applies(c.as_str(), type_name))
                    {
                        self.collect_into(&inline.selection_set, type_name, out);
                    }
                }
            }
        }
    }

    fn applies(&self, condition: &str, type_name: &str) -> bool {
        condition == type_name || self.schema.is_subtype(condition, type_name)
    }

    /// `@skip(if:)` / `@include(if:)` with literal or variable arguments.
    fn included(&self, directives: &DirectiveList) -> bool {
        let flag = |name: &str| -> Option<bool> {
            let value = directives.get(name)?.specified_argument_by_name("if")?;
            match value.as_ref() {
                AstValue::Boolean(b) => Some(*b),
                AstValue::Variable(v) => Some(
                    self.variables
                        .get(v.as_str())
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false),
                ),
                _ => None,
            }
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }

    fn kind(&self, field: &'a Field) -> Kind<'a> {
        if field.name == "__typename" {
            return Kind::Typename;
        }
        match self.schema.types.get(field.ty().inner_named_type()) {
            Some(ExtendedType::Enum(e)) => Kind::Leaf(Some(e)),
            Some(ExtendedType::Object(_)) => Kind::Object(OnceCell::new()),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_)) => Kind::Abstract,
            _ => Kind::Leaf(None),
        }
    }
}

/// One response key of a selection set for one runtime type.
struct Collected<'a> {
    key: &'a str,
    /// `"key":`, as written before the value.
    prefix: Box<[u8]>,
    fields: SmallVec<[&'a Node<Field>; 1]>,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Typename,
    /// A scalar, or an enum whose values the API schema lists.
    Leaf(Option<&'a Node<EnumType>>),
    /// An object type: its fields, collected when first needed (every
    /// object at this place has this type, so once per request).
    Object(OnceCell<Rc<[Collected<'a>]>>),
    /// An interface or union: fields depend on each object's `__typename`.
    Abstract,
}

#[derive(Clone, Copy)]
enum PathItem<'a> {
    Key(&'a str),
    Index(usize),
}

impl PartialEq<serde_json::Value> for PathItem<'_> {
    fn eq(&self, other: &serde_json::Value) -> bool {
        match self {
            Self::Key(k) => other.as_str() == Some(k),
            Self::Index(i) => other.as_u64() == Some(*i as u64),
        }
    }
}

/// Collected fields per (selection sets, runtime type): the objects of a list
/// share them, so fields are collected once per request, not per object.
type Memo<'a> = HashMap<MemoKey<'a>, Rc<[Collected<'a>]>>;
type MemoKey<'a> = (SmallVec<[usize; 2]>, &'a str);

struct Walk<'a, 'w> {
    shaper: &'w Shaper<'a>,
    memo: Memo<'a>,
    /// The last lookup: the objects of a list ask for the same one in a row.
    last: Option<(MemoKey<'a>, Rc<[Collected<'a>]>)>,
    path: Vec<PathItem<'a>>,
    errors: &'w mut Vec<serde_json::Value>,
    out: &'w mut Vec<u8>,
}

impl<'a> Walk<'a, '_> {
    fn collected(&mut self, sets: &[&'a SelectionSet], type_name: &'a str) -> Rc<[Collected<'a>]> {
        let key = (
            sets.iter()
                .map(|s| std::ptr::from_ref(*s) as usize)
                .collect::<SmallVec<[usize; 2]>>(),
            type_name,
        );
        if let Some((last, collected)) = &self.last
            && *last == key
        {
            return collected.clone();
        }
        if let Some(hit) = self.memo.get(&key) {
            let hit = hit.clone();
            self.last = Some((key, hit.clone()));
            return hit;
        }
        let mut grouped = IndexMap::new();
        for set in sets {
            self.shaper.collect_into(set, type_name, &mut grouped);
        }
        let collected: Rc<[Collected<'a>]> = grouped
            .into_iter()
            .map(|(key, fields)| {
                let mut prefix = Vec::with_capacity(key.len() + 3);
                write_str(&mut prefix, key);
                prefix.push(b':');
                Collected {
                    key,
                    prefix: prefix.into_boxed_slice(),
                    kind: self.shaper.kind(fields[0]),
                    fields,
                }
            })
            .collect();
        self.memo.insert(key.clone(), collected.clone());
        self.last = Some((key, collected.clone()));
        collected
    }

    /// Writes the object; `false` when a non-null field of it is null: the
    /// object itself must become null (the caller cuts what was written).
    fn object(
        &mut self,
        sets: &[&'a SelectionSet],
        type_name: &'a str,
        source: &'a Object,
    ) -> bool {
        let collected = self.collected(sets, type_name);
        self.fields(&collected, type_name, source)
    }

    fn fields(
        &mut self,
        collected: &[Collected<'a>],
        type_name: &'a str,
        source: &'a Object,
    ) -> bool {
        self.out.push(b'{');
        // Subgraphs answer fields in the order asked, which mostly follows
        // the client's: look where the previous key was found first.
        let mut hint = 0;
        for (i, entry) in collected.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(&entry.prefix);
            if let Kind::Typename = entry.kind {
                write_str(self.out, type_name);
                continue;
            }
            self.path.push(PathItem::Key(entry.key));
            if let Some(code) = self.denied(entry) {
                self.error_with_code(
                    format!("Unauthorized field {type_name}.{}", entry.fields[0].name),
                    code,
                );
                let ok = self.value(type_name, entry.fields[0].ty(), entry, None);
                self.path.pop();
                if !ok {
                    return false;
                }
                continue;
            }
            let value = match source.entry_at(hint) {
                Some((key, value)) if key == entry.key => {
                    hint += 1;
                    Some(value)
                }
                _ => source.position(entry.key).and_then(|at| {
                    hint = at + 1;
                    source.entry_at(at).map(|(_, v)| v)
                }),
            };
            let ok = self.value(type_name, entry.fields[0].ty(), entry, value);
            self.path.pop();
            if !ok {
                return false;
            }
        }
        self.out.push(b'}');
        true
    }

    /// Writes the value of a field at `ty`; `false` when it is null where
    /// `ty` does not allow it. `parent` names the field's type in errors.
    fn value(
        &mut self,
        parent: &str,
        ty: &'a Type,
        entry: &Collected<'a>,
        value: Option<&'a Value>,
    ) -> bool {
        let value = match value {
            Some(Value::Null) | None => {
                if !ty.is_non_null() {
                    self.out.extend_from_slice(b"null");
                    return true;
                }
                // A missing value was owed by a failed fetch, which said so
                // already (at, above or below this path); otherwise say why,
                // so that a null never goes unexplained.
                let explained =
                    self.has_error_here() || (value.is_none() && self.has_error_above());
                if !explained {
                    let message = format!(
                        "Cannot return null for non-nullable field {parent}.{}",
                        entry.fields[0].name
                    );
                    self.error(message);
                }
                return false;
            }
            Some(v) => v,
        };
        match ty {
            Type::List(item) | Type::NonNullList(item) => {
                let Value::Array(items) = value else {
                    return self.null_unless(ty);
                };
                let start = self.out.len();
                self.out.push(b'[');
                for (i, item_value) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.path.push(PathItem::Index(i));
                    let ok = self.value(parent, item, entry, Some(item_value));
                    self.path.pop();
                    if !ok {
                        self.out.truncate(start);
                        return self.null_unless(ty);
                    }
                }
                self.out.push(b']');
                true
            }
            Type::Named(name) | Type::NonNullNamed(name) => match &entry.kind {
                Kind::Object(children) => {
                    let Value::Object(object) = value else {
                        return self.null_unless(ty);
                    };
                    let children = match children.get() {
                        Some(children) => children.clone(),
                        None => {
                            let sets: SmallVec<[&'a SelectionSet; 2]> =
                                entry.fields.iter().map(|f| &f.selection_set).collect();
                            let collected = self.collected(&sets, name.as_str());
                            children.get_or_init(|| collected).clone()
                        }
                    };
                    let start = self.out.len();
                    if self.fields(&children, name.as_str(), object) {
                        true
                    } else {
                        self.out.truncate(start);
                        self.null_unless(ty)
                    }
                }
                Kind::Abstract => {
                    let Value::Object(object) = value else {
                        return self.null_unless(ty);
                    };
                    let runtime = object
                        .get("__typename")
                        .and_then(Value::as_str)
                        .unwrap_or(name.as_str());
                    let sets: SmallVec<[&'a SelectionSet; 2]> =
                        entry.fields.iter().map(|f| &f.selection_set).collect();
                    let start = self.out.len();
                    if self.object(&sets, runtime, object) {
                        true
                    } else {
                        self.out.truncate(start);
                        self.null_unless(ty)
                    }
                }
                Kind::Leaf(Some(enum_type))
                    if !value
                        .as_str()
                        .is_some_and(|v| enum_type.values.contains_key(v)) =>
                {
                    // An enum value the API schema does not have (`@inaccessible`,
                    // or one subgraph's own) must not reach the client.
                    self.error(format!(
                        "Enum \"{name}\" cannot represent value: {}",
                        value.to_json()
                    ));
                    self.null_unless(ty)
                }
                Kind::Leaf(_) | Kind::Typename => {
                    // Objects or lists too, for custom scalars.
                    value.write_json(self.out);
                    true
                }
            },
        }
    }

    /// `null` where `ty` allows it; `false` (propagate) where it does not.
    fn null_unless(&mut self, ty: &Type) -> bool {
        if ty.is_non_null() {
            false
        } else {
            self.out.extend_from_slice(b"null");
            true
        }
    }

    /// The code a field is refused with, when every selection of it was.
    fn denied(&self, entry: &Collected<'a>) -> Option<&'static str> {
        let denied = self.shaper.denied;
        if denied.is_empty() {
            return None;
        }
        let mut codes = entry.fields.iter().map(|f| {
            denied
                .get(&(std::ptr::from_ref::<Field>(f) as usize))
                .copied()
        });
        let first = codes.next().flatten()?;
        codes.all(|c| c.is_some()).then_some(first)
    }

    fn error_with_code(&mut self, message: String, code: &str) {
        self.error(message);
        if let Some(last) = self.errors.last_mut() {
            last["extensions"] = json!({ "code": code });
        }
    }

    fn error(&mut self, message: String) {
        let path: Vec<serde_json::Value> = self
            .path
            .iter()
            .map(|p| match p {
                PathItem::Key(k) => serde_json::Value::String((*k).to_owned()),
                PathItem::Index(i) => serde_json::Value::from(*i),
            })
            .collect();
        self.errors
            .push(json!({ "message": message, "path": path }));
    }

    /// True when an error points at an ancestor of the current path, or
    /// has no path (a fetch that failed as a whole).
    fn has_error_above(&self) -> bool {
        let path = &self.path;
        self.errors.iter().any(
            |e| match e.get("path").and_then(serde_json::Value::as_array) {
                None => true,
                Some(p) => p.len() < path.len() && p.iter().zip(path.iter()).all(|(b, a)| a == b),
            },
        )
    }

    /// True when an error already points at the current path or inside it.
    fn has_error_here(&self) -> bool {
        let path = &self.path;
        self.errors.iter().any(|e| {
            e.get("path")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|p| p.len() >= path.len() && path.iter().zip(p).all(|(a, b)| a == b))
        })
    }
}

#[cfg(test)]
mod tests {
    use apollo_compiler::{ExecutableDocument, Schema};
    use serde_json::{Map, json};

    use super::{super::value::Value, Shaper};

    const SDL: &str = r#"
        type Query { me: User, users: [User!]! }
        interface Node { id: ID! }
        type User implements Node { id: ID! name: String! email: String, friends: [User!] role: Role! tier: Role }
        enum Role { ADMIN MEMBER }
    "#;

    /// The response text of `data` shaped by `query`, and the errors.
    fn shape_text(
        query: &str,
        data: serde_json::Value,
        variables: serde_json::Value,
    ) -> (String, Vec<serde_json::Value>) {
        let schema = Schema::parse_and_validate(SDL, "s.graphql").unwrap();
        let doc = ExecutableDocument::parse_and_validate(&schema, query, "q.graphql").unwrap();
        let op = doc.operations.get(None).unwrap();
        let vars: Map<String, serde_json::Value> =
            variables.as_object().cloned().unwrap_or_default();
        let data = Value::from(data);
        let mut errors = Vec::new();
        let mut out = Vec::new();
        Shaper {
            denied: &std::collections::HashMap::new(),
            schema: &schema,
            document: &doc,
            variables: &vars,
        }
        .shape(op, &data, &mut errors, &mut out);
        (String::from_utf8(out).unwrap(), errors)
    }

    fn shape(
        query: &str,
        data: serde_json::Value,
        variables: serde_json::Value,
    ) -> (serde_json::Value, Vec<serde_json::Value>) {
        let (text, errors) = shape_text(query, data, variables);
        (serde_json::from_str(&text).unwrap(), errors)
    }

    #[test]
    fn keeps_client_order_and_aliases_and_drops_planning_fields() {
        let (out, errors) = shape_text(
            "{ me { handle: name __typename ... on Node { id } } }",
            json!({ "me": { "id": "1", "handle": "Ada", "__typename": "User", "extra": true } }),
            json!({}),
        );
        assert!(errors.is_empty());
        assert_eq!(
            out,
            r#"{"me":{"handle":"Ada","__typename":"User","id":"1"}}"#
        );
    }

    #[test]
    fn null_in_a_non_null_field_bubbles_to_the_nearest_nullable_parent() {
        let (out, errors) = shape(
            "{ me { id name } }",
            json!({ "me": { "id": "1", "name": null } }),
            json!({}),
        );
        assert_eq!(out, json!({ "me": null }));
        assert_eq!(errors[0]["path"], json!(["me", "name"]));
        assert_eq!(
            errors[0]["message"],
            "Cannot return null for non-nullable field User.name"
        );
        // Through a non-null list of non-null items up to the (non-null) root field: data is null.
        let (out, _) = shape(
            "{ users { id name } }",
            json!({ "users": [{ "id": "1", "name": "A" }, { "id": "2" }] }),
            json!({}),
        );
        assert_eq!(out, serde_json::Value::Null);
        // A null item of a list of non-null items: the field is named, the path indexes.
        let (out, errors) = shape(
            "{ users { id } }",
            json!({ "users": [{ "id": "1" }, null] }),
            json!({}),
        );
        assert_eq!(out, serde_json::Value::Null);
        assert_eq!(
            errors,
            vec![json!({
                "message": "Cannot return null for non-nullable field Query.users",
                "path": ["users", 1],
            })]
        );
    }

    #[test]
    fn a_missing_non_null_value_is_never_nulled_silently() {
        // Nothing reported a failure for `name`: the shaper says why `me` is null.
        let (out, errors) = shape(
            "{ me { id name } }",
            json!({ "me": { "id": "1" } }),
            json!({}),
        );
        assert_eq!(out, json!({ "me": null }));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0]["path"], json!(["me", "name"]));
    }

    #[test]
    fn a_nulled_object_inside_a_list_leaves_its_siblings_intact() {
        let (out, errors) = shape_text(
            "{ me { friends { id name } } users { id } }",
            json!({ "me": { "friends": [{ "id": "1", "name": "A" }, { "id": "2", "name": null }] }, "users": [{ "id": "9" }] }),
            json!({}),
        );
        assert_eq!(out, r#"{"me":{"friends":null},"users":[{"id":"9"}]}"#);
        assert_eq!(errors[0]["path"], json!(["me", "friends", 1, "name"]));
    }

    #[test]
    fn strings_are_escaped_where_needed() {
        let (out, _) = shape_text(
            "{ me { id name } }",
            json!({ "me": { "id": "plain", "name": "quote \" backslash \\ newline \n tab \t é" } }),
            json!({}),
        );
        assert_eq!(
            out,
            r#"{"me":{"id":"plain","name":"quote \" backslash \\ newline \n tab \t é"}}"#
        );
    }

    #[test]
    fn skip_and_include_follow_variables() {
        let q = "query($s: Boolean!) { me { id name @skip(if: $s) email @include(if: $s) } }";
        let data = json!({ "me": { "id": "1", "name": "A", "email": "a@x" } });
        assert_eq!(
            shape(q, data.clone(), json!({ "s": true })).0,
            json!({ "me": { "id": "1", "email": "a@x" } })
        );
        assert_eq!(
            shape(q, data, json!({ "s": false })).0,
            json!({ "me": { "id": "1", "name": "A" } })
        );
    }

    #[test]
    fn enum_values_outside_the_api_schema_are_nulled() {
        let (out, errors) = shape(
            "{ users { tier } me { name role } }",
            json!({
                "users": [{ "tier": "ADMIN" }, { "tier": "INTERNAL" }],
                "me": { "name": "A", "role": "INTERNAL" },
            }),
            json!({}),
        );
        assert_eq!(
            out,
            json!({ "users": [{ "tier": "ADMIN" }, { "tier": null }], "me": null })
        );
        assert_eq!(
            errors,
            vec![
                json!({
                    "message": "Enum \"Role\" cannot represent value: \"INTERNAL\"",
                    "path": ["users", 1, "tier"],
                }),
                json!({
                    "message": "Enum \"Role\" cannot represent value: \"INTERNAL\"",
                    "path": ["me", "role"],
                }),
            ]
        );
    }
}
