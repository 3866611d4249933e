//! The wallet's cards, verified through the funding provider (3-D Secure in production), which
//! holds the card number. Inkan keeps only the provider's token, the brand, the
//! last four digits and a fingerprint (to spot one card across many accounts: one verified in as
//! many other wallets as `--max-accounts-per-card` allows is declined, and listed for the
//! operator by `admin flags`).
//!
//! The provider ([`crate::provider`]) is the sandbox in development and tests ([`crate::sandbox`]: its
//! test cards). Top-ups are in [`crate::flow::topups`]. The handlers here call the flows of
//! `flow::cards`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::wallet::{AddCard, Card, VerifyCard};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::cards;
use crate::origin::Client;
use crate::state::AppState;

/// List the cards
///
/// The wallet's cards to top up from, oldest first: brand, last four digits and status.
#[utoipa::path(
    get,
    path = "/v1/wallet/cards",
    operation_id = "list_cards",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The cards.", body = Vec<inkan_api::wallet::Card>),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The wallet's cards, oldest first.
pub async fn list_cards(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Card>>> {
    Ok(Json(cards::list(&app, &auth.account_id).await?))
}

/// Add a card
///
/// The number goes to the funding provider and is never stored. The card is `verified` at once
/// or needs a challenge (`challenge_required`: answer with `POST /v1/wallet/cards/{id}/verify`).
#[utoipa::path(
    post,
    path = "/v1/wallet/cards",
    operation_id = "add_card",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::AddCard,
    responses(
        (status = 201, description = "The card.", body = inkan_api::wallet::Card),
        (status = 400, description = "`invalid_request`: card details too long, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused the card.", body = inkan_api::ErrorBody),
        (status = 403, description = "`card_locked`: too many failed card attempts; adding cards is locked for this wallet. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
        (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = inkan_api::ErrorBody),
    )
)]
pub async fn add_card(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<AddCard>,
) -> Result<(StatusCode, Json<Card>)> {
    Ok((StatusCode::CREATED, Json(cards::add(&app, &auth, &client, &body).await?)))
}

/// Answer a card's challenge
///
/// The one-time code of the card issuer's challenge, for a card in `challenge_required`.
#[utoipa::path(
    post,
    path = "/v1/wallet/cards/{id}/verify",
    operation_id = "verify_card",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The card id (`card_…`).")),
    request_body = inkan_api::wallet::VerifyCard,
    responses(
        (status = 200, description = "The card, now `verified`.", body = inkan_api::wallet::Card),
        (status = 400, description = "`invalid_request`: a malformed code or body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the code was wrong.", body = inkan_api::ErrorBody),
        (status = 403, description = "`card_locked`: too many failed card attempts. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such card of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the card is not waiting for a code.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
        (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = inkan_api::ErrorBody),
    )
)]
// The card's one-time code. Failures count against the card number (in every wallet it was added
// to), the wallet, the device and the address.
pub async fn verify_card(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<VerifyCard>,
) -> Result<Json<Card>> {
    Ok(Json(cards::verify(&app, &auth, &client, &id, &body).await?))
}
