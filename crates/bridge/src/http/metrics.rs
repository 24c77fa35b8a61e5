//! `/metrics` in Prometheus' text format: HTTP latency per route (recorded here, by a
//! middleware), and the bridge's own figures read at scrape time — greeks rows written, tick
//! lateness, spool depth, breaker state, feed reconnects, market-data updates, Client Portal
//! session, jobs by type and status, alerts active and their delivery.
//! No registry crate: the handful of series is written out directly.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::greeks::writer::Breaker;
use crate::ibkr::portal::SessionState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot is +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// Request latencies by (method, route, status).
#[derive(Default)]
pub struct HttpMetrics(Mutex<BTreeMap<(String, String, u16), Histogram>>);

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
    }

    fn render(&self, out: &mut String) {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str("# HELP portfolio_bridge_http_request_duration_seconds Time to answer an HTTP request.\n");
        out.push_str("# TYPE portfolio_bridge_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in all {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(&route)
            );
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "portfolio_bridge_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "portfolio_bridge_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "portfolio_bridge_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "portfolio_bridge_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Times every request, by its route template (`/api/v1/spreads/{spread_id}`), not its path.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        match labels.is_empty() {
            true => {
                let _ = writeln!(out, "{name} {value}");
            }
            false => {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    }
}

fn one(value: f64) -> Vec<(String, f64)> {
    vec![(String::new(), value)]
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// The whole exposition; `jobs` are the queue's counts by (type, status).
pub fn render(state: &AppState, jobs: &[(String, String, i64)]) -> String {
    let mut out = String::new();
    let ticks = state.live.ticks.borrow().clone();
    let writer = state.live.writer.borrow().clone();
    let feed = state.live.portfolio.read(|p| p.health());
    let alerts = state.live.alerts.borrow().clone();
    let m = &mut out;
    let scalars = [
        (
            "portfolio_bridge_greeks_rows_written_total",
            "counter",
            "Greeks rows handed to the writer since start.",
            ticks.rows as f64,
        ),
        (
            "portfolio_bridge_greeks_ticks_skipped_total",
            "counter",
            "Ticks that wrote nothing because the feed was down or still delivering its positions.",
            ticks.skipped as f64,
        ),
        (
            "portfolio_bridge_greeks_positions_left_out",
            "gauge",
            "Positions left out of the last tick's sums (missing or stale greeks).",
            ticks.left_out.len() as f64,
        ),
        (
            "portfolio_bridge_spool_records",
            "gauge",
            "Records waiting in the spool for PostgreSQL.",
            writer.spooled as f64,
        ),
        (
            "portfolio_bridge_memory_queue_records",
            "gauge",
            "Records waiting in memory because the spool cannot be written.",
            writer.in_memory as f64,
        ),
        (
            "portfolio_bridge_records_dropped_total",
            "counter",
            "Records dropped because the spool and memory were both full.",
            writer.dropped as f64,
        ),
        (
            "portfolio_bridge_records_stored_total",
            "counter",
            "Records stored in PostgreSQL since start.",
            writer.stored as f64,
        ),
        (
            "portfolio_bridge_breaker_open",
            "gauge",
            "1 while the circuit breaker sends records to the spool.",
            flag(writer.breaker == Breaker::Open),
        ),
        (
            "portfolio_bridge_feed_connected",
            "gauge",
            "1 while the IBKR feed is up.",
            flag(feed.connected),
        ),
        (
            "portfolio_bridge_feed_reconnects_total",
            "counter",
            "Times the IBKR feed came back after going down.",
            feed.connects.saturating_sub(1) as f64,
        ),
        (
            "portfolio_bridge_market_data_updates_total",
            "counter",
            "Market-data updates (prices and model greeks) applied since start.",
            feed.updates as f64,
        ),
        (
            "portfolio_bridge_greeks_tick_lateness_seconds",
            "gauge",
            "How long after its interval boundary the last tick handed its rows to the writer.",
            ticks.lateness.as_secs_f64(),
        ),
        (
            "portfolio_bridge_alerts_active",
            "gauge",
            "Alerts whose condition holds now.",
            alerts.active.len() as f64,
        ),
        (
            "portfolio_bridge_alert_notices_delivered_total",
            "counter",
            "Alert notices a target accepted (a notice to two targets counts twice).",
            alerts.delivery.delivered as f64,
        ),
        (
            "portfolio_bridge_alert_delivery_failures_total",
            "counter",
            "Alert delivery attempts that failed (each retry counts).",
            alerts.delivery.failed_attempts as f64,
        ),
        (
            "portfolio_bridge_alert_notices_pending",
            "gauge",
            "Alert notices not yet accepted by their target: waiting or being retried.",
            alerts.delivery.pending as f64,
        ),
        (
            "portfolio_bridge_alert_notices_dropped_total",
            "counter",
            "Alert notices dropped from a full queue, never delivered.",
            alerts.delivery.dropped as f64,
        ),
    ];
    for (name, kind, help, value) in scalars {
        metric(m, name, kind, help, &one(value));
    }
    if let Some(portal) = &state.live.portal {
        let authenticated = portal.borrow().state == SessionState::Authenticated;
        metric(
            m,
            "portfolio_bridge_portal_authenticated",
            "gauge",
            "1 while the Client Portal session is authenticated.",
            &one(flag(authenticated)),
        );
    }
    let samples: Vec<(String, f64)> = jobs
        .iter()
        .map(|(t, s, n)| {
            (
                format!("job_type=\"{}\",status=\"{}\"", escape(t), escape(s)),
                *n as f64,
            )
        })
        .collect();
    metric(
        m,
        "portfolio_bridge_jobs",
        "gauge",
        "Jobs in the queue by type and status.",
        &samples,
    );
    state.metrics.render(m);
    out
}
