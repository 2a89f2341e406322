//! Resilience over the real subgraphs: an outage costs only the dead
//! subgraph's fields, the circuit breaker fails fast and closes when the
//! subgraph is back, queries (never mutations) are retried, load beyond
//! `max_in_flight_requests` is shed, the request timeout holds, and shutdown
//! drains requests in flight. A [`Proxy`] in front of a real subgraph fails
//! or holds its requests on demand and counts them.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{body::Bytes, extract::State, http::StatusCode, response::IntoResponse};
use futures::future::join_all;
use kit::{SubgraphConfig, demo, testing::TestServer};
use notifications::Notifications;
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
};

use super::Federation;

const ACROSS_ALL: &str = "{
  users(first: 3) { edges { node {
    id name
    orders(first: 2) { edges { node { id totalCents notifications { title } } } }
    unreadNotificationCount
  } } }
}";

impl Federation {
    fn address_of(&self, subgraph: &str) -> SocketAddr {
        let (_, server) = self
            .subgraphs
            .iter()
            .find(|(n, _)| *n == subgraph)
            .expect("running subgraph");
        server
            .base
            .trim_start_matches("http://")
            .parse()
            .expect("address")
    }

    /// Posts `query` on a task of its own: its status and body.
    fn spawn_post(&self, query: &'static str) -> tokio::task::JoinHandle<(u16, Value)> {
        let (client, url) = (self.client.clone(), self.url.clone());
        tokio::spawn(async move {
            let response = client
                .post(&url)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("answered");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON body"))
        })
    }

    /// Starts notifications again on its database, at `addr`.
    async fn restart_notifications(&mut self, addr: SocketAddr) {
        let url = format!(
            "sqlite://{}?mode=rwc",
            self._dir.path().join("notifications.db").display()
        );
        let at = move |c: &mut SubgraphConfig| c.listen = addr;
        let server = TestServer::start::<Notifications>(url, "sqlite", &at).await;
        self.subgraphs.push(("notifications", server));
    }
}

/// `users.edges[i].node` of an [`ACROSS_ALL`] answer.
fn user(response: &Value, i: usize) -> &Value {
    &response["data"]["users"]["edges"][i]["node"]
}

#[tokio::test]
async fn killing_a_subgraph_under_load_nulls_only_its_fields() {
    let mut fed = Federation::start(|c| c.subgraph_timeout_ms = 2_000).await;
    let whole = fed.gql(ACROSS_ALL, json!({})).await;
    assert!(whole.get("errors").is_none(), "{whole:#}");
    let names: Vec<String> = demo::users().into_iter().take(3).map(|u| u.name).collect();

    // Load across all three subgraphs while notifications goes away.
    let (stop, stopped) = watch::channel(false);
    let load = |mut stopped: watch::Receiver<bool>| {
        let (client, url) = (fed.client.clone(), fed.url.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !*stopped.borrow_and_update() {
                let response = client
                    .post(&url)
                    .json(&json!({ "query": ACROSS_ALL }))
                    .send()
                    .await
                    .expect("the gateway answers");
                answers.push((
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                ));
            }
            answers
        })
    };
    let workers: Vec<_> = (0..4).map(|_| load(stopped.clone())).collect();
    fed.stop_subgraph("notifications").await;
    let after = fed.gql(ACROSS_ALL, json!({})).await;
    let _ = stop.send(true);
    for (status, answer) in join_all(workers).await.into_iter().flat_map(Result::unwrap) {
        assert_eq!(status, 200, "{answer:#}");
        for i in 0..3 {
            assert_eq!(
                user(&answer, i)["name"],
                names[i],
                "users always served: {answer:#}"
            );
        }
    }

    // Users and orders as before; notifications' fields null, and said why.
    for i in 0..3 {
        let (before, now) = (user(&whole, i), user(&after, i));
        assert_eq!(now["name"], before["name"]);
        assert_eq!(now["unreadNotificationCount"], Value::Null, "{after:#}");
        let orders = now["orders"]["edges"].as_array().expect("orders served");
        assert_eq!(
            orders.len(),
            before["orders"]["edges"].as_array().unwrap().len()
        );
        for (j, order) in orders.iter().enumerate() {
            let was = &before["orders"]["edges"][j]["node"];
            assert_eq!(order["node"]["totalCents"], was["totalCents"]);
            assert_eq!(order["node"]["notifications"], Value::Null);
        }
    }
    let errors = after["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(
            error["extensions"]["serviceName"], "notifications",
            "{error}"
        );
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        assert!(
            ["SUBGRAPH_REQUEST_FAILED", "SUBGRAPH_UNAVAILABLE"].contains(&code),
            "{error}"
        );
    }
    let paths: Vec<&Value> = errors.iter().map(|e| &e["path"]).collect();
    assert!(
        paths.contains(&&json!(["users", "edges", 0, "node"])),
        "the users' fields: {paths:?}"
    );
    assert!(
        paths.contains(&&json!([
            "users", "edges", 0, "node", "orders", "edges", 0, "node"
        ])),
        "the orders' fields: {paths:?}"
    );
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_closes_when_the_subgraph_is_back() {
    let mut fed = Federation::start(|c| {
        c.subgraph_timeout_ms = 2_000;
        c.retry.max_retries = 0;
        c.breaker.consecutive_failures = 2;
        // Long enough that the checks while open run before any probe.
        c.breaker.open_ms = 3_000;
    })
    .await;
    let query = r#"{ user(id: "1") { name unreadNotificationCount } }"#;
    let addr = fed.address_of("notifications");
    fed.stop_subgraph("notifications").await;
    let (requests, state) = ([("subgraph", "notifications")], "subgraph_circuit_state");

    let mut codes = Vec::new();
    for _ in 0..3 {
        let response = fed.gql(query, json!({})).await;
        assert_eq!(response["data"]["user"]["name"], demo::users()[0].name);
        codes.push(response["errors"][0]["extensions"]["code"].clone());
    }
    assert_eq!(
        codes,
        [
            json!("SUBGRAPH_REQUEST_FAILED"),
            json!("SUBGRAPH_REQUEST_FAILED"),
            json!("SUBGRAPH_UNAVAILABLE")
        ]
    );
    let sent = fed
        .gateway_metric("subgraph_requests_total", &requests)
        .await;
    for _ in 0..3 {
        let response = fed.gql(query, json!({})).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"],
            "SUBGRAPH_UNAVAILABLE"
        );
        assert_eq!(
            response["errors"][0]["extensions"]["serviceName"],
            "notifications"
        );
    }
    let now = fed
        .gateway_metric("subgraph_requests_total", &requests)
        .await;
    assert_eq!(now, sent, "nothing sent while open");
    assert_eq!(fed.gateway_metric(state, &requests).await, 2.0, "open");

    fed.restart_notifications(addr).await;
    let mut recovered = None;
    for _ in 0..100 {
        let response = fed.gql(query, json!({})).await;
        if response.get("errors").is_none() {
            recovered = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("served again once notifications is back");
    assert!(recovered["data"]["user"]["unreadNotificationCount"].is_number());
    assert_eq!(fed.gateway_metric(state, &requests).await, 0.0, "closed");
    for to in ["open", "half_open", "closed"] {
        let transitions = fed
            .gateway_metric(
                "subgraph_circuit_transitions_total",
                &[("subgraph", "notifications"), ("to", to)],
            )
            .await;
        assert!(transitions >= 1.0, "{to}: {transitions}");
    }
}

/// A subgraph's stand-in: forwards to the real one, but can answer `503`
/// to the next requests or hold them until released; counts what it gets.
struct Proxy {
    url: String,
    target: Mutex<String>,
    requests: AtomicUsize,
    fail_next: AtomicUsize,
    /// Requests wait while this is false.
    open: watch::Sender<bool>,
    arrived: Notify,
    http: reqwest::Client,
}

impl Proxy {
    async fn start() -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = Arc::new(Self {
            url: format!("http://{}/graphql", listener.local_addr().unwrap()),
            target: Mutex::default(),
            requests: AtomicUsize::new(0),
            fail_next: AtomicUsize::new(0),
            open: watch::channel(true).0,
            arrived: Notify::new(),
            http: reqwest::Client::new(),
        });
        let app = axum::Router::new()
            .fallback(axum::routing::post(forward))
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        proxy
    }

    /// In front of `subgraph` of `config` from now on.
    fn replace(&self, config: &mut gateway::GatewayConfig, subgraph: &str) {
        let real = config.subgraph_urls[subgraph].clone();
        *self.target.lock().unwrap() = real;
        config
            .subgraph_urls
            .insert(subgraph.into(), self.url.clone());
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, body: Bytes) -> axum::response::Response {
    proxy.requests.fetch_add(1, Ordering::SeqCst);
    proxy.arrived.notify_one();
    let _ = proxy.open.subscribe().wait_for(|open| *open).await;
    let failing = proxy
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for a moment").into_response();
    }
    let target = proxy.target.lock().unwrap().clone();
    let answer = proxy
        .http
        .post(target)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the real subgraph answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let bytes = answer.bytes().await.expect("body");
    (status, [("content-type", "application/json")], bytes).into_response()
}

#[tokio::test]
async fn a_query_without_an_answer_is_retried_and_a_mutation_never() {
    let proxy = Proxy::start().await;
    let fed = Federation::start(|c| proxy.replace(c, "users")).await;
    let name = demo::users()[0].name.clone();

    proxy.fail_next.store(1, Ordering::SeqCst);
    let read = fed.gql(r#"{ user(id: "1") { name } }"#, json!({})).await;
    assert!(read.get("errors").is_none(), "{read:#}");
    assert_eq!(read["data"]["user"]["name"], name);
    assert_eq!(proxy.requests(), 2, "the first try and one retry");
    let retries = fed
        .gateway_metric("subgraph_retries_total", &[("subgraph", "users")])
        .await;
    assert_eq!(retries, 1.0);

    proxy.fail_next.store(1, Ordering::SeqCst);
    let before = proxy.requests();
    let write = fed
        .gql(
            r#"mutation { updateUser(id: "1", input: { name: "Changed" }) { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(proxy.requests() - before, 1, "a mutation is sent once");
    assert_eq!(
        write["errors"][0]["extensions"]["code"],
        "SUBGRAPH_REQUEST_FAILED"
    );
    assert_eq!(write["errors"][0]["extensions"]["serviceName"], "users");
    let again = fed.gql(r#"{ user(id: "1") { name } }"#, json!({})).await;
    assert_eq!(
        again["data"]["user"]["name"], name,
        "the mutation never ran"
    );
}

#[tokio::test]
async fn beyond_max_in_flight_requests_clients_get_503_at_once_and_slow_ones_504() {
    let proxy = Proxy::start().await;
    let fed = Federation::start(|c| {
        proxy.replace(c, "users");
        c.max_in_flight_requests = 1;
    })
    .await;
    proxy.open.send_replace(false);
    let held = fed.spawn_post(r#"{ user(id: "2") { name } }"#);
    proxy.arrived.notified().await;
    let refused = fed
        .client
        .post(&fed.url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
    proxy.open.send_replace(true);
    let (status, answer) = held.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["user"]["name"], demo::users()[1].name);
    let shed = fed.gateway_metric("gateway_requests_shed_total", &[]).await;
    assert_eq!(shed, 1.0);

    // The whole client request is bounded, whatever the subgraph timeout.
    let proxy = Proxy::start().await;
    let fed = Federation::start(|c| {
        proxy.replace(c, "users");
        c.request_timeout_ms = 300;
    })
    .await;
    proxy.open.send_replace(false);
    let (status, body) = fed
        .post(
            json!({ "query": r#"{ user(id: "1") { name } }"# }),
            "application/json",
        )
        .await;
    assert_eq!(status, 504);
    assert_eq!(body["errors"][0]["extensions"]["code"], "GATEWAY_TIMEOUT");
    proxy.open.send_replace(true);
}

#[tokio::test]
async fn shutdown_drains_requests_in_flight_and_refuses_new_ones() {
    let proxy = Proxy::start().await;
    let mut fed = Federation::start(|c| proxy.replace(c, "users")).await;
    let base = fed.url.trim_end_matches("/graphql").to_owned();
    proxy.open.send_replace(false);
    let in_flight = fed.spawn_post(r#"{ user(id: "3") { name orderCount } }"#);
    proxy.arrived.notified().await;

    // What SIGTERM does: the shutdown future `gateway::serve` was given resolves.
    let _ = fed.stop.take().expect("running").send(());
    let client = reqwest::Client::new();
    let mut ready = 0;
    for _ in 0..50 {
        ready = client
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, 503, "not ready once shutdown began");
    let (status, body) = fed
        .post(json!({ "query": "{ __typename }" }), "application/json")
        .await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (503, &json!("SHUTTING_DOWN"))
    );

    proxy.open.send_replace(true);
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{answer:#}");
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(answer["data"]["user"]["name"], demo::users()[2].name);

    // Then the server stops.
    let mut stopped = false;
    for _ in 0..100 {
        if reqwest::Client::new()
            .get(format!("{base}/health"))
            .send()
            .await
            .is_err()
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stopped, "the gateway stopped after draining");
}
