//! The OpenAPI 3.1 document of the whole HTTP API, served at `GET /openapi.json`.
//!
//! Schemas are derived from the wire types of `inkan-api` and `inkan-core` (their `openapi`
//! feature), so a field changed there changes the document. The operations are described here, on
//! stand-in functions that exist only to carry a `#[utoipa::path]` attribute: the handlers stay
//! free of documentation macros. [`ROUTES`] lists every route the router serves; the tests below
//! fail when a route in `http.rs` is missing from it or from the document.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every route the router serves, as (method, path): the document describes exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("post", "/v1/charges"),
    ("get", "/v1/charges/{id}"),
    ("post", "/v1/charges/{id}/refund"),
    ("post", "/v1/accounts/registration"),
    ("post", "/v1/accounts"),
    ("post", "/v1/sessions/challenge"),
    ("post", "/v1/sessions"),
    ("delete", "/v1/sessions/current"),
    ("post", "/v1/accounts/{id}/freeze"),
    ("post", "/v1/device-joins"),
    ("get", "/v1/device-joins/{id}"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/device-joins/{id}/passkey/challenge"),
    ("post", "/v1/device-joins/{id}/passkey"),
    ("get", "/v1/wallet/device-joins"),
    ("post", "/v1/wallet/device-joins/{id}/approve"),
    ("get", "/v1/wallet"),
    ("post", "/v1/wallet/step-up"),
    ("put", "/v1/wallet/limits"),
    ("post", "/v1/wallet/freeze"),
    ("post", "/v1/wallet/unfreeze"),
    ("post", "/v1/wallet/unfreeze/recovery-code"),
    ("post", "/v1/wallet/recovery-codes"),
    ("get", "/v1/wallet/devices"),
    ("post", "/v1/wallet/devices/{id}/remove"),
    ("get", "/v1/wallet/charges/pending"),
    ("post", "/v1/wallet/charges/{id}/confirm"),
    ("post", "/v1/wallet/charges/{id}/decline"),
    ("get", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards/{id}/verify"),
    ("post", "/v1/wallet/topups"),
    ("post", "/v1/wallet/close"),
    ("get", "/v1/wallet/feed"),
    ("get", "/v1/wallet/history"),
    ("get", "/v1/issuer-keys"),
    ("get", "/v1/admin/suspensions"),
    ("put", "/v1/admin/suspensions/{service}"),
    ("delete", "/v1/admin/suspensions/{service}"),
    ("put", "/v1/admin/accounts/{id}/hold"),
    ("delete", "/v1/admin/accounts/{id}/hold"),
    ("post", "/v1/admin/unlock"),
    ("get", "/v1/admin/flags"),
    ("get", "/v1/admin/audit"),
    ("get", "/v1/admin/reviews"),
    ("post", "/v1/admin/reviews/{id}/approve"),
    ("post", "/v1/admin/reviews/{id}/decline"),
    ("get", "/v1/admin/wind-down"),
    ("post", "/v1/admin/wind-down"),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inkan HTTP API",
        description = "Merchant terminals create charges from a shopper's payment code; the shopper confirms each \
                       one with a passkey. Every error body is `{\"error\": {\"code\": ErrorCode, \"message\": \
                       string}}`: branch on the code, never on the message. Amounts are integers in the currency's \
                       minor unit (JPY has none: 1280 is ¥1,280). Every JSON request body refuses unknown fields."
    ),
    paths(
        operations::healthz,
        document,
        operations::create_charge,
        operations::get_charge,
        operations::refund_charge,
        operations::begin_registration,
        operations::finish_registration,
        operations::begin_sign_in,
        operations::finish_sign_in,
        operations::sign_out,
        operations::freeze_with_recovery_code,
        operations::begin_device_join,
        operations::get_device_join,
        operations::submit_join_device,
        operations::begin_join_passkey,
        operations::finish_device_join,
        operations::list_device_joins,
        operations::approve_device_join,
        operations::get_wallet,
        operations::begin_step_up,
        operations::set_limits,
        operations::freeze,
        operations::unfreeze,
        operations::unfreeze_with_recovery_code,
        operations::replace_recovery_codes,
        operations::close_wallet,
        operations::list_devices,
        operations::revoke_device,
        operations::list_pending_charges,
        operations::confirm_charge,
        operations::decline_charge,
        operations::list_cards,
        operations::add_card,
        operations::verify_card,
        operations::top_up,
        operations::feed,
        operations::history,
        operations::issuer_keys,
        operations::list_suspensions,
        operations::suspend,
        operations::resume,
        operations::hold_account,
        operations::release_account,
        operations::unlock,
        operations::flags,
        operations::audit,
        operations::list_reviews,
        operations::approve_review,
        operations::decline_review,
        operations::wind_down_report,
        operations::wind_down_batch,
    ),
    // Reached only through the feed's text, not through a body: listed so clients get its schema.
    components(schemas(inkan_api::feed::Notice, inkan_api::feed::LiveEvent)),
    modifiers(&BearerSchemes, &LoadLimitResponses, &AbuseResponses, &OperatorScopes),
    tags(
        (name = "merchant", description = "The merchant API: charges made by a terminal (the stable external contract)."),
        (name = "accounts", description = "Creating an account with a passkey, signing in and out."),
        (name = "devices", description = "A new device joining an existing wallet, approved by a passkey of the wallet or a recovery code."),
        (name = "wallet", description = "A signed-in wallet: balance, limits, devices, charges to confirm, cards, the live feed."),
        (name = "operator", description = "The operator's kill switches: suspend charges, top-ups or enrolment for everyone, or hold one account; locks of failed tries, flagged cards, charges held for review, and the audit trail. Each holds on every server instance from the moment it answers. Served on its own address when the server runs with `--admin-listen` (then the public address answers these paths 404)."),
        (name = "service", description = "Health and this document."),
    )
)]
struct ApiDoc;

/// Adds the three bearer schemes the operations refer to.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "terminal_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A merchant terminal's key (`tk_…`), issued once by the operator with \
                         `inkan-server admin terminal create`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator key (`ok_…`), issued once with `inkan-server admin operator create`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A wallet session token (`ses_…`) of one device, from `POST /v1/accounts`, `POST /v1/sessions` \
                         or a finished device join. It ends after `idle_timeout_seconds` without a request, \
                         `max_lifetime_seconds` after it began, and when its device is removed, another device \
                         freezes the wallet or the operator holds the account; an open feed then closes.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A response with an `ErrorBody`, and a `Retry-After` header if `retry_after`.
fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    use utoipa::openapi::ResponseBuilder;
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build());
    let response = if retry_after {
        response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
                .description(Some("Seconds to wait before retrying."))
                .build(),
        )
    } else {
        response
    };
    response.build()
}

/// Adds `503 overloaded` to every operation but `/healthz`: any request can meet the server at
/// its load limits (`admission`) or out of database connections.
struct LoadLimitResponses;

impl Modify for LoadLimitResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let response = error_response(
            "`overloaded`: the server is at its limit of requests in flight, of open live feeds and \
             long-polls, or of database connections. Nothing was done; retry after `Retry-After` seconds.",
            true,
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" {
                continue;
            }
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                operation.responses.responses.insert("503".to_owned(), RefOr::T(response.clone()));
            }
        }
    }
}

/// The operations with rate limits (`ratelimit`: `429`), and those the region policy guards
/// (`origin`: `403 region_blocked`).
pub const RATE_LIMITED: &[(&str, &str)] = &[
    ("post", "/v1/accounts/registration"),
    ("post", "/v1/sessions/challenge"),
    ("post", "/v1/device-joins"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/accounts/{id}/freeze"),
    ("post", "/v1/wallet/unfreeze/recovery-code"),
    ("post", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards/{id}/verify"),
    ("get", "/v1/wallet/feed"),
];

/// See [`RATE_LIMITED`].
pub const REGION_GUARDED: &[(&str, &str)] = &[
    ("post", "/v1/accounts/registration"),
    ("post", "/v1/accounts"),
    ("post", "/v1/sessions/challenge"),
    ("post", "/v1/sessions"),
    ("post", "/v1/device-joins"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/device-joins/{id}/passkey/challenge"),
    ("post", "/v1/device-joins/{id}/passkey"),
    ("post", "/v1/wallet/cards"),
    ("post", "/v1/wallet/cards/{id}/verify"),
    ("post", "/v1/wallet/topups"),
    ("post", "/v1/charges"),
    ("post", "/v1/wallet/charges/{id}/confirm"),
];

/// The operations that try a passkey or a recovery code: their tries can be locked
/// (`403 attempts_locked`), and a failure's answer may carry `tries_left` and `locked_until`.
const TRIES_COUNTED: &[(&str, &str)] = &[
    ("post", "/v1/sessions"),
    ("post", "/v1/device-joins/{id}/device"),
    ("post", "/v1/accounts/{id}/freeze"),
    ("post", "/v1/wallet/unfreeze"),
    ("post", "/v1/wallet/unfreeze/recovery-code"),
    ("put", "/v1/wallet/limits"),
    ("post", "/v1/wallet/recovery-codes"),
    ("post", "/v1/wallet/device-joins/{id}/approve"),
    ("post", "/v1/wallet/devices/{id}/remove"),
    ("post", "/v1/wallet/charges/{id}/confirm"),
    ("post", "/v1/wallet/close"),
];

/// Adds `also` to an operation's `403` answer (or makes it the answer).
fn add_forbidden(
    responses: &mut std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>>,
    also: &str,
) {
    use utoipa::openapi::RefOr;
    let forbidden = match responses.remove("403") {
        Some(RefOr::T(mut existing)) => {
            existing.description = format!("{} Or {also}", existing.description);
            existing
        }
        _ => error_response(also, false),
    };
    responses.insert("403".to_owned(), RefOr::T(forbidden));
}

/// Adds `403 forbidden` to every operator operation: a key may act only within its scopes
/// (`inkan_core::operator`).
struct OperatorScopes;

impl Modify for OperatorScopes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        const SCOPE: &str = "`forbidden`: this operator key lacks the scope the action needs (`switches` to \
                             suspend, resume, hold, release, unlock and wind down; `review` to list, approve and decline \
                             held charges; `read` to list the rest). Nothing was done.";
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/admin/") {
                continue;
            }
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete].into_iter().flatten() {
                add_forbidden(&mut operation.responses.responses, SCOPE);
            }
        }
    }
}

/// Adds the abuse defences' answers: `408 request_timeout` to every operation but `/healthz`,
/// `429 too_many_requests` to the rate-limited ones, `403 region_blocked` to the guarded ones and
/// `403 attempts_locked` to those that try a passkey or a recovery code (beside any other `403` an
/// operation has).
struct AbuseResponses;

impl Modify for AbuseResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let timeout = error_response(
            "`request_timeout`: the request took longer than the server waits (its body arrived too slowly, \
             or it could not be handled in time). Nothing was kept; send it again.",
            false,
        );
        let limited = error_response(
            "`too_many_requests`: a rate limit of this client address or this wallet was reached (or, for \
             device joins, three are already waiting; for the live feed, the wallet has as many open as it \
             may). Nothing was done; retry after `Retry-After` seconds.",
            true,
        );
        const REGION: &str = "`region_blocked`: the request came from outside the countries Inkan serves (as the \
                              trusted edge names them), or, for a charge, the terminal is configured for one. \
                              Nothing was done.";
        const LOCKED: &str = "`attempts_locked`: five failed tries of a passkey or a recovery code locked this \
                              device, this client address or (for recovery codes) this wallet until \
                              `locked_until`; nothing was tried. A failed try's answer carries `tries_left` \
                              when one is left, and `locked_until` when it locked.";
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" {
                continue;
            }
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                responses.insert("408".to_owned(), RefOr::T(timeout.clone()));
                if RATE_LIMITED.contains(&(method, path.as_str())) {
                    responses.insert("429".to_owned(), RefOr::T(limited.clone()));
                }
                if REGION_GUARDED.contains(&(method, path.as_str())) {
                    add_forbidden(responses, REGION);
                }
                if TRIES_COUNTED.contains(&(method, path.as_str())) {
                    add_forbidden(responses, LOCKED);
                }
            }
        }
    }
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The OpenAPI document of the whole HTTP API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    DOCUMENT.clone()
}

/// This document
///
/// The OpenAPI 3.1 description of every route of this server.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
pub async fn document() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(&*DOCUMENT)
}

/// Stand-ins for the handlers: each carries the description of one route, and nothing calls it.
#[allow(dead_code, reason = "only the #[utoipa::path] attributes are used, by ApiDoc")]
mod operations {
    use inkan_api::ErrorBody;
    use inkan_api::admin::{
        AuditTrail, CardFlags, HeldCharges, Hold, ReviewDecision, Suspend, Suspension, Unlock, Unlocked, WindDown,
        WindDownBatch, WindDownReport,
    };
    use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, Join, Joined, SubmitDevice};
    use inkan_api::feed::{History, IssuerKeys};
    use inkan_api::merchant::{Charge, CreateCharge, RefundCharge};
    use inkan_api::wallet::{
        AddCard, Assertion, AssertionChallenge, BeginRegistration, BeginSignIn, BeginStepUp, Card, CloseWallet,
        ClosedWallet, ConfirmCharge, DeclineCharge, Device, Enrolled, FinishRegistration, Freeze, Limits,
        PendingCharge, RecoveryCodes, RegistrationChallenge, RemoveDevice, ReplaceRecoveryCodes, Session, SetLimits,
        SignIn, TopUp, TopUpResult, UnfreezeWithRecoveryCode, VerifyCard, Wallet, WalletCharge,
    };

    /// Liveness
    ///
    /// Answers `ok` while the process serves requests; it does not check the database.
    #[utoipa::path(
        get,
        path = "/healthz",
        tag = "service",
        responses((status = 200, description = "The server is up.", body = String, content_type = "text/plain", example = "ok"))
    )]
    fn healthz() {}

    /// Create a charge from a payment code
    ///
    /// Verifies the shopper's payment code (signature, validity window, counter), checks the wallet's
    /// limits and balance, and holds the charge in `pending_confirmation` until the shopper confirms
    /// it with a passkey or it expires (`expires_at`). A charge that trips a velocity rule (many
    /// charges in minutes, a top-up spent at once from a new device, two countries within the hour,
    /// a large first payment from a new device) is made `held_for_review` instead: tell the
    /// shopper that Inkan is checking the payment, and wait on it (`GET /v1/charges/{id}?wait=`);
    /// Inkan's operator approves it (it becomes `pending_confirmation`, with a new `expires_at`) or
    /// declines it (`declined`), or it expires at `expires_at`. A retry with the same `Idempotency-Key` and the
    /// same body answers with the same charge; with another body, `409 idempotency_conflict`.
    #[utoipa::path(
        post,
        path = "/v1/charges",
        tag = "merchant",
        security(("terminal_key" = [])),
        params(
            ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
             description = "The terminal's retry key for this charge: 1 to 255 printable ASCII characters, no spaces. Required."),
        ),
        request_body = CreateCharge,
        responses(
            (status = 201, description = "The charge, waiting for the shopper's confirmation (`pending_confirmation`) or held for review (`held_for_review`); also the answer to a retry.", body = Charge),
            (status = 400, description = "`invalid_request`: missing or malformed `Idempotency-Key`, amount outside 1 to 10,000,000, a description over 200 characters or with control characters, a currency the wallet does not hold, or a malformed body. `payment_code_invalid`: the code is malformed, its signature does not verify, or its device is not active.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked terminal key.", body = ErrorBody),
            (status = 402, description = "`insufficient_funds`: the balance, less charges still pending, is too low.", body = ErrorBody),
            (status = 403, description = "`wallet_frozen`: the shopper's wallet is frozen. `account_held`: the operator has put the shopper's account on hold. `charges_suspended`: the operator has suspended charges.", body = ErrorBody),
            (status = 409, description = "`payment_code_used`: this code (or a newer one of the device) was already used, or three charges from it were refused (insufficient funds, a limit, a freeze or a hold): a code cannot be used to probe the wallet. `idempotency_conflict`: the key was used with a different body.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 422, description = "`payment_code_expired`: outside the code's validity window. `limit_exceeded`: over one of the shopper's limits (which one, and what is left, is told to the shopper only).", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn create_charge() {}

    /// Get a charge, optionally waiting for the shopper
    ///
    /// With `wait`, the answer is held until the charge is decided (confirmed, declined or
    /// expired: neither `held_for_review` nor `pending_confirmation`) or `wait` seconds pass,
    /// whichever is first.
    #[utoipa::path(
        get,
        path = "/v1/charges/{id}",
        tag = "merchant",
        security(("terminal_key" = [])),
        params(
            ("id" = String, Path, description = "The charge id (`ch_…`)."),
            ("wait" = Option<u64>, Query, description = "Seconds to long-poll while the charge is `held_for_review` or `pending_confirmation`; values above 60 are treated as 60. Default 0: answer at once."),
        ),
        responses(
            (status = 200, description = "The charge.", body = Charge),
            (status = 400, description = "`invalid_request`: the query string does not parse (`wait` is not a non-negative integer, or an unknown parameter).", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge of this merchant.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn get_charge() {}

    /// Refund a charge
    ///
    /// Refunds the whole amount of a `succeeded` charge to the shopper's wallet.
    #[utoipa::path(
        post,
        path = "/v1/charges/{id}/refund",
        tag = "merchant",
        security(("terminal_key" = [])),
        params(("id" = String, Path, description = "The charge id (`ch_…`).")),
        request_body(content = RefundCharge, description = "An empty object, `{}`."),
        responses(
            (status = 200, description = "The charge, now `refunded`.", body = Charge),
            (status = 400, description = "`invalid_request`: malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge of this merchant.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the charge is not `succeeded` (pending, declined, expired or already refunded).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn refund_charge() {}

    /// Start creating an account
    ///
    /// Answers with passkey creation options for the authenticator, valid for one ceremony.
    #[utoipa::path(
        post,
        path = "/v1/accounts/registration",
        tag = "accounts",
        request_body = BeginRegistration,
        responses(
            (status = 200, description = "The passkey creation options and their ceremony.", body = RegistrationChallenge),
            (status = 400, description = "`invalid_request`: a display name that is empty, over 64 characters or has control characters; or a malformed body.", body = ErrorBody),
            (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn begin_registration() {}

    /// Finish creating an account
    ///
    /// Registers the new passkey and the first device (with its proof of possession over the
    /// ceremony id), and opens a session. The recovery codes are shown this once.
    #[utoipa::path(
        post,
        path = "/v1/accounts",
        tag = "accounts",
        request_body = FinishRegistration,
        responses(
            (status = 201, description = "The account, its first device, its recovery codes and a session.", body = Enrolled),
            (status = 400, description = "`invalid_request`: the device key is not an uncompressed P-256 point, its proof does not verify, its name is not 1 to 64 characters, or the body is malformed. `ceremony_expired`: the ceremony is unknown, used or expired.", body = ErrorBody),
            (status = 401, description = "`passkey_rejected`: the passkey attestation did not verify. `unauthorized`: the joining device's signature (over the join id and this ceremony) is missing or does not verify.", body = ErrorBody),
            (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: this device key is already registered.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn finish_registration() {}

    /// Start signing in
    ///
    /// Answers with passkey request options that only the passkeys of the named device can answer.
    #[utoipa::path(
        post,
        path = "/v1/sessions/challenge",
        tag = "accounts",
        request_body = BeginSignIn,
        responses(
            (status = 200, description = "The passkey request options and their ceremony.", body = AssertionChallenge),
            (status = 400, description = "`invalid_request`: a malformed account id, device id or body.", body = ErrorBody),
            (status = 403, description = "`device_revoked`: the device was removed from the wallet.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such account, or no such device of it.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn begin_sign_in() {}

    /// Finish signing in
    ///
    /// Verifies both proofs over the sign-in ceremony, the passkey assertion of a passkey of the
    /// device and the device key's signature, and opens a session for that device.
    #[utoipa::path(
        post,
        path = "/v1/sessions",
        tag = "accounts",
        request_body = SignIn,
        responses(
            (status = 201, description = "A new session.", body = Session),
            (status = 400, description = "`ceremony_expired`: the ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`passkey_rejected`: the assertion did not verify, is not user-verified, is of another device or account, or its counter did not advance. `unauthorized`: the device's signature does not verify.", body = ErrorBody),
            (status = 403, description = "`device_revoked`: the device was removed from the wallet.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn finish_sign_in() {}

    /// Sign out
    ///
    /// Ends the session that makes this request.
    #[utoipa::path(
        delete,
        path = "/v1/sessions/current",
        tag = "accounts",
        security(("session" = [])),
        responses(
            (status = 204, description = "The session has ended."),
            (status = 401, description = "`unauthorized`: no session, or it has already ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn sign_out() {}

    /// Freeze a wallet with a recovery code
    ///
    /// For a lost phone: needs no session and no passkey, only a recovery code of the wallet,
    /// which is not used up (freezing gives no access).
    #[utoipa::path(
        post,
        path = "/v1/accounts/{id}/freeze",
        tag = "accounts",
        params(("id" = String, Path, description = "The account id (`acct_…`).")),
        request_body = FreezeWithRecoveryCode,
        responses(
            (status = 204, description = "The wallet is frozen (also if it already was)."),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: the recovery code is not a valid, unused code of this account.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn freeze_with_recovery_code() {}

    /// Ask to join a wallet
    ///
    /// Step 1 for a new device: opens a join, valid for 15 minutes, in `awaiting_device`.
    #[utoipa::path(
        post,
        path = "/v1/device-joins",
        tag = "devices",
        request_body = BeginJoin,
        responses(
            (status = 201, description = "The join.", body = Join),
            (status = 400, description = "`invalid_request`: a malformed account id or body.", body = ErrorBody),
            (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such account.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn begin_device_join() {}

    /// A join's state
    ///
    /// The new device polls this while it waits for approval, signing each request once it has
    /// submitted its key.
    #[utoipa::path(
        get,
        path = "/v1/device-joins/{id}",
        tag = "devices",
        params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
        responses(
            (status = 200, description = "The join.", body = Join),
            (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such join.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn get_device_join() {}

    /// Submit the new device's key
    ///
    /// Step 2: the device key with its proof of possession over the join id. With a recovery code
    /// the join is approved at once (and the code used up); a wrong code ends the join (`rejected`).
    /// Without one, the join waits for a signed-in device's approval.
    #[utoipa::path(
        post,
        path = "/v1/device-joins/{id}/device",
        tag = "devices",
        params(("id" = String, Path, description = "The join id (`join_…`).")),
        request_body = SubmitDevice,
        responses(
            (status = 200, description = "The join, now `approved` or `awaiting_approval`.", body = Join),
            (status = 400, description = "`invalid_request`: the device key is not an uncompressed P-256 point, its proof does not verify, its name is not 1 to 64 characters, or the body is malformed.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: the recovery code is not valid for this wallet; the join is now `rejected`.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such join.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the join is not waiting for a device (or has expired), or this device key is already registered.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn submit_join_device() {}

    /// Start the new device's passkey
    ///
    /// Step 4, once the join is `approved`: passkey creation options for the wallet's account.
    /// No request body.
    #[utoipa::path(
        post,
        path = "/v1/device-joins/{id}/passkey/challenge",
        tag = "devices",
        params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
        responses(
            (status = 200, description = "The passkey creation options and their ceremony.", body = RegistrationChallenge),
            (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such join.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the join is not `approved`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn begin_join_passkey() {}

    /// Finish joining
    ///
    /// The new passkey and the device are added to the wallet together, and a session opens.
    #[utoipa::path(
        post,
        path = "/v1/device-joins/{id}/passkey",
        tag = "devices",
        params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
        request_body = FinishJoin,
        responses(
            (status = 201, description = "The device is in the wallet, signed in.", body = Joined),
            (status = 400, description = "`ceremony_expired`: the ceremony is unknown, used, expired or for another join. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`passkey_rejected`: the passkey attestation did not verify.", body = ErrorBody),
            (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such join.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the join is not `approved` (or has expired), or the device key is already registered.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn finish_device_join() {}

    /// Joins waiting for approval
    ///
    /// New devices asking to join this wallet, oldest first.
    #[utoipa::path(
        get,
        path = "/v1/wallet/device-joins",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The joins in `awaiting_approval`.", body = [Join]),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_device_joins() {}

    /// Approve a join with a passkey
    ///
    /// Step 3 without a recovery code: needs an assertion for an `add_device` step-up.
    #[utoipa::path(
        post,
        path = "/v1/wallet/device-joins/{id}/approve",
        tag = "wallet",
        security(("session" = [])),
        params(("id" = String, Path, description = "The join id (`join_…`).")),
        request_body = ApproveJoin,
        responses(
            (status = 200, description = "The join, now `approved`.", body = Join),
            (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: the step-up was for another action or account.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such join of this wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the join is not waiting for approval (or has expired).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn approve_device_join() {}

    /// The wallet
    ///
    /// Balance, frozen flag, and the limits with what has been spent against them.
    #[utoipa::path(
        get,
        path = "/v1/wallet",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The wallet.", body = Wallet),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn get_wallet() {}

    /// Start a passkey step-up
    ///
    /// A passkey request for one sensitive action (raising limits, unfreezing, adding a device);
    /// the assertion answering it goes with that action's request.
    #[utoipa::path(
        post,
        path = "/v1/wallet/step-up",
        tag = "wallet",
        security(("session" = [])),
        request_body = BeginStepUp,
        responses(
            (status = 200, description = "The passkey request options and their ceremony.", body = AssertionChallenge),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 404, description = "`not_found`: the account has no passkey.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn begin_step_up() {}

    /// Set the limits
    ///
    /// Lowering applies at once. Raising any limit needs `step_up` (an assertion for a
    /// `raise_limits` step-up) and applies after the cooling-off, as `pending`.
    #[utoipa::path(
        put,
        path = "/v1/wallet/limits",
        tag = "wallet",
        security(("session" = [])),
        request_body = SetLimits,
        responses(
            (status = 200, description = "The limits as they now stand.", body = Limits),
            (status = 400, description = "`invalid_request`: limits in another currency, negative, not `per_charge ≤ daily ≤ monthly`, or a malformed body. `ceremony_expired`: the step-up ceremony is unknown, used or expired.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: a raise without a step-up, or with one for another action or account.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn set_limits() {}

    /// Freeze the wallet
    ///
    /// Any signed-in device may freeze, without a step-up: no charge can be created or confirmed
    /// until the wallet is unfrozen. Every other device's sessions end.
    #[utoipa::path(
        post,
        path = "/v1/wallet/freeze",
        tag = "wallet",
        security(("session" = [])),
        request_body(content = Freeze, description = "An empty object, `{}`."),
        responses(
            (status = 204, description = "The wallet is frozen (also if it already was)."),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn freeze() {}

    /// Unfreeze the wallet
    ///
    /// Needs an assertion for an `unfreeze` step-up, by a passkey of a settled device: one in the
    /// wallet for 72 hours, and older than the wallet's most recent join. Otherwise a recovery code
    /// is needed (`POST /v1/wallet/unfreeze/recovery-code`).
    #[utoipa::path(
        post,
        path = "/v1/wallet/unfreeze",
        tag = "wallet",
        security(("session" = [])),
        request_body(content = Assertion, description = "The assertion answering an `unfreeze` step-up."),
        responses(
            (status = 204, description = "The wallet is not frozen (also if it was not)."),
            (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: the step-up was for another action, account or device. `unfreeze_not_allowed`: this device joined less than 72 hours ago or is the wallet's most recent one.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn unfreeze() {}

    /// Unfreeze with a recovery code
    ///
    /// The recovery code is used up, and the wallet's devices are told. A wrong code changes
    /// nothing but a notice to every device.
    #[utoipa::path(
        post,
        path = "/v1/wallet/unfreeze/recovery-code",
        tag = "wallet",
        security(("session" = [])),
        request_body = UnfreezeWithRecoveryCode,
        responses(
            (status = 204, description = "The wallet is not frozen (also if it was not); the code is used up."),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended, or the recovery code is not an unused code of this wallet.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn unfreeze_with_recovery_code() {}

    /// Replace the recovery codes
    ///
    /// With a `replace_recovery_codes` step-up: ten new codes, shown only in this answer; every
    /// older code stops working, and every device is told.
    #[utoipa::path(
        post,
        path = "/v1/wallet/recovery-codes",
        tag = "wallet",
        security(("session" = [])),
        request_body = ReplaceRecoveryCodes,
        responses(
            (status = 201, description = "The new codes.", body = RecoveryCodes),
            (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify or is not of this session's device.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: the step-up was for another action, account or device.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn replace_recovery_codes() {}

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
        tag = "wallet",
        security(("session" = [])),
        request_body = CloseWallet,
        responses(
            (status = 200, description = "Closed: the balance paid back to the card (`payout`), or nothing to pay back (`payout: null`); also the answer to closing again.", body = ClosedWallet),
            (status = 202, description = "Closed, the pay-out waiting for the card provider's answer.", body = ClosedWallet),
            (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify or is not of this session's device.", body = ErrorBody),
            (status = 402, description = "`card_declined`: the provider refused to pay the card; the money is in the wallet again (frozen, not closed): add another card.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: the step-up was for another action, account or device.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: payments are still open, the operator holds the account, or no card that topped the wallet up can take the balance back (add and verify a card and top up with it first).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn close_wallet() {}

    /// The wallet's devices
    ///
    /// Every device ever enrolled, revoked ones included (`active: false`), oldest first.
    #[utoipa::path(
        get,
        path = "/v1/wallet/devices",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The devices.", body = [Device]),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_devices() {}

    /// Remove a device
    ///
    /// Confirmed with a passkey of the device asking (a step-up for `remove_device`). In one step
    /// the removed device's payment codes stop working, its passkeys are deleted and its sessions
    /// end (its open feeds close). The wallet's last active device cannot be removed.
    #[utoipa::path(
        post,
        path = "/v1/wallet/devices/{id}/remove",
        tag = "wallet",
        security(("session" = [])),
        params(("id" = String, Path, description = "The device id (`dev_…`).")),
        request_body = RemoveDevice,
        responses(
            (status = 204, description = "The device is removed."),
            (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify or is not of this session's device.", body = ErrorBody),
            (status = 403, description = "`step_up_required`: the step-up was for another action or another device.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such active device in this wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: this is the wallet's last active device.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn revoke_device() {}

    /// Charges waiting for the shopper
    ///
    /// Each with the passkey request bound to exactly that charge, oldest first.
    #[utoipa::path(
        get,
        path = "/v1/wallet/charges/pending",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The pending charges.", body = [PendingCharge]),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_pending_charges() {}

    /// Confirm a charge with a passkey
    ///
    /// A session of the charge's wallet first: without one nothing about the charge is told. Then
    /// the passkey assertion for the request bound to this charge (from
    /// `GET /v1/wallet/charges/pending`), by a passkey of the device whose code made it. What may
    /// have changed since the charge was made is judged again in the same step as the money
    /// moves: the device, a freeze or hold, the limits as they are now, the balance.
    #[utoipa::path(
        post,
        path = "/v1/wallet/charges/{id}/confirm",
        tag = "wallet",
        security(("session" = [])),
        params(("id" = String, Path, description = "The charge id (`ch_…`).")),
        request_body = ConfirmCharge,
        responses(
            (status = 200, description = "The charge, now `succeeded`.", body = WalletCharge),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify for this charge's request, is not user-verified, is not of the device that showed the code, or its counter did not advance.", body = ErrorBody),
            (status = 402, description = "`insufficient_funds`: the balance is too low.", body = ErrorBody),
            (status = 403, description = "`wallet_frozen`: the wallet was frozen after the charge was made. `account_held`: the operator has put the account on hold. `device_revoked`: the device that showed the code was removed. `charges_suspended`: the operator has suspended charges.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge in this session's wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the charge has expired, was already decided, or is held for review (it can be confirmed once Inkan approves it).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 422, description = "`limit_exceeded`: a limit lowered since the charge was made no longer fits it.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn confirm_charge() {}

    /// Decline a charge
    ///
    /// A charge waiting for confirmation, or one held for review. With `not_me: true` the wallet
    /// is also frozen, in the same step.
    #[utoipa::path(
        post,
        path = "/v1/wallet/charges/{id}/decline",
        tag = "wallet",
        security(("session" = [])),
        params(("id" = String, Path, description = "The charge id (`ch_…`).")),
        request_body = DeclineCharge,
        responses(
            (status = 200, description = "The charge, now `declined`.", body = WalletCharge),
            (status = 400, description = "`invalid_request`: a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge of this wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the charge has expired or was already decided.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn decline_charge() {}

    /// List the cards
    ///
    /// The wallet's cards to top up from, oldest first: brand, last four digits and status.
    #[utoipa::path(
        get,
        path = "/v1/wallet/cards",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The cards.", body = Vec<Card>),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_cards() {}

    /// Add a card
    ///
    /// The number goes to the funding provider and is never stored. The card is `verified` at once
    /// or needs a challenge (`challenge_required`: answer with `POST /v1/wallet/cards/{id}/verify`).
    #[utoipa::path(
        post,
        path = "/v1/wallet/cards",
        tag = "wallet",
        security(("session" = [])),
        request_body = AddCard,
        responses(
            (status = 201, description = "The card.", body = Card),
            (status = 400, description = "`invalid_request`: card details too long, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 402, description = "`card_declined`: the provider refused the card.", body = ErrorBody),
            (status = 403, description = "`card_locked`: too many failed card attempts; adding cards is locked for this wallet. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
            (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = ErrorBody),
        )
    )]
    fn add_card() {}

    /// Answer a card's challenge
    ///
    /// The one-time code of the card issuer's challenge, for a card in `challenge_required`.
    #[utoipa::path(
        post,
        path = "/v1/wallet/cards/{id}/verify",
        tag = "wallet",
        security(("session" = [])),
        params(("id" = String, Path, description = "The card id (`card_…`).")),
        request_body = VerifyCard,
        responses(
            (status = 200, description = "The card, now `verified`.", body = Card),
            (status = 400, description = "`invalid_request`: a malformed code or body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 402, description = "`card_declined`: the code was wrong.", body = ErrorBody),
            (status = 403, description = "`card_locked`: too many failed card attempts. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such card of this wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the card is not waiting for a code.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
            (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = ErrorBody),
        )
    )]
    fn verify_card() {}

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
        tag = "wallet",
        security(("session" = [])),
        params(
            ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
             description = "The wallet's retry key for this top-up (one per wallet): 1 to 255 printable ASCII characters, no spaces. Required."),
        ),
        request_body = TopUp,
        responses(
            (status = 201, description = "The top-up, credited (`status: succeeded`), and the new balance; also the answer to a retry.", body = TopUpResult),
            (status = 202, description = "The top-up, waiting for the card provider's answer (`status: pending`): it is credited if the card was charged, and the feed says so; the balance does not include it yet.", body = TopUpResult),
            (status = 400, description = "`invalid_request`: missing or malformed `Idempotency-Key`, an amount outside the top-up range, a currency the wallet does not hold, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 402, description = "`card_declined`: the provider refused the payment (nothing was taken); also the answer to a retry of it.", body = ErrorBody),
            (status = 403, description = "`top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such card of this wallet.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the card is not verified. `idempotency_conflict`: the key was used with a different body.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn top_up() {}

    /// The live feed
    ///
    /// Server-Sent Events: every notice after `Last-Event-ID`, then each new one as it commits. Per
    /// event, the SSE `id` is the notice's sequence number in the wallet (1, 2, 3, … without gaps),
    /// the SSE `event` is the notice's `kind` (see `Notice`), and the `data` is a `LiveEvent` as
    /// JSON: a `FeedEvent`, and with a `charge_pending` notice whose charge still waits, `pending`,
    /// the charge with its passkey request (confirm from it; no `GET /v1/wallet/charges/pending`
    /// needed). A comment line `heartbeat` comes every 15 seconds. Reconnect with `Last-Event-ID`
    /// set to the last `id` received to lose nothing.
    #[utoipa::path(
        get,
        path = "/v1/wallet/feed",
        tag = "wallet",
        security(("session" = [])),
        params(("Last-Event-ID" = Option<u64>, Header, nullable = false, description = "Resume after this notice sequence number. Default 0: from the first notice.")),
        responses(
            (status = 200, description = "An endless `text/event-stream`; each event's `data` is a `LiveEvent` in JSON.", body = String, content_type = "text/event-stream"),
            (status = 400, description = "`invalid_request`: `Last-Event-ID` is not a sequence number.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn feed() {}

    /// The whole history
    ///
    /// Every notice of the wallet with its chain hash, to export and verify.
    #[utoipa::path(
        get,
        path = "/v1/wallet/history",
        tag = "wallet",
        security(("session" = [])),
        responses(
            (status = 200, description = "The history.", body = History),
            (status = 401, description = "`unauthorized`: no session, or it has ended.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn history() {}

    /// The issuer's keys
    ///
    /// The Ed25519 keys that sign every history head (`FeedEvent.signature`, over
    /// `inkan_core::history::head_message`). A device pins them when it enrols or joins and checks
    /// every history, live notice and export against the pinned key.
    #[utoipa::path(
        get,
        path = "/v1/issuer-keys",
        tag = "service",
        responses(
            (status = 200, description = "The keys.", body = IssuerKeys),
        )
    )]
    fn issuer_keys() {}

    /// What the operator has suspended
    ///
    /// Every service suspended now, with why, by which operator key and since when.
    #[utoipa::path(
        get,
        path = "/v1/admin/suspensions",
        tag = "operator",
        security(("operator_key" = [])),
        responses(
            (status = 200, description = "The suspensions in force (an empty list when none).", body = [Suspension]),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_suspensions() {}

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
        tag = "operator",
        security(("operator_key" = [])),
        params(("service" = String, Path, description = "`charges`, `top_ups` or `enrolment`.")),
        request_body = Suspend,
        responses(
            (status = 200, description = "The suspension in force.", body = Suspension),
            (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such service.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn suspend() {}

    /// Resume a service
    ///
    /// The service runs again on every instance (also if it was not suspended).
    #[utoipa::path(
        delete,
        path = "/v1/admin/suspensions/{service}",
        tag = "operator",
        security(("operator_key" = [])),
        params(
            ("service" = String, Path, description = "`charges`, `top_ups` or `enrolment`."),
            ("reason" = Option<String>, Query, max_length = 200, description = "Why, for the audit trail (optional)."),
        ),
        responses(
            (status = 204, description = "The service runs."),
            (status = 400, description = "`invalid_request`: a reason over 200 characters or with control characters, or an unknown query parameter.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such service.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn resume() {}

    /// Hold one account
    ///
    /// The account can no longer pay, confirm a charge, top up, add a card or take a new device
    /// (`account_held`) until the hold is lifted; its shopper cannot lift it. The shopper gets an
    /// `account_held` notice with the reason (none if the account was already held for the same
    /// reason).
    #[utoipa::path(
        put,
        path = "/v1/admin/accounts/{id}/hold",
        tag = "operator",
        security(("operator_key" = [])),
        params(("id" = String, Path, description = "The account id (`acct_…`).")),
        request_body = Hold,
        responses(
            (status = 204, description = "The account is on hold."),
            (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such account.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn hold_account() {}

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
        tag = "operator",
        security(("operator_key" = [])),
        request_body = Unlock,
        responses(
            (status = 200, description = "Done; `unlocked` says whether there were failures on record.", body = Unlocked),
            (status = 400, description = "`invalid_request`: not exactly one of `account`, `device`, `address` and `card_number`, or one malformed, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn unlock() {}

    /// Cards seen in several wallets
    ///
    /// A card (by the funding provider's fingerprint) verified in as many wallets as
    /// `--max-accounts-per-card` allows (default 1) is declined in any other with `card_declined`,
    /// as stolen card lists are used through many fresh wallets. This lists each such card, newest
    /// refusal first (at most 200), with every wallet it is in or was refused in.
    #[utoipa::path(
        get,
        path = "/v1/admin/flags",
        tag = "operator",
        security(("operator_key" = [])),
        responses(
            (status = 200, description = "The flagged cards.", body = CardFlags),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn flags() {}

    /// The operator audit trail
    ///
    /// Every operator action (suspend, resume, hold, release, unlock, over this API or on the
    /// server's command line) and every card the server flagged: who, when, what, on what, and
    /// why; newest first, at most 500. Needs the `read` scope.
    #[utoipa::path(
        get,
        path = "/v1/admin/audit",
        tag = "operator",
        security(("operator_key" = [])),
        responses(
            (status = 200, description = "The audit trail.", body = AuditTrail),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn audit() {}

    /// Charges held for review
    ///
    /// Charges a velocity rule set aside (`reason`), waiting for a decision, oldest first (at most
    /// 500). Unless decided, each expires at `expires_at` (the server's `[risk]
    /// review_window_minutes`, default 10). Needs the `review` scope.
    #[utoipa::path(
        get,
        path = "/v1/admin/reviews",
        tag = "operator",
        security(("operator_key" = [])),
        responses(
            (status = 200, description = "The held charges.", body = HeldCharges),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn list_reviews() {}

    /// Approve a held charge
    ///
    /// The charge becomes `pending_confirmation` with a whole charge lifetime from now, and the
    /// shopper gets a `charge_pending` notice: they may confirm it with their passkey. The decision
    /// and its `reason` go to the audit trail. Needs the `review` scope.
    #[utoipa::path(
        post,
        path = "/v1/admin/reviews/{id}/approve",
        tag = "operator",
        security(("operator_key" = [])),
        params(("id" = String, Path, description = "The charge id (`ch_…`).")),
        request_body = ReviewDecision,
        responses(
            (status = 200, description = "The charge, now `pending_confirmation`.", body = Charge),
            (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the charge is not held for review (already decided, declined by the shopper, or expired).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn approve_review() {}

    /// Decline a held charge
    ///
    /// The charge becomes `declined` for good; the shopper gets a `charge_review_declined` notice
    /// and the terminal waiting on it hears `declined`. The decision and its `reason` go to the
    /// audit trail. Needs the `review` scope.
    #[utoipa::path(
        post,
        path = "/v1/admin/reviews/{id}/decline",
        tag = "operator",
        security(("operator_key" = [])),
        params(("id" = String, Path, description = "The charge id (`ch_…`).")),
        request_body = ReviewDecision,
        responses(
            (status = 200, description = "The charge, now `declined`.", body = Charge),
            (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such charge.", body = ErrorBody),
            (status = 409, description = "`invalid_state`: the charge is not held for review (already decided, declined by the shopper, or expired).", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn decline_review() {}

    /// Where the money stands in a wind-down
    ///
    /// The wallets not closed yet, what every wallet still holds, what was paid back to cards
    /// and what is on its way, and the wallets' books in the ledger (equal to what they hold).
    /// Needs the `switches` scope.
    #[utoipa::path(
        get,
        path = "/v1/admin/wind-down",
        tag = "operator",
        security(("operator_key" = [])),
        responses(
            (status = 200, description = "The report.", body = WindDownReport),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn wind_down_report() {}

    /// Wind the service down: close the next wallets
    ///
    /// Closes the next 50 open wallets (by id, after `after`) for good, each balance paid back to
    /// the first card that topped it up, as a shopper closing their own wallet would; each shopper
    /// gets a `wallet_closed` notice. Run again with `next` until it is `null`; a run stopped
    /// anywhere is resumed by starting again. Suspend charges, top-ups and enrolment first, so that
    /// balances stop moving. Each batch is in the audit trail with its `reason`. Needs the
    /// `switches` scope.
    #[utoipa::path(
        post,
        path = "/v1/admin/wind-down",
        tag = "operator",
        security(("operator_key" = [])),
        request_body = WindDown,
        responses(
            (status = 200, description = "What the batch did, and where the next one starts.", body = WindDownBatch),
            (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, a malformed `after`, or a malformed body.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 413, description = "`payload_too_large`.", body = ErrorBody),
            (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn wind_down_batch() {}

    /// Lift an account's hold
    ///
    /// The shopper gets an `account_released` notice (none if there was no hold).
    #[utoipa::path(
        delete,
        path = "/v1/admin/accounts/{id}/hold",
        tag = "operator",
        security(("operator_key" = [])),
        params(
            ("id" = String, Path, description = "The account id (`acct_…`)."),
            ("reason" = Option<String>, Query, max_length = 200, description = "Why, for the audit trail (optional)."),
        ),
        responses(
            (status = 204, description = "The account is not on hold."),
            (status = 400, description = "`invalid_request`: a reason over 200 characters or with control characters, or an unknown query parameter.", body = ErrorBody),
            (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = ErrorBody),
            (status = 404, description = "`not_found`: no such account.", body = ErrorBody),
            (status = 500, description = "`internal`.", body = ErrorBody),
        )
    )]
    fn release_account() {}
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use inkan_api::ErrorCode;
    use serde_json::Value;

    use super::*;

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document_json() -> Value {
        let text = serde_json::to_string(&openapi()).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// (method, path) of every `.route(path, method(handler).method(handler)…)` call in `source`.
    fn routes_in(source: &str) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (_, rest) in source.match_indices(".route(").map(|(i, _)| source.split_at(i + ".route(".len())) {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('"').expect("a route path is a string literal");
            let (path, rest) = rest.split_once('"').unwrap();
            let mut rest = rest.trim_start().strip_prefix(',').unwrap().trim_start();
            // `get(handler)`, then optionally `.post(handler)` and so on.
            loop {
                let (method, after) = rest.split_once('(').unwrap();
                assert!(METHODS.contains(&method), "unexpected method router {method:?} for {path}");
                routes.insert((method.to_owned(), path.to_owned()));
                let mut depth = 1;
                let close = after
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .unwrap()
                    .0;
                match after[close + 1..].trim_start().strip_prefix('.') {
                    Some(next) => rest = next.trim_start(),
                    None => break,
                }
            }
        }
        routes
    }

    #[test]
    fn the_route_parser_reads_chained_methods_and_wrapped_calls() {
        let source = r#"Router::new()
            .route("/a", get(a::show).post(a::create))
            .route(
                "/b/{id}",
                delete(b::remove),
            )"#;
        let expected = [("get", "/a"), ("post", "/a"), ("delete", "/b/{id}")];
        assert_eq!(routes_in(source), expected.iter().map(|&(m, p)| (m.to_owned(), p.to_owned())).collect());
    }

    fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    fn listed_routes() -> BTreeSet<(String, String)> {
        ROUTES.iter().map(|&(m, p)| (m.to_owned(), p.to_owned())).collect()
    }

    #[tokio::test]
    async fn the_router_serves_the_document() {
        use tower::ServiceExt;

        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&format!("sqlite://{}", dir.path().join("inkan.db").display())).await.unwrap();
        let settings = crate::Settings::for_relying_party(
            "localhost".to_owned(),
            url::Url::parse("http://localhost:8080").unwrap(),
        )
        .unwrap();
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let state = crate::AppState::new(
            db,
            clock,
            settings,
            std::sync::Arc::new(crate::sandbox::SandboxProvider::in_memory()),
            crate::issuer::Issuer::generate(&ring::rand::SystemRandom::new()).unwrap().0,
        )
        .unwrap();
        let request = axum::http::Request::get("/openapi.json").body(axum::body::Body::empty()).unwrap();
        let response = crate::app(state).oneshot(request).await.unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), document_json());
    }

    #[test]
    fn every_route_of_the_router_is_listed() {
        let served = routes_in(include_str!("http.rs"));
        assert!(served.len() > 20, "the route parser found only {served:?}");
        let listed = listed_routes();
        let undocumented: Vec<_> = served.difference(&listed).collect();
        let not_served: Vec<_> = listed.difference(&served).collect();
        assert!(
            undocumented.is_empty() && not_served.is_empty(),
            "describe each new route in openapi.rs and add it to ROUTES: served but not listed {undocumented:?}; \
             listed but not served {not_served:?}"
        );
        assert_eq!(ROUTES.len(), listed_routes().len(), "ROUTES has a duplicate");
    }

    #[test]
    fn the_document_describes_exactly_the_listed_routes() {
        let doc = document_json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(documented_routes(&doc), listed_routes());
        let ids: Vec<&str> =
            documented_routes(&doc).iter().map(|(m, p)| doc["paths"][p][m]["operationId"].as_str().unwrap()).collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "operation ids are unique");
    }

    #[test]
    fn the_abuse_defences_answers_are_on_the_operations_that_give_them() {
        let doc = document_json();
        let routes = documented_routes(&doc);
        for (method, path) in RATE_LIMITED.iter().chain(REGION_GUARDED) {
            assert!(routes.contains(&((*method).to_owned(), (*path).to_owned())), "{method} {path} is no route");
        }
        for (method, path) in RATE_LIMITED {
            let limited = &doc["paths"][path][method]["responses"]["429"];
            assert_eq!(limited["headers"]["Retry-After"]["schema"]["type"], "integer", "{method} {path}");
        }
        for (method, path) in REGION_GUARDED {
            let forbidden = doc["paths"][path][method]["responses"]["403"]["description"].as_str().unwrap();
            assert!(forbidden.contains("region_blocked"), "{method} {path}: {forbidden}");
        }
        // A guarded operation keeps its other 403 too.
        let charge = doc["paths"]["/v1/charges"]["post"]["responses"]["403"]["description"].as_str().unwrap();
        assert!(charge.contains("charges_suspended") && charge.contains("region_blocked"), "{charge}");
        for (method, path) in routes.iter().filter(|(_, p)| p != "/healthz") {
            assert!(doc["paths"][path][method]["responses"]["408"].is_object(), "{method} {path}");
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document_json();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn security_follows_the_kind_of_caller() {
        let doc = document_json();
        let schemes = |method: &str, path: &str| -> Vec<String> {
            doc["paths"][path][method]["security"]
                .as_array()
                .map(|reqs| reqs.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect())
                .unwrap_or_default()
        };
        for &(method, path) in ROUTES {
            let expected: &[&str] = if path.starts_with("/v1/charges") {
                &["terminal_key"]
            } else if path.starts_with("/v1/wallet") || path == "/v1/sessions/current" {
                &["session"]
            } else if path.starts_with("/v1/admin") {
                &["operator_key"]
            } else {
                &[]
            };
            assert_eq!(schemes(method, path), expected, "{method} {path}");
        }
        for scheme in ["terminal_key", "session", "operator_key"] {
            assert_eq!(doc["components"]["securitySchemes"][scheme]["scheme"], "bearer");
        }
    }

    #[test]
    fn every_operation_but_liveness_documents_overload() {
        let doc = document_json();
        for (method, path) in ROUTES {
            let overloaded = &doc["paths"][path][method]["responses"]["503"];
            if *path == "/healthz" {
                assert!(overloaded.is_null(), "liveness is never refused");
                continue;
            }
            assert_eq!(
                overloaded["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
            assert_eq!(overloaded["headers"]["Retry-After"]["schema"]["type"], "integer", "{method} {path}");
        }
    }

    #[test]
    fn merchant_headers_and_parameters_are_described() {
        let doc = document_json();
        let param = |method: &str, path: &str, name: &str| -> Value {
            doc["paths"][path][method]["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
                .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
        };
        let key = param("post", "/v1/charges", "Idempotency-Key");
        assert_eq!((&key["in"], &key["required"]), (&Value::from("header"), &Value::from(true)));
        let wait = param("get", "/v1/charges/{id}", "wait");
        assert_eq!((&wait["in"], &wait["required"]), (&Value::from("query"), &Value::from(false)));
        let last = param("get", "/v1/wallet/feed", "Last-Event-ID");
        assert_eq!(last["in"], "header");
        assert!(doc["paths"]["/v1/wallet/feed"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    }

    #[test]
    fn custom_wire_forms_are_described_as_sent() {
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Money"]["required"], serde_json::json!(["amount", "currency"]));
        assert_eq!(schemas["Money"]["properties"]["amount"]["type"], "integer");
        assert_eq!(schemas["Currency"]["enum"], serde_json::json!(["JPY"]));
        assert_eq!(schemas["DeviceKeyId"]["type"], "string");
        assert_eq!(schemas["DeviceKeyId"]["pattern"], "^[0-9a-f]{32}$");
        assert_eq!(schemas["Base64Url"]["type"], "string");
        assert_eq!(schemas["Base64Url"]["contentEncoding"], "base64url");
        for field in ["per_charge", "daily", "monthly"] {
            assert_eq!(schemas["LimitPolicy"]["properties"][field]["$ref"], "#/components/schemas/Money");
        }
        assert_eq!(schemas["Charge"]["properties"]["created_at"]["format"], "date-time");
        assert_eq!(schemas["Charge"]["properties"]["created_at"]["type"], "string");
        assert_eq!(schemas["ChargeStatus"]["enum"].as_array().unwrap().len(), inkan_core::ChargeStatus::ALL.len());
        assert!(schemas["ChargeStatus"]["enum"].as_array().unwrap().contains(&serde_json::json!("held_for_review")));
        assert_eq!(schemas["CreateCharge"]["additionalProperties"], false);
        assert_eq!(schemas["RegistrationChallenge"]["properties"]["public_key"]["type"], "object");
    }

    /// Checks `value` against `schema` for the keywords this document uses: `$ref`, `oneOf`, `type`,
    /// `enum`, `properties`, `required`, `additionalProperties: false`, `items`, `minimum`, `pattern`
    /// (only the hex and base64url ones) and `format: date-time`.
    fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            return conforms(doc, &doc["components"]["schemas"][name], value, at);
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options.iter().filter(|o| conforms(doc, o, value, at).is_ok()).count();
            return if matching == 1 { Ok(()) } else { Err(format!("{at}: {matching} of oneOf match {value}")) };
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let type_ok = |t: &str| match t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let (Some(minimum), Some(n)) = (schema["minimum"].as_i64(), value.as_i64())
            && n < minimum
        {
            return Err(format!("{at}: {n} < {minimum}"));
        }
        if let Some(text) = value.as_str() {
            let ok = match schema["pattern"].as_str() {
                Some("^[0-9a-f]{32}$") => {
                    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                }
                Some("^[A-Za-z0-9_-]*$") => text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                Some(other) => return Err(format!("{at}: the test does not know the pattern {other}")),
                None => true,
            };
            if !ok {
                return Err(format!("{at}: {text:?} does not match {}", schema["pattern"]));
            }
            if schema["format"] == "date-time"
                && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_err()
            {
                return Err(format!("{at}: {text:?} is not RFC 3339"));
            }
        }
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap_or_default();
                if !object.contains_key(key) {
                    return Err(format!("{at}: required {key} is missing"));
                }
            }
            for (key, field) in object {
                match schema["properties"].get(key) {
                    Some(property) => conforms(doc, property, field, &format!("{at}.{key}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: {key} is not a property"));
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
            for (i, item) in values.iter().enumerate() {
                conforms(doc, items, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn assert_conforms<T: serde::Serialize>(doc: &Value, schema: &str, value: &T) {
        let json = serde_json::to_value(value).unwrap();
        let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Err(e) = conforms(doc, &reference, &json, schema) {
            panic!("{schema} as serialized does not match its schema: {e}\n{json}");
        }
    }

    #[test]
    fn serialized_values_match_their_schemas() {
        use inkan_api::feed::{FeedEvent, History, Notice};
        use inkan_api::merchant::{Charge, CreateCharge};
        use inkan_api::wallet::{
            Card, CardStatus, Device, Limits, NewDevice, Session, TopUpResult, TopUpStatus, Wallet,
        };
        use inkan_api::{ApiError, Base64Url, ErrorBody};
        use inkan_core::limits::PendingRaise;
        use inkan_core::payment_code::DeviceKeyId;
        use inkan_core::{ChargeStatus, Currency, LimitPolicy, Money, Spending};

        let doc = document_json();
        // The checker itself refuses what serde would never produce.
        let schema = |name: &str| serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        for (name, wrong) in [
            ("Money", serde_json::json!({"minor": 1, "currency": "JPY"})),
            ("Money", serde_json::json!({"amount": 1, "currency": "USD"})),
            ("DeviceKeyId", serde_json::json!("AB")),
            ("Base64Url", serde_json::json!("a+b/")),
            ("PendingRaise", serde_json::json!({"policy": {}, "effective_at": 1})),
        ] {
            assert!(conforms(&doc, &schema(name), &wrong, name).is_err(), "{name} accepted {wrong}");
        }
        let now = time::OffsetDateTime::now_utc();
        let charge = |decided: Option<time::OffsetDateTime>, description: Option<&str>| Charge {
            id: "ch_1".to_owned(),
            status: ChargeStatus::PendingConfirmation,
            amount: 1280,
            currency: Currency::Jpy,
            description: description.map(str::to_owned),
            merchant_id: "mer_1".to_owned(),
            merchant_name: "FamilyMart".to_owned(),
            created_at: now,
            expires_at: now,
            decided_at: decided,
            refunded_at: None,
        };
        assert_conforms(&doc, "Charge", &charge(None, None));
        assert_conforms(&doc, "Charge", &charge(Some(now), Some("coffee")));
        let create =
            CreateCharge { payment_code: "X".to_owned(), amount: 1, currency: Currency::Jpy, description: None };
        assert_conforms(&doc, "CreateCharge", &create);

        let policy = LimitPolicy::new(Money::yen(30_000), Money::yen(50_000), Money::yen(200_000)).unwrap();
        let spending = Spending { today: Money::yen(0), this_month: Money::yen(1280) };
        for pending in [None, Some(PendingRaise { policy, effective_at: now })] {
            let limits = Limits { current: policy, pending, spending, remaining: Money::yen(30_000) };
            let wallet = Wallet {
                account_id: "acct_1".to_owned(),
                display_name: "Hanako".to_owned(),
                balance: Money::yen(-5),
                frozen: false,
                held: None,
                limits,
            };
            assert_conforms(&doc, "Wallet", &wallet);
        }

        let key_id = DeviceKeyId::from_bytes([0xab; 16]);
        let device = Device {
            id: "dev_1".to_owned(),
            key_id,
            name: "Pixel".to_owned(),
            active: true,
            enrolled_at: now,
            passkey_added_at: Some(now),
        };
        assert_conforms(&doc, "Device", &device);
        assert_conforms(&doc, "Device", &Device { passkey_added_at: None, ..device.clone() });
        let new_device = NewDevice {
            key_id,
            public_key: Base64Url(vec![4, 250, 251, 252]),
            name: "Pixel".to_owned(),
            proof: Base64Url(vec![0xff; 70]),
        };
        assert_conforms(&doc, "NewDevice", &new_device);
        let session = Session {
            token: "ses_x".to_owned(),
            account_id: "acct_1".to_owned(),
            idle_timeout_seconds: 300,
            max_lifetime_seconds: 43_200,
        };
        assert_conforms(&doc, "Session", &session);
        let card = Card {
            id: "card_1".to_owned(),
            brand: "visa".to_owned(),
            last4: "4242".to_owned(),
            status: CardStatus::ChallengeRequired,
        };
        assert_conforms(&doc, "Card", &card);
        let top_up = TopUpResult {
            id: "top_1".to_owned(),
            status: TopUpStatus::Pending,
            amount: Money::yen(1000),
            balance: Money::yen(0),
        };
        assert_conforms(&doc, "TopUpResult", &top_up);

        for (device_name, device_fingerprint) in [(None, None), (Some("Pixel"), Some("9BDA-95BD-A1EF-8F1B"))] {
            use inkan_api::devices::{Join, JoinState};
            let join = Join {
                join_id: "join_1".to_owned(),
                state: JoinState::AwaitingApproval,
                device_name: device_name.map(str::to_owned),
                device_fingerprint: device_fingerprint.map(str::to_owned),
                expires_at: now,
            };
            assert_conforms(&doc, "Join", &join);
        }

        for code in every_error_code() {
            let body = ErrorBody { error: ApiError::new(code, "m") };
            assert_conforms(&doc, "ErrorBody", &body);
        }

        let notices = [
            Notice::ChargeDeclined {
                charge_id: "ch_1".to_owned(),
                amount: 1,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
                not_me: true,
            },
            Notice::SignedIn { device_id: None },
            Notice::SignedIn { device_id: Some("dev_1".to_owned()) },
            Notice::LimitsRaiseRequested { per_charge: 1, daily: 2, monthly: 3, effective_at: now },
            Notice::WalletUnfrozen,
            Notice::AccountHeld { reason: "r".to_owned() },
            Notice::AccountReleased,
            Notice::RecoveryCodeUsed { remaining: 9 },
            Notice::RecoveryCodesReplaced { count: 10 },
            Notice::RecoveryCodeRejected,
            Notice::CardVerificationFailed { last4: "4242".to_owned(), locked: true },
            Notice::PasskeyRejected { device_id: Some("dev_1".to_owned()), during: "sign_in".to_owned() },
            Notice::PasskeyRejected { device_id: None, during: "payment".to_owned() },
            Notice::PasskeyAdded { device_id: "dev_1".to_owned() },
            Notice::PasskeyRemoved { device_id: "dev_1".to_owned(), count: 1 },
            Notice::SessionsEnded { count: 2, reason: "device_removed".to_owned() },
            Notice::DeviceJoinRequested {
                join_id: None,
                name: "n".to_owned(),
                fingerprint: Some("9BDA-95BD-A1EF-8F1B".to_owned()),
            },
            Notice::DeviceJoinRequested { join_id: Some("join_1".to_owned()), name: "n".to_owned(), fingerprint: None },
            Notice::RegionRefused { during: "sign_in".to_owned(), country: Some("US".to_owned()) },
            Notice::RegionRefused { during: "payment".to_owned(), country: None },
            Notice::TriesRunningOut { secret: "passkey".to_owned(), left: 1 },
            Notice::TriesLocked {
                secret: "recovery_code".to_owned(),
                until: Some(time::macros::datetime!(2026-12-05 12:30 UTC)),
            },
            Notice::TriesLocked { secret: "card".to_owned(), until: None },
            Notice::ChargeHeld {
                charge_id: "ch_1".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
                reason: "new_device_first_charge".to_owned(),
            },
            Notice::ChargeReviewDeclined {
                charge_id: "ch_1".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                merchant_name: "m".to_owned(),
            },
        ];
        let mut events = Vec::new();
        for (seq, notice) in (1..).zip(&notices) {
            assert_conforms(&doc, "Notice", notice);
            let payload = serde_json::to_string(notice).unwrap();
            let signature = (seq % 2 == 0).then(|| inkan_api::feed::HeadSignature {
                key_id: "0123456789abcdef".to_owned(),
                signature: inkan_api::Base64Url(vec![7; 64]),
            });
            events.push(FeedEvent { seq, at: now, payload, hash: "00".repeat(32), signature });
        }
        assert_conforms(&doc, "History", &History { account_id: "acct_1".to_owned(), events });
        let (issuer, _) = crate::issuer::Issuer::generate(&ring::rand::SystemRandom::new()).unwrap();
        assert_conforms(&doc, "IssuerKeys", &issuer.published());
        assert_conforms(&doc, "Unlocked", &inkan_api::admin::Unlocked { unlocked: true });
        let flags = inkan_api::admin::CardFlags {
            flags: vec![inkan_api::admin::CardFlag {
                fingerprint: "ab12".to_owned(),
                brand: "visa".to_owned(),
                last4: "4242".to_owned(),
                accounts: vec![inkan_api::admin::FlaggedAccount {
                    account_id: "acct_1".to_owned(),
                    status: "refused".to_owned(),
                    added_at: time::macros::datetime!(2026-12-05 12:00 UTC),
                }],
            }],
        };
        assert_conforms(&doc, "CardFlags", &flags);
        let trail = inkan_api::admin::AuditTrail {
            entries: vec![inkan_api::admin::AuditEntry {
                id: 1,
                at: time::macros::datetime!(2026-12-05 12:00 UTC),
                operator_id: "op_1".to_owned(),
                action: "hold".to_owned(),
                subject: "acct_1".to_owned(),
                reason: "fraud check".to_owned(),
            }],
        };
        assert_conforms(&doc, "AuditTrail", &trail);
        let unlock = inkan_api::admin::Unlock {
            account: None,
            device: None,
            address: Some("203.0.113.9".to_owned()),
            card_number: None,
            reason: Some("the shop's NAT: confirmed with the shop".to_owned()),
        };
        assert_conforms(&doc, "Unlock", &unlock);
        let held = inkan_api::admin::HeldCharges {
            charges: vec![inkan_api::admin::HeldCharge {
                charge_id: "ch_1".to_owned(),
                account_id: "acct_1".to_owned(),
                device_id: "dev_1".to_owned(),
                merchant_id: "mer_1".to_owned(),
                merchant_name: "m".to_owned(),
                terminal_country: "JP".to_owned(),
                amount: 25_000,
                currency: "JPY".to_owned(),
                reason: "many_charges".to_owned(),
                created_at: time::macros::datetime!(2026-12-05 12:00 UTC),
                expires_at: time::macros::datetime!(2026-12-05 12:10 UTC),
            }],
        };
        assert_conforms(&doc, "HeldCharges", &held);
        assert_conforms(
            &doc,
            "ReviewDecision",
            &inkan_api::admin::ReviewDecision { reason: "known shopper".to_owned() },
        );
    }

    /// Every variant of [`ErrorCode`]. The `match` below stops compiling when one is added, so
    /// whoever adds it comes here and adds it to this list too.
    fn every_error_code() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let all = vec![
            PaymentCodeInvalid,
            PaymentCodeExpired,
            PaymentCodeUsed,
            LimitExceeded,
            InsufficientFunds,
            WalletFrozen,
            ChargesSuspended,
            TopUpsSuspended,
            EnrolmentSuspended,
            AccountHeld,
            RegionBlocked,
            Unauthorized,
            Forbidden,
            InvalidRequest,
            PayloadTooLarge,
            IdempotencyConflict,
            NotFound,
            InvalidState,
            PasskeyRejected,
            StepUpRequired,
            CeremonyExpired,
            CardDeclined,
            CardLocked,
            AttemptsLocked,
            DeviceRevoked,
            UnfreezeNotAllowed,
            TooManyRequests,
            RequestTimeout,
            Overloaded,
            Internal,
        ];
        for code in &all {
            match code {
                PaymentCodeInvalid | PaymentCodeExpired | PaymentCodeUsed | LimitExceeded | InsufficientFunds
                | WalletFrozen | ChargesSuspended | TopUpsSuspended | EnrolmentSuspended | AccountHeld
                | RegionBlocked | Unauthorized | Forbidden | InvalidRequest | PayloadTooLarge | IdempotencyConflict
                | NotFound | InvalidState | PasskeyRejected | StepUpRequired | CeremonyExpired | CardDeclined
                | CardLocked | AttemptsLocked | DeviceRevoked | UnfreezeNotAllowed | TooManyRequests
                | RequestTimeout | Overloaded | Internal => {}
            }
        }
        all
    }

    #[test]
    fn the_error_code_schema_lists_every_code() {
        let doc = document_json();
        let schema = &doc["components"]["schemas"]["ErrorCode"];
        let listed: BTreeSet<String> =
            schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        let expected: BTreeSet<String> = every_error_code().into_iter().map(ErrorCode::as_str).collect();
        assert_eq!(expected.len(), every_error_code().len());
        assert_eq!(listed, expected);
        assert_eq!(
            doc["components"]["schemas"]["ApiError"]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }
}
