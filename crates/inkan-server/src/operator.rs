//! The operator's kill switches (brief rule 7): suspend charges, top-ups or enrolment for
//! everyone, or put one account on hold.
//!
//! A switch is a row in the database, and every request it stops reads that row itself: there is
//! no cache to refresh, so a switch holds on every server instance of the database from the
//! moment it commits (the rule asks for within 1 s).
//!
//! - `charges`: new charges (`POST /v1/charges`) and confirmations of pending ones. Declines,
//!   refunds and the expiry of pending charges go on: they move no money to a merchant.
//! - `top_ups`: top-ups and card registration (adding a card, its verification code).
//! - `enrolment`: new wallets and new devices joining a wallet. Sign-in goes on.
//! - An account on hold can neither pay, top up, add a card nor take a new device, until the
//!   operator lifts the hold; the shopper cannot. The shopper is told why, in the live feed.
//!
//! The operator calls `/v1/admin/...` with an operator key (`inkan-server admin operator
//! create`); the keys are stored as hashes, like terminal keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::{Hold, Lift, Service, Suspend, Suspension};
use inkan_api::feed::Notice;
use inkan_core::operator::Action;
use sqlx::Row;

use crate::audit::{self, Entry};
use crate::auth::OperatorAuth;
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Json, Query, Result};
use crate::feed;
use crate::state::AppState;

/// The longest reason the operator may give (it reaches the shopper for a hold).
pub const MAX_REASON_CHARS: usize = 200;

/// An operator's optional why (lifting a suspension, a hold or a lock): empty when none is given,
/// otherwise checked as [`reason`].
pub fn optional_reason(text: Option<&str>) -> Result<String> {
    match text.map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(text) => reason(text),
    }
}

/// An operator's why, checked: 1 to [`MAX_REASON_CHARS`] characters, no control characters.
pub fn reason(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("reason: say why (it is kept, and shown to the shopper for a hold)"));
    }
    if text.chars().count() > MAX_REASON_CHARS || text.chars().any(char::is_control) {
        return Err(AppError::invalid(format!("reason: at most {MAX_REASON_CHARS} characters, no control characters")));
    }
    Ok(text.to_owned())
}

fn service_of(path: &str) -> Result<Service> {
    Service::parse(path).ok_or_else(|| {
        AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such service: charges, top_ups or enrolment")
    })
}

fn suspension(row: &sqlx::any::AnyRow) -> Result<Suspension> {
    let service: String = row.try_get("service")?;
    Ok(Suspension {
        service: Service::parse(&service).ok_or_else(|| AppError::internal(format!("unknown service {service:?}")))?,
        reason: row.try_get("reason")?,
        operator_id: row.try_get("operator_id")?,
        since: from_ms(row.try_get("since")?),
    })
}

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
    operator.allow(Action::ListSuspensions)?;
    let rows = sqlx::query("SELECT service, reason, operator_id, since FROM suspensions ORDER BY service")
        .fetch_all(app.db.pool())
        .await?;
    rows.iter().map(suspension).collect::<Result<Vec<_>>>().map(Json)
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
    operator.allow(Action::Suspend)?;
    let service = service_of(&service)?;
    let reason = reason(&body.reason)?;
    let mut tx = app.db.begin().await?;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Suspend.as_str(),
        subject: service.as_str(),
        reason: &reason,
    };
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    let row = sqlx::query(
        "INSERT INTO suspensions (service, reason, operator_id, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (service) DO UPDATE SET reason = excluded.reason, operator_id = excluded.operator_id \
         RETURNING service, reason, operator_id, since",
    )
    .bind(service.as_str())
    .bind(&reason)
    .bind(&operator.operator_id)
    .bind(to_ms(app.clock.now()))
    .fetch_one(tx.conn())
    .await?;
    tx.commit(&app.hub).await?;
    tracing::warn!(service = service.as_str(), operator = %operator.operator_id, %reason, "service suspended");
    suspension(&row).map(Json)
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
    operator.allow(Action::Resume)?;
    let service = service_of(&service)?;
    let why = optional_reason(lift.reason.as_deref())?;
    let mut tx = app.db.begin().await?;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Resume.as_str(),
        subject: service.as_str(),
        reason: &why,
    };
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    let done =
        sqlx::query("DELETE FROM suspensions WHERE service = $1").bind(service.as_str()).execute(tx.conn()).await?;
    tx.commit(&app.hub).await?;
    if done.rows_affected() > 0 {
        tracing::warn!(service = service.as_str(), operator = %operator.operator_id, "service resumed");
    }
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
    operator.allow(Action::Hold)?;
    let reason = reason(&body.reason)?;
    let mut tx = app.db.begin().await?;
    let changed = set_held(&mut tx, &app, &account_id, Some(&reason)).await;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Hold.as_str(),
        subject: &account_id,
        reason: &reason,
    };
    let changed = audited(&mut tx, &app, entry, changed).await;
    finish(tx, &app, changed).await?;
    tracing::warn!(account = %account_id, operator = %operator.operator_id, %reason, "account held");
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
    operator.allow(Action::Release)?;
    let why = optional_reason(lift.reason.as_deref())?;
    let mut tx = app.db.begin().await?;
    let changed = set_held(&mut tx, &app, &account_id, None).await;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Release.as_str(),
        subject: &account_id,
        reason: &why,
    };
    let changed = audited(&mut tx, &app, entry, changed).await;
    finish(tx, &app, changed).await?;
    tracing::warn!(account = %account_id, operator = %operator.operator_id, "account hold lifted");
    Ok(StatusCode::NO_CONTENT)
}

/// `entry` written in `tx` if the action went through (`changed` is its outcome).
async fn audited(tx: &mut Tx, app: &AppState, entry: Entry<'_>, changed: Result<bool>) -> Result<bool> {
    let changed = changed?;
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    Ok(changed)
}

async fn finish(tx: Tx, app: &AppState, changed: Result<bool>) -> Result<()> {
    match changed {
        Ok(_) => tx.commit(&app.hub).await.map_err(AppError::from),
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// Sets or clears the hold inside `tx`, with a notice if it changed; `not_found` for an unknown
/// account.
async fn set_held(tx: &mut Tx, app: &AppState, account_id: &str, reason: Option<&str>) -> Result<bool> {
    if account_id.len() > 64 {
        return Err(AppError::not_found("account"));
    }
    // Takes the account row first (its lock on PostgreSQL), with the head of its history.
    let before =
        sqlx::query(&format!("UPDATE accounts SET held = held WHERE id = $1 RETURNING held, {}", feed::HEAD_COLUMNS))
            .bind(account_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
    if before.try_get::<Option<String>, _>("held")?.as_deref() == reason {
        return Ok(false);
    }
    sqlx::query("UPDATE accounts SET held = $1 WHERE id = $2").bind(reason).bind(account_id).execute(tx.conn()).await?;
    let notice = match reason {
        Some(reason) => Notice::AccountHeld { reason: reason.to_owned() },
        None => Notice::AccountReleased,
    };
    feed::append_at(tx, &app.issuer, feed::Head::of(&before)?, account_id, &notice, app.clock.now()).await?;
    if reason.is_some() {
        // Whoever is signed in, the shopper or someone with their session, starts again from a
        // passkey sign-in, and sees the hold there.
        crate::freezing::end_sessions_because(tx, app, account_id, crate::auth::Ending::All, "account_held").await?;
    }
    Ok(true)
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
    use inkan_core::attempts::Against;
    operator.allow(Action::Unlock)?;
    let why = optional_reason(body.reason.as_deref())?;
    let id_ok = |id: &str| !id.is_empty() && id.len() <= 64;
    let given = (body.account.as_deref(), body.device.as_deref(), body.address.as_deref(), body.card_number.as_deref());
    let (against, subject) = match given {
        (Some(account), None, None, None) if id_ok(account) => (Against::Account, account.to_owned()),
        (None, Some(device), None, None) if id_ok(device) => (Against::Device, device.to_owned()),
        (None, None, Some(address), None) => {
            let address = address.trim().parse().map_err(|_| AppError::invalid("address: an IPv4 or IPv6 address"))?;
            (Against::Address, crate::tries::address_subject(address))
        }
        (None, None, None, Some(number)) => {
            let digits = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>();
            if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(AppError::invalid("card_number: 12 to 19 digits"));
            }
            (Against::CardNumber, crate::tries::card_number_key(&app.issuer, &digits))
        }
        _ => return Err(AppError::invalid("give exactly one of account, device (ids), address or card_number")),
    };
    let by = crate::attempts::Unlocker { operator_id: &operator.operator_id, reason: &why };
    let unlocked = crate::attempts::unlock(&app.db, against, &subject, by, app.clock.now()).await?;
    tracing::warn!(against = against.as_str(), operator = %operator.operator_id, unlocked, "failed tries unlocked");
    Ok(Json(inkan_api::admin::Unlocked { unlocked }))
}

/// How many flags `GET /v1/admin/flags` lists at most (the newest).
pub const MAX_FLAGS: i64 = 200;

/// The cards refused in a wallet because they are verified in others, newest refusal first, with
/// every wallet each is in (`funding`, `inkan_core::cards`).
pub async fn card_flags(db: &crate::db::Db) -> Result<Vec<inkan_api::admin::CardFlag>> {
    use inkan_api::admin::{CardFlag, FlaggedAccount};
    let flagged: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fingerprint, MAX(created_at) AS refused_at FROM cards WHERE status = 'blocked' \
         GROUP BY fingerprint ORDER BY refused_at DESC, fingerprint LIMIT $1",
    )
    .bind(MAX_FLAGS)
    .fetch_all(db.pool())
    .await?;
    let mut flags = Vec::with_capacity(flagged.len());
    for (fingerprint, _) in flagged {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT account_id, status, brand, last4, created_at FROM cards \
             WHERE fingerprint = $1 AND status IN ('verified', 'challenge_required', 'blocked') \
             ORDER BY created_at, CASE WHEN status = 'blocked' THEN 1 ELSE 0 END, id",
        )
        .bind(&fingerprint)
        .fetch_all(db.pool())
        .await?;
        let Some((_, _, brand, last4, _)) = rows.first().cloned() else { continue };
        let accounts = rows
            .into_iter()
            .map(|(account_id, status, _, _, at)| FlaggedAccount {
                account_id,
                status: if status == "blocked" { "refused".to_owned() } else { status },
                added_at: from_ms(at),
            })
            .collect();
        flags.push(CardFlag { fingerprint, brand, last4, accounts });
    }
    Ok(flags)
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
