//! End to end: the three real subgraphs (seeded SQLite, on port 0) behind the
//! gateway serving the committed `schema/supergraph.graphql`.

mod browser;
mod dashboard;
mod federation_events;
mod federation_resilience;
mod federation_speed;

use std::{path::Path, sync::Arc};

use gateway::{Gateway, GatewayConfig};
use kit::{SubgraphConfig, demo, testing::TestServer};
use notifications::Notifications;
use orders::Orders;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};
use users::Users;

struct Federation {
    url: String,
    client: reqwest::Client,
    subgraphs: Vec<(&'static str, TestServer)>,
    _gateway: Arc<Gateway>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Federation {
    async fn start(tune: impl FnOnce(&mut GatewayConfig)) -> Self {
        Self::start_with(tune, |_| {}).await
    }

    /// [`Federation::start`], with the subgraphs' configuration tuned too.
    async fn start_with(
        tune: impl FnOnce(&mut GatewayConfig),
        tune_subgraphs: impl Fn(&mut SubgraphConfig),
    ) -> Self {
        kit::install_crypto_provider();
        let seeded = |config: &mut SubgraphConfig| {
            config.seed = true;
            tune_subgraphs(config);
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let url = |name: &str| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("{name}.db")).display()
            )
        };
        let subgraphs = vec![
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
        let mut config = GatewayConfig {
            jwt: gateway::config::JwtConfig::default().or_development(),
            ..GatewayConfig::default()
        };
        for (name, server) in &subgraphs {
            config
                .subgraph_urls
                .insert((*name).to_owned(), format!("{}/graphql", server.base));
        }
        tune(&mut config);
        let sdl = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql"),
        )
        .expect("committed supergraph");
        let gateway = gateway::build(config, &sdl).expect("gateway builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(gateway::serve(listener, gateway.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            // As an admin, who may see and change every user's data.
            client: kit::testing::admin_client(),
            subgraphs,
            _gateway: gateway,
            stop: Some(stop),
            _dir: dir,
        }
    }

    async fn post(&self, body: Value, accept: &str) -> (u16, Value) {
        let response = self
            .client
            .post(&self.url)
            .header("accept", accept)
            .json(&body)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.post(
            json!({ "query": query, "variables": variables }),
            "application/json",
        )
        .await
        .1
    }

    async fn stop_subgraph(&mut self, name: &str) {
        let at = self
            .subgraphs
            .iter()
            .position(|(n, _)| *n == name)
            .expect("known subgraph");
        self.subgraphs.remove(at).1.stop().await;
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What the demo data set says users 1..=n look like across the three subgraphs.
fn expected_users(n: usize) -> Value {
    let orders = demo::orders();
    let notifications = demo::notifications();
    let edges: Vec<Value> = demo::users()
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, user)| {
            let user_id = i as i32 + 1;
            let user_orders: Vec<Value> = orders
                .iter()
                .enumerate()
                .filter(|(_, o)| o.user_id == user_id)
                .map(|(j, o)| {
                    let order_id = j as i32 + 1;
                    let total: i64 = o.items.iter().map(|it| i64::from(it.quantity) * it.unit_price_cents).sum();
                    json!({ "node": {
                        "id": order_id.to_string(),
                        "totalCents": total,
                        "status": o.status,
                        "items": o.items.iter().map(|it| json!({ "sku": it.sku, "quantity": it.quantity })).collect::<Vec<_>>(),
                        "notifications": notifications.iter().filter(|n| n.order_id == Some(order_id))
                            .map(|n| json!({ "title": n.title, "read": n.read })).collect::<Vec<_>>(),
                    }})
                })
                .collect();
            let unread = notifications.iter().filter(|n| n.user_id == user_id && !n.read).count();
            json!({ "node": {
                "id": user_id.to_string(),
                "name": user.name,
                "orders": { "edges": user_orders },
                "unreadNotificationCount": unread,
            }})
        })
        .collect();
    json!({ "users": { "edges": edges, "pageInfo": { "hasNextPage": true } } })
}

const SPANNING: &str = "query Span($n: Int) {
  users(first: $n) {
    edges { node {
      id name
      orders { edges { node { id totalCents status items { sku quantity } notifications { title read } } } }
      unreadNotificationCount
    } }
    pageInfo { hasNextPage }
  }
}";

#[tokio::test]
async fn a_query_across_users_orders_and_notifications_returns_exactly_the_demo_data() {
    let fed = Federation::start(|_| {}).await;
    let response = fed.gql(SPANNING, json!({ "n": 5 })).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert_eq!(response["data"], expected_users(5));
    // Field order is the client's.
    let text = serde_json::to_string(&response["data"]["users"]["edges"][0]["node"]).unwrap();
    let keys: Vec<usize> = [
        "\"id\"",
        "\"name\"",
        "\"orders\"",
        "\"unreadNotificationCount\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn entity_fetches_are_batched_not_one_per_user() {
    let fed = Federation::start(|_| {}).await;
    let orders = &fed.subgraphs[1].1;
    let notifications = &fed.subgraphs[2].1;
    let before = (
        orders.metric("http_requests_total", &[]).await,
        notifications.metric("http_requests_total", &[]).await,
    );
    let response = fed.gql(SPANNING, json!({ "n": 50 })).await;
    assert_eq!(response["data"], {
        let mut all = expected_users(50);
        all["users"]["pageInfo"]["hasNextPage"] = json!(false);
        all
    });
    // Requests counted include the /metrics reads themselves: one before, one after.
    let orders_requests = orders.metric("http_requests_total", &[]).await - before.0 - 1.0;
    let notification_requests =
        notifications.metric("http_requests_total", &[]).await - before.1 - 1.0;
    assert_eq!(
        orders_requests, 1.0,
        "one _entities call to orders for 50 users"
    );
    assert_eq!(
        notification_requests, 2.0,
        "one for the users' counts, one for the orders' notifications"
    );
}

#[tokio::test]
async fn aliases_fragments_typename_variables_and_introspection_work_through_the_gateway() {
    let fed = Federation::start(|_| {}).await;
    let query = r#"
      query Q($id: ID!, $withOrders: Boolean!) {
        __typename
        __type(name: "User") { name kind }
        someone: user(id: $id) { ...Basics orderCount ... on User @include(if: $withOrders) { orders(first: 1) { edges { node { __typename total: totalCents } } } } }
        nobody: user(id: "999") { name }
      }
      fragment Basics on User { __typename handle: name }"#;
    let with = fed
        .gql(query, json!({ "id": "2", "withOrders": true }))
        .await;
    assert!(with.get("errors").is_none(), "{with:#}");
    let user2_orders = demo::orders().iter().filter(|o| o.user_id == 2).count();
    assert_eq!(
        with["data"],
        json!({
            "__typename": "Query",
            "__type": { "name": "User", "kind": "OBJECT" },
            "someone": { "__typename": "User", "handle": demo::users()[1].name, "orderCount": user2_orders,
                         "orders": { "edges": [{ "node": { "__typename": "Order", "total": with["data"]["someone"]["orders"]["edges"][0]["node"]["total"] } }] } },
            "nobody": null,
        })
    );
    let without = fed
        .gql(query, json!({ "id": "2", "withOrders": false }))
        .await;
    assert!(
        without["data"]["someone"].get("orders").is_none(),
        "{without:#}"
    );
}

#[tokio::test]
async fn objects_whose_selections_are_all_skipped_are_empty_objects() {
    let fed = Federation::start(|_| {}).await;
    let query = r#"query Q($s: Boolean!) {
        users(first: 2) { edges { cursor @skip(if: true) node @include(if: false) { id } } }
        user(id: "1") { orders(first: 1) { edges { cursor @skip(if: $s) ... on OrderEdge @skip(if: $s) { node { id } } } } }
      }"#;
    let response = fed.gql(query, json!({ "s": true })).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert_eq!(
        response["data"],
        json!({
            "users": { "edges": [{}, {}] },
            "user": { "orders": { "edges": [{}] } },
        })
    );
}

#[tokio::test]
async fn mutations_run_in_order_and_the_next_read_sees_them() {
    let fed = Federation::start(|_| {}).await;
    let placed = fed
        .gql(
            r#"mutation($u: ID!) {
                first: placeOrder(input: { userId: $u, items: [{ sku: "A", name: "a", quantity: 2, unitPriceCents: 150 }] }) { id totalCents status user { name } }
                note: sendNotification(input: { userId: $u, channel: EMAIL, title: "Hello", body: "Hi" }) { id read }
              }"#,
            json!({ "u": "4" }),
        )
        .await;
    assert!(placed.get("errors").is_none(), "{placed:#}");
    assert_eq!(placed["data"]["first"]["totalCents"], 300);
    assert_eq!(
        placed["data"]["first"]["user"]["name"],
        demo::users()[3].name
    );
    let order_id = placed["data"]["first"]["id"].clone();
    let cancelled = fed
        .gql(
            "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(cancelled["data"]["cancelOrder"]["status"], "CANCELLED");
    let read = fed
        .gql(
            "query($id: ID!) { order(id: $id) { status user { id } } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(
        read["data"]["order"],
        json!({ "status": "CANCELLED", "user": { "id": "4" } })
    );
    let again = fed
        .gql(
            "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(again["errors"][0]["extensions"]["serviceName"], "orders");
    assert_eq!(again["errors"][0]["path"], json!(["cancelOrder"]));
    assert_eq!(again["data"], Value::Null);
}

#[tokio::test]
async fn subgraph_errors_get_client_paths_and_null_only_what_they_owed() {
    let fed = Federation::start(|_| {}).await;
    let response = fed
        .gql(r#"{ ok: user(id: "1") { name } bad: user(id: "2") { name orders(first: 500) { edges { cursor } } } }"#, json!({}))
        .await;
    assert_eq!(
        response["data"],
        json!({ "ok": { "name": demo::users()[0].name }, "bad": { "name": demo::users()[1].name, "orders": null } })
    );
    let error = &response["errors"][0];
    assert_eq!(error["path"], json!(["bad", "orders"]));
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["serviceName"], "orders");
}

#[tokio::test]
async fn a_subgraph_that_is_down_nulls_only_its_fields() {
    let mut fed = Federation::start(|c| c.subgraph_timeout_ms = 2_000).await;
    fed.stop_subgraph("notifications").await;
    let response = fed
        .gql(r#"{ a: user(id: "1") { name orderCount } b: user(id: "2") { name unreadNotificationCount } }"#, json!({}))
        .await;
    assert_eq!(
        response["data"]["a"],
        json!({ "name": demo::users()[0].name, "orderCount": 2 })
    );
    assert_eq!(
        response["data"]["b"],
        json!({ "name": demo::users()[1].name, "unreadNotificationCount": null }),
        "only the dead subgraph's field is nulled"
    );
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{response:#}");
    assert_eq!(errors[0]["extensions"]["code"], "SUBGRAPH_REQUEST_FAILED");
    assert_eq!(errors[0]["extensions"]["serviceName"], "notifications");
    assert_eq!(errors[0]["path"], json!(["b"]));
}

#[tokio::test]
async fn graphql_over_http_status_codes_and_content_types() {
    let fed = Federation::start(|c| {
        c.expose_query_plan = true;
        c.max_body_bytes = 16 * 1024;
    })
    .await;
    let client = &fed.client;
    // Bodies over the limit are refused before parsing.
    let huge = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(32 * 1024)) });
    let refused = client.post(&fed.url).json(&huge).send().await.unwrap();
    assert_eq!(refused.status(), 413);
    // Invalid JSON and missing query are 400 whatever the Accept header.
    let bad = client
        .post(&fed.url)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let (status, body) = fed
        .post(json!({ "variables": {} }), "application/json")
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (400, json!("BAD_REQUEST"))
    );
    // A validation error: 200 with application/json, 400 with application/graphql-response+json.
    let invalid = json!({ "query": "{ users { nope } }" });
    let (status, body) = fed.post(invalid.clone(), "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(body.get("data").is_none(), "a request error has no data");
    let response = client
        .post(&fed.url)
        .header("accept", "application/graphql-response+json")
        .json(&invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    let (_, parse) = fed
        .post(json!({ "query": "{ users(" }), "application/json")
        .await;
    assert_eq!(
        parse["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    // GET (with a header no page can add unpreflighted): queries yes, mutations 405.
    let get = client
        .get(with_query(&fed.url, "{ user(id: \"1\") { id } }"))
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.json::<Value>().await.unwrap()["data"]["user"]["id"],
        "1"
    );
    let mutation = client
        .get(with_query(
            &fed.url,
            "mutation { deleteUser(id: \"1\") { id } }",
        ))
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), 405);
    // Browsers get the playground, even with `?query=` (the page prefills
    // its editor from the URL), and it asks for plans since they are exposed.
    let page = client
        .get(with_query(&fed.url, "{ user(id: \"1\") { id } }"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<div id=\"graphiql\">") && page.contains("\"queryPlan\":true"),
        "{page}"
    );
    // The plan, when asked for and enabled.
    let planned = client
        .post(&fed.url)
        .header("x-switchyard-plan", "true")
        .json(&json!({ "query": "{ user(id: \"1\") { orderCount } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let plan = planned["extensions"]["queryPlan"]
        .as_str()
        .expect("plan text");
    assert!(
        plan.contains("Fetch(service: \"users\")") && plan.contains("Fetch(service: \"orders\")"),
        "{plan}"
    );
    // Health and readiness.
    let base = fed.url.trim_end_matches("/graphql");
    assert_eq!(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_supergraph_file_reloads_and_a_bad_one_is_rejected() {
    kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supergraph.graphql");
    let sdl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql"),
    )
    .unwrap();
    std::fs::write(&path, &sdl).unwrap();
    let gateway = gateway::build(GatewayConfig::default(), &sdl).unwrap();
    let watcher = tokio::spawn(gateway::server::watch_supergraph(
        gateway.clone(),
        path.clone(),
        std::time::Duration::from_millis(20),
    ));
    let fields = |gw: &Gateway| {
        gw.current()
            .unwrap()
            .supergraph
            .api_sdl()
            .contains("userByMail")
    };

    std::fs::write(&path, "this is not a supergraph").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        gateway.current().is_some(),
        "the old supergraph keeps serving"
    );
    assert!(!fields(&gateway));

    std::fs::write(&path, sdl.replace("userByEmail", "userByMail")).unwrap();
    let mut reloaded = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if fields(&gateway) {
            reloaded = true;
            break;
        }
    }
    watcher.abort();
    assert!(reloaded, "the new supergraph is served");
}

fn with_query(url: &str, query: &str) -> reqwest::Url {
    reqwest::Url::parse_with_params(url, &[("query", query)]).expect("valid URL")
}

#[tokio::test]
async fn progressive_override_rolls_per_request_and_caches_a_plan_per_label_set() {
    kit::install_crypto_provider();
    let sdl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("gateway/tests/fixtures/override/supergraph.graphql"),
    )
    .unwrap();
    let gateway = gateway::build(GatewayConfig::default(), &sdl).unwrap();
    let loaded = gateway.current().unwrap();
    let query = r#"{ account(id: "1") { plan } }"#;
    let mut new_owner = 0;
    for _ in 0..400 {
        let plan = loaded.plan_text(query, None).expect("plans");
        if plan.contains("b_new") {
            new_owner += 1;
        }
    }
    // `plan` moves to b_new for 25% of requests: 100 expected, 40..160 is > 6 sigma wide.
    assert!(
        (40..160).contains(&new_owner),
        "b_new owned `plan` in {new_owner} of 400 plans"
    );
}

/// Serves the test keys' JWKS (`auth/tests/keys/jwks.json`) on port 0, as an
/// identity provider would.
async fn serve_jwks() -> String {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("auth/tests/keys");
    let document: Value =
        serde_json::from_slice(&std::fs::read(keys.join("jwks.json")).expect("jwks.json"))
            .expect("JSON");
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// An RS256 token of the test identity provider.
fn idp_token(claims: Value) -> String {
    let key = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("auth/tests/keys/rsa_private.pem"),
    )
    .expect("test key");
    auth::dev::sign_pem("RS256", Some("rsa-1"), &key, &claims).expect("signs")
}

fn idp_claims(sub: &str, scope: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({ "sub": sub, "scope": scope, "iss": "https://idp.test", "aud": "switchyard", "exp": now + 600 })
}

/// Error paths and codes of a response, sorted.
fn error_codes(body: &Value) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let code = e["extensions"]["code"].as_str().unwrap_or("").to_owned();
                    (e["path"].to_string(), code)
                })
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes
}

/// Gateway and subgraphs verify RS256 tokens from a JWKS served over HTTP:
/// anonymous, the user, another user and an admin each get what they may
/// see, with the rest of the answer served; bad tokens are 401.
#[tokio::test]
async fn each_caller_sees_what_their_token_allows() {
    let jwt = gateway::config::JwtConfig {
        jwks_url: Some(serve_jwks().await),
        issuer: Some("https://idp.test".into()),
        audience: vec!["switchyard".into()],
        ..Default::default()
    };
    let (gateway_jwt, subgraph_jwt) = (jwt.clone(), jwt.clone());
    let fed = Federation::start_with(
        move |c| c.jwt = gateway_jwt,
        move |s| s.jwt = subgraph_jwt.clone(),
    )
    .await;
    let client = reqwest::Client::new();
    let ask = |token: Option<String>, query: &'static str| {
        let mut request = client.post(&fed.url).json(&json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    // `who` is public; `user` asks for what only user 2 or an admin may see.
    let query = r#"{ who: user(id: "2") { name } user(id: "2") { name email orders(first: 1) { edges { node { id } } } } }"#;
    let email = demo::users()[1].email.clone();
    let name = demo::users()[1].name.clone();

    let (status, anonymous) = ask(None, query).await;
    assert_eq!(status, 200);
    // email and orders are non-null: refusing them nulls `user`, not `who`.
    assert_eq!(
        anonymous["data"],
        json!({ "who": { "name": name }, "user": null }),
        "{anonymous:#}"
    );
    // The first refused non-null field nulls `user`; nothing below it is written.
    assert_eq!(
        error_codes(&anonymous),
        [(r#"["user","email"]"#.into(), "UNAUTHENTICATED".into())]
    );

    let (_, own) = ask(Some(idp_token(idp_claims("2", ""))), query).await;
    assert!(own.get("errors").is_none(), "{own:#}");
    assert_eq!(own["data"]["user"]["email"], email);
    assert!(
        !own["data"]["user"]["orders"]["edges"]
            .as_array()
            .expect("orders")
            .is_empty()
    );

    let (_, other) = ask(Some(idp_token(idp_claims("3", ""))), query).await;
    assert_eq!(
        other["data"],
        json!({ "who": { "name": name }, "user": null }),
        "{other:#}"
    );
    let codes = error_codes(&other);
    assert!(
        !codes.is_empty() && codes.iter().all(|(_, c)| c == "FORBIDDEN"),
        "{other:#}"
    );

    let (_, admin) = ask(Some(idp_token(idp_claims("99", "admin"))), query).await;
    assert!(admin.get("errors").is_none(), "{admin:#}");
    assert_eq!(admin["data"]["user"]["email"], email);

    // A root field for admins only: refused at the gateway, before any fetch.
    let all_orders = "{ orders(first: 1) { edges { cursor } } }";
    let (_, refused) = ask(Some(idp_token(idp_claims("3", ""))), all_orders).await;
    assert_eq!(refused["data"], Value::Null);
    assert_eq!(
        error_codes(&refused),
        [(r#"["orders"]"#.into(), "FORBIDDEN".into())]
    );
    let (_, listed) = ask(Some(idp_token(idp_claims("99", "admin"))), all_orders).await;
    assert_eq!(
        listed["data"]["orders"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{listed:#}"
    );

    // Nobody marks another user's notifications read.
    let mark = r#"mutation { markAllNotificationsRead(userId: "2") }"#;
    let (_, stranger) = ask(Some(idp_token(idp_claims("3", ""))), mark).await;
    assert_eq!(
        error_codes(&stranger),
        [(r#"["markAllNotificationsRead"]"#.into(), "FORBIDDEN".into())],
        "{stranger:#}"
    );
    let (_, nobody) = ask(None, mark).await;
    assert_eq!(
        error_codes(&nobody),
        [(
            r#"["markAllNotificationsRead"]"#.into(),
            "UNAUTHENTICATED".into()
        )]
    );
    let (_, unread) = ask(
        Some(idp_token(idp_claims("2", ""))),
        r#"{ user(id: "2") { unreadNotificationCount } }"#,
    )
    .await;
    assert!(
        unread["data"]["user"]["unreadNotificationCount"]
            .as_i64()
            .is_some_and(|n| n > 0),
        "still unread: {unread:#}"
    );

    // Bad tokens: 401 with UNAUTHENTICATED, nothing served.
    let mut expired = idp_claims("2", "admin");
    expired["exp"] = json!(1);
    let mut wrong_issuer = idp_claims("2", "admin");
    wrong_issuer["iss"] = json!("https://evil.test");
    let unsigned = {
        let good = idp_token(idp_claims("2", "admin"));
        let payload = good.split('.').nth(1).unwrap_or_default().to_owned();
        // {"alg":"none","typ":"JWT"}
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    for (case, token) in [
        ("expired", idp_token(expired)),
        ("wrong issuer", idp_token(wrong_issuer)),
        ("alg none", unsigned),
        (
            "development HS256 key, not configured here",
            auth::dev::token("2", &["admin"]),
        ),
        (
            "forged signature",
            format!("{}AAAA", idp_token(idp_claims("2", "admin"))),
        ),
        ("malformed", "not.a.token".into()),
    ] {
        let (status, body) = ask(Some(token), query).await;
        assert_eq!(status, 401, "{case}: {body:#}");
        assert!(body.get("data").is_none(), "{case}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{case}"
        );
    }

    // The users subgraph reached directly, without a token, keeps the email.
    let users = &fed
        .subgraphs
        .iter()
        .find(|(n, _)| *n == "users")
        .expect("users")
        .1;
    let direct = users
        .gql_as(None, r#"{ user(id: "2") { name email } }"#, json!({}))
        .await;
    assert_eq!(direct["data"]["user"]["email"], Value::Null, "{direct:#}");
    assert_eq!(direct["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}
