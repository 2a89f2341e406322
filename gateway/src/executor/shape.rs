//! The last pass of execution: the client's operation walked over the merged
//! data. It gives the response the client's field order and aliases, fills
//! `__typename`, drops fields added only for planning (keys, requires), and
//! propagates nulls: a null in a non-null position nulls the nearest nullable
//! parent ("Handling Field Errors" in the GraphQL spec).

use apollo_compiler::{
    ExecutableDocument, Schema,
    ast::{Type, Value as AstValue},
    executable::{DirectiveList, Field, Operation, Selection, SelectionSet},
    schema::ExtendedType,
    validation::Valid,
};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

pub struct Shaper<'a> {
    pub schema: &'a Valid<Schema>,
    pub document: &'a Valid<ExecutableDocument>,
    pub variables: &'a Map<String, Value>,
}

impl Shaper<'_> {
    /// The response's `data`: an object, or null when a non-null root field is null.
    pub fn shape(&self, operation: &Operation, data: &Value, errors: &mut Vec<Value>) -> Value {
        let empty = Map::new();
        let source = data.as_object().unwrap_or(&empty);
        let root = operation.object_type().as_str();
        let mut path = Vec::new();
        match self.object(&operation.selection_set, root, source, &mut path, errors) {
            Some(map) => Value::Object(map),
            None => Value::Null,
        }
    }

    /// `None` when a non-null field of this object is null: the object itself becomes null.
    fn object(
        &self,
        selection_set: &SelectionSet,
        type_name: &str,
        source: &Map<String, Value>,
        path: &mut Vec<Value>,
        errors: &mut Vec<Value>,
    ) -> Option<Map<String, Value>> {
        let mut grouped: IndexMap<&str, Vec<&Field>> = IndexMap::new();
        self.collect(selection_set, type_name, &mut grouped);
        let mut out = Map::with_capacity(grouped.len());
        for (key, fields) in grouped {
            let field = fields[0];
            if field.name == "__typename" {
                out.insert(key.to_owned(), Value::String(type_name.to_owned()));
                continue;
            }
            path.push(Value::String(key.to_owned()));
            let value = self.value(
                type_name,
                field.ty(),
                &fields,
                source.get(key),
                path,
                errors,
            );
            path.pop();
            out.insert(key.to_owned(), value?);
        }
        Some(out)
    }

    /// `None` when `value` is null where `ty` does not allow it; `parent` is
    /// the type the field belongs to, for the error message.
    fn value(
        &self,
        parent: &str,
        ty: &Type,
        fields: &[&Field],
        value: Option<&Value>,
        path: &mut Vec<Value>,
        errors: &mut Vec<Value>,
    ) -> Option<Value> {
        let value = match value {
            Some(Value::Null) | None => {
                if !ty.is_non_null() {
                    return Some(Value::Null);
                }
                // A missing value was owed by a failed fetch, which said so already.
                if value.is_some() && !has_error_at(errors, path) {
                    let field = fields[0];
                    errors.push(json!({
                        "message": format!("Cannot return null for non-nullable field {parent}.{}", field.name),
                        "path": path.clone(),
                    }));
                }
                return None;
            }
            Some(v) => v,
        };
        let nullable = |shaped: Option<Value>| match shaped {
            Some(v) => Some(v),
            None if ty.is_non_null() => None,
            None => Some(Value::Null),
        };
        match ty {
            Type::List(item) | Type::NonNullList(item) => {
                let Some(items) = value.as_array() else {
                    return nullable(None);
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item_value) in items.iter().enumerate() {
                    path.push(Value::from(i));
                    let shaped = self.value(parent, item, fields, Some(item_value), path, errors);
                    path.pop();
                    match shaped {
                        Some(v) => out.push(v),
                        None => return nullable(None),
                    }
                }
                Some(Value::Array(out))
            }
            Type::Named(name) | Type::NonNullNamed(name) => {
                let is_composite = self
                    .schema
                    .types
                    .get(name)
                    .is_some_and(|t| t.is_object() || t.is_interface() || t.is_union());
                if !is_composite {
                    // An enum value the API schema does not have (`@inaccessible`,
                    // or one subgraph's own) must not reach the client.
                    if let Some(ExtendedType::Enum(enum_type)) = self.schema.types.get(name)
                        && !value
                            .as_str()
                            .is_some_and(|v| enum_type.values.contains_key(v))
                    {
                        errors.push(json!({
                            "message": format!("Enum \"{name}\" cannot represent value: {value}"),
                            "path": path.clone(),
                        }));
                        return nullable(None);
                    }
                    return Some(value.clone());
                }
                let Some(object) = value.as_object() else {
                    return nullable(None);
                };
                let runtime = object
                    .get("__typename")
                    .and_then(Value::as_str)
                    .unwrap_or(name.as_str());
                let shaped = if fields.len() == 1 {
                    self.object(&fields[0].selection_set, runtime, object, path, errors)
                } else {
                    let mut merged = fields[0].selection_set.clone();
                    for f in &fields[1..] {
                        merged
                            .selections
                            .extend(f.selection_set.selections.iter().cloned());
                    }
                    self.object(&merged, runtime, object, path, errors)
                };
                nullable(shaped.map(Value::Object))
            }
        }
    }

    /// CollectFields: fields by response key in document order, through
    /// fragments whose type condition applies to `type_name`.
    fn collect<'d>(
        &'d self,
        set: &'d SelectionSet,
        type_name: &str,
        out: &mut IndexMap<&'d str, Vec<&'d Field>>,
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
                        self.collect(&fragment.selection_set, type_name, out);
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
                        self.collect(&inline.selection_set, type_name, out);
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
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                _ => None,
            }
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }
}

/// True when an error already points at `path` or inside it.
fn has_error_at(errors: &[Value], path: &[Value]) -> bool {
    errors.iter().any(|e| {
        e.get("path")
            .and_then(Value::as_array)
            .is_some_and(|p| p.len() >= path.len() && p[..path.len()] == *path)
    })
}

#[cfg(test)]
mod tests {
    use apollo_compiler::{ExecutableDocument, Schema};
    use serde_json::{Map, json};

    use super::Shaper;

    const SDL: &str = r#"
        type Query { me: User, users: [User!]! }
        interface Node { id: ID! }
        type User implements Node { id: ID! name: String! email: String, friends: [User!] role: Role! tier: Role }
        enum Role { ADMIN MEMBER }
    "#;

    fn shape(
        query: &str,
        data: serde_json::Value,
        variables: serde_json::Value,
    ) -> (serde_json::Value, Vec<serde_json::Value>) {
        let schema = Schema::parse_and_validate(SDL, "s.graphql").unwrap();
        let doc = ExecutableDocument::parse_and_validate(&schema, query, "q.graphql").unwrap();
        let op = doc.operations.get(None).unwrap();
        let vars: Map<String, serde_json::Value> =
            variables.as_object().cloned().unwrap_or_default();
        let mut errors = Vec::new();
        let out = Shaper {
            schema: &schema,
            document: &doc,
            variables: &vars,
        }
        .shape(op, &data, &mut errors);
        (out, errors)
    }

    #[test]
    fn keeps_client_order_and_aliases_and_drops_planning_fields() {
        let (out, errors) = shape(
            "{ me { handle: name __typename ... on Node { id } } }",
            json!({ "me": { "id": "1", "handle": "Ada", "__typename": "User", "extra": true } }),
            json!({}),
        );
        assert!(errors.is_empty());
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
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
