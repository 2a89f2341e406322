//! Prometheus metrics of one subgraph instance. Each instance owns its recorder
//! (nothing global), so several subgraphs in one process, or several test servers,
//! count apart; every series carries a `subgraph` label.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    recorder: Arc<PrometheusRecorder>,
    subgraph: &'static str,
    pub http_requests: Counter,
    pub http_request_duration: Histogram,
    pub sql_statements: Counter,
    pub sql_failures: Counter,
}

/// Hit/miss/batch counters of one entity type's loader and cache.
#[derive(Clone)]
pub struct LoaderMetrics {
    pub batches: Counter,
    pub keys: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
}

impl Metrics {
    pub fn new(subgraph: &'static str) -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let recorder = Arc::new(recorder);
        let describe = |name: &'static str, unit: Option<Unit>, help: &'static str| {
            recorder.describe_counter(KeyName::from_const_str(name), unit, help.into());
        };
        describe("http_requests_total", None, "HTTP requests served");
        describe(
            "sql_statements_total",
            None,
            "SQL statements sent to the database",
        );
        describe(
            "sql_statement_failures_total",
            None,
            "SQL statements that returned an error",
        );
        describe(
            "dataloader_batches_total",
            None,
            "DataLoader batches loaded",
        );
        describe(
            "dataloader_keys_total",
            None,
            "keys requested from DataLoaders",
        );
        describe(
            "entity_cache_hits_total",
            None,
            "entities served from the in-memory cache",
        );
        describe(
            "entity_cache_misses_total",
            None,
            "entities not in the in-memory cache",
        );
        recorder.describe_histogram(
            KeyName::from_const_str("http_request_duration_seconds"),
            Some(Unit::Seconds),
            "HTTP request latency".into(),
        );
        let mut metrics = Self {
            handle,
            recorder: recorder.clone(),
            subgraph,
            http_requests: Counter::noop(),
            http_request_duration: Histogram::noop(),
            sql_statements: Counter::noop(),
            sql_failures: Counter::noop(),
        };
        metrics.http_requests = metrics.counter("http_requests_total", &[]);
        metrics.http_request_duration = recorder.register_histogram(
            &metrics.key("http_request_duration_seconds", &[]),
            &metadata(),
        );
        metrics.sql_statements = metrics.counter("sql_statements_total", &[]);
        metrics.sql_failures = metrics.counter("sql_statement_failures_total", &[]);
        metrics
    }

    /// Counters for the loader of `entity` (a label on the shared series).
    pub fn loader(&self, entity: &'static str) -> LoaderMetrics {
        let labels = [("entity", entity)];
        LoaderMetrics {
            batches: self.counter("dataloader_batches_total", &labels),
            keys: self.counter("dataloader_keys_total", &labels),
            cache_hits: self.counter("entity_cache_hits_total", &labels),
            cache_misses: self.counter("entity_cache_misses_total", &labels),
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// A counter of this instance, labelled with the subgraph and `labels`.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        self.recorder
            .register_counter(&self.key(name, labels), &metadata())
    }

    /// A gauge of this instance, labelled with the subgraph and `labels`.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Gauge {
        self.recorder
            .register_gauge(&self.key(name, labels), &metadata())
    }

    fn key(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        let mut all = vec![Label::from_static_parts("subgraph", self.subgraph)];
        all.extend(labels.iter().map(|(k, v)| Label::from_static_parts(k, v)));
        Key::from_parts(name, all)
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}

/// Reads one series' value from a Prometheus text exposition; tests use it to
/// count SQL statements and batches the way an operator would.
pub fn read_series(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            (series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_apart_per_instance_and_renders_labels() {
        let a = Metrics::new("a");
        let b = Metrics::new("b");
        a.sql_statements.increment(3);
        b.sql_statements.increment(1);
        a.loader("User").batches.increment(2);
        let text = a.render();
        assert_eq!(
            read_series(&text, "sql_statements_total", &[("subgraph", "a")]),
            3.0
        );
        assert_eq!(
            read_series(&text, "dataloader_batches_total", &[("entity", "User")]),
            2.0
        );
        assert_eq!(read_series(&b.render(), "sql_statements_total", &[]), 1.0);
    }
}
