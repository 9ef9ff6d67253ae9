//! `GET /metrics`: counters and latencies in the Prometheus text format.

use std::time::Instant;

use axum::extract::State as Extract;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::State;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Endpoint {
    endpoint: &'static str,
}

pub struct Telemetry {
    registry: Registry,
    requests: Family<Endpoint, Counter>,
    errors: Family<Endpoint, Counter>,
    latency: Family<Endpoint, Histogram>,
    windows: Counter,
    batched_windows: Counter,
    backend_calls: Counter,
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("dfd");
        let requests = Family::<Endpoint, Counter>::default();
        let errors = Family::<Endpoint, Counter>::default();
        // 5 ms .. ~80 s.
        let latency = Family::<Endpoint, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 15))
        });
        let windows = Counter::default();
        registry.register(
            "requests",
            "Scan requests and live streams handled",
            requests.clone(),
        );
        registry.register(
            "errors",
            "Scan requests and live streams refused or failed",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request (or stream) start to its answer (or end)",
            latency.clone(),
        );
        registry.register("windows_scored", "Analysis windows scored", windows.clone());
        let batched_windows = Counter::default();
        let backend_calls = Counter::default();
        registry.register(
            "live_batched_windows",
            "Windows of live streams scored together in the batcher's rounds",
            batched_windows.clone(),
        );
        registry.register(
            "live_backend_calls",
            "Backend calls the batcher's rounds made for them",
            backend_calls.clone(),
        );
        Telemetry {
            registry,
            requests,
            errors,
            latency,
            windows,
            batched_windows,
            backend_calls,
        }
    }

    /// A request or stream of `endpoint` that began at `started` is over.
    pub fn done(&self, endpoint: &'static str, started: Instant, ok: bool) {
        let labels = Endpoint { endpoint };
        self.requests.get_or_create(&labels).inc();
        if !ok {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }

    pub fn windows(&self, n: u64) {
        self.windows.inc_by(n);
    }

    /// One round of the live batcher.
    pub fn batched(&self, report: dfd::InferReport) {
        self.batched_windows.inc_by(report.windows as u64);
        self.backend_calls.inc_by(report.calls as u64);
    }
}

pub async fn metrics(Extract(state): Extract<State>) -> impl IntoResponse {
    let mut text = String::new();
    encode(&mut text, &state.telemetry.registry).expect("writing to a String cannot fail");
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}
