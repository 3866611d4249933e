//! The operator's kill switches (brief rule 7) through HTTP: suspending charges, top-ups and
//! enrolment for everyone, and holding one account. Every test runs on SQLite and on PostgreSQL;
//! on PostgreSQL a second server instance on the same database must obey a switch at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test bodies run through a macro that clippy does not see as tests"
)]

use inkan_api::ErrorCode;
use inkan_api::admin::{Hold, Service, Suspend, Suspension};
use inkan_api::devices::BeginJoin;
use inkan_api::feed::Notice;
use inkan_api::merchant::Charge;
use inkan_api::wallet::{AddCard, BeginRegistration, Card, TopUp, Wallet, WalletCharge};
use inkan_core::operator::Scope;
use inkan_core::{ChargeStatus, Money};
use inkan_testkit as support;
use reqwest::StatusCode;
use support::{Backend, FeedReader, Scrape, Shopper, TestServer, error, json};

support::on_both_databases!(
    suspended_charges_stop_on_every_instance_at_once,
    suspended_top_ups_and_enrolment_refuse_and_resume,
    an_account_on_hold_can_do_nothing_that_moves_money_or_adds_a_device,
    the_operator_api_refuses_other_keys_and_bad_input_and_changes_nothing,
    every_operator_action_is_audited_and_keys_keep_to_their_scopes,
    what_the_operator_scrapes_moves_with_what_happens,
);

fn suspend(reason: &str) -> Suspend {
    Suspend { reason: reason.to_owned() }
}

fn hold(reason: &str) -> Hold {
    Hold { reason: reason.to_owned() }
}

async fn suspensions(server: &TestServer, key: &str) -> Vec<Suspension> {
    json(server.get("/v1/admin/suspensions", Some(key)).await, StatusCode::OK).await
}

/// The server a second terminal reaches: on PostgreSQL another instance on the same database
/// (the scale-out setup), on SQLite the one process.
async fn other_instance(server: &TestServer, backend: Backend) -> Option<TestServer> {
    match backend {
        Backend::Postgres => Some(server.second_instance().await),
        Backend::Sqlite => None,
    }
}

async fn suspended_charges_stop_on_every_instance_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let key = server.operator_key().await;
    let till = server.merchant("Seven Ginza").await;
    let mut shopper = Shopper::enroll(&server, "Aiko").await;
    shopper.top_up(&server, 10_000).await;
    // A charge made before the switch, waiting for the shopper.
    let waiting = till.charge_ok(&shopper.code(&server), 700).await;
    let pending = shopper.pending(&server).await;
    let other = other_instance(&server, backend).await;
    let elsewhere = other.as_ref().unwrap_or(&server);

    let suspended: Suspension = json(
        server.put("/v1/admin/suspensions/charges", Some(&key), &suspend("card-testing attack on tills")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((suspended.service, suspended.reason.as_str()), (Service::Charges, "card-testing attack on tills"));
    // The very next request, on the other instance: no new charge, and no confirmation.
    let before = server.charge_count().await;
    let code = shopper.code(&server);
    let other_till = support::Terminal {
        url: elsewhere.url.clone(),
        http: till.http.clone(),
        merchant_id: till.merchant_id.clone(),
        terminal_id: till.terminal_id.clone(),
        key: till.key.clone(),
    };
    error(other_till.charge(&code, 300).await, StatusCode::FORBIDDEN, ErrorCode::ChargesSuspended).await;
    assert_eq!(server.charge_count().await, before);
    let body = shopper.sign_charge(&pending[0]);
    let confirm =
        elsewhere.post(&format!("/v1/wallet/charges/{}/confirm", waiting.id), Some(&shopper.token), &body).await;
    error(confirm, StatusCode::FORBIDDEN, ErrorCode::ChargesSuspended).await;
    assert_eq!(shopper.balance(&server).await, 10_000);
    assert_eq!(till.get(&waiting.id, None).await.status, ChargeStatus::PendingConfirmation);
    // Every instance lists it.
    assert_eq!(suspensions(elsewhere, &key).await, vec![suspended]);

    // Resumed on the other instance: the same code, not used by the refused charge, now pays.
    let resumed = elsewhere.delete("/v1/admin/suspensions/charges", Some(&key)).await;
    assert_eq!(resumed.status(), StatusCode::NO_CONTENT);
    assert!(suspensions(&server, &key).await.is_empty());
    let charge: Charge = json(other_till.charge(&code, 300).await, StatusCode::CREATED).await;
    assert_eq!(charge.status, ChargeStatus::PendingConfirmation);
    // The waiting charge can be confirmed again, with a fresh assertion.
    let pending = shopper.pending(&server).await;
    let waiting = pending.iter().find(|p| p.charge.id == waiting.id).unwrap();
    let paid: WalletCharge = json(shopper.confirm(&server, waiting).await, StatusCode::OK).await;
    assert_eq!(paid.status, ChargeStatus::Succeeded);
    assert_eq!(shopper.balance(&server).await, 9_300);
    server.assert_ledger_balanced().await;
    if let Some(other) = other {
        other.stop().await;
    }
    server.stop().await;
}

async fn suspended_top_ups_and_enrolment_refuse_and_resume(backend: Backend) {
    let server = TestServer::start(backend).await;
    let key = server.operator_key().await;
    let mut shopper = Shopper::enroll(&server, "Ken").await;
    let card = AddCard { number: inkan_testkit::own_test_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    let card: Card =
        json(server.post("/v1/wallet/cards", Some(&shopper.token), &card).await, StatusCode::CREATED).await;

    let put = server.put("/v1/admin/suspensions/top_ups", Some(&key), &suspend("provider incident")).await;
    let _: Suspension = json(put, StatusCode::OK).await;
    let top_up = TopUp { card_id: card.id.clone(), amount: Money::yen(5_000) };
    let refused = server.top_up(&shopper.token, "while-suspended", &top_up).await;
    error(refused, StatusCode::FORBIDDEN, ErrorCode::TopUpsSuspended).await;
    let another = AddCard { number: "5555555555554444".into(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    let refused = server.post("/v1/wallet/cards", Some(&shopper.token), &another).await;
    error(refused, StatusCode::FORBIDDEN, ErrorCode::TopUpsSuspended).await;
    let cards: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cards").fetch_one(server.state.db.pool()).await.unwrap();
    assert_eq!(cards, 1, "a refused card registration left a row (or counted an attempt)");
    assert_eq!(shopper.balance(&server).await, 0);

    let put = server.put("/v1/admin/suspensions/enrolment", Some(&key), &suspend("mass sign-ups")).await;
    let _: Suspension = json(put, StatusCode::OK).await;
    let begin = BeginRegistration { display_name: "Mallory".to_owned() };
    error(
        server.post("/v1/accounts/registration", None, &begin).await,
        StatusCode::FORBIDDEN,
        ErrorCode::EnrolmentSuspended,
    )
    .await;
    let join = BeginJoin { account_id: shopper.account_id().to_owned() };
    error(server.post("/v1/device-joins", None, &join).await, StatusCode::FORBIDDEN, ErrorCode::EnrolmentSuspended)
        .await;
    // Signing in goes on.
    shopper.sign_in(&server).await;
    let listed: Vec<Service> = suspensions(&server, &key).await.into_iter().map(|s| s.service).collect();
    assert_eq!(listed, vec![Service::Enrolment, Service::TopUps]);

    for service in ["top_ups", "enrolment"] {
        let resumed = server.delete(&format!("/v1/admin/suspensions/{service}"), Some(&key)).await;
        assert_eq!(resumed.status(), StatusCode::NO_CONTENT);
    }
    let done = server.top_up(&shopper.token, "once-resumed", &top_up).await;
    assert_eq!(done.status(), StatusCode::CREATED);
    assert_eq!(shopper.balance(&server).await, 5_000);
    Shopper::enroll(&server, "Newcomer").await;
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn an_account_on_hold_can_do_nothing_that_moves_money_or_adds_a_device(backend: Backend) {
    let server = TestServer::start(backend).await;
    let key = server.operator_key().await;
    let till = server.merchant("Lawson Ueno").await;
    let mut shopper = Shopper::enroll(&server, "Yui").await;
    shopper.top_up(&server, 10_000).await;
    let mut neighbour = Shopper::enroll(&server, "Sota").await;
    neighbour.top_up(&server, 1_000).await;
    let waiting = till.charge_ok(&shopper.code(&server), 800).await;
    let pending = shopper.pending(&server).await;
    let hold_path = format!("/v1/admin/accounts/{}/hold", shopper.account_id());
    let mut open_feed = support::FeedReader::open(&server, &shopper.token, None).await;

    let held = server.put(&hold_path, Some(&key), &hold("suspected account takeover")).await;
    assert_eq!(held.status(), StatusCode::NO_CONTENT);
    assert!(open_feed.ends_within(std::time::Duration::from_secs(1)).await, "an open feed outlived the hold");
    // Every session of the account ended with the hold, its open feed too: whoever held one signs
    // in again with a passkey of a device of the wallet, and sees the hold there.
    error(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    shopper.sign_in(&server).await;
    // Again with the same reason: no second notice.
    let again = server.put(&hold_path, Some(&key), &hold("suspected account takeover")).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let told: Vec<Notice> =
        shopper.notices(&server).await.into_iter().filter(|n| matches!(n, Notice::AccountHeld { .. })).collect();
    assert_eq!(told, vec![Notice::AccountHeld { reason: "suspected account takeover".to_owned() }]);
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.held.as_deref(), Some("suspected account takeover"));

    let before = server.charge_count().await;
    error(till.charge(&shopper.code(&server), 100).await, StatusCode::FORBIDDEN, ErrorCode::AccountHeld).await;
    assert_eq!(server.charge_count().await, before);
    error(shopper.confirm(&server, &pending[0]).await, StatusCode::FORBIDDEN, ErrorCode::AccountHeld).await;
    let card = AddCard { number: inkan_testkit::own_test_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
    error(
        server.post("/v1/wallet/cards", Some(&shopper.token), &card).await,
        StatusCode::FORBIDDEN,
        ErrorCode::AccountHeld,
    )
    .await;
    let card_id: String = sqlx::query_scalar("SELECT id FROM cards WHERE account_id = $1")
        .bind(shopper.account_id())
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    let top_up = TopUp { card_id, amount: Money::yen(1_000) };
    error(server.top_up(&shopper.token, "while-held", &top_up).await, StatusCode::FORBIDDEN, ErrorCode::AccountHeld)
        .await;
    let join = BeginJoin { account_id: shopper.account_id().to_owned() };
    error(server.post("/v1/device-joins", None, &join).await, StatusCode::FORBIDDEN, ErrorCode::AccountHeld).await;
    assert_eq!(shopper.balance(&server).await, 10_000);
    assert_eq!(till.get(&waiting.id, None).await.status, ChargeStatus::PendingConfirmation);
    // Another wallet is not affected.
    let charge = till.charge_ok(&neighbour.code(&server), 200).await;
    let theirs = neighbour.pending(&server).await;
    let paid: WalletCharge = json(neighbour.confirm(&server, &theirs[0]).await, StatusCode::OK).await;
    assert_eq!((paid.id, paid.status), (charge.id, ChargeStatus::Succeeded));

    let released = server.delete(&hold_path, Some(&key)).await;
    assert_eq!(released.status(), StatusCode::NO_CONTENT);
    assert!(matches!(shopper.notices(&server).await.last(), Some(Notice::AccountReleased)));
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.held, None);
    let pending = shopper.pending(&server).await;
    let paid: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!((paid.id, paid.status), (waiting.id, ChargeStatus::Succeeded));
    assert_eq!(shopper.balance(&server).await, 9_200);
    server.assert_ledger_balanced().await;
    server.stop().await;
}

async fn the_operator_api_refuses_other_keys_and_bad_input_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let key = server.operator_key().await;
    let till = server.merchant("FamilyMart Akiba").await;
    let shopper = Shopper::enroll(&server, "Rin").await;
    let hold_path = format!("/v1/admin/accounts/{}/hold", shopper.account_id());
    let body = suspend("x");

    // Who may not: nobody, a terminal, a shopper's session, a made-up key, a revoked key.
    let (revoked_id, revoked) =
        inkan_server::admin::create_operator(&server.state.db, &*server.clock, "left the team", &Scope::ALL)
            .await
            .unwrap();
    inkan_server::admin::revoke_operator(&server.state.db, &revoked_id).await.unwrap();
    let long = "o".repeat(1_000);
    for who in
        [None, Some(till.key.as_str()), Some(shopper.token.as_str()), Some("ok_forged"), Some(&revoked), Some(&long)]
    {
        let refused = server.put("/v1/admin/suspensions/charges", who, &body).await;
        error(refused, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
        error(server.get("/v1/admin/suspensions", who).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
        error(server.put(&hold_path, who, &hold("x")).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
        error(server.delete(&hold_path, who).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    }
    assert!(inkan_server::admin::revoke_operator(&server.state.db, "op_unknown").await.is_err());

    // What may not be said.
    for service in ["Charges", "refunds", "charges%00", &"c".repeat(300)] {
        let path = format!("/v1/admin/suspensions/{service}");
        error(server.put(&path, Some(&key), &body).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
        error(server.delete(&path, Some(&key)).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    }
    let too_long = "r".repeat(201);
    for reason in ["", "   ", "line\nbreak", "nul\u{0}", too_long.as_str()] {
        let refused = server.put("/v1/admin/suspensions/charges", Some(&key), &suspend(reason)).await;
        error(refused, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
        error(
            server.put(&hold_path, Some(&key), &hold(reason)).await,
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
        )
        .await;
    }
    let hostile = [
        serde_json::json!({"reason": "x", "until": "2030-01-01"}),
        serde_json::json!({"reason": 5}),
        serde_json::json!({}),
        serde_json::json!("reason"),
    ];
    for body in &hostile {
        let refused = server.put("/v1/admin/suspensions/top_ups", Some(&key), body).await;
        error(refused, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
        error(server.put(&hold_path, Some(&key), body).await, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    }
    // Just over the 16 KiB limit: a body far larger than the socket's buffers races the server's
    // early answer, and the client can see a broken pipe instead of the 413 (seen once in CI).
    let huge = serde_json::json!({ "reason": "x".repeat(17 * 1024) });
    let refused = server.put("/v1/admin/suspensions/enrolment", Some(&key), &huge).await;
    error(refused, StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge).await;
    for account in ["acct_unknown".to_owned(), "a".repeat(300)] {
        let path = format!("/v1/admin/accounts/{account}/hold");
        error(server.put(&path, Some(&key), &hold("x")).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
        error(server.delete(&path, Some(&key)).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    }

    // Nothing of it took effect.
    assert!(suspensions(&server, &key).await.is_empty());
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::OK).await;
    assert_eq!(wallet.held, None);
    assert!(!shopper.notices(&server).await.iter().any(|n| matches!(n, Notice::AccountHeld { .. })));
    // Lifting what is not there is no error, and tells nobody anything.
    assert_eq!(server.delete("/v1/admin/suspensions/charges", Some(&key)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.delete(&hold_path, Some(&key)).await.status(), StatusCode::NO_CONTENT);
    assert!(!shopper.notices(&server).await.iter().any(|n| matches!(n, Notice::AccountReleased)));
    server.stop().await;
}

/// Runs `inkan-server admin ARGS` on the server's database; what it printed, if it succeeded.
fn admin(server: &TestServer, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_inkan-server"))
        .args(["--database", server.db_url(), "admin"])
        .args(args)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Each key does only what its scopes allow (a support desk's `read` key cannot stop the
/// service), and every operator action, over HTTP or on the command line, and every card the
/// server flags, is in the audit trail with who, what, on what and why.
async fn every_operator_action_is_audited_and_keys_keep_to_their_scopes(backend: Backend) {
    use inkan_api::admin::{AuditTrail, CardFlags, Unlock, Unlocked};
    let server = TestServer::start(backend).await;
    let reader = server.operator_key_with(&[Scope::Read]).await;
    let switches = server.operator_key_with(&[Scope::Switches]).await;
    let shopper = Shopper::enroll(&server, "Rin").await;
    let hold_path = format!("/v1/admin/accounts/{}/hold", shopper.account_id());
    let unlock = Unlock {
        account: None,
        device: Some(shopper.device_id.clone()),
        address: None,
        card_number: None,
        reason: Some("the shopper's new phone".to_owned()),
    };

    // A reading key reads, and changes nothing.
    let forbidden = [
        server.put("/v1/admin/suspensions/charges", Some(&reader), &suspend("no")).await,
        server.put(&hold_path, Some(&reader), &hold("no")).await,
        server.delete(&hold_path, Some(&reader)).await,
        server.delete("/v1/admin/suspensions/charges", Some(&reader)).await,
        server.post("/v1/admin/unlock", Some(&reader), &unlock).await,
        server.get("/v1/admin/audit", Some(&switches)).await,
        server.get("/v1/admin/flags", Some(&switches)).await,
    ];
    for response in forbidden {
        let message = error(response, StatusCode::FORBIDDEN, ErrorCode::Forbidden).await;
        assert!(message.contains("scope"), "{message}");
    }
    let none: AuditTrail = json(server.get("/v1/admin/audit", Some(&reader)).await, StatusCode::OK).await;
    assert!(none.entries.is_empty(), "refused actions are not actions: {none:?}");

    // The switches key acts; the command line too; the server flags a card.
    let _: Suspension = json(
        server.put("/v1/admin/suspensions/charges", Some(&switches), &suspend("incident 42")).await,
        StatusCode::OK,
    )
    .await;
    let resumed = server.delete("/v1/admin/suspensions/charges?reason=incident%2042%20over", Some(&switches)).await;
    assert_eq!(resumed.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.put(&hold_path, Some(&switches), &hold("fraud check")).await.status(), StatusCode::NO_CONTENT);
    // A why that is no reason is refused, and nothing is done.
    for bad in ["?reason=line%0Abreak", "?reason_=x", &format!("?reason={}", "x".repeat(201))] {
        let response = server.delete(&format!("{hold_path}{bad}"), Some(&switches)).await;
        error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    }
    assert_eq!(server.delete(&hold_path, Some(&switches)).await.status(), StatusCode::NO_CONTENT);
    let _: Unlocked = json(server.post("/v1/admin/unlock", Some(&switches), &unlock).await, StatusCode::OK).await;
    admin(&server, &["unlock", "--address", "203.0.113.9", "--reason", "the shop's NAT"]).unwrap();
    // (The hold ended Rin's sessions: two fresh wallets add one card.)
    let (first, other) = (Shopper::enroll(&server, "Owner").await, Shopper::enroll(&server, "Mule").await);
    for (who, status) in [(&first, StatusCode::CREATED), (&other, StatusCode::PAYMENT_REQUIRED)] {
        let card = AddCard { number: "4242424242424242".into(), exp_month: 12, exp_year: 2030, cvc: "123".into() };
        assert_eq!(server.post("/v1/wallet/cards", Some(&who.token), &card).await.status(), status);
    }
    let flags: CardFlags = json(server.get("/v1/admin/flags", Some(&reader)).await, StatusCode::OK).await;
    assert_eq!(flags.flags.len(), 1);

    let trail: AuditTrail = json(server.get("/v1/admin/audit", Some(&reader)).await, StatusCode::OK).await;
    let seen: Vec<(String, String, String)> =
        trail.entries.iter().map(|e| (e.action.clone(), e.subject.clone(), e.reason.clone())).collect();
    let account = shopper.account_id().to_owned();
    let s = |t: &str| t.to_owned();
    assert_eq!(
        seen[1..7],
        [
            (s("unlock"), s("address 203.0.113.9"), s("the shop's NAT")),
            (s("unlock"), format!("device {}", shopper.device_id), s("the shopper's new phone")),
            (s("release"), account.clone(), s("")),
            (s("hold"), account, s("fraud check")),
            (s("resume"), s("charges"), s("incident 42 over")),
            (s("suspend"), s("charges"), s("incident 42")),
        ]
    );
    let flagged = &trail.entries[0];
    assert_eq!((flagged.operator_id.as_str(), flagged.action.as_str()), ("inkan", "card_flagged"));
    assert!(flagged.subject.contains("4242") && flagged.reason.contains(other.account_id()), "{flagged:?}");
    let who: Vec<&str> = trail.entries.iter().map(|e| e.operator_id.as_str()).collect();
    assert_eq!(who.len(), 7);
    assert_eq!(who[1], "command line");
    assert!(who[2..].iter().all(|w| w.starts_with("op_")), "{who:?}");
    assert!(trail.entries.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    // The command line lists the same, and makes keys with the scopes asked for, and no others.
    let printed = admin(&server, &["audit"]).unwrap();
    assert!(printed.lines().any(|l| l.contains("suspend") && l.contains("incident 42")), "{printed}");
    let made = admin(&server, &["operator", "create", "--name", "Support desk", "--scopes", "read"]).unwrap();
    assert!(made.contains("(read)"), "{made}");
    assert!(admin(&server, &["operator", "create", "--name", "Root", "--scopes", "root"]).is_err());
    assert!(admin(&server, &["operator", "create", "--name", "Nobody", "--scopes", ""]).is_err());
    server.stop().await;
}

/// What the operator scrapes (`serve --metrics-listen`) moves with what happens: requests by route
/// and status, a charge made, confirmed and refused, the confirmation's times, the writer's
/// batches and syncs (SQLite), an open feed, a suspended service (on PostgreSQL, on the other
/// instance's scrape too). Every answer carries a request id. The process's recorder is shared by
/// the tests running beside this one, so counters are compared before and after; the gauges are
/// this server's own.
async fn what_the_operator_scrapes_moves_with_what_happens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let key = server.operator_key().await;
    let till = server.merchant("Lawson Scrape").await;
    let mut shopper = Shopper::enroll(&server, "Mei").await;
    shopper.top_up(&server, 5_000).await;
    let before = server.scrape().await;
    let moved =
        |after: &Scrape, name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);

    let feed = FeedReader::open(&server, &shopper.token.clone(), None).await;
    let charge = till.charge_ok(&shopper.code(&server), 700).await;
    let pending = shopper.pending(&server).await;
    let confirmed: WalletCharge = json(shopper.confirm(&server, &pending[0]).await, StatusCode::OK).await;
    assert_eq!((confirmed.id.as_str(), confirmed.status), (charge.id.as_str(), ChargeStatus::Succeeded));
    error(till.charge(&shopper.code(&server), 4_500).await, StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds)
        .await;

    let after = server.scrape().await;
    let charges = "inkan_charges_total";
    assert!(moved(&after, charges, &[("outcome", "pending_confirmation")]) >= 1.0);
    assert!(moved(&after, charges, &[("outcome", "succeeded")]) >= 1.0);
    assert!(moved(&after, charges, &[("outcome", "refused")]) >= 1.0);
    assert!(moved(&after, "inkan_charge_refusals_total", &[("code", "insufficient_funds")]) >= 1.0);
    assert!(moved(&after, "inkan_charge_confirm_seconds_count", &[]) >= 1.0);
    assert!(moved(&after, "inkan_charge_confirm_wait_seconds_count", &[]) >= 1.0);
    let made = [("method", "POST"), ("route", "/v1/charges"), ("status", "201")];
    assert!(moved(&after, "inkan_http_requests_total", &made) >= 1.0);
    let refused = [("method", "POST"), ("route", "/v1/charges"), ("status", "402")];
    assert!(moved(&after, "inkan_http_requests_total", &refused) >= 1.0);
    let timed = [("method", "POST"), ("route", "/v1/charges")];
    assert!(moved(&after, "inkan_http_request_duration_seconds_count", &timed) >= 2.0);
    if matches!(backend, Backend::Sqlite) {
        assert!(moved(&after, "inkan_writer_batch_transactions_count", &[]) >= 1.0);
        assert!(moved(&after, "inkan_writer_sync_seconds_count", &[]) >= 1.0);
        assert!(moved(&after, "inkan_writer_sync_transactions_sum", &[]) >= 1.0);
    }
    // The gauges are this server's: its one open feed, and no suspension.
    assert_eq!(after.value("inkan_feed_subscribers", &[]), 1.0);
    assert_eq!(after.value("inkan_streams_open", &[]), 1.0);
    for service in Service::ALL {
        assert_eq!(after.value("inkan_service_suspended", &[("service", service.as_str())]), 0.0, "{service:?}");
    }
    drop(feed);
    let mut streams = server.state.admission.open_streams();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), streams.wait_for(|n| *n == 0)).await;
    assert!(closed.is_ok(), "the feed never closed");
    assert_eq!(server.scrape().await.value("inkan_feed_subscribers", &[]), 0.0);

    // A kill switch shows at once, on every instance.
    let other = other_instance(&server, backend).await;
    let _: Suspension = json(
        server.put("/v1/admin/suspensions/top_ups", Some(&key), &suspend("provider outage")).await,
        StatusCode::OK,
    )
    .await;
    for instance in std::iter::once(&server).chain(other.as_ref()) {
        let scrape = instance.scrape().await;
        assert_eq!(scrape.value("inkan_service_suspended", &[("service", "top_ups")]), 1.0);
        assert_eq!(scrape.value("inkan_service_suspended", &[("service", "charges")]), 0.0);
    }
    let resumed = server.delete("/v1/admin/suspensions/top_ups", Some(&key)).await;
    assert_eq!(resumed.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.scrape().await.value("inkan_service_suspended", &[("service", "top_ups")]), 0.0);

    // Every answer has a request id: a plain one from the client (or its proxy) is kept, anything
    // else replaced by the server's own.
    let id_of = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let healthz = format!("{}/healthz", server.url);
    let ours = id_of(&server.http.get(&healthz).send().await.unwrap());
    assert!(ours.len() == 32 && ours.bytes().all(|b| b.is_ascii_hexdigit()), "{ours}");
    let kept = server.http.get(&healthz).header("x-request-id", "edge-7:a1.b_2").send().await.unwrap();
    assert_eq!(id_of(&kept), "edge-7:a1.b_2");
    for hostile in ["x".repeat(65), "two words".to_owned(), "id\"; drop".to_owned()] {
        let replaced = server.http.get(&healthz).header("x-request-id", hostile.as_str()).send().await.unwrap();
        let id = id_of(&replaced);
        assert!(id != hostile && id.len() == 32, "{hostile:?} became {id:?}");
    }
    let refused = till.charge(&shopper.code(&server), 0).await;
    assert_eq!(id_of(&refused).len(), 32, "an error answer has an id too");
    // The metrics are on their own listener only.
    assert_eq!(server.get("/metrics", None).await.status(), StatusCode::NOT_FOUND);
    let other_path = server.http.get(format!("{}/v1/wallet", server.metrics_url)).send().await.unwrap();
    assert_eq!(other_path.status(), StatusCode::NOT_FOUND);
    if let Some(other) = other {
        other.stop().await;
    }
    server.stop().await;
}
