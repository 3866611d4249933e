//! The typed HTTP SDK of the wallet API (`inkan-api` wire types over reqwest with rustls).
//!
//! Every response carries the server's clock; the SDK keeps the offset from the local clock, so
//! payment codes are issued on the server's time even when this device's clock is off.

use std::sync::Mutex;

use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, Join, Joined, SubmitDevice};
use inkan_api::feed::{History, IssuerKeys};
use inkan_api::wallet::{
    AddCard, Assertion, AssertionChallenge, BeginRegistration, BeginSignIn, BeginStepUp, Card, ConfirmCharge,
    DeclineCharge, Device, Enrolled, FinishRegistration, Limits, PendingCharge, RecoveryCodes, RegistrationChallenge,
    RemoveDevice, ReplaceRecoveryCodes, Session, SetLimits, SignIn, StepUpAction, TopUp, TopUpResult,
    UnfreezeWithRecoveryCode, VerifyCard, Wallet, WalletCharge,
};
use inkan_api::{Base64Url, DEVICE_SIGNATURE_HEADER, ErrorBody, SERVER_TIME_HEADER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};
use url::Url;

use crate::error::{ClientError, Result};

/// A connection to one Inkan server, optionally signed in.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: Mutex<Option<String>>,
    offset: Mutex<Duration>,
}

impl Api {
    pub fn new(base: Url) -> Result<Api> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Protocol(format!("HTTP client: {e}")))?;
        Ok(Api { http, base, token: Mutex::new(None), offset: Mutex::new(Duration::ZERO) })
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
        let url = self.url(path)?;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = self.token() {
            request = request.bearer_auth(token);
        }
        if let Some(signature) = device_signature {
            request = request.header(DEVICE_SIGNATURE_HEADER, signature.encode());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response =
            request.send().await.map_err(|source| ClientError::Unreachable { url: self.base.to_string(), source })?;
        self.observe(&response);
        Ok(response)
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

    pub async fn top_up(&self, body: &TopUp) -> Result<TopUpResult> {
        self.call(Method::POST, "/v1/wallet/topups", Some(body)).await
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

fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status: status.as_u16(), error: body.error },
        Err(_) => ClientError::Protocol(format!("HTTP {status} without an Inkan error body")),
    }
}
