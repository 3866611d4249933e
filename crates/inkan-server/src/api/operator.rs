//! The operator's kill switches, holds, unlocks, card flags and audit trail (`/v1/admin/...`, with
//! an operator key of the scope each needs); over `crate::operator`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::admin::{Hold, Lift, Suspend, Suspension};
use inkan_core::operator::Action;

use crate::audit;
use crate::auth::OperatorAuth;
use crate::error::{Json, Query, Result};
use crate::operator::{self, card_flags};
use crate::state::AppState;

/// What the operator has suspended
///
/// Every service suspended now, with why, by which operator key and since when.
#[utoipa::path(
    get,
    path = "/v1/admin/suspensions",
    operation_id = "list_suspensions",
    tag = "operator",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The suspensions in force (an empty list when none).", body = [inkan_api::admin::Suspension]),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// What is suspended now.
pub async fn list(State(app): State<AppState>, operator: OperatorAuth) -> Result<Json<Vec<Suspension>>> {
    Ok(Json(operator::suspensions(&app, &operator).await?))
}

/// Suspend a service for everyone
///
/// `charges`: new charges and confirmations of pending ones are refused with
/// `charges_suspended` (declines, refunds and expiry go on). `top_ups`: top-ups and card
/// registration, `top_ups_suspended`. `enrolment`: new wallets and new devices,
/// `enrolment_suspended`. Holds on every server instance of the database as soon as this answers.
/// Suspending again keeps the time and takes the new reason.
#[utoipa::path(
    put,
    path = "/v1/admin/suspensions/{service}",
    operation_id = "suspend",
    tag = "operator",
    security(("operator_key" = [])),
    params(("service" = String, Path, description = "`charges`, `top_ups` or `enrolment`.")),
    request_body = inkan_api::admin::Suspend,
    responses(
        (status = 200, description = "The suspension in force.", body = inkan_api::admin::Suspension),
        (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such service.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Suspends the service (a suspension already in place keeps its time and takes the new reason).
pub async fn suspend(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(service): Path<String>,
    Json(body): Json<Suspend>,
) -> Result<Json<Suspension>> {
    Ok(Json(operator::suspend(&app, &operator, &service, &body).await?))
}

/// Resume a service
///
/// The service runs again on every instance (also if it was not suspended).
#[utoipa::path(
    delete,
    path = "/v1/admin/suspensions/{service}",
    operation_id = "resume",
    tag = "operator",
    security(("operator_key" = [])),
    params(
        ("service" = String, Path, description = "`charges`, `top_ups` or `enrolment`."),
        ("reason" = Option<String>, Query, max_length = 200, description = "Why, for the audit trail (optional)."),
    ),
    responses(
        (status = 204, description = "The service runs."),
        (status = 400, description = "`invalid_request`: a reason over 200 characters or with control characters, or an unknown query parameter.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such service.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The service runs again (also if it was not suspended).
pub async fn resume(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(service): Path<String>,
    Query(lift): Query<Lift>,
) -> Result<StatusCode> {
    operator::resume(&app, &operator, &service, lift.reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hold one account
///
/// The account can no longer pay, confirm a charge, top up, add a card or take a new device
/// (`account_held`) until the hold is lifted; its shopper cannot lift it. The shopper gets an
/// `account_held` notice with the reason (none if the account was already held for the same
/// reason).
#[utoipa::path(
    put,
    path = "/v1/admin/accounts/{id}/hold",
    operation_id = "hold_account",
    tag = "operator",
    security(("operator_key" = [])),
    params(("id" = String, Path, description = "The account id (`acct_…`).")),
    request_body = inkan_api::admin::Hold,
    responses(
        (status = 204, description = "The account is on hold."),
        (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Puts the account on hold, with a notice to the shopper (none if it already was, with the same
// reason).
pub async fn hold(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(account_id): Path<String>,
    Json(body): Json<Hold>,
) -> Result<StatusCode> {
    operator::hold(&app, &operator, &account_id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift an account's hold
///
/// The shopper gets an `account_released` notice (none if there was no hold).
#[utoipa::path(
    delete,
    path = "/v1/admin/accounts/{id}/hold",
    operation_id = "release_account",
    tag = "operator",
    security(("operator_key" = [])),
    params(
        ("id" = String, Path, description = "The account id (`acct_…`)."),
        ("reason" = Option<String>, Query, max_length = 200, description = "Why, for the audit trail (optional)."),
    ),
    responses(
        (status = 204, description = "The account is not on hold."),
        (status = 400, description = "`invalid_request`: a reason over 200 characters or with control characters, or an unknown query parameter.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such account.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Lifts the hold, with a notice to the shopper (none if there was no hold).
pub async fn release(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(account_id): Path<String>,
    Query(lift): Query<Lift>,
) -> Result<StatusCode> {
    operator::release(&app, &operator, &account_id, lift.reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a lock of failed tries
///
/// Five failed tries lock: card details, for a wallet, a device, a client address (which also
/// unlocks itself an hour after its last failure) and a card number in every wallet; passkeys,
/// for a device and an address; recovery codes, for a wallet and an address (passkey and
/// recovery-code locks also end 30 minutes after the last failure). This forgets the failures
/// of every secret against one wallet, device, address or card number. A card number is keyed
/// as the server keys it, and is neither stored nor logged.
#[utoipa::path(
    post,
    path = "/v1/admin/unlock",
    operation_id = "unlock",
    tag = "operator",
    security(("operator_key" = [])),
    request_body = inkan_api::admin::Unlock,
    responses(
        (status = 200, description = "Done; `unlocked` says whether there were failures on record.", body = inkan_api::admin::Unlocked),
        (status = 400, description = "`invalid_request`: not exactly one of `account`, `device`, `address` and `card_number`, or one malformed, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Lifts the locks of failed tries (`attempts`) of a wallet, a device, a client address or a card
// number, for every secret. Exactly one; the card number is keyed as the server keys it and never
// kept.
pub async fn unlock(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Json(body): Json<inkan_api::admin::Unlock>,
) -> Result<Json<inkan_api::admin::Unlocked>> {
    Ok(Json(operator::unlock(&app, &operator, &body).await?))
}

/// Cards seen in several wallets
///
/// A card (by the funding provider's fingerprint) verified in as many wallets as
/// `--max-accounts-per-card` allows (default 1) is declined in any other with `card_declined`,
/// as stolen card lists are used through many fresh wallets. This lists each such card, newest
/// refusal first (at most 200), with every wallet it is in or was refused in.
#[utoipa::path(
    get,
    path = "/v1/admin/flags",
    operation_id = "flags",
    tag = "operator",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The flagged cards.", body = inkan_api::admin::CardFlags),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Cards refused because they are verified in other wallets.
pub async fn flags(State(app): State<AppState>, operator: OperatorAuth) -> Result<Json<inkan_api::admin::CardFlags>> {
    operator.allow(Action::ListFlags)?;
    Ok(Json(inkan_api::admin::CardFlags { flags: card_flags(&app.db).await? }))
}

/// The operator audit trail
///
/// Every operator action (suspend, resume, hold, release, unlock, over this API or on the
/// server's command line) and every card the server flagged: who, when, what, on what, and
/// why; newest first, at most 500. Needs the `read` scope.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    operation_id = "audit",
    tag = "operator",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The audit trail.", body = inkan_api::admin::AuditTrail),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Every operator action, newest first (`audit`).
pub async fn audit_trail(
    State(app): State<AppState>,
    operator: OperatorAuth,
) -> Result<Json<inkan_api::admin::AuditTrail>> {
    operator.allow(Action::ListAudit)?;
    Ok(Json(inkan_api::admin::AuditTrail { entries: audit::list(&app.db).await? }))
}
