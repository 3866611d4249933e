//! Top-ups that are never lost or doubled (issue 16), through the real HTTP API and the sandbox
//! provider's documented failing cards: a retried request charges the card once; an answer lost
//! after the card was charged is credited by the reconciler (at start-up and on its schedule);
//! one the provider never received fails once no request can still carry it; a key reused with
//! another body is refused, also when the two race.

use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{AddCard, Card, TopUp, TopUpResult, TopUpStatus};
use inkan_core::Money;
use inkan_core::topup::NEVER_SENT_AFTER;
use inkan_server::flow::topups::{Reconciled, reconcile};
use reqwest::StatusCode;

use super::support::{self, Backend, FeedReader, Shopper, TestServer, error, json};

support::on_both_databases!(
    a_retried_top_up_charges_the_card_once_and_a_reused_key_is_refused,
    racing_retries_of_one_top_up_charge_once_and_never_fail_as_500,
    a_top_up_whose_answer_was_lost_is_credited_once,
    a_lost_answer_is_settled_when_the_server_starts,
    a_top_up_the_provider_never_received_fails_once_no_request_can_carry_it,
    a_declined_top_up_fails_at_once_and_its_retry_says_so,
);

/// A card of `shopper`'s wallet, verified at once.
async fn card(server: &TestServer, shopper: &Shopper, number: &str) -> String {
    let card = AddCard { number: number.to_owned(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    let card: Card =
        json(server.post("/v1/wallet/cards", Some(&shopper.token), &card).await, StatusCode::CREATED).await;
    card.id
}

fn yen(card_id: &str, amount: i64) -> TopUp {
    TopUp { card_id: card_id.to_owned(), amount: Money::yen(amount) }
}

/// The top-up notices of the wallet, as (succeeded?, amount).
async fn top_up_notices(server: &TestServer, shopper: &Shopper) -> Vec<(bool, i64)> {
    shopper
        .notices(server)
        .await
        .into_iter()
        .filter_map(|n| match n {
            Notice::TopUpSucceeded { amount, .. } => Some((true, amount)),
            Notice::TopUpFailed { amount, .. } => Some((false, amount)),
            _ => None,
        })
        .collect()
}

/// How many collections the provider took under `top_up_id`.
fn collections_of(server: &TestServer, top_up_id: &str) -> usize {
    server.funding.collected().iter().filter(|(reference, _)| reference == top_up_id).count()
}

async fn a_retried_top_up_charges_the_card_once_and_a_reused_key_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Aiko").await;
    let card_id = card(&server, &shopper, &support::own_test_card()).await;
    let first: TopUpResult =
        json(server.top_up(&shopper.token, "lunch-money-1", &yen(&card_id, 5_000)).await, StatusCode::CREATED).await;
    assert_eq!((first.status, first.balance), (TopUpStatus::Succeeded, Money::yen(5_000)));
    // The answer was lost; the app sends it again.
    let again: TopUpResult =
        json(server.top_up(&shopper.token, "lunch-money-1", &yen(&card_id, 5_000)).await, StatusCode::CREATED).await;
    assert_eq!((again.id.as_str(), again.balance), (first.id.as_str(), Money::yen(5_000)));
    // The same key for another amount is another request: refused, and nothing moves.
    let other = server.top_up(&shopper.token, "lunch-money-1", &yen(&card_id, 50_000)).await;
    error(other, StatusCode::CONFLICT, ErrorCode::IdempotencyConflict).await;
    // Keys are required and plain.
    let no_key = server.post("/v1/wallet/topups", Some(&shopper.token), &yen(&card_id, 1_000)).await;
    error(no_key, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    for bad in ["", "with space", &"k".repeat(256)] {
        let refused = server.top_up(&shopper.token, bad, &yen(&card_id, 1_000)).await;
        error(refused, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    }
    // A key is the wallet's own: another wallet's same key is its own top-up.
    let neighbour = Shopper::enroll(&server, "Ben").await;
    let theirs = card(&server, &neighbour, &support::own_test_card()).await;
    let their_top_up: TopUpResult =
        json(server.top_up(&neighbour.token, "lunch-money-1", &yen(&theirs, 700)).await, StatusCode::CREATED).await;
    assert_ne!(their_top_up.id, first.id);
    assert_eq!(collections_of(&server, &first.id), 1, "the card was charged more than once");
    assert_eq!(top_up_notices(&server, &shopper).await, vec![(true, 5_000)]);
    assert_eq!(shopper.balance(&server).await, 5_000);
    assert_eq!(neighbour.balance(&server).await, 700);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn racing_retries_of_one_top_up_charge_once_and_never_fail_as_500(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Chie").await;
    let card_id = card(&server, &shopper, &support::own_test_card()).await;
    // The same request four times at once.
    let body = yen(&card_id, 3_000);
    let same = futures_util::future::join_all((0..4).map(|_| server.top_up(&shopper.token, "same", &body))).await;
    let mut ids = Vec::new();
    for response in same {
        let done: TopUpResult = json(response, StatusCode::CREATED).await;
        ids.push(done.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one key made several top-ups: {ids:?}");
    // One key with different bodies at once: one top-up, the others refused as conflicts.
    let bodies: Vec<TopUp> = (1..=4).map(|n| yen(&card_id, 1_000 * n)).collect();
    let raced = futures_util::future::join_all(bodies.iter().map(|b| server.top_up(&shopper.token, "raced", b))).await;
    let mut made = 0;
    for response in raced {
        match response.status() {
            StatusCode::CREATED => made += 1,
            StatusCode::CONFLICT => {
                error(response, StatusCode::CONFLICT, ErrorCode::IdempotencyConflict).await;
            }
            other => panic!("a racing retry got {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(made, 1);
    assert_eq!(server.funding.collected().len(), 2);
    let credited: i64 = top_up_notices(&server, &shopper).await.iter().map(|(_, amount)| amount).sum();
    assert_eq!(shopper.balance(&server).await, credited);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_top_up_whose_answer_was_lost_is_credited_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Daichi").await;
    // The provider takes the money, and its answer is lost on the way back.
    let card_id = card(&server, &shopper, "4000 0000 0000 0119").await;
    let pending: TopUpResult =
        json(server.top_up(&shopper.token, "k1", &yen(&card_id, 8_000)).await, StatusCode::ACCEPTED).await;
    assert_eq!((pending.status, pending.balance), (TopUpStatus::Pending, Money::yen(0)));
    assert_eq!(collections_of(&server, &pending.id), 1, "the card was charged");
    let done = reconcile(&server.state).await.unwrap();
    assert_eq!(done, Reconciled { credited: 1, ..Reconciled::default() });
    assert_eq!(shopper.balance(&server).await, 8_000);
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled::default(), "settled twice");
    // The app's retry of the same request now hears that it succeeded, and nothing more moves.
    let retried: TopUpResult =
        json(server.top_up(&shopper.token, "k1", &yen(&card_id, 8_000)).await, StatusCode::CREATED).await;
    assert_eq!((retried.id.as_str(), retried.balance), (pending.id.as_str(), Money::yen(8_000)));

    // Another lost answer, this time settled by the app's retry before the reconciler runs.
    let second: TopUpResult =
        json(server.top_up(&shopper.token, "k2", &yen(&card_id, 2_000)).await, StatusCode::ACCEPTED).await;
    let settled: TopUpResult =
        json(server.top_up(&shopper.token, "k2", &yen(&card_id, 2_000)).await, StatusCode::CREATED).await;
    assert_eq!((settled.id.as_str(), settled.balance), (second.id.as_str(), Money::yen(10_000)));
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled::default());
    assert_eq!(collections_of(&server, &second.id), 1);
    assert_eq!(top_up_notices(&server, &shopper).await, vec![(true, 8_000), (true, 2_000)]);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_lost_answer_is_settled_when_the_server_starts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Emi").await;
    let card_id = card(&server, &shopper, "4000 0000 0000 0119").await;
    let pending: TopUpResult =
        json(server.top_up(&shopper.token, "k1", &yen(&card_id, 4_000)).await, StatusCode::ACCEPTED).await;
    assert_eq!(shopper.balance(&server).await, 0);
    // Notices are numbered 1, 2, 3… without gaps: the feed resumes after the last one there is.
    let seen = u64::try_from(shopper.notices(&server).await.len()).unwrap();
    // The server is restarted (as after a crash between the collection and the credit): the new
    // process reconciles as it starts, without waiting for its schedule.
    let restarted = server.second_instance().await;
    let mut feed = FeedReader::open(&restarted, &shopper.token, Some(seen)).await;
    let event = feed.next_within(std::time::Duration::from_secs(10)).await.expect("no notice of the credit");
    match event.data.notice().unwrap() {
        Notice::TopUpSucceeded { topup_id, amount, .. } => assert_eq!((topup_id, amount), (pending.id.clone(), 4_000)),
        other => panic!("expected the top-up's credit, got {other:?}"),
    }
    assert_eq!(shopper.balance(&restarted).await, 4_000);
    assert_eq!(collections_of(&server, &pending.id), 1);
    restarted.stop().await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_top_up_the_provider_never_received_fails_once_no_request_can_carry_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut shopper = Shopper::enroll(&server, "Fumi").await;
    let card_id = card(&server, &shopper, "4000 0000 0000 5126").await;
    let pending: TopUpResult =
        json(server.top_up(&shopper.token, "k1", &yen(&card_id, 6_000)).await, StatusCode::ACCEPTED).await;
    assert_eq!(pending.status, TopUpStatus::Pending);
    // The provider has no record of it yet: it may still be on its way, so it waits.
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled { waiting: 1, ..Reconciled::default() });
    server.advance(NEVER_SENT_AFTER - time::Duration::SECOND);
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled { waiting: 1, ..Reconciled::default() });
    server.advance(time::Duration::SECOND);
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled { failed: 1, ..Reconciled::default() });
    // A late retry (from a new session: the old one ended while idle) hears that it failed, and
    // asks the provider for nothing.
    shopper.sign_in(&server).await;
    let late = server.top_up(&shopper.token, "k1", &yen(&card_id, 6_000)).await;
    let message = error(late, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;
    assert!(message.contains("never received"), "{message}");
    assert!(server.funding.collected().is_empty());
    assert_eq!(top_up_notices(&server, &shopper).await, vec![(false, 6_000)]);
    assert_eq!(shopper.balance(&server).await, 0);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn a_declined_top_up_fails_at_once_and_its_retry_says_so(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shopper = Shopper::enroll(&server, "Goro").await;
    let card_id = card(&server, &shopper, "4000 0000 0000 0994").await;
    for _ in 0..2 {
        let refused = server.top_up(&shopper.token, "k1", &yen(&card_id, 9_000)).await;
        error(refused, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;
    }
    assert_eq!(reconcile(&server.state).await.unwrap(), Reconciled::default(), "a declined top-up was left pending");
    assert_eq!(top_up_notices(&server, &shopper).await, vec![(false, 9_000)]);
    assert_eq!(shopper.balance(&server).await, 0);
    server.assert_ledger_balanced().await;
    server.stop().await;
}
