//! The wallet API: enrolment, sign-in, the wallet's state, charges to confirm, limits, cards.

use inkan_core::limits::PendingRaise;
use inkan_core::payment_code::DeviceKeyId;
use inkan_core::payment_code::v2::DeviceIndex;
use inkan_core::{ChargeStatus, LimitPolicy, Money, Spending};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use crate::Base64Url;

/// `POST /v1/accounts/registration` — start creating an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeginRegistration {
    /// 1 to 64 characters after trimming, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub display_name: String,
}

/// The passkey creation options for the authenticator, and the ceremony they belong to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistrationChallenge {
    pub ceremony_id: String,
    /// WebAuthn credential creation options, `{"publicKey": PublicKeyCredentialCreationOptionsJSON}`
    /// with binary members in unpadded base64url, for `navigator.credentials.create()`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialcreationoptionsjson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: CreationChallengeResponse,
}

/// A device key to register, with its proof of possession: the device's signature over the
/// ceremony id (see `DeviceSigningKey::prove`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub key_id: DeviceKeyId,
    /// Uncompressed SEC1 P-256 point.
    pub public_key: Base64Url,
    pub name: String,
    pub proof: Base64Url,
}

/// `POST /v1/accounts` — finish creating an account: the new passkey and the first device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FinishRegistration {
    pub ceremony_id: String,
    /// The authenticator's new credential, a WebAuthn `RegistrationResponseJSON`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-registrationresponsejson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: RegisterPublicKeyCredential,
    pub device: NewDevice,
}

/// The account was created. The recovery codes are shown this once and stored only hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolled {
    pub account_id: String,
    pub device_id: String,
    pub recovery_codes: Vec<String>,
    pub session: Session,
}

/// `POST /v1/sessions/challenge` — start signing in a device of an account. The challenge
/// accepts only that device's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeginSignIn {
    pub account_id: String,
    /// The active device signing in: a session always belongs to one device.
    pub device_id: String,
}

/// `POST /v1/sessions` — finish signing in with two proofs over the ceremony: the assertion of a
/// passkey of the device, and the device key's signature (`DeviceSigningKey::sign_in`, under
/// the prefix `inkan/sign-in/v1\0`, over the ceremony id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub ceremony_id: String,
    /// The authenticator's assertion, a WebAuthn `AuthenticationResponseJSON`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: PublicKeyCredential,
    /// ECDSA P-256 / SHA-256 signature, fixed `r‖s` form, by the device's key.
    pub device_signature: Base64Url,
}

/// Passkey request options for the authenticator, and the ceremony they belong to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssertionChallenge {
    pub ceremony_id: String,
    /// WebAuthn credential request options, `{"publicKey": PublicKeyCredentialRequestOptionsJSON}`
    /// with binary members in unpadded base64url, for `navigator.credentials.get()`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialrequestoptionsjson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: RequestChallengeResponse,
}

/// A passkey assertion answering a ceremony.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub ceremony_id: String,
    /// The authenticator's assertion, a WebAuthn `AuthenticationResponseJSON`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-authenticationresponsejson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: PublicKeyCredential,
}

/// A bearer session of one device. It ends after `idle_timeout_seconds` without a request,
/// `max_lifetime_seconds` after it began whatever happens, and at once when its device is removed,
/// the wallet is frozen from another device or the operator holds the account.
///
/// Every session is opened with the device's proofs (its key's signature and a passkey, or a new
/// passkey at enrolment and join), so it also carries the device's payment code v2 keys.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub token: String,
    pub account_id: String,
    pub idle_timeout_seconds: u64,
    pub max_lifetime_seconds: u64,
    pub payment_code: PaymentCodeKeys,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("token", &"***").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

/// What a device needs to make payment codes of version 2 (docs/payment-code.md), offline: the
/// index the issuer gave it, its two keys, and the issuer's seal public key. The keys are secrets:
/// the device keeps the code key in the OS keystore and the approval key behind the shopper's
/// biometric or passkey.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentCodeKeys {
    pub index: DeviceIndex,
    /// 32 bytes: tags every code the device makes.
    pub code_key: Base64Url,
    /// 32 bytes: tags a pre-approval for paying offline.
    pub approval_key: Base64Url,
    /// Which seal key of the issuer the codes are sealed to (in every code, in clear).
    pub seal_key_id: u8,
    /// The issuer's X25519 seal public key, 32 bytes.
    pub seal_key: Base64Url,
}

impl std::fmt::Debug for PaymentCodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentCodeKeys")
            .field("index", &"***")
            .field("seal_key_id", &self.seal_key_id)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/wallet`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wallet {
    pub account_id: String,
    pub display_name: String,
    pub balance: Money,
    pub frozen: bool,
    /// Why the operator has put the account on hold (no payment, top-up or new device until it
    /// is lifted); `null` when it is not on hold.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub held: Option<String>,
    pub limits: Limits,
}

/// The limits as they stand, what has been spent against them, and a raise waiting to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// In force now (already including any raise whose cooling-off has passed).
    pub current: LimitPolicy,
    /// A raise waiting out its cooling-off; `null` when there is none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pending: Option<PendingRaise>,
    /// Spent in the current Tokyo day and month, counting charges waiting for confirmation.
    pub spending: Spending,
    /// The largest charge that would pass right now with this session's device (a device in its
    /// first 72 hours has lower limits than `current`).
    pub remaining: Money,
}

/// `PUT /v1/wallet/limits`. Lowering applies at once; raising needs `step_up` (an assertion for
/// a ceremony begun with `POST /v1/wallet/step-up`) and applies after the cooling-off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    pub limits: LimitPolicy,
    #[serde(default)]
    pub step_up: Option<Assertion>,
}

/// A charge as the shopper sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletCharge {
    pub id: String,
    pub status: ChargeStatus,
    pub amount: Money,
    pub merchant_name: String,
    /// Always present; `null` when the terminal sent none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<&crate::merchant::Charge> for WalletCharge {
    /// What the shopper sees of a charge: the merchant's view less the merchant's id and the
    /// decision's times.
    fn from(charge: &crate::merchant::Charge) -> WalletCharge {
        WalletCharge {
            id: charge.id.clone(),
            status: charge.status,
            amount: Money::new(charge.currency, charge.amount),
            merchant_name: charge.merchant_name.clone(),
            description: charge.description.clone(),
            created_at: charge.created_at,
            expires_at: charge.expires_at,
        }
    }
}

/// A charge waiting for the shopper, with the passkey challenge bound to exactly this charge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingCharge {
    pub charge: WalletCharge,
    /// WebAuthn credential request options, `{"publicKey": PublicKeyCredentialRequestOptionsJSON}`
    /// with binary members in unpadded base64url, for `navigator.credentials.get()`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialrequestoptionsjson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: RequestChallengeResponse,
}

/// `POST /v1/wallet/charges/{id}/confirm`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmCharge {
    /// The authenticator's assertion, a WebAuthn `AuthenticationResponseJSON`:
    /// <https://www.w3.org/TR/webauthn-3/#dictdef-authenticationresponsejson>.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: PublicKeyCredential,
}

/// `POST /v1/wallet/charges/{id}/decline`. `not_me` also freezes the wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeclineCharge {
    #[serde(default)]
    pub not_me: bool,
}

/// `POST /v1/wallet/cards`: a card to top up from. The number goes to the funding provider and is
/// never stored; only the provider's token, the brand and the last four digits are kept.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddCard {
    pub number: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: String,
}

impl std::fmt::Debug for AddCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddCard(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// The provider asked for a 3-D Secure-style challenge: answer with `POST .../verify`.
    ChallengeRequired,
    Verified,
    Failed,
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Card {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub status: CardStatus,
}

/// `POST /v1/wallet/cards/{id}/verify`: the one-time code of the card issuer's challenge.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyCard {
    pub code: String,
}

impl std::fmt::Debug for VerifyCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyCard(***)")
    }
}

/// `POST /v1/wallet/topups`, with an `Idempotency-Key`: a retry with the same key and body answers
/// with the same top-up, and takes nothing more from the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    pub card_id: String,
    pub amount: Money,
}

/// Where a top-up stands, as its answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TopUpStatus {
    /// Collected and credited: `balance` includes it.
    Succeeded,
    /// The card provider's answer has not come back yet (`202`). Nothing is lost: the server asks
    /// the provider until it knows, credits the wallet if the card was charged, and the feed says
    /// which (`top_up_succeeded` or `top_up_failed`). Retrying with the same key is safe.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopUpResult {
    pub id: String,
    pub status: TopUpStatus,
    pub amount: Money,
    /// The wallet's balance now (without the top-up while it is `pending`).
    pub balance: Money,
}

/// A device of the wallet, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: String,
    pub key_id: DeviceKeyId,
    pub name: String,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled_at: OffsetDateTime,
    /// When this device's passkey was registered (with the device); `null` when it has none left:
    /// a removed device's passkeys are deleted with it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub passkey_added_at: Option<OffsetDateTime>,
}

/// `POST /v1/wallet/freeze` (no body needed beyond `{}`): any signed-in device may freeze.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Freeze {}

/// `POST /v1/wallet/step-up`: start a passkey confirmation for a sensitive action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeginStepUp {
    pub action: StepUpAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepUpAction {
    RaiseLimits,
    Unfreeze,
    AddDevice,
    RemoveDevice,
    ReplaceRecoveryCodes,
    /// Close the wallet for good, its balance paid back to a card.
    CloseWallet,
}

/// `POST /v1/wallet/close`: the wallet closed for good, confirmed with the passkey; its balance is
/// paid back where it came from: the first card that topped it up and has not refused a pay-out.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseWallet {
    pub step_up: Assertion,
}

impl std::fmt::Debug for CloseWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloseWallet(***)")
    }
}

/// Where a pay-out to a card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Paid to the card.
    Succeeded,
    /// The card provider has not answered yet: the server asks it until it knows; the feed says
    /// how it ended (`wallet_closed`, or `payout_failed` with the money back in the wallet).
    Pending,
}

/// The balance on its way back to a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payout {
    pub id: String,
    pub status: PayoutStatus,
    pub amount: Money,
    pub card_last4: String,
}

/// The answer to closing a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedWallet {
    /// `None`: the wallet was empty, nothing to pay back.
    pub payout: Option<Payout>,
}

/// `POST /v1/wallet/unfreeze/recovery-code` — lift a freeze with a recovery code (used up).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnfreezeWithRecoveryCode {
    pub recovery_code: String,
}

impl std::fmt::Debug for UnfreezeWithRecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnfreezeWithRecoveryCode(***)")
    }
}

/// `POST /v1/wallet/recovery-codes` — replace every recovery code, confirmed with a passkey (a
/// step-up for `replace_recovery_codes`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReplaceRecoveryCodes {
    pub step_up: Assertion,
}

/// New recovery codes, shown this once: every older code stopped working.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} codes, ***)", self.recovery_codes.len())
    }
}

/// `POST /v1/wallet/devices/{id}/remove` — remove a device, confirmed with a passkey of the
/// device asking (a step-up for `remove_device`): a session alone, perhaps a stolen one, cannot
/// lock the owner's phone out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RemoveDevice {
    pub step_up: Assertion,
}
