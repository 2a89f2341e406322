//! The gateway's speed features over the real subgraphs: the entity cache
//! (hot entities, private data, eviction by mutations, the purge endpoint),
//! in-flight deduplication and cross-request entity batching. Subgraph
//! request counts come from the subgraphs' own `http_requests_total`.

use std::future::Future;

use futures::future::join_all;
use gateway::config::TypeCacheConfig;
use serde_json::{Value, json};

use super::Federation;

const USER_ORDERS: &str = "query($id: ID!) { user(id: $id) { name orderCount \
                           orders(first: 50) { edges { node { id status } } } } }";

const PLACE_ORDER: &str = r#"mutation($u: ID!) { placeOrder(input: { userId: $u,
    items: [{ sku: "SKU-NEW", name: "New", quantity: 1, unitPriceCents: 100 }] }) { id user { name } } }"#;

impl Federation {
    fn base(&self) -> String {
        self.url.trim_end_matches("/graphql").to_owned()
    }

    pub(crate) async fn gateway_metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base()))
            .send()
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("metrics text");
        kit::metrics::read_series(&text, name, labels)
    }

    async fn requests_to(&self, subgraph: &str) -> f64 {
        let (_, server) = self
            .subgraphs
            .iter()
            .find(|(n, _)| *n == subgraph)
            .expect("known subgraph");
        server.metric("http_requests_total", &[]).await
    }

    /// What `during` returns, and how many requests `subgraph` got meanwhile.
    async fn counting<T>(&self, subgraph: &str, during: impl Future<Output = T>) -> (T, f64) {
        let before = self.requests_to(subgraph).await;
        let out = during.await;
        // The reading of the counter before is counted too.
        (out, self.requests_to(subgraph).await - before - 1.0)
    }

    /// As [`Federation::gql`] (an admin), identified to the entity cache by
    /// `x-client` (the private key header of these tests).
    async fn gql_as(&self, query: &str, variables: Value, client: Option<&str>) -> Value {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(client) = client {
            request = request.header("x-client", client);
        }
        request
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON body")
    }

    async fn purge(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/cache/purge", self.base()))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }
}

fn order_ids(response: &Value) -> Vec<String> {
    response["data"]["user"]["orders"]["edges"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn hot_entities_come_from_the_cache_until_a_mutation_returns_them() {
    let fed = Federation::start(|config| {
        config.entity_cache.enabled = true;
        config.entity_cache.default_ttl_secs = Some(60);
    })
    .await;
    let first = fed.gql(USER_ORDERS, json!({ "id": "1" })).await;
    assert!(first.get("errors").is_none(), "{first:#}");
    let (again, fetched) = fed
        .counting("orders", fed.gql(USER_ORDERS, json!({ "id": "1" })))
        .await;
    assert_eq!(again, first);
    assert_eq!(
        fetched, 0.0,
        "User 1's orders came from the gateway's cache"
    );
    assert_eq!(
        fed.gateway_metric("entity_cache_hits_total", &[("subgraph", "orders")])
            .await,
        1.0
    );
    // Another user is another entity.
    let (_, fetched) = fed
        .counting("orders", fed.gql(USER_ORDERS, json!({ "id": "2" })))
        .await;
    assert_eq!(fetched, 1.0);

    // The mutation returns the order and its user: both are evicted, so the
    // next read sees the new order at once.
    let placed = fed.gql(PLACE_ORDER, json!({ "u": "1" })).await;
    let new_id = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed:#}"))
        .to_owned();
    let (after, fetched) = fed
        .counting("orders", fed.gql(USER_ORDERS, json!({ "id": "1" })))
        .await;
    assert_eq!(fetched, 1.0, "evicted, so fetched again");
    assert!(
        fed.gateway_metric("entity_cache_evictions_total", &[])
            .await
            >= 2.0,
        "the order and its user"
    );
    assert!(order_ids(&after).contains(&new_id), "{after:#}");
    assert_eq!(
        after["data"]["user"]["orderCount"],
        json!(first["data"]["user"]["orderCount"].as_i64().expect("count") + 1)
    );
    assert!(
        fed.gateway_metric("entity_cache_misses_total", &[("subgraph", "orders")])
            .await
            >= 3.0
    );
}

#[tokio::test]
async fn private_entities_are_kept_per_client_and_not_without_one() {
    let fed = Federation::start(|config| {
        config.entity_cache.enabled = true;
        config.entity_cache.default_ttl_secs = Some(60);
        config.entity_cache.private_key_headers = vec!["x-client".into()];
        config.entity_cache.types.insert(
            "User".into(),
            TypeCacheConfig {
                private: true,
                ..TypeCacheConfig::default()
            },
        );
    })
    .await;
    let variables = || json!({ "id": "3" });
    let as_client = |who: Option<&'static str>| fed.gql_as(USER_ORDERS, variables(), who);
    let (alice, fetched) = fed.counting("orders", as_client(Some("alice"))).await;
    assert_eq!(fetched, 1.0);
    let (alice_again, fetched) = fed.counting("orders", as_client(Some("alice"))).await;
    assert_eq!((fetched, &alice_again), (0.0, &alice), "alice's own copy");
    let (bob, fetched) = fed.counting("orders", as_client(Some("bob"))).await;
    assert_eq!(
        (fetched, &bob),
        (1.0, &alice),
        "bob never sees alice's copy"
    );
    for _ in 0..2 {
        let (_, fetched) = fed.counting("orders", as_client(None)).await;
        assert_eq!(fetched, 1.0, "no identity: private data is not cached");
    }
}

#[tokio::test]
async fn operators_purge_the_cache_with_a_token() {
    let fed = Federation::start(|config| {
        config.entity_cache.enabled = true;
        config.entity_cache.default_ttl_secs = Some(60);
        config.entity_cache.purge_token = Some("s3cret".into());
    })
    .await;
    let warm = || fed.gql(USER_ORDERS, json!({ "id": "4" }));
    warm().await;
    let (_, fetched) = fed.counting("orders", warm()).await;
    assert_eq!(fetched, 0.0, "warm");

    for token in [None, Some("wrong")] {
        let (status, body) = fed.purge(token, json!({})).await;
        assert_eq!(status, 401, "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    let (status, body) = fed
        .purge(
            Some("s3cret"),
            json!({ "type": "User", "key": { "id": "4" } }),
        )
        .await;
    assert_eq!((status, &body["purged"]), (200, &json!(1)), "{body:#}");
    let (_, fetched) = fed.counting("orders", warm()).await;
    assert_eq!(fetched, 1.0, "purged, so fetched again");

    let (status, _) = fed.purge(Some("s3cret"), json!({ "type": "User" })).await;
    assert_eq!(status, 200);
    let (_, fetched) = fed.counting("orders", warm()).await;
    assert_eq!(fetched, 1.0);
    let (status, _) = fed.purge(Some("s3cret"), json!({})).await;
    assert_eq!(status, 200);
    let (_, fetched) = fed.counting("orders", warm()).await;
    assert_eq!(fetched, 1.0);
    let (status, body) = fed.purge(Some("s3cret"), json!({ "key": 1 })).await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (400, &json!("BAD_REQUEST"))
    );

    // Without a configured token there is no endpoint.
    let plain = Federation::start(|_| {}).await;
    let (status, _) = plain.purge(Some("anything"), json!({})).await;
    assert_eq!(status, 404);
}

/// Subgraphs made slow (their DataLoaders wait 300 ms) so that requests
/// started together are in flight together.
async fn slow_federation(tune: impl FnOnce(&mut gateway::GatewayConfig)) -> Federation {
    Federation::start_with(tune, |subgraph| subgraph.dataloader_delay_ms = 300).await
}

#[tokio::test]
async fn identical_queries_in_flight_share_one_subgraph_request() {
    let fed = slow_federation(|_| {}).await;
    let (answers, fetched) = fed
        .counting(
            "orders",
            join_all((0..8).map(|_| fed.gql(USER_ORDERS, json!({ "id": "5" })))),
        )
        .await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert!(answers[0].get("errors").is_none(), "{:#}", answers[0]);
    assert!(
        fetched < 8.0,
        "8 identical queries in flight: {fetched} requests to orders"
    );
    assert!(
        fed.gateway_metric("subgraph_requests_deduplicated_total", &[])
            .await
            >= 1.0
    );

    // Mutations never share: two identical ones are two writes.
    let ((a, b), fetched) = fed
        .counting(
            "orders",
            futures::future::join(
                fed.gql(PLACE_ORDER, json!({ "u": "5" })),
                fed.gql(PLACE_ORDER, json!({ "u": "5" })),
            ),
        )
        .await;
    assert_eq!(fetched, 2.0);
    assert_ne!(a["data"]["placeOrder"]["id"], b["data"]["placeOrder"]["id"]);

    // Turned off, every query goes out.
    let fed = slow_federation(|config| config.dedup_subgraph_requests = false).await;
    let (_, fetched) = fed
        .counting(
            "orders",
            join_all((0..4).map(|_| fed.gql(USER_ORDERS, json!({ "id": "5" })))),
        )
        .await;
    assert_eq!(fetched, 4.0);
}

#[tokio::test]
async fn entity_fetches_of_concurrent_requests_share_a_batch() {
    let fed = slow_federation(|config| config.entity_batch_window_us = 200_000).await;
    let users: Vec<String> = (1..=6).map(|u| u.to_string()).collect();
    // Alone, each user's answer is this.
    let plain = Federation::start(|_| {}).await;
    let mut expected = Vec::new();
    for id in &users {
        expected.push(plain.gql(USER_ORDERS, json!({ "id": id })).await);
    }
    let (answers, fetched) = fed
        .counting(
            "orders",
            join_all(
                users
                    .iter()
                    .map(|id| fed.gql(USER_ORDERS, json!({ "id": id }))),
            ),
        )
        .await;
    assert_eq!(answers, expected, "each client got its own user's orders");
    assert!(
        fetched < users.len() as f64,
        "{} clients' entity fetches, {fetched} requests to orders",
        users.len()
    );
    assert!(
        fed.gateway_metric("entity_fetches_batched_total", &[])
            .await
            >= 1.0
    );
}
