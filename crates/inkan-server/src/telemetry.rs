//! What the operator scrapes: Prometheus metrics on a listener of their own (`serve
//! --metrics-listen`, off by default), and the request id every answer carries (`x-request-id`).
//!
//! A leaf: the metrics listener's route, which reads the state it reports, is `http::metrics_router`.
//!
//! The server records through the `metrics` facade. Until [`install`] has set the Prometheus
//! recorder (only `--metrics-listen` does), every record is a no-op. Counters and histograms are
//! recorded where things happen; gauges of state (open feeds, requests in flight, suspended
//! services) are read from their source at each scrape ([`render_gauges`]), so that they cannot
//! drift, and a suspension set through another instance shows on every instance's scrape.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use inkan_core::ChargeStatus;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client (or a proxy in front); a longer one, or one with
/// characters other than letters, digits, `-`, `_`, `.` and `:`, is replaced by one of ours.
const REQUEST_ID_MAX: usize = 64;

pub use metrics_exporter_prometheus::PrometheusHandle as Handle;

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Sets the Prometheus recorder as the process's metrics recorder (once; later calls return the
/// same handle: tests run several servers in one process).
pub fn install() -> anyhow::Result<Handle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
    let shopper = [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];
    let counts = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)?
        .set_buckets_for_metric(Matcher::Full(CONFIRM_WAIT.into()), &shopper)?
        .set_buckets_for_metric(Matcher::Suffix("_transactions".into()), &counts)?
        .build_recorder();
    let handle = recorder.handle();
    // Two racing installs: the loser's recorder is dropped, and both get the winner's handle.
    if HANDLE.set(handle).is_ok() {
        metrics::set_global_recorder(recorder)
            .map_err(|e| anyhow::anyhow!("another metrics recorder is already installed: {e}"))?;
        describe();
    }
    HANDLE.get().cloned().ok_or_else(|| anyhow::anyhow!("the metrics recorder vanished"))
}

const CONFIRM_WAIT: &str = "inkan_charge_confirm_wait_seconds";

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!("inkan_http_requests_total", "Requests answered, by method, route and status.");
    describe_histogram!(
        "inkan_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its answer's headers, by method and route."
    );
    describe_counter!(
        "inkan_charges_total",
        "Charges by what happened to them: made (pending_confirmation, held_for_review), refused, succeeded, declined, expired, refunded."
    );
    describe_counter!("inkan_charge_refusals_total", "Charges the core refused when they were made, by error code.");
    describe_histogram!(
        "inkan_charge_confirm_seconds",
        Unit::Seconds,
        "Server time to confirm a charge: the passkey check, the payment and its durable commit."
    );
    describe_histogram!(CONFIRM_WAIT, Unit::Seconds, "Time from a charge's creation to the shopper's confirmation.");
    describe_counter!(
        "inkan_admission_refusals_total",
        "Requests refused by the load limits before any work: requests, streams, feeds_per_account, timeout."
    );
    describe_histogram!(
        "inkan_writer_batch_transactions",
        "SQLite: write transactions committed together in one batch."
    );
    describe_histogram!("inkan_writer_sync_transactions", "SQLite: write transactions made durable by one fsync.");
    describe_histogram!("inkan_writer_sync_seconds", Unit::Seconds, "SQLite: time of one fsync of the WAL.");
    describe_counter!(
        "inkan_sqlite_wal_pages_total",
        "SQLite: pages the writer wrote to the WAL, counted at each checkpoint (which copies the whole WAL)."
    );
}

/// A gauge of the server's state at a scrape: name, help, the `service` label if any, value.
pub type Gauge<'a> = (&'static str, &'static str, Option<&'a str>, usize);

/// Appends `gauges` to a scrape's `text` in Prometheus' text format (each name's help and type
/// once, before its first sample). Written here, not through the process's recorder: they are this
/// server's state read at this scrape, and a recorder's gauge is shared by every server in the
/// process (the tests run several).
pub fn render_gauges(text: &mut String, gauges: &[Gauge<'_>]) {
    use std::fmt::Write as _;
    let mut last = "";
    for &(name, help, service, value) in gauges {
        if name != last {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
            last = name;
        }
        match service {
            Some(service) => {
                let _ = writeln!(text, "{name}{{service=\"{service}\"}} {value}");
            }
            None => {
                let _ = writeln!(text, "{name} {value}");
            }
        }
    }
}

/// The middleware for every API request: gives it an id (the client's, if it is short and plain,
/// else a new one), logs under it, answers with it in `x-request-id`, and counts and times it by
/// route.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let id =
        request.headers().get(&REQUEST_ID).filter(|value| plain_id(value.as_bytes())).cloned().unwrap_or_else(new_id);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let started = Instant::now();
    let mut response = next.run(request).await;
    let labels = [("method", method.to_owned()), ("route", route)];
    metrics::histogram!("inkan_http_request_duration_seconds", &labels).record(started.elapsed());
    let status = response.status().as_u16().to_string();
    metrics::counter!("inkan_http_requests_total", &[labels[0].clone(), labels[1].clone(), ("status", status)])
        .increment(1);
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A request's method as a label: the standard ones by name, any other as `other`. A client may
/// send any token as a method, and each new label value would be a new series kept for the
/// process's life (unmatched paths are one `route`, `unmatched`, for the same reason).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A request id from outside, usable as ours: short, and only characters that read safely in a
/// log line.
fn plain_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= REQUEST_ID_MAX
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()).unwrap_or(HeaderValue::from_static("unknown"))
}

/// The request id to put in a request's log span.
pub fn request_id(request: &Request) -> &str {
    request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A charge reached `status` (made, confirmed, declined, expired, refunded), committed.
pub fn charge(status: ChargeStatus) {
    metrics::counter!("inkan_charges_total", "outcome" => status.as_str()).increment(1);
}

/// The core refused a charge when it was made, with the API's error `code`.
pub fn charge_refused(code: inkan_api::ErrorCode) {
    metrics::counter!("inkan_charges_total", "outcome" => "refused").increment(1);
    metrics::counter!("inkan_charge_refusals_total", "code" => code.as_str()).increment(1);
}

/// A charge confirmed: the server's time on it (`took`), and how long it waited for the shopper.
pub fn confirmed(took: Duration, waited: time::Duration) {
    charge(ChargeStatus::Succeeded);
    metrics::histogram!("inkan_charge_confirm_seconds").record(took);
    metrics::histogram!(CONFIRM_WAIT).record(waited.as_seconds_f64().max(0.0));
}

/// The load limits refused a request (`reason`: which limit).
pub fn admission_refused(reason: &'static str) {
    metrics::counter!("inkan_admission_refusals_total", "reason" => reason).increment(1);
}

/// A count as a histogram's sample (beyond `u32`, the largest: no batch comes near).
fn count(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

/// SQLite's writer committed a batch of `transactions`.
pub fn writer_batch(transactions: usize) {
    metrics::histogram!("inkan_writer_batch_transactions").record(count(transactions));
}

/// SQLite's checkpoint copied a WAL of `pages` pages into the database: every page the writer
/// wrote since the last checkpoint, as the WAL starts again after each.
pub fn wal_checkpointed(pages: u64) {
    metrics::counter!("inkan_sqlite_wal_pages_total").increment(pages);
}

/// SQLite's syncer made `transactions` durable with one fsync that took `took`.
pub fn writer_sync(transactions: usize, took: Duration) {
    metrics::histogram!("inkan_writer_sync_transactions").record(count(transactions));
    metrics::histogram!("inkan_writer_sync_seconds").record(took);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_short_and_plain() {
        assert!(plain_id(b"3f2a9c1e-7b7d-4c1e-9a7e-2f1d3c4b5a69"));
        assert!(plain_id(b"lb.01:req_42"));
        assert!(!plain_id(b""));
        assert!(!plain_id(&[b'a'; REQUEST_ID_MAX + 1]));
        assert!(!plain_id(b"a b"));
        assert!(!plain_id(b"id\"; drop"));
        assert!(!plain_id("ｉｄ".as_bytes()));
        assert_eq!(new_id().len(), 32);
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn a_made_up_method_is_one_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        for made_up in ["FOO", "X-SCAN-1", "PROPFIND"] {
            assert_eq!(method_label(&Method::from_bytes(made_up.as_bytes()).unwrap()), "other");
        }
    }
}
