//! Issue 15, rule 8: failed tries of a passkey, a recovery code or a card's details. The fourth
//! failure warns the shopper, in the answer and as a notice; the fifth locks, with a notice that
//! says until when (or "contact support" for cards); the operator can lift a lock.

use inkan_api::admin::{Unlock, Unlocked};
use inkan_api::devices::FreezeWithRecoveryCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::UnfreezeWithRecoveryCode;
use inkan_api::{ErrorBody, ErrorCode};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use super::abuse::{behind_an_edge, from_japan};
use super::devices::{second_device, sign_in_as};
use super::request_join;
use super::support::{self, Backend, Shopper, TestServer, error, json};

support::on_both_databases!(
    refused_passkeys_warn_at_the_fourth_and_lock_the_device_at_the_fifth,
    a_stolen_session_s_refused_passkeys_end_it_and_never_lock_the_device,
    wrong_recovery_codes_lock_joins_and_unfreezing_but_never_a_freeze,
    a_card_s_fourth_failure_warns_and_the_fifth_locks_until_support_lifts_it,
);

/// The error of a refused try, checked for its status and code.
async fn refusal(response: reqwest::Response, status: StatusCode, code: ErrorCode) -> inkan_api::ApiError {
    assert_eq!(response.status(), status);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, code, "{}", body.error.message);
    body.error
}

/// The warnings and locks among a wallet's notices: (secret, tries left or lock end).
fn tries_notices(notices: &[Notice]) -> Vec<(String, String)> {
    notices
        .iter()
        .filter_map(|n| match n {
            Notice::TriesRunningOut { secret, left } => Some((secret.clone(), format!("{left} left"))),
            Notice::TriesLocked { secret, until } => {
                Some((secret.clone(), until.map_or("until lifted".to_owned(), |u| u.unix_timestamp().to_string())))
            }
            _ => None,
        })
        .collect()
}

fn now(server: &TestServer) -> OffsetDateTime {
    use inkan_server::clock::Clock;
    server.clock.now()
}

/// Failures from this machine's address are forgotten at once: these tests are about the wallet,
/// the device and the card, and would otherwise lock the address that every test request uses.
/// With `edge`, behind a proxy on this machine that names each client's address.
fn settings(edge: bool) -> inkan_server::Settings {
    let mut settings = if edge { behind_an_edge() } else { support::settings() };
    settings.attempts.address_memory = Duration::ZERO;
    settings.rate_limits = settings.rate_limits.scaled(1000);
    settings
}

/// A thief holds the tablet (its key) and a synced copy of the phone's passkey: every sign-in as
/// the tablet is refused. The fourth refusal warns, the fifth locks the tablet for 30 minutes; then
/// even the tablet's own passkey is refused before it is tried. The phone is not locked with it
/// (a wallet-wide passkey lock would let the thief keep the owner out). The operator lifts the
/// lock, and a later lock ends by itself.
async fn refused_passkeys_warn_at_the_fourth_and_lock_the_device_at_the_fifth(backend: Backend) {
    let server = TestServer::start_with(backend, settings(false)).await;
    let mut phone = Shopper::enroll(&server, "Taro").await;
    let mut tablet = second_device(&server, &phone).await;
    let tablet_id = tablet.device_id.clone();
    let lock_ends = now(&server) + Duration::minutes(30);
    for attempt in 1..=5 {
        let response = sign_in_as(&server, &tablet_id, &mut phone, Some(&tablet.device_key)).await;
        let refused = refusal(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
        match attempt {
            4 => {
                assert_eq!((refused.tries_left, refused.locked_until), (Some(1), None));
                assert!(refused.message.contains("one more failure"), "{}", refused.message);
            }
            5 => assert_eq!((refused.tries_left, refused.locked_until), (Some(0), Some(lock_ends))),
            _ => assert_eq!((refused.tries_left, refused.locked_until), (None, None), "try {attempt}"),
        }
    }
    let locked = refusal(
        sign_in_as(&server, &tablet_id, &mut tablet, None).await,
        StatusCode::FORBIDDEN,
        ErrorCode::AttemptsLocked,
    )
    .await;
    assert_eq!(locked.locked_until, Some(lock_ends));
    phone.sign_in(&server).await;
    let notices = phone.notices(&server).await;
    let rejected = notices.iter().filter(|n| matches!(n, Notice::PasskeyRejected { .. })).count();
    assert_eq!(rejected, 5, "a try refused by the lock is no failure");
    let told = vec![
        ("passkey".to_owned(), "1 left".to_owned()),
        ("passkey".to_owned(), lock_ends.unix_timestamp().to_string()),
    ];
    assert_eq!(tries_notices(&notices), told);

    // The operator lifts the device's lock.
    let key = server.operator_key().await;
    let unlock =
        Unlock { account: None, device: Some(tablet_id.clone()), address: None, card_number: None, reason: None };
    let lifted: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &unlock).await, StatusCode::OK).await;
    assert!(lifted.unlocked);
    tablet.sign_in(&server).await;
    // Five more: locked again, until 30 minutes after the last failure.
    for _ in 0..5 {
        let response = sign_in_as(&server, &tablet_id, &mut phone, Some(&tablet.device_key)).await;
        refusal(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
    }
    server.advance(Duration::minutes(29));
    refusal(sign_in_as(&server, &tablet_id, &mut tablet, None).await, StatusCode::FORBIDDEN, ErrorCode::AttemptsLocked)
        .await;
    server.advance(Duration::minutes(2));
    tablet.sign_in(&server).await;
    server.stop().await;
}

/// A thief copied the phone's session, but has no passkey of the wallet: every step-up they
/// answer (with their own wallet's passkey) is refused. The fourth warns; the fifth ends the
/// stolen session, and the phone's passkey is not locked: the owner signs in and pays at once.
async fn a_stolen_session_s_refused_passkeys_end_it_and_never_lock_the_device(backend: Backend) {
    use inkan_api::wallet::{AssertionChallenge, BeginStepUp, SetLimits, StepUpAction};
    let server = TestServer::start_with(backend, settings(false)).await;
    let till = server.merchant("Lawson Ebisu").await;
    let mut owner = Shopper::enroll(&server, "Taro").await;
    owner.top_up(&server, 1_000).await;
    let mut thief = Shopper::enroll(&server, "Thief").await;
    let stolen = owner.token.clone();
    // Above the wallet's ¥50,000 / ¥100,000 / ¥300,000: a raise needs a passkey step-up.
    let raise = inkan_core::LimitPolicy::new(
        inkan_core::Money::yen(60_000),
        inkan_core::Money::yen(120_000),
        inkan_core::Money::yen(400_000),
    )
    .unwrap();
    for attempt in 1..=5 {
        let begin = BeginStepUp { action: StepUpAction::RaiseLimits };
        let challenge: AssertionChallenge =
            json(server.post("/v1/wallet/step-up", Some(&stolen), &begin).await, StatusCode::OK).await;
        let step_up = thief.assert_anyway(challenge);
        let response =
            server.put("/v1/wallet/limits", Some(&stolen), &SetLimits { limits: raise, step_up: Some(step_up) }).await;
        match attempt {
            5 => {
                let ended = refusal(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
                assert_eq!(ended.tries_left, Some(0));
                assert!(ended.message.contains("session") && ended.message.contains("ended"), "{}", ended.message);
            }
            4 => {
                let refused = refusal(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
                assert_eq!(refused.tries_left, Some(1));
            }
            _ => {
                refusal(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
            }
        }
    }
    // The stolen session is over.
    error(server.get("/v1/wallet", Some(&stolen)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // The phone is not locked: it signs in with its passkey and pays.
    owner.sign_in(&server).await;
    let charge = till.charge_ok(&owner.code(&server), 300).await;
    let pending = owner.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == charge.id).unwrap();
    assert_eq!(owner.confirm(&server, this).await.status(), StatusCode::OK);
    let notices = owner.notices(&server).await;
    assert!(
        notices.iter().any(|n| matches!(n, Notice::SessionsEnded { reason, count: 1 } if reason == "passkey_refused"))
    );
    assert_eq!(
        notices.iter().filter(|n| matches!(n, Notice::PasskeyRejected { during, .. } if during == "step_up")).count(),
        5
    );
    assert!(!tries_notices(&notices).iter().any(|(_, state)| state != "1 left"), "nothing was locked: {notices:?}");
    server.stop().await;
}

/// Five wrong recovery codes for a wallet, each from another address: the fourth answer warns, the
/// fifth locks the wallet's codes for 30 minutes, for joins and for lifting a freeze. A freeze
/// with a right code still works (whoever knows the account id must not keep its owner from
/// freezing it). An account id that is no wallet's is answered alike. The lock ends on its own,
/// or when the operator lifts it (`admin unlock --account`).
async fn wrong_recovery_codes_lock_joins_and_unfreezing_but_never_a_freeze(backend: Backend) {
    let server = TestServer::start_with(backend, settings(true)).await;
    let mut phone = Shopper::enroll(&server, "Taro").await;
    let codes = phone.enrolled.as_ref().unwrap().recovery_codes.clone();
    let lock_ends = now(&server) + Duration::minutes(30);
    let wrong = FreezeWithRecoveryCode { recovery_code: "AAAAA-AAAAA-AAAAA-AAAAA".to_owned() };
    let mut answers = Vec::new();
    for account in [phone.account_id().to_owned(), "acct_nobody".to_owned()] {
        let path = format!("/v1/accounts/{account}/freeze");
        let mut these = Vec::new();
        for attempt in 1..=6 {
            let from = format!("198.51.100.{attempt}");
            let response = from_japan(&server, &path, None, &from, &wrong).await;
            let status = response.status();
            let body: ErrorBody = response.json().await.unwrap();
            these.push((status, body.error.code, body.error.tries_left, body.error.locked_until.is_some()));
        }
        answers.push(these);
    }
    let unauthorized = |left, locked| (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, left, locked);
    let expected = vec![
        unauthorized(None, false),
        unauthorized(None, false),
        unauthorized(None, false),
        unauthorized(Some(1), false),
        unauthorized(Some(0), true),
        // The wallet's lock does not stop a freeze: its wrong codes still count and are told.
        unauthorized(Some(0), true),
    ];
    assert_eq!(answers[0], expected);
    assert_eq!(answers[1], expected, "an unknown account id is answered alike");

    // A right code still freezes the wallet.
    let right = FreezeWithRecoveryCode { recovery_code: codes[0].clone() };
    let path = format!("/v1/accounts/{}/freeze", phone.account_id());
    assert_eq!(from_japan(&server, &path, None, "198.51.100.50", &right).await.status(), StatusCode::NO_CONTENT);
    // But no code lifts the freeze, and none lets a device join, until the lock ends.
    phone.sign_in(&server).await;
    let unfreeze = UnfreezeWithRecoveryCode { recovery_code: codes[1].clone() };
    let path = "/v1/wallet/unfreeze/recovery-code";
    let response = from_japan(&server, path, Some(&phone.token), "198.51.100.51", &unfreeze).await;
    let locked = refusal(response, StatusCode::FORBIDDEN, ErrorCode::AttemptsLocked).await;
    assert!(locked.locked_until.is_some_and(|until| until >= lock_ends), "{locked:?}");
    let (response, _, _) = request_join(&server, phone.account_id(), Some(&codes[2])).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::AttemptsLocked).await;
    let notices = phone.notices(&server).await;
    let told = tries_notices(&notices);
    assert_eq!(told[0], ("recovery_code".to_owned(), "1 left".to_owned()));
    assert_eq!(told[1].0, "recovery_code");
    assert!(matches!(notices.iter().filter(|n| matches!(n, Notice::RecoveryCodeRejected)).count(), 6));

    // The operator lifts the wallet's lock: the unused code lifts the freeze.
    let key = server.operator_key().await;
    let unlock = Unlock {
        account: Some(phone.account_id().to_owned()),
        device: None,
        address: None,
        card_number: None,
        reason: None,
    };
    let lifted: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &unlock).await, StatusCode::OK).await;
    assert!(lifted.unlocked);
    let response = from_japan(&server, path, Some(&phone.token), "198.51.100.52", &unfreeze).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // The unknown id's lock ends on its own, and housekeeping forgets it.
    let counters = server.rows("attempt_counters").await;
    assert!(counters >= 1, "{counters}");
    server.advance(Duration::minutes(31));
    let swept = inkan_server::housekeeping::sweep(&server.state).await.unwrap();
    assert!(swept.attempt_counters >= 1);
    assert_eq!(server.rows("attempt_counters").await, 0);
    server.stop().await;
}

/// One wallet's fourth declined card warns (in the answer and the feed), the fifth locks card
/// registration for the wallet until support lifts it, with the notice that says so.
async fn a_card_s_fourth_failure_warns_and_the_fifth_locks_until_support_lifts_it(backend: Backend) {
    let server = TestServer::start_with(backend, settings(false)).await;
    let mut shopper = Shopper::enroll(&server, "Taro").await;
    let numbers = ["4000000000000002", "4111111111111111", "5105105105105100", "4012888888881881", "4222222222222"];
    for (attempt, number) in (1..).zip(numbers) {
        let card = inkan_api::wallet::AddCard {
            number: number.to_owned(),
            exp_month: 12,
            exp_year: 2030,
            cvc: "123".to_owned(),
        };
        let response = server.post("/v1/wallet/cards", Some(&shopper.token), &card).await;
        let refused = refusal(response, StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined).await;
        match attempt {
            4 => assert_eq!((refused.tries_left, refused.locked_until), (Some(1), None)),
            5 => {
                assert_eq!((refused.tries_left, refused.locked_until), (Some(0), None));
                assert!(refused.message.contains("contact support"), "{}", refused.message);
            }
            _ => assert_eq!(refused.tries_left, None),
        }
    }
    let card = inkan_api::wallet::AddCard {
        number: "4242424242424242".to_owned(),
        exp_month: 12,
        exp_year: 2030,
        cvc: "123".to_owned(),
    };
    let locked = server.post("/v1/wallet/cards", Some(&shopper.token), &card).await;
    refusal(locked, StatusCode::FORBIDDEN, ErrorCode::CardLocked).await;
    let told = tries_notices(&shopper.notices(&server).await);
    assert_eq!(told, vec![("card".to_owned(), "1 left".to_owned()), ("card".to_owned(), "until lifted".to_owned())]);
    // Time does not lift it; support does.
    server.advance(Duration::days(30));
    shopper.sign_in(&server).await;
    refusal(
        server.post("/v1/wallet/cards", Some(&shopper.token), &card).await,
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
    )
    .await;
    let key = server.operator_key().await;
    let unlock = Unlock {
        account: Some(shopper.account_id().to_owned()),
        device: None,
        address: None,
        card_number: None,
        reason: None,
    };
    let _: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &unlock).await, StatusCode::OK).await;
    let unlock = Unlock {
        account: None,
        device: Some(shopper.device_id.clone()),
        address: None,
        card_number: None,
        reason: None,
    };
    let _: Unlocked = json(server.post("/v1/admin/unlock", Some(&key), &unlock).await, StatusCode::OK).await;
    assert_eq!(server.post("/v1/wallet/cards", Some(&shopper.token), &card).await.status(), StatusCode::CREATED);
    server.stop().await;
}
