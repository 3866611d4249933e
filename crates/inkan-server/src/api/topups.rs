//! The wallet's top-up from a card (`POST /v1/wallet/topups`), over `flow::topups`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use inkan_api::wallet::{TopUp, TopUpResult};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::topups;
use crate::idempotency;
use crate::origin::{Client, Guarded};
use crate::state::AppState;

/// Top up from a card
///
/// Collects the amount from a verified card and credits the wallet, in two phases: the top-up
/// is recorded before the card provider is asked (with the top-up's id as the provider's
/// idempotency key), and settled by its answer. When the answer does not come back, the
/// answer is `202` with `status: pending`: the server asks the provider until it knows, and
/// the feed says how it ended (`top_up_succeeded` or `top_up_failed`). A retry with the same
/// `Idempotency-Key` and body answers with the same top-up and charges the card at most once;
/// with another body, `409 idempotency_conflict`.
#[utoipa::path(
    post,
    path = "/v1/wallet/topups",
    operation_id = "top_up",
    tag = "wallet",
    security(("session" = [])),
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "The wallet's retry key for this top-up (one per wallet): 1 to 255 printable ASCII characters, no spaces. Required."),
    ),
    request_body = inkan_api::wallet::TopUp,
    responses(
        (status = 201, description = "The top-up, credited (`status: succeeded`), and the new balance; also the answer to a retry.", body = inkan_api::wallet::TopUpResult),
        (status = 202, description = "The top-up, waiting for the card provider's answer (`status: pending`): it is credited if the card was charged, and the feed says so; the balance does not include it yet.", body = inkan_api::wallet::TopUpResult),
        (status = 400, description = "`invalid_request`: missing or malformed `Idempotency-Key`, an amount outside the top-up range, a currency the wallet does not hold, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused the payment (nothing was taken); also the answer to a retry of it.", body = inkan_api::ErrorBody),
        (status = 403, description = "`top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such card of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the card is not verified. `idempotency_conflict`: the key was used with a different body.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn top_up(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<TopUp>,
) -> Result<(StatusCode, Json<TopUpResult>)> {
    client.admit_for(&app, &auth.account_id, Guarded::TopUp)?;
    let key = idempotency::key(&headers)?;
    let request_hash = idempotency::request_hash(&body)?;
    let answered = topups::top_up(&app, &auth.account_id, &key, &request_hash, &body).await?;
    let status = if answered.waiting { StatusCode::ACCEPTED } else { StatusCode::CREATED };
    Ok((status, Json(answered.result)))
}
