//! A generic mock subgraph: serves any federation-2 subgraph SDL with data that
//! is a pure function of a *seed* carried by every object, so that every
//! subgraph answers the same for the same object and any correct query plan
//! gives the same response.
//!
//! The rules (see also the module docs of `gen`):
//! - a root field's object seed derives from the field name and arguments only,
//!   so `@shareable` root fields agree across subgraphs;
//! - a child's seed derives from (parent seed, field, arguments, list index);
//! - `String`/`ID` fields without arguments are `"<field>:<seed>"`, so any
//!   key field of a representation gives the seed back; other scalars hash;
//! - nullable fields are null for 1 in 8 hashes; fields named `err*` fail
//!   for 1 in 3 (to exercise error paths);
//! - the runtime type of an abstract field is the possible type (sorted by
//!   name) at `hash(seed) % n`; `_entities` with an interface `__typename`
//!   (`@interfaceObject` callers) applies the same rule;
//! - a `@requires` field mixes the canonical JSON of its requirements, read
//!   from the representation, into its seed: a gateway that sends wrong
//!   requirements gets another value, one that sends none gets an error.

use std::collections::HashMap;
use std::sync::Arc;

use apollo_compiler::executable::{FieldSet, Selection, SelectionSet};
use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{JsonMap, serde_json_bytes};
use apollo_compiler::schema::{ExtendedType, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// FNV-1a over the parts, with a separator so `("ab","c") != ("a","bc")`.
pub fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // FNV's low bits mix poorly; fold the high half in.
    h ^ (h >> 29)
}

fn short(h: u64) -> String {
    format!("{:08x}", h & 0xffff_ffff)
}

/// The federation machinery a subgraph library adds to the user's SDL.
const FEDERATION_DEFS: &str = r#"
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
scalar federation__FieldSet
scalar _Any
type _Service { sdl: String }
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: federation__FieldSet!) on FIELD_DEFINITION
directive @provides(fields: federation__FieldSet!) on FIELD_DEFINITION
directive @external(reason: String) on OBJECT | FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @override(from: String!, label: String) on FIELD_DEFINITION
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
directive @interfaceObject on OBJECT
directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
"#;

/// The root seed of the generated cases.
pub const DEFAULT_ROOT_SEED: &str = "root";

#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("subgraph SDL does not validate: {0}")]
    Schema(String),
    #[error("@requires on {coordinate}: {message}")]
    Requires { coordinate: String, message: String },
}

/// A subgraph schema ready to execute: the SDL plus `_entities`/`_service`,
/// and the parsed `@requires` selections by (type, field).
pub struct MockSchema {
    sdl: String,
    schema: Valid<Schema>,
    requires: HashMap<(String, String), Valid<FieldSet>>,
    /// The seed of the query root (`"root"` unless a case picks another).
    root_seed: String,
}

impl MockSchema {
    /// Reads a subgraph SDL whose federation `@link` (if any) is a leading
    /// `extend schema ...` block (its first line and the indented lines after
    /// it), importing directives under their plain names.
    pub fn new(sdl: &str) -> Result<Self, MockError> {
        let sdl_start = sdl.trim_start();
        let body = if sdl_start.starts_with("extend schema") {
            let mut lines = sdl_start.split_inclusive('\n');
            let mut skipped = lines.next().map_or(0, str::len);
            for line in lines {
                if !line.starts_with([' ', '\t']) {
                    break;
                }
                skipped += line.len();
            }
            &sdl_start[skipped..]
        } else {
            sdl
        };
        let plain = Schema::parse(body, "subgraph.graphql")
            .map_err(|e| MockError::Schema(e.errors.to_string()))?;
        let entities: Vec<String> = plain
            .types
            .iter()
            .filter(|(_, ty)| {
                matches!(ty, ExtendedType::Object(_))
                    && ty.directives().get_all("key").any(|key| {
                        key.specified_argument_by_name("resolvable")
                            .and_then(|v| v.to_bool())
                            .unwrap_or(true)
                    })
            })
            .map(|(name, _)| name.to_string())
            .collect();
        let mut full = format!("{body}\n{FEDERATION_DEFS}\n");
        let query_exists = plain.types.contains_key("Query");
        let keyword = if query_exists { "extend type" } else { "type" };
        if entities.is_empty() {
            full.push_str(&format!("{keyword} Query {{ _service: _Service! }}\n"));
        } else {
            full.push_str(&format!(
                "union _Entity = {}\n{keyword} Query {{ _entities(representations: [_Any!]!): [_Entity]! _service: _Service! }}\n",
                entities.join(" | ")
            ));
        }
        let schema = Schema::parse_and_validate(full, "subgraph.graphql")
            .map_err(|e| MockError::Schema(e.errors.to_string()))?;
        let mut requires = HashMap::new();
        for (type_name, ty) in &schema.types {
            let fields = match ty {
                ExtendedType::Object(o) => &o.fields,
                ExtendedType::Interface(i) => &i.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let Some(directive) = field.directives.get("requires") else {
                    continue;
                };
                let coordinate = format!("{type_name}.{field_name}");
                let fields = directive
                    .specified_argument_by_name("fields")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| MockError::Requires {
                        coordinate: coordinate.clone(),
                        message: "no fields".into(),
                    })?;
                let set =
                    FieldSet::parse_and_validate(&schema, type_name.clone(), fields, "requires")
                        .map_err(|e| MockError::Requires {
                            coordinate: coordinate.clone(),
                            message: e.errors.to_string(),
                        })?;
                requires.insert((type_name.to_string(), field_name.to_string()), set);
            }
        }
        Ok(Self {
            sdl: sdl.to_owned(),
            schema,
            requires,
            root_seed: DEFAULT_ROOT_SEED.to_owned(),
        })
    }

    /// The same schema with another root seed: every root field (and so all
    /// data) changes, e.g. to make a root list without arguments non-empty.
    pub fn with_root_seed(mut self, root_seed: &str) -> Self {
        self.root_seed = root_seed.to_owned();
        self
    }

    /// Executes one GraphQL request body; always a GraphQL response.
    pub fn execute(&self, body: &Value) -> Value {
        let query = body.get("query").and_then(Value::as_str).unwrap_or("");
        let document =
            match ExecutableDocument::parse_and_validate(&self.schema, query, "op.graphql") {
                Ok(d) => d,
                Err(e) => return json!({"errors": [{"message": e.errors.to_string()}]}),
            };
        let variables: JsonMap = match body.get("variables") {
            Some(v @ Value::Object(_)) => match serde_json_bytes::to_value(v) {
                Ok(serde_json_bytes::Value::Object(map)) => map,
                _ => JsonMap::new(),
            },
            _ => JsonMap::new(),
        };
        let operation_name = body.get("operationName").and_then(Value::as_str);
        let execution = match Execution::new(&self.schema, &document).operation_name(operation_name)
        {
            Ok(e) => e,
            Err(e) => return json!({"errors": [{"message": e.message().to_string()}]}),
        };
        let root = Obj {
            mock: self,
            ty: "Query".into(),
            seed: self.root_seed.clone(),
            rep: None,
        };
        match execution
            .raw_variable_values(&variables)
            .execute_sync(&root)
        {
            Ok(response) => serde_json::to_value(&response).unwrap_or(Value::Null),
            Err(e) => json!({"errors": [{"message": e.message().to_string()}]}),
        }
    }

    /// Possible runtime types of `abstract_type` here, sorted so the choice
    /// by hash does not depend on declaration order.
    fn possible_types(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = match self.schema.types.get(name) {
            Some(ExtendedType::Union(u)) => u.members.iter().map(|m| m.to_string()).collect(),
            Some(ExtendedType::Interface(_)) => self
                .schema
                .implementers_map()
                .get(name)
                .map(|i| i.objects.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default(),
            Some(_) => vec![name.to_owned()],
            None => Vec::new(),
        };
        out.sort();
        out
    }

    fn runtime_type(&self, name: &str, seed: &str) -> Option<String> {
        let types = self.possible_types(name);
        if types.is_empty() {
            return None;
        }
        let at = hash(&[seed, "type"]) as usize % types.len();
        Some(types[at].clone())
    }

    /// The object a representation stands for, or why it cannot be resolved.
    fn entity(&self, rep: &Value) -> Result<Obj<'_>, String> {
        let typename = rep
            .get("__typename")
            .and_then(Value::as_str)
            .ok_or("representation without __typename")?;
        let Some(fields) = rep.as_object() else {
            return Err("representation is not an object".into());
        };
        // Any `field:seed` string among the top-level key fields gives the seed;
        // all of them must agree.
        let mut seed: Option<&str> = None;
        for (field, value) in fields {
            let Some(s) = value.as_str() else { continue };
            let Some(found) = s
                .strip_prefix(field.as_str())
                .and_then(|r| r.strip_prefix(':'))
            else {
                continue;
            };
            if seed.is_some_and(|seen| seen != found) {
                return Err(format!(
                    "representation fields disagree on the entity: {rep}"
                ));
            }
            seed = Some(found);
        }
        let seed = seed.ok_or_else(|| format!("no key field in representation {rep}"))?;
        let ty = self
            .runtime_type(typename, seed)
            .ok_or_else(|| format!("unknown type {typename}"))?;
        Ok(Obj {
            mock: self,
            ty,
            seed: seed.to_owned(),
            rep: Some(Arc::new(rep.clone())),
        })
    }
}

/// One object of the response: its type, seed, and (for entities) the
/// representation it was resolved from.
struct Obj<'m> {
    mock: &'m MockSchema,
    ty: String,
    seed: String,
    rep: Option<Arc<Value>>,
}

impl ObjectValue for Obj<'_> {
    fn type_name(&self) -> &str {
        &self.ty
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let field = info.field_name();
        if self.ty == "_Service" {
            return Ok(ResolvedValue::leaf(self.mock.sdl.clone()));
        }
        if self.ty == "Query" {
            match field {
                "_service" => {
                    return Ok(ResolvedValue::object(Obj {
                        mock: self.mock,
                        ty: "_Service".into(),
                        seed: String::new(),
                        rep: None,
                    }));
                }
                "_entities" => {
                    let reps = info
                        .arguments()
                        .get("representations")
                        .and_then(|r| serde_json::to_value(r).ok())
                        .and_then(|r| r.as_array().cloned())
                        .unwrap_or_default();
                    let mock = self.mock;
                    return Ok(ResolvedValue::List(Box::new(reps.into_iter().map(
                        move |rep| {
                            mock.entity(&rep)
                                .map(ResolvedValue::object)
                                .map_err(|message| FieldError { message })
                        },
                    ))));
                }
                _ => {}
            }
        }
        let args = serde_json::to_string(info.arguments()).unwrap_or_default();
        let mut key_parts: Vec<String> = vec![self.seed.clone(), field.to_owned(), args];
        let requires = self.mock.requires.get(&(self.ty.clone(), field.to_owned()));
        if let Some(set) = requires {
            let rep = self.rep.as_deref().ok_or_else(|| FieldError {
                message: format!(
                    "{}.{field} @requires: not resolved through _entities",
                    self.ty
                ),
            })?;
            let required =
                project(self.mock, rep, &set.selection_set, true).map_err(|message| {
                    FieldError {
                        message: format!("{}.{field} @requires: {message}", self.ty),
                    }
                })?;
            key_parts.push(required.to_string());
        }
        let parts: Vec<&str> = key_parts.iter().map(String::as_str).collect();
        let key = short(hash(&parts));
        if field.starts_with("err") && hash(&[&key, "err"]).is_multiple_of(3) {
            return Err(FieldError {
                message: format!("{field} failed on purpose"),
            });
        }
        let plain = info.arguments().is_empty() && requires.is_none();
        Ok(self.value(&info.field_definition().ty, field, &key, plain))
    }
}

impl<'m> Obj<'m> {
    fn value<'a>(&self, ty: &Type, field: &str, key: &str, plain: bool) -> ResolvedValue<'a>
    where
        'm: 'a,
    {
        if !ty.is_non_null() && hash(&[key, "null"]).is_multiple_of(8) {
            return ResolvedValue::null();
        }
        match ty {
            Type::List(inner) | Type::NonNullList(inner) => {
                let len = hash(&[key, "len"]) % 4;
                let items: Vec<ResolvedValue<'a>> = (0..len)
                    .map(|i| {
                        let item_key = short(hash(&[key, &i.to_string()]));
                        self.value(inner, field, &item_key, false)
                    })
                    .collect();
                ResolvedValue::list(items)
            }
            Type::Named(name) | Type::NonNullNamed(name) => {
                let h = hash(&[key, "value"]);
                match self.mock.schema.types.get(name.as_str()) {
                    Some(ExtendedType::Scalar(_)) => ResolvedValue::leaf(match name.as_str() {
                        "Int" => json_bytes(json!((h % 100) as i64)),
                        "Float" => json_bytes(json!((h % 1000) as f64 / 4.0)),
                        "Boolean" => json_bytes(json!(h.is_multiple_of(2))),
                        // Without arguments the value is the seed: what makes
                        // a key field decode back to its entity.
                        _ if plain => json_bytes(json!(format!("{field}:{}", self.seed))),
                        _ => json_bytes(json!(format!("{field}-{}", short(h)))),
                    }),
                    Some(ExtendedType::Enum(e)) => {
                        let mut values: Vec<&str> = e.values.keys().map(|v| v.as_str()).collect();
                        values.sort();
                        match values.get(h as usize % values.len().max(1)) {
                            Some(v) => ResolvedValue::leaf(json_bytes(json!(v))),
                            None => ResolvedValue::null(),
                        }
                    }
                    Some(_) => match self.mock.runtime_type(name, key) {
                        Some(ty) => ResolvedValue::object(Obj {
                            mock: self.mock,
                            ty,
                            seed: key.to_owned(),
                            rep: None,
                        }),
                        None => ResolvedValue::null(),
                    },
                    None => ResolvedValue::null(),
                }
            }
        }
    }
}

fn json_bytes(v: Value) -> serde_json_bytes::Value {
    serde_json_bytes::to_value(v).unwrap_or(serde_json_bytes::Value::Null)
}

/// The part of `value` that `selection` names, in selection order: the
/// canonical form of a `@requires` input. At the top level a missing field is
/// an error; inside a type condition that does not apply it is skipped.
fn project(
    mock: &MockSchema,
    value: &Value,
    selection: &SelectionSet,
    strict: bool,
) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|v| project(mock, v, selection, strict))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            project_into(mock, map, selection, strict, &mut out)?;
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn project_into(
    mock: &MockSchema,
    map: &serde_json::Map<String, Value>,
    selection: &SelectionSet,
    strict: bool,
    out: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let typename = map.get("__typename").and_then(Value::as_str);
    for item in &selection.selections {
        match item {
            Selection::Field(f) => {
                if f.name == "__typename" {
                    continue;
                }
                match map.get(f.name.as_str()) {
                    Some(v) if f.selection_set.selections.is_empty() => {
                        out.insert(f.name.to_string(), v.clone());
                    }
                    Some(v) => {
                        out.insert(
                            f.name.to_string(),
                            project(mock, v, &f.selection_set, true)?,
                        );
                    }
                    None if strict => {
                        return Err(format!("missing `{}` in the representation", f.name));
                    }
                    None => {}
                }
            }
            Selection::InlineFragment(fragment) => {
                let applies = match (&fragment.type_condition, typename) {
                    (Some(condition), Some(t)) => {
                        condition == t || mock.schema.is_subtype(condition, t)
                    }
                    // Without __typename only the fields present can tell.
                    _ => true,
                };
                if applies {
                    let strict = strict && typename.is_some();
                    project_into(mock, map, &fragment.selection_set, strict, out)?;
                }
            }
            Selection::FragmentSpread(_) => return Err("fragment spread in a field set".into()),
        }
    }
    Ok(())
}

/// A mock subgraph serving on 127.0.0.1:0 until dropped.
pub struct MockServer {
    pub name: String,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl MockServer {
    pub async fn start(name: &str, sdl: &str, root_seed: &str) -> Result<Self, MockError> {
        let mock = Arc::new(MockSchema::new(sdl)?.with_root_seed(root_seed));
        let router = axum::Router::new()
            .route(
                "/graphql",
                post(
                    |State(mock): State<Arc<MockSchema>>, Json(body): Json<Value>| async move {
                        let answer = mock.execute(&body);
                        // `DIFFERENTIAL_LOG=1`: every subgraph request and answer, for triage.
                        if std::env::var("DIFFERENTIAL_LOG").is_ok_and(|v| v == "1") {
                            eprintln!("--> {body}\n<-- {answer}");
                        }
                        Json(answer)
                    },
                ),
            )
            .with_state(mock);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a mock subgraph");
        let addr = listener.local_addr().expect("mock subgraph address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            name: name.to_owned(),
            url: format!("http://{addr}/graphql"),
            stop: Some(stop),
        })
    }
}
