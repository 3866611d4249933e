//! What the screens are given and what they send: plain data, serialized to the UI as JSON. The
//! TypeScript declarations in `ui/src/bindings.ts` are generated from these (see `bindings`).

use inkan_api::feed::Notice;
use inkan_core::{Currency, LimitKind, Money};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ts_rs::TS;

pub use crate::error::{AppError, AppErrorCode, DeviceErrorCode};

/// An amount, with both ways people read it, formatted once here (`¥1,280` and `1,280円`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Amount {
    /// Minor units (yen have none): `1280`.
    pub minor: i64,
    pub currency: String,
    /// `¥1,280`
    pub en: String,
    /// `1,280円`
    pub ja: String,
}

impl From<Money> for Amount {
    fn from(money: Money) -> Amount {
        Amount {
            minor: money.minor(),
            currency: money.currency().code().to_owned(),
            en: money.to_string(),
            ja: money.format_ja(),
        }
    }
}

impl Amount {
    /// From a notice's `amount` and `currency` (a currency this build does not know is shown as is).
    pub fn of(minor: i64, currency: &str) -> Amount {
        match currency.parse::<Currency>() {
            Ok(c) => Amount::from(Money::new(c, minor)),
            Err(_) => Amount {
                minor,
                currency: currency.to_owned(),
                en: format!("{minor} {currency}"),
                ja: format!("{minor} {currency}"),
            },
        }
    }
}

/// A wire enum's name as the API spells it (`pending_confirmation`), for the UI to branch on.
fn wire_name<T: Serialize + std::fmt::Debug>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{value:?}"))
}

/// RFC 3339 text for the UI (which shows it in the person's time zone).
pub fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The wallet this device holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ProfileView {
    pub account_id: String,
    pub device_id: String,
    pub display_name: String,
    pub server: String,
    /// Which passkey this device confirms with, in words.
    pub passkey: String,
    /// The software passkey: fine for a demo, never for real money. The UI says so.
    pub insecure_passkey: bool,
}

/// Values to prefill on the onboarding screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Defaults {
    pub server: String,
    pub origin: String,
    pub device_name: String,
}

/// Everything the window needs to draw its first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppSnapshot {
    /// `null` until a wallet is set up on this device.
    pub profile: Option<ProfileView>,
    /// Whether the live feed is connected. Payment codes work either way.
    pub online: bool,
    /// Why the wallet on this device cannot be opened (e.g. the OS keystore is locked).
    pub problem: Option<AppError>,
    pub defaults: Defaults,
}

/// `enroll`: a new wallet on a server.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct EnrollInput {
    pub server: String,
    /// The passkey origin; empty means the server's own address.
    pub origin: String,
    pub display_name: String,
    pub device_name: String,
}

/// A new wallet, and its recovery codes: shown once, never kept by the app.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Enrolled {
    pub profile: ProfileView,
    pub recovery_codes: Vec<String>,
}

/// `join`: this device joins an existing wallet.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct JoinInput {
    pub server: String,
    pub origin: String,
    pub account_id: String,
    pub device_name: String,
    /// Joins at once (and uses the code up); empty means "ask my other device".
    pub recovery_code: String,
}

/// `freeze_with_recovery_code`: a lost phone, frozen from here.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RecoveryFreezeInput {
    pub server: String,
    pub account_id: String,
    pub recovery_code: String,
}

/// A payment code to show: its QR, and when to replace it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PaymentCodeView {
    /// The code as text (what the QR holds), for a screen reader or a terminal without a camera.
    pub text: String,
    /// The QR code as an SVG document, drawn sharp at any size.
    pub svg: String,
    pub qr_version: i16,
    /// Milliseconds from now until the next code should be shown.
    pub refresh_in_ms: u32,
    /// Milliseconds from now until this code stops being accepted.
    pub expires_in_ms: u32,
}

/// A charge as the shopper sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ChargeView {
    pub id: String,
    /// `pending_confirmation`, `held_for_review`, `succeeded`, `declined`, `expired`, `refunded`.
    pub status: String,
    pub amount: Amount,
    pub merchant_name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

impl From<inkan_api::wallet::WalletCharge> for ChargeView {
    fn from(c: inkan_api::wallet::WalletCharge) -> ChargeView {
        ChargeView {
            id: c.id,
            status: wire_name(&c.status),
            amount: c.amount.into(),
            merchant_name: c.merchant_name,
            description: c.description,
            created_at: timestamp(c.created_at),
            expires_at: timestamp(c.expires_at),
        }
    }
}

/// The limits, what has been spent against them, and a raise waiting out its cooling-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LimitsView {
    pub per_charge: Amount,
    pub daily: Amount,
    pub monthly: Amount,
    pub spent_today: Amount,
    pub spent_this_month: Amount,
    /// The largest charge that would pass now from this device.
    pub remaining: Amount,
    pub pending: Option<PendingRaiseView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PendingRaiseView {
    pub per_charge: Amount,
    pub daily: Amount,
    pub monthly: Amount,
    pub effective_at: String,
    /// Milliseconds from now until the raise applies (by the server's clock).
    pub effective_in_ms: i64,
}

impl LimitsView {
    pub fn new(limits: inkan_api::wallet::Limits, server_now: OffsetDateTime) -> LimitsView {
        let current = limits.current;
        LimitsView {
            per_charge: current.get(LimitKind::PerCharge).into(),
            daily: current.get(LimitKind::Daily).into(),
            monthly: current.get(LimitKind::Monthly).into(),
            spent_today: limits.spending.today.into(),
            spent_this_month: limits.spending.this_month.into(),
            remaining: limits.remaining.into(),
            pending: limits.pending.map(|p| PendingRaiseView {
                per_charge: p.policy.get(LimitKind::PerCharge).into(),
                daily: p.policy.get(LimitKind::Daily).into(),
                monthly: p.policy.get(LimitKind::Monthly).into(),
                effective_at: timestamp(p.effective_at),
                effective_in_ms: i64::try_from((p.effective_at - server_now).whole_milliseconds()).unwrap_or(i64::MAX),
            }),
        }
    }
}

/// New limits, in yen.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
pub struct LimitsInput {
    pub per_charge: i64,
    pub daily: i64,
    pub monthly: i64,
}

/// The wallet as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct WalletView {
    pub display_name: String,
    pub balance: Amount,
    pub frozen: bool,
    /// Why the operator has put the account on hold; `null` when it is not on hold.
    pub held: Option<String>,
    pub limits: LimitsView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub enrolled_at: String,
    /// When its passkey was registered; `None` once it has none (a removed device).
    pub passkey_added_at: Option<String>,
    pub this_device: bool,
}

/// A device asking to join the wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct JoinView {
    pub join_id: String,
    /// `awaiting_device`, `awaiting_approval`, `approved`, `completed`, `rejected`, `expired`.
    pub state: String,
    pub device_name: Option<String>,
    /// The joining device's key fingerprint (`XXXX-XXXX-XXXX-XXXX`): the joining device shows it,
    /// and the approving one shows it beside the name, so the person can compare them.
    pub device_fingerprint: Option<String>,
    pub expires_at: String,
}

impl From<inkan_api::devices::Join> for JoinView {
    fn from(j: inkan_api::devices::Join) -> JoinView {
        JoinView {
            join_id: j.join_id,
            state: wire_name(&j.state),
            device_name: j.device_name,
            device_fingerprint: j.device_fingerprint,
            expires_at: timestamp(j.expires_at),
        }
    }
}

/// A card to top up from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CardView {
    pub id: String,
    pub brand: String,
    pub last4: String,
    /// `challenge_required`, `verified`, `failed`, `locked`.
    pub status: String,
}

impl From<inkan_api::wallet::Card> for CardView {
    fn from(c: inkan_api::wallet::Card) -> CardView {
        CardView { id: c.id, brand: c.brand, last4: c.last4, status: wire_name(&c.status) }
    }
}

#[derive(Debug, Clone, Deserialize, TS)]
pub struct CardInput {
    pub number: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct TopUpView {
    pub amount: Amount,
    pub balance: Amount,
    /// The card provider has not answered yet: the money is added when it does (the Activity
    /// feed says so), and nothing is charged twice.
    pub pending: bool,
}

/// The wallet closed: its balance on its way back to a card, or already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClosedView {
    /// What was paid back; `None` if the wallet was empty.
    pub paid_back: Option<Amount>,
    pub card_last4: Option<String>,
    /// The card provider has not confirmed the pay-out yet (the Activity feed says when).
    pub pending: bool,
}

impl From<inkan_api::wallet::ClosedWallet> for ClosedView {
    fn from(closed: inkan_api::wallet::ClosedWallet) -> ClosedView {
        match closed.payout {
            None => ClosedView { paid_back: None, card_last4: None, pending: false },
            Some(p) => ClosedView {
                paid_back: Some(p.amount.into()),
                card_last4: Some(p.card_last4),
                pending: p.status == inkan_api::wallet::PayoutStatus::Pending,
            },
        }
    }
}

/// What the Activity screen filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Payment,
    Money,
    Security,
}

/// One line of the Activity screen: a notice of the live feed, in its place in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ActivityItem {
    pub seq: u64,
    pub at: String,
    pub category: Category,
    /// The amount the notice is about, formatted, when it is about one.
    pub amount: Option<Amount>,
    pub notice: Notice,
}

impl ActivityItem {
    pub fn new(seq: u64, at: OffsetDateTime, notice: Notice) -> ActivityItem {
        use Notice as N;
        let (category, amount) = match &notice {
            N::ChargePending { amount, currency, .. }
            | N::ChargeHeld { amount, currency, .. }
            | N::ChargeReviewDeclined { amount, currency, .. }
            | N::ChargeSucceeded { amount, currency, .. }
            | N::ChargeDeclined { amount, currency, .. }
            | N::ChargeExpired { amount, currency, .. } => (Category::Payment, Some(Amount::of(*amount, currency))),
            N::ChargeRefunded { amount, currency, .. }
            | N::TopUpSucceeded { amount, currency, .. }
            | N::TopUpFailed { amount, currency, .. }
            | N::WalletClosed { amount, currency, .. }
            | N::PayoutFailed { amount, currency, .. } => (Category::Money, Some(Amount::of(*amount, currency))),
            N::CardAdded { .. } => (Category::Money, None),
            N::CardVerificationFailed { .. } => (Category::Security, None),
            N::AccountCreated { .. }
            | N::SignedIn { .. }
            | N::DeviceAdded { .. }
            | N::DeviceRevoked { .. }
            | N::LimitsLowered { .. }
            | N::LimitsRaiseRequested { .. }
            | N::WalletFrozen { .. }
            | N::WalletUnfrozen
            | N::AccountHeld { .. }
            | N::AccountReleased
            | N::RecoveryCodeUsed { .. }
            | N::RecoveryCodesReplaced { .. }
            | N::RecoveryCodeRejected
            | N::PasskeyRejected { .. }
            | N::PasskeyAdded { .. }
            | N::PasskeyRemoved { .. }
            | N::SessionsEnded { .. }
            | N::DeviceJoinRequested { .. }
            | N::RegionRefused { .. }
            | N::TriesRunningOut { .. }
            | N::TriesLocked { .. } => (Category::Security, None),
        };
        ActivityItem { seq, at: timestamp(at), category, amount, notice }
    }
}

/// Where an exported history was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExportView {
    pub path: String,
    pub events: u64,
}

/// What the app tells the window as it happens (Tauri event `inkan://event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// A new line for the Activity screen (newest).
    Activity { item: ActivityItem },
    /// A charge waits for this wallet's answer: show the Confirm sheet.
    ChargePending { charge: ChargeView },
    /// A charge was answered or expired (maybe on another device): close its sheet.
    ChargeSettled { charge_id: String, status: String },
    /// The balance, limits or frozen state may have changed: fetch `status` again.
    WalletChanged,
    /// The live feed connected or dropped. `detail` says why it dropped.
    Connection { online: bool, detail: Option<String> },
    /// The live feed stopped for good (e.g. the history did not verify).
    FeedEnded { error: AppError },
    /// A join in progress on this device moved on.
    JoinProgress { join: JoinView },
    /// The wallet on this device was set up, signed out or removed: fetch `snapshot` again.
    ProfileChanged,
}
