//! Request limits: body size (`413` as a real response, not a reset) and the
//! operation limits (depth, aliases, root fields, directives, parser tokens),
//! each just under (served) and just over (refused before any fetch).

use gateway::GatewayConfig;
use serde_json::{Value, json};

use super::{post, start};
use crate::Federation;

async fn query(federation: &Federation, query: &str) -> (u16, Value) {
    post(federation, json!({ "query": query }).to_string()).await
}

/// Served, with data, and the subgraph asked once more than before.
async fn assert_served(federation: &Federation, q: &str) {
    let before = federation.received("nodes").len();
    let (status, body) = query(federation, q).await;
    assert_eq!(status, 200, "{q}: {body}");
    assert!(body.get("errors").is_none(), "{q}: {body}");
    assert!(
        body["data"]["node"].is_object() || body["data"].is_object(),
        "{q}: {body}"
    );
    assert_eq!(federation.received("nodes").len(), before + 1, "{q}");
}

/// Refused with 400 and `OPERATION_LIMIT_EXCEEDED`, naming `limit` and its
/// value, and the subgraph never asked.
async fn assert_refused(federation: &Federation, q: &str, limit: &str, value: usize) {
    let before = federation.received("nodes").len();
    let (status, body) = query(federation, q).await;
    assert_eq!(status, 400, "{q}: {body}");
    assert!(body.get("data").is_none(), "{body}");
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "OPERATION_LIMIT_EXCEEDED",
        "{body}"
    );
    assert_eq!(error["extensions"]["limit"], limit, "{body}");
    assert_eq!(error["extensions"]["maximum"], value, "{body}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(limit) && message.contains(&value.to_string()),
        "the message names the limit and its value: {message}"
    );
    assert_eq!(
        federation.received("nodes").len(),
        before,
        "no subgraph request for a refused operation"
    );
}

/// Refused with 413 and `PAYLOAD_TOO_LARGE` as a response the client reads.
fn assert_too_large((status, body): (u16, Value), limit: usize) {
    assert_eq!(status, 413, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "PAYLOAD_TOO_LARGE", "{body}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains(&limit.to_string())),
        "{body}"
    );
}

#[tokio::test]
async fn a_32_mib_body_is_answered_413_not_reset() {
    let federation = start(|_| {}).await;
    let limit = GatewayConfig::default().max_body_bytes;
    let body = format!(
        "{{\"query\": \"{{ node {{ id }} }}\", \"variables\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(32 << 20)
    );
    assert_too_large(post(&federation, body).await, limit);
    assert!(federation.received("nodes").is_empty());
    // The gateway serves on.
    assert_served(&federation, "{ node { id } }").await;
}

/// A client that writes its whole request before it reads (as most HTTP/1
/// clients do, and curl without `Expect: 100-continue`) reads a 413 too,
/// rather than a reset with its body half sent.
#[tokio::test]
async fn a_client_sending_all_32_mib_before_reading_reads_the_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let federation = start(|_| {}).await;
    let address = federation
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let body = vec![b' '; 32 << 20];
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream
        .write_all(&body)
        .await
        .expect("the whole body is sent, not reset");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("the response is read, not reset");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("PAYLOAD_TOO_LARGE"), "{response}");
}

/// A client trickling its body (slowloris) gets `408` and a closed
/// connection once `body_timeout_ms` has passed, not a connection held open.
#[tokio::test]
async fn a_body_sent_slower_than_body_timeout_ms_is_answered_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let federation = start(|c| c.body_timeout_ms = 300).await;
    let address = federation
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    let body = json!({ "query": "{ node { id } }" }).to_string();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // One byte every 100 ms: the whole body would take seconds.
    let trickle = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for byte in body.bytes() {
            writer.write_all(&[byte]).await?;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        std::io::Result::Ok(())
    });
    let mut response = Vec::new();
    // Bounded so a regression fails instead of hanging; the gateway closes long before.
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        reader.read_to_end(&mut response),
    )
    .await
    .expect("the gateway closes the connection")
    .expect("the response is read");
    trickle.abort();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("REQUEST_TIMEOUT"), "{response}");
    assert!(federation.received("nodes").is_empty());
    assert_served(&federation, "{ node { id } }").await;
}

#[tokio::test]
async fn bodies_up_to_max_body_bytes_are_served_and_larger_ones_refused() {
    const LIMIT: usize = 1024;
    let federation = start(|c| c.max_body_bytes = LIMIT).await;
    let padded = |len: usize| {
        let body = json!({ "query": "{ node { id } }" }).to_string();
        format!("{}{}", " ".repeat(len - body.len()), body)
    };
    let (status, body) = post(&federation, padded(LIMIT)).await;
    assert_eq!(
        (status, &body["data"]["node"]["id"]),
        (200, &json!(1)),
        "{body}"
    );
    assert_too_large(post(&federation, padded(LIMIT + 1)).await, LIMIT);

    // Without a Content-Length (chunked), the limit holds as the body streams in.
    let chunked = |len: usize| {
        let chunks: Vec<Result<String, std::io::Error>> = padded(len)
            .into_bytes()
            .chunks(100)
            .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let (status, body) = post(&federation, chunked(LIMIT)).await;
    assert_eq!(
        (status, &body["data"]["node"]["id"]),
        (200, &json!(1)),
        "{body}"
    );
    assert_too_large(post(&federation, chunked(LIMIT + 1)).await, LIMIT);
    assert_too_large(post(&federation, chunked(LIMIT * 64)).await, LIMIT);
}

/// `node`, `children` nested `child` fields, then `id`: depth `children + 2`.
fn nested(children: usize) -> String {
    format!(
        "{{ node {}{{ id }}{} }}",
        "{ child ".repeat(children),
        " }".repeat(children)
    )
}

#[tokio::test]
async fn the_default_max_depth_is_64() {
    let federation = start(|_| {}).await;
    assert_served(&federation, &nested(62)).await;
    assert_refused(&federation, &nested(63), "max_depth", 64).await;
    // Deeper than the parser goes: refused by the same limit, not as a syntax error.
    assert_refused(&federation, &nested(10_000), "max_depth", 64).await;
}

#[tokio::test]
async fn max_depth() {
    let federation = start(|c| c.limits.max_depth = 3).await;
    assert_served(&federation, "{ node { child { id } } }").await;
    assert_refused(
        &federation,
        "{ node { child { child { id } } } }",
        "max_depth",
        3,
    )
    .await;
    // Fragments count where they are spread.
    assert_refused(
        &federation,
        "{ node { ...F } } fragment F on Node { child { child { id } } }",
        "max_depth",
        3,
    )
    .await;
}

#[tokio::test]
async fn max_aliases() {
    let federation = start(|c| c.limits.max_aliases = 2).await;
    assert_served(&federation, "{ node { a: id b: id } }").await;
    assert_refused(
        &federation,
        "{ node { a: id b: id c: id } }",
        "max_aliases",
        2,
    )
    .await;
}

#[tokio::test]
async fn max_root_fields() {
    let federation = start(|c| c.limits.max_root_fields = 2).await;
    assert_served(&federation, "{ node { id } other: node { id } }").await;
    assert_refused(
        &federation,
        "{ node { id } other: node { id } ... on Query { third: node { id } } }",
        "max_root_fields",
        2,
    )
    .await;
}

#[tokio::test]
async fn max_directives() {
    let federation = start(|c| c.limits.max_directives = 2).await;
    assert_served(
        &federation,
        "{ node { id @include(if: true) child @skip(if: false) { id } } }",
    )
    .await;
    assert_refused(
        &federation,
        "{ node { id @include(if: true) child @skip(if: false) { id @include(if: true) } } }",
        "max_directives",
        2,
    )
    .await;
}

#[tokio::test]
async fn max_parser_tokens() {
    // `{`, `node`, `{`, `id`, `}`, `}` and the end: 7 tokens (whitespace
    // would count too).
    const QUERY: &str = "{node{id}}";
    let federation = start(|c| c.limits.max_parser_tokens = 7).await;
    assert_served(&federation, QUERY).await;
    let federation = start(|c| c.limits.max_parser_tokens = 6).await;
    assert_refused(&federation, QUERY, "max_parser_tokens", 6).await;
}
