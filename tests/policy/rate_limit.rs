//! Rate limits: per client (its address, or the subject authentication put in
//! a [`ClientKey`]) and global, `429` with `Retry-After` and `RATE_LIMITED`,
//! and one limit shared by two gateways through a real Redis.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{extract::Request, middleware::Next};
use gateway::{GatewayConfig, server::rate_limit::ClientKey};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{sent, start, start_with};
use crate::Federation;

/// A period long enough that nothing refills while a test runs.
const MINUTE_MS: u64 = 60_000;

async fn ask(federation: &Federation, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut request = federation
        .client
        .post(&federation.url)
        .json(&json!({ "query": "{ node { id } }" }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (status, retry_after, response.json().await.expect("JSON"))
}

async fn assert_served(federation: &Federation, headers: &[(&str, &str)]) {
    let (status, _, body) = ask(federation, headers).await;
    assert_eq!(
        (status, &body["data"]["node"]["id"]),
        (200, &json!(1)),
        "{headers:?}: {body}"
    );
}

/// `429`, `RATE_LIMITED`, a `Retry-After` of whole seconds within `max_wait`,
/// and no subgraph request.
async fn assert_limited(federation: &Federation, headers: &[(&str, &str)], max_wait: u64) {
    let before = federation.received("nodes").len();
    let (status, retry_after, body) = ask(federation, headers).await;
    assert_eq!(status, 429, "{headers:?}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    let seconds: u64 = retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=max_wait).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(
        federation.received("nodes").len(),
        before,
        "refused before any fetch"
    );
}

fn from(ip: &str) -> [(&str, &str); 1] {
    [("x-forwarded-for", ip)]
}

#[tokio::test]
async fn each_client_has_its_own_allowance_and_no_one_is_limited_by_default() {
    let federation = start(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 3;
        c.rate_limit.period_ms = MINUTE_MS;
        // The test's proxy: every request names its client's address.
        c.rate_limit.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    for _ in 0..3 {
        assert_served(&federation, &from("10.0.0.1")).await;
    }
    // One request per 20 s comes back.
    assert_limited(&federation, &from("10.0.0.1"), 20).await;
    // The last address is the one the proxy added; what the client wrote before it counts for nothing.
    assert_limited(
        &federation,
        &[("x-forwarded-for", "10.9.9.9, 10.0.0.1")],
        20,
    )
    .await;
    for _ in 0..3 {
        assert_served(&federation, &from("10.0.0.2")).await;
    }
    assert_limited(&federation, &from("10.0.0.2"), 20).await;

    let unlimited = start(|_| {}).await;
    for _ in 0..20 {
        assert_served(&unlimited, &[]).await;
    }
}

#[tokio::test]
async fn without_a_proxy_header_the_client_is_its_connection_address() {
    let federation = start(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 2;
        c.rate_limit.period_ms = MINUTE_MS;
    })
    .await;
    assert_served(&federation, &[]).await;
    // Not trusted unless configured: a client cannot pick a fresh key per request.
    assert_served(&federation, &from("10.0.0.7")).await;
    assert_limited(&federation, &from("10.0.0.8"), 30).await;
    let (status, code, _) = sent(
        federation
            .client
            .post(&federation.url)
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": "{ node { id } }" })),
    )
    .await;
    assert_eq!((status, code.as_deref()), (429, Some("RATE_LIMITED")));
}

#[tokio::test]
async fn the_global_limit_holds_for_all_clients_together() {
    let federation = start(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 0;
        c.rate_limit.global = 3;
        c.rate_limit.period_ms = MINUTE_MS;
        c.rate_limit.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_served(&federation, &from(ip)).await;
    }
    assert_limited(&federation, &from("10.0.0.4"), 20).await;
}

/// The gateway's app behind a layer that does what authentication does: put
/// the verified subject in a [`ClientKey`] (here taken from `x-test-subject`).
async fn authenticated(configure: impl FnOnce(&mut GatewayConfig)) -> Federation {
    start_with(configure, |app| {
        app.layer(axum::middleware::from_fn(
            |mut request: Request, next: Next| async move {
                let subject = request
                    .headers()
                    .get("x-test-subject")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(subject) = subject {
                    request.extensions_mut().insert(ClientKey(subject));
                }
                next.run(request).await
            },
        ))
    })
    .await
}

#[tokio::test]
async fn an_authenticated_client_is_its_subject_wherever_it_connects_from() {
    let federation = authenticated(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 2;
        c.rate_limit.period_ms = MINUTE_MS;
        c.rate_limit.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    let alice = |ip| [("x-test-subject", "alice"), ("x-forwarded-for", ip)];
    assert_served(&federation, &alice("10.0.0.1")).await;
    assert_served(&federation, &alice("10.0.0.2")).await;
    assert_limited(&federation, &alice("10.0.0.3"), 30).await;
    // Bob shares alice's address but not her allowance; so does the address itself.
    assert_served(
        &federation,
        &[("x-test-subject", "bob"), ("x-forwarded-for", "10.0.0.1")],
    )
    .await;
    assert_served(&federation, &from("10.0.0.1")).await;

    // Keyed by address only, the subject makes no difference.
    let by_ip = authenticated(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 1;
        c.rate_limit.period_ms = MINUTE_MS;
        c.rate_limit.client_key = gateway::server::rate_limit::ClientKeySource::Ip;
        c.rate_limit.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    assert_served(&by_ip, &alice("10.0.0.1")).await;
    assert_limited(
        &by_ip,
        &[("x-test-subject", "bob"), ("x-forwarded-for", "10.0.0.1")],
        60,
    )
    .await;
}

/// The Redis of the tests: `TEST_REDIS_URL` (CI sets it, and then Redis must
/// be up), else a local one if it answers; `None` skips the test.
pub async fn test_redis() -> Option<String> {
    let configured = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let url = configured
        .clone()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let up = tokio::net::TcpStream::connect(&address).await.is_ok();
    match (up, configured.is_some()) {
        (true, _) => Some(url),
        (false, true) => panic!("TEST_REDIS_URL={url} does not answer"),
        (false, false) => {
            eprintln!("skipped: no Redis on {address} (set TEST_REDIS_URL to require one)");
            None
        }
    }
}

/// A key prefix no other test (or earlier run) uses.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "switchyard-test:{test}:{}:{nanos}:{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[tokio::test]
async fn two_gateways_share_one_limit_through_redis() {
    let Some(redis) = test_redis().await else {
        return;
    };
    let prefix = unique_prefix("rate");
    let configure = |c: &mut GatewayConfig| {
        c.redis_url = Some(redis.clone());
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 3;
        c.rate_limit.global = 5;
        c.rate_limit.period_ms = MINUTE_MS;
        c.rate_limit.client_ip_header = Some("x-forwarded-for".into());
        c.rate_limit.redis_key_prefix = prefix.clone();
    };
    let a = start(configure).await;
    let b = start(configure).await;
    assert_served(&a, &from("10.0.0.1")).await;
    assert_served(&b, &from("10.0.0.1")).await;
    assert_served(&a, &from("10.0.0.1")).await;
    // The client's third request was on a; b knows.
    assert_limited(&b, &from("10.0.0.1"), 20).await;
    assert_limited(&a, &from("10.0.0.1"), 20).await;
    // The global limit of 5 counts both gateways' requests too.
    assert_served(&b, &from("10.0.0.2")).await;
    assert_served(&a, &from("10.0.0.3")).await;
    assert_limited(&b, &from("10.0.0.4"), 12).await;
}

#[tokio::test]
async fn with_redis_down_each_gateway_limits_on_its_own() {
    // A port just bound and closed: connections to it are refused.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("redis://{}", silent.local_addr().expect("addr"));
    drop(silent);
    let federation = start(|c| {
        c.redis_url = Some(url);
        c.rate_limit.enabled = true;
        c.rate_limit.per_client = 2;
        c.rate_limit.period_ms = MINUTE_MS;
    })
    .await;
    assert_served(&federation, &[]).await;
    assert_served(&federation, &[]).await;
    assert_limited(&federation, &[], 30).await;
}

#[test]
fn a_bad_redis_url_or_period_does_not_start() {
    kit::install_crypto_provider();
    let config = GatewayConfig {
        redis_url: Some("not a url".into()),
        ..GatewayConfig::default()
    };
    assert!(
        gateway::build(config, "")
            .err()
            .expect("refused")
            .to_string()
            .contains("redis_url")
    );
    let mut config = GatewayConfig::default();
    config.rate_limit.enabled = true;
    config.rate_limit.period_ms = 0;
    assert!(
        gateway::build(config, "")
            .err()
            .expect("refused")
            .to_string()
            .contains("period_ms")
    );
}
