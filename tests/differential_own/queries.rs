//! Random read operations over the API schema of `schema/supergraph.graphql`,
//! with argument values the real resolvers accept (seeded ids, small `first`,
//! real cursors and emails; a few out-of-range ones for error paths). Like
//! `gateway/tests/differential/queries.rs`, whose values are made for the mock
//! subgraphs (ids `"v0"`..`"v3"`, any string as cursor) and would only reach
//! nulls and `BAD_USER_INPUT` here: nested cross-subgraph paths, aliases (the
//! same field twice with other arguments), the same field twice unaliased
//! (merged), named and inline fragments, variables (some with defaults left
//! unset), `@skip`/`@include` with literals and variables, sometimes on every
//! field of a selection so that it becomes empty. Each operation is validated;
//! one that does not validate is drawn again.

use apollo_compiler::schema::{ExtendedType, FieldDefinition, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{Map, Value, json};

pub struct Query {
    pub query: String,
    pub variables: Value,
}

/// Deep enough for users → orders → notifications → user → orders → items.
const MAX_DEPTH: usize = 12;
/// Seeded rows asked by id: users 1..=50, orders and notifications exist for all.
const MAX_ID: u8 = 10;

struct Gen<'s> {
    schema: &'s Valid<Schema>,
    rng: fastrand::Rng,
    var_defs: Vec<String>,
    vars: Map<String, Value>,
    fragments: Vec<String>,
    aliases: usize,
}

impl Gen<'_> {
    fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    fn fields_of(&self, type_name: &str) -> Vec<FieldDefinition> {
        match self.schema.types.get(type_name) {
            Some(ExtendedType::Object(o)) => o
                .fields
                .values()
                .filter(|f| !f.name.starts_with("__"))
                .map(|f| f.node.as_ref().clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn is_leaf(&self, ty: &Type) -> bool {
        matches!(
            self.schema.types.get(ty.inner_named_type().as_str()),
            Some(ExtendedType::Scalar(_) | ExtendedType::Enum(_))
        )
    }

    /// A value for argument `name` of type `ty`, as a literal and as JSON.
    fn value(&mut self, name: &str, ty: &Type) -> (String, Value) {
        if !ty.is_non_null() && self.chance(5) {
            return ("null".into(), Value::Null);
        }
        let string = |s: String| (format!("\"{s}\""), json!(s));
        match (name, ty.inner_named_type().as_str()) {
            ("id", _) => {
                if self.chance(4) {
                    string("999".into())
                } else {
                    string((1 + self.rng.u8(..MAX_ID)).to_string())
                }
            }
            ("first", _) => {
                // Out of range now and then: a subgraph error at a nested path.
                let n: i64 = if self.chance(3) {
                    101
                } else {
                    self.rng.i64(0..4)
                };
                (n.to_string(), json!(n))
            }
            ("after", _) => {
                if self.chance(3) {
                    string("nope".into())
                } else {
                    string(kit::pagination::encode_cursor(self.rng.i32(1..6)))
                }
            }
            ("email", _) => {
                if self.chance(5) {
                    return string("nobody@example.com".into());
                }
                let users = kit::demo::users();
                let email = users[self.rng.usize(..usize::from(MAX_ID))].email.clone();
                // The lookup is case-insensitive.
                string(if self.chance(15) {
                    email.to_uppercase()
                } else {
                    email
                })
            }
            (_, "Boolean") => {
                let b = self.rng.bool();
                (b.to_string(), json!(b))
            }
            (_, "Int") => {
                let n = self.rng.i64(0..4);
                (n.to_string(), json!(n))
            }
            (_, type_name) => match self.schema.types.get(type_name) {
                Some(ExtendedType::Enum(e)) => {
                    let values: Vec<String> = e.values.keys().map(|v| v.to_string()).collect();
                    let v = values[self.rng.usize(..values.len())].clone();
                    (v.clone(), json!(v))
                }
                _ => string(format!("s{}", self.rng.u8(..4))),
            },
        }
    }

    /// An argument value: a literal, or a fresh variable (now and then one
    /// with a default value that the request leaves unset).
    fn input(&mut self, name: &str, ty: &Type) -> String {
        let (lit, value) = self.value(name, ty);
        if !self.chance(35) {
            return lit;
        }
        let var = format!("v{}", self.var_defs.len());
        if !value.is_null() && self.chance(15) {
            self.var_defs.push(format!("${var}: {ty} = {lit}"));
        } else {
            self.var_defs.push(format!("${var}: {ty}"));
            self.vars.insert(var.clone(), value);
        }
        format!("${var}")
    }

    fn condition(&mut self, all_skipped: bool) -> String {
        let skip = self.rng.bool();
        let directive = if skip { "skip" } else { "include" };
        if all_skipped {
            // Excluded for sure: `@skip(if: true)` or `@include(if: false)`.
            if self.chance(50) {
                return format!(" @{directive}(if: {skip})");
            }
            let var = format!("v{}", self.var_defs.len());
            self.var_defs.push(format!("${var}: Boolean!"));
            self.vars.insert(var.clone(), json!(skip));
            return format!(" @{directive}(if: ${var})");
        }
        let boolean = Type::Named(apollo_compiler::name!("Boolean")).non_null();
        format!(" @{directive}(if: {})", self.input("if", &boolean))
    }

    /// `name(args)`: required arguments always, `first` mostly, others sometimes.
    fn head(&mut self, f: &FieldDefinition) -> String {
        let mut args = Vec::new();
        for arg in &f.arguments {
            let wanted = match arg.name.as_str() {
                _ if arg.ty.is_non_null() && arg.default_value.is_none() => true,
                "first" => self.chance(85),
                _ => self.chance(30),
            };
            if wanted {
                let v = self.input(&arg.name, &arg.ty);
                args.push(format!("{}: {v}", arg.name));
            }
        }
        if args.is_empty() {
            f.name.to_string()
        } else {
            format!("{}({})", f.name, args.join(", "))
        }
    }

    fn field(
        &mut self,
        f: &FieldDefinition,
        depth: usize,
        all_skipped: bool,
        force_alias: bool,
    ) -> (String, String) {
        let head = self.head(f);
        let alias = if force_alias || self.chance(12) {
            self.aliases += 1;
            format!("a{}: ", self.aliases)
        } else {
            String::new()
        };
        (
            head.clone(),
            self.field_body(f, &alias, &head, depth, all_skipped),
        )
    }

    fn field_body(
        &mut self,
        f: &FieldDefinition,
        alias: &str,
        head: &str,
        depth: usize,
        all_skipped: bool,
    ) -> String {
        let mut out = format!("{alias}{head}");
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
        let all_skipped = depth > 1 && self.chance(6);
        let fields = self.fields_of(type_name);
        if self.chance(12) && !all_skipped {
            items.push("__typename".into());
        }
        let (leaves, composites): (Vec<&FieldDefinition>, Vec<&FieldDefinition>) =
            fields.iter().partition(|f| self.is_leaf(&f.ty));
        let count = 1 + self.rng.usize(..3);
        for _ in 0..count {
            // Composite fields (the cross-subgraph hops) half the time.
            let f = if depth < MAX_DEPTH && !composites.is_empty() && self.chance(50) {
                composites[self.rng.usize(..composites.len())]
            } else if !leaves.is_empty() {
                leaves[self.rng.usize(..leaves.len())]
            } else {
                break;
            };
            let (head, item) = self.field(f, depth, all_skipped, false);
            items.push(item);
            if self.chance(8) {
                // The same field again under an alias, with other arguments.
                let (_, again) = self.field(f, depth, all_skipped, true);
                items.push(again);
            } else if !self.is_leaf(&f.ty) && self.chance(8) {
                // The same field again, same arguments, another selection: merged.
                let again = self.field_body(f, "", &head, depth, all_skipped);
                items.push(again);
            }
        }
        if depth < MAX_DEPTH && self.chance(12) {
            let inner = self.selection(type_name, depth + 1);
            let cond = if self.chance(40) && !all_skipped {
                self.condition(false)
            } else if all_skipped {
                self.condition(true)
            } else {
                String::new()
            };
            match self.rng.u8(..3) {
                0 => {
                    let name = format!("F{}", self.fragments.len());
                    self.fragments
                        .push(format!("fragment {name} on {type_name} {{ {inner} }}"));
                    items.push(format!("...{name}{cond}"));
                }
                1 => items.push(format!("... on {type_name}{cond} {{ {inner} }}")),
                _ => {
                    let cond = if cond.is_empty() {
                        self.condition(false)
                    } else {
                        cond
                    };
                    items.push(format!("...{cond} {{ {inner} }}"));
                }
            }
        }
        if items.is_empty() || all_skipped && self.chance(50) {
            items.push("__typename".into());
        }
        items.join(" ")
    }
}

/// `count` valid read operations on `schema` from `seed`.
pub fn generate(schema: &Valid<Schema>, seed: u64, count: usize) -> Vec<Query> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let roots: Vec<FieldDefinition> = match schema.types.get("Query") {
        Some(ExtendedType::Object(o)) => {
            o.fields.values().map(|f| f.node.as_ref().clone()).collect()
        }
        _ => Vec::new(),
    };
    assert!(!roots.is_empty(), "the API schema has no Query fields");
    let mut out = Vec::new();
    let mut attempts = 0;
    while out.len() < count {
        attempts += 1;
        assert!(
            attempts < count * 20,
            "too few generated operations validate"
        );
        let mut g = Gen {
            schema,
            rng: fastrand::Rng::with_seed(rng.u64(..)),
            var_defs: Vec::new(),
            vars: Map::new(),
            fragments: Vec::new(),
            aliases: 0,
        };
        let n = 1 + g.rng.usize(..2);
        let mut items = Vec::new();
        for i in 0..n {
            let root = roots[g.rng.usize(..roots.len())].clone();
            items.push(g.field(&root, 1, false, i > 0).1);
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
