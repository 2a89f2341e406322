//! Random operations over an API schema: nested selections (through entity
//! hops, since the API schema hides them), aliases (the same field twice with
//! other arguments), inline and named fragments on abstract types,
//! `__typename`, variables, `@skip`/`@include` with literals and variables
//! (sometimes on every field of a selection), and arguments. Each operation is
//! checked against the schema; one that does not validate is drawn again.

use apollo_compiler::schema::{ExtendedType, FieldDefinition, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{Map, Value, json};

pub struct Query {
    pub query: String,
    pub variables: Value,
}

struct Gen<'s> {
    schema: &'s Valid<Schema>,
    rng: fastrand::Rng,
    var_defs: Vec<String>,
    vars: Map<String, Value>,
    fragments: Vec<String>,
    aliases: usize,
}

const MAX_DEPTH: usize = 5;

impl Gen<'_> {
    fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    fn fields_of(&self, type_name: &str) -> Vec<&FieldDefinition> {
        let fields = match self.schema.types.get(type_name) {
            Some(ExtendedType::Object(o)) => &o.fields,
            Some(ExtendedType::Interface(i)) => &i.fields,
            _ => return Vec::new(),
        };
        fields
            .values()
            .map(|f| &f.node)
            .filter(|f| !f.name.starts_with("__"))
            .map(|f| f.as_ref())
            .collect()
    }

    fn possible_types(&self, type_name: &str) -> Vec<String> {
        match self.schema.types.get(type_name) {
            Some(ExtendedType::Union(u)) => u.members.iter().map(|m| m.to_string()).collect(),
            Some(ExtendedType::Interface(_)) => self
                .schema
                .implementers_map()
                .get(type_name)
                .map(|i| i.objects.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn is_leaf(&self, ty: &Type) -> bool {
        matches!(
            self.schema.types.get(ty.inner_named_type().as_str()),
            Some(ExtendedType::Scalar(_) | ExtendedType::Enum(_))
        )
    }

    /// A value of `ty` as a literal and as JSON.
    fn value(&mut self, ty: &Type) -> (String, Value) {
        if !ty.is_non_null() && self.chance(10) {
            return ("null".into(), Value::Null);
        }
        if ty.is_list() {
            let (lit, json) = self.value(ty.item_type());
            return (format!("[{lit}]"), json!([json]));
        }
        match ty.inner_named_type().as_str() {
            "Int" => {
                let n = self.rng.i64(0..5);
                (n.to_string(), json!(n))
            }
            "Float" => {
                let n = self.rng.i64(0..8) as f64 / 2.0;
                (format!("{n:?}"), json!(n))
            }
            "Boolean" => {
                let b = self.rng.bool();
                (b.to_string(), json!(b))
            }
            name => match self.schema.types.get(name) {
                Some(ExtendedType::Enum(e)) => {
                    let values: Vec<String> = e.values.keys().map(|v| v.to_string()).collect();
                    let v = values[self.rng.usize(..values.len())].clone();
                    (v.clone(), json!(v))
                }
                _ => {
                    let s = format!("v{}", self.rng.u8(..4));
                    (format!("\"{s}\""), json!(s))
                }
            },
        }
    }

    /// An argument or directive value: a literal or a fresh variable.
    fn input(&mut self, ty: &Type) -> String {
        let (lit, json) = self.value(ty);
        if self.chance(35) {
            let name = format!("v{}", self.var_defs.len());
            self.var_defs.push(format!("${name}: {ty}"));
            self.vars.insert(name.clone(), json);
            format!("${name}")
        } else {
            lit
        }
    }

    fn condition(&mut self, all_skipped: bool) -> String {
        let skip = self.rng.bool();
        let directive = if skip { "skip" } else { "include" };
        if all_skipped {
            let value = if skip { "true" } else { "false" };
            if self.chance(50) {
                return format!(" @{directive}(if: {value})");
            }
            let name = format!("v{}", self.var_defs.len());
            self.var_defs.push(format!("${name}: Boolean!"));
            self.vars.insert(name.clone(), json!(skip));
            return format!(" @{directive}(if: ${name})");
        }
        format!(
            " @{directive}(if: {})",
            self.input(&Type::Named(apollo_compiler::name!("Boolean")).non_null())
        )
    }

    fn field(
        &mut self,
        f: &FieldDefinition,
        depth: usize,
        all_skipped: bool,
        force_alias: bool,
    ) -> String {
        let mut out = String::new();
        if force_alias || self.chance(15) {
            self.aliases += 1;
            out.push_str(&format!("a{}: ", self.aliases));
        }
        out.push_str(&f.name);
        let mut args = Vec::new();
        for arg in &f.arguments {
            if arg.ty.is_non_null() && arg.default_value.is_none() || self.chance(50) {
                let v = self.input(&arg.ty);
                args.push(format!("{}: {v}", arg.name));
            }
        }
        if !args.is_empty() {
            out.push_str(&format!("({})", args.join(", ")));
        }
        if all_skipped || self.chance(10) {
            out.push_str(&self.condition(all_skipped));
        }
        if !self.is_leaf(&f.ty) {
            let inner = f.ty.inner_named_type().to_string();
            out.push_str(&format!(" {{ {} }}", self.selection(&inner, depth + 1)));
        }
        out
    }

    /// A selection set on `type_name` (without braces).
    fn selection(&mut self, type_name: &str, depth: usize) -> String {
        let mut items: Vec<String> = Vec::new();
        let all_skipped = depth > 1 && self.chance(4);
        let fields: Vec<FieldDefinition> = self.fields_of(type_name).into_iter().cloned().collect();
        let possible = self.possible_types(type_name);
        let abstract_type = !possible.is_empty();
        if self.chance(if abstract_type { 60 } else { 15 }) && !all_skipped {
            items.push("__typename".into());
        }
        let leaves: Vec<&FieldDefinition> = fields.iter().filter(|f| self.is_leaf(&f.ty)).collect();
        let count = 1 + self.rng.usize(..4);
        for _ in 0..count {
            if fields.is_empty() {
                break;
            }
            let f = if depth >= MAX_DEPTH {
                match leaves.get(self.rng.usize(..leaves.len().max(1))) {
                    Some(f) => *f,
                    None => break,
                }
            } else {
                &fields[self.rng.usize(..fields.len())]
            };
            let item = self.field(f, depth, all_skipped, false);
            items.push(item);
            // The same field again under an alias, with other arguments.
            if self.chance(8) {
                let again = self.field(f, depth, all_skipped, true);
                items.push(again);
            }
        }
        if abstract_type && depth < MAX_DEPTH {
            let mut types = possible.clone();
            self.rng.shuffle(&mut types);
            for t in types.iter().take(1 + self.rng.usize(..possible.len())) {
                let inner = self.selection(t, depth + 1);
                let cond = if self.chance(10) && !all_skipped {
                    self.condition(false)
                } else {
                    String::new()
                };
                if self.chance(30) {
                    let name = format!("F{}", self.fragments.len());
                    self.fragments
                        .push(format!("fragment {name} on {t} {{ {inner} }}"));
                    items.push(format!("...{name}{cond}"));
                } else {
                    items.push(format!("... on {t}{cond} {{ {inner} }}"));
                }
            }
        } else if !fields.is_empty() && self.chance(8) && depth < MAX_DEPTH {
            // An inline fragment without type condition, conditionally included.
            let inner = self.selection(type_name, depth + 1);
            let cond = self.condition(false);
            items.push(format!("...{cond} {{ {inner} }}"));
        }
        if items.is_empty() || all_skipped && self.chance(50) {
            items.push("__typename".into());
        }
        items.join(" ")
    }
}

/// `count` operations for `schema`, all valid, from `seed`.
pub fn generate(schema: &Valid<Schema>, seed: u64, count: usize) -> Vec<Query> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let roots: Vec<String> = match schema.types.get("Query") {
        Some(ExtendedType::Object(o)) => o.fields.keys().map(|k| k.to_string()).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut attempts = 0;
    while out.len() < count && attempts < count * 20 {
        attempts += 1;
        let mut g = Gen {
            schema,
            rng: fastrand::Rng::with_seed(rng.u64(..)),
            var_defs: Vec::new(),
            vars: Map::new(),
            fragments: Vec::new(),
            aliases: 0,
        };
        // Root: a few fields of Query, chosen like any selection but at least one real field.
        let n = 1 + g.rng.usize(..2);
        let mut items = Vec::new();
        for _ in 0..n {
            let root = &roots[g.rng.usize(..roots.len())];
            let Some(ExtendedType::Object(q)) = schema.types.get("Query") else {
                break;
            };
            let Some(f) = q.fields.get(root.as_str()) else {
                continue;
            };
            let f = f.node.as_ref().clone();
            let again = !items.is_empty();
            items.push(g.field(&f, 1, false, again));
        }
        let vars = if g.var_defs.is_empty() {
            String::new()
        } else {
            format!("({})", g.var_defs.join(", "))
        };
        let mut query = format!("query Q{}{vars} {{ {} }}", out.len(), items.join(" "));
        for f in &g.fragments {
            query.push('\n');
            query.push_str(f);
        }
        if ExecutableDocument::parse_and_validate(schema, &query, "q.graphql").is_ok() {
            out.push(Query {
                query,
                variables: Value::Object(g.vars),
            });
        }
    }
    out
}
