//! What both differential tests share (against generated supergraphs on mock
//! subgraphs, `gateway/tests/differential.rs`, and against our own graph on
//! the real subgraphs, `tests/differential_own.rs`): sending a query, running
//! the reference gateway, and comparing two answers.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

/// A GraphQL POST; transport and body failures become error responses.
pub async fn post(client: &reqwest::Client, url: &str, query: &str, variables: &Value) -> Value {
    let response = client
        .post(url)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await;
    match response {
        Ok(r) => r
            .json::<Value>()
            .await
            .unwrap_or_else(|e| json!({"errors": [{"message": format!("body: {e}")}]})),
        Err(e) => json!({"errors": [{"message": format!("request: {e}")}]}),
    }
}

/// Why `actual` does not match `expected` (both normalized by the caller):
/// `data` must be equal with keys in the same order; errors must be present
/// in both or neither, at the same set of paths (messages differ between
/// gateways).
pub fn difference(expected: &Value, actual: &Value) -> Option<String> {
    let data = |v: &Value| v.get("data").cloned().unwrap_or(Value::Null);
    let (want, got) = (data(expected), data(actual));
    // Serialized, so that key order counts (Map equality ignores it).
    let (want_text, got_text) = (want.to_string(), got.to_string());
    if want_text != got_text {
        let reason = if want == got {
            "data key order"
        } else {
            "data"
        };
        return Some(format!("{reason}: expected {want} got {got}"));
    }
    let paths = |v: &Value| -> Option<BTreeSet<String>> {
        v.get("errors")
            .and_then(Value::as_array)
            .filter(|errors| !errors.is_empty())
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e.get("path").map(Value::to_string).unwrap_or_default())
                    .collect()
            })
    };
    match (paths(expected), paths(actual)) {
        (None, None) => None,
        (Some(a), Some(b)) if a == b => None,
        _ => Some(format!(
            "errors: expected {} got {}",
            expected.get("errors").unwrap_or(&Value::Null),
            actual.get("errors").unwrap_or(&Value::Null)
        )),
    }
}

/// `2.0` as `2`: JavaScript prints integral floats without the fraction,
/// and both are the same JSON number.
pub fn integral_float(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(json!(f as i64)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the reference can run: Node and the pinned npm packages in
/// `reference_dir` (`npm ci` there installs them).
pub fn node_ready(reference_dir: &Path) -> Result<(), String> {
    if !reference_dir.join("node_modules/@apollo/gateway").exists() {
        return Err("gateway/tests/differential/node_modules missing (run `npm ci` there)".into());
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("`node` not found".into()),
    }
}

/// Apollo Gateway's answers to `queries`, in order, on `supergraph` with
/// its subgraphs at `urls` (name -> URL), by `reference.mjs`.
pub async fn run_reference(
    reference_dir: &Path,
    supergraph: &str,
    urls: Value,
    queries: &[(String, Value)],
) -> Vec<Value> {
    let input = json!({
        "supergraph": supergraph,
        "urls": urls,
        "queries": queries.iter().map(|(q, v)| json!({"query": q, "variables": v})).collect::<Vec<_>>(),
    });
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, input.to_string().as_bytes())
        .expect("write reference input");
    let path = file.path().to_owned();
    let script = reference_dir.join("reference.mjs");
    // Blocking: the subgraphs keep serving on the runtime's other threads.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(path)
            .output()
    })
    .await
    .expect("reference task")
    .expect("node runs");
    assert!(
        output.status.success(),
        "reference.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("reference output is JSON")
}
