//! A shopper's device for the soak: a real software passkey and a real P-256 device key, talking
//! to the server over HTTP with the API's wire types.

use anyhow::{Context, Result, bail};
use inkan_api::Base64Url;
use inkan_api::wallet::{
    AddCard, Assertion, AssertionChallenge, BeginRegistration, Card, ConfirmCharge, Enrolled, FinishRegistration,
    NewDevice, PendingCharge, RegistrationChallenge, TopUp, TopUpResult,
};
use inkan_core::Money;
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, PaymentCode};
use ring::rand::SystemRandom;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::server::ORIGIN;

pub struct Shopper {
    passkey: SoftPasskey,
    device_key: DeviceSigningKey,
    key_id: DeviceKeyId,
    counter: u32,
    pub account_id: String,
    pub token: String,
}

impl std::fmt::Debug for Shopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shopper").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

fn origin() -> Result<Url> {
    Ok(Url::parse(ORIGIN)?)
}

/// Sends a JSON request and decodes a success of `expected` status.
pub async fn call<B: Serialize, T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    body: &B,
    expected: reqwest::StatusCode,
) -> Result<T> {
    let response = request.json(body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if status != expected {
        bail!("expected {expected}, got {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("decoding {text}"))
}

impl Shopper {
    /// Enrols a new wallet with a fresh passkey and device key, and tops it up with `yen`.
    pub async fn enroll(http: &reqwest::Client, base: &str, name: &str, yen: i64) -> Result<Shopper> {
        let rng = SystemRandom::new();
        let (device_key, _) = DeviceSigningKey::generate(&rng).map_err(|e| anyhow::anyhow!("device key: {e}"))?;
        let key_id = DeviceKeyId::generate(&rng).map_err(|e| anyhow::anyhow!("device key id: {e}"))?;
        let mut passkey = SoftPasskey::new(true);
        let begin = BeginRegistration { display_name: name.to_owned() };
        let challenge: RegistrationChallenge =
            call(http.post(format!("{base}/v1/accounts/registration")), &begin, reqwest::StatusCode::OK).await?;
        let credential = passkey
            .do_registration(origin()?, challenge.public_key)
            .map_err(|e| anyhow::anyhow!("passkey registration: {e:?}"))?;
        let proof = device_key
            .prove(challenge.ceremony_id.as_bytes(), &rng)
            .map_err(|e| anyhow::anyhow!("device proof: {e}"))?;
        let finish = FinishRegistration {
            ceremony_id: challenge.ceremony_id,
            credential,
            device: NewDevice {
                key_id,
                public_key: Base64Url(device_key.public_key().as_sec1().to_vec()),
                name: "soak phone".to_owned(),
                proof: Base64Url(proof),
            },
        };
        let enrolled: Enrolled =
            call(http.post(format!("{base}/v1/accounts")), &finish, reqwest::StatusCode::CREATED).await?;
        let shopper = Shopper {
            passkey,
            device_key,
            key_id,
            counter: 0,
            account_id: enrolled.account_id,
            token: enrolled.session.token,
        };
        let card = AddCard { number: own_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
        let card: Card = call(
            http.post(format!("{base}/v1/wallet/cards")).bearer_auth(&shopper.token),
            &card,
            reqwest::StatusCode::CREATED,
        )
        .await?;
        let top_up = TopUp { card_id: card.id, amount: Money::yen(yen) };
        let _: TopUpResult = call(
            http.post(format!("{base}/v1/wallet/topups"))
                .bearer_auth(&shopper.token)
                .header(inkan_api::IDEMPOTENCY_KEY, uuid::Uuid::new_v4().to_string()),
            &top_up,
            reqwest::StatusCode::CREATED,
        )
        .await?;
        Ok(shopper)
    }

    /// Adds a card to the wallet (`number`, or a `424242…` card of its own), verified at once.
    pub async fn add_card(&self, http: &reqwest::Client, base: &str, number: Option<&str>) -> Result<String> {
        let number = number.map_or_else(own_card, str::to_owned);
        let card = AddCard { number, exp_month: 12, exp_year: 2030, cvc: "123".into() };
        let card: Card = call(
            http.post(format!("{base}/v1/wallet/cards")).bearer_auth(&self.token),
            &card,
            reqwest::StatusCode::CREATED,
        )
        .await?;
        Ok(card.id)
    }

    /// A fresh payment code: the server runs on this machine, so the local clock is its clock.
    pub fn code(&mut self) -> Result<String> {
        self.counter += 1;
        let code = PaymentCode::issue(
            &self.device_key,
            self.key_id,
            self.counter,
            time::OffsetDateTime::now_utc(),
            time::Duration::seconds(60),
            &SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("issuing a payment code: {e}"))?;
        Ok(code.text())
    }

    /// The passkey assertion that confirms `pending`.
    pub fn sign(&mut self, pending: &PendingCharge) -> Result<ConfirmCharge> {
        let credential = self
            .passkey
            .do_authentication(origin()?, pending.public_key.clone())
            .map_err(|e| anyhow::anyhow!("passkey assertion: {e:?}"))?;
        Ok(ConfirmCharge { credential })
    }

    /// The passkey's answer to a step-up `challenge`.
    pub fn assert(&mut self, challenge: AssertionChallenge) -> Result<Assertion> {
        let credential = self
            .passkey
            .do_authentication(origin()?, challenge.public_key)
            .map_err(|e| anyhow::anyhow!("passkey assertion: {e:?}"))?;
        Ok(Assertion { ceremony_id: challenge.ceremony_id, credential })
    }
}

/// A sandbox test card of this process's own (`4242422…`: the server's sandbox verifies every
/// `424242…` number at once): each soak wallet pays with its own, as a card verified in one wallet
/// is declined in others.
fn own_card() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100_000_000;
    inkan_core::cards::with_check_digit(&format!("4242422{n:08}")).unwrap_or_default()
}
