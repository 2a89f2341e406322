//! `deploy/grafana/switchyard.json` queries only what the servers export:
//! every metric a panel selects, and every label it groups or matches by,
//! is in the `/metrics` of the real gateway and subgraphs after traffic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Federation, SPANNING};

/// Series name → the label sets it was scraped with.
type Scraped = BTreeMap<String, Vec<BTreeSet<String>>>;

fn parse_exposition(text: &str, into: &mut Scraped) {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let labels = labels
            .trim_end_matches('}')
            .split(',')
            .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim().to_owned()))
            .collect();
        into.entry(name.to_owned()).or_default().push(labels);
    }
}

/// The metric selectors of a PromQL expression (an identifier followed by
/// `{` or `[`), each with its label matchers (`name`, `op`, `value`).
fn selectors(expr: &str) -> Vec<(String, Vec<(String, String, String)>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() || chars[i] == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let mut matchers = Vec::new();
            match chars.get(i) {
                Some('{') => {
                    let end = i + chars[i..].iter().position(|&c| c == '}').expect("closed {");
                    let body: String = chars[i + 1..end].iter().collect();
                    for matcher in body.split(',').filter(|m| !m.trim().is_empty()) {
                        let op_at = matcher.find(['=', '!']).expect("label matcher");
                        let (label, rest) = matcher.split_at(op_at);
                        let op_len = rest.find('"').expect("quoted value");
                        matchers.push((
                            label.trim().to_owned(),
                            rest[..op_len].to_owned(),
                            rest[op_len..].trim_matches('"').to_owned(),
                        ));
                    }
                    out.push((name, matchers));
                    i = end;
                }
                Some('[') => out.push((name, matchers)),
                _ => {}
            }
        }
        i += 1;
    }
    out
}

/// The labels of every `by (...)` clause.
fn grouped_by(expr: &str) -> BTreeSet<String> {
    expr.split("by (")
        .skip(1)
        .flat_map(|rest| rest.split(')').next().unwrap_or_default().split(','))
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported() {
    let fed = Federation::start(|c| c.entity_cache.enabled = true).await;
    // Traffic for the histograms and caches: the same query twice (the
    // second from the entity cache), and an invalid one.
    for _ in 0..2 {
        let response = fed.gql(SPANNING, json!({ "n": 3 })).await;
        assert!(response.get("errors").is_none(), "{response:#}");
    }
    fed.gql("{ nope }", json!({})).await;

    let mut scraped = Scraped::new();
    let gateway = fed.url.trim_end_matches("/graphql");
    let text = fed
        .client
        .get(format!("{gateway}/metrics"))
        .send()
        .await
        .expect("gateway metrics")
        .text()
        .await
        .expect("text");
    parse_exposition(&text, &mut scraped);
    for (_, server) in &fed.subgraphs {
        parse_exposition(
            &server.get("/metrics").await.text().await.expect("text"),
            &mut scraped,
        );
    }

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/switchyard.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard file"))
            .expect("dashboard JSON");
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            let found = selectors(expr);
            assert!(!found.is_empty(), "no metric in {expr:?}");
            for (name, matchers) in &found {
                let series = scraped.get(name).unwrap_or_else(|| {
                    panic!(
                        "{name} (in {expr:?}) is not exported; scraped: {:?}",
                        scraped.keys()
                    )
                });
                for (label, op, value) in matchers {
                    // `label=""` selects series without the label (telling
                    // them from series that have it); other matchers need it.
                    let wants_absent = op == "=" && value.is_empty();
                    assert!(
                        series.iter().any(|labels| labels.contains(label))
                            && series
                                .iter()
                                .any(|labels| labels.contains(label) != wants_absent),
                        "{name}{{{label}{op}\"{value}\"}}: no such label, or it matches nothing"
                    );
                }
                for label in grouped_by(expr) {
                    assert!(
                        series.iter().any(|labels| labels.contains(&label)),
                        "{name} has no label {label} to group by (in {expr:?})"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} selectors checked");
}
