//! The issuer server through HTTP, with real software passkeys and device keys: the whole payment
//! flow and each way it must refuse. Every test runs on SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test bodies run through a macro that clippy does not see as tests"
)]

use std::time::Duration as StdDuration;

use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{
    AssertionChallenge, BeginStepUp, DeclineCharge, Limits, SetLimits, StepUpAction, Wallet, WalletCharge,
};
use inkan_core::ChargeStatus;
use inkan_core::{Currency, LimitPolicy, Money};
use inkan_testkit as support;
use reqwest::StatusCode;
use support::{Backend, FeedReader, Shopper, Terminal, TestServer, error, json};
use time::Duration;

/// Passkeys, sessions and feeds bound to their device (issue 14).
#[path = "api/devices.rs"]
mod devices;

/// Migrations that rebuild tables keep their rows.
#[path = "api/migrations.rs"]
mod migrations;

/// Every history head signed by the issuer (issue 14).
#[path = "api/history.rs"]
mod history;

/// Abuse defences: bounded streams, bodies and stored state (issue 15).
#[path = "api/abuse.rs"]
mod abuse;

/// Failed tries of passkeys, recovery codes and cards: warned, locked, lifted (issue 15).
#[path = "api/attempts.rs"]
mod attempts;

/// Velocity and anomaly holds: held for review, approved, declined, expired (issue 15).
#[path = "api/review.rs"]
mod review;

/// Top-ups in two phases: retried once, reconciled, never lost or doubled (issue 16).
#[path = "api/topups.rs"]
mod topups;

/// Money out: a wallet closed, its balance paid back to a card once (issue 16).
#[path = "api/closing.rs"]
mod closing;

/// PostgreSQL over TLS, required and verified (issue 16).
#[path = "api/tls.rs"]
mod tls;

/// No probing with a code, no charge state without a session, confirmations judged again (issue 20).
#[path = "api/confirming.rs"]
mod confirming;

/// Payment codes of version 2, and version 1 in the migration window (issue 19).
#[path = "api/codes.rs"]
mod codes;

support::on_both_databases!(
    whole_payment_flow,
    bad_codes_are_refused,
    two_terminals_racing_with_one_code,
    an_assertion_pays_only_its_own_charge,
    a_replayed_assertion_pays_nothing,
    one_passkey_confirms_two_charges_at_once_and_an_older_assertion_fails,
    limits_hold_per_charge_day_and_new_device,
    insufficient_funds_counts_pending_charges,
    frozen_wallet_refuses_and_unfreeze_needs_a_settled_passkey_or_a_recovery_code,
    wrong_and_revoked_terminal_keys,
    hostile_bodies_get_clear_errors_and_change_nothing,
    every_error_answer_has_the_json_shape,
    idempotent_retries,
    feed_resumes_after_a_disconnect_with_nothing_lost,
    unconfirmed_charges_expire_and_not_me_freezes,
    refunds_return_the_money_once,
    raising_limits_needs_a_passkey_and_waits,
    a_passkey_step_up_and_a_payment_at_once_never_deadlock,
    sessions_end_after_five_idle_minutes,
    a_second_device_joins_only_with_a_passkey_approval,
    a_recovery_code_adds_a_device_once_and_freezes,
    cards_are_verified_limited_and_never_stored,
    card_attempts_sent_at_once_get_no_more_than_five_tries,
    a_cards_code_is_locked_across_wallets,
    a_terminal_long_poll_wakes_when_the_shopper_answers,
    past_its_limits_the_server_answers_503_at_once_and_recovers,
);

async fn whole_payment_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let mut shopper = Shopper::enroll(&server, "Hanako").await;
    assert_eq!(shopper.enrolled.as_ref().unwrap().recovery_codes.len(), 10);
    shopper.top_up(&server, 10_000).await;
    assert_eq!(shopper.balance(&server).await, 10_000);

    let mut feed = FeedReader::open(&server, &shopper.token.clone(), None).await;
    // The history so far: account created, device and its passkey added, card added, top-up.
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(feed.next_within(StdDuration::from_secs(5)).await.expect("backlog").kind);
    }
    assert_eq!(seen, ["account_created", "device_added", "passkey_added", "card_added", "top_up_succeeded"]);

    let code = shopper.code(&server);
    let charge = till.charge_ok(&code, 1_280).await;
    assert_eq!(charge.status, ChargeStatus::PendingConfirmation);
    assert_eq!(charge.merchant_name, "FamilyMart Shibuya");

    // Pushed to the wallet within a second.
    let event = feed.next_within(StdDuration::from_secs(1)).await.expect("charge pushed within 1 s");
    assert_eq!(event.kind, "charge_pending");
    match event.data.notice().unwrap() {
        Notice::ChargePending { charge_id, amount, merchant_name, .. } => {
            assert_eq!(
                (charge_id.as_str(), amount, merchant_name.as_str()),
                (charge.id.as_str(), 1_280, "FamilyMart Shibuya")
            );
        }
        other => panic!("unexpected notice {other:?}"),
    }

    let pending = shopper.pending(&server).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].charge.amount.to_string(), "¥1,280");
    let confirmed: inkan_api::wallet::WalletCharge =
        json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!(confirmed.status, ChargeStatus::Succeeded);

    assert_eq!(till.get(&charge.id, Some(5)).await.status, ChargeStatus::Succeeded);
    assert_eq!(shopper.balance(&server).await, 8_720);
    let event = feed.next_within(StdDuration::from_secs(1)).await.expect("success pushed");
    assert_eq!(event.kind, "charge_succeeded");
    server.assert_ledger_balanced().await;

    // The same code never pays twice.
    error(till.charge(&code, 100).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    server.stop().await;
}

/// A shopper with money, and a merchant's till, on a fresh server.
async fn setup(backend: Backend, balance: i64) -> (TestServer, Terminal, Shopper) {
    setup_with(backend, balance, support::settings()).await
}

/// The test settings with no velocity rule: for tests of something else that pay the way the
/// rules hold (many charges at once, large first payments from a new device).
fn without_velocity_holds() -> inkan_server::Settings {
    let mut settings = support::settings();
    settings.risk = inkan_core::risk::RiskRules::OFF;
    settings
}

async fn setup_with(
    backend: Backend,
    balance: i64,
    settings: inkan_server::Settings,
) -> (TestServer, Terminal, Shopper) {
    let server = TestServer::start_with(backend, settings).await;
    let till = server.merchant("Lawson Ebisu").await;
    let shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, balance).await;
    (server, till, shopper)
}

/// Charges `amount` and confirms it with the shopper's passkey.
async fn pay(server: &TestServer, till: &Terminal, shopper: &mut Shopper, amount: i64) -> Charge {
    let code = shopper.code(server);
    let charge = till.charge_ok(&code, amount).await;
    let pending = shopper.pending(server).await;
    let this = pending.iter().find(|p| p.charge.id == charge.id).expect("charge is pending for the shopper");
    let _: WalletCharge = json(shopper.confirm(server, this).await, StatusCode::OK).await;
    charge
}

async fn bad_codes_are_refused(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    // One character changed.
    let code = shopper.code(&server);
    let mut tampered = code.clone().into_bytes();
    tampered[50] = if tampered[50] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    error(till.charge(&tampered, 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    // Expired: 61 s after it was made.
    server.advance(Duration::seconds(61));
    error(till.charge(&code, 100).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentCodeExpired).await;
    // Counter rolled back: code 3 pays, then code 2 (made earlier, still fresh in time) is dead.
    let older = shopper.code(&server);
    let newer = shopper.code(&server);
    till.charge_ok(&newer, 100).await;
    error(till.charge(&older, 100).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    // A well-formed code from a device the server has never seen: of version 1, and of version 2
    // sealed to this server, from an index it never gave.
    let mut stranger = Shopper::new();
    let foreign = stranger.payment_code_v1(&server).text();
    error(till.charge(&foreign, 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    stranger.code_keys = Some(support::stranger_code_keys(shopper.code_keys.as_ref().unwrap()));
    let foreign = stranger.code(&server);
    error(till.charge(&foreign, 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    // Garbage, empty, and very long.
    for junk in ["hello".to_owned(), String::new(), "A".repeat(5_000), "ｱ".repeat(140)] {
        error(till.charge(&junk, 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    }
    assert_eq!(server.charge_count().await, 1, "only the one good code made a charge");
    server.stop().await;
}

async fn two_terminals_racing_with_one_code(backend: Backend) {
    let (server, till_a, mut shopper) = setup(backend, 10_000).await;
    let till_b = server.merchant("7-Eleven Shinjuku").await;
    for _ in 0..5 {
        let code = shopper.code(&server);
        let (a, b) = tokio::join!(till_a.charge(&code, 500), till_b.charge(&code, 700));
        let statuses = [a.status(), b.status()];
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        let loser = if a.status() == StatusCode::CREATED { b } else { a };
        error(loser, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    }
    assert_eq!(server.charge_count().await, 5);
    server.stop().await;
}

async fn an_assertion_pays_only_its_own_charge(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code_a = shopper.code(&server);
    let a = till.charge_ok(&code_a, 300).await;
    let code_b = shopper.code(&server);
    let b = till.charge_ok(&code_b, 9_000).await;
    let pending = shopper.pending(&server).await;
    let pending_a = pending.iter().find(|p| p.charge.id == a.id).unwrap();
    // Sign A (¥300), present it for B (¥9,000).
    let signed_for_a = shopper.sign_charge(pending_a);
    let response =
        server.post(&format!("/v1/wallet/charges/{}/confirm", b.id), Some(&shopper.token), &signed_for_a).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
    assert_eq!(till.get(&b.id, None).await.status, ChargeStatus::PendingConfirmation);
    assert_eq!(shopper.balance(&server).await, 10_000);
    // The same assertion still pays A, which it was made for.
    let response =
        server.post(&format!("/v1/wallet/charges/{}/confirm", a.id), Some(&shopper.token), &signed_for_a).await;
    let _: WalletCharge = json(response, StatusCode::OK).await;
    assert_eq!(shopper.balance(&server).await, 9_700);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_replayed_assertion_pays_nothing(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let charge = till.charge_ok(&code, 1_000).await;
    let pending = shopper.pending(&server).await;
    let signed = shopper.sign_charge(&pending[0]);
    let path = format!("/v1/wallet/charges/{}/confirm", charge.id);
    let _: WalletCharge = json(server.post(&path, Some(&shopper.token), &signed).await, StatusCode::OK).await;
    error(server.post(&path, Some(&shopper.token), &signed).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    // Two replays at once, too.
    let (r1, r2) = tokio::join!(
        server.post(&path, Some(&shopper.token), &signed),
        server.post(&path, Some(&shopper.token), &signed)
    );
    assert_eq!((r1.status(), r2.status()), (StatusCode::CONFLICT, StatusCode::CONFLICT));
    assert_eq!(shopper.balance(&server).await, 9_000);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

/// `confirm` reads the credential before its transaction and writes its counter conditionally on
/// what it read. Two charges confirmed at once with one passkey (counters n+2 and n+3): the later
/// assertion always pays, whichever transaction goes first (if the earlier one won, it is judged
/// again against what that one wrote); the earlier pays only if it went first, since a counter
/// behind the stored one cannot be told from a cloned authenticator. An assertion already behind is
/// refused and its charge stays unpaid. The counter is written in its own column: the passkey's
/// stored JSON is not rewritten by an assertion, and its own (older) counter does not let an
/// assertion behind the column's through.
async fn one_passkey_confirms_two_charges_at_once_and_an_older_assertion_fails(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let stored = || async {
        sqlx::query_as::<_, (String, i64)>("SELECT passkey, counter FROM passkeys")
            .fetch_one(server.state.db.pool())
            .await
            .unwrap()
    };
    let (json_before, counter_before) = stored().await;
    for _ in 0..3 {
        let code = shopper.code(&server);
        till.charge_ok(&code, 100).await;
    }
    let pending = shopper.pending(&server).await;
    assert_eq!(pending.len(), 3);
    let signed: Vec<_> = pending.iter().map(|p| shopper.sign_charge(p)).collect();
    let path = |i: usize| format!("/v1/wallet/charges/{}/confirm", pending[i].charge.id);
    let (second, third) = (path(1), path(2));
    let (r2, r3) = tokio::join!(
        server.post(&second, Some(&shopper.token), &signed[1]),
        server.post(&third, Some(&shopper.token), &signed[2])
    );
    assert_eq!(r3.status(), StatusCode::OK, "the latest assertion was refused");
    let second_paid = match r2.status() {
        StatusCode::OK => true,
        _ => {
            error(r2, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
            false
        }
    };
    let expected = if second_paid { 9_800 } else { 9_900 };
    // The first (counter n+1) is behind the stored counter now: refused, and its charge unpaid.
    error(
        server.post(&path(0), Some(&shopper.token), &signed[0]).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::PasskeyRejected,
    )
    .await;
    assert_eq!(till.get(&pending[0].charge.id, None).await.status, ChargeStatus::PendingConfirmation);
    assert_eq!(shopper.balance(&server).await, expected);
    let (json_after, counter_after) = stored().await;
    assert_eq!(json_after, json_before, "an assertion rewrote the passkey's JSON");
    assert!(counter_after > counter_before + 1, "{counter_before} → {counter_after}");
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn limits_hold_per_charge_day_and_new_device(backend: Backend) {
    // Large payments from a device of today, right after a top-up, are what the velocity rules
    // hold for review (`review::*`); this test is about the limits.
    let (server, till, mut shopper) = setup_with(backend, 400_000, without_velocity_holds()).await;
    // First 72 hours: the new-device cap (¥30,000 per charge).
    let code = shopper.code(&server);
    let message =
        error(till.charge(&code, 30_001).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    // The terminal learns that a limit was reached, not which one nor what is left.
    let learns_nothing = |m: &str| {
        let told = ["per-charge", "daily", "monthly", "left", "¥", "円"].iter().any(|w| m.contains(w))
            || m.chars().any(|c| c.is_ascii_digit());
        assert!(!told, "the terminal learned the shopper's limits: {m}");
    };
    learns_nothing(&message);
    // The wallet shows the cap as what it can pay now with this device.
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.limits.remaining, Money::yen(30_000));
    assert_eq!(wallet.limits.current.get(inkan_core::LimitKind::PerCharge), Money::yen(50_000));
    pay(&server, &till, &mut shopper, 30_000).await;
    // After 72 hours, the wallet's own limits: ¥50,000 per charge, ¥100,000 a day.
    server.advance(Duration::hours(73));
    let code = shopper.code(&server);
    error(till.charge(&code, 50_001).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    // Pending charges count against the day too: two of ¥50,000 fill it.
    let code = shopper.code(&server);
    till.charge_ok(&code, 50_000).await;
    let code = shopper.code(&server);
    till.charge_ok(&code, 50_000).await;
    let code = shopper.code(&server);
    let message = error(till.charge(&code, 1).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    learns_nothing(&message);
    // The shopper's wallet says it: nothing left today.
    shopper.sign_in(&server).await;
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.limits.remaining, Money::yen(0));
    server.stop().await;
}

async fn insufficient_funds_counts_pending_charges(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 1_000).await;
    let code = shopper.code(&server);
    error(till.charge(&code, 1_001).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    let code = shopper.code(&server);
    till.charge_ok(&code, 600).await;
    let code = shopper.code(&server);
    error(till.charge(&code, 600).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    assert_eq!(shopper.balance(&server).await, 1_000);
    server.stop().await;
}

async fn step_up(server: &TestServer, shopper: &mut Shopper, action: StepUpAction) -> inkan_api::wallet::Assertion {
    let challenge: AssertionChallenge =
        json(server.post("/v1/wallet/step-up", Some(&shopper.token), &BeginStepUp { action }).await, StatusCode::OK)
            .await;
    shopper.assert(challenge)
}

async fn frozen_wallet_refuses_and_unfreeze_needs_a_settled_passkey_or_a_recovery_code(backend: Backend) {
    use inkan_api::wallet::UnfreezeWithRecoveryCode;
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let codes = shopper.enrolled.as_ref().unwrap().recovery_codes.clone();
    let freeze = async |shopper: &Shopper| {
        let response = server.post("/v1/wallet/freeze", Some(&shopper.token), &serde_json::json!({})).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    };
    let frozen = async |shopper: &Shopper| {
        json::<Wallet>(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await.frozen
    };
    freeze(&shopper).await;
    let code = shopper.code(&server);
    error(till.charge(&code, 100).await, StatusCode::FORBIDDEN, ErrorCode::WalletFrozen).await;
    // A passkey of a device in the wallet for less than 72 hours cannot lift it, not even the
    // first device of a new wallet.
    let early = step_up(&server, &mut shopper, StepUpAction::Unfreeze).await;
    let response = server.post("/v1/wallet/unfreeze", Some(&shopper.token), &early).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::UnfreezeNotAllowed).await;
    assert!(frozen(&shopper).await);
    // A recovery code can, once; a wrong one changes nothing.
    let path = "/v1/wallet/unfreeze/recovery-code";
    let wrong = UnfreezeWithRecoveryCode { recovery_code: "AAAA-BBBB-CCCC-DDDD".to_owned() };
    error(server.post(path, Some(&shopper.token), &wrong).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    assert!(frozen(&shopper).await);
    let right = UnfreezeWithRecoveryCode { recovery_code: codes[0].to_lowercase() };
    assert_eq!(server.post(path, Some(&shopper.token), &right).await.status(), StatusCode::NO_CONTENT);
    assert!(!frozen(&shopper).await);
    freeze(&shopper).await;
    error(server.post(path, Some(&shopper.token), &right).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    // 72 hours on, the device is settled: its passkey can, with a step-up for exactly that action.
    server.advance(Duration::hours(72));
    shopper.sign_in(&server).await;
    let wrong_action = step_up(&server, &mut shopper, StepUpAction::RaiseLimits).await;
    let response = server.post("/v1/wallet/unfreeze", Some(&shopper.token), &wrong_action).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::StepUpRequired).await;
    let right = step_up(&server, &mut shopper, StepUpAction::Unfreeze).await;
    let response = server.post("/v1/wallet/unfreeze", Some(&shopper.token), &right).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The step-up is used up.
    let response = server.post("/v1/wallet/unfreeze", Some(&shopper.token), &right).await;
    error(response, StatusCode::BAD_REQUEST, ErrorCode::CeremonyExpired).await;
    let code = shopper.code(&server);
    till.charge_ok(&code, 100).await;
    server.stop().await;
}

async fn wrong_and_revoked_terminal_keys(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let body = CreateCharge { payment_code: code, amount: 100, currency: Currency::Jpy, description: None };
    for auth in [None, Some("tk_wrong"), Some(""), Some(&*"x".repeat(1_000))] {
        let mut request =
            server.http.post(format!("{}/v1/charges", server.url)).header("Idempotency-Key", "k1").json(&body);
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        error(request.send().await.unwrap(), StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    }
    inkan_server::admin::revoke_terminal(&server.state.db, &till.terminal_id).await.unwrap();
    error(till.charge_raw("k2", &body).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // A session token is not a terminal key.
    let response = server
        .http
        .post(format!("{}/v1/charges", server.url))
        .bearer_auth(&shopper.token)
        .header("Idempotency-Key", "k3")
        .json(&body)
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    assert_eq!(server.charge_count().await, 0);
    server.stop().await;
}

async fn hostile_bodies_get_clear_errors_and_change_nothing(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let bodies = [
        serde_json::json!({"payment_code": code, "amount": 100, "currency": "JPY", "tip": 5}),
        serde_json::json!({"payment_code": code, "amount": "100", "currency": "JPY"}),
        serde_json::json!({"payment_code": code, "amount": 100.5, "currency": "JPY"}),
        serde_json::json!({"payment_code": code, "amount": 100}),
        serde_json::json!({"payment_code": code, "amount": 100, "currency": "USD"}),
        serde_json::json!({"payment_code": code, "amount": 0, "currency": "JPY"}),
        serde_json::json!({"payment_code": code, "amount": -100, "currency": "JPY"}),
        serde_json::json!({"payment_code": code, "amount": 99_999_999_999i64, "currency": "JPY"}),
        serde_json::json!({"payment_code": code, "amount": 100, "currency": "JPY", "description": "a\u{0007}b"}),
        serde_json::json!([1, 2, 3]),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let response = till.charge_raw(&format!("hostile-{i}"), body).await;
        error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    }
    // Not JSON at all, and JSON without its content type.
    let url = format!("{}/v1/charges", server.url);
    let response = server
        .http
        .post(&url)
        .bearer_auth(&till.key)
        .header("Idempotency-Key", "nj")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    let response = server
        .http
        .post(&url)
        .bearer_auth(&till.key)
        .header("Idempotency-Key", "ct")
        .body(serde_json::to_string(&bodies[0]).unwrap())
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::InvalidRequest).await;
    // Too large.
    let huge = serde_json::json!({"payment_code": code, "amount": 100, "currency": "JPY", "description": "x".repeat(17 * 1024)});
    error(till.charge_raw("huge", &huge).await, StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge).await;
    // No Idempotency-Key, or a hostile one.
    let good = CreateCharge { payment_code: code.clone(), amount: 100, currency: Currency::Jpy, description: None };
    let response = server.http.post(&url).bearer_auth(&till.key).json(&good).send().await.unwrap();
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    error(till.charge_raw(&"k".repeat(300), &good).await, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    // Wallet endpoints refuse unknown fields too.
    let response = server.post("/v1/wallet/freeze", Some(&shopper.token), &serde_json::json!({"now": true})).await;
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    let response = server
        .post("/v1/accounts/registration", None, &serde_json::json!({"display_name": "A", "birth_date": "2019-01-01"}))
        .await;
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    let response = server.post("/v1/accounts/registration", None, &serde_json::json!({})).await;
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    // A device key id whose codes would start with a space (trimmed away by scanners) is refused.
    {
        use inkan_api::wallet::{BeginRegistration, FinishRegistration, RegistrationChallenge};
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let mut newcomer = Shopper::new();
        newcomer.key_id = inkan_core::payment_code::DeviceKeyId::from_bytes([5; 16]);
        let begin = BeginRegistration { display_name: "Spacey".into() };
        let challenge: RegistrationChallenge =
            json(server.post("/v1/accounts/registration", None, &begin).await, StatusCode::OK).await;
        let credential =
            newcomer.passkey.do_registration(url::Url::parse(support::ORIGIN).unwrap(), challenge.public_key).unwrap();
        let finish = FinishRegistration {
            ceremony_id: challenge.ceremony_id.clone(),
            credential,
            device: newcomer.new_device(&challenge.ceremony_id),
        };
        let message =
            error(server.post("/v1/accounts", None, &finish).await, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest)
                .await;
        assert!(message.contains("start with a space"), "{message}");
    }
    let response = server.get("/v1/nothing-here", None).await;
    error(response, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    // Nothing changed: no charge, the code is still good.
    assert_eq!(server.charge_count().await, 0);
    till.charge_ok(&code, 100).await;
    server.stop().await;
}

/// Errors axum makes itself (a method a path does not take, a path parameter that does not
/// decode) answer in the API's error shape, as every other error does.
async fn every_error_answer_has_the_json_shape(backend: Backend) {
    let (server, till, shopper) = setup(backend, 1_000).await;
    let cases: [(reqwest::Method, &str, Option<&str>, StatusCode, ErrorCode); 5] = [
        (
            reqwest::Method::DELETE,
            "/v1/charges",
            Some(&till.key),
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidRequest,
        ),
        (
            reqwest::Method::GET,
            "/v1/wallet/topups",
            Some(&shopper.token),
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidRequest,
        ),
        (
            reqwest::Method::GET,
            "/v1/charges/%FF%FE",
            Some(&till.key),
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
        ),
        (reqwest::Method::GET, "/v1/device-joins/%C3%28", None, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
        (reqwest::Method::GET, "/v1/nothing-here", None, StatusCode::NOT_FOUND, ErrorCode::NotFound),
    ];
    for (method, path, token, status, code) in cases {
        let mut request = server.http.request(method.clone(), format!("{}{path}", server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let allow = response.headers().get("allow").cloned();
        error(response, status, code).await;
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(allow.is_some(), "{method} {path}: a 405 says which methods are allowed");
        }
    }
    server.stop().await;
}

async fn idempotent_retries(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let body =
        CreateCharge { payment_code: code, amount: 1_280, currency: Currency::Jpy, description: Some("bento".into()) };
    let first: Charge = json(till.charge_raw("retry-1", &body).await, StatusCode::CREATED).await;
    // The response was lost; the terminal retries, even after the shopper confirmed.
    let again: Charge = json(till.charge_raw("retry-1", &body).await, StatusCode::CREATED).await;
    assert_eq!(again, first);
    let pending = shopper.pending(&server).await;
    let _: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    let later: Charge = json(till.charge_raw("retry-1", &body).await, StatusCode::CREATED).await;
    assert_eq!(later.id, first.id);
    // Concurrent retries make one charge.
    let code = shopper.code(&server);
    let body2 = CreateCharge { payment_code: code, amount: 500, currency: Currency::Jpy, description: None };
    let (a, b) = tokio::join!(till.charge_raw("retry-2", &body2), till.charge_raw("retry-2", &body2));
    let a: Charge = json(a, StatusCode::CREATED).await;
    let b: Charge = json(b, StatusCode::CREATED).await;
    assert_eq!(a.id, b.id);
    // Same key, other body.
    let other = CreateCharge { amount: 1_281, ..body };
    error(till.charge_raw("retry-1", &other).await, StatusCode::CONFLICT, ErrorCode::IdempotencyConflict).await;
    assert_eq!(server.charge_count().await, 2);
    assert_eq!(shopper.balance(&server).await, 8_720);
    // One key with different bodies at once (two shoppers' codes): one charge, the other told of
    // the conflict, never a 500.
    let mut neighbour = Shopper::enroll(&server, "Hana").await;
    neighbour.top_up(&server, 1_000).await;
    let mine =
        CreateCharge { payment_code: shopper.code(&server), amount: 300, currency: Currency::Jpy, description: None };
    let theirs =
        CreateCharge { payment_code: neighbour.code(&server), amount: 400, currency: Currency::Jpy, description: None };
    let (a, b) = tokio::join!(till.charge_raw("retry-3", &mine), till.charge_raw("retry-3", &theirs));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} / {}",
        a.text().await.unwrap(),
        b.text().await.unwrap()
    );
    assert_eq!(server.charge_count().await, 3);
    server.stop().await;
}

async fn feed_resumes_after_a_disconnect_with_nothing_lost(backend: Backend) {
    // Seven charges in a minute are what a velocity rule holds for review (`review::*`); this test
    // is about the feed.
    let (server, till, mut shopper) = setup_with(backend, 100_000, without_velocity_holds()).await;
    let token = shopper.token.clone();
    let mut feed = FeedReader::open(&server, &token, None).await;
    let mut last = 0;
    for _ in 0..5 {
        last = feed.next_within(StdDuration::from_secs(5)).await.unwrap().id;
    }
    drop(feed);
    // While disconnected: a burst of charges, some confirmed, one declined.
    let mut made = Vec::new();
    for i in 0..6 {
        let code = shopper.code(&server);
        made.push(till.charge_ok(&code, 100 + i).await);
    }
    let pending = shopper.pending(&server).await;
    for p in pending.iter().take(3) {
        let _: WalletCharge = json(shopper.confirm(&server, p).await, StatusCode::OK).await;
    }
    let response = server
        .post(&format!("/v1/wallet/charges/{}/decline", made[5].id), Some(&token), &DeclineCharge::default())
        .await;
    let _: WalletCharge = json(response, StatusCode::OK).await;
    // Reconnect from the last id seen: 6 pending + 3 succeeded + 1 declined, in order, once each.
    let mut feed = FeedReader::open(&server, &token, Some(last)).await;
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    while let Some(event) = feed.next_within(StdDuration::from_millis(500)).await {
        ids.push(event.id);
        kinds.push(event.kind);
    }
    assert_eq!(ids, ((last + 1)..=(last + 10)).collect::<Vec<_>>());
    assert_eq!(kinds.iter().filter(|k| *k == "charge_pending").count(), 6);
    assert_eq!(kinds.iter().filter(|k| *k == "charge_succeeded").count(), 3);
    assert_eq!(kinds.last().map(String::as_str), Some("charge_declined"));
    // Live events arrive on the resumed stream.
    let code = shopper.code(&server);
    till.charge_ok(&code, 1).await;
    assert_eq!(feed.next_within(StdDuration::from_secs(1)).await.unwrap().id, last + 11);
    // The exported history verifies, and any edit to it does not.
    let history: inkan_api::feed::History =
        json(server.get("/v1/wallet/history", Some(&token)).await, StatusCode::OK).await;
    let unhex = |s: &str| -> [u8; 32] {
        let v: Vec<u8> = (0..64).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    };
    let links = |events: &[inkan_api::feed::FeedEvent]| -> Vec<(u64, i64, String, [u8; 32])> {
        events
            .iter()
            .map(|e| {
                (
                    e.seq,
                    i64::try_from(e.at.unix_timestamp_nanos() / 1_000_000).unwrap(),
                    e.payload.clone(),
                    unhex(&e.hash),
                )
            })
            .collect()
    };
    let verify = |l: &[(u64, i64, String, [u8; 32])]| {
        inkan_core::history::verify(l.iter().map(|(seq, at, p, h)| inkan_core::history::Link {
            seq: *seq,
            at_unix_ms: *at,
            payload: p,
            hash: *h,
        }))
    };
    let mut entries = links(&history.events);
    assert_eq!(entries.len(), usize::try_from(last + 11).unwrap());
    assert!(verify(&entries).is_ok());
    entries[5].2.push(' ');
    assert!(verify(&entries).is_err());
    server.stop().await;
}

async fn unconfirmed_charges_expire_and_not_me_freezes(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let charge = till.charge_ok(&code, 700).await;
    let pending = shopper.pending(&server).await;
    server.advance(Duration::seconds(121));
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::Expired);
    error(shopper.confirm(&server, &pending[0]).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    assert!(shopper.pending(&server).await.is_empty());
    // "This wasn't me": declined and frozen in one step; the terminal sees the decline.
    let code = shopper.code(&server);
    let charge = till.charge_ok(&code, 800).await;
    let response = server
        .post(
            &format!("/v1/wallet/charges/{}/decline", charge.id),
            Some(&shopper.token),
            &DeclineCharge { not_me: true },
        )
        .await;
    assert_eq!(json::<WalletCharge>(response, StatusCode::OK).await.status, ChargeStatus::Declined);
    assert_eq!(till.get(&charge.id, Some(1)).await.status, ChargeStatus::Declined);
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert!(wallet.frozen);
    assert_eq!(wallet.balance, Money::yen(10_000));
    server.stop().await;
}

async fn refunds_return_the_money_once(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let charge = pay(&server, &till, &mut shopper, 2_500).await;
    assert_eq!(shopper.balance(&server).await, 7_500);
    let refund_url = format!("{}/v1/charges/{}/refund", server.url, charge.id);
    let refunded: Charge = json(
        server.http.post(&refund_url).bearer_auth(&till.key).json(&serde_json::json!({})).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(refunded.status, ChargeStatus::Refunded);
    assert_eq!(shopper.balance(&server).await, 10_000);
    // A retry (the first answer was lost) gets the refunded charge again; the money moved once.
    let again = server.http.post(&refund_url).bearer_auth(&till.key).json(&serde_json::json!({})).send().await.unwrap();
    let again: Charge = json(again, StatusCode::OK).await;
    assert_eq!((again.status, again.refunded_at), (ChargeStatus::Refunded, refunded.refunded_at));
    assert_eq!(shopper.balance(&server).await, 10_000);
    // A charge that was never paid cannot be refunded.
    let code = shopper.code(&server);
    let unpaid = till.charge_ok(&code, 300).await;
    let response = server
        .http
        .post(format!("{}/v1/charges/{}/refund", server.url, unpaid.id))
        .bearer_auth(&till.key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    // Another merchant cannot refund (or even see) it.
    let other = server.merchant("Someone Else").await;
    let response =
        server.http.post(&refund_url).bearer_auth(&other.key).json(&serde_json::json!({})).send().await.unwrap();
    error(response, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

fn policy(per_charge: i64, daily: i64, monthly: i64) -> LimitPolicy {
    LimitPolicy::new(Money::yen(per_charge), Money::yen(daily), Money::yen(monthly)).unwrap()
}

/// A payment's confirmation locks its charge, then the account, then the passkey; raising limits
/// locks the account, then the passkey. Sent at once, round after round, neither may fail as a
/// deadlock (on PostgreSQL the loser would get a 500); at most one of the two assertions, the
/// older, is refused as the passkey's counter moved past it.
async fn a_passkey_step_up_and_a_payment_at_once_never_deadlock(backend: Backend) {
    // Which of the two lands first is the race's to decide, and each refused assertion counts
    // against this address: more than five refusals in 12 rounds would lock it (as it should) and
    // end the rounds early. This test is about deadlocks, so the address may fail every round.
    let mut settings = without_velocity_holds();
    settings.attempts.max_failures = 13;
    let (server, till, mut shopper) = setup_with(backend, 100_000, settings).await;
    for round in 1..=12 {
        let charge = till.charge_ok(&shopper.code(&server), 100).await;
        let pending = shopper.pending(&server).await;
        let pending = pending.iter().find(|p| p.charge.id == charge.id).unwrap();
        let step_up = step_up(&server, &mut shopper, StepUpAction::RaiseLimits).await;
        let confirm = shopper.sign_charge(pending);
        let raise = SetLimits { limits: policy(50_000 + round, 100_000, 1_000_000), step_up: Some(step_up) };
        let path = format!("/v1/wallet/charges/{}/confirm", charge.id);
        let (limits, paid) = tokio::join!(
            server.put("/v1/wallet/limits", Some(&shopper.token), &raise),
            server.post(&path, Some(&shopper.token), &confirm),
        );
        let statuses = (limits.status(), paid.status());
        let ok = [StatusCode::OK, StatusCode::UNAUTHORIZED];
        assert!(
            ok.contains(&statuses.0)
                && ok.contains(&statuses.1)
                && statuses != (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
            "round {round}: {statuses:?}: {} / {}",
            limits.text().await.unwrap(),
            paid.text().await.unwrap()
        );
        // A refused assertion counts against the session (its fifth would end it): a fresh one
        // every fourth round (sign-ins are rate-limited).
        if round % 4 == 0 {
            shopper.sign_in(&server).await;
        }
    }
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn raising_limits_needs_a_passkey_and_waits(backend: Backend) {
    let (server, _till, mut shopper) = setup(backend, 1_000).await;
    let put = async |shopper: &Shopper, body: &SetLimits| {
        server
            .http
            .put(format!("{}/v1/wallet/limits", server.url))
            .bearer_auth(&shopper.token)
            .json(body)
            .send()
            .await
            .unwrap()
    };
    // Lowering: at once, no passkey.
    let lowered: Limits = json(
        put(&shopper, &SetLimits { limits: policy(10_000, 20_000, 100_000), step_up: None }).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(lowered.current, policy(10_000, 20_000, 100_000));
    assert!(lowered.pending.is_none());
    // Raising without a passkey: refused, nothing changes.
    let raise = policy(40_000, 80_000, 200_000);
    error(
        put(&shopper, &SetLimits { limits: raise, step_up: None }).await,
        StatusCode::FORBIDDEN,
        ErrorCode::StepUpRequired,
    )
    .await;
    // With a step-up: pending for 24 hours.
    let assertion = step_up(&server, &mut shopper, StepUpAction::RaiseLimits).await;
    let raised: Limits =
        json(put(&shopper, &SetLimits { limits: raise, step_up: Some(assertion) }).await, StatusCode::OK).await;
    assert_eq!(raised.current, policy(10_000, 20_000, 100_000));
    assert_eq!(raised.pending.unwrap().policy, raise);
    server.advance(Duration::hours(24) - Duration::SECOND);
    shopper.sign_in(&server).await;
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.limits.current, policy(10_000, 20_000, 100_000));
    server.advance(Duration::SECOND);
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.limits.current, raise);
    // Inconsistent limits are refused.
    let bad = serde_json::json!({"limits": {"per_charge": {"amount": 9, "currency": "JPY"}, "daily": {"amount": 5, "currency": "JPY"}, "monthly": {"amount": 10, "currency": "JPY"}}});
    let response = server
        .http
        .put(format!("{}/v1/wallet/limits", server.url))
        .bearer_auth(&shopper.token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    server.stop().await;
}

async fn sessions_end_after_five_idle_minutes(backend: Backend) {
    let (server, _till, mut shopper) = setup(backend, 1_000).await;
    server.advance(Duration::minutes(4));
    assert_eq!(server.get("/v1/wallet", Some(&shopper.token)).await.status(), StatusCode::OK);
    server.advance(Duration::minutes(4));
    assert_eq!(
        server.get("/v1/wallet", Some(&shopper.token)).await.status(),
        StatusCode::OK,
        "activity keeps it alive"
    );
    server.advance(Duration::minutes(5));
    error(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    shopper.sign_in(&server).await;
    assert_eq!(server.get("/v1/wallet", Some(&shopper.token)).await.status(), StatusCode::OK);
    // Signing out ends it at once.
    let response = server
        .http
        .delete(format!("{}/v1/sessions/current", server.url))
        .bearer_auth(&shopper.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    server.stop().await;
}

/// A device asking to join `account_id`; returns the join and the joining shopper (not enrolled).
async fn request_join(
    server: &TestServer,
    account_id: &str,
    recovery_code: Option<&str>,
) -> (reqwest::Response, Shopper, String) {
    use inkan_api::devices::{BeginJoin, Join, SubmitDevice};
    let begin = BeginJoin { account_id: account_id.to_owned() };
    let join: Join = json(server.post("/v1/device-joins", None, &begin).await, StatusCode::CREATED).await;
    let newcomer = Shopper::new();
    let submit =
        SubmitDevice { device: newcomer.new_device(&join.join_id), recovery_code: recovery_code.map(str::to_owned) };
    let response = server.post(&format!("/v1/device-joins/{}/device", join.join_id), None, &submit).await;
    (response, newcomer, join.join_id)
}

/// The approved newcomer makes its passkey and becomes a device of the wallet, signing each step
/// with its device key.
async fn finish_join(server: &TestServer, newcomer: &mut Shopper, join_id: &str) -> reqwest::Response {
    use inkan_api::devices::FinishJoin;
    use inkan_api::wallet::RegistrationChallenge;
    use inkan_core::payment_code::JoinStep;
    let path = format!("/v1/device-joins/{join_id}/passkey/challenge");
    let signature = newcomer.join_signature(join_id, JoinStep::PasskeyChallenge);
    let response = server.signed(&path, &signature, Some(&serde_json::json!({}))).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let challenge: RegistrationChallenge = json(response, StatusCode::OK).await;
    let credential = newcomer.register_passkey(challenge.public_key);
    let signature = newcomer.join_signature(join_id, JoinStep::Passkey { ceremony_id: &challenge.ceremony_id });
    let finish = FinishJoin { ceremony_id: challenge.ceremony_id, credential };
    server.signed(&format!("/v1/device-joins/{join_id}/passkey"), &signature, Some(&finish)).await
}

/// The joining device reads its join's state.
async fn poll_join(server: &TestServer, newcomer: &Shopper, join_id: &str) -> inkan_api::devices::Join {
    let signature = newcomer.join_signature(join_id, inkan_core::payment_code::JoinStep::Status);
    json(server.signed::<()>(&format!("/v1/device-joins/{join_id}"), &signature, None).await, StatusCode::OK).await
}

async fn a_second_device_joins_only_with_a_passkey_approval(backend: Backend) {
    use inkan_api::devices::{ApproveJoin, Join, JoinState, Joined};
    let (server, till, mut owner) = setup(backend, 50_000).await;
    let mut feed = FeedReader::open(&server, &owner.token.clone(), None).await;
    for _ in 0..5 {
        feed.next_within(StdDuration::from_secs(5)).await.unwrap();
    }
    let (response, mut newcomer, join_id) = request_join(&server, owner.account_id(), None).await;
    assert_eq!(json::<Join>(response, StatusCode::OK).await.state, JoinState::AwaitingApproval);
    // The owner's devices hear about it at once.
    let event = feed.next_within(StdDuration::from_secs(1)).await.unwrap();
    assert_eq!(event.kind, "device_join_requested");
    // Not approved: no passkey, no device.
    error(finish_join(&server, &mut newcomer, &join_id).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    // Approval needs a passkey step-up for exactly this action.
    let waiting: Vec<Join> =
        json(server.get("/v1/wallet/device-joins", Some(&owner.token)).await, StatusCode::OK).await;
    assert_eq!(waiting.len(), 1);
    let approve_path = format!("/v1/wallet/device-joins/{join_id}/approve");
    let wrong = step_up(&server, &mut owner, StepUpAction::Unfreeze).await;
    error(
        server.post(&approve_path, Some(&owner.token), &ApproveJoin { step_up: wrong }).await,
        StatusCode::FORBIDDEN,
        ErrorCode::StepUpRequired,
    )
    .await;
    error(
        server.post(&approve_path, Some(&owner.token), &serde_json::json!({})).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
    )
    .await;
    // Another wallet cannot approve it.
    let mut stranger = Shopper::enroll(&server, "Stranger").await;
    let theirs = step_up(&server, &mut stranger, StepUpAction::AddDevice).await;
    error(
        server.post(&approve_path, Some(&stranger.token), &ApproveJoin { step_up: theirs }).await,
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
    )
    .await;
    let right = step_up(&server, &mut owner, StepUpAction::AddDevice).await;
    let approved: Join =
        json(server.post(&approve_path, Some(&owner.token), &ApproveJoin { step_up: right }).await, StatusCode::OK)
            .await;
    assert_eq!(approved.state, JoinState::Approved);
    let polled = poll_join(&server, &newcomer, &join_id).await;
    assert_eq!(polled.state, JoinState::Approved);
    // The newcomer makes its passkey and is in.
    let joined: Joined = json(finish_join(&server, &mut newcomer, &join_id).await, StatusCode::CREATED).await;
    assert_eq!(joined.account_id, owner.account_id());
    newcomer.joined(&joined);
    // It pays with its own device key and its own passkey, under the new-device cap.
    let code = newcomer.code(&server);
    error(till.charge(&code, 30_001).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    let code = newcomer.code(&server);
    let charge = till.charge_ok(&code, 2_000).await;
    let pending = newcomer.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == charge.id).unwrap();
    let _: WalletCharge = json(newcomer.confirm(&server, this).await, StatusCode::OK).await;
    let devices: Vec<inkan_api::wallet::Device> =
        json(server.get("/v1/wallet/devices", Some(&owner.token)).await, StatusCode::OK).await;
    assert_eq!(devices.len(), 2);
    // A join is finished once.
    error(finish_join(&server, &mut newcomer, &join_id).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    server.stop().await;
}

async fn a_recovery_code_adds_a_device_once_and_freezes(backend: Backend) {
    use inkan_api::devices::{FreezeWithRecoveryCode, Join, JoinState, Joined};
    let (server, till, owner) = setup(backend, 10_000).await;
    let codes = owner.enrolled.as_ref().unwrap().recovery_codes.clone();
    // A wrong code ends the join.
    let (response, _, join_id) = request_join(&server, owner.account_id(), Some("AAAA-BBBB-CCCC-DDDD")).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let polled: Join = json(server.get(&format!("/v1/device-joins/{join_id}"), None).await, StatusCode::OK).await;
    assert_eq!(polled.state, JoinState::Rejected);
    // A right code approves at once (typed in lower case with spaces, as people do).
    let typed = codes[0].to_lowercase().replace('-', " ");
    let (response, mut newcomer, join_id) = request_join(&server, owner.account_id(), Some(&typed)).await;
    assert_eq!(json::<Join>(response, StatusCode::OK).await.state, JoinState::Approved);
    let joined: Joined = json(finish_join(&server, &mut newcomer, &join_id).await, StatusCode::CREATED).await;
    newcomer.joined(&joined);
    // ...once.
    let (response, _, _) = request_join(&server, owner.account_id(), Some(&codes[0])).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // Another wallet's code does nothing for this one.
    let other = Shopper::enroll(&server, "Other").await;
    let theirs = other.enrolled.as_ref().unwrap().recovery_codes[0].clone();
    let (response, _, _) = request_join(&server, owner.account_id(), Some(&theirs)).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // A lost phone: freeze with a recovery code, from anywhere.
    let path = format!("/v1/accounts/{}/freeze", owner.account_id());
    let wrong = FreezeWithRecoveryCode { recovery_code: theirs };
    error(server.post(&path, None, &wrong).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let right = FreezeWithRecoveryCode { recovery_code: codes[1].clone() };
    assert_eq!(server.post(&path, None, &right).await.status(), StatusCode::NO_CONTENT);
    let code = newcomer.code(&server);
    error(till.charge(&code, 100).await, StatusCode::FORBIDDEN, ErrorCode::WalletFrozen).await;
    server.stop().await;
}

async fn cards_are_verified_limited_and_never_stored(backend: Backend) {
    use inkan_api::wallet::{AddCard, Card, CardStatus, TopUp, TopUpResult, VerifyCard};
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Card Holder").await;
    let token = shopper.token.clone();
    let card = |number: &str| AddCard { number: number.into(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    // A card that needs the issuer's challenge cannot top up until it passes.
    let challenged: Card =
        json(server.post("/v1/wallet/cards", Some(&token), &card("4000 0000 0000 3220")).await, StatusCode::CREATED)
            .await;
    assert_eq!(challenged.status, CardStatus::ChallengeRequired);
    let top_up = TopUp { card_id: challenged.id.clone(), amount: Money::yen(5_000) };
    error(server.top_up(&token, "first", &top_up).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    let verify_path = format!("/v1/wallet/cards/{}/verify", challenged.id);
    error(
        server.post(&verify_path, Some(&token), &VerifyCard { code: "000000".into() }).await,
        StatusCode::PAYMENT_REQUIRED,
        ErrorCode::CardDeclined,
    )
    .await;
    let verified: Card =
        json(server.post(&verify_path, Some(&token), &VerifyCard { code: "123456".into() }).await, StatusCode::OK)
            .await;
    assert_eq!(verified.status, CardStatus::Verified);
    let done: TopUpResult = json(server.top_up(&token, "second", &top_up).await, StatusCode::CREATED).await;
    assert_eq!(done.balance, Money::yen(5_000));
    // The wallet lists its cards (and only its own), with their status.
    let listed: Vec<Card> = json(server.get("/v1/wallet/cards", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(listed, vec![verified.clone()]);
    let stranger = Shopper::enroll(&server, "Stranger").await;
    let theirs: Vec<Card> = json(server.get("/v1/wallet/cards", Some(&stranger.token)).await, StatusCode::OK).await;
    assert!(theirs.is_empty());
    error(server.get("/v1/wallet/cards", None).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // Declined and invalid cards count as failures; after five in all, card registration locks.
    error(
        server.post("/v1/wallet/cards", Some(&token), &card("4000000000000002")).await,
        StatusCode::PAYMENT_REQUIRED,
        ErrorCode::CardDeclined,
    )
    .await;
    for _ in 0..3 {
        error(
            server.post("/v1/wallet/cards", Some(&token), &card("4242424242424241")).await,
            StatusCode::PAYMENT_REQUIRED,
            ErrorCode::CardDeclined,
        )
        .await;
    }
    error(
        server.post("/v1/wallet/cards", Some(&token), &card("4242424242424242")).await,
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
    )
    .await;
    // Every failure was told to the wallet's devices; the fifth says there are no tries left.
    let history: inkan_api::feed::History =
        json(server.get("/v1/wallet/history", Some(&token)).await, StatusCode::OK).await;
    let failures: Vec<(String, bool)> = history
        .events
        .iter()
        .filter_map(|e| match e.notice() {
            Ok(Notice::CardVerificationFailed { last4, locked }) => Some((last4, locked)),
            _ => None,
        })
        .collect();
    let expected = [("3220", false), ("0002", false), ("4241", false), ("4241", false), ("4241", true)];
    assert_eq!(failures, expected.map(|(l, locked)| (l.to_owned(), locked)));
    // Over-large top-ups and unknown fields are refused.
    let too_much = TopUp { card_id: challenged.id.clone(), amount: Money::yen(500_001) };
    error(server.top_up(&token, "too-much", &too_much).await, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    let with_extra = serde_json::json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "birth_date": "2019-01-01"});
    error(
        server.post("/v1/wallet/cards", Some(&token), &with_extra).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
    )
    .await;
    // No card number anywhere in the database.
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT provider_token || '|' || brand || '|' || last4 || '|' || fingerprint FROM cards")
            .fetch_all(server.state.db.pool())
            .await
            .unwrap();
    let events: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events").fetch_all(server.state.db.pool()).await.unwrap();
    for number in ["4000000000003220", "4000000000000002", "4242424242424241", "4242424242424242"] {
        assert!(dump.iter().chain(&events).all(|row| !row.contains(number)), "{number} was stored");
    }
    server.assert_ledger_balanced().await;
    server.stop().await;
}

/// Answers to the same card request sent `n` times at once, as (declined, locked) counts; any
/// other answer fails the test.
async fn card_answers_at_once<B: serde::Serialize + Sync>(
    server: &TestServer,
    token: &str,
    path: &str,
    body: &B,
    n: usize,
) -> (usize, usize) {
    let answers =
        futures_util::future::join_all((0..n).map(|_| async { server.post(path, Some(token), body).await })).await;
    let (mut declined, mut locked) = (0, 0);
    for answer in answers {
        let status = answer.status();
        let body: inkan_api::ErrorBody = answer.json().await.unwrap();
        match (status, body.error.code) {
            (StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined) => declined += 1,
            (StatusCode::FORBIDDEN, ErrorCode::CardLocked) => locked += 1,
            other => panic!("unexpected answer {other:?}: {}", body.error.message),
        }
    }
    (declined, locked)
}

async fn card_attempts_sent_at_once_get_no_more_than_five_tries(backend: Backend) {
    use inkan_api::wallet::{AddCard, Card, VerifyCard};
    // Many cards from one address: the rate limits, and the failures counted by address (tested
    // in abuse.rs), would refuse before the counts this test is about; and the sandbox's one
    // challenge card is added in two wallets, which `card_sharing` would refuse (tested in
    // abuse.rs too).
    let mut settings = support::unthrottled();
    settings.attempts.address_memory = Duration::ZERO;
    settings.card_sharing.max_accounts_per_card = 10;
    let server = TestServer::start_with(backend, settings).await;
    let card = |number: &str| AddCard { number: number.into(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    // Twenty declined cards at once: each attempt is counted before the provider is asked, so
    // exactly five reach it and the rest are refused without trying.
    let tester = Shopper::enroll(&server, "Card Tester").await;
    let (declined, locked) =
        card_answers_at_once(&server, &tester.token, "/v1/wallet/cards", &card("4000000000000002"), 20).await;
    assert_eq!((declined, locked), (5, 15));
    error(
        server.post("/v1/wallet/cards", Some(&tester.token), &card("4242424242424242")).await,
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
    )
    .await;
    // The right code sent three times at once verifies the card, and none of them counts as a
    // failure (the card is not a step closer to being locked).
    let quick = Shopper::enroll(&server, "Quick Hands").await;
    let added: Card = json(
        server.post("/v1/wallet/cards", Some(&quick.token), &card("4000 0000 0000 3220")).await,
        StatusCode::CREATED,
    )
    .await;
    let quick_path = format!("/v1/wallet/cards/{}/verify", added.id);
    let right = VerifyCard { code: "123456".into() };
    let answers = futures_util::future::join_all(
        (0..3).map(|_| async { server.post(&quick_path, Some(&quick.token), &right).await }),
    )
    .await;
    // Each answer is the verified card, or (for one that came after it was verified) that the card
    // no longer waits for a code.
    let mut verified = 0;
    for answer in answers {
        if answer.status() == StatusCode::OK {
            let card: Card = json(answer, StatusCode::OK).await;
            assert_eq!(card.status, inkan_api::wallet::CardStatus::Verified);
            verified += 1;
        } else {
            error(answer, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
        }
    }
    assert!(verified >= 1);
    let failures: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(failures), 0) AS BIGINT) FROM attempt_counters WHERE subject IN ($1, $2)",
    )
    .bind(quick.account_id())
    .bind(&quick.device_id)
    .fetch_one(server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(failures, 0);
    // Ten guesses of one card's code at once: five are tried, and then not even the right code.
    let guesser = Shopper::enroll(&server, "Code Guesser").await;
    let challenged: Card = json(
        server.post("/v1/wallet/cards", Some(&guesser.token), &card("4000 0000 0000 3220")).await,
        StatusCode::CREATED,
    )
    .await;
    let verify_path = format!("/v1/wallet/cards/{}/verify", challenged.id);
    let (declined, locked) =
        card_answers_at_once(&server, &guesser.token, &verify_path, &VerifyCard { code: "000000".into() }, 10).await;
    assert_eq!((declined, locked), (5, 5));
    error(
        server.post(&verify_path, Some(&guesser.token), &VerifyCard { code: "123456".into() }).await,
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
    )
    .await;
    // Nothing half-done is left: the cards the wallets see, and the failures on record.
    let cards: Vec<Card> = json(server.get("/v1/wallet/cards", Some(&tester.token)).await, StatusCode::OK).await;
    assert_eq!(cards.len(), 5, "{cards:?}");
    let in_flight: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE status = 'attempt'")
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(in_flight, 0);
    server.stop().await;
}

async fn a_cards_code_is_locked_across_wallets(backend: Backend) {
    use inkan_api::wallet::{AddCard, Card, CardStatus, VerifyCard};
    // Many cards from one address: the rate limits, and the failures counted by address (tested
    // in abuse.rs), would refuse before the counts this test is about.
    let mut settings = support::unthrottled();
    settings.attempts.address_memory = Duration::ZERO;
    let server = TestServer::start_with(backend, settings).await;
    let card = |number: &str| AddCard { number: number.into(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    let wrong = VerifyCard { code: "000000".into() };
    let right = VerifyCard { code: "123456".into() };
    let mut wallets = Vec::new();
    for name in ["First", "Second", "Third"] {
        let shopper = Shopper::enroll(&server, name).await;
        let added: Card = json(
            server.post("/v1/wallet/cards", Some(&shopper.token), &card("4000000000003220")).await,
            StatusCode::CREATED,
        )
        .await;
        wallets.push((shopper, format!("/v1/wallet/cards/{}/verify", added.id)));
    }
    // Three wrong codes from one wallet and two from another: five on the card.
    for (i, guesses) in [(0, 3), (1, 2)] {
        let (shopper, path) = &wallets[i];
        for _ in 0..guesses {
            error(
                server.post(path, Some(&shopper.token), &wrong).await,
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::CardDeclined,
            )
            .await;
        }
    }
    // The card is locked in every wallet, even with the right code, even one that never guessed.
    for (shopper, path) in &wallets {
        error(server.post(path, Some(&shopper.token), &right).await, StatusCode::FORBIDDEN, ErrorCode::CardLocked)
            .await;
    }
    // The wallets themselves are not locked: another card still works in each.
    for (shopper, _) in &wallets {
        let other: Card = json(
            server.post("/v1/wallet/cards", Some(&shopper.token), &card(&support::own_test_card())).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(other.status, CardStatus::Verified);
    }
    server.stop().await;
}

async fn a_terminal_long_poll_wakes_when_the_shopper_answers(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let code = shopper.code(&server);
    let charge = till.charge_ok(&code, 640).await;
    let started = std::time::Instant::now();
    let poll = {
        let (url, key, id) = (till.url.clone(), till.key.clone(), charge.id.clone());
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .get(format!("{url}/v1/charges/{id}?wait=30"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            json::<Charge>(response, StatusCode::OK).await
        })
    };
    let pending = shopper.pending(&server).await;
    let _: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    let answered = poll.await.unwrap();
    assert_eq!(answered.status, ChargeStatus::Succeeded);
    assert!(
        started.elapsed() < StdDuration::from_secs(10),
        "the long-poll waited for its timeout instead of the answer"
    );
    // `wait` out of range and unknown query parameters are refused.
    for query in ["wait=-1", "wait=abc", "wait=1&extra=2"] {
        let url = format!("{}/v1/charges/{}?{query}", server.url, charge.id);
        let response = server.http.get(url).bearer_auth(&till.key).send().await.unwrap();
        error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    }
    server.stop().await;
}

/// Asserts a prompt `503 overloaded` with `Retry-After` and the API's error body.
async fn assert_overloaded(request: reqwest::RequestBuilder) {
    let response = tokio::time::timeout(StdDuration::from_secs(5), request.send())
        .await
        .expect("an overloaded server must answer at once, not hold the request")
        .unwrap();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    error(response, StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded).await;
    let seconds: u32 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(seconds >= 1);
}

/// Waits (bounded) until a count the server publishes reaches `n`.
async fn until(mut count: tokio::sync::watch::Receiver<usize>, n: usize, what: &str) {
    let reached = tokio::time::timeout(StdDuration::from_secs(10), count.wait_for(|c| *c == n)).await.is_ok();
    assert!(reached, "{what} never reached {n} (now {})", *count.borrow());
}

/// Load limits: past the bound of short requests in flight, of open feeds and long-polls, or of
/// database connections, requests get `503 overloaded` with `Retry-After` at once and change
/// nothing; long-lived streams never starve short requests; and once the load goes, requests pass
/// again by themselves.
async fn past_its_limits_the_server_answers_503_at_once_and_recovers(backend: Backend) {
    let mut settings = support::settings();
    settings.load = inkan_server::settings::LoadLimits {
        max_requests_in_flight: 3,
        max_open_streams: 2,
        db_acquire_timeout: StdDuration::from_millis(300),
        ..inkan_server::settings::LoadLimits::DEFAULT
    };
    let server = TestServer::start_with(backend, settings).await;
    let till = server.merchant("Lawson Ebisu").await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    shopper.top_up(&server, 10_000).await;
    let admission = server.state.admission.clone();
    let token = shopper.token.clone();
    let wallet = || server.http.get(format!("{}/v1/wallet", server.url)).bearer_auth(&token);

    // Short requests: three clients that send their headers and then stall in the body hold the
    // three places; the fourth request is refused at once and creates nothing.
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..3 {
        use tokio::io::AsyncWriteExt;
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = "POST /v1/accounts/registration HTTP/1.1\r\nHost: localhost\r\n\
                    Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"display";
        socket.write_all(head.as_bytes()).await.unwrap();
        stalled.push(socket);
    }
    until(admission.requests_in_flight(), 3, "requests in flight").await;
    assert_overloaded(wallet()).await;
    let before = server.charge_count().await;
    let body =
        CreateCharge { payment_code: shopper.code(&server), amount: 100, currency: Currency::Jpy, description: None };
    assert_overloaded(
        server
            .http
            .post(format!("{}/v1/charges", server.url))
            .bearer_auth(&till.key)
            .header("Idempotency-Key", "overloaded-1")
            .json(&body),
    )
    .await;
    assert_eq!(server.charge_count().await, before, "a refused request changed nothing");
    // Liveness is never refused.
    assert_eq!(server.get("/healthz", None).await.status(), StatusCode::OK);
    drop(stalled);
    until(admission.requests_in_flight(), 0, "requests in flight").await;
    let _: Wallet = json(wallet().send().await.unwrap(), StatusCode::OK).await;
    // The same charge, retried with the same key, goes through now.
    let charge: Charge = json(till.charge_raw("overloaded-1", &body).await, StatusCode::CREATED).await;

    // Streams: a long-poll and a live feed hold the two places; a third of either kind is refused,
    // while short requests, including a charge read without waiting, still pass.
    let poll = till.long_poll(&charge.id, "wait=60");
    let feed = FeedReader::open(&server, &shopper.token, None).await;
    until(admission.open_streams(), 2, "open streams").await;
    assert_overloaded(server.http.get(format!("{}/v1/wallet/feed", server.url)).bearer_auth(&shopper.token)).await;
    let charge_url = format!("{}/v1/charges/{}", server.url, charge.id);
    assert_overloaded(server.http.get(format!("{charge_url}?wait=5")).bearer_auth(&till.key)).await;
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::PendingConfirmation);
    let _: Wallet = json(wallet().send().await.unwrap(), StatusCode::OK).await;
    // The shopper answers: the long-poll ends and gives its place back; so does the closed feed.
    let pending = shopper.pending(&server).await;
    let _: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!(poll.await.unwrap().status, ChargeStatus::Succeeded);
    drop(feed);
    until(admission.open_streams(), 0, "open streams").await;
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    assert_eq!(feed.next_within(StdDuration::from_secs(5)).await.expect("backlog").kind, "account_created");
    drop(feed);
    assert_eq!(till.get(&charge.id, Some(1)).await.status, ChargeStatus::Succeeded);

    // Database connections: with every pooled connection taken, a request waits at most the
    // acquire timeout, then gets 503; when they come back, it passes.
    let pool = server.state.db.pool();
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    assert_overloaded(wallet()).await;
    drop(held);
    let _: Wallet = json(wallet().send().await.unwrap(), StatusCode::OK).await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

/// The binary: configuration from a TOML file, a clear error without a relying party, the
/// operator commands, and a clean exit on SIGTERM.
#[cfg(unix)]
#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_inkan-server");
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("inkan.db").display());

    let missing =
        Command::new(bin).args(["--database", &database, "serve"]).env_remove("INKAN_RP_ID").output().unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("relying-party id"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // The issuer key: required, made by `admin issuer-key create` (mode 600, never overwritten),
    // refused when other users can read it.
    let stderr_of = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let serve = |extra: &[&str]| {
        Command::new(bin)
            .args(["--database", &database, "serve", "--rp-id", "localhost", "--rp-origin", "http://localhost:8080"])
            .args(["--funding", "sandbox"])
            .args(extra)
            .env_remove("INKAN_ISSUER_KEY")
            .output()
            .unwrap()
    };
    let no_key = serve(&[]);
    assert!(!no_key.status.success());
    assert!(stderr_of(&no_key).contains("admin issuer-key create"), "{}", stderr_of(&no_key));
    let key_file = dir.path().join("issuer.pem");
    let created = Command::new(bin)
        .args(["admin", "issuer-key", "create", "--out", key_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr_of(&created));
    let printed = String::from_utf8(created.stdout).unwrap();
    let public_key = printed.lines().find_map(|l| l.strip_prefix("public key ")).unwrap().to_owned();
    // The funding provider: chosen, never defaulted; the sandbox is named as a test one.
    let no_funding = Command::new(bin)
        .args(["--database", &database, "serve", "--rp-id", "localhost", "--rp-origin", "http://localhost:8080"])
        .arg("--issuer-key")
        .arg(&key_file)
        .env_remove("INKAN_FUNDING")
        .output()
        .unwrap();
    assert!(!no_funding.status.success());
    assert!(stderr_of(&no_funding).contains("--funding sandbox"), "{}", stderr_of(&no_funding));
    let help = Command::new(bin).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("--funding") && help.contains("TEST provider"), "{help}");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        let again = Command::new(bin)
            .args(["admin", "issuer-key", "create", "--out", key_file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!again.status.success() && stderr_of(&again).contains("never overwritten"), "{}", stderr_of(&again));
        let shared = dir.path().join("shared.pem");
        std::fs::copy(&key_file, &shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = serve(&["--issuer-key", shared.to_str().unwrap()]);
        assert!(!refused.status.success() && stderr_of(&refused).contains("chmod 600"), "{}", stderr_of(&refused));
    }

    let merchant = Command::new(bin)
        .args(["--database", &database, "admin", "merchant", "create", "--name", "Cafe"])
        .output()
        .unwrap();
    assert!(merchant.status.success());
    let merchant_id = String::from_utf8(merchant.stdout).unwrap().trim().to_owned();
    assert!(merchant_id.starts_with("mer_"));
    let terminal = Command::new(bin)
        .args(["--database", &database, "admin", "terminal", "create", "--merchant", &merchant_id, "--country", "jp"])
        .output()
        .unwrap();
    let printed = String::from_utf8(terminal.stdout).unwrap();
    assert!(printed.contains("key tk_"), "{printed}");
    let nobody = Command::new(bin)
        .args(["--database", &database, "admin", "terminal", "create", "--merchant", "mer_nope", "--country", "JP"])
        .output()
        .unwrap();
    assert!(!nobody.status.success());
    // A terminal's country is required, and is a country.
    for country in [None, Some("Japan"), Some("")] {
        let mut args = vec!["--database", database.as_str(), "admin", "terminal", "create", "--merchant", &merchant_id];
        args.extend(country.iter().flat_map(|c| ["--country", *c]));
        let refused = Command::new(bin).args(&args).output().unwrap();
        assert!(!refused.status.success(), "{country:?}");
        assert!(stderr_of(&refused).contains("country"), "{}", stderr_of(&refused));
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("inkan.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:{admin_port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\ndatabase = \"{database}\"\nrp_id = \"localhost\"\nrp_origin = \"http://localhost:8080\"\nissuer_key = \"{}\"\nfunding = \"sandbox\"\n",
            key_file.display()
        ),
    )
    .unwrap();
    // Killed if the test fails before it stops the server itself (no orphan left serving).
    let mut server = support::KillOnDrop(
        Command::new(bin)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let healthy = runtime.block_on(async {
        for _ in 0..100 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
                return r.status() == StatusCode::OK;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        false
    });
    assert!(healthy, "the server did not come up");
    // It publishes the key it was given.
    let published: inkan_api::feed::IssuerKeys = runtime.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/v1/issuer-keys")).await.unwrap().json().await.unwrap()
    });
    assert_eq!(published.keys.len(), 1);
    assert_eq!(published.keys[0].public_key.encode(), public_key);
    assert!(published.keys[0].key().is_some());
    // The operator API is on its own address only; the public one does not know it.
    let status = |url: String| runtime.block_on(async { reqwest::get(url).await.unwrap().status() });
    assert_eq!(status(format!("http://127.0.0.1:{port}/v1/admin/suspensions")), StatusCode::NOT_FOUND);
    assert_eq!(status(format!("http://127.0.0.1:{admin_port}/v1/admin/suspensions")), StatusCode::UNAUTHORIZED);
    assert_eq!(status(format!("http://127.0.0.1:{admin_port}/v1/issuer-keys")), StatusCode::NOT_FOUND);
    assert_eq!(status(format!("http://127.0.0.1:{admin_port}/healthz")), StatusCode::OK);
    // Metrics, on their own address: what was just asked is counted there, and nowhere else.
    let scraped = runtime.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.unwrap().text().await.unwrap()
    });
    let healthz = "inkan_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}";
    assert!(scraped.lines().any(|l| l.starts_with(healthz)), "{scraped}");
    assert!(scraped.contains("inkan_service_suspended{service=\"charges\"} 0"), "{scraped}");
    assert_eq!(status(format!("http://127.0.0.1:{port}/metrics")), StatusCode::NOT_FOUND);
    assert_eq!(status(format!("http://127.0.0.1:{admin_port}/metrics")), StatusCode::NOT_FOUND);
    let killed = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");

    let unknown_key = dir.path().join("bad.toml");
    std::fs::write(&unknown_key, "rp_id = \"localhost\"\nrp_orgin = \"typo\"\n").unwrap();
    let bad = Command::new(bin).args(["--config", unknown_key.to_str().unwrap(), "serve"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rp_orgin"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// Two server instances on one PostgreSQL database: a wallet connected to B hears, within a
/// second, of a charge made on A, and a terminal long-polling B wakes when the shopper confirms
/// on A (the change travels through PostgreSQL's LISTEN/NOTIFY); notices committed on both in
/// turn reach a feed on each, complete and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_share_live_events() {
    let a = TestServer::start(Backend::Postgres).await;
    let b = a.second_instance().await;
    let till_a = a.merchant("Instance A Mart").await;
    let mut shopper = Shopper::enroll(&a, "Scale").await;
    shopper.top_up(&a, 10_000).await;
    let mut feed_b = FeedReader::open(&b, &shopper.token.clone(), Some(5)).await;
    // Let B's listener settle: its first (re)connection wakes everyone once.
    tokio::time::sleep(StdDuration::from_millis(200)).await;

    let code = shopper.code(&a);
    let charge = till_a.charge_ok(&code, 480).await;
    let event = feed_b.next_within(StdDuration::from_secs(1)).await.expect("B pushes A's charge within 1 s");
    assert_eq!(event.kind, "charge_pending");

    // The till long-polls instance B; the shopper confirms on instance A.
    let poll = {
        let (url, key, id) = (b.url.clone(), till_a.key.clone(), charge.id.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let response = reqwest::Client::new()
                .get(format!("{url}/v1/charges/{id}?wait=20"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            (json::<Charge>(response, StatusCode::OK).await, started.elapsed())
        })
    };
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let pending = shopper.pending(&a).await;
    let _: WalletCharge = json(shopper.confirm(&a, &pending[0]).await, StatusCode::OK).await;
    let (answered, waited) = poll.await.unwrap();
    assert_eq!(answered.status, ChargeStatus::Succeeded);
    assert!(waited < StdDuration::from_secs(5), "B's long-poll waited {waited:?}");
    let succeeded = feed_b.next_within(StdDuration::from_secs(1)).await.unwrap();
    assert_eq!(succeeded.kind, "charge_succeeded");

    // Charges made on A and on B in turn: a feed on each instance takes its own instance's
    // notices from memory and the other's from the database, and both push every notice, in
    // order, as the history has it.
    let till_b = b.merchant("Instance B Mart").await;
    let mut feed_a = FeedReader::open(&a, &shopper.token.clone(), Some(succeeded.id)).await;
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    for turn in 0..6 {
        let (server, till) = if turn % 2 == 0 { (&a, &till_a) } else { (&b, &till_b) };
        let code = shopper.code(server);
        till.charge_ok(&code, 10).await;
    }
    let history: inkan_api::feed::History =
        json(a.get("/v1/wallet/history", Some(&shopper.token)).await, StatusCode::OK).await;
    let expected: Vec<(u64, String)> =
        history.events.iter().filter(|e| e.seq > succeeded.id).map(|e| (e.seq, e.hash.clone())).collect();
    assert_eq!(expected.len(), 6, "one charge_pending notice per charge");
    for (name, feed) in [("A", &mut feed_a), ("B", &mut feed_b)] {
        let mut pushed = Vec::new();
        for _ in 0..expected.len() {
            let event = feed.next_within(StdDuration::from_secs(2)).await;
            let event = event.unwrap_or_else(|| panic!("instance {name} pushed only {pushed:?}"));
            pushed.push((event.id, event.data.hash));
        }
        assert_eq!(pushed, expected, "instance {name} pushed other notices than the history has");
    }
    b.stop().await;
    a.stop().await;
}
