//! The merchant API (the external contract of `shared/BRIEF.md`; keep it stable).

use inkan_core::{ChargeStatus, Currency};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `POST /v1/charges`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCharge {
    pub payment_code: String,
    /// In the currency's minor unit (JPY has none: 1280 is ¥1,280).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000_000))]
    pub amount: i64,
    pub currency: Currency,
    /// At most 200 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub description: Option<String>,
}

/// A charge as the merchant sees it. It never says who the shopper is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Charge {
    pub id: String,
    pub status: ChargeStatus,
    pub amount: i64,
    pub currency: Currency,
    /// Always present; `null` when the terminal sent none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    pub merchant_id: String,
    pub merchant_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a `pending_confirmation` charge expires if the shopper does nothing.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When the shopper confirmed or declined, or the charge expired; `null` while pending.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub decided_at: Option<OffsetDateTime>,
    /// `null` unless refunded.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub refunded_at: Option<OffsetDateTime>,
}

/// `POST /v1/charges/{id}/refund` (the whole amount; the body may be empty: `{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundCharge {}
