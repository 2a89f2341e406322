//! Prometheus metrics of one gateway, served on `/metrics`. The recorder
//! belongs to the gateway instance (nothing global), so the gateways of
//! several tests in one process count apart. Handles are registered once
//! (per gateway, per subgraph) and only incremented on the hot path.

use std::sync::Arc;

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::executor::breaker::BreakerMetrics;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    recorder: Arc<PrometheusRecorder>,
    pub requests: Counter,
    pub request_duration: Histogram,
    pub plan_cache_misses: Counter,
    pub entity_cache_evictions: Counter,
    /// Client requests refused at capacity, and over the request timeout.
    pub requests_shed: Counter,
    pub requests_timed_out: Counter,
}

/// Series of one subgraph (label `subgraph`).
#[derive(Clone)]
pub struct SubgraphMetrics {
    /// HTTP requests sent, and how long each took.
    pub requests: Counter,
    pub duration: Histogram,
    /// Requests that got no GraphQL answer (timeout, connection, status).
    pub failures: Counter,
    /// Requests that joined an identical one in flight instead of going out.
    pub deduplicated: Counter,
    /// Entities answered from the gateway's entity cache, and not.
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    /// Entity fetches of client requests that went out in another request's batch.
    pub batched: Counter,
    /// Subgraph queries sent again after getting no answer.
    pub retries: Counter,
}

impl SubgraphMetrics {
    /// Counts nothing (executors built without a gateway, e.g. in benchmarks).
    pub fn noop() -> Self {
        Self {
            requests: Counter::noop(),
            duration: Histogram::noop(),
            failures: Counter::noop(),
            deduplicated: Counter::noop(),
            cache_hits: Counter::noop(),
            cache_misses: Counter::noop(),
            batched: Counter::noop(),
            retries: Counter::noop(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let recorder = Arc::new(recorder);
        for (name, help) in [
            ("gateway_requests_total", "GraphQL requests served"),
            (
                "gateway_plan_cache_misses_total",
                "operations parsed, validated and planned",
            ),
            ("subgraph_requests_total", "HTTP requests sent to subgraphs"),
            (
                "subgraph_request_failures_total",
                "subgraph requests without a GraphQL answer",
            ),
            (
                "subgraph_requests_deduplicated_total",
                "subgraph requests that shared an identical one in flight",
            ),
            (
                "entity_cache_hits_total",
                "entities answered from the gateway's entity cache",
            ),
            (
                "entity_cache_misses_total",
                "entities fetched because the entity cache had none",
            ),
            (
                "entity_cache_evictions_total",
                "entities evicted by mutations or purges",
            ),
            (
                "entity_fetches_batched_total",
                "entity fetches sent in a batch shared with other client requests",
            ),
            (
                "gateway_requests_shed_total",
                "client requests refused because max_in_flight_requests were in flight",
            ),
            (
                "gateway_requests_timed_out_total",
                "client requests answered 504 after request_timeout_ms",
            ),
            (
                "subgraph_retries_total",
                "subgraph queries sent again after getting no answer",
            ),
            (
                "subgraph_circuit_transitions_total",
                "circuit breaker transitions, by the state entered",
            ),
            (
                "subgraph_circuit_rejections_total",
                "subgraph requests refused at once by an open circuit breaker",
            ),
        ] {
            recorder.describe_counter(name.into(), None, SharedString::const_str(help));
        }
        recorder.describe_gauge(
            "subgraph_circuit_state".into(),
            None,
            SharedString::const_str("circuit breaker state: 0 closed, 1 half-open, 2 open"),
        );
        let mut metrics = Self {
            handle,
            recorder,
            requests: Counter::noop(),
            request_duration: Histogram::noop(),
            plan_cache_misses: Counter::noop(),
            entity_cache_evictions: Counter::noop(),
            requests_shed: Counter::noop(),
            requests_timed_out: Counter::noop(),
        };
        metrics.requests = metrics.counter("gateway_requests_total", None);
        metrics.request_duration = metrics.histogram("gateway_request_duration_seconds", None);
        metrics.plan_cache_misses = metrics.counter("gateway_plan_cache_misses_total", None);
        metrics.entity_cache_evictions = metrics.counter("entity_cache_evictions_total", None);
        metrics.requests_shed = metrics.counter("gateway_requests_shed_total", None);
        metrics.requests_timed_out = metrics.counter("gateway_requests_timed_out_total", None);
        metrics
    }

    pub fn subgraph(&self, name: &str) -> SubgraphMetrics {
        let label = Some(name);
        SubgraphMetrics {
            requests: self.counter("subgraph_requests_total", label),
            duration: self.histogram("subgraph_request_duration_seconds", label),
            failures: self.counter("subgraph_request_failures_total", label),
            deduplicated: self.counter("subgraph_requests_deduplicated_total", label),
            cache_hits: self.counter("entity_cache_hits_total", label),
            cache_misses: self.counter("entity_cache_misses_total", label),
            batched: self.counter("entity_fetches_batched_total", label),
            retries: self.counter("subgraph_retries_total", label),
        }
    }

    /// The circuit breaker's series of one subgraph.
    pub fn breaker(&self, name: &str) -> BreakerMetrics {
        let transitions = |to: &'static str| {
            let key = key("subgraph_circuit_transitions_total", Some(name))
                .with_extra_labels(vec![Label::new("to", to)]);
            self.recorder.register_counter(&key, &metadata())
        };
        BreakerMetrics {
            state: self
                .recorder
                .register_gauge(&key("subgraph_circuit_state", Some(name)), &metadata()),
            to_closed: transitions("closed"),
            to_open: transitions("open"),
            to_half_open: transitions("half_open"),
            rejected: self.counter("subgraph_circuit_rejections_total", Some(name)),
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    fn counter(&self, name: &'static str, subgraph: Option<&str>) -> Counter {
        self.recorder
            .register_counter(&key(name, subgraph), &metadata())
    }

    fn histogram(&self, name: &'static str, subgraph: Option<&str>) -> Histogram {
        self.recorder
            .register_histogram(&key(name, subgraph), &metadata())
    }
}

/// Runs `work`, counting it in `count` and its duration in `duration`.
pub async fn measured<T>(
    count: &Counter,
    duration: &Histogram,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let out = work.await;
    count.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    out
}

fn key(name: &'static str, subgraph: Option<&str>) -> Key {
    let labels: Vec<Label> = subgraph
        .map(|s| Label::new("subgraph", s.to_owned()))
        .into_iter()
        .collect();
    Key::from_parts(name, labels)
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}
