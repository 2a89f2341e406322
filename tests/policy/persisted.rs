//! Persisted documents: APQ (register by hash and document, then the hash
//! alone, over POST and GET, in memory and in a shared Redis), trusted
//! documents from a manifest by `documentId` or hash, and only-persisted mode.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    rate_limit::{test_redis, unique_prefix},
    sent, start,
};
use crate::Federation;

const QUERY: &str = "{ node { id } }";

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// Status, first error code and body of a POST of `body`.
async fn post(federation: &Federation, body: Value) -> (u16, Option<String>, Value) {
    sent(federation.client.post(&federation.url).json(&body)).await
}

/// The same for a GET with `params` (and a header that marks it preflighted).
async fn get(federation: &Federation, params: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let url = reqwest::Url::parse_with_params(&federation.url, params).expect("URL");
    sent(
        federation
            .client
            .get(url)
            .header("apollo-require-preflight", "1"),
    )
    .await
}

fn served((status, code, body): (u16, Option<String>, Value)) {
    assert_eq!((status, code), (200, None), "{body}");
    assert_eq!(body["data"]["node"]["id"], 1, "{body}");
}

fn refused((status, code, body): (u16, Option<String>, Value), want_status: u16, want_code: &str) {
    assert_eq!(
        (status, code.as_deref()),
        (want_status, Some(want_code)),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn apq_registers_a_document_by_its_hash_then_serves_the_hash_alone() {
    let federation = start(|_| {}).await;
    let hash = sha256(QUERY);
    // Unknown hash, no document: the client is told to send it.
    let (status, code, body) = post(&federation, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(
        (status, code.as_deref()),
        (200, Some("PERSISTED_QUERY_NOT_FOUND")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert!(federation.received("nodes").is_empty());

    served(
        post(
            &federation,
            json!({ "query": QUERY, "extensions": apq(&hash) }),
        )
        .await,
    );
    served(post(&federation, json!({ "extensions": apq(&hash) })).await);

    // GET with the hash alone (a header marks it as no cross-site request).
    let extensions = apq(&hash).to_string();
    served(get(&federation, &[("extensions", &extensions)]).await);

    // A document that is not the hash's is refused and not registered.
    let other = "{ node { child { id } } }";
    refused(
        post(
            &federation,
            json!({ "query": other, "extensions": apq(&hash) }),
        )
        .await,
        400,
        "PERSISTED_QUERY_HASH_MISMATCH",
    );
    let (_, code, _) = post(&federation, json!({ "extensions": apq(&sha256(other)) })).await;
    assert_eq!(code.as_deref(), Some("PERSISTED_QUERY_NOT_FOUND"));
}

#[tokio::test]
async fn malformed_persisted_query_extensions_are_bad_requests() {
    let federation = start(|_| {}).await;
    for extensions in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256(QUERY) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "not a hash" } }),
        json!({ "persistedQuery": { "version": 1 } }),
        json!("not an object"),
    ] {
        refused(
            post(&federation, json!({ "extensions": extensions })).await,
            400,
            "BAD_REQUEST",
        );
    }
    refused(
        post(&federation, json!({ "documentId": 7 })).await,
        400,
        "BAD_REQUEST",
    );
    refused(
        post(&federation, json!({ "variables": {} })).await,
        400,
        "BAD_REQUEST",
    );
    let federation = start(|c| c.persisted_queries.apq = false).await;
    refused(
        post(
            &federation,
            json!({ "query": QUERY, "extensions": apq(&sha256(QUERY)) }),
        )
        .await,
        200,
        "PERSISTED_QUERY_NOT_SUPPORTED",
    );
    served(post(&federation, json!({ "query": QUERY })).await);
}

#[tokio::test]
async fn apq_documents_registered_on_one_gateway_are_served_by_another_through_redis() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let prefix = unique_prefix("apq");
    let configure = |c: &mut gateway::GatewayConfig| {
        c.redis_url = Some(redis.clone());
        c.persisted_queries.redis_key_prefix = prefix.clone();
    };
    let a = start(configure).await;
    let b = start(configure).await;
    // A document unique to this run, so no earlier run registered it.
    let query = format!(
        "query Run_{} {{ node {{ id }} }}",
        prefix.len() + std::process::id() as usize
    );
    let hash = sha256(&query);
    let (_, code, _) = post(&b, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(code.as_deref(), Some("PERSISTED_QUERY_NOT_FOUND"));
    served(post(&a, json!({ "query": query, "extensions": apq(&hash) })).await);
    served(post(&b, json!({ "extensions": apq(&hash) })).await);
}

/// A manifest file in Apollo's format with one operation.
fn manifest(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("manifest.json");
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            { "id": "node-id", "body": QUERY, "name": "NodeId", "type": "query" },
            { "id": sha256("{ node { child { id } } }"), "body": "{ node { child { id } } }", "name": "Child", "type": "query" }
        ]
    });
    std::fs::write(&path, manifest.to_string()).expect("manifest written");
    path
}

#[tokio::test]
async fn trusted_documents_by_id_and_only_persisted_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = manifest(&dir);
    let federation = start(|c| c.persisted_queries.manifest = Some(path.clone())).await;
    served(post(&federation, json!({ "documentId": "node-id" })).await);
    served(
        post(
            &federation,
            json!({ "documentId": format!("sha256:{}", sha256(QUERY)) }),
        )
        .await,
    );
    // An APQ client gets manifest documents by hash without registering them.
    served(post(&federation, json!({ "extensions": apq(&sha256(QUERY)) })).await);
    refused(
        post(&federation, json!({ "documentId": "nope" })).await,
        200,
        "PERSISTED_QUERY_NOT_FOUND",
    );
    refused(
        post(
            &federation,
            json!({ "documentId": "node-id", "query": QUERY }),
        )
        .await,
        400,
        "BAD_REQUEST",
    );
    // Not only-persisted: anything else still runs.
    served(
        post(
            &federation,
            json!({ "query": "query Other { node { id } }" }),
        )
        .await,
    );

    let strict = start(|c| {
        c.persisted_queries.manifest = Some(path.clone());
        c.persisted_queries.only_persisted = true;
    })
    .await;
    served(post(&strict, json!({ "documentId": "node-id" })).await);
    served(get(&strict, &[("documentId", "node-id")]).await);
    // The same text in full is a manifest document too.
    served(post(&strict, json!({ "query": QUERY })).await);
    let before = strict.received("nodes").len();
    let other = "query Other { node { id } }";
    refused(
        post(&strict, json!({ "query": other })).await,
        400,
        "PERSISTED_QUERY_ONLY",
    );
    // Nor can it be slipped in by registering it as an APQ.
    refused(
        post(
            &strict,
            json!({ "query": other, "extensions": apq(&sha256(other)) }),
        )
        .await,
        400,
        "PERSISTED_QUERY_ONLY",
    );
    refused(
        post(&strict, json!({ "extensions": apq(&sha256(other)) })).await,
        200,
        "PERSISTED_QUERY_NOT_FOUND",
    );
    assert_eq!(
        strict.received("nodes").len(),
        before,
        "nothing refused reached the subgraph"
    );
}

#[test]
fn a_bad_manifest_or_only_persisted_without_one_does_not_start() {
    kit::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").expect("written");
    for configure in [
        Box::new(|c: &mut gateway::GatewayConfig| c.persisted_queries.manifest = Some(bad.clone()))
            as Box<dyn Fn(&mut gateway::GatewayConfig)>,
        Box::new(|c: &mut gateway::GatewayConfig| {
            c.persisted_queries.manifest = Some(dir.path().join("missing.json"))
        }),
        Box::new(|c: &mut gateway::GatewayConfig| c.persisted_queries.only_persisted = true),
    ] {
        let mut config = gateway::GatewayConfig::default();
        configure(&mut config);
        let error = gateway::build(config, "").err().expect("refused");
        assert!(error.to_string().contains("persisted_queries"), "{error}");
    }
}
