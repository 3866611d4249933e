//! What every request handler can reach: database, clock, WebAuthn, change hub, policy.

use std::ops::Deref;
use std::sync::Arc;

use ring::rand::SystemRandom;
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::admission::Admission;
use crate::clock::Clock;
use crate::codes::PaymentCodes;
use crate::db::Db;
use crate::hub::Hub;
use crate::issuer::Issuer;
use crate::provider::FundingProvider;
use crate::ratelimit::Limiter;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub hub: Hub,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub webauthn: Webauthn,
    pub funding: Arc<dyn FundingProvider>,
    /// Signs the head of every history as it grows.
    pub issuer: Issuer,
    /// Opens payment codes of version 2 and gives devices their keys (derived from `issuer`).
    pub codes: PaymentCodes,
    pub rng: SystemRandom,
    /// The budgets of concurrent work (`settings.load`), shared by every request.
    pub admission: Admission,
    /// The rate limits' buckets (`settings.rate_limits`), shared by every request.
    pub limiter: Limiter,
    /// Stand-in credential ids for sign-ins of devices that do not exist
    /// (`passkeys::decoy_challenge`).
    pub decoys: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("db", &self.db).field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        settings: Settings,
        funding: Arc<dyn FundingProvider>,
        issuer: Issuer,
    ) -> anyhow::Result<AppState> {
        let webauthn = WebauthnBuilder::new(&settings.rp_id, &settings.rp_origin)?.rp_name("Inkan").build()?;
        let admission = Admission::new(&settings.load);
        let limiter = Limiter::new(&settings.rate_limits, clock.clone());
        let decoys = WebauthnFakeCredentialGenerator::new(&issuer.derive("webauthn fake credential ids"))?;
        let codes = PaymentCodes::from_issuer(&issuer)?;
        Ok(AppState(Arc::new(Inner {
            codes,
            admission,
            limiter,
            decoys,
            db,
            hub: Hub::default(),
            clock,
            settings,
            webauthn,
            funding,
            issuer,
            rng: SystemRandom::new(),
        })))
    }
}
