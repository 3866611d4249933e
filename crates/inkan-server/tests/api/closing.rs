//! Money out (issue 16): a shopper closes the wallet and its balance is paid back to a verified
//! card through the provider, once, as a ledger movement; the wallet ends frozen and closed for
//! good. A refused pay-out gives the money back; a lost answer is settled by the reconciler.

use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{AddCard, Card, CloseWallet, ClosedWallet, PayoutStatus, StepUpAction, TopUp, TopUpResult};
use inkan_core::Money;
use reqwest::StatusCode;

use super::support::{self, Backend, Shopper, TestServer, error, json};
use super::{setup, step_up};

support::on_both_databases!(
    closing_a_wallet_pays_its_balance_back_once_and_it_stays_closed,
    an_empty_wallet_closes_at_once_and_open_charges_keep_one_open,
    a_refused_pay_out_puts_the_money_back_and_a_lost_answer_is_settled_by_the_reconciler,
    a_thief_with_the_unlocked_phone_cannot_close_the_wallet_to_a_card_of_their_own,
    the_service_winds_down_every_wallet_paid_back_once_resumably_and_the_report_meets_the_ledger,
);

/// A card added a second after the wallet's others.
async fn add_card(server: &TestServer, shopper: &Shopper, number: &str) -> Card {
    server.advance(time::Duration::SECOND);
    let card = AddCard { number: number.to_owned(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    json(server.post("/v1/wallet/cards", Some(&shopper.token), &card).await, StatusCode::CREATED).await
}

/// A card added, and `amount` topped up from it (resent under its key when the answer is lost).
async fn fund(server: &TestServer, shopper: &Shopper, number: &str, amount: i64) -> Card {
    let card = add_card(server, shopper, number).await;
    let top_up = TopUp { card_id: card.id.clone(), amount: Money::yen(amount) };
    let key = format!("fund-{}", card.id);
    if server.top_up(&shopper.token, &key, &top_up).await.status() != StatusCode::CREATED {
        let _: TopUpResult = json(server.top_up(&shopper.token, &key, &top_up).await, StatusCode::CREATED).await;
    }
    card
}

async fn close(server: &TestServer, shopper: &mut Shopper) -> reqwest::Response {
    let body = CloseWallet { step_up: step_up(server, shopper, StepUpAction::CloseWallet).await };
    server.post("/v1/wallet/close", Some(&shopper.token), &body).await
}

/// The wallet's notices of money out, as (closed?, amount).
async fn money_out(server: &TestServer, shopper: &Shopper) -> Vec<(bool, i64)> {
    shopper
        .notices(server)
        .await
        .into_iter()
        .filter_map(|n| match n {
            Notice::WalletClosed { amount, .. } => Some((true, amount)),
            Notice::PayoutFailed { amount, .. } => Some((false, amount)),
            _ => None,
        })
        .collect()
}

async fn closing_a_wallet_pays_its_balance_back_once_and_it_stays_closed(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 5_000).await;
    super::pay(&server, &till, &mut shopper, 1_200).await;
    let closed: ClosedWallet = json(close(&server, &mut shopper).await, StatusCode::OK).await;
    let payout = closed.payout.expect("a pay-out of the balance");
    assert_eq!((payout.status, payout.amount), (PayoutStatus::Succeeded, Money::yen(3_800)));
    assert_eq!(server.funding.paid_out(), vec![(payout.id.clone(), Money::yen(3_800))]);
    assert_eq!(shopper.balance(&server).await, 0);
    assert_eq!(money_out(&server, &shopper).await, vec![(true, 3_800)]);

    // Closing again answers with the same pay-out, and pays nothing more.
    let again: ClosedWallet = json(close(&server, &mut shopper).await, StatusCode::OK).await;
    assert_eq!(again.payout.map(|p| p.id), Some(payout.id.clone()));
    assert_eq!(server.funding.paid_out().len(), 1);

    // Closed for good: no payment, no top-up, and nothing lifts the freeze.
    let refused = till.charge(&shopper.code(&server), 100).await;
    error(refused, StatusCode::FORBIDDEN, ErrorCode::WalletFrozen).await;
    let card_id = add_card(&server, &shopper, &support::own_test_card()).await.id;
    let top_up = TopUp { card_id, amount: Money::yen(1_000) };
    error(server.top_up(&shopper.token, "after-closing", &top_up).await, StatusCode::CONFLICT, ErrorCode::InvalidState)
        .await;
    let unfreeze = step_up(&server, &mut shopper, StepUpAction::Unfreeze).await;
    error(
        server.post("/v1/wallet/unfreeze", Some(&shopper.token), &unfreeze).await,
        StatusCode::CONFLICT,
        ErrorCode::InvalidState,
    )
    .await;
    let code = shopper.enrolled.as_ref().unwrap().recovery_codes[0].clone();
    let with_code = inkan_api::wallet::UnfreezeWithRecoveryCode { recovery_code: code };
    let response = server.post("/v1/wallet/unfreeze/recovery-code", Some(&shopper.token), &with_code).await;
    error(response, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn an_empty_wallet_closes_at_once_and_open_charges_keep_one_open(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 2_000).await;
    // A payment still waiting for the shopper holds its amount: not closed.
    let waiting = till.charge_ok(&shopper.code(&server), 500).await;
    let message = error(close(&server, &mut shopper).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    assert!(message.contains("still open"), "{message}");
    assert!(server.funding.paid_out().is_empty());
    let declined = inkan_api::wallet::DeclineCharge { not_me: false };
    let path = format!("/v1/wallet/charges/{}/decline", waiting.id);
    assert_eq!(server.post(&path, Some(&shopper.token), &declined).await.status(), StatusCode::OK);
    let closed: ClosedWallet = json(close(&server, &mut shopper).await, StatusCode::OK).await;
    assert_eq!(closed.payout.map(|p| p.amount), Some(Money::yen(2_000)));

    // A wallet that never held money closes at once, with nothing to pay back.
    let mut empty = Shopper::enroll(&server, "Empty").await;
    let closed: ClosedWallet = json(close(&server, &mut empty).await, StatusCode::OK).await;
    assert_eq!(closed.payout, None);
    assert_eq!(money_out(&server, &empty).await, vec![(true, 0)]);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_refused_pay_out_puts_the_money_back_and_a_lost_answer_is_settled_by_the_reconciler(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut shopper = Shopper::enroll(&server, "Hanako").await;
    // The card that funded the wallet takes the pay-out: this one cannot take money back.
    fund(&server, &shopper, "4000 0000 0000 0077", 6_000).await;
    let refused = close(&server, &mut shopper).await;
    let message = error(refused, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;
    assert!(message.contains("in your wallet again"), "{message}");
    assert_eq!(shopper.balance(&server).await, 6_000);
    assert!(server.funding.paid_out().is_empty());
    assert_eq!(money_out(&server, &shopper).await, vec![(false, 6_000)]);
    server.assert_ledger_balanced().await;

    // A card that never topped the wallet up is not paid, even when it is the only other one.
    add_card(&server, &shopper, &support::own_test_card()).await;
    let message = error(close(&server, &mut shopper).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    assert!(message.contains("top up with it"), "{message}");

    // Another card funds the wallet, and the one that refused is passed over for it. Its provider
    // loses the first answer: the pay-out waits, then is settled.
    fund(&server, &shopper, "4000 0000 0000 0119", 1_000).await;
    let waiting: ClosedWallet = json(close(&server, &mut shopper).await, StatusCode::ACCEPTED).await;
    let payout = waiting.payout.expect("a pay-out");
    assert_eq!((payout.status, payout.amount), (PayoutStatus::Pending, Money::yen(7_000)));
    assert_eq!(payout.card_last4, "0119");
    assert_eq!(shopper.balance(&server).await, 0, "the balance is on its way out");
    let settled = inkan_server::flow::payouts::reconcile(&server.state).await.unwrap();
    assert_eq!(settled, (1, 0, 0));
    assert_eq!(inkan_server::flow::payouts::reconcile(&server.state).await.unwrap(), (0, 0, 0), "settled twice");
    assert_eq!(server.funding.paid_out(), vec![(payout.id, Money::yen(7_000))]);
    assert_eq!(money_out(&server, &shopper).await, vec![(false, 6_000), (true, 7_000)]);
    // Top-ups of a closed wallet are refused before the card is charged.
    let card = add_card(&server, &shopper, &support::own_test_card()).await;
    let top_up = TopUp { card_id: card.id, amount: Money::yen(1_000) };
    let refused = server.top_up(&shopper.token, "closed", &top_up).await;
    error(refused, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

/// Adding a card needs only a session. A thief holding the owner's unlocked phone (session and
/// passkey) adds a card of their own, tops up from it so that it "funded" the wallet, and closes:
/// the balance still goes to the owner's card, the first that topped the wallet up.
async fn a_thief_with_the_unlocked_phone_cannot_close_the_wallet_to_a_card_of_their_own(backend: Backend) {
    let (server, _till, mut shopper) = setup(backend, 5_000).await;
    let cards: Vec<Card> = json(server.get("/v1/wallet/cards", Some(&shopper.token)).await, StatusCode::OK).await;
    let [owners] = cards.as_slice() else { panic!("one card funded the wallet: {cards:?}") };
    let thiefs = fund(&server, &shopper, &support::own_test_card(), 1_000).await;
    assert_ne!(owners.last4, thiefs.last4);
    let closed: ClosedWallet = json(close(&server, &mut shopper).await, StatusCode::OK).await;
    let payout = closed.payout.expect("a pay-out of the balance");
    assert_eq!((payout.status, payout.amount), (PayoutStatus::Succeeded, Money::yen(6_000)));
    assert_eq!(payout.card_last4, owners.last4, "paid to the owner's card, not the card just added");
    let notices = shopper.notices(&server).await;
    assert!(
        notices.iter().any(|n| matches!(n, Notice::WalletClosed { card_last4: Some(l), .. } if *l == owners.last4)),
        "{notices:?}"
    );
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn the_service_winds_down_every_wallet_paid_back_once_resumably_and_the_report_meets_the_ledger(
    backend: Backend,
) {
    use inkan_api::admin::{AuditTrail, WindDown, WindDownBatch, WindDownReport};
    use inkan_core::operator::Scope;
    let (server, till, mut first) = setup(backend, 3_000).await;
    let empty = Shopper::enroll(&server, "Never topped up").await;
    let mut busy = Shopper::enroll(&server, "Busy").await;
    busy.top_up(&server, 2_000).await;
    let open = till.charge_ok(&busy.code(&server), 700).await;
    super::pay(&server, &till, &mut first, 500).await;
    let key = server.operator_key_with(&[Scope::Switches, Scope::Read]).await;
    let reader = server.operator_key_with(&[Scope::Read]).await;
    let run = |key: String| {
        let body = WindDown { reason: "Inkan is closing".to_owned(), after: None };
        let server = &server;
        async move { server.post("/v1/admin/wind-down", Some(&key), &body).await }
    };
    error(run(reader.clone()).await, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;

    // The first run closes what it can; the busy wallet has a payment open, and says so.
    let batch: WindDownBatch = json(run(key.clone()).await, StatusCode::OK).await;
    assert_eq!((batch.wallets, batch.closed, batch.paid_out, batch.next), (3, 2, 2_500, None));
    assert_eq!(batch.not_closed.len(), 1);
    assert_eq!(batch.not_closed[0].account_id, busy.account_id());
    assert!(batch.not_closed[0].reason.contains("still open"), "{:?}", batch.not_closed);
    // Once the payment is decided, running again closes the rest, and pays nobody twice.
    let path = format!("/v1/wallet/charges/{}/decline", open.id);
    let declined = inkan_api::wallet::DeclineCharge { not_me: false };
    assert_eq!(server.post(&path, Some(&busy.token), &declined).await.status(), StatusCode::OK);
    let again: WindDownBatch = json(run(key.clone()).await, StatusCode::OK).await;
    assert_eq!((again.wallets, again.closed, again.paid_out), (1, 1, 2_000));
    let done: WindDownBatch = json(run(key.clone()).await, StatusCode::OK).await;
    assert_eq!(done.wallets, 0);
    assert_eq!(server.funding.paid_out().iter().map(|(_, m)| m.minor()).sum::<i64>(), 4_500);
    for shopper in [&first, &busy] {
        assert!(
            shopper.notices(&server).await.iter().any(
                |n| matches!(n, Notice::WalletClosed { reason, card_last4: Some(_), .. } if reason == "wind_down")
            )
        );
    }
    assert!(empty.notices(&server).await.iter().any(|n| matches!(n, Notice::WalletClosed { amount: 0, .. })));
    let report: WindDownReport = json(server.get("/v1/admin/wind-down", Some(&key)).await, StatusCode::OK).await;
    assert_eq!(
        report,
        WindDownReport { open_wallets: 0, left_in_wallets: 0, paid_out: 4_500, waiting: 0, ledger_wallet_books: 0 }
    );
    let trail: AuditTrail = json(server.get("/v1/admin/audit", Some(&key)).await, StatusCode::OK).await;
    assert_eq!(trail.entries.iter().filter(|e| e.action == "wind_down").count(), 3);
    server.assert_ledger_balanced().await;

    // The command line: suspends the services, runs every batch, and reports against the ledger.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["admin", "wind-down", "--reason", "Inkan is closing", "--server", &server.url])
        .env("INKAN_OPERATOR_KEY", &key)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("suspended") && said.contains("the ledger agrees") && said.contains("¥4500 paid back"),
        "{said}"
    );
    let refused = till.charge(&first.code(&server), 100).await;
    error(refused, StatusCode::FORBIDDEN, ErrorCode::ChargesSuspended).await;
    server.stop().await;
}
