//! Generated subgraph sets: each is 2–4 subgraphs built from a few *pattern
//! blocks* (entities with several key shapes, `@shareable` roots, value types
//! split under entities, `@requires`/`@provides`/`@override`,
//! `@interfaceObject`, abstract types whose members differ per subgraph,
//! `@inaccessible`, entity chains through lists). Blocks prefix their type
//! names, so they never collide, and keep what must agree across subgraphs
//! (shareable fields, enums, abstract members of shared fields) identical.
//! Everything is a function of the `u64` seed.

use indexmap::IndexMap;

pub const SUBGRAPH_NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

#[derive(Default, Clone)]
struct TypeDef {
    /// `type`, `interface`, `union`, `enum`.
    kind: &'static str,
    directives: String,
    implements: Vec<String>,
    fields: IndexMap<String, String>,
    members: Vec<String>,
}

#[derive(Default, Clone)]
struct Sub {
    types: IndexMap<String, TypeDef>,
}

impl Sub {
    fn ty(&mut self, name: &str, kind: &'static str, directives: &str) -> &mut TypeDef {
        let t = self
            .types
            .entry(name.to_owned())
            .or_insert_with(|| TypeDef {
                kind,
                ..TypeDef::default()
            });
        if !directives.is_empty() && !t.directives.contains(directives) {
            t.directives.push(' ');
            t.directives.push_str(directives);
        }
        t
    }

    /// Adds `field` (`name(args): Type @dirs`) to `type_name`.
    fn field(&mut self, type_name: &str, field: &str) {
        let name = field
            .split(['(', ':'])
            .next()
            .unwrap_or(field)
            .trim()
            .to_owned();
        self.ty(type_name, "type", "")
            .fields
            .insert(name, field.to_owned());
    }

    fn print(&self) -> String {
        let mut body = String::new();
        for (name, t) in &self.types {
            match t.kind {
                "union" => body.push_str(&format!(
                    "union {name}{} = {}\n\n",
                    t.directives,
                    t.members.join(" | ")
                )),
                "enum" => body.push_str(&format!(
                    "enum {name}{} {{ {} }}\n\n",
                    t.directives,
                    t.members.join(" ")
                )),
                kind => {
                    let implements = if t.implements.is_empty() {
                        String::new()
                    } else {
                        format!(" implements {}", t.implements.join(" & "))
                    };
                    body.push_str(&format!("{kind} {name}{implements}{} {{\n", t.directives));
                    for f in t.fields.values() {
                        body.push_str(&format!("  {f}\n"));
                    }
                    body.push_str("}\n\n");
                }
            }
        }
        let imports: Vec<String> = [
            "@key",
            "@shareable",
            "@external",
            "@requires",
            "@provides",
            "@override",
            "@inaccessible",
            "@interfaceObject",
        ]
        .iter()
        .filter(|d| {
            body.contains(&format!("{d}("))
                || body.contains(&format!("{d} "))
                || body.contains(&format!("{d}\n"))
        })
        .map(|d| format!("\"{d}\""))
        .collect();
        format!(
            "extend schema\n  @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [{}])\n\n{body}",
            imports.join(", ")
        )
    }
}

/// A deterministic generator of choices.
struct Rng(fastrand::Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n.max(1))
    }
    fn chance(&mut self, percent: u8) -> bool {
        self.0.u8(..100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// `k` distinct indexes below `n`, in random order.
    fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        self.0.shuffle(&mut all);
        all.truncate(k.min(n));
        all
    }
}

/// A generated subgraph set: (name, SDL) pairs, and the blocks used.
pub struct Generated {
    pub subgraphs: Vec<(String, String)>,
    pub patterns: Vec<&'static str>,
}

struct Ctx {
    rng: Rng,
    subs: Vec<Sub>,
    names: Vec<&'static str>,
    counter: usize,
}

const SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

impl Ctx {
    fn n(&self) -> usize {
        self.subs.len()
    }

    /// A fresh field definition owned by subgraph `s`: a scalar, sometimes a
    /// list, with an argument, non-null, or an `err*` field that fails.
    fn scalar_field(&mut self, s: usize, enum_name: Option<&str>) -> String {
        self.counter += 1;
        let word = *self.rng.pick(&[
            "name", "count", "score", "note", "flag", "code", "rank", "label",
        ]);
        let mut ty = self.rng.pick(&SCALARS).to_string();
        if let Some(e) = enum_name
            && self.rng.chance(20)
        {
            ty = e.to_owned();
        }
        let prefix = if self.rng.chance(8) {
            "err"
        } else {
            self.names[s]
        };
        let name = format!("{prefix}{}{}", capitalize(word), self.counter);
        let args = match self.rng.below(6) {
            0 => "(scale: Int = 1)".to_owned(),
            1 => "(tag: String, upper: Boolean)".to_owned(),
            _ => String::new(),
        };
        let ty = match self.rng.below(6) {
            0 => format!("[{ty}!]"),
            1 => format!("{ty}!"),
            _ => ty,
        };
        format!("{name}{args}: {ty}")
    }

    fn scalar_fields(&mut self, s: usize, type_name: &str, k: usize, enum_name: Option<&str>) {
        for _ in 0..k {
            let f = self.scalar_field(s, enum_name);
            self.subs[s].field(type_name, &f);
        }
    }

    fn list_or_single(&mut self, ty: &str) -> String {
        match self.rng.below(3) {
            0 => format!("[{ty}]"),
            1 => format!("[{ty}!]!"),
            _ => ty.to_owned(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Key shapes of an entity: the `@key` directives per role and the fields they need.
#[derive(Clone, Copy, PartialEq)]
enum KeyShape {
    Id,
    Compound,
    Nested,
    Multiple,
}

fn key_shape(rng: &mut Rng) -> KeyShape {
    *rng.pick(&[
        KeyShape::Id,
        KeyShape::Compound,
        KeyShape::Nested,
        KeyShape::Multiple,
    ])
}

/// Declares entity `name` in subgraph `s` with `shape`; `role` 0 is the owner
/// (all keys), others get one key (for `Multiple`, alternating).
fn entity(cx: &mut Ctx, s: usize, name: &str, shape: KeyShape, role: usize, prefix: &str) {
    let sub = &mut cx.subs[s];
    match shape {
        KeyShape::Id => {
            sub.ty(name, "type", "@key(fields: \"id\")");
            sub.field(name, "id: ID!");
        }
        KeyShape::Compound => {
            sub.ty(name, "type", "@key(fields: \"id sku\")");
            sub.field(name, "id: ID!");
            sub.field(name, "sku: String!");
        }
        KeyShape::Nested => {
            let org = format!("{prefix}Org");
            sub.ty(name, "type", "@key(fields: \"id org { id }\")");
            sub.field(name, "id: ID!");
            sub.field(name, &format!("org: {org}!"));
            sub.ty(&org, "type", "@shareable");
            sub.field(&org, "id: ID!");
        }
        KeyShape::Multiple => {
            if role == 0 {
                sub.ty(name, "type", "@key(fields: \"id\") @key(fields: \"sku\")");
                sub.field(name, "id: ID!");
                sub.field(name, "sku: String!");
            } else if role % 2 == 1 {
                sub.ty(name, "type", "@key(fields: \"sku\")");
                sub.field(name, "sku: String!");
            } else {
                sub.ty(name, "type", "@key(fields: \"id\")");
                sub.field(name, "id: ID!");
            }
        }
    }
}

fn enum_block(cx: &mut Ctx, p: &str, subs: &[usize]) -> String {
    let name = format!("{p}Kind");
    for &s in subs {
        let t = cx.subs[s].ty(&name, "enum", "");
        t.members = vec!["RED".into(), "GREEN".into(), "BLUE".into()];
    }
    name
}

/// Entity spread over 2–3 subgraphs, with a self reference, roots in two of
/// them, and sometimes a `resolvable: false` reference from another.
fn pat_entity(cx: &mut Ctx, p: &str) {
    let k = 2 + cx.rng.below(cx.n().min(3) - 1);
    let subs = cx.rng.distinct(cx.n(), k);
    let shape = key_shape(&mut cx.rng);
    let e = format!("{p}Item");
    let kind = enum_block(cx, p, &subs);
    for (role, &s) in subs.iter().enumerate() {
        entity(cx, s, &e, shape, role, p);
        let k = 1 + cx.rng.below(3);
        cx.scalar_fields(s, &e, k, Some(&kind));
    }
    let root = subs[0];
    let ty = cx.list_or_single(&e);
    cx.subs[root].field(
        "Query",
        &format!("{}Items(first: Int = 2): {ty}", p.to_lowercase()),
    );
    let other = subs[cx.rng.below(subs.len())];
    cx.subs[other].field("Query", &format!("{}Item(id: ID): {e}", p.to_lowercase()));
    let s = subs[cx.rng.below(subs.len())];
    let related = cx.list_or_single(&e);
    cx.subs[s].field(&e, &format!("{}Related: {related}", cx.names[s]));
    if shape == KeyShape::Id && cx.n() > subs.len() && cx.rng.chance(60) {
        let r = (0..cx.n()).find(|i| !subs.contains(i)).unwrap_or(0);
        cx.subs[r].ty(&e, "type", "@key(fields: \"id\", resolvable: false)");
        cx.subs[r].field(&e, "id: ID!");
        let holder = format!("{p}Holder");
        cx.subs[r].field(&holder, &format!("{}Label: String", cx.names[r]));
        cx.subs[r].field(&holder, &format!("item: {e}"));
        cx.subs[r].field(&holder, &format!("items: [{e}!]"));
        cx.subs[r].field("Query", &format!("{}Holders: [{holder}]", p.to_lowercase()));
    }
}

/// `@shareable` root fields in two subgraphs whose return type's fields live
/// in one or the other (value type), or an entity whose fields also live in a
/// third subgraph.
fn pat_shareable_root(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), cx.n().min(3));
    let (a, b) = (subs[0], subs[1]);
    let keyed = cx.rng.chance(50);
    let v = format!("{p}Shared");
    let ty = cx.list_or_single(&v);
    let root = format!("{}Shared(n: Int = 1): {ty} @shareable", p.to_lowercase());
    for &s in &[a, b] {
        if keyed {
            entity(cx, s, &v, KeyShape::Id, 0, p);
            cx.subs[s].field(&v, "common: String @shareable");
        } else {
            cx.subs[s].ty(&v, "type", "@shareable");
            cx.subs[s].field(&v, "common: String");
        }
        let k = 1 + cx.rng.below(2);
        cx.scalar_fields(s, &v, k, None);
        cx.subs[s].field("Query", &root);
    }
    if keyed && subs.len() > 2 {
        let c = subs[2];
        entity(cx, c, &v, KeyShape::Id, 1, p);
        cx.scalar_fields(c, &v, 2, None);
    }
    // A nested value type reached only from one side.
    let w = format!("{p}Detail");
    cx.subs[b].field(&w, &format!("{}Text: String", cx.names[b]));
    cx.subs[b].field(&w, &format!("{}Num: Int", cx.names[b]));
    cx.subs[b].field(&v, &format!("{}Detail: {w}", cx.names[b]));
}

/// A value type under an entity, shareable in two subgraphs, with fields
/// split between them and a nested value type also split.
fn pat_value_split(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}Box");
    let v = format!("{p}Info");
    let w = format!("{p}Deep");
    let shape = if cx.rng.chance(50) {
        KeyShape::Id
    } else {
        key_shape(&mut cx.rng)
    };
    let info_ty = cx.list_or_single(&v);
    for (role, &s) in [a, b].iter().enumerate() {
        entity(cx, s, &e, shape, role, p);
        cx.subs[s].ty(&v, "type", "@shareable");
        cx.subs[s].field(&v, "shared: Int");
        cx.subs[s].field(&e, &format!("info: {info_ty} @shareable"));
        let k = 1 + cx.rng.below(2);
        cx.scalar_fields(s, &v, k, None);
        cx.subs[s].ty(&w, "type", "@shareable");
        cx.subs[s].field(&w, "depth: Int");
        cx.scalar_fields(s, &w, 1, None);
        cx.subs[s].field(&v, &format!("deep: {w}"));
    }
    cx.scalar_fields(a, &e, 1, None);
    cx.subs[a].field("Query", &format!("{}Boxes: [{e}]", p.to_lowercase()));
    if cx.rng.chance(50) {
        cx.subs[b].field("Query", &format!("{}Box: {e}", p.to_lowercase()));
    }
}

/// Entities nested several levels through lists, each hop and each entity's
/// fields in a different subgraph.
fn pat_chain(cx: &mut Ctx, p: &str) {
    let levels = 3 + cx.rng.below(2);
    let names: Vec<String> = (0..levels).map(|i| format!("{p}L{i}")).collect();
    let owners: Vec<usize> = (0..levels).map(|_| cx.rng.below(cx.n())).collect();
    for (i, e) in names.iter().enumerate() {
        let o = owners[i];
        entity(cx, o, e, KeyShape::Id, 0, p);
        let k = 1 + cx.rng.below(2);
        cx.scalar_fields(o, e, k, None);
        if i + 1 < levels {
            // The hop to the next level lives where neither entity is owned if possible.
            let hop = cx.rng.below(cx.n());
            entity(cx, hop, e, KeyShape::Id, 1, p);
            let next = &names[i + 1];
            entity(cx, hop, next, KeyShape::Id, 1, p);
            let ty = if cx.rng.chance(70) {
                format!("[{next}]")
            } else {
                next.clone()
            };
            cx.subs[hop].field(e, &format!("next{i}: {ty}"));
        }
    }
    cx.subs[owners[0]].field(
        "Query",
        &format!("{}Chain: [{}]", p.to_lowercase(), names[0]),
    );
}

/// `@requires`: plain, with an argument, nested, through an abstract type,
/// chained (a requires field required elsewhere), and back and forth.
fn pat_requires(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), cx.n().min(3));
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}Parcel");
    let d = format!("{p}Dims");
    for (role, &s) in [a, b].iter().enumerate() {
        entity(cx, s, &e, KeyShape::Id, role, p);
    }
    // Owner side.
    cx.subs[a].field(&e, "weight: Int");
    cx.subs[a].field(&e, "price(currency: String = \"USD\"): Int");
    cx.subs[a].field(&e, &format!("dims: {d}"));
    cx.subs[a].ty(&d, "type", "@shareable");
    cx.subs[a].field(&d, "h: Int");
    cx.subs[a].field(&d, "w: Int");
    cx.subs[a].field(&d, "unit: String");
    cx.scalar_fields(a, &e, 1, None);
    cx.subs[a].field("Query", &format!("{}Parcels: [{e}]", p.to_lowercase()));
    // Requiring side.
    let variant = cx.rng.below(4);
    cx.subs[b].field(&e, "weight: Int @external");
    cx.subs[b].field(&e, "ship: Int @requires(fields: \"weight\")");
    if variant == 0 || cx.rng.chance(40) {
        cx.subs[b].field(&e, "price(currency: String = \"USD\"): Int @external");
        cx.subs[b].field(
            &e,
            "tax: Float @requires(fields: \"price(currency: \\\"EUR\\\")\")",
        );
    }
    if variant == 1 || cx.rng.chance(40) {
        cx.subs[b].field(&e, &format!("dims: {d} @external"));
        cx.subs[b].ty(&d, "type", "@shareable");
        cx.subs[b].field(&d, "h: Int");
        cx.subs[b].field(&d, "w: Int");
        cx.subs[b].field(
            &e,
            "volume: String @requires(fields: \"dims { h w } weight\")",
        );
    }
    if variant == 2 || cx.rng.chance(30) {
        // Through a union with inline fragments.
        let u = format!("{p}Content");
        let (x, y) = (format!("{p}Letter"), format!("{p}Gift"));
        for &s in &[a, b] {
            let t = cx.subs[s].ty(&u, "union", "");
            t.members = vec![x.clone(), y.clone()];
            cx.subs[s].ty(&x, "type", "@shareable");
            cx.subs[s].field(&x, "pages: Int");
            cx.subs[s].ty(&y, "type", "@shareable");
            cx.subs[s].field(&y, "value: Int");
        }
        cx.subs[a].field(&e, &format!("content: {u}"));
        cx.subs[b].field(&e, &format!("content: {u} @external"));
        cx.subs[b].field(
            &e,
            &format!("insurance: Int @requires(fields: \"content {{ ... on {x} {{ pages }} ... on {y} {{ value }} }}\")"),
        );
    }
    if variant == 3 || cx.rng.chance(30) {
        // Back and forth: a requires from b's requires field.
        cx.subs[a].field(&e, "ship: Int @external");
        cx.subs[a].field(&e, "total: Int @requires(fields: \"ship\")");
    }
    if subs.len() > 2 && cx.rng.chance(60) {
        // A chain through a third subgraph.
        let c = subs[2];
        entity(cx, c, &e, KeyShape::Id, 1, p);
        cx.subs[c].field(&e, "ship: Int @external");
        cx.subs[c].field(&e, "label: String @requires(fields: \"ship\")");
        cx.scalar_fields(c, &e, 1, None);
    }
}

/// `@provides` on a field of a type in another subgraph, sometimes nested.
fn pat_provides(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}Product");
    let d = format!("{p}Maker");
    entity(cx, a, &e, KeyShape::Id, 0, p);
    cx.subs[a].field(&e, "title: String @shareable");
    cx.subs[a].field(&e, &format!("maker: {d} @shareable"));
    cx.subs[a].ty(&d, "type", "@shareable");
    cx.subs[a].field(&d, "name: String");
    cx.subs[a].field(&d, "city: String");
    cx.scalar_fields(a, &e, 2, None);
    entity(cx, b, &e, KeyShape::Id, 1, p);
    cx.subs[b].field(&e, "title: String @external");
    let nested = cx.rng.chance(50);
    if nested {
        cx.subs[b].field(&e, &format!("maker: {d} @external"));
        cx.subs[b].ty(&d, "type", "@shareable");
        cx.subs[b].field(&d, "name: String");
    }
    let r = format!("{p}Review");
    cx.subs[b].field(&r, &format!("{}Body: String", cx.names[b]));
    let provides = if nested {
        "title maker { name }"
    } else {
        "title"
    };
    cx.subs[b].field(
        &r,
        &format!("product: {e} @provides(fields: \"{provides}\")"),
    );
    cx.subs[b].field(&r, &format!("plain: {e}"));
    cx.subs[b].field("Query", &format!("{}Reviews: [{r}]", p.to_lowercase()));
    cx.subs[a].field("Query", &format!("{}Products: [{e}]", p.to_lowercase()));
}

/// `@override` of a field from one subgraph to another.
fn pat_override(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}Account");
    entity(cx, a, &e, KeyShape::Id, 0, p);
    entity(cx, b, &e, KeyShape::Id, 1, p);
    cx.scalar_fields(a, &e, 1, None);
    cx.scalar_fields(b, &e, 1, None);
    cx.subs[a].field(&e, "status: String");
    cx.subs[b].field(
        &e,
        &format!("status: String @override(from: \"{}\")", cx.names[a]),
    );
    cx.subs[a].field("Query", &format!("{}Accounts: [{e}]", p.to_lowercase()));
}

/// `@interfaceObject`: an entity interface owned by one subgraph and seen as
/// an object (with or without extra fields, sometimes with `@requires`).
fn pat_interface_object(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let i = format!("{p}Media");
    let (x, y) = (format!("{p}Book"), format!("{p}Movie"));
    cx.subs[a].ty(&i, "interface", "@key(fields: \"id\")");
    cx.subs[a].field(&i, "id: ID!");
    cx.subs[a].field(&i, "title: String");
    for (t, extra) in [(&x, "pages: Int"), (&y, "length: Int")] {
        cx.subs[a].ty(t, "type", "@key(fields: \"id\")").implements = vec![i.clone()];
        cx.subs[a].field(t, "id: ID!");
        cx.subs[a].field(t, "title: String");
        cx.subs[a].field(t, extra);
    }
    cx.subs[a].field("Query", &format!("{}Library: [{i}]", p.to_lowercase()));
    cx.subs[b].ty(&i, "type", "@key(fields: \"id\") @interfaceObject");
    cx.subs[b].field(&i, "id: ID!");
    if cx.rng.chance(70) {
        cx.subs[b].field(&i, &format!("{}Rating: Int", cx.names[b]));
        cx.scalar_fields(b, &i, 1, None);
    }
    if cx.rng.chance(40) {
        cx.subs[b].field(&i, "title: String @external");
        cx.subs[b].field(&i, "blurb: String @requires(fields: \"title\")");
    }
    cx.subs[b].field("Query", &format!("{}Top: [{i}]", p.to_lowercase()));
}

/// Interfaces and unions whose members differ per subgraph; members are
/// shareable value types or entities.
fn pat_abstract(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let i = format!("{p}Shape");
    let u = format!("{p}Result");
    let (x, y, z) = (
        format!("{p}Circle"),
        format!("{p}Square"),
        format!("{p}Star"),
    );
    let entities = cx.rng.chance(50);
    for (s, other) in [(a, &y), (b, &z)] {
        cx.subs[s].ty(&i, "interface", "");
        cx.subs[s].field(&i, "area: Float");
        for t in [&x, other] {
            if entities {
                entity(cx, s, t, KeyShape::Id, 1, p);
                cx.subs[s].field(t, "area: Float @shareable");
            } else {
                cx.subs[s].ty(t, "type", "@shareable");
                cx.subs[s].field(t, "area: Float");
            }
            let implements = &mut cx.subs[s].ty(t, "type", "").implements;
            if !implements.contains(&i) {
                implements.push(i.clone());
            }
        }
        let t = cx.subs[s].ty(&u, "union", "");
        t.members = vec![x.clone(), other.clone()];
    }
    cx.subs[a].field(&y, &format!("{}Side: Int", cx.names[a]));
    cx.subs[b].field(&z, &format!("{}Points: Int", cx.names[b]));
    if entities {
        cx.scalar_fields(b, &x, 1, None);
    }
    let la = cx.list_or_single(&i);
    let lb = cx.list_or_single(&u);
    cx.subs[a].field("Query", &format!("{}ShapesA: {la}", p.to_lowercase()));
    cx.subs[b].field("Query", &format!("{}ShapesB: [{i}]", p.to_lowercase()));
    cx.subs[a].field("Query", &format!("{}ResultA: {lb}", p.to_lowercase()));
    cx.subs[b].field("Query", &format!("{}ResultB: [{u}]", p.to_lowercase()));
}

/// `@inaccessible` fields and types, one of them used by a `@requires`.
fn pat_inaccessible(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), 2);
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}User");
    entity(cx, a, &e, KeyShape::Id, 0, p);
    entity(cx, b, &e, KeyShape::Id, 1, p);
    cx.subs[a].field(&e, "secret: String @inaccessible");
    cx.scalar_fields(a, &e, 1, None);
    cx.subs[b].field(&e, "secret: String @external");
    cx.subs[b].field(&e, "digest: String @requires(fields: \"secret\")");
    cx.subs[a].field(
        &e,
        &format!("{}Hidden(x: Int): Int @inaccessible", cx.names[a]),
    );
    cx.subs[a].field("Query", &format!("{}Users: [{e}]", p.to_lowercase()));
    cx.subs[b].field(
        "Query",
        &format!("{}Internal: String @inaccessible", p.to_lowercase()),
    );
}

/// `@requires` of a field that the requiring subgraph also gets through a
/// `@provides` path, and a requires chain ending in it.
fn pat_provides_requires(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), cx.n().min(3));
    let (a, b) = (subs[0], subs[1]);
    let e = format!("{p}Song");
    entity(cx, a, &e, KeyShape::Id, 0, p);
    cx.subs[a].field(&e, "title: String @shareable");
    cx.subs[a].field(&e, "length: Int");
    cx.scalar_fields(a, &e, 1, None);
    cx.subs[a].field("Query", &format!("{}Songs: [{e}]", p.to_lowercase()));
    entity(cx, b, &e, KeyShape::Id, 1, p);
    cx.subs[b].field(&e, "title: String @external");
    cx.subs[b].field(&e, "slug: String @requires(fields: \"title\")");
    let l = format!("{p}Playlist");
    cx.subs[b].field(&l, &format!("{}Name: String", cx.names[b]));
    cx.subs[b].field(&l, &format!("songs: [{e}] @provides(fields: \"title\")"));
    cx.subs[b].field("Query", &format!("{}Playlists: [{l}]", p.to_lowercase()));
    if let Some(&c) = subs.get(2) {
        entity(cx, c, &e, KeyShape::Id, 1, p);
        cx.subs[c].field(&e, "slug: String @external");
        cx.subs[c].field(&e, "url: String @requires(fields: \"slug\")");
    }
}

/// A `@shareable` root field returning a union with the same members in two
/// subgraphs; the members are entities whose fields live in both and in a third.
fn pat_shareable_abstract(cx: &mut Ctx, p: &str) {
    let subs = cx.rng.distinct(cx.n(), cx.n().min(3));
    let (a, b) = (subs[0], subs[1]);
    let u = format!("{p}Hit");
    let (x, y) = (format!("{p}Doc"), format!("{p}Img"));
    let ty = cx.list_or_single(&u);
    for &s in &[a, b] {
        for t in [&x, &y] {
            entity(cx, s, t, KeyShape::Id, 1, p);
            cx.scalar_fields(s, t, 1, None);
        }
        cx.subs[s].ty(&u, "union", "").members = vec![x.clone(), y.clone()];
        cx.subs[s].field(
            "Query",
            &format!(
                "{}Search(q: String = \"x\"): {ty} @shareable",
                p.to_lowercase()
            ),
        );
    }
    if let Some(&c) = subs.get(2) {
        entity(cx, c, &x, KeyShape::Id, 1, p);
        cx.scalar_fields(c, &x, 2, None);
    }
}

/// Patterns only the cases after the first 30 start with (added later, so
/// the first 30 cases stay as recorded).
const EXTRA_PATTERNS: [Pattern; 2] = [
    ("provides_requires", pat_provides_requires),
    ("shareable_abstract", pat_shareable_abstract),
];

type Pattern = (&'static str, fn(&mut Ctx, &str));

const PATTERNS: [Pattern; 10] = [
    ("entity", pat_entity),
    ("shareable_root", pat_shareable_root),
    ("value_split", pat_value_split),
    ("chain", pat_chain),
    ("requires", pat_requires),
    ("provides", pat_provides),
    ("override", pat_override),
    ("interface_object", pat_interface_object),
    ("abstract", pat_abstract),
    ("inaccessible", pat_inaccessible),
];

/// The subgraph set for `seed`. Pattern `first` (index into [`PATTERNS`],
/// then past 30 into [`EXTRA_PATTERNS`]) is always included, so a run of
/// seeds covers every pattern.
pub fn generate(seed: u64, first: usize) -> Generated {
    let mut rng = Rng(fastrand::Rng::with_seed(seed));
    let n = 2 + rng.below(3);
    let mut cx = Ctx {
        rng,
        subs: vec![Sub::default(); n],
        names: SUBGRAPH_NAMES[..n].to_vec(),
        counter: 0,
    };
    let blocks = 2 + cx.rng.below(3);
    let opening = match first.checked_sub(30) {
        Some(extra) => EXTRA_PATTERNS[extra % EXTRA_PATTERNS.len()],
        None => PATTERNS[first % PATTERNS.len()],
    };
    let mut patterns = vec![opening];
    for _ in 1..blocks {
        let p = PATTERNS[cx.rng.below(PATTERNS.len())];
        patterns.push(p);
    }
    for (i, (_, f)) in patterns.iter().enumerate() {
        let prefix = ["P", "Q", "R", "S", "T"][i];
        f(&mut cx, prefix);
    }
    // Every subgraph answers something at the root.
    for s in 0..n {
        if !cx.subs[s].types.contains_key("Query") {
            let name = cx.names[s];
            cx.subs[s].field("Query", &format!("{name}Version: String @shareable"));
        }
    }
    Generated {
        subgraphs: cx
            .names
            .iter()
            .zip(&cx.subs)
            .map(|(name, sub)| (name.to_string(), sub.print()))
            .collect(),
        patterns: patterns.iter().map(|(name, _)| *name).collect(),
    }
}
