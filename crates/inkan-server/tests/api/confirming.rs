//! Issue 20: a terminal cannot probe a wallet with one payment code, nobody learns a charge's
//! state without a session of its wallet, and a confirmation is judged again on what changed
//! since the charge was made. Each test is an attack or a change that got through before.

use inkan_api::ErrorCode;
use inkan_api::wallet::{ConfirmCharge, SetLimits, WalletCharge};
use inkan_core::{ChargeStatus, LimitPolicy, Money};
use reqwest::StatusCode;

use super::support::{self, Backend, FeedReader, Shopper, error, json};
use super::{pay, setup, setup_with, without_velocity_holds};

support::on_both_databases!(
    a_code_dies_after_three_refused_charges,
    nothing_about_a_charge_is_told_without_a_session_of_its_wallet,
    a_limit_lowered_after_the_charge_applies_to_its_confirmation,
    a_freeze_after_the_charge_stops_its_confirmation,
    a_balance_that_fell_after_the_charge_stops_its_confirmation,
    the_push_carries_what_confirms_the_charge_while_it_waits_and_only_then,
    a_charge_made_before_midnight_is_judged_on_its_own_day,
);

async fn a_code_dies_after_three_refused_charges(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 1_000).await;
    // A terminal probes the balance with one code, amount by amount.
    let code = shopper.code(&server);
    for amount in [5_000, 3_000, 2_000] {
        error(till.charge(&code, amount).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    }
    // The fourth try, even of an amount the wallet could pay, finds the code dead.
    error(till.charge(&code, 500).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    assert_eq!(server.charge_count().await, 0);
    // Limits count as refusals too (the new-device cap is ¥30,000 a charge), and so does a
    // freeze; two refusals leave a code alive, and it still pays.
    let code = shopper.code(&server);
    error(till.charge(&code, 30_001).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    error(till.charge(&code, 1_001).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    let charge = till.charge_ok(&code, 400).await;
    let pending = shopper.pending(&server).await;
    let _: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    // A newer code starts afresh: two refusals of an older one do not count against it.
    let older = shopper.code(&server);
    let newer = shopper.code(&server);
    for _ in 0..2 {
        error(till.charge(&older, 9_999).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    }
    for _ in 0..2 {
        error(till.charge(&newer, 9_999).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds).await;
    }
    till.charge_ok(&newer, 100).await;
    // Paying with the newer code killed the older one, as always.
    error(till.charge(&older, 100).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    let response = server.post("/v1/wallet/freeze", Some(&shopper.token), &serde_json::json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let code = shopper.code(&server);
    for _ in 0..3 {
        error(till.charge(&code, 100).await, StatusCode::FORBIDDEN, ErrorCode::WalletFrozen).await;
    }
    error(till.charge(&code, 100).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    // Only what paid moved money.
    assert_eq!(shopper.balance(&server).await, 600);
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::Succeeded);
    assert_eq!(server.charge_count().await, 2);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn nothing_about_a_charge_is_told_without_a_session_of_its_wallet(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let mut stranger = Shopper::enroll(&server, "Stranger").await;
    let paid = pay(&server, &till, &mut shopper, 100).await;
    let waiting = till.charge_ok(&shopper.code(&server), 200).await;
    let pending = shopper.pending(&server).await;
    let signed = shopper.sign_charge(&pending[0]);
    let path = |id: &str| format!("/v1/wallet/charges/{id}/confirm");
    // Without a session, every charge is answered alike: a paid one, a waiting one, an unknown
    // one, with a valid assertion, a malformed body or none.
    for id in [&paid.id, &waiting.id, "ch_unknown"] {
        let response = server.post(&path(id), None, &signed).await;
        error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
        let response = server.post(&path(id), None, &serde_json::json!({ "credential": 7 })).await;
        error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
        let response = server.post(&path(id), Some("not-a-session"), &signed).await;
        error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    }
    // Another wallet's session: not found, whatever its state.
    for id in [&paid.id, &waiting.id, "ch_unknown"] {
        let response = server.post(&path(id), Some(&stranger.token), &signed).await;
        error(response, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    }
    // Nor can a stranger pay it with their own passkey.
    let theirs = ConfirmCharge { credential: stranger.credential_anyway(pending[0].public_key.clone()) };
    let response = server.post(&path(&waiting.id), Some(&stranger.token), &theirs).await;
    error(response, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    assert_eq!(shopper.balance(&server).await, 9_900);
    assert_eq!(till.get(&waiting.id, None).await.status, ChargeStatus::PendingConfirmation);
    // The wallet's own session hears the state, and pays.
    error(
        server.post(&path(&paid.id), Some(&shopper.token), &signed).await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    let confirmed: WalletCharge =
        json(server.post(&path(&waiting.id), Some(&shopper.token), &signed).await, StatusCode::OK).await;
    assert_eq!(confirmed.status, ChargeStatus::Succeeded);
    assert_eq!(shopper.balance(&server).await, 9_700);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_limit_lowered_after_the_charge_applies_to_its_confirmation(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let charge = till.charge_ok(&shopper.code(&server), 5_000).await;
    let pending = shopper.pending(&server).await;
    // The shopper lowers the per-charge limit to ¥1,000 (a lowering needs no passkey).
    let lower = SetLimits {
        limits: LimitPolicy::new(Money::yen(1_000), Money::yen(20_000), Money::yen(100_000)).unwrap(),
        step_up: None,
    };
    assert_eq!(server.put("/v1/wallet/limits", Some(&shopper.token), &lower).await.status(), StatusCode::OK);
    error(shopper.confirm(&server, &pending[0]).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded)
        .await;
    assert_eq!(shopper.balance(&server).await, 10_000);
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::PendingConfirmation);
    // A daily limit lowered below what the day already spent, counting this charge: refused
    // too, though this charge alone fits.
    let today = till.charge_ok(&shopper.code(&server), 900).await;
    let lower = SetLimits {
        limits: LimitPolicy::new(Money::yen(1_000), Money::yen(1_000), Money::yen(100_000)).unwrap(),
        step_up: None,
    };
    assert_eq!(server.put("/v1/wallet/limits", Some(&shopper.token), &lower).await.status(), StatusCode::OK);
    let pending = shopper.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == today.id).unwrap();
    // ¥5,000 still waiting + ¥900 > ¥1,000 a day.
    error(shopper.confirm(&server, this).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded).await;
    // Once the big one is declined, the day has room for it.
    let decline = format!("/v1/wallet/charges/{}/decline", charge.id);
    let response = server.post(&decline, Some(&shopper.token), &serde_json::json!({ "not_me": false })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pending = shopper.pending(&server).await;
    let _: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!(shopper.balance(&server).await, 9_100);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_freeze_after_the_charge_stops_its_confirmation(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let charge = till.charge_ok(&shopper.code(&server), 700).await;
    let pending = shopper.pending(&server).await;
    let response = server.post("/v1/wallet/freeze", Some(&shopper.token), &serde_json::json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error(shopper.confirm(&server, &pending[0]).await, StatusCode::FORBIDDEN, ErrorCode::WalletFrozen).await;
    assert_eq!(shopper.balance(&server).await, 10_000);
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::PendingConfirmation);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_balance_that_fell_after_the_charge_stops_its_confirmation(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 1_000).await;
    let charge = till.charge_ok(&shopper.code(&server), 800).await;
    let pending = shopper.pending(&server).await;
    // Money leaves the wallet some other way meanwhile (a chargeback of its top-up, say).
    server.take_from_balance(shopper.account_id(), 300).await;
    error(shopper.confirm(&server, &pending[0]).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds)
        .await;
    assert_eq!(shopper.balance(&server).await, 700);
    assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;
}

/// The wallet confirms from the push alone: a `charge_pending` event carries the charge with the
/// passkey request bound to it, the same as `GET /v1/wallet/charges/pending` gives, and the
/// assertion made from it pays. Once the charge is decided, the same notice replayed carries
/// nothing, and the history export never carries it (it is not part of the hashed history).
async fn the_push_carries_what_confirms_the_charge_while_it_waits_and_only_then(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let wait = std::time::Duration::from_secs(5);
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    let charge = till.charge_ok(&shopper.code(&server), 300).await;
    let pushed = loop {
        let event = feed.next_within(wait).await.expect("the charge is pushed");
        if event.kind == "charge_pending" {
            break event;
        }
        assert!(event.pending.is_none(), "only a charge_pending push carries a charge: {event:?}");
    };
    let waiting = pushed.pending.expect("the push carries the waiting charge");
    assert_eq!((waiting.charge.id.as_str(), waiting.charge.amount), (charge.id.as_str(), Money::yen(300)));
    let listed = shopper.pending(&server).await;
    // Pushed from memory as the charge's transaction made it, it reads as the charge read back.
    assert_eq!(
        serde_json::to_value(&waiting).unwrap(),
        serde_json::to_value(&listed[0]).unwrap(),
        "the pushed charge and passkey request are those bound to the charge"
    );
    let paid: WalletCharge = json(shopper.confirm(&server, &waiting).await, StatusCode::OK).await;
    assert_eq!(paid.status, ChargeStatus::Succeeded);
    // A second charge, declined: neither is waiting now, and replaying the feed from the start
    // brings both notices without a charge to confirm.
    let declined = till.charge_ok(&shopper.code(&server), 200).await;
    let path = format!("/v1/wallet/charges/{}/decline", declined.id);
    let _: WalletCharge =
        json(server.post(&path, Some(&shopper.token), &serde_json::json!({})).await, StatusCode::OK).await;
    let mut replay = FeedReader::open(&server, &shopper.token, None).await;
    let mut pending_notices = 0;
    while let Some(event) = replay.next_within(std::time::Duration::from_millis(500)).await {
        pending_notices += usize::from(event.kind == "charge_pending");
        assert!(event.pending.is_none(), "a decided charge is not pushed to confirm: {event:?}");
    }
    assert_eq!(pending_notices, 2);
    let history = server.get("/v1/wallet/history", Some(&shopper.token)).await.text().await.unwrap();
    assert!(!history.contains("\"pending\":"), "the history export carries no pushed charge");
    // A stranger's feed carries nothing of this wallet.
    let stranger = Shopper::enroll(&server, "Stranger").await;
    let mut theirs = FeedReader::open(&server, &stranger.token, None).await;
    while let Some(event) = theirs.next_within(std::time::Duration::from_millis(300)).await {
        assert!(event.pending.is_none() && event.kind != "charge_pending", "{event:?}");
    }
    server.stop().await;
}

/// The wallet's running totals (issue 17) count one Tokyo day; a charge made before midnight and
/// confirmed after it is judged on its own day all the same, summed from its charges. A wallet
/// without totals (older than them) gets them from its charges at its next charge.
async fn a_charge_made_before_midnight_is_judged_on_its_own_day(backend: Backend) {
    use inkan_api::wallet::Wallet;
    let (server, till, mut shopper) = setup_with(backend, 10_000, without_velocity_holds()).await;
    // 23:59 in Tokyo (the test clock starts at noon): two charges of ¥3,000 wait (two minutes).
    server.advance(time::Duration::hours(11) + time::Duration::minutes(59));
    shopper.sign_in(&server).await;
    let late = till.charge_ok(&shopper.code(&server), 3_000).await;
    let other = till.charge_ok(&shopper.code(&server), 3_000).await;
    let pending = shopper.pending(&server).await;
    // After midnight a new charge turns the totals over to the new day.
    server.advance(time::Duration::seconds(90));
    let morning = till.charge_ok(&shopper.code(&server), 1_000).await;
    server.assert_totals_agree().await;
    // ¥4,000 a day from now on: the evening's day holds ¥6,000 with the late charge, the new day
    // ¥4,000 with it. Its confirmation is judged on its own day, and refused.
    let lower = SetLimits {
        limits: LimitPolicy::new(Money::yen(4_000), Money::yen(4_000), Money::yen(100_000)).unwrap(),
        step_up: None,
    };
    assert_eq!(server.put("/v1/wallet/limits", Some(&shopper.token), &lower).await.status(), StatusCode::OK);
    let late_pending = pending.iter().find(|p| p.charge.id == late.id).unwrap();
    error(shopper.confirm(&server, late_pending).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::LimitExceeded)
        .await;
    // Once the other evening charge is declined, the evening has room for it.
    let decline = format!("/v1/wallet/charges/{}/decline", other.id);
    let response = server.post(&decline, Some(&shopper.token), &serde_json::json!({ "not_me": false })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let _: WalletCharge = json(shopper.confirm(&server, late_pending).await, StatusCode::OK).await;
    let spending = async |shopper: &Shopper| {
        let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
        (wallet.limits.spending.today.minor(), wallet.limits.spending.this_month.minor())
    };
    assert_eq!(spending(&shopper).await, (1_000, 4_000));
    server.assert_totals_agree().await;

    // A wallet whose account row has no totals yet: its screen sums its charges, and its next
    // charge starts the totals from them.
    sqlx::query(
        "UPDATE accounts SET tally_day = NULL, tally_month = NULL, spent_today = 0, spent_this_month = 0, \
         open_amount = 0 WHERE id = $1",
    )
    .bind(shopper.account_id())
    .execute(server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(spending(&shopper).await, (1_000, 4_000));
    let fourth = till.charge_ok(&shopper.code(&server), 500).await;
    let kept: Option<i64> =
        sqlx::query_scalar("SELECT open_amount FROM accounts WHERE id = $1 AND tally_day IS NOT NULL")
            .bind(shopper.account_id())
            .fetch_optional(server.state.db.pool())
            .await
            .unwrap();
    assert_eq!(kept, Some(1_500), "the morning's charge and the new one wait");
    assert_eq!(spending(&shopper).await, (1_500, 4_500));
    // Time runs out for the two waiting charges; the merchant refunds the late one.
    server.advance(time::Duration::seconds(121));
    for charge in [&morning, &fourth] {
        assert_eq!(till.get(&charge.id, None).await.status, ChargeStatus::Expired);
    }
    let refund = format!("{}/v1/charges/{}/refund", server.url, late.id);
    let response = server.http.post(&refund).bearer_auth(&till.key).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(spending(&shopper).await, (0, 0));
    server.assert_ledger_balanced().await;
    server.stop().await;
}
