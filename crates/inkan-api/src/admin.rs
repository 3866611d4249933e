//! The operator API (`/v1/admin/...`, with an operator key): the kill switches of brief rule 7.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What the operator can suspend for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// New charges, and confirmations of pending ones.
    Charges,
    /// Top-ups and card registration.
    TopUps,
    /// New wallets, and new devices joining a wallet.
    Enrolment,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Charges, Service::TopUps, Service::Enrolment];

    /// The name in paths and in the database: `charges`, `top_ups`, `enrolment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Charges => "charges",
            Service::TopUps => "top_ups",
            Service::Enrolment => "enrolment",
        }
    }

    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// `PUT /v1/admin/suspensions/{service}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Why: 1 to 200 characters, no control characters. Kept with the suspension.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// A service suspended now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspension {
    pub service: Service,
    pub reason: String,
    /// The operator key that suspended it (or last changed its reason).
    pub operator_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// `PUT /v1/admin/accounts/{id}/hold`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// Why, for the shopper: it is shown in their live feed. 1 to 200 characters, no control
    /// characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

/// `POST /v1/admin/unlock`: lifts a lock of failed card tries. Exactly one of the three.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    /// An account id: its wallet's passkeys, recovery codes and cards.
    #[serde(default)]
    pub account: Option<String>,
    /// A device id (`dev_…`).
    #[serde(default)]
    pub device: Option<String>,
    /// A client address as the server saw it (an IPv6 address stands for its /64).
    #[serde(default)]
    pub address: Option<String>,
    /// A card number (12 to 19 digits; spaces and dashes are ignored). Used to find its counter
    /// and forgotten: never stored or logged.
    #[serde(default)]
    pub card_number: Option<String>,
    /// Why, for the audit trail (at most 200 characters, no control characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub reason: Option<String>,
}

/// The query of `DELETE /v1/admin/suspensions/{service}` and `DELETE /v1/admin/accounts/{id}/hold`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lift {
    /// Why, for the audit trail (at most 200 characters, no control characters).
    #[serde(default)]
    pub reason: Option<String>,
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlock")
            .field("account", &self.account)
            .field("device", &self.device)
            .field("address", &self.address)
            .field("card_number", &self.card_number.as_ref().map(|_| "***"))
            .field("reason", &self.reason)
            .finish()
    }
}

/// What `POST /v1/admin/unlock` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unlocked {
    /// Whether there were failures on record to forget.
    pub unlocked: bool,
}

/// Cards refused in a wallet because they are verified in as many others as allowed: what
/// `GET /v1/admin/flags` lists, newest refusal first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardFlags {
    pub flags: Vec<CardFlag>,
}

/// One card seen in several wallets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardFlag {
    /// The funding provider's fingerprint of the card (never its number).
    pub fingerprint: String,
    pub brand: String,
    pub last4: String,
    /// Every wallet the card is in or was refused in, oldest first.
    pub accounts: Vec<FlaggedAccount>,
}

/// One wallet a flagged card was added to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlaggedAccount {
    pub account_id: String,
    /// `verified`, `challenge_required` (waiting for its code) or `refused` (this flag's reason).
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: time::OffsetDateTime,
}

/// The operator audit trail, newest first (`GET /v1/admin/audit`, at most 500 entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditTrail {
    pub entries: Vec<AuditEntry>,
}

/// One operator action: who, when, what, on what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Grows with every entry.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The operator key's id; `command line` for `inkan-server admin ...` on the database; `inkan`
    /// for the server itself (a card flagged).
    pub operator_id: String,
    /// `suspend`, `resume`, `hold`, `release`, `unlock`, `approve_charge`, `decline_charge` or
    /// `card_flagged`.
    pub action: String,
    /// What it was done to: a service, an account, a device, an address, a card.
    pub subject: String,
    /// Why, as given (empty when the operator gave none: lifting a suspension, a hold or a lock
    /// takes an optional reason).
    pub reason: String,
}

/// Charges held for review by a velocity rule, oldest first: what `GET /v1/admin/reviews` lists
/// (at most 500).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldCharges {
    pub charges: Vec<HeldCharge>,
}

/// One charge waiting for the operator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldCharge {
    pub charge_id: String,
    pub account_id: String,
    /// The device whose payment code made the charge.
    pub device_id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    /// The country of the terminal that made the charge.
    pub terminal_country: String,
    /// In minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// The rule that held it: `many_charges`, `top_up_then_spend`, `two_countries` or
    /// `new_device_first_charge`.
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires unless decided.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `POST /v1/admin/reviews/{charge_id}/approve` and `.../decline`: the decision's why, for the
/// audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// Why: 1 to 200 characters, no control characters. Kept in the audit trail, never shown to
    /// the shopper.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_round_trip_and_match_serde() {
        for service in Service::ALL {
            assert_eq!(Service::parse(service.as_str()), Some(service));
            assert_eq!(serde_json::to_value(service).unwrap(), service.as_str());
        }
        assert_eq!(Service::parse("Charges"), None);
        assert_eq!(Service::parse(""), None);
    }

    #[test]
    fn bodies_refuse_unknown_fields() {
        assert!(serde_json::from_str::<Suspend>(r#"{"reason": "x", "until": 5}"#).is_err());
        assert!(serde_json::from_str::<Hold>(r#"{}"#).is_err());
    }
}

/// `POST /v1/admin/wind-down`: close the next wallets (by id, after `after`) for good, each
/// balance paid back to the first card that topped it up. Run again with the answer's `next` until
/// it is `null`; a run stopped anywhere is resumed by starting again (closed wallets are skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WindDown {
    /// Why: 1 to 200 characters, no control characters. Kept in the audit trail.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub reason: String,
    /// The last wallet id of the previous batch.
    #[serde(default)]
    pub after: Option<String>,
}

/// A wallet the wind-down could not close, and why (no card that topped it up can take the money back, open payments, a hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotClosed {
    pub account_id: String,
    pub reason: String,
}

/// What one batch of a wind-down did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindDownBatch {
    /// Wallets looked at.
    pub wallets: u32,
    /// Closed, empty or paid back.
    pub closed: u32,
    /// Paid back to cards, in yen.
    pub paid_out: i64,
    /// Pay-outs still waiting for the provider's answer (the reconciler settles them), in yen.
    pub waiting: i64,
    /// Not closed in this batch, and why.
    pub not_closed: Vec<NotClosed>,
    /// Where the next batch starts; `null` when this was the last.
    pub next: Option<String>,
}

/// `GET /v1/admin/wind-down`: where the money stands, summed from the accounts and checked
/// against the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindDownReport {
    /// Wallets not closed yet.
    pub open_wallets: u64,
    /// What the wallets still hold, in yen (a closed one holds nothing).
    pub left_in_wallets: i64,
    /// Paid back to cards, in yen (every pay-out that succeeded).
    pub paid_out: i64,
    /// On its way to cards, in yen.
    pub waiting: i64,
    /// The wallets' books in the ledger, summed: equal to `left_in_wallets` when every movement
    /// is in the ledger.
    pub ledger_wallet_books: i64,
}
