//! The funding provider: who verifies cards and takes top-ups from them. Inkan never holds a card
//! number; it keeps the provider's token. The one provider built is the sandbox (`sandbox`).

use inkan_core::Money;
use inkan_core::topup::ProviderRecord;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundingError {
    #[error("the card was declined")]
    Declined,
    #[error("the card details are not valid")]
    InvalidCard,
    #[error("the verification code is wrong")]
    ChallengeFailed,
    /// The provider could not be reached, or did not answer: whether it acted is not known.
    #[error("the funding provider is unavailable")]
    Unavailable,
    /// A reference was used again with another card or amount: the provider refused it, as real
    /// ones refuse an idempotency key reused with other parameters.
    #[error("the provider refused a reference reused with another card or amount")]
    ReferenceReused,
}

impl FundingError {
    /// Whether the provider said no for certain (nothing was taken), as opposed to not answering.
    pub fn is_refusal(&self) -> bool {
        matches!(self, FundingError::Declined | FundingError::InvalidCard | FundingError::ChallengeFailed)
    }
}

/// What the provider says about a card it has taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub fingerprint: String,
    pub challenge_required: bool,
}

/// What the provider knows of a collection or pay-out asked for under one reference (for a
/// pay-out, `Collected` means paid to the card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Looked {
    pub record: ProviderRecord,
    /// The provider's own reference of the payment, when it took one.
    pub provider_ref: Option<String>,
}

/// A card verifier and payment source. Implementations own the card numbers; Inkan never does.
///
/// This is where a real acquirer plugs in: implement it over the acquirer's API (tokenise and
/// verify a card with its 3-D Secure challenge, collect a top-up under our reference, look a
/// collection up by that reference), add a variant to the server's `--funding` choice in
/// `main.rs`, and pass it to `AppState::new`. The only provider built today is
/// [`crate::sandbox::SandboxProvider`], which takes the documented test cards and moves no money:
/// `serve` uses it only when told `--funding sandbox`.
pub trait FundingProvider: Send + Sync + 'static {
    fn register(
        &self,
        number: &str,
        exp_month: u8,
        exp_year: u16,
        cvc: &str,
        now: time::OffsetDateTime,
    ) -> Result<Registration, FundingError>;
    fn verify(&self, token: &str, code: &str) -> Result<(), FundingError>;
    /// Takes `amount` from the card, at most once per `reference` (a top-up's id: the provider's
    /// idempotency key). Asked again with the same reference, card and amount, it answers as the
    /// first time and takes nothing more; with another card or amount, `ReferenceReused`. Returns
    /// the provider's reference of the payment. `Unavailable` means the outcome is not known:
    /// the money may have been taken ([`FundingProvider::lookup`] tells).
    fn collect(&self, token: &str, amount: Money, reference: &str) -> Result<String, FundingError>;
    /// Pays `amount` back to the card (a refund or a payout to a card), at most once per
    /// `reference` (a pay-out's id), as `collect` does. Returns the provider's reference.
    fn pay_out(&self, token: &str, amount: Money, reference: &str) -> Result<String, FundingError>;
    /// What became of the collection or pay-out asked for under `reference` (PayPay's "get
    /// payment details" by merchant payment id, an acquirer's lookup by merchant reference).
    fn lookup(&self, reference: &str) -> Result<Looked, FundingError>;
}
