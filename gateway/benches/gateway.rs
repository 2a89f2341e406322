//! Micro-benchmarks of the gateway's own CPU work per request
//! (`cargo bench -p gateway`; results in `bench/RESULTS.md`):
//!
//! - planning the nested demo query: parse + validate + plan from scratch,
//!   and the same answered from the plan cache;
//! - planning from scratch the heaviest operation of four federation-pattern
//!   fixtures, and an operation over a supergraph of 301 types;
//! - the executor's work on a ~1 MB federated response, without the network:
//!   parse the subgraph bodies, read representations, merge the entities
//!   back into the tree, and write the client's response.

use std::{hint::black_box, sync::Arc};

use apollo_compiler::{ExecutableDocument, validation::Valid};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::{
    GatewayConfig,
    executor::{EntitiesResponse, RawResponse, Representations, json, shape::Shaper, value::Value},
    planner::{FetchNode, FlattenNode, PlanNode, PlanOptions, Planner},
    supergraph::Supergraph,
};
use serde_json::{Map, json};

/// As in the `switchyard` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NESTED: &str = "{ users(first: 50) { edges { node { id name orders { edges { node { id totalCents \
                      items { sku quantity } notifications { title read } } } } unreadNotificationCount } } } }";

fn supergraph_sdl() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/supergraph.graphql");
    std::fs::read_to_string(path).expect("schema/supergraph.graphql")
}

/// (benchmark name, supergraph file relative to the crate, operation). The
/// fixtures' operations are the heaviest of their tests in `tests/planner.rs`.
/// `bench/wide-supergraph.graphql` is the three subgraphs of
/// `bench/gen_wide_subgraphs.py` composed by `switchyard compose` (100 entity
/// types each, every type's `other` owned by the next subgraph); the
/// operation's three roots hop through all three subgraphs several times.
const COLD_PLANS: &[(&str, &str, &str)] = &[
    (
        "plan/cold: parent_entity, value types split, back to the parent entity",
        "tests/fixtures/parent_entity/supergraph.graphql",
        "{ products { name details { weight color origin { country port } } variants { size stock } } }",
    ),
    (
        "plan/cold: requires_advanced, @requires of a provided field and a required chain",
        "tests/fixtures/requires_advanced/supergraph.graphql",
        "{ products { sellerLabel seller { score } } }",
    ),
    (
        "plan/cold: interface_object_advanced, @interfaceObject fields per implementation",
        "tests/fixtures/interface_object_advanced/supergraph.graphql",
        "{ accounts { ... on Personal { balance birthday statement } ... on Business { balance } } }",
    ),
    (
        "plan/cold: requires_cycle, circular @requires with the intermediate fields",
        "tests/fixtures/requires_cycle/supergraph.graphql",
        "{ things { peak middle top } }",
    ),
    (
        "plan/cold: wide supergraph (301 types), three roots across three subgraphs",
        "../bench/wide-supergraph.graphql",
        r#"{
  a: getT0_5(id: "1") { name count next { name other { name count next { name other { name list { count other { name next { name other { id name } } } } } } } } }
  b: getT1_50(id: "2") { name list { name other { count list { other { name } } } } }
  c: getT2_99(id: "3") { next { other { next { other { next { other { name } } } } } } }
}"#,
    ),
];

fn planning(c: &mut Criterion) {
    let sdl = supergraph_sdl();
    let supergraph = Arc::new(Supergraph::parse(&sdl).expect("supergraph"));
    let planner = Planner::new(supergraph).expect("planner");
    c.bench_function("plan/cold: parse + validate + plan the nested query", |b| {
        b.iter(|| {
            planner
                .plan_source(black_box(NESTED), None, &PlanOptions::default())
                .expect("plans")
        })
    });

    for (name, file, operation) in COLD_PLANS {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let sdl = std::fs::read_to_string(&path).expect("bench supergraph");
        let supergraph = Arc::new(Supergraph::parse(&sdl).expect("supergraph"));
        let planner = Planner::new(supergraph).expect("planner");
        c.bench_function(name, |b| {
            b.iter(|| {
                planner
                    .plan_source(black_box(operation), None, &PlanOptions::default())
                    .expect("plans")
            })
        });
    }

    let _ = rustls::crypto::ring::default_provider().install_default();
    let gateway = gateway::build(GatewayConfig::default(), &sdl).expect("gateway");
    let loaded = gateway.current().expect("loaded");
    c.bench_function("plan/cached: the nested query from the plan cache", |b| {
        b.iter(|| loaded.prepare(black_box(NESTED), None))
    });
}

/// Subgraph answers for the nested query: `users` users with `orders` orders
/// each (three items, two notifications per order).
struct Federated {
    root: Vec<u8>,
    users: usize,
    orders: usize,
}

impl Federated {
    fn new(users: usize, orders: usize) -> Self {
        let edges: Vec<_> = (0..users)
            .map(|u| json!({ "node": { "id": u.to_string(), "name": format!("User number {u}"), "__typename": "User" } }))
            .collect();
        let root =
            serde_json::to_vec(&json!({ "data": { "users": { "edges": edges } } })).expect("json");
        Self {
            root,
            users,
            orders,
        }
    }

    /// The `_entities` answer of one flatten, for `count` representations.
    fn entities(&self, fetch: &FetchNode, count: usize) -> Vec<u8> {
        let typename = match fetch.requires.as_ref().and_then(|r| r.selections.first()) {
            Some(gateway::planner::Selection::InlineFragment(f)) => {
                f.type_condition.clone().unwrap_or_default()
            }
            _ => String::new(),
        };
        let entity = |i: usize| match (fetch.service_name.as_str(), typename.as_str()) {
            ("orders", "User") => {
                json!({ "orders": { "edges": (0..self.orders).map(|o| json!({ "node": {
                "id": (i * 1000 + o).to_string(),
                "totalCents": 1999 + o,
                "items": [
                    { "sku": "SKU-0001", "quantity": 1 },
                    { "sku": "SKU-0002", "quantity": 2 },
                    { "sku": "SKU-0003", "quantity": 3 },
                ],
                "__typename": "Order",
            } })).collect::<Vec<_>>() } })
            }
            ("notifications", "Order") => json!({ "notifications": [
                { "title": format!("Order {i} was placed"), "read": true },
                { "title": format!("Order {i} has shipped"), "read": false },
            ] }),
            ("notifications", "User") => json!({ "unreadNotificationCount": i % 7 }),
            other => panic!("no synthetic answer for {other:?}"),
        };
        let list: Vec<_> = (0..count).map(entity).collect();
        serde_json::to_vec(&json!({ "data": { "_entities": list } })).expect("json")
    }
}

/// The flattens of a plan in execution order.
fn flattens(node: &PlanNode, out: &mut Vec<FlattenNode>) {
    match node {
        PlanNode::Flatten(f) => out.push(f.clone()),
        PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
            nodes.iter().for_each(|n| flattens(n, out))
        }
        PlanNode::Condition(c) => {
            for branch in [&c.if_true, &c.if_false].into_iter().flatten() {
                flattens(branch, out);
            }
        }
        PlanNode::Fetch(_) => {}
    }
}

fn raw(body: Vec<u8>) -> RawResponse {
    RawResponse {
        status: 200,
        cache_control: None,
        body: body.into(),
    }
}

/// What the executor does with the subgraphs' bodies, then the shaping pass;
/// the response text's length.
fn execute(
    supergraph: &Supergraph,
    document: &Valid<ExecutableDocument>,
    plan_flattens: &[FlattenNode],
    bodies: &[RawResponse],
) -> usize {
    let mut data = Value::Object(Default::default());
    let root = bodies[0].parse().expect("root parses");
    json::deep_merge(&mut data, root.data.expect("data"));
    for (flatten, body) in plan_flattens.iter().zip(&bodies[1..]) {
        let PlanNode::Fetch(fetch) = flatten.node.as_ref() else {
            continue;
        };
        let requires = fetch.requires.as_ref().expect("entity fetch");
        let reps = Representations::collect(&data, flatten, fetch, requires, supergraph, None);
        let response = EntitiesResponse::new(body.parse().expect("entities parse"), None);
        reps.merge(&mut data, response.entities.into_iter().map(Some).collect());
    }
    let operation = document.operations.get(None).expect("operation");
    let variables = Map::new();
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(1 << 20);
    Shaper {
        schema: supergraph.api_schema(),
        document,
        variables: &variables,
        denied: &std::collections::HashMap::new(),
    }
    .shape(operation, &data, &mut errors, &mut out);
    assert!(errors.is_empty(), "{errors:?}");
    out.len()
}

fn merging(c: &mut Criterion) {
    let supergraph = Arc::new(Supergraph::parse(&supergraph_sdl()).expect("supergraph"));
    let planner = Planner::new(supergraph.clone()).expect("planner");
    let plan = planner
        .plan_source(NESTED, None, &PlanOptions::default())
        .expect("plans");
    let mut plan_flattens = Vec::new();
    flattens(plan.node.as_ref().expect("a plan"), &mut plan_flattens);

    let mut group = c.benchmark_group("merge");
    group.sample_size(30);
    // 200 users × 20 orders: about 1 MB of subgraph answers; 50 × 3: the
    // size of the demo data's answer (bench scenario 2).
    for (name, users, orders) in [
        (
            "~1 MB: parse subgraph answers, merge, shape and write",
            200,
            20,
        ),
        ("demo size (50 users × 3 orders)", 50, 3),
    ] {
        let federated = Federated::new(users, orders);
        let mut bodies = vec![raw(federated.root.clone())];
        for flatten in &plan_flattens {
            let PlanNode::Fetch(fetch) = flatten.node.as_ref() else {
                continue;
            };
            let count = if flatten.path.len() > 4 {
                federated.users * federated.orders
            } else {
                federated.users
            };
            bodies.push(raw(federated.entities(fetch, count)));
        }
        let input: usize = bodies.iter().map(|b| b.body.len()).sum();
        let document = planner.validate(NESTED).expect("valid");
        let output = execute(&supergraph, &document, &plan_flattens, &bodies);
        eprintln!("{name}: subgraph answers {input} bytes, client response {output} bytes");
        group.throughput(Throughput::Bytes(input as u64));
        group.bench_function(name, |b| {
            b.iter(|| execute(&supergraph, &document, &plan_flattens, black_box(&bodies)))
        });
    }
    group.finish();
}

criterion_group!(benches, planning, merging);
criterion_main!(benches);
