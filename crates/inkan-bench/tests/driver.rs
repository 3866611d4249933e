//! The bench's driver on a tiny run against a real server (in-process, SQLite, hand-moved clock),
//! so it cannot rot between benchmark runs: every charge it reports acknowledged must be
//! `succeeded` at the server, its feed must have seen every one, and the ledger must balance.

use std::time::Duration;

use inkan_bench::load::{self, Pace, Terminal};
use inkan_testkit::{Backend, TestServer};
use url::Url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_run_completes_charges_that_are_all_durable() {
    // As `inkan-bench` runs the server (`server.rs`).
    let server = TestServer::start_with(Backend::Sqlite, inkan_testkit::for_load()).await;
    let base = Url::parse(&server.url).unwrap();
    let mut terminals = Vec::new();
    for name in ["till a", "till b"] {
        let t = server.merchant(name).await;
        terminals.push(Terminal::new(base.clone(), t.key).unwrap());
    }
    let mut wallets = load::enroll(&base, 2).await.unwrap();
    for wallet in &mut wallets {
        wallet.presign(5).unwrap();
    }
    let pace = Pace { warmup: Duration::ZERO, measure: Duration::from_millis(700), rate: None };
    let (result, wallets) = load::run(&base, wallets, &terminals, pace, None).await.unwrap();
    assert_eq!(wallets.len(), 2);
    assert!(result.errors.is_empty(), "errors: {:?}", result.errors);
    assert!(result.acknowledged >= 2, "only {} charges", result.acknowledged);
    assert!(result.completed > 0 && result.charges_per_s > 0.0);
    assert_eq!(result.steps.feed_missing, 0, "a charge_pending notice never reached its wallet's feed");
    let total = result.steps.total.unwrap();
    assert_eq!(total.n, result.completed);
    // Runs past the 5 codes signed ahead: the rest were signed inside the run, and counted.
    assert!(result.acknowledged <= 10 || result.codes_signed_in_run > 0);

    let durability = load::check_acknowledged(&terminals, &result.records).await.unwrap();
    assert_eq!(durability.succeeded, result.acknowledged, "{:?}", durability.not_succeeded);
    let ledger = inkan_bench::verify::ledger(server.state.db.pool()).await.unwrap();
    assert!(ledger.balanced(), "{ledger:?}");
    assert_eq!(ledger.succeeded_charges, i64::try_from(result.acknowledged).unwrap());

    // The same lanes on a timetable: never more charges than it offers, and every one durable.
    let mut wallets = wallets;
    for wallet in &mut wallets {
        wallet.presign(10).unwrap();
    }
    let pace = Pace { warmup: Duration::ZERO, measure: Duration::from_millis(500), rate: Some(10.0) };
    let (paced, mut wallets) = load::run(&base, wallets, &terminals, pace, None).await.unwrap();
    assert!(paced.errors.is_empty(), "errors: {:?}", paced.errors);
    assert_eq!(paced.offered_per_s, Some(10.0));
    assert!((1..=5).contains(&paced.acknowledged), "{} charges on a timetable of 5", paced.acknowledged);
    assert_eq!(paced.steps.feed_missing, 0);
    let durability = load::check_acknowledged(&terminals, &paced.records).await.unwrap();
    assert_eq!(durability.succeeded, paced.acknowledged, "{:?}", durability.not_succeeded);

    // One lane for a count of charges (what the callgrind run counts over): each one through the
    // whole flow, pushed to the wallet's feed, and durable.
    let mut lane = load::Lane::open(&base, &mut wallets[0], &terminals, 1).await.unwrap();
    let counted = lane.charges(3).await.unwrap();
    drop(lane);
    assert_eq!(counted.len(), 3);
    assert!(counted.iter().all(|r| r.sent <= r.created && r.created <= r.confirmed), "{counted:?}");
    let mut ids: Vec<_> = counted.iter().map(|r| r.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three charges, not one three times");
    let durability = load::check_acknowledged(&terminals, &counted).await.unwrap();
    assert_eq!(durability.succeeded, 3, "{:?}", durability.not_succeeded);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

#[test]
fn the_crypto_ceiling_fixture_verifies_what_the_server_verifies() {
    let fixture = inkan_bench::ceiling::Fixture::new().unwrap();
    fixture.verify_code().unwrap();
    fixture.verify_assertion().unwrap();
    fixture.verify_p256().unwrap();
}
