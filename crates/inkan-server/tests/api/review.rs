//! Velocity and anomaly holds (issue 15): each rule of `inkan_core::risk` sets a charge aside as
//! `held_for_review`, through the real HTTP API. The terminal sees the status and waits; the
//! shopper is told and cannot confirm it; an operator with the `review` scope approves (then the
//! shopper's confirmation pays) or declines (final); unreviewed, it expires. A charge the wallet
//! could not pay is refused outright, never held.

use inkan_api::ErrorCode;
use inkan_api::admin::{AuditTrail, HeldCharges, ReviewDecision};
use inkan_api::feed::Notice;
use inkan_api::merchant::Charge;
use inkan_api::wallet::{DeclineCharge, PendingCharge, WalletCharge};
use inkan_core::ChargeStatus;
use inkan_core::operator::Scope;
use reqwest::StatusCode;
use time::Duration;

use super::support::{self, Backend, Shopper, Terminal, TestServer, error, json};
use super::{pay, setup};

support::on_both_databases!(
    the_sixth_charge_in_ten_minutes_is_held_and_pays_once_approved,
    a_top_up_spent_at_once_from_a_new_device_is_held_and_a_decline_is_final,
    charges_in_two_countries_within_the_hour_are_held_and_the_shopper_may_decline,
    a_large_first_charge_from_a_new_device_is_held_until_its_review_window_ends,
    only_a_review_key_decides_and_bad_decisions_change_nothing,
);

fn why(reason: &str) -> ReviewDecision {
    ReviewDecision { reason: reason.to_owned() }
}

async fn held(server: &TestServer, key: &str) -> HeldCharges {
    json(server.get("/v1/admin/reviews", Some(key)).await, StatusCode::OK).await
}

async fn decide(server: &TestServer, key: &str, charge_id: &str, verb: &str, reason: &str) -> reqwest::Response {
    server.post(&format!("/v1/admin/reviews/{charge_id}/{verb}"), Some(key), &why(reason)).await
}

/// The held notice of `charge_id` in the shopper's history, with its reason.
async fn held_notice(server: &TestServer, shopper: &Shopper, charge_id: &str) -> Option<String> {
    shopper.notices(server).await.into_iter().find_map(|n| match n {
        Notice::ChargeHeld { charge_id: id, reason, .. } if id == charge_id => Some(reason),
        _ => None,
    })
}

/// A held charge: made by the terminal as `held_for_review`, not among the shopper's charges to
/// confirm, not confirmable even with a valid assertion of its own challenge (as a thief holding
/// the session and the passkey would make), and told to the shopper with its reason.
async fn assert_held(server: &TestServer, till: &Terminal, shopper: &mut Shopper, charge: &Charge, reason: &str) {
    assert_eq!(charge.status, ChargeStatus::HeldForReview, "{charge:?}");
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::HeldForReview);
    assert!(shopper.pending(server).await.iter().all(|p| p.charge.id != charge.id));
    assert_eq!(held_notice(server, shopper, &charge.id).await.as_deref(), Some(reason));
    let request: String = sqlx::query_scalar("SELECT auth_request FROM charges WHERE id = $1")
        .bind(&charge.id)
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    let own = PendingCharge {
        charge: WalletCharge {
            id: charge.id.clone(),
            status: charge.status,
            amount: inkan_core::Money::new(charge.currency, charge.amount),
            merchant_name: charge.merchant_name.clone(),
            description: charge.description.clone(),
            created_at: charge.created_at,
            expires_at: charge.expires_at,
        },
        public_key: serde_json::from_str(&request).unwrap(),
    };
    let message = error(shopper.confirm(server, &own).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    assert!(message.contains("checking"), "{message}");
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::HeldForReview, "and it stays held");
}

async fn the_sixth_charge_in_ten_minutes_is_held_and_pays_once_approved(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let reviewer = server.operator_key_with(&[Scope::Review]).await;
    for _ in 0..5 {
        pay(&server, &till, &mut shopper, 100).await;
        server.advance(Duration::minutes(1));
    }
    // The sixth within ten minutes.
    let sixth = till.charge_ok(&shopper.code(&server), 100).await;
    assert_held(&server, &till, &mut shopper, &sixth, "many_charges").await;
    assert!(sixth.expires_at > sixth.created_at + Duration::minutes(9), "the review window, not a charge's 120 s");
    // Its amount stays set aside while it is decided: the balance covers no more than the rest.
    error(till.charge(&shopper.code(&server), 9_451).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds)
        .await;

    // The terminal waits on it; the operator sees it and approves it.
    let waiting = till.long_poll(&sixth.id, "wait=30");
    let list = held(&server, &reviewer).await;
    let listed = list.charges.iter().find(|c| c.charge_id == sixth.id).expect("listed");
    assert_eq!((listed.reason.as_str(), listed.account_id.as_str()), ("many_charges", shopper.account_id()));
    assert_eq!((listed.amount, listed.terminal_country.as_str()), (100, "JP"));
    server.advance(Duration::minutes(4));
    let approved: Charge =
        json(decide(&server, &reviewer, &sixth.id, "approve", "regular shopper").await, StatusCode::OK).await;
    assert_eq!(approved.status, ChargeStatus::PendingConfirmation);
    assert_eq!(approved.expires_at, sixth.created_at + Duration::minutes(4) + server.settings().charge_ttl);
    assert!(held(&server, &reviewer).await.charges.is_empty());
    // The shopper is asked again, and confirms: paid once.
    assert!(
        matches!(shopper.notices(&server).await.last(), Some(Notice::ChargePending { charge_id, .. }) if *charge_id == sixth.id)
    );
    let pending = shopper.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == sixth.id).expect("pending once approved");
    let paid: WalletCharge = json(shopper.confirm(&server, this).await, StatusCode::OK).await;
    assert_eq!(paid.status, ChargeStatus::Succeeded);
    assert_eq!(waiting.await.unwrap().status, ChargeStatus::Succeeded, "the terminal's wait ends with the payment");
    assert_eq!(shopper.balance(&server).await, 10_000 - 600);
    // Deciding again changes nothing.
    error(
        decide(&server, &reviewer, &sixth.id, "decline", "second thoughts").await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    let trail: AuditTrail =
        json(server.get("/v1/admin/audit", Some(&server.operator_key().await)).await, StatusCode::OK).await;
    let entry = &trail.entries[0];
    assert_eq!(
        (entry.action.as_str(), entry.subject.as_str(), entry.reason.as_str()),
        ("approve_charge", sixth.id.as_str(), "regular shopper")
    );
    // Ten minutes after the first five, a charge goes straight to the shopper.
    server.advance(Duration::minutes(10));
    assert_eq!(till.charge_ok(&shopper.code(&server), 100).await.status, ChargeStatus::PendingConfirmation);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_top_up_spent_at_once_from_a_new_device_is_held_and_a_decline_is_final(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 30_000).await;
    let reviewer = server.operator_key_with(&[Scope::Review]).await;
    // A new device's day is capped at ¥30,000: ¥24,000 is 80 % of it, minutes after the top-up.
    let charge = till.charge_ok(&shopper.code(&server), 24_000).await;
    assert_held(&server, &till, &mut shopper, &charge, "top_up_then_spend").await;
    let waiting = till.long_poll(&charge.id, "wait=30");
    let declined: Charge =
        json(decide(&server, &reviewer, &charge.id, "decline", "takeover pattern").await, StatusCode::OK).await;
    assert_eq!(declined.status, ChargeStatus::Declined);
    assert_eq!(waiting.await.unwrap().status, ChargeStatus::Declined, "the terminal hears it at once");
    assert!(
        matches!(shopper.notices(&server).await.last(), Some(Notice::ChargeReviewDeclined { charge_id, amount: 24_000, .. }) if *charge_id == charge.id)
    );
    // Final: neither the operator nor the shopper can bring it back.
    error(
        decide(&server, &reviewer, &charge.id, "approve", "oops").await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    let decline = DeclineCharge { not_me: false };
    let response =
        server.post(&format!("/v1/wallet/charges/{}/decline", charge.id), Some(&shopper.token), &decline).await;
    error(response, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    // Nothing moved, and the amount is free again; a smaller charge goes ahead.
    assert_eq!(shopper.balance(&server).await, 30_000);
    let small = till.charge_ok(&shopper.code(&server), 5_000).await;
    assert_eq!(small.status, ChargeStatus::PendingConfirmation);
    // Half an hour after the top-up, spending near the limit is ordinary again.
    server.advance(Duration::minutes(31));
    shopper.sign_in(&server).await;
    let _ = pay(&server, &till, &mut shopper, 1_000).await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

/// A server serving Japan and Korea, a till in each, and a shopper who paid in Tokyo `later`.
async fn paid_in_tokyo(backend: Backend, later: Duration) -> (TestServer, Terminal, Shopper) {
    let mut settings = support::settings();
    settings.region.allowed = vec!["JP".parse().unwrap(), "KR".parse().unwrap()];
    let server = TestServer::start_with(backend, settings).await;
    let tokyo = server.merchant_in("Lawson Ebisu", "JP").await;
    let seoul = server.merchant_in("CU Myeongdong", "KR").await;
    let mut shopper = Shopper::enroll(&server, "Mina").await;
    shopper.top_up(&server, 10_000).await;
    pay(&server, &tokyo, &mut shopper, 500).await;
    server.advance(later);
    (server, seoul, shopper)
}

async fn charges_in_two_countries_within_the_hour_are_held_and_the_shopper_may_decline(backend: Backend) {
    let (server, seoul, mut shopper) = paid_in_tokyo(backend, Duration::minutes(59)).await;
    shopper.sign_in(&server).await;
    let abroad = seoul.charge_ok(&shopper.code(&server), 500).await;
    assert_held(&server, &seoul, &mut shopper, &abroad, "two_countries").await;
    // It is not hers: she declines it from her wallet, and the wallet is frozen in the same step.
    let decline = DeclineCharge { not_me: true };
    let response =
        server.post(&format!("/v1/wallet/charges/{}/decline", abroad.id), Some(&shopper.token), &decline).await;
    let declined: WalletCharge = json(response, StatusCode::OK).await;
    assert_eq!(declined.status, ChargeStatus::Declined);
    assert_eq!(seoul.get(&abroad.id, None).await.status, ChargeStatus::Declined);
    let key = server.operator_key().await;
    assert!(held(&server, &key).await.charges.is_empty());
    error(decide(&server, &key, &abroad.id, "approve", "late").await, StatusCode::CONFLICT, ErrorCode::InvalidState)
        .await;
    assert!(shopper.notices(&server).await.iter().any(|n| matches!(n, Notice::WalletFrozen { .. })));
    server.stop().await;

    // An hour apart, two countries are a trip.
    let (server, seoul, mut shopper) = paid_in_tokyo(backend, Duration::minutes(60)).await;
    assert_eq!(seoul.charge_ok(&shopper.code(&server), 500).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;
}

async fn a_large_first_charge_from_a_new_device_is_held_until_its_review_window_ends(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 30_000).await;
    let key = server.operator_key().await;
    // Over ¥20,000, first payment of a device enrolled minutes ago (and below the top-up rule's
    // 80 % of the day, so this rule is the one that holds it).
    let first = till.charge_ok(&shopper.code(&server), 21_000).await;
    assert_held(&server, &till, &mut shopper, &first, "new_device_first_charge").await;
    // Nobody decides: it expires at the end of the review window, and stays expired.
    server.advance(Duration::minutes(10));
    shopper.sign_in(&server).await;
    assert_eq!(till.get(&first.id, None).await.status, ChargeStatus::Expired);
    assert!(held(&server, &key).await.charges.is_empty());
    error(decide(&server, &key, &first.id, "approve", "too late").await, StatusCode::CONFLICT, ErrorCode::InvalidState)
        .await;
    assert!(
        shopper
            .notices(&server)
            .await
            .iter()
            .any(|n| matches!(n, Notice::ChargeExpired { charge_id, .. } if *charge_id == first.id))
    );
    // A charge it could not pay is refused, never held.
    error(
        till.charge(&shopper.code(&server), 30_001).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::LimitExceeded,
    )
    .await;
    // Once the device has paid, or once it is a day old, a large payment goes to the shopper.
    pay(&server, &till, &mut shopper, 100).await;
    assert_eq!(till.charge_ok(&shopper.code(&server), 21_000).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;

    let (server, till, mut shopper) = setup(backend, 30_000).await;
    server.advance(Duration::hours(24));
    assert_eq!(till.charge_ok(&shopper.code(&server), 21_000).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;
}

async fn only_a_review_key_decides_and_bad_decisions_change_nothing(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 30_000).await;
    let charge = till.charge_ok(&shopper.code(&server), 21_000).await;
    assert_eq!(charge.status, ChargeStatus::HeldForReview);
    let others = server.operator_key_with(&[Scope::Switches, Scope::Read]).await;
    let reviewer = server.operator_key_with(&[Scope::Review]).await;
    for response in [
        server.get("/v1/admin/reviews", Some(&others)).await,
        decide(&server, &others, &charge.id, "approve", "mine").await,
        decide(&server, &others, &charge.id, "decline", "mine").await,
    ] {
        error(response, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;
    }
    error(
        server.get("/v1/admin/reviews", Some(&shopper.token)).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    )
    .await;
    error(server.get("/v1/admin/reviews", None).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // A why is required, short and printable; unknown, overlong and other ids are not found.
    for reason in ["", "   ", "line\nbreak", &"x".repeat(201)] {
        error(
            decide(&server, &reviewer, &charge.id, "approve", reason).await,
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
        )
        .await;
    }
    let hostile = server
        .post(
            &format!("/v1/admin/reviews/{}/approve", charge.id),
            Some(&reviewer),
            &serde_json::json!({"reason": "ok", "status": "succeeded"}),
        )
        .await;
    error(hostile, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    for id in ["ch_unknown", &"c".repeat(65), "%27%20OR%201%3D1"] {
        error(decide(&server, &reviewer, id, "approve", "fine").await, StatusCode::NOT_FOUND, ErrorCode::NotFound)
            .await;
    }
    // A charge that is not held cannot be "approved" past the shopper.
    let ordinary = till.charge_ok(&shopper.code(&server), 100).await;
    assert_eq!(ordinary.status, ChargeStatus::PendingConfirmation);
    error(
        decide(&server, &reviewer, &ordinary.id, "approve", "fine").await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    error(
        decide(&server, &reviewer, &ordinary.id, "decline", "fine").await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    // Nothing changed: still held, still listed, nothing in the audit trail.
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::HeldForReview);
    assert_eq!(till.get(&ordinary.id, None).await.status, ChargeStatus::PendingConfirmation);
    assert_eq!(held(&server, &reviewer).await.charges.len(), 1);
    let trail: AuditTrail = json(server.get("/v1/admin/audit", Some(&others)).await, StatusCode::OK).await;
    assert!(trail.entries.is_empty(), "{trail:?}");

    // The command line decides through the operator API, with the key from the environment.
    let cli = |args: &[&str], key: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
            .args(["admin", "review"])
            .args(args)
            .args(["--server", &server.url])
            .env("INKAN_OPERATOR_KEY", key)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, listed) = cli(&["list"], &reviewer);
    assert!(ok && listed.contains(&charge.id) && listed.contains("new_device_first_charge"), "{listed}");
    let (ok, refused) = cli(&["approve", &charge.id, "--reason", "called the shopper"], &others);
    assert!(!ok && refused.contains("forbidden"), "{refused}");
    let (ok, approved) = cli(&["approve", &charge.id, "--reason", "called the shopper"], &reviewer);
    assert!(ok && approved.contains("pending_confirmation"), "{approved}");
    let pending = shopper.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == charge.id).expect("pending once approved");
    let _: WalletCharge = json(shopper.confirm(&server, this).await, StatusCode::OK).await;
    assert_eq!(shopper.balance(&server).await, 30_000 - 21_000);
    server.stop().await;
}
