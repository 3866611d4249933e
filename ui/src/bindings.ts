// Generated from the Rust types in crates/inkan-app/src/view.rs (and inkan-api's Notice) by
// `INKAN_BLESS=1 cargo test -p inkan-app bindings`. Do not edit by hand.

export type Amount = { 
/**
 * Minor units (yen have none): `1280`.
 */
minor: number, currency: string, 
/**
 * `¥1,280`
 */
en: string, 
/**
 * `1,280円`
 */
ja: string, };

export type ProfileView = { account_id: string, device_id: string, display_name: string, server: string, 
/**
 * Which passkey this device confirms with, in words.
 */
passkey: string, 
/**
 * The software passkey: fine for a demo, never for real money. The UI says so.
 */
insecure_passkey: boolean, };

export type Defaults = { server: string, origin: string, device_name: string, };

export type AppSnapshot = { 
/**
 * `null` until a wallet is set up on this device.
 */
profile: ProfileView | null, 
/**
 * Whether the live feed is connected. Payment codes work either way.
 */
online: boolean, 
/**
 * Why the wallet on this device cannot be opened (e.g. the OS keystore is locked).
 */
problem: AppError | null, defaults: Defaults, };

export type ErrorCode = "payment_code_invalid" | "payment_code_expired" | "payment_code_used" | "limit_exceeded" | "insufficient_funds" | "wallet_frozen" | "charges_suspended" | "top_ups_suspended" | "enrolment_suspended" | "account_held" | "region_blocked" | "unauthorized" | "forbidden" | "invalid_request" | "payload_too_large" | "idempotency_conflict" | "not_found" | "invalid_state" | "passkey_rejected" | "step_up_required" | "ceremony_expired" | "card_declined" | "card_locked" | "attempts_locked" | "device_revoked" | "unfreeze_not_allowed" | "too_many_requests" | "request_timeout" | "overloaded" | "internal";

export type DeviceErrorCode = "unreachable" | "protocol" | "keystore" | "passkey" | "biometric_cancelled" | "biometric_not_enrolled" | "biometric_unavailable" | "passkey_invalidated" | "biometric_lockout" | "passkey_missing" | "key_store_failed" | "profile" | "device_key_missing" | "history_changed" | "invalid_input" | "no_wallet" | "export" | "qr" | "unknown";

export type AppErrorCode = ErrorCode | DeviceErrorCode;

export type AppError = { code: AppErrorCode, message: string, 
/**
 * After a failed try of a card's details, a passkey or a recovery code: one try is left
 * before it is locked (the shopper is warned), or none.
 */
tries_left?: number, 
/**
 * When a lock of failed tries ends (RFC 3339), for a lock that ends on its own.
 */
locked_until?: string, };

export type EnrollInput = { server: string, 
/**
 * The passkey origin; empty means the server's own address.
 */
origin: string, display_name: string, device_name: string, };

export type Enrolled = { profile: ProfileView, recovery_codes: Array<string>, };

export type JoinInput = { server: string, origin: string, account_id: string, device_name: string, 
/**
 * Joins at once (and uses the code up); empty means "ask my other device".
 */
recovery_code: string, };

export type RecoveryFreezeInput = { server: string, account_id: string, recovery_code: string, };

export type PaymentCodeView = { 
/**
 * The code as text (what the QR holds), for a screen reader or a terminal without a camera.
 */
text: string, 
/**
 * The QR code as an SVG document, drawn sharp at any size.
 */
svg: string, qr_version: number, 
/**
 * Milliseconds from now until the next code should be shown.
 */
refresh_in_ms: number, 
/**
 * Milliseconds from now until this code stops being accepted.
 */
expires_in_ms: number, };

export type ChargeView = { id: string, 
/**
 * `pending_confirmation`, `held_for_review`, `succeeded`, `declined`, `expired`, `refunded`.
 */
status: string, amount: Amount, merchant_name: string, description: string | null, created_at: string, expires_at: string, };

export type LimitsView = { per_charge: Amount, daily: Amount, monthly: Amount, spent_today: Amount, spent_this_month: Amount, 
/**
 * The largest charge that would pass now from this device.
 */
remaining: Amount, pending: PendingRaiseView | null, };

export type PendingRaiseView = { per_charge: Amount, daily: Amount, monthly: Amount, effective_at: string, 
/**
 * Milliseconds from now until the raise applies (by the server's clock).
 */
effective_in_ms: number, };

export type LimitsInput = { per_charge: number, daily: number, monthly: number, };

export type WalletView = { display_name: string, balance: Amount, frozen: boolean, 
/**
 * Why the operator has put the account on hold; `null` when it is not on hold.
 */
held: string | null, limits: LimitsView, };

export type DeviceView = { id: string, name: string, active: boolean, enrolled_at: string, 
/**
 * When its passkey was registered; `None` once it has none (a removed device).
 */
passkey_added_at: string | null, this_device: boolean, };

export type JoinView = { join_id: string, 
/**
 * `awaiting_device`, `awaiting_approval`, `approved`, `completed`, `rejected`, `expired`.
 */
state: string, device_name: string | null, 
/**
 * The joining device's key fingerprint (`XXXX-XXXX-XXXX-XXXX`): the joining device shows it,
 * and the approving one shows it beside the name, so the person can compare them.
 */
device_fingerprint: string | null, expires_at: string, };

export type CardView = { id: string, brand: string, last4: string, 
/**
 * `challenge_required`, `verified`, `failed`, `locked`.
 */
status: string, };

export type CardInput = { number: string, exp_month: number, exp_year: number, cvc: string, };

export type TopUpView = { amount: Amount, balance: Amount, 
/**
 * The card provider has not answered yet: the money is added when it does (the Activity
 * feed says so), and nothing is charged twice.
 */
pending: boolean, };

export type ClosedView = { 
/**
 * What was paid back; `None` if the wallet was empty.
 */
paid_back: Amount | null, card_last4: string | null, 
/**
 * The card provider has not confirmed the pay-out yet (the Activity feed says when).
 */
pending: boolean, };

export type Category = "payment" | "money" | "security";

export type ActivityItem = { seq: number, at: string, category: Category, 
/**
 * The amount the notice is about, formatted, when it is about one.
 */
amount: Amount | null, notice: Notice, };

export type ExportView = { path: string, events: number, };

export type AppEvent = { "type": "activity", item: ActivityItem, } | { "type": "charge_pending", charge: ChargeView, } | { "type": "charge_settled", charge_id: string, status: string, } | { "type": "wallet_changed" } | { "type": "connection", online: boolean, detail: string | null, } | { "type": "feed_ended", error: AppError, } | { "type": "join_progress", join: JoinView, } | { "type": "profile_changed" };

export type Notice = { "kind": "charge_pending", charge_id: string, amount: number, currency: string, merchant_name: string, } | { "kind": "charge_held", charge_id: string, amount: number, currency: string, merchant_name: string, reason: string, } | { "kind": "charge_review_declined", charge_id: string, amount: number, currency: string, merchant_name: string, } | { "kind": "charge_succeeded", charge_id: string, amount: number, currency: string, merchant_name: string, } | { "kind": "charge_declined", charge_id: string, amount: number, currency: string, merchant_name: string, not_me: boolean, } | { "kind": "charge_expired", charge_id: string, amount: number, currency: string, merchant_name: string, } | { "kind": "charge_refunded", charge_id: string, amount: number, currency: string, merchant_name: string, } | { "kind": "top_up_succeeded", topup_id: string, amount: number, currency: string, card_last4: string, } | { "kind": "top_up_failed", amount: number, currency: string, card_last4: string, reason: string, } | { "kind": "card_added", card_id: string, brand: string, last4: string, verified: boolean, } | { "kind": "card_verification_failed", last4: string, locked: boolean, } | { "kind": "account_created", display_name: string, } | { "kind": "signed_in", 
/**
 * `null` when the session was opened without naming an enrolled device.
 */
device_id: string | null, } | { "kind": "device_added", device_id: string, name: string, } | { "kind": "device_revoked", device_id: string, name: string, } | { "kind": "limits_lowered", per_charge: number, daily: number, monthly: number, } | { "kind": "limits_raise_requested", per_charge: number, daily: number, monthly: number, effective_at: string, } | { "kind": "wallet_frozen", by: string, } | { "kind": "wallet_closed", reason: string, amount: number, currency: string, card_last4: string | null, } | { "kind": "payout_failed", amount: number, currency: string, card_last4: string, reason: string, } | { "kind": "wallet_unfrozen" } | { "kind": "account_held", reason: string, } | { "kind": "account_released" } | { "kind": "recovery_code_used", remaining: number, } | { "kind": "recovery_codes_replaced", count: number, } | { "kind": "recovery_code_rejected" } | { "kind": "passkey_rejected", device_id: string | null, during: string, } | { "kind": "passkey_added", device_id: string, } | { "kind": "passkey_removed", device_id: string, count: number, } | { "kind": "sessions_ended", count: number, reason: string, } | { "kind": "device_join_requested", join_id?: string, name: string, fingerprint?: string, } | { "kind": "region_refused", during: string, country: string | null, } | { "kind": "tries_running_out", secret: string, left: number, } | { "kind": "tries_locked", secret: string, until: string | null, };
