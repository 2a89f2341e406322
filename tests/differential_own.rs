//! Differential test on our own graph: generated read operations over
//! `schema/supergraph.graphql` (see `differential_own/queries.rs`), answered by
//! our gateway and by Apollo Gateway in front of the three real subgraphs
//! seeded on fresh SQLite files. Apollo's answers are committed in
//! `differential_own/queries.json`, so only recording needs Node.
//!
//! - `replay_fixtures` (no Node): our gateway answers every query; `data` must
//!   equal the fixture's (key order included), errors must be present in both
//!   or neither, at the same set of paths. Differences must be listed in
//!   `known_failures.txt` (our bugs) and listed ones must still differ.
//! - `live_against_reference` runs Apollo Gateway (`gateway/tests/differential/
//!   reference.mjs`) again and checks the fixture still holds its answers,
//!   except for the queries in `reference_bugs.txt` (Apollo is wrong there and
//!   the fixture holds our checked answer).
//! - `DIFFERENTIAL_RECORD=1 cargo test --test differential_own -- --nocapture`
//!   regenerates the queries and records Apollo's answers (needs `npm ci` in
//!   `gateway/tests/differential`).
//! - `DIFFERENTIAL_ONLY=<index>` runs one query, for triage;
//!   `DIFFERENTIAL_QUERY='{ ... }'` (with `DIFFERENTIAL_VARIABLES='{...}'`)
//!   prints both gateways' answers to a hand-written one instead of replaying
//!   (with our plan, and the answer of subgraph `DIFFERENTIAL_SUBGRAPH=<name>` if set).
//!
//! `createdAt` is set to "now" at seed time, so every RFC 3339 timestamp is
//! compared (and recorded) as `<DateTime>`.

#[path = "../gateway/tests/differential/harness.rs"]
mod harness;
#[path = "differential_own/queries.rs"]
mod queries;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use gateway::GatewayConfig;
use gateway::supergraph::Supergraph;
use kit::{SubgraphConfig, testing::TestServer};
use notifications::Notifications;
use orders::Orders;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};
use users::Users;

const QUERIES: usize = 320;
const SEED: u64 = 0x0b5e_55ed;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential_own")
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway/tests/differential")
}

fn supergraph_sdl() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql"))
        .expect("committed supergraph")
}

fn recording() -> bool {
    std::env::var("DIFFERENTIAL_RECORD").is_ok_and(|v| v == "1")
}

#[derive(Serialize, Deserialize, Clone)]
struct Recorded {
    query: String,
    variables: Value,
    response: Value,
}

/// The three real subgraphs, seeded, each on a fresh SQLite file.
struct Subgraphs {
    servers: Vec<(&'static str, TestServer)>,
    _dir: tempfile::TempDir,
}

impl Subgraphs {
    async fn start() -> Self {
        kit::install_crypto_provider();
        let seeded = |config: &mut SubgraphConfig| config.seed = true;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = |name: &str| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("{name}.db")).display()
            )
        };
        let servers = vec![
            (
                "users",
                TestServer::start::<Users>(url("users"), "sqlite", &seeded).await,
            ),
            (
                "orders",
                TestServer::start::<Orders>(url("orders"), "sqlite", &seeded).await,
            ),
            (
                "notifications",
                TestServer::start::<Notifications>(url("notifications"), "sqlite", &seeded).await,
            ),
        ];
        Self { servers, _dir: dir }
    }

    /// Subgraph name (as in `join__graph(name:)`) to GraphQL endpoint.
    fn urls(&self) -> BTreeMap<&'static str, String> {
        self.servers
            .iter()
            .map(|(name, server)| (*name, format!("{}/graphql", server.base)))
            .collect()
    }
}

/// Our gateway on a port 0 listener; stops when the sender drops.
async fn start_gateway(subgraphs: &Subgraphs) -> (String, oneshot::Sender<()>) {
    let mut config = GatewayConfig {
        jwt: gateway::config::JwtConfig::default().or_development(),
        ..GatewayConfig::default()
    };
    for (name, url) in subgraphs.urls() {
        config.subgraph_urls.insert(name.to_owned(), url);
    }
    let gateway = gateway::build(config, &supergraph_sdl()).expect("gateway builds");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let url = format!("http://{}/graphql", listener.local_addr().expect("address"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(gateway::serve(listener, gateway, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// `DIFFERENTIAL_ONLY=<index>`: the one query to run.
fn only() -> Option<usize> {
    std::env::var("DIFFERENTIAL_ONLY")
        .ok()
        .map(|i| i.trim().parse().expect("DIFFERENTIAL_ONLY=<index>"))
}

/// The committed queries with their indexes, narrowed by `DIFFERENTIAL_ONLY`.
fn load_fixture() -> Vec<(usize, Recorded)> {
    let path = dir().join("queries.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record with DIFFERENTIAL_RECORD=1)",
            path.display()
        )
    });
    let all: Vec<Recorded> = serde_json::from_str(&text).expect("queries.json parses");
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| only().is_none_or(|o| o == *i))
        .collect()
}

/// `<index> <reason>` lines of a list file.
fn read_list(file: &str) -> BTreeMap<usize, String> {
    std::fs::read_to_string(dir().join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, reason) = l.split_once(' ').unwrap_or((l, ""));
            let id = id
                .parse()
                .unwrap_or_else(|_| panic!("{file}: `{l}` does not start with an index"));
            (id, reason.trim().to_owned())
        })
        .collect()
}

/// `response` as compared and recorded: timestamps as `<DateTime>`, integral
/// floats as integers (JavaScript prints them without the fraction), errors
/// ordered by path then message (parallel fetches report them in any order).
fn normalized(response: &Value) -> Value {
    fn walk(v: &Value) -> Value {
        match v {
            Value::String(s) if is_timestamp(s) => json!("<DateTime>"),
            Value::Number(_) => harness::integral_float(v).unwrap_or_else(|| v.clone()),
            Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v))).collect())
            }
            other => other.clone(),
        }
    }
    let mut out = walk(response);
    if let Some(errors) = out.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(|e| {
            (
                e.get("path").map(Value::to_string),
                e.get("message").map(Value::to_string),
            )
        });
    }
    out
}

/// `2025-01-02T03:04:05...`: what async-graphql prints for a `DateTime<Utc>`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
}

/// Our gateway's answers to `queries`, in order, a few in flight at a time.
async fn run_ours(queries: &[(String, Value)]) -> Vec<Value> {
    let subgraphs = Subgraphs::start().await;
    let (url, _stop) = start_gateway(&subgraphs).await;
    // As an admin: every field of the recorded answers is theirs to see.
    let client = kit::testing::admin_client();
    futures::stream::iter(queries.iter().map(|(q, v)| post(&client, &url, q, v)))
        .buffered(4)
        .collect()
        .await
}

/// Generates the queries and records Apollo Gateway's answers; a query in
/// `reference_bugs.txt` keeps the answer committed before (ours, checked).
async fn record() {
    if let Err(reason) = node_ready() {
        panic!("record mode needs the reference: {reason}");
    }
    assert!(
        only().is_none(),
        "record mode records every query: unset DIFFERENTIAL_ONLY"
    );
    let supergraph = Supergraph::parse(&supergraph_sdl()).expect("committed supergraph parses");
    let queries: Vec<(String, Value)> = queries::generate(supergraph.api_schema(), SEED, QUERIES)
        .into_iter()
        .map(|q| (q.query, q.variables))
        .collect();
    let answers = run_reference(&queries).await;
    let old: Vec<Recorded> = std::fs::read_to_string(dir().join("queries.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let reference_bugs = read_list("reference_bugs.txt");
    let recorded: Vec<Recorded> = queries
        .into_iter()
        .zip(answers)
        .enumerate()
        .map(|(i, ((query, variables), response))| {
            let response = match old.get(i) {
                Some(kept) if reference_bugs.contains_key(&i) && kept.query == query => {
                    kept.response.clone()
                }
                _ => normalized(&response),
            };
            Recorded {
                query,
                variables,
                response,
            }
        })
        .collect();
    std::fs::create_dir_all(dir()).expect("fixture directory");
    let text = serde_json::to_string_pretty(&recorded).expect("serialize queries");
    std::fs::write(dir().join("queries.json"), text + "\n").expect("write queries.json");
    println!(
        "record: {} queries answered by Apollo Gateway",
        recorded.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_fixtures() {
    if let Ok(query) = std::env::var("DIFFERENTIAL_QUERY") {
        return triage(query).await;
    }
    if recording() {
        record().await;
    }
    let started = Instant::now();
    let fixture = load_fixture();
    assert!(!fixture.is_empty(), "no queries in queries.json");
    let known = read_list("known_failures.txt");
    let queries: Vec<(String, Value)> = fixture
        .iter()
        .map(|(_, r)| (r.query.clone(), r.variables.clone()))
        .collect();
    let answers = run_ours(&queries).await;
    let (mut agree, mut unlisted, mut stale, mut report) = (0, Vec::new(), Vec::new(), Vec::new());
    for ((i, recorded), got) in fixture.iter().zip(&answers) {
        match (difference(&recorded.response, got), known.contains_key(i)) {
            (None, false) => agree += 1,
            (None, true) => stale.push(i.to_string()),
            (Some(_), true) => {}
            (Some(why), false) => {
                report.push(
                    json!({"id": i, "query": recorded.query, "variables": recorded.variables,
                           "expected": recorded.response, "got": normalized(got)})
                    .to_string(),
                );
                unlisted.push(format!(
                    "{i}\n  query: {}\n  variables: {}\n  {why}",
                    recorded.query, recorded.variables
                ));
            }
        }
    }
    // One JSON line per unlisted difference, for triage.
    let report_path = std::env::temp_dir().join("differential-own-report.jsonl");
    let _ = std::fs::write(&report_path, report.join("\n"));
    println!(
        "agreement: {agree}/{} ({:.1}%) in {:.1?}; {} known failures, {} reference bugs",
        fixture.len(),
        100.0 * agree as f64 / fixture.len() as f64,
        started.elapsed(),
        known.len(),
        read_list("reference_bugs.txt").len(),
    );
    for u in unlisted.iter().take(10) {
        println!("UNLISTED {u}");
    }
    assert!(
        unlisted.is_empty(),
        "{} queries differ from the reference and are not in known_failures.txt (all in {})",
        unlisted.len(),
        report_path.display()
    );
    assert!(
        stale.is_empty(),
        "listed in known_failures.txt but now agree; remove them: {}",
        stale.join(" ")
    );
}

/// Both gateways' answers to one hand-written query (`DIFFERENTIAL_QUERY`).
async fn triage(query: String) {
    let variables: Value = std::env::var("DIFFERENTIAL_VARIABLES")
        .map(|v| serde_json::from_str(&v).expect("DIFFERENTIAL_VARIABLES is JSON"))
        .unwrap_or_else(|_| json!({}));
    let supergraph = Supergraph::parse(&supergraph_sdl()).expect("committed supergraph parses");
    let planner =
        gateway::planner::Planner::new(std::sync::Arc::new(supergraph)).expect("planner builds");
    match planner.plan_source(&query, None, &Default::default()) {
        Ok(plan) => println!("our plan:\n{plan}"),
        Err(e) => println!("our plan: {e}"),
    }
    let queries = [(query, variables)];
    if let Ok(name) = std::env::var("DIFFERENTIAL_SUBGRAPH") {
        let subgraphs = Subgraphs::start().await;
        let url = &subgraphs.urls()[name.as_str()];
        let (query, variables) = &queries[0];
        println!(
            "{name}: {}",
            post(&kit::testing::admin_client(), url, query, variables).await
        );
    }
    println!("ours:   {}", run_ours(&queries).await[0]);
    match node_ready() {
        Ok(()) => println!("apollo: {}", run_reference(&queries).await[0]),
        Err(reason) => println!("apollo: skipped: {reason}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_against_reference() {
    if let Err(reason) = node_ready() {
        println!("skipped: {reason}");
        return;
    }
    if recording() {
        println!("skipped: record mode writes the fixture this test would check");
        return;
    }
    let fixture = load_fixture();
    let reference_bugs = read_list("reference_bugs.txt");
    let queries: Vec<(String, Value)> = fixture
        .iter()
        .map(|(_, r)| (r.query.clone(), r.variables.clone()))
        .collect();
    let answers = run_reference(&queries).await;
    let stale: Vec<String> = fixture
        .iter()
        .zip(&answers)
        .filter(|((i, _), _)| !reference_bugs.contains_key(i))
        .filter_map(|((i, recorded), got)| {
            difference(&recorded.response, got).map(|why| format!("{i}: {why}"))
        })
        .collect();
    println!(
        "live: {} queries checked against Apollo Gateway",
        fixture.len()
    );
    assert!(
        stale.is_empty(),
        "the fixture differs from the reference:\n{}",
        stale.join("\n")
    );
}

use harness::post;

/// [`harness::difference`] on the normalized answers.
fn difference(expected: &Value, actual: &Value) -> Option<String> {
    harness::difference(&normalized(expected), &normalized(actual))
}

fn node_ready() -> Result<(), String> {
    harness::node_ready(&reference_dir())
}

/// Apollo Gateway's answers to `queries`, in order, in front of fresh seeded
/// subgraphs (the supergraph's URLs replaced by theirs).
async fn run_reference(queries: &[(String, Value)]) -> Vec<Value> {
    let subgraphs = Subgraphs::start().await;
    harness::run_reference(
        &reference_dir(),
        &supergraph_sdl(),
        json!(subgraphs.urls()),
        queries,
    )
    .await
}
