//! The HTTP surface: routes, admission (load limits), body limit, tracing, and the fallback for
//! unknown paths.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use inkan_api::ErrorCode;
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;
use crate::{
    accounts, charges, devices, feed, funding, operator, payouts, recovery, refusals, review, topups, wallet, wind_down,
};

/// Every route of the API on one listener: the public API and the operator's.
pub fn router(state: AppState) -> Router {
    with_layers(public_routes().merge(operator_routes()), state)
}

/// The public API only: what shoppers' devices and terminals call. The operator's routes are
/// unknown here (`404`), as when the operator API has its own listener (`serve --admin-listen`).
pub fn public_router(state: AppState) -> Router {
    with_layers(public_routes(), state)
}

/// The operator API only (the kill switches), with `/healthz`, for a listener kept off the
/// internet.
pub fn operator_router(state: AppState) -> Router {
    with_layers(Router::new().route("/healthz", get(healthz)).merge(operator_routes()), state)
}

fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(crate::openapi::document))
        // Merchant API
        .route("/v1/charges", post(charges::create))
        .route("/v1/charges/{id}", get(charges::get))
        .route("/v1/charges/{id}/refund", post(charges::refund))
        // Accounts and sessions
        .route("/v1/accounts/registration", post(accounts::begin_registration))
        .route("/v1/accounts", post(accounts::finish_registration))
        .route("/v1/sessions/challenge", post(accounts::begin_sign_in))
        .route("/v1/sessions", post(accounts::finish_sign_in))
        .route("/v1/sessions/current", delete(accounts::sign_out))
        .route("/v1/accounts/{id}/freeze", post(devices::freeze_with_recovery_code))
        // A new device joining a wallet
        .route("/v1/device-joins", post(devices::begin))
        .route("/v1/device-joins/{id}", get(devices::show))
        .route("/v1/device-joins/{id}/device", post(devices::submit))
        .route("/v1/device-joins/{id}/passkey/challenge", post(devices::passkey_challenge))
        .route("/v1/device-joins/{id}/passkey", post(devices::finish))
        // Wallet
        .route("/v1/wallet/device-joins", get(devices::waiting))
        .route("/v1/wallet/device-joins/{id}/approve", post(devices::approve))
        .route("/v1/wallet", get(wallet::show))
        .route("/v1/wallet/step-up", post(accounts::begin_step_up))
        .route("/v1/wallet/limits", put(wallet::set_limits))
        .route("/v1/wallet/freeze", post(wallet::freeze))
        .route("/v1/wallet/unfreeze", post(wallet::unfreeze))
        .route("/v1/wallet/unfreeze/recovery-code", post(recovery::unfreeze))
        .route("/v1/wallet/recovery-codes", post(recovery::replace))
        .route("/v1/wallet/devices", get(wallet::devices))
        .route("/v1/wallet/devices/{id}/remove", post(wallet::revoke_device))
        .route("/v1/wallet/charges/pending", get(charges::pending))
        .route("/v1/wallet/charges/{id}/confirm", post(charges::confirm))
        .route("/v1/wallet/charges/{id}/decline", post(charges::decline))
        .route("/v1/wallet/cards", get(funding::list_cards).post(funding::add_card))
        .route("/v1/wallet/cards/{id}/verify", post(funding::verify_card))
        .route("/v1/wallet/topups", post(topups::top_up))
        .route("/v1/wallet/close", post(payouts::close_wallet))
        .route("/v1/wallet/feed", get(feed::stream))
        .route("/v1/wallet/history", get(feed::export))
        .route("/v1/issuer-keys", get(feed::issuer_keys))
}

/// The kill switches, holds, locks, flags, the audit trail and the review of held charges.
fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/suspensions", get(operator::list))
        .route("/v1/admin/suspensions/{service}", put(operator::suspend).delete(operator::resume))
        .route("/v1/admin/accounts/{id}/hold", put(operator::hold).delete(operator::release))
        .route("/v1/admin/unlock", post(operator::unlock))
        .route("/v1/admin/flags", get(operator::flags))
        .route("/v1/admin/audit", get(operator::audit_trail))
        .route("/v1/admin/reviews", get(review::list))
        .route("/v1/admin/reviews/{id}/approve", post(review::approve))
        .route("/v1/admin/reviews/{id}/decline", post(review::decline))
        .route("/v1/admin/wind-down", get(wind_down::report).post(wind_down::batch))
}

/// What every listener's requests pass through: the 404 fallback, the JSON shape of every error
/// answer (`json_errors`), the refusal notices, the
/// client's origin (`origin::identify`), admission
/// (load limits and the request timeout), the server-time header, the body limit, the body's
/// deadline (`408` for a body sent too slowly) and tracing.
fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    let body_timeout = state.settings.load.body_timeout;
    routes
        .fallback(not_found)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), refusals::record))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::origin::identify))
        .layer(axum::middleware::from_fn_with_state(state.admission.clone(), crate::admission::admit))
        .layer(axum::middleware::map_response_with_state(state.clone(), stamp_server_time))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(body_timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Every response says what time the server thinks it is, so a device can issue payment codes
/// on the server's clock even when its own is off (`inkan_api::SERVER_TIME_HEADER`).
async fn stamp_server_time(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let now = crate::clock::to_ms(state.clock.now());
    if let Ok(value) = axum::http::HeaderValue::from_str(&now.to_string()) {
        response.headers_mut().insert(inkan_api::SERVER_TIME_HEADER, value);
    }
    response
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such endpoint")
}

/// Every error answer in the API's JSON shape (`{"error": {"code", "message"}}`), those axum
/// makes itself included: a method the path does not take (`405`, its `Allow` header kept), a
/// path parameter that does not decode (`400`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::InvalidRequest, "this endpoint does not take this method"),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such endpoint"),
        s if s.is_server_error() => (ErrorCode::Internal, "internal error; please retry"),
        _ => (ErrorCode::InvalidRequest, "the request's path or parameters could not be read"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = AppError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}
