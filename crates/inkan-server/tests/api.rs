//! The issuer server through HTTP, with real software passkeys and device keys: the whole payment
//! flow and each way it must refuse. Every test runs on SQLite and on PostgreSQL.

mod support;

use std::time::Duration as StdDuration;

use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_core::ChargeStatus;
use reqwest::StatusCode;
use support::{Backend, FeedReader, Shopper, TestServer, error, json};

/// Runs each test body once per database backend.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await }) *
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await }) *
        }
    };
}

on_both_databases!(whole_payment_flow,);

async fn whole_payment_flow(backend: Backend) {
    let server = TestServer::start(backend).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let mut shopper = Shopper::enroll(&server, "Hanako").await;
    assert_eq!(shopper.enrolled.as_ref().unwrap().recovery_codes.len(), 10);
    shopper.top_up(&server, 10_000).await;
    assert_eq!(shopper.balance(&server).await, 10_000);

    let mut feed = FeedReader::open(&server, &shopper.token.clone(), None).await;
    // The history so far: account created, device added, card added, top-up.
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(feed.next_within(StdDuration::from_secs(5)).await.expect("backlog").kind);
    }
    assert_eq!(seen, ["account_created", "device_added", "card_added", "top_up_succeeded"]);

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
