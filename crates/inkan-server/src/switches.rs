//! The operator's switches as a request meets them: a suspended service (`admin suspend`) and an
//! account on hold (`admin hold`) refuse what they cover. The operator's side (setting and lifting
//! them) is `operator`.

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;

use crate::error::{AppError, Result};
use crate::state::AppState;

fn suspended(service: Service) -> AppError {
    let (code, message) = match service {
        Service::Charges => (ErrorCode::ChargesSuspended, "the operator has suspended charges; nothing was charged"),
        Service::TopUps => (ErrorCode::TopUpsSuspended, "the operator has suspended top-ups and card registration"),
        Service::Enrolment => (ErrorCode::EnrolmentSuspended, "the operator has suspended new wallets and devices"),
    };
    // 403, not 503: a client must not retry by itself until the operator lifts it.
    AppError::new(StatusCode::FORBIDDEN, code, message)
}

/// `account_held`: the operator has put the account on hold.
pub fn held() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::AccountHeld,
        "Inkan has put this account on hold: no payment, top-up or new device until it is lifted; contact support",
    )
}

/// Fails with the service's `*_suspended` error while the operator has it suspended.
pub async fn ensure_running<'c>(conn: impl sqlx::Executor<'c, Database = sqlx::Any>, service: Service) -> Result<()> {
    if crate::store::suspensions::is_suspended(conn, service).await? { Err(suspended(service)) } else { Ok(()) }
}

/// Fails with `account_held` while the operator holds the account (and `not_found` if there is no
/// such account).
pub async fn ensure_not_held<'c>(conn: impl sqlx::Executor<'c, Database = sqlx::Any>, account_id: &str) -> Result<()> {
    match crate::store::accounts::hold(conn, account_id).await? {
        None => Err(AppError::not_found("account")),
        Some(Some(_)) => Err(held()),
        Some(None) => Ok(()),
    }
}

/// The service and the account checks of a request made for `account_id`, on the pool.
pub async fn ensure_allowed(app: &AppState, service: Service, account_id: &str) -> Result<()> {
    ensure_running(app.db.reads(), service).await?;
    ensure_not_held(app.db.reads(), account_id).await
}
