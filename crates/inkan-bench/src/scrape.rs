//! The server's own counts, read from its metrics listener (`inkan-server serve --metrics-listen`)
//! at a window's two ends: what only the server knows, such as how many requests the wallets made
//! and how many pages of WAL it wrote.

use url::Url;

/// Bytes of one WAL frame: a 4 KiB page (SQLite's default page size, which the server keeps) and
/// the frame's 24-byte header.
pub const WAL_FRAME_BYTES: f64 = 4096.0 + 24.0;

/// The counts the bench takes from one scrape (each a running total since the server started).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerCounts {
    /// Requests answered on the wallet's routes (`/v1/wallet/…`).
    pub wallet_requests: f64,
    /// SQLite: pages written to the WAL, counted at each checkpoint (none on PostgreSQL).
    pub wal_pages: f64,
    /// SQLite: transactions made durable, and the fsyncs that made them so.
    pub synced_transactions: f64,
    pub syncs: f64,
}

impl ServerCounts {
    /// A scrape of `metrics` (the listener's `/metrics`), or `None` if it did not answer.
    pub async fn read(http: &reqwest::Client, metrics: &Url) -> Option<ServerCounts> {
        let text = http.get(metrics.clone()).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
        Some(ServerCounts::parse(&text))
    }

    /// The counts in a scrape's text (Prometheus' text format).
    pub fn parse(text: &str) -> ServerCounts {
        ServerCounts {
            wallet_requests: sum(text, "inkan_http_requests_total", |labels| labels.contains("route=\"/v1/wallet/")),
            wal_pages: sum(text, "inkan_sqlite_wal_pages_total", |_| true),
            synced_transactions: sum(text, "inkan_writer_sync_transactions_sum", |_| true),
            syncs: sum(text, "inkan_writer_sync_transactions_count", |_| true),
        }
    }
}

/// The sum of the samples of `name` whose labels (the text inside `{…}`) `keep` accepts.
fn sum(text: &str, name: &str, keep: impl Fn(&str) -> bool) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (sample, labels) = series.split_once('{').unwrap_or((series, ""));
            if sample == name && keep(labels) { value.parse::<f64>().ok() } else { None }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP inkan_http_requests_total Requests answered, by method, route and status.
# TYPE inkan_http_requests_total counter
inkan_http_requests_total{method="POST",route="/v1/charges",status="201"} 40
inkan_http_requests_total{method="POST",route="/v1/wallet/charges/{id}/confirm",status="200"} 38
inkan_http_requests_total{method="POST",route="/v1/wallet/charges/{id}/confirm",status="409"} 2
inkan_http_requests_total{method="GET",route="/v1/wallet/feed",status="200"} 1
# TYPE inkan_sqlite_wal_pages_total counter
inkan_sqlite_wal_pages_total 1234
# TYPE inkan_writer_sync_transactions summary
inkan_writer_sync_transactions{quantile="0.5"} 3
inkan_writer_sync_transactions_sum 80
inkan_writer_sync_transactions_count 20
"#;

    #[test]
    fn a_scrape_gives_the_wallets_requests_and_the_writers_counts() {
        let counts = ServerCounts::parse(SCRAPE);
        assert_eq!(
            counts,
            ServerCounts { wallet_requests: 41.0, wal_pages: 1234.0, synced_transactions: 80.0, syncs: 20.0 }
        );
    }

    #[test]
    fn a_server_without_a_series_counts_zero_and_garbage_is_skipped() {
        let counts = ServerCounts::parse("inkan_http_requests_total{route=\"/v1/wallet/x\"} not-a-number\nnonsense\n");
        assert_eq!(counts, ServerCounts::default());
    }
}
