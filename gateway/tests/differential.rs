//! Differential tests: our gateway against Apollo Gateway's recorded answers
//! on generated supergraphs and queries (see `differential/gen.rs` for the
//! subgraph patterns, `differential/mock.rs` for the data rules and
//! `differential/queries.rs` for the operations).
//!
//! - `replay_fixtures` needs no Node: it serves each committed case's
//!   subgraphs with the mock, runs every query through our gateway and
//!   compares with `cases/NN/queries.json`. Differences must be listed in
//!   `known_failures.txt`, and listed ones must still differ.
//! - `live_against_reference` runs Apollo Gateway (`reference.mjs`) on the
//!   same mocks and checks the fixtures still hold its answers.
//! - `DIFFERENTIAL_UPDATE_KNOWN=1 cargo test -p gateway --test differential replay_fixtures`
//!   drops listed queries that agree now (after a fix) and appends new
//!   differences as `UNTRIAGED`.
//! - `DIFFERENTIAL_RECORD=1 cargo test -p gateway --test differential -- --nocapture`
//!   regenerates the cases (needs `npm ci` in `gateway/tests/differential`);
//!   with `DIFFERENTIAL_ONLY=p_*` (or `<case>,<case>`) only those, leaving the
//!   others as they are. Answers that differ from the committed ones only in
//!   the order of their errors, and the queries in `reference_bugs.txt`, keep
//!   the committed text.
//! - `DIFFERENTIAL_ONLY=<case>/<index> DIFFERENTIAL_LOG=1`: one query, with
//!   every subgraph request and answer printed, for triage.
//!
//! Cases `00`..`35` are generated (`gen.rs`); cases `p_<fixture>` are the
//! hand-written federation-pattern fixtures of `tests/fixtures/` (see
//! `PATTERNS`), run on the fixture's own schemas: their planner-test
//! operations, then generated ones. A case's
//! optional `root_seed.txt` changes the mocks' root seed (so that root lists
//! without arguments are not empty).

#[path = "differential/harness.rs"]
mod harness;
#[path = "differential/mock.rs"]
mod mock;
#[path = "differential/queries.rs"]
mod queries;
#[path = "differential/gen.rs"]
mod supergraphs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use futures::future::join_all;
use gateway::GatewayConfig;
use gateway::supergraph::Supergraph;
use gateway::supergraph::compose::{SubgraphInput, compose};
use harness::post;
use mock::MockServer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Supergraphs generated in record mode, and queries per supergraph.
const CASES: usize = 36;
const QUERIES_PER_CASE: usize = 100;
/// Seeds of the generated sets are `SEED_BASE + case`, then `+ 1000 * k`
/// after `k` sets that did not compose.
const SEED_BASE: u64 = 0x5eed_0000;

/// The hand-written federation-pattern fixtures (`tests/fixtures/<name>`,
/// planned in `tests/planner.rs`), recorded as cases `p_<name>`: the
/// operations of their planner tests (with variables), then
/// `PATTERN_QUERIES` generated ones from seed `PATTERN_SEED_BASE + position`.
const PATTERNS: &[(&str, &[(&str, &str)])] = &[
    (
        "parent_entity",
        &[
            (
                r#"{ products { name details { weight color origin { country port } } variants { size stock } } }"#,
                "{}",
            ),
            (
                r#"{ products { seller { name rating profile { bio avatar } } } }"#,
                "{}",
            ),
            (
                r#"query($c: Boolean!) { products { d: details @include(if: $c) { w: weight color } } }"#,
                r#"{"c": true}"#,
            ),
            (
                r#"query($c: Boolean!) { products { d: details @include(if: $c) { w: weight color } } }"#,
                r#"{"c": false}"#,
            ),
        ],
    ),
    (
        "shared_root",
        &[
            (
                r#"{ config { theme locale limits { pageSize maxUpload } } }"#,
                "{}",
            ),
            (r#"{ featured { name price stock rating } }"#, "{}"),
            (
                r#"{ featured { name price } config { theme locale } }"#,
                "{}",
            ),
        ],
    ),
    (
        "requires_advanced",
        &[
            (
                r#"{ products { p: price(currency: "GBP") price: price(currency: "JPY") eurTax finalPrice } }"#,
                "{}",
            ),
            (r#"{ products { mediaCost tagScore } }"#, "{}"),
            (r#"{ products { sellerLabel seller { score } } }"#, "{}"),
        ],
    ),
    (
        "requires_cycle",
        &[
            (r#"{ things { peak base } }"#, "{}"),
            (r#"{ things { peak middle top } }"#, "{}"),
        ],
    ),
    (
        "interface_object_advanced",
        &[
            (
                r#"{ accounts { id balance statement ... on Personal { birthday } } }"#,
                "{}",
            ),
            (
                r#"{ richest { __typename id owner balance ... on Business { vat } } }"#,
                "{}",
            ),
            (r#"{ events { account { id owner balance } } }"#, "{}"),
            (
                r#"{ accounts { ... on Personal { balance birthday statement } ... on Business { balance } } }"#,
                "{}",
            ),
            (r#"{ richest { ... on Business { vat } } }"#, "{}"),
        ],
    ),
    (
        "abstract_advanced",
        &[
            (
                r#"{ search { __typename ... on Book { title price } ... on Pen { ink label color } } deals { ... on Book { title } ... on Mug { volume } } }"#,
                "{}",
            ),
            (r#"{ items { id label ... on Book { price } } }"#, "{}"),
        ],
    ),
    (
        "robust_shapes",
        &[
            // Not `shared_node_interface_with_types_in_some_subgraphs`: see
            // `PATTERN_EXCLUDED_ROOTS`.
            (
                r#"{ users { name favourite { owner { favourite { title owner { name } } } } } }"#,
                "{}",
            ),
        ],
    ),
];
const PATTERN_QUERIES: usize = 100;
/// Root fields whose answer legitimately depends on the subgraph a gateway
/// picks: generated operations selecting them are left out of the case.
/// `robust_shapes`' `@shareable` `node(id:)` returns `Node` in two subgraphs
/// that each know one implementation (a_people: User, b_things: Product), so
/// the same id is a User through one and a Product through the other; Apollo
/// Gateway asks a_people, we ask b_things, and both are valid plans.
const PATTERN_EXCLUDED_ROOTS: &[(&str, &str)] = &[("robust_shapes", "node")];
const PATTERN_SEED_BASE: u64 = 0x9a77_0000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

fn placeholder_url(name: &str) -> String {
    format!("http://{name}.invalid/graphql")
}

#[derive(Serialize, Deserialize, Clone)]
struct Recorded {
    query: String,
    variables: Value,
    response: Value,
}

struct Case {
    name: String,
    subgraphs: Vec<(String, String)>,
    /// The mocks' root seed: `root_seed.txt` in the case, or the default.
    root_seed: String,
    supergraph: String,
    queries: Vec<Recorded>,
}

/// `DIFFERENTIAL_ONLY`: comma-separated case names (`p_*` for a prefix), or
/// `<case>/<index>` for one query (for triage: with `DIFFERENTIAL_LOG=1` the
/// mocks print every request both gateways send). Replay, live and record
/// mode all see only these cases.
struct Only {
    cases: Vec<String>,
    index: Option<usize>,
}

fn only() -> Option<Only> {
    let only = std::env::var("DIFFERENTIAL_ONLY").ok()?;
    if let Some((case, index)) = only.split_once('/') {
        let index = index.parse().expect("DIFFERENTIAL_ONLY=<case>/<index>");
        return Some(Only {
            cases: vec![case.to_owned()],
            index: Some(index),
        });
    }
    Some(Only {
        cases: only.split(',').map(|c| c.trim().to_owned()).collect(),
        index: None,
    })
}

/// Whether `DIFFERENTIAL_ONLY` (if set) selects the case `name`.
fn selected(name: &str) -> bool {
    only().is_none_or(|only| {
        only.cases.iter().any(|c| match c.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == c,
        })
    })
}

fn load_cases() -> Vec<Case> {
    let root = dir().join("cases");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.retain(|n| selected(n));
    let index = only().and_then(|o| o.index);
    names
        .into_iter()
        .map(|name| {
            let case_dir = root.join(&name);
            let read = |file: &str| {
                std::fs::read_to_string(case_dir.join(file))
                    .unwrap_or_else(|e| panic!("{}/{file}: {e}", case_dir.display()))
            };
            let (subgraphs, supergraph) = read_schemas(&schema_dir(&name));
            let mut queries: Vec<_> =
                serde_json::from_str(&read("queries.json")).expect("queries.json parses");
            if let Some(index) = index {
                queries = queries.into_iter().skip(index).take(1).collect();
            }
            let root_seed = std::fs::read_to_string(case_dir.join("root_seed.txt")).map_or_else(
                |_| mock::DEFAULT_ROOT_SEED.to_owned(),
                |s| s.trim().to_owned(),
            );
            Case {
                name,
                subgraphs,
                root_seed,
                supergraph,
                queries,
            }
        })
        .collect()
}

/// Where a case's schemas are: a pattern case `p_<fixture>` runs the
/// fixture's own files (the planner tests' source of truth), a generated
/// case its recorded ones.
fn schema_dir(case: &str) -> PathBuf {
    match case.strip_prefix("p_") {
        Some(fixture) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture),
        None => dir().join("cases").join(case),
    }
}

/// Every `<subgraph>.graphql` in `dir` (`alpha`..`delta` in generated
/// cases, the fixture's names in pattern cases), and `supergraph.graphql`.
fn read_schemas(dir: &Path) -> (Vec<(String, String)>, String) {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
    };
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".graphql") && f != "supergraph.graphql")
        .collect();
    files.sort();
    let subgraphs = files
        .iter()
        .map(|f| (f.trim_end_matches(".graphql").to_owned(), read(f)))
        .collect();
    (subgraphs, read("supergraph.graphql"))
}

/// `<case>/<index> <reason>` lines of a list file.
fn read_list(file: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir().join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(' ') {
            Some((id, reason)) => (id.to_owned(), reason.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

async fn start_mocks(subgraphs: &[(String, String)], root_seed: &str) -> Vec<MockServer> {
    let mut servers = Vec::new();
    for (name, sdl) in subgraphs {
        servers.push(
            MockServer::start(name, sdl, root_seed)
                .await
                .unwrap_or_else(|e| panic!("mock subgraph {name}: {e}")),
        );
    }
    servers
}

/// Our gateway on a port 0 listener, routed to `mocks`; stops when the sender drops.
async fn start_gateway(supergraph: &str, mocks: &[MockServer]) -> (String, oneshot::Sender<()>) {
    let mut config = GatewayConfig::default();
    for m in mocks {
        config.subgraph_urls.insert(m.name.clone(), m.url.clone());
    }
    let gateway = gateway::build(config, supergraph).expect("gateway builds");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let url = format!(
        "http://{}/graphql",
        listener.local_addr().expect("gateway address")
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(gateway::serve(listener, gateway, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Our answers to every query of `case`, in order.
async fn run_case_ours(case: &Case) -> Vec<Value> {
    let mocks = start_mocks(&case.subgraphs, &case.root_seed).await;
    let (url, _stop) = start_gateway(&case.supergraph, &mocks).await;
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for q in &case.queries {
        out.push(post(&client, &url, &q.query, &q.variables).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_fixtures() {
    install_crypto();
    if std::env::var("DIFFERENTIAL_RECORD").is_ok_and(|v| v == "1") {
        record().await;
    }
    let started = Instant::now();
    let cases = load_cases();
    assert!(
        !cases.is_empty(),
        "no cases under {}",
        dir().join("cases").display()
    );
    let known = read_list("known_failures.txt");
    let answers = join_all(cases.iter().map(run_case_ours)).await;
    let (mut total, mut agree) = (0, 0);
    let mut unlisted = Vec::new();
    let mut stale = Vec::new();
    let mut report = Vec::new();
    for (case, answers) in cases.iter().zip(answers) {
        for (i, (q, got)) in case.queries.iter().zip(answers).enumerate() {
            total += 1;
            let id = format!("{}/{i}", case.name);
            match (difference(&q.response, &got), known.contains_key(&id)) {
                (None, false) => agree += 1,
                (None, true) => {
                    agree += 1;
                    stale.push(id);
                }
                (Some(_), true) => {}
                (Some(why), false) => {
                    report.push(json!({"id": id, "query": q.query, "variables": q.variables, "expected": q.response, "got": got}).to_string());
                    unlisted.push(format!(
                        "{id}\n  query: {}\n  variables: {}\n  {why}",
                        q.query, q.variables
                    ));
                }
            }
        }
    }
    // One JSON line per unlisted difference, for triage.
    let report_path = std::env::temp_dir().join("differential-report.jsonl");
    let _ = std::fs::write(&report_path, report.join("\n"));
    let report_lines = report;
    let report = report_path.clone();
    println!(
        "agreement: {agree}/{total} ({:.1}%) over {} supergraphs in {:.1?}; {} known failures",
        100.0 * agree as f64 / total.max(1) as f64,
        cases.len(),
        started.elapsed(),
        known.len()
    );
    if std::env::var("DIFFERENTIAL_UPDATE_KNOWN").is_ok_and(|v| v == "1") {
        update_known(&stale, &report_lines);
        return;
    }
    for u in unlisted.iter().take(10) {
        println!("UNLISTED {u}");
    }
    assert!(
        unlisted.is_empty(),
        "{} queries differ from the reference and are not in known_failures.txt (all in {})",
        unlisted.len(),
        report.display()
    );
    assert!(
        stale.is_empty(),
        "listed in known_failures.txt but now agree; remove them: {}",
        stale.join(" ")
    );
}

/// `DIFFERENTIAL_UPDATE_KNOWN=1`: drops the listed queries that agree now and
/// appends the new differences as `UNTRIAGED` (to be given a reason by hand).
fn update_known(stale: &[String], report: &[String]) {
    let path = dir().join("known_failures.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| {
            !stale
                .iter()
                .any(|id| l.split(' ').next() == Some(id.as_str()))
        })
        .map(str::to_owned)
        .collect();
    for entry in report {
        let entry: Value = serde_json::from_str(entry).unwrap_or(Value::Null);
        let id = entry["id"].as_str().unwrap_or("?");
        let first_error = entry["got"]["errors"][0]["message"]
            .as_str()
            .unwrap_or("data differs");
        let first_line = first_error.lines().next().unwrap_or("");
        lines.push(format!("{id} UNTRIAGED: {first_line}"));
    }
    let _ = std::fs::write(&path, lines.join("\n") + "\n");
    println!(
        "known_failures.txt: {} dropped, {} added as UNTRIAGED",
        stale.len(),
        report.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_against_reference() {
    if let Err(reason) = node_ready() {
        println!("skipped: {reason}");
        return;
    }
    if std::env::var("DIFFERENTIAL_RECORD").is_ok_and(|v| v == "1") {
        println!("skipped: record mode writes the fixtures this test would check");
        return;
    }
    install_crypto();
    let reference_bugs = read_list("reference_bugs.txt");
    let reference_bugs = &reference_bugs;
    let cases = load_cases();
    let checks = cases.iter().map(|case| async move {
        let mocks = start_mocks(&case.subgraphs, &case.root_seed).await;
        let queries: Vec<(String, Value)> = case
            .queries
            .iter()
            .map(|q| (q.query.clone(), q.variables.clone()))
            .collect();
        let answers = run_reference(&case.supergraph, &mocks, &queries).await;
        let mut out = Vec::new();
        for (i, (q, got)) in case.queries.iter().zip(answers).enumerate() {
            let id = format!("{}/{i}", case.name);
            if reference_bugs.contains_key(&id) {
                continue;
            }
            if let Some(why) = difference(&q.response, &got) {
                out.push(format!("{id}: {why}"));
            }
        }
        out
    });
    // Two Node processes at a time: the machine has two cores.
    let stale: Vec<String> = futures::stream::iter(checks)
        .buffered(2)
        .collect::<Vec<_>>()
        .await
        .concat();
    println!("live: {} cases checked against Apollo Gateway", cases.len());
    assert!(
        stale.is_empty(),
        "fixtures differ from the reference:\n{}",
        stale.join("\n")
    );
}

/// `response` with its errors ordered by path then message: parallel fetches
/// report them in any order, and the fixtures should not churn.
fn sorted_errors(mut response: Value) -> Value {
    if let Some(errors) = response.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(|e| {
            (
                e.get("path").map(Value::to_string),
                e.get("message").map(Value::to_string),
            )
        });
    }
    response
}

/// Whether `a` and `b` are the same text once their errors are sorted.
fn equal_but_for_error_order(a: &Value, b: &Value) -> bool {
    let a = sorted_errors(a.clone()).to_string();
    let b = sorted_errors(b.clone()).to_string();
    a == b
}

/// One case to record: its subgraphs, supergraph and operations.
struct Job {
    name: String,
    subgraphs: Vec<(String, String)>,
    supergraph: String,
    root_seed: String,
    queries: Vec<(String, Value)>,
    /// The first line of `patterns.txt`.
    note: String,
}

/// The generated case `case`, or `None` when `DIFFERENTIAL_ONLY` leaves it out.
fn generated_job(case: usize, dropped: &mut usize) -> Option<Job> {
    let name = format!("{case:02}");
    if !selected(&name) {
        return None;
    }
    let mut attempt = 0u64;
    loop {
        let seed = SEED_BASE + case as u64 + 1000 * attempt;
        attempt += 1;
        let set = supergraphs::generate(seed, case);
        let inputs: Vec<SubgraphInput> = set
            .subgraphs
            .iter()
            .map(|(name, sdl)| SubgraphInput {
                name: name.clone(),
                url: placeholder_url(name),
                sdl: sdl.clone(),
            })
            .collect();
        let bad_sdl = set.subgraphs.iter().find_map(|(name, sdl)| {
            mock::MockSchema::new(sdl)
                .err()
                .map(|e| format!("{name}: {e}"))
        });
        let supergraph = match (bad_sdl, compose(&inputs)) {
            (None, Ok(s)) => s,
            (bad, result) => {
                *dropped += 1;
                println!(
                    "record: seed {seed:#x} ({}) dropped: {}",
                    set.patterns.join(", "),
                    bad.unwrap_or_else(|| result.err().map(|e| e.to_string()).unwrap_or_default())
                );
                assert!(attempt < 50, "case {case}: nothing composes");
                continue;
            }
        };
        let parsed = Supergraph::parse(&supergraph).unwrap_or_else(|e| panic!("case {name}: {e}"));
        let queries = queries::generate(parsed.api_schema(), seed, QUERIES_PER_CASE)
            .into_iter()
            .map(|q| (q.query, q.variables))
            .collect();
        return Some(Job {
            name,
            subgraphs: set.subgraphs,
            supergraph,
            root_seed: mock::DEFAULT_ROOT_SEED.to_owned(),
            queries,
            note: format!("seed {seed:#x}: {}", set.patterns.join(", ")),
        });
    }
}

/// The pattern case of `PATTERNS[position]`, or `None` when
/// `DIFFERENTIAL_ONLY` leaves it out.
fn pattern_job(position: usize) -> Option<Job> {
    let (fixture, operations) = PATTERNS[position];
    let name = format!("p_{fixture}");
    if !selected(&name) {
        return None;
    }
    // The committed composition (fixtures/compose.mjs), as the planner tests use it.
    let (subgraphs, supergraph) = read_schemas(&schema_dir(&name));
    for (sub, sdl) in &subgraphs {
        if let Err(e) = mock::MockSchema::new(sdl) {
            panic!("{name}: the mock cannot serve {sub}: {e}");
        }
    }
    let parsed = Supergraph::parse(&supergraph).unwrap_or_else(|e| panic!("{name}: {e}"));
    let seed = PATTERN_SEED_BASE + position as u64;
    let mut queries: Vec<(String, Value)> = operations
        .iter()
        .map(|(query, variables)| {
            (
                (*query).to_owned(),
                serde_json::from_str(variables).expect("pattern variables are JSON"),
            )
        })
        .collect();
    let excluded: Vec<&str> = PATTERN_EXCLUDED_ROOTS
        .iter()
        .filter(|(f, _)| *f == fixture)
        .map(|(_, root)| *root)
        .collect();
    let selects_excluded = |query: &str| {
        let document =
            apollo_compiler::ExecutableDocument::parse(parsed.api_schema(), query, "q.graphql")
                .expect("generated operations parse");
        document.operations.iter().any(|op| {
            op.selection_set.selections.iter().any(|s| {
                matches!(s, apollo_compiler::executable::Selection::Field(f) if excluded.contains(&f.name.as_str()))
            })
        })
    };
    // The generator's first operations do not depend on the count asked.
    queries.extend(
        queries::generate(parsed.api_schema(), seed, 4 * PATTERN_QUERIES)
            .into_iter()
            .filter(|q| !selects_excluded(&q.query))
            .take(PATTERN_QUERIES)
            .map(|q| (q.query, q.variables)),
    );
    let root_seed = root_seed_with_lists(&subgraphs, parsed.api_schema());
    Some(Job {
        name,
        subgraphs,
        supergraph,
        root_seed,
        queries,
        note: format!(
            "fixture {fixture}, seed {seed:#x}: {} planner-test operations, then {PATTERN_QUERIES} generated",
            operations.len()
        ),
    })
}

/// The first of `root`, `root1`, `root2`, ... under which every root list
/// field without required arguments has at least two items in every subgraph
/// that serves it: the fixtures' root lists take no arguments, so under one
/// unlucky seed every query would see the same empty list.
fn root_seed_with_lists(
    subgraphs: &[(String, String)],
    api: &apollo_compiler::validation::Valid<apollo_compiler::Schema>,
) -> String {
    let lists: Vec<String> = match api.types.get("Query") {
        Some(apollo_compiler::schema::ExtendedType::Object(q)) => q
            .fields
            .values()
            .filter(|f| f.ty.is_list())
            .filter(|f| {
                f.arguments
                    .iter()
                    .all(|a| !a.ty.is_non_null() || a.default_value.is_some())
            })
            .map(|f| f.name.to_string())
            .collect(),
        _ => Vec::new(),
    };
    for attempt in 0..100 {
        let seed = match attempt {
            0 => mock::DEFAULT_ROOT_SEED.to_owned(),
            n => format!("{}{n}", mock::DEFAULT_ROOT_SEED),
        };
        let all_long = subgraphs.iter().all(|(name, sdl)| {
            let m = mock::MockSchema::new(sdl)
                .unwrap_or_else(|e| panic!("mock subgraph {name}: {e}"))
                .with_root_seed(&seed);
            lists.iter().all(|field| {
                let query = format!("{{ {field} {{ __typename }} }}");
                // A subgraph without the field answers a validation error.
                match m
                    .execute(&json!({ "query": query }))
                    .pointer(&format!("/data/{field}"))
                {
                    Some(Value::Array(items)) => items.len() >= 2,
                    Some(_) => false,
                    None => true,
                }
            })
        });
        if all_long {
            return seed;
        }
    }
    panic!("no root seed gives every root list two items");
}

/// Records the cases `DIFFERENTIAL_ONLY` selects (all when unset) from the
/// generator or the pattern fixtures and Apollo Gateway's answers; the other
/// cases stay as they are.
async fn record() {
    if let Err(reason) = node_ready() {
        panic!("record mode needs the reference: {reason}");
    }
    if only().is_some_and(|o| o.index.is_some()) {
        panic!("record mode records whole cases: DIFFERENTIAL_ONLY=<case>[,<case>...]");
    }
    let reference_bugs = read_list("reference_bugs.txt");
    let old: BTreeMap<String, Vec<Recorded>> = load_cases()
        .into_iter()
        .map(|c| (c.name, c.queries))
        .collect();
    let root = dir().join("cases");
    if only().is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    let mut dropped = 0;
    let mut jobs: Vec<Job> = (0..CASES)
        .filter_map(|case| generated_job(case, &mut dropped))
        .collect();
    jobs.extend((0..PATTERNS.len()).filter_map(pattern_job));
    let runs = jobs.iter().map(|job| {
        let root = root.clone();
        let old = old.get(&job.name).cloned().unwrap_or_default();
        let reference_bugs = &reference_bugs;
        async move {
            let name = &job.name;
            let mocks = start_mocks(&job.subgraphs, &job.root_seed).await;
            let answers = run_reference(&job.supergraph, &mocks, &job.queries).await;
            let case_dir = root.join(name);
            let _ = std::fs::remove_dir_all(&case_dir);
            std::fs::create_dir_all(&case_dir).expect("case directory");
            // Pattern cases read their schemas from the fixture.
            if schema_dir(name) == case_dir {
                for (sub, sdl) in &job.subgraphs {
                    std::fs::write(case_dir.join(format!("{sub}.graphql")), sdl)
                        .expect("write subgraph");
                }
                std::fs::write(case_dir.join("supergraph.graphql"), &job.supergraph)
                    .expect("write supergraph");
            }
            std::fs::write(case_dir.join("patterns.txt"), format!("{}\n", job.note))
                .expect("write patterns");
            if job.root_seed != mock::DEFAULT_ROOT_SEED {
                std::fs::write(
                    case_dir.join("root_seed.txt"),
                    format!("{}\n", job.root_seed),
                )
                .expect("write root seed");
            }
            let recorded: Vec<Recorded> = job
                .queries
                .iter()
                .cloned()
                .zip(answers)
                .enumerate()
                .map(|(i, ((query, variables), response))| {
                    // A reference bug keeps the hand-checked answer committed
                    // before, and an answer equal to the committed one but for
                    // the order of its errors keeps the committed text (cases
                    // recorded before errors were sorted do not churn).
                    let response = match old.get(i) {
                        Some(kept)
                            if kept.query == query
                                && (reference_bugs.contains_key(&format!("{name}/{i}"))
                                    || equal_but_for_error_order(&kept.response, &response)) =>
                        {
                            kept.response.clone()
                        }
                        _ => sorted_errors(response),
                    };
                    Recorded {
                        query,
                        variables,
                        response,
                    }
                })
                .collect();
            let text = serde_json::to_string_pretty(&recorded).expect("serialize queries");
            std::fs::write(case_dir.join("queries.json"), text + "\n").expect("write queries");
        }
    });
    // Two Node processes at a time: the machine has two cores.
    futures::stream::iter(runs)
        .buffered(2)
        .collect::<Vec<()>>()
        .await;
    println!(
        "record: {} cases, {dropped} generated sets dropped (did not compose)",
        jobs.len()
    );
}

/// [`harness::difference`] after reading integral floats as integers.
fn difference(expected: &Value, actual: &Value) -> Option<String> {
    harness::difference(&integral_floats(expected), &integral_floats(actual))
}

fn integral_floats(v: &Value) -> Value {
    if let Some(n) = harness::integral_float(v) {
        return n;
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(integral_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), integral_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn node_ready() -> Result<(), String> {
    harness::node_ready(&dir())
}

/// Apollo Gateway's answers to `queries` on the running `mocks`.
async fn run_reference(
    supergraph: &str,
    mocks: &[MockServer],
    queries: &[(String, Value)],
) -> Vec<Value> {
    let urls: BTreeMap<&str, &str> = mocks
        .iter()
        .map(|m| (m.name.as_str(), m.url.as_str()))
        .collect();
    harness::run_reference(&dir(), supergraph, json!(urls), queries).await
}
