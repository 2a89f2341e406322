//! The planner never panics: malformed, odd, huge and deep documents all get
//! a plan or an error.

use std::sync::{Arc, OnceLock};

use gateway::planner::{PlanError, PlanOptions, Planner, QueryPlan};
use gateway::supergraph::Supergraph;

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
    let mut open = String::from("{ user(id: \"1\") { id ");
    let mut close = String::from("} }");
    for _ in 0..levels {
        open.push_str("orders { edges { node { user { name ");
        close.push_str("} } } } ");
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
