//! The merchant API over HTTP as a terminal speaks it: the bearer terminal key, a charge request
//! retried with its one idempotency key, long-polls, and server errors turned into [`PosError`]s.

use std::time::Duration;

use inkan_api::merchant::{Charge, CreateCharge, RefundCharge};
use inkan_api::{ErrorBody, ErrorCode, IDEMPOTENCY_KEY};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::PosError;
use crate::key::TerminalKey;

/// Time to open a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a request that does not long-poll, from sending to the end of the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Extra time a long-poll may take beyond the wait it asked for.
const LONG_POLL_SLACK: Duration = Duration::from_secs(10);

/// The longest `Retry-After` a terminal waits out before its next try: a sale does not wait longer.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Up to a quarter of `wait` more, at random.
fn jitter(wait: Duration) -> Duration {
    let random = u32::from(uuid::Uuid::new_v4().as_bytes()[0]);
    wait / 4 * random / 255
}

/// How often, and how patiently, a request is sent again after a network failure or a 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Pause before the second try; it doubles for each further try, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 tries over about 4 seconds (0.25 + 0.5 + 1 + 2 s of pauses).
    fn default() -> Self {
        RetryPolicy { attempts: 5, first_delay: Duration::from_millis(250), max_delay: Duration::from_secs(2) }
    }
}

/// When a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// After any network failure or 5xx: the request is idempotent.
    Always,
    /// Only if it never reached the server (the connection could not be opened).
    IfNotSent,
}

/// One try's failure, before it is known whether another try follows.
#[derive(Debug)]
enum TryError {
    /// No connection: the server did not see the request.
    NotSent(reqwest::Error),
    /// The connection failed after the request may have been sent.
    Lost(reqwest::Error),
    /// A 5xx (or 429) answer, with the wait its `Retry-After` asks for.
    Failing(StatusCode, Option<inkan_api::ApiError>, Option<Duration>),
    /// An answer that another try would not change.
    Final(PosError),
}

/// HTTPS that trusts what the OS trusts (its store, and a company's own authority added to it),
/// with rustls on *ring*.
fn os_trusted_tls() -> Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let ring = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(ring)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

/// A terminal's connection to the issuer server.
#[derive(Debug, Clone)]
pub struct TerminalClient {
    http: reqwest::Client,
    server: Url,
    key: TerminalKey,
    retry: RetryPolicy,
}

impl TerminalClient {
    pub fn new(server: Url, key: TerminalKey) -> Result<TerminalClient, PosError> {
        if !matches!(server.scheme(), "http" | "https") || server.cannot_be_a_base() {
            return Err(PosError::ServerUrl(server.to_string()));
        }
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(os_trusted_tls().map_err(|e| PosError::HttpSetup(e.to_string()))?)
            .connect_timeout(CONNECT_TIMEOUT)
            // The API never redirects; following one would send the request somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("inkan-pos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PosError::HttpSetup(e.to_string()))?;
        Ok(TerminalClient { http, server, key, retry: RetryPolicy::default() })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> TerminalClient {
        self.retry = retry;
        self
    }

    pub fn server(&self) -> &Url {
        &self.server
    }

    /// `POST /v1/charges`, sent again with the same `idempotency_key` after a network failure or
    /// a 5xx: the server answers a repeated key with the charge it already made, so however many
    /// tries it takes, the sale is charged at most once.
    pub async fn create_charge(&self, body: &CreateCharge, idempotency_key: &str) -> Result<Charge, PosError> {
        let url = self.url(&["v1", "charges"]);
        self.send(Resend::Always, || {
            self.http.post(url.clone()).header(IDEMPOTENCY_KEY, idempotency_key).json(body).timeout(REQUEST_TIMEOUT)
        })
        .await
    }

    /// `GET /v1/charges/{id}`; with `wait`, the server holds the answer until the charge leaves
    /// `pending_confirmation` or the wait (whole seconds, at least one) is over.
    pub async fn get_charge(&self, id: &str, wait: Option<Duration>) -> Result<Charge, PosError> {
        let mut url = self.url(&["v1", "charges", id]);
        let mut timeout = REQUEST_TIMEOUT;
        if let Some(wait) = wait {
            let seconds = wait.as_secs().max(1);
            url.query_pairs_mut().append_pair("wait", &seconds.to_string());
            timeout = Duration::from_secs(seconds) + LONG_POLL_SLACK;
        }
        self.send(Resend::IfNotSent, || self.http.get(url.clone()).timeout(timeout)).await
    }

    /// `POST /v1/charges/{id}/refund`: the whole amount back to the shopper. Safe to send again:
    /// the server answers a repeat with the refunded charge and moves the money once.
    pub async fn refund(&self, id: &str) -> Result<Charge, PosError> {
        let url = self.url(&["v1", "charges", id, "refund"]);
        // A whole-charge refund is idempotent on the server (a repeat answers with the refunded
        // charge), so a refund whose answer was lost is resent like a charge.
        self.send(Resend::Always, || self.http.post(url.clone()).json(&RefundCharge {}).timeout(REQUEST_TIMEOUT)).await
    }

    /// The server's URL with these path segments appended (each one escaped).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.server.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send<T: DeserializeOwned>(
        &self,
        resend: Resend,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<T, PosError> {
        let mut delay = self.retry.first_delay;
        let mut tries = 1;
        loop {
            let result = match request().bearer_auth(self.key.expose()).send().await {
                Ok(response) => read(response).await,
                Err(e) if e.is_connect() => Err(TryError::NotSent(e)),
                Err(e) => Err(TryError::Lost(e)),
            };
            let again = match &result {
                Ok(_) | Err(TryError::Final(_)) => false,
                Err(TryError::NotSent(_)) => true,
                // Turned away unserved (`503 overloaded`, `429`): nothing was done, so any
                // request may be sent again.
                Err(TryError::Failing(StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS, _, Some(_))) => {
                    true
                }
                Err(TryError::Lost(_) | TryError::Failing(..)) => resend == Resend::Always,
            };
            if !again || tries >= self.retry.attempts.max(1) {
                return result.map_err(|e| self.error(e));
            }
            // The server's own `Retry-After` wins over our back-off, up to a bound; a little jitter
            // keeps terminals turned away together from coming back in the same instant.
            let asked = match &result {
                Err(TryError::Failing(_, _, Some(asked))) => (*asked).min(LONGEST_RETRY_AFTER),
                _ => Duration::ZERO,
            };
            let wait = delay.max(asked);
            tokio::time::sleep(wait + jitter(wait)).await;
            delay = delay.saturating_mul(2).min(self.retry.max_delay);
            tries += 1;
        }
    }

    fn error(&self, e: TryError) -> PosError {
        let server = self.server.as_str().trim_end_matches('/').to_owned();
        match e {
            TryError::NotSent(e) => PosError::Unreachable { server, detail: root_cause(&e) },
            TryError::Lost(e) => PosError::ConnectionLost { server, detail: root_cause(&e) },
            TryError::Failing(status, error, _) => PosError::ServerFailing { server, status: status.as_u16(), error },
            TryError::Final(e) => e,
        }
    }
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, TryError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.map_err(TryError::Lost)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            TryError::Final(PosError::UnexpectedResponse { status: status.as_u16(), detail: e.to_string() })
        });
    }
    let error = serde_json::from_slice::<ErrorBody>(&body).ok().map(|b| b.error);
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(TryError::Failing(status, error, retry_after));
    }
    Err(TryError::Final(match error {
        Some(e) if status == StatusCode::UNAUTHORIZED || e.code == ErrorCode::Unauthorized => PosError::KeyRefused(e),
        Some(e) => PosError::Refused(e),
        None => PosError::UnexpectedResponse {
            status: status.as_u16(),
            detail: String::from_utf8_lossy(&body).chars().take(200).collect(),
        },
    }))
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"): reqwest's own
/// message only says that sending failed.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if e.is_timeout() { format!("timed out: {cause}") } else { cause.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(server: &str) -> TerminalClient {
        TerminalClient::new(Url::parse(server).unwrap(), TerminalKey::new("tk_test", "test").unwrap()).unwrap()
    }

    #[test]
    fn paths_are_appended_and_escaped() {
        assert_eq!(
            client("http://127.0.0.1:8080").url(&["v1", "charges"]).as_str(),
            "http://127.0.0.1:8080/v1/charges"
        );
        assert_eq!(
            client("https://pos.example/inkan/?x=1").url(&["v1", "charges", "ch_1/../x?"]).as_str(),
            "https://pos.example/inkan/v1/charges/ch_1%2F..%2Fx%3F"
        );
    }

    #[test]
    fn only_http_servers() {
        let key = TerminalKey::new("tk_test", "test").unwrap();
        let err = TerminalClient::new(Url::parse("ftp://example.com").unwrap(), key).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", client("http://127.0.0.1:1")).contains("tk_test"));
    }
}
