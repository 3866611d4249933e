//! Closing the wallet from its own device (`POST /v1/wallet/close`), over `flow::payouts`.

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::wallet::{CloseWallet, ClosedWallet};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::payouts;
use crate::origin::Client;
use crate::state::AppState;

/// Close the wallet
///
/// With a `close_wallet` step-up: the wallet is closed for good (frozen; nothing lifts it) and
/// its balance is paid back where it came from: to the first card that topped it up and has not
/// refused a pay-out (never simply the newest card), in two phases: the pay-out is
/// recorded with the ledger movement, then the card provider pays it (with the pay-out's id as
/// its idempotency key). When the provider's answer does not come back, the answer is `202`
/// with the pay-out `pending`, and the feed says how it ended (`wallet_closed`, or
/// `payout_failed` with the money back in the wallet). Closing again answers with the same
/// pay-out.
#[utoipa::path(
    post,
    path = "/v1/wallet/close",
    operation_id = "close_wallet",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::CloseWallet,
    responses(
        (status = 200, description = "Closed: the balance paid back to the card (`payout`), or nothing to pay back (`payout: null`); also the answer to closing again.", body = inkan_api::wallet::ClosedWallet),
        (status = 202, description = "Closed, the pay-out waiting for the card provider's answer.", body = inkan_api::wallet::ClosedWallet),
        (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify or is not of this session's device.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused to pay the card; the money is in the wallet again (frozen, not closed): add another card.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action, account or device.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: payments are still open, the operator holds the account, or no card that topped the wallet up can take the balance back (add and verify a card and top up with it first).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The wallet closed for good, confirmed with the passkey; its balance paid back to the first card
// that topped it up. Closing it again answers with the same pay-out.
pub async fn close_wallet(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<CloseWallet>,
) -> Result<(StatusCode, Json<ClosedWallet>)> {
    let closed = payouts::close_own(&app, &auth, &client, &body).await?;
    let status = if closed.waiting { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(closed.answer)))
}
