//! The planner never panics: malformed, odd, huge and deep documents all get
//! a plan or an error; on pathological supergraphs (a value type split over
//! twelve subgraphs, a ring of `@requires`, hundreds of aliased deep paths)
//! it plans within a fetch count linear in the operation, or refuses.

use std::sync::{Arc, OnceLock};

use gateway::planner::{PlanError, PlanNode, PlanOptions, Planner, QueryPlan};
use gateway::supergraph::Supergraph;
use gateway::supergraph::compose::{SubgraphInput, compose};

fn planner() -> &'static Planner {
    static PLANNER: OnceLock<Planner> = OnceLock::new();
    PLANNER.get_or_init(|| {
        let sdl = include_str!("fixtures/switchyard/supergraph.graphql");
        let supergraph = Supergraph::parse(sdl).expect("fixture loads");
        Planner::new(Arc::new(supergraph)).expect("planner builds")
    })
}

fn plan(source: &str) -> Result<QueryPlan, PlanError> {
    planner().plan_source(source, None, &PlanOptions::default())
}

/// `user { orders { edges { node { user { orders ... } } } } }`, `levels` times.
fn nested(levels: usize) -> String {
    format!("{{ {} }}", nested_path(levels))
}

/// The root field of [`nested`].
fn nested_path(levels: usize) -> String {
    let mut open = String::from("user(id: \"1\") { id ");
    let mut close = String::from("}");
    for _ in 0..levels {
        open.push_str("orders { edges { node { user { name ");
        close.push_str(" } } } }");
    }
    open + &close
}

#[test]
fn malformed_and_odd_documents() {
    let huge_aliases: String = (0..3000)
        .map(|i| format!("a{i}: user(id: \"{i}\") {{ name orderCount }} "))
        .collect();
    let cases: Vec<(String, bool)> = vec![
        ("".into(), false),
        ("   ".into(), false),
        ("{".into(), false),
        ("}".into(), false),
        ("{ }".into(), false),
        ("query".into(), false),
        ("query Q($x: ) { user }".into(), false),
        ("{ nope }".into(), false),
        ("{ user(id: 1) }".into(), false),
        ("{ user { name } }".into(), false),
        ("{ user(id: \"1\") { name(x: 1) } }".into(), false),
        (
            "query A { __typename } query A { __typename }".into(),
            false,
        ),
        (
            "query A { __typename } query B { __typename }".into(),
            false,
        ),
        ("{ ...F } fragment F on Query { ...F }".into(), false),
        ("{ ...Missing }".into(), false),
        ("subscription { user(id: \"1\") { id } }".into(), false),
        ("type Query { a: Int }".into(), false),
        (
            "query ($v: Boolean!) { user(id: \"1\") { name @include(if: $w) } }".into(),
            false,
        ),
        ("{ user(id: \"1\") { ... on Order { id } } }".into(), false),
        ("{ user(id: \"\\u{0}\") { id } }".into(), true),
        (
            "{ a: user(id: \"1\") { name } a: users { pageInfo { hasNextPage } } }".into(),
            false,
        ),
        ("\u{feff}{ __typename }".into(), true),
        ("{ __typename }".into(), true),
        (
            "{ ... { __typename } ... @skip(if: true) { user(id: \"1\") { id } } }".into(),
            true,
        ),
        (
            "{ __type(name: \"User\") { fields { name } } }".into(),
            true,
        ),
        ("# only a comment".into(), false),
        ("{".repeat(10_000), false),
        (
            format!("{{{}}}", "user(id: \"1\") { id } ".repeat(2000)),
            true,
        ),
        (format!("{{ {huge_aliases} }}"), true),
        (nested(10), true),
        (nested(400), false),
    ];
    for (source, ok) in &cases {
        let result = plan(source);
        assert_eq!(
            result.is_ok(),
            *ok,
            "{:.120}: {:?}",
            source,
            result.as_ref().err()
        );
    }
}

#[test]
fn deep_but_allowed_nesting_plans() {
    // 18 levels of users -> orders -> users: one hop per level.
    let plan = plan(&nested(18)).expect("plans");
    assert!(plan.to_string().matches("Flatten").count() >= 18);
}

/// Token soup from a fixed-seed generator: whatever comes out, no panic.
#[test]
fn random_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "(",
        ")",
        ":",
        "...",
        "on",
        "User",
        "Order",
        "query",
        "mutation",
        "fragment",
        "F",
        "user",
        "users",
        "orders",
        "edges",
        "node",
        "id",
        "name",
        "orderCount",
        "notifications",
        "title",
        "__typename",
        "__schema",
        "$v",
        "@skip",
        "@include",
        "(if: $v)",
        "(id: \"1\")",
        "(first: 2)",
        "a:",
        "!",
        "[",
        "]",
        "\"s\"",
        "1",
        "true",
        "query($v: Boolean!)",
        "mutation($v: Boolean!)",
        "createUser(input: {email: \"e\", name: \"n\"})",
    ];
    let mut state: u64 = 0x5eed_5eed_1234_5678;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut planned = 0;
    for _ in 0..3000 {
        let len = (next() % 40) as usize;
        let mut source = String::new();
        for _ in 0..len {
            source.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
            source.push(' ');
        }
        if plan(&source).is_ok() {
            planned += 1;
        }
    }
    // Also random well-formed-ish shells around valid selections.
    for _ in 0..500 {
        let depth = (next() % 6) as usize;
        let mut source = String::from("query($v: Boolean!) { user(id: \"1\") { ");
        for _ in 0..depth {
            let pick = TOKENS[(next() % 12 + 13) as usize];
            source.push_str(pick);
            source.push_str(if next() % 2 == 0 {
                " @include(if: $v) "
            } else {
                " "
            });
        }
        source.push_str("} }");
        if plan(&source).is_ok() {
            planned += 1;
        }
    }
    assert!(planned > 0, "some random documents should be valid");
}

/// Supergraphs with random lines dropped or doubled: loaded or refused, never a panic.
#[test]
fn damaged_supergraphs_never_panic() {
    let sources = [
        include_str!("fixtures/switchyard/supergraph.graphql"),
        include_str!("fixtures/requires/supergraph.graphql"),
        include_str!("fixtures/interface_object/supergraph.graphql"),
        include_str!("fixtures/fed1_join_v01/supergraph.graphql"),
    ];
    let mut state: u64 = 0xdead_beef_cafe_f00d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..200 {
        let source = sources[round % sources.len()];
        let lines: Vec<&str> = source.lines().collect();
        let mut damaged = Vec::new();
        for line in &lines {
            match next() % 20 {
                0 => {}
                1 => {
                    damaged.push(*line);
                    damaged.push(*line);
                }
                2 => damaged.push(&line[..line.len() / 2]),
                _ => damaged.push(*line),
            }
        }
        let damaged = damaged.join("\n");
        if let Ok(supergraph) = Supergraph::parse(&damaged)
            && let Ok(planner) = Planner::new(Arc::new(supergraph))
        {
            for operation in [
                "{ __typename }",
                "{ user(id: \"1\") { name orderCount } }",
                "{ topProducts { shippingEstimate } }",
                "{ items { price } }",
            ] {
                let _ = planner.plan_source(operation, None, &PlanOptions::default());
            }
        }
    }
}

/// Each fragment spreads the next one twice: 2^30 fields once inlined.
#[test]
fn fragment_bomb_is_refused_quickly() {
    let mut source = String::from("{ user(id: \"1\") { ...F0 } }\n");
    for i in 0..30 {
        source.push_str(&format!(
            "fragment F{i} on User {{ name ...F{next} ... on User {{ ...F{next} }} }}\n",
            next = i + 1
        ));
    }
    source.push_str("fragment F30 on User { orderCount }\n");
    let start = std::time::Instant::now();
    let result = plan(&source);
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    assert!(result.is_err() || result.is_ok());
}

// ---- bounded planning on pathological supergraphs ----------------------------

const FEDERATION: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires"])
"#;

/// A planner over the supergraph our composer writes for `(name, sdl)` pairs.
fn composed(subgraphs: &[(String, String)]) -> Planner {
    let inputs: Vec<SubgraphInput> = subgraphs
        .iter()
        .enumerate()
        .map(|(i, (name, sdl))| SubgraphInput {
            name: name.clone(),
            url: format!("http://127.0.0.1:{}/graphql", 4001 + i),
            sdl: format!("{FEDERATION}{sdl}"),
        })
        .collect();
    let sdl = compose(&inputs).expect("pathological subgraphs compose");
    let supergraph = Supergraph::parse(&sdl).expect("composed supergraph loads");
    Planner::new(Arc::new(supergraph)).expect("planner builds")
}

fn fetch_count(node: &PlanNode) -> usize {
    match node {
        PlanNode::Fetch(_) => 1,
        PlanNode::Flatten(flatten) => fetch_count(&flatten.node),
        PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
            nodes.iter().map(fetch_count).sum()
        }
        PlanNode::Condition(condition) => [&condition.if_true, &condition.if_false]
            .into_iter()
            .flatten()
            .map(|n| fetch_count(n))
            .sum(),
    }
}

/// Plans `source`: a plan of at most `max_fetches` fetches, or a refusal
/// for size or depth; anything else fails the test. The fetch count of a
/// plan, `None` for a refusal.
fn bounded(planner: &Planner, case: &str, source: &str, max_fetches: usize) -> Option<usize> {
    match planner.plan_source(source, None, &PlanOptions::default()) {
        Ok(plan) => {
            let fetches = plan.node.as_ref().map_or(0, fetch_count);
            assert!(
                fetches <= max_fetches,
                "{case}: {fetches} fetches, bound {max_fetches}\n{plan}"
            );
            Some(fetches)
        }
        Err(PlanError::TooLarge(_) | PlanError::TooDeep(_)) => None,
        Err(err) => panic!("{case}: neither a plan nor a size refusal: {err:?}"),
    }
}

const SPLIT_SUBGRAPHS: usize = 12;
const SPLIT_LEVELS: usize = 6;

/// `Product.l1.l2...l6`, value types `@shareable` in all twelve subgraphs;
/// subgraph `i` resolves leaf `f{i}` at every level, and only `s00` has a
/// root field. A leaf of subgraph `i` at any level is reached only by going
/// back to the product and down again in `i`.
fn split_value_type_planner() -> &'static Planner {
    static PLANNER: OnceLock<Planner> = OnceLock::new();
    PLANNER.get_or_init(|| {
        let subgraphs: Vec<(String, String)> = (0..SPLIT_SUBGRAPHS)
            .map(|i| {
                let mut sdl = String::from(
                    "type Product @key(fields: \"id\") { id: ID! l1: L1! @shareable }\n",
                );
                for level in 1..=SPLIT_LEVELS {
                    let deeper = if level < SPLIT_LEVELS {
                        format!(" l{next}: L{next}!", next = level + 1)
                    } else {
                        String::new()
                    };
                    sdl.push_str(&format!(
                        "type L{level} @shareable {{ f{i}: Int!{deeper} }}\n"
                    ));
                }
                if i == 0 {
                    sdl.push_str("type Query { products: [Product!]! }\n");
                }
                (format!("s{i:02}"), sdl)
            })
            .collect();
        composed(&subgraphs)
    })
}

/// `l1 { <leaves> l2 { <leaves> ... l6 { <leaves> } } }`, or with the
/// leaves at the deepest level only.
fn split_selection(leaves: &str, every_level: bool) -> String {
    let mut open = String::new();
    for level in 1..=SPLIT_LEVELS {
        open.push_str(&format!("l{level} {{ "));
        if every_level || level == SPLIT_LEVELS {
            open.push_str(leaves);
            open.push(' ');
        }
    }
    open + &"} ".repeat(SPLIT_LEVELS)
}

#[test]
fn value_type_split_over_twelve_subgraphs_six_levels_deep() {
    let planner = split_value_type_planner();
    let all_leaves: String = (0..SPLIT_SUBGRAPHS).map(|i| format!("f{i} ")).collect();
    let source = format!(
        "{{ products {{ {} }} }}",
        split_selection(&all_leaves, true)
    );
    // A fetch resolves at least one leaf, and the leaves of one subgraph at
    // one level go into one fetch: at most one fetch per (subgraph, level).
    // (The good plan has 12: the root, then one entity fetch per subgraph.)
    let fetches = bounded(
        planner,
        "all leaves",
        &source,
        SPLIT_SUBGRAPHS * SPLIT_LEVELS,
    );
    assert!(fetches.is_some(), "72 leaves are not too large to plan");
    // Only the deepest leaf of each subgraph: one fetch per subgraph.
    let deepest = format!(
        "{{ products {{ {} }} }}",
        split_selection(&all_leaves, false)
    );
    bounded(planner, "deepest leaves", &deepest, SPLIT_SUBGRAPHS);
}

const RING: usize = 6;

/// `Thing.f0` in `r0`; `f{i}` in `r{i}` requires `f{i-1}` from `r{i-1}`; and
/// `r0` closes the ring with `f6`, which requires `f5`. With `circular`, `r0`
/// resolves `f0` itself only by requiring `f5`: no field has a base, so no
/// plan exists.
fn requires_ring_planner(circular: bool) -> Planner {
    let subgraphs: Vec<(String, String)> = (0..RING)
        .map(|i| {
            let sdl = if i == 0 {
                let f0 = if circular {
                    "f0: Int! @requires(fields: \"f5\")"
                } else {
                    "f0: Int!"
                };
                format!(
                    "type Thing @key(fields: \"id\") {{ id: ID! {f0} f5: Int! @external f{RING}: Int! @requires(fields: \"f5\") }}\n\
                     type Query {{ things: [Thing!]! }}\n"
                )
            } else {
                format!(
                    "type Thing @key(fields: \"id\") {{ id: ID! f{prev}: Int! @external f{i}: Int! @requires(fields: \"f{prev}\") }}\n",
                    prev = i - 1
                )
            };
            (format!("r{i}"), sdl)
        })
        .collect();
    composed(&subgraphs)
}

#[test]
fn requires_ring_across_six_subgraphs() {
    let planner = requires_ring_planner(false);
    // The root fetch, then one entity fetch per @requires hop of the ring
    // (f1..f6), whether the intermediate fields are asked or not.
    let bound = 1 + RING;
    let last = bounded(&planner, "last field", "{ things { f6 } }", bound);
    assert!(last.is_some(), "the ring plans");
    let every: String = (0..=RING).map(|i| format!("f{i} ")).collect();
    let all = bounded(
        &planner,
        "every field",
        &format!("{{ things {{ {every} }} }}"),
        bound,
    );
    assert!(all.is_some(), "the ring plans");
}

#[test]
fn requires_ring_without_a_base_field_is_refused() {
    let planner = requires_ring_planner(true);
    for source in [
        "{ things { f6 } }",
        "{ things { f0 f1 f2 f3 f4 f5 f6 } }",
        "{ things { id f3 } }",
    ] {
        match planner.plan_source(source, None, &PlanOptions::default()) {
            Err(
                PlanError::UnreachableField { .. } | PlanError::TooLarge(_) | PlanError::TooDeep(_),
            ) => {}
            other => panic!("{source}: a cycle with no base has no plan: {other:?}"),
        }
    }
}

#[test]
fn two_hundred_aliased_copies_of_a_deep_cross_subgraph_path() {
    const COPIES: usize = 200;
    let path = format!("products {{ {} }}", split_selection("f0 f5 f11", true));
    // user -> orders -> user, four levels down (17 selection sets deep):
    // five entity hops between users and orders.
    let hops = nested_path(4);
    for (case, planner, one) in [
        ("value type split", split_value_type_planner(), path),
        ("entity hops", planner(), hops),
    ] {
        let single =
            bounded(planner, case, &format!("{{ {one} }}"), usize::MAX).expect("one copy plans");
        // Aliased copies are independent paths: at most one copy's fetches
        // per copy (root fetches of one subgraph merge, so usually fewer).
        let copies: String = (0..COPIES).map(|k| format!("a{k}: {one} ")).collect();
        bounded(planner, case, &format!("{{ {copies} }}"), COPIES * single);
    }
}
