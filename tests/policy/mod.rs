//! Issue 13's traffic policy, end to end: the gateway on 127.0.0.1:0 in front
//! of one small subgraph whose received requests are counted, so a refused
//! request is shown to have cost the subgraphs nothing. Limits, what browsers
//! may do (CORS, CSRF), rate limits.

mod browser;
mod limits;
mod persisted;
mod rate_limit;

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use gateway::{
    GatewayConfig,
    supergraph::compose::{SubgraphInput, compose},
};
use serde_json::Value;

use crate::{Federation, exported_sdl, subgraph};

struct Query;

#[Object]
impl Query {
    async fn node(&self) -> Node {
        Node(1)
    }
}

struct Node(i32);

#[Object]
impl Node {
    async fn id(&self) -> i32 {
        self.0
    }

    async fn child(&self) -> Node {
        Node(self.0 + 1)
    }
}

/// The gateway, configured by `configure`, in front of subgraph `nodes`.
pub async fn start(configure: impl FnOnce(&mut GatewayConfig)) -> Federation {
    start_with(configure, |app| app).await
}

/// [`start`], with the test's own layers around the gateway's routes.
pub async fn start_with(
    configure: impl FnOnce(&mut GatewayConfig),
    wrap: impl FnOnce(axum::Router) -> axum::Router,
) -> Federation {
    // async-graphql refuses nesting past 32 itself; the gateway's limit is what is tested.
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .limit_recursive_depth(256)
        .finish();
    let supergraph = compose(&[SubgraphInput {
        name: "nodes".into(),
        url: "http://nodes.invalid/graphql".into(),
        sdl: exported_sdl(&schema),
    }])
    .expect("composes");
    let mut config = GatewayConfig::default();
    configure(&mut config);
    Federation::start_wrapped(config, &supergraph, vec![("nodes", subgraph(schema))], wrap).await
}

/// Status and JSON body of a POST of `body` (sent as is).
pub async fn post(federation: &Federation, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = federation
        .client
        .post(&federation.url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the client gets a response");
    let status = response.status().as_u16();
    let text = response.text().await.expect("the whole body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: a JSON body, not {text:?}: {e}"));
    (status, body)
}

/// Status, `extensions.code` of the first error (if any) and the JSON body
/// of the answer to `request`.
pub async fn sent(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    let code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned);
    (status, code, body)
}
