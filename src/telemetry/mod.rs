//! Prometheus metrics for the kernel ([`crate::Kernel::metrics_text`], served at `/metrics` by
//! the HTTP API), through the `metrics` facade and its Prometheus recorder.
//!
//! Two sources, rendered together:
//! - **State read at scrape time** (agents by state, mailbox depths, scheduler grants and waits,
//!   provider counters and breaker states, tokens and cost, audit counters) is written into a
//!   fresh recorder owned by the scrape, so no series outlives what it describes and kernels in
//!   one process never mix.
//! - **Events measured where they happen** (provider request latency, page faults and
//!   evictions) go through the `metrics` macros to the process's global recorder. The first
//!   kernel installs a Prometheus recorder there when none is; an application that installed
//!   its own keeps it, and these series go to its exporter instead.

mod names;
mod scrape;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use names::*;
pub(crate) use scrape::render;

/// Buckets for latencies in seconds (1 ms … 2 min).
const SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the kernel's Prometheus recorder as the global `metrics` recorder unless the
/// application has one; the handle when it is ours.
pub(crate) fn global() -> Option<&'static PrometheusHandle> {
    GLOBAL
        .get_or_init(|| {
            let handle = builder().install_recorder();
            if let Err(e) = &handle {
                tracing::info!(error = %e, "a metrics recorder is already installed: event metrics go to it");
            }
            handle.ok()
        })
        .as_ref()
}

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
}
