//! The app's state and events, without a window: a real server, the real OS keystore (run inside
//! `cargo xtask with-keyring`, as `cargo xtask test` does), the software passkey.

#![allow(clippy::unwrap_used, reason = "a test: a step that fails panics with its error")]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inkan_app::{
    App, AppConfig, AppEvent, CardInput, Defaults, DeviceErrorCode, EnrollInput, EventSink, JoinInput, LimitsInput,
    PasskeyChoice,
};
use inkan_client::key_signer::{InsecureSoftwareKeySigner, KeyAlias, KeySigner, KeySignerError, Prompt, PublicKeySec1};
use inkan_testkit::{Backend, ORIGIN, Terminal, TestServer};
use tokio::sync::Notify;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<AppEvent>>,
    arrived: Notify,
}

impl EventSink for Recorder {
    fn emit(&self, event: AppEvent) {
        self.events.lock().unwrap().push(event);
        self.arrived.notify_waiters();
    }
}

impl Recorder {
    /// Waits (bounded) for the first event, from the start of the recording, that `pick` accepts.
    async fn wait_for<T>(&self, what: &str, pick: impl Fn(&AppEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            if let Some(found) = self.events.lock().unwrap().iter().find_map(&pick) {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no {what} event within 10 s; got {:?}", self.events.lock().unwrap());
            }
        }
    }

    fn clear(&self) {
        self.events.lock().unwrap().clear();
    }
}

fn app(home: &std::path::Path, server: &TestServer) -> (Arc<App>, Arc<Recorder>) {
    app_with(home, server, PasskeyChoice::InsecureSoftPasskey)
}

fn app_with(home: &std::path::Path, server: &TestServer, passkey: PasskeyChoice) -> (Arc<App>, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let config = AppConfig {
        home: home.to_owned(),
        profile: "app".into(),
        defaults: Defaults { server: server.url.clone(), origin: ORIGIN.into(), device_name: "Test".into() },
        passkey,
    };
    (Arc::new(App::new(config, recorder.clone())), recorder)
}

fn enroll_input(server: &TestServer, name: &str) -> EnrollInput {
    EnrollInput {
        server: server.url.clone(),
        origin: ORIGIN.into(),
        display_name: name.into(),
        device_name: "Hanako's phone".into(),
    }
}

async fn top_up(app: &App, amount: i64) {
    let card = app
        .add_card(CardInput {
            number: inkan_testkit::own_test_card(),
            exp_month: 12,
            exp_year: 2030,
            cvc: "123".into(),
        })
        .await
        .unwrap();
    assert_eq!(card.status, "verified");
    app.top_up(&card.id, amount).await.unwrap();
}

/// The terminal charges a code the app shows; returns the charge id.
async fn charge(app: &App, till: &Terminal, amount: i64) -> String {
    let code = app.payment_code().await.unwrap();
    till.charge_ok(&code.text, amount).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_reaches_the_app_and_is_approved_declined_or_reported() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("Lawson Shinjuku").await;
    let home = tempfile::tempdir().unwrap();
    let (app, events) = app(home.path(), &server);
    app.start().await;
    assert!(app.snapshot().await.profile.is_none());

    let enrolled = app.enroll(enroll_input(&server, "Hanako")).await.unwrap();
    assert!(enrolled.recovery_codes.len() >= 5);
    assert!(enrolled.profile.insecure_passkey);
    events.wait_for("profile_changed", |e| matches!(e, AppEvent::ProfileChanged).then_some(())).await;
    events.wait_for("connection", |e| matches!(e, AppEvent::Connection { online: true, .. }).then_some(())).await;
    assert!(app.snapshot().await.online);
    top_up(&app, 10_000).await;
    assert_eq!(app.status().await.unwrap().balance.en, "¥10,000");

    // The code: a version 2 code (the session brought its keys), as text and as an SVG QR of
    // version 6; refreshed every 30 s.
    let code = app.payment_code().await.unwrap();
    assert_eq!(code.text.len(), 126);
    assert!(matches!(
        inkan_core::payment_code::ScannedCode::parse(&code.text),
        Ok(inkan_core::payment_code::ScannedCode::V2(_))
    ));
    assert!(code.svg.starts_with("<?xml") && code.svg.contains("<svg"));
    assert_eq!((code.qr_version, code.refresh_in_ms, code.expires_in_ms), (6, 30_000, 60_000));
    assert_ne!(app.payment_code().await.unwrap().text, code.text, "a code is never shown twice");

    // Approve: the sheet's event carries the shop and the amount; the outcome follows.
    events.clear();
    let id = charge(&app, &till, 1_280).await;
    let pending = events
        .wait_for("charge_pending", |e| match e {
            AppEvent::ChargePending { charge } if charge.id == id => Some(charge.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (pending.merchant_name.as_str(), pending.amount.en.as_str(), pending.amount.ja.as_str()),
        ("Lawson Shinjuku", "¥1,280", "1,280円")
    );
    assert_eq!(app.approve(&id).await.unwrap().status, "succeeded");
    events
        .wait_for("charge_settled", |e| {
            matches!(e, AppEvent::ChargeSettled { charge_id, status } if *charge_id == id && status == "succeeded")
                .then_some(())
        })
        .await;
    assert_eq!(app.status().await.unwrap().balance.ja, "8,720円");
    let newest = &app.activity()[0];
    assert_eq!(newest.amount.as_ref().map(|a| a.en.as_str()), Some("¥1,280"));
    assert!(matches!(newest.notice, inkan_api::feed::Notice::ChargeSucceeded { .. }), "{newest:?}");

    // Approving again, or a charge that does not exist: a clear error, nothing moves.
    let again = app.approve(&id).await.unwrap_err();
    assert_eq!(again.code, DeviceErrorCode::InvalidInput, "{again:?}");
    assert_eq!(app.approve("ch_nonexistent").await.unwrap_err().code, DeviceErrorCode::InvalidInput);
    assert_eq!(app.status().await.unwrap().balance.minor, 8_720);

    // Decline, then "this wasn't me": declined and frozen in one step.
    let id = charge(&app, &till, 500).await;
    events
        .wait_for("charge_pending", |e| {
            matches!(e, AppEvent::ChargePending { charge } if charge.id == id).then_some(())
        })
        .await;
    assert_eq!(app.decline(&id, false).await.unwrap().status, "declined");
    let id = charge(&app, &till, 300).await;
    events
        .wait_for("charge_pending", |e| {
            matches!(e, AppEvent::ChargePending { charge } if charge.id == id).then_some(())
        })
        .await;
    assert_eq!(app.decline(&id, true).await.unwrap().status, "declined");
    assert!(app.status().await.unwrap().frozen);
    events
        .wait_for("wallet_frozen activity", |e| match e {
            AppEvent::Activity { item } => {
                matches!(item.notice, inkan_api::feed::Notice::WalletFrozen { .. }).then_some(())
            }
            _ => None,
        })
        .await;
    // A frozen wallet's codes are refused at the till.
    let code = app.payment_code().await.unwrap();
    let refused = till.charge(&code.text, 100).await;
    inkan_testkit::error(refused, refused_status(403), inkan_api::ErrorCode::WalletFrozen).await;
    // This device is minutes old: its passkey may not lift the freeze, and the app says why in the
    // error's own code; a recovery code can.
    let refused = app.unfreeze().await.unwrap_err();
    assert_eq!(refused.code, inkan_api::ErrorCode::UnfreezeNotAllowed, "{refused:?}");
    assert!(refused.message.contains("72 hours"), "{refused:?}");
    assert!(app.status().await.unwrap().frozen);
    assert_eq!(app.unfreeze_with_recovery_code("  ").await.unwrap_err().code, DeviceErrorCode::InvalidInput);
    app.unfreeze_with_recovery_code(&enrolled.recovery_codes[0]).await.unwrap();
    assert!(!app.status().await.unwrap().frozen);

    // Restarted, the app finds its wallet in the keystore and its activity in the verified history.
    drop(app);
    let (again, events) = self::app(home.path(), &server);
    again.start().await;
    assert_eq!(again.snapshot().await.profile.unwrap().account_id, enrolled.profile.account_id);
    events.wait_for("connection", |e| matches!(e, AppEvent::Connection { online: true, .. }).then_some(())).await;
    let kinds: Vec<String> = again
        .activity()
        .iter()
        .map(|i| serde_json::to_value(&i.notice).unwrap()["kind"].as_str().unwrap().to_owned())
        .collect();
    // Newest first: the unfreeze, then the freeze, … The saved session is still valid, so a restart
    // need not sign in; when it does (the session lapsed), that sign-in is the newest notice.
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or_else(|| panic!("{kind} missing: {kinds:?}"));
    assert!(at("wallet_unfrozen") < at("wallet_frozen") && at("wallet_frozen") < at("account_created"), "{kinds:?}");
    assert!(kinds.iter().skip(1).all(|k| k != "signed_in"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "account_created"));
    let export = again.export_history(home.path()).await.unwrap();
    assert_eq!(export.events, u64::try_from(kinds.len()).unwrap());
    again.forget().await.unwrap();
    assert!(again.snapshot().await.profile.is_none());
    server.stop().await;
}

fn refused_status(code: u16) -> reqwest::StatusCode {
    reqwest::StatusCode::from_u16(code).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    let (app, _events) = app(home.path(), &server);
    app.start().await;

    // Before a wallet exists.
    assert_eq!(app.status().await.unwrap_err().code, DeviceErrorCode::NoWallet);
    assert_eq!(app.payment_code().await.unwrap_err().code, DeviceErrorCode::NoWallet);
    for (server_url, name, device) in [
        ("not a url", "Hanako", "phone"),
        ("ftp://example.com", "Hanako", "phone"),
        (server.url.as_str(), "   ", "phone"),
        (server.url.as_str(), "Hanako", ""),
        (server.url.as_str(), &"x".repeat(65), "phone"),
    ] {
        let input = EnrollInput {
            server: server_url.into(),
            origin: String::new(),
            display_name: name.into(),
            device_name: device.into(),
        };
        let refused = app.enroll(input).await.unwrap_err();
        assert_eq!(refused.code, DeviceErrorCode::InvalidInput, "{server_url} {name} {device}: {refused:?}");
    }
    // A server that is not there: a clear error, and no half-made wallet left behind.
    let down = EnrollInput {
        server: "http://127.0.0.1:9".into(),
        origin: ORIGIN.into(),
        display_name: "H".into(),
        device_name: "p".into(),
    };
    assert_eq!(app.enroll(down).await.unwrap_err().code, DeviceErrorCode::Unreachable);
    assert!(app.snapshot().await.profile.is_none());
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none(), "something was written for a failed enrolment");
    // Joining with an account that does not exist.
    let join = JoinInput {
        server: server.url.clone(),
        origin: ORIGIN.into(),
        account_id: "acct_nobody".into(),
        device_name: "tablet".into(),
        recovery_code: "AAAA-BBBB".into(),
    };
    assert!(app.join(join).await.is_err());
    assert!(app.snapshot().await.profile.is_none());

    app.enroll(enroll_input(&server, "Hanako")).await.unwrap();
    // A second wallet on the same device is refused.
    assert_eq!(app.enroll(enroll_input(&server, "Again")).await.unwrap_err().code, DeviceErrorCode::InvalidInput);
    // Limits that make no sense; a top-up of nothing; revoking the device in hand.
    let before = app.status().await.unwrap().limits;
    for (per_charge, daily, monthly) in [(-1, 10, 10), (100, 50, 1000), (10, 10, -5)] {
        let refused = app.set_limits(LimitsInput { per_charge, daily, monthly }).await.unwrap_err();
        assert_eq!(refused.code, DeviceErrorCode::InvalidInput, "{per_charge} {daily} {monthly}");
    }
    assert_eq!(app.status().await.unwrap().limits, before);
    assert_eq!(app.top_up("card_x", 0).await.unwrap_err().code, DeviceErrorCode::InvalidInput);
    let me = app.snapshot().await.profile.unwrap().device_id;
    assert_eq!(app.revoke_device(&me).await.unwrap_err().code, DeviceErrorCode::InvalidInput);
    // A card that is declined, and a wrong challenge code.
    let declined = app
        .add_card(CardInput { number: "4000000000000002".into(), exp_month: 12, exp_year: 2030, cvc: "123".into() })
        .await
        .unwrap_err();
    assert_eq!(declined.code, inkan_api::ErrorCode::CardDeclined);
    let challenged = app
        .add_card(CardInput { number: "4000000000003220".into(), exp_month: 12, exp_year: 2030, cvc: "123".into() })
        .await
        .unwrap();
    assert_eq!(challenged.status, "challenge_required");
    assert_eq!(app.verify_card(&challenged.id, "000000").await.unwrap_err().code, inkan_api::ErrorCode::CardDeclined);
    assert_eq!(app.verify_card(&challenged.id, " 123456 ").await.unwrap().status, "verified");
    // The wallet lists its cards: the declined one as failed, the challenged one now verified.
    // (Both were added at the same instant of the test's clock, so their order is not fixed.)
    let mut statuses: Vec<String> = app.cards().await.unwrap().into_iter().map(|c| c.status).collect();
    statuses.sort();
    assert_eq!(statuses, ["failed", "verified"]);
    // Lowering applies at once; raising waits out the cooling-off, confirmed with the passkey.
    let lowered = app.set_limits(LimitsInput { per_charge: 5_000, daily: 10_000, monthly: 50_000 }).await.unwrap();
    assert_eq!((lowered.per_charge.en.as_str(), lowered.pending.is_none()), ("¥5,000", true));
    let raised = app.set_limits(LimitsInput { per_charge: 9_000, daily: 20_000, monthly: 90_000 }).await.unwrap();
    assert_eq!(raised.per_charge.en, "¥5,000");
    let pending = raised.pending.expect("a raise waits");
    assert_eq!(pending.per_charge.en, "¥9,000");
    assert!(pending.effective_in_ms > 23 * 3_600_000, "{pending:?}");
    server.stop().await;
}

/// A phone whose person can be told to cancel every biometric prompt; counts the prompts.
#[derive(Debug, Default)]
struct Phone {
    key: InsecureSoftwareKeySigner,
    cancels: AtomicBool,
    prompts: AtomicUsize,
}

impl KeySigner for Phone {
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError> {
        self.key.create_key(alias)
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError> {
        self.prompts.fetch_add(1, Ordering::SeqCst);
        if self.cancels.load(Ordering::SeqCst) {
            return Err(KeySignerError::Cancelled);
        }
        self.key.sign(alias, message, prompt)
    }

    fn delete_key(&self, alias: &KeyAlias) -> Result<(), KeySignerError> {
        self.key.delete_key(alias)
    }

    fn describe(&self) -> &'static str {
        "test phone (INSECURE)"
    }
}

/// The app on a phone: the wallet's passkey is the phone's key. A cancelled prompt is its own
/// error code and pays nothing; a live feed whose session ended asks once, and when the person
/// cancels it stops and says so instead of asking again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_each_payment_is_a_biometric_and_a_cancelled_one_is_not_asked_again() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let home = tempfile::tempdir().unwrap();
    let phone = Arc::new(Phone::default());
    let (app, events) = app_with(home.path(), &server, PasskeyChoice::Platform(phone.clone()));
    app.start().await;
    let enrolled = app.enroll(enroll_input(&server, "Hanako")).await.unwrap();
    assert!(!enrolled.profile.insecure_passkey);
    assert_eq!(enrolled.profile.passkey, "test phone (INSECURE)");
    events.wait_for("connection", |e| matches!(e, AppEvent::Connection { online: true, .. }).then_some(())).await;
    top_up(&app, 3_000).await;

    let id = charge(&app, &till, 1_280).await;
    phone.cancels.store(true, Ordering::SeqCst);
    let cancelled = app.approve(&id).await.unwrap_err();
    assert_eq!(cancelled.code, DeviceErrorCode::BiometricCancelled, "{cancelled:?}");
    assert_eq!(app.status().await.unwrap().balance.minor, 3_000);
    phone.cancels.store(false, Ordering::SeqCst);
    assert_eq!(app.approve(&id).await.unwrap().status, "succeeded");

    // Restarted without a session (signed out before), with a person who cancels the prompt.
    app.sign_out().await.unwrap();
    drop(app);
    phone.cancels.store(true, Ordering::SeqCst);
    let asked = phone.prompts.load(Ordering::SeqCst);
    let (app, events) = app_with(home.path(), &server, PasskeyChoice::Platform(phone.clone()));
    app.start().await;
    let ended = events
        .wait_for("feed_ended", |e| match e {
            AppEvent::FeedEnded { error } => Some(error.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ended.code, DeviceErrorCode::BiometricCancelled, "{ended:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(phone.prompts.load(Ordering::SeqCst), asked + 1, "asked once, not again and again");

    // Signing in from the screen starts the feed again.
    phone.cancels.store(false, Ordering::SeqCst);
    app.sign_in().await.unwrap();
    events.wait_for("connection", |e| matches!(e, AppEvent::Connection { online: true, .. }).then_some(())).await;
    app.forget().await.unwrap();
    assert_eq!(phone.key.key_count(), 0);
    server.stop().await;
}
