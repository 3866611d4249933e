//! The typed HTTP SDK of the wallet API (`inkan-api` wire types over reqwest with rustls).
//!
//! Every response carries the server's clock; the SDK keeps the offset from the local clock, so
//! payment codes are issued on the server's time even when this device's clock is off.

use std::sync::Mutex;

use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, Join, Joined, SubmitDevice};
use inkan_api::feed::{History, IssuerKeys};
use inkan_api::wallet::{
    AddCard, Assertion, AssertionChallenge, BeginRegistration, BeginSignIn, BeginStepUp, Card, CloseWallet,
    ClosedWallet, ConfirmCharge, DeclineCharge, Device, Enrolled, FinishRegistration, Limits, PendingCharge,
    RecoveryCodes, RegistrationChallenge, RemoveDevice, ReplaceRecoveryCodes, Session, SetLimits, SignIn, StepUpAction,
    TopUp, TopUpResult, UnfreezeWithRecoveryCode, VerifyCard, Wallet, WalletCharge,
};
use inkan_api::{Base64Url, DEVICE_SIGNATURE_HEADER, ErrorBody, IDEMPOTENCY_KEY, SERVER_TIME_HEADER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};
use url::Url;

use crate::error::{ClientError, Result};

/// How long the wallet waits on the server before it gives up on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: std::time::Duration,
    /// For a request (not the live feed), from sending to the end of its answer.
    pub request: std::time::Duration,
    /// The longest silence within one answer, the live feed's included (its heartbeat comes
    /// every 15 s).
    pub read: std::time::Duration,
}

impl Timeouts {
    pub const DEFAULT: Timeouts = Timeouts {
        connect: std::time::Duration::from_secs(10),
        request: REQUEST_TIMEOUT,
        read: std::time::Duration::from_secs(45),
    };
}

/// Time a request (not the live feed) may take by default, from sending to the end of its answer.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Tries in all of a request the server turned away unserved (`503 overloaded`, `429`).
const TRIES: u32 = 3;
/// The longest `Retry-After` honoured by waiting: a longer one is answered to the caller.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// HTTPS that trusts what the OS trusts (its store, and a company's own authority added to it, as
/// in the browser), with rustls on *ring*.
fn os_trusted_tls() -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let ring = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(ring)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

/// A connection to one Inkan server, optionally signed in.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    timeouts: Timeouts,
    token: Mutex<Option<String>>,
    offset: Mutex<Duration>,
}

impl Api {
    pub fn new(base: Url) -> Result<Api> {
        Api::with_timeouts(base, Timeouts::DEFAULT)
    }

    pub fn with_timeouts(base: Url, timeouts: Timeouts) -> Result<Api> {
        let tls = os_trusted_tls().map_err(|e| ClientError::Protocol(format!("HTTPS setup: {e}")))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(timeouts.connect)
            // Between two reads of one answer: a stalled server or network ends the request. The
            // live feed's heartbeat keeps a quiet stream well inside it.
            .read_timeout(timeouts.read)
            // The API never redirects; following one would send the session somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Protocol(format!("HTTP client: {e}")))?;
        Ok(Api { http, base, timeouts, token: Mutex::new(None), offset: Mutex::new(Duration::ZERO) })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn set_token(&self, token: Option<String>) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    pub fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The server's clock, as last measured.
    pub fn server_now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| ClientError::Invalid(format!("bad server URL: {e}")))
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Records the server's clock from a response.
    pub(crate) fn observe(&self, response: &reqwest::Response) {
        let server_ms = response
            .headers()
            .get(SERVER_TIME_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(ms) = server_ms {
            let local = OffsetDateTime::now_utc();
            if let Ok(server) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
                *self.offset.lock().unwrap_or_else(|p| p.into_inner()) = server - local;
            }
        }
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response> {
        self.send_signed(method, path, body, None).await
    }

    /// As [`Api::send`], with the device's signature of this request in `inkan-device-signature`.
    async fn send_signed<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        device_signature: Option<&Base64Url>,
    ) -> Result<reqwest::Response> {
        let headers: Vec<(&str, String)> =
            device_signature.map(|s| (DEVICE_SIGNATURE_HEADER, s.encode())).into_iter().collect();
        self.send_with(method, path, body, &headers, false).await
    }

    /// Sends a request. One the server turned away unserved (`503 overloaded` or `429`, with a
    /// `Retry-After` of at most [`LONGEST_WAIT`]) is sent again after that wait and a little
    /// jitter, up to [`TRIES`] in all. With `resend_if_lost` (a request with an
    /// `Idempotency-Key`), so is one whose answer never came.
    async fn send_with<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &[(&str, String)],
        resend_if_lost: bool,
    ) -> Result<reqwest::Response> {
        let url = self.url(path)?;
        let mut tries = 1;
        loop {
            let mut request = self.http.request(method.clone(), url.clone()).timeout(self.timeouts.request);
            if let Some(token) = self.token() {
                request = request.bearer_auth(token);
            }
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let wait = match request.send().await {
                Ok(response) => {
                    self.observe(&response);
                    match retry_after(&response) {
                        Some(wait) if tries < TRIES => wait,
                        _ => return Ok(response),
                    }
                }
                Err(source) if tries < TRIES && (resend_if_lost || source.is_connect()) => {
                    std::time::Duration::from_millis(500 * u64::from(tries))
                }
                Err(source) => return Err(ClientError::Unreachable { url: self.base.to_string(), source }),
            };
            tokio::time::sleep(wait + jitter(wait)).await;
            tries += 1;
        }
    }

    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(format!("{e}")));
        }
        Err(api_error(status, &bytes))
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        Api::decode(self.send(method, path, body).await?).await
    }

    async fn call_empty<B: Serialize + ?Sized>(&self, method: Method, path: &str, body: Option<&B>) -> Result<()> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        Err(api_error(status, &bytes))
    }

    // Accounts and sessions

    pub async fn begin_registration(&self, display_name: &str) -> Result<RegistrationChallenge> {
        let body = BeginRegistration { display_name: display_name.to_owned() };
        self.call(Method::POST, "/v1/accounts/registration", Some(&body)).await
    }

    pub async fn finish_registration(&self, body: &FinishRegistration) -> Result<Enrolled> {
        self.call(Method::POST, "/v1/accounts", Some(body)).await
    }

    pub async fn begin_sign_in(&self, account_id: &str, device_id: &str) -> Result<AssertionChallenge> {
        let body = BeginSignIn { account_id: account_id.to_owned(), device_id: device_id.to_owned() };
        self.call(Method::POST, "/v1/sessions/challenge", Some(&body)).await
    }

    pub async fn finish_sign_in(&self, body: &SignIn) -> Result<Session> {
        self.call(Method::POST, "/v1/sessions", Some(body)).await
    }

    pub async fn sign_out(&self) -> Result<()> {
        self.call_empty::<()>(Method::DELETE, "/v1/sessions/current", None).await
    }

    pub async fn begin_step_up(&self, action: StepUpAction) -> Result<AssertionChallenge> {
        self.call(Method::POST, "/v1/wallet/step-up", Some(&BeginStepUp { action })).await
    }

    // Wallet

    pub async fn wallet(&self) -> Result<Wallet> {
        self.call::<(), _>(Method::GET, "/v1/wallet", None).await
    }

    pub async fn set_limits(&self, body: &SetLimits) -> Result<Limits> {
        self.call(Method::PUT, "/v1/wallet/limits", Some(body)).await
    }

    pub async fn freeze(&self) -> Result<()> {
        self.call_empty(Method::POST, "/v1/wallet/freeze", Some(&serde_json::json!({}))).await
    }

    pub async fn unfreeze(&self, step_up: &Assertion) -> Result<()> {
        self.call_empty(Method::POST, "/v1/wallet/unfreeze", Some(step_up)).await
    }

    pub async fn unfreeze_with_recovery_code(&self, recovery_code: &str) -> Result<()> {
        let body = UnfreezeWithRecoveryCode { recovery_code: recovery_code.to_owned() };
        self.call_empty(Method::POST, "/v1/wallet/unfreeze/recovery-code", Some(&body)).await
    }

    /// `POST /v1/wallet/close`: the wallet closed for good, its balance paid back to a card.
    pub async fn close_wallet(&self, step_up: Assertion) -> Result<ClosedWallet> {
        self.call(Method::POST, "/v1/wallet/close", Some(&CloseWallet { step_up })).await
    }

    pub async fn replace_recovery_codes(&self, step_up: Assertion) -> Result<RecoveryCodes> {
        self.call(Method::POST, "/v1/wallet/recovery-codes", Some(&ReplaceRecoveryCodes { step_up })).await
    }

    pub async fn freeze_with_recovery_code(&self, account_id: &str, code: &str) -> Result<()> {
        let body = FreezeWithRecoveryCode { recovery_code: code.to_owned() };
        self.call_empty(Method::POST, &format!("/v1/accounts/{account_id}/freeze"), Some(&body)).await
    }

    pub async fn devices(&self) -> Result<Vec<Device>> {
        self.call::<(), _>(Method::GET, "/v1/wallet/devices", None).await
    }

    pub async fn revoke_device(&self, device_id: &str, step_up: Assertion) -> Result<()> {
        let path = format!("/v1/wallet/devices/{device_id}/remove");
        self.call_empty(Method::POST, &path, Some(&RemoveDevice { step_up })).await
    }

    pub async fn pending(&self) -> Result<Vec<PendingCharge>> {
        self.call::<(), _>(Method::GET, "/v1/wallet/charges/pending", None).await
    }

    pub async fn confirm(&self, charge_id: &str, body: &ConfirmCharge) -> Result<WalletCharge> {
        self.call(Method::POST, &format!("/v1/wallet/charges/{charge_id}/confirm"), Some(body)).await
    }

    pub async fn decline(&self, charge_id: &str, not_me: bool) -> Result<WalletCharge> {
        self.call(Method::POST, &format!("/v1/wallet/charges/{charge_id}/decline"), Some(&DeclineCharge { not_me }))
            .await
    }

    pub async fn cards(&self) -> Result<Vec<Card>> {
        self.call::<(), _>(Method::GET, "/v1/wallet/cards", None).await
    }

    pub async fn add_card(&self, card: &AddCard) -> Result<Card> {
        self.call(Method::POST, "/v1/wallet/cards", Some(card)).await
    }

    pub async fn verify_card(&self, card_id: &str, code: &str) -> Result<Card> {
        self.call(
            Method::POST,
            &format!("/v1/wallet/cards/{card_id}/verify"),
            Some(&VerifyCard { code: code.to_owned() }),
        )
        .await
    }

    /// `POST /v1/wallet/topups` under `idempotency_key`: sent again (with the same key) when its
    /// answer is lost, so the card is charged once however many tries it takes.
    pub async fn top_up(&self, idempotency_key: &str, body: &TopUp) -> Result<TopUpResult> {
        let headers = [(IDEMPOTENCY_KEY, idempotency_key.to_owned())];
        Api::decode(self.send_with(Method::POST, "/v1/wallet/topups", Some(body), &headers, true).await?).await
    }

    pub async fn history(&self) -> Result<History> {
        self.call::<(), _>(Method::GET, "/v1/wallet/history", None).await
    }

    /// The keys the issuer signs history heads with (public).
    pub async fn issuer_keys(&self) -> Result<IssuerKeys> {
        self.call::<(), _>(Method::GET, "/v1/issuer-keys", None).await
    }

    // Device joins

    pub async fn begin_join(&self, account_id: &str) -> Result<Join> {
        self.call(Method::POST, "/v1/device-joins", Some(&BeginJoin { account_id: account_id.to_owned() })).await
    }

    /// A join's state; `signature` is the joining device's over the join id and
    /// `JoinStep::Status` (needed once its key is submitted).
    pub async fn join(&self, join_id: &str, signature: &Base64Url) -> Result<Join> {
        let path = format!("/v1/device-joins/{join_id}");
        Api::decode(self.send_signed::<()>(Method::GET, &path, None, Some(signature)).await?).await
    }

    pub async fn submit_join_device(&self, join_id: &str, body: &SubmitDevice) -> Result<Join> {
        self.call(Method::POST, &format!("/v1/device-joins/{join_id}/device"), Some(body)).await
    }

    pub async fn waiting_joins(&self) -> Result<Vec<Join>> {
        self.call::<(), _>(Method::GET, "/v1/wallet/device-joins", None).await
    }

    pub async fn approve_join(&self, join_id: &str, step_up: Assertion) -> Result<Join> {
        self.call(Method::POST, &format!("/v1/wallet/device-joins/{join_id}/approve"), Some(&ApproveJoin { step_up }))
            .await
    }

    /// `signature`: the joining device's, over the join id and `JoinStep::PasskeyChallenge`.
    pub async fn join_passkey_challenge(&self, join_id: &str, signature: &Base64Url) -> Result<RegistrationChallenge> {
        let path = format!("/v1/device-joins/{join_id}/passkey/challenge");
        let body = serde_json::json!({});
        Api::decode(self.send_signed(Method::POST, &path, Some(&body), Some(signature)).await?).await
    }

    /// `signature`: the joining device's, over the join id and `JoinStep::Passkey` of this ceremony.
    pub async fn finish_join(&self, join_id: &str, body: &FinishJoin, signature: &Base64Url) -> Result<Joined> {
        let path = format!("/v1/device-joins/{join_id}/passkey");
        Api::decode(self.send_signed(Method::POST, &path, Some(body), Some(signature)).await?).await
    }
}

/// How long the server asked us to wait before sending again, if it turned the request away
/// unserved (`503 overloaded` or `429 too_many_requests`) and the wait is short enough to take.
fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    if !matches!(response.status(), StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS) {
        return None;
    }
    let seconds: u64 = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    let wait = std::time::Duration::from_secs(seconds);
    (wait <= LONGEST_WAIT).then_some(wait)
}

/// Up to a quarter of `wait` more, at random, so that clients turned away together do not all
/// come back in the same instant.
fn jitter(wait: std::time::Duration) -> std::time::Duration {
    let mut byte = [0u8; 1];
    let fraction = match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte) {
        Ok(()) => u32::from(byte[0]),
        Err(_) => 128,
    };
    wait / 4 * fraction / 255
}

fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status: status.as_u16(), error: body.error },
        Err(_) => ClientError::Protocol(format!("HTTP {status} without an Inkan error body")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that accepts, reads the request, and answers each connection with `answer` (or
    /// never, with `None`). The times connections arrived.
    async fn server(answer: Option<&'static str>) -> (Url, std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let arrived = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let times = arrived.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                times.lock().unwrap().push(std::time::Instant::now());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    match answer {
                        Some(answer) => {
                            let _ = stream.write_all(answer.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        (url, arrived)
    }

    #[tokio::test]
    async fn a_server_that_never_answers_ends_the_request_at_its_timeout() {
        let (url, _) = server(None).await;
        let short = Timeouts { request: std::time::Duration::from_millis(300), ..Timeouts::DEFAULT };
        let api = Api::with_timeouts(url, short).unwrap();
        let done = tokio::time::timeout(std::time::Duration::from_secs(10), api.wallet()).await;
        let err = done.expect("the request hung past its timeout").unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_overloaded_server_is_asked_again_after_its_retry_after_and_no_sooner() {
        let busy = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\n\
                    content-length: 52\r\nconnection: close\r\n\r\n{\"error\":{\"code\":\"overloaded\",\"message\":\"busy now\"}}";
        let (url, arrived) = server(Some(busy)).await;
        let api = Api::new(url).unwrap();
        let err = api.wallet().await.unwrap_err();
        assert_eq!(err.code(), Some(inkan_api::ErrorCode::Overloaded), "{err}");
        let arrived = arrived.lock().unwrap().clone();
        assert_eq!(arrived.len(), usize::try_from(TRIES).unwrap(), "tries in all");
        for pair in arrived.windows(2) {
            assert!(pair[1] - pair[0] >= std::time::Duration::from_secs(1), "asked again too soon");
        }
    }
}
