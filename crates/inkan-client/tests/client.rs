//! inkan-client against the real server (`inkan-testkit`) and the real OS keystore (run inside a
//! keyring: `cargo xtask with-keyring -- cargo test -p inkan-client --test client`).
//!
//! The phone's passkey (`PlatformPasskey`) end to end: enrolled, reopened from what it keeps in the
//! keystore, approving real charges that webauthn-rs verifies, and what must change nothing: a
//! cancelled prompt, a key that signs something else, a passkey request that does not fit. The
//! phone's key is `InsecureSoftwareKeySigner` behind [`Phone`], which can be told to fail the way
//! a phone fails; everything above the key is the code that runs on the phone.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::sync::{Arc, Mutex};

use inkan_api::ErrorCode;
use inkan_api::wallet::{AddCard, PendingCharge};
use inkan_client::authenticator::{Approval, Authenticator};
use inkan_client::key_signer::{
    InsecureSoftwareKeySigner, KeyAlias, KeySigner, KeySignerError, Prompt, PublicKeySec1, SharedKeySigner,
};
use inkan_client::platform_passkey::PlatformPasskey;
use inkan_client::profile::ProfileStore;
use inkan_client::wallet::{PasskeyChoice, Server};
use inkan_client::{ClientError, Wallet};
use inkan_core::{ChargeStatus, Money};
use inkan_keystore::Keystore;
use inkan_testkit::{Backend, ORIGIN, Terminal, TestServer};
use url::Url;

/// What the phone does when asked to make or use its key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Refuses every call with this error (the person cancelled, no fingerprint is set up, …).
    Fails(KeySignerError),
    /// Signs, but over other bytes than it was given.
    SignsOtherData,
}

/// A phone: a software key that can be told to misbehave.
#[derive(Debug)]
struct Phone {
    key: InsecureSoftwareKeySigner,
    behaviour: Mutex<Behaviour>,
}

impl Phone {
    fn new() -> Arc<Phone> {
        Arc::new(Phone { key: InsecureSoftwareKeySigner::new(), behaviour: Mutex::new(Behaviour::Honest) })
    }

    fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn failure(&self) -> Option<KeySignerError> {
        match &*self.behaviour.lock().unwrap() {
            Behaviour::Fails(e) => Some(e.clone()),
            Behaviour::Honest | Behaviour::SignsOtherData => None,
        }
    }

    fn last_prompt(&self) -> Prompt {
        self.key.prompts().pop().expect("a prompt was shown")
    }
}

impl KeySigner for Phone {
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError> {
        match self.failure() {
            Some(e) => Err(e),
            None => self.key.create_key(alias),
        }
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        if *self.behaviour.lock().unwrap() == Behaviour::SignsOtherData {
            let mut other = message.to_vec();
            other[0] ^= 1;
            return self.key.sign(alias, &other, prompt);
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

fn signer(phone: &Arc<Phone>) -> SharedKeySigner {
    phone.clone()
}

/// A fresh profile in a temporary home; its keystore service is unique to this test run.
fn profile() -> (tempfile::TempDir, ProfileStore) {
    let home = tempfile::tempdir().unwrap();
    let name = format!("phone-{}", uuid::Uuid::new_v4().simple());
    let store = ProfileStore::new(home.path(), &name).unwrap();
    (home, store)
}

fn where_(server: &TestServer) -> Server {
    Server { url: server.url.parse().unwrap(), origin: ORIGIN.parse().unwrap() }
}

async fn enroll(server: &TestServer, store: ProfileStore, phone: &Arc<Phone>) -> Result<Wallet, ClientError> {
    Wallet::enroll(store, where_(server), "Hanako", "Hanako's phone", PasskeyChoice::Platform(signer(phone)))
        .await
        .map(|e| e.wallet)
}

async fn top_up(wallet: &mut Wallet, yen: i64) {
    let card = wallet
        .add_card(AddCard { number: inkan_testkit::own_test_card(), exp_month: 12, exp_year: 2030, cvc: "123".into() })
        .await
        .unwrap();
    wallet.top_up(&card.id, Money::yen(yen)).await.unwrap();
}

/// A charge made by `till` from a fresh payment code of `wallet`, waiting for the shopper.
async fn charge(wallet: &mut Wallet, till: &Terminal, yen: i64) -> String {
    wallet.sync_clock().await.unwrap();
    let code = wallet.payment_code().unwrap();
    let charge = till.charge_ok(&code.text(), yen).await;
    assert_eq!(charge.status, ChargeStatus::PendingConfirmation);
    charge.id
}

/// A new phone's wallet with ¥3,000, and a charge of `yen` from `till` waiting for it.
async fn wallet_with_a_charge(
    server: &TestServer,
    till: &Terminal,
    phone: &Arc<Phone>,
    yen: i64,
) -> (tempfile::TempDir, Wallet, String, PendingCharge) {
    let (home, store) = profile();
    let mut wallet = enroll(server, store, phone).await.unwrap();
    top_up(&mut wallet, 3_000).await;
    let id = charge(&mut wallet, till, yen).await;
    let pending = wallet.pending_charge(&id).await.unwrap();
    (home, wallet, id, pending)
}

fn keystore_of(store: &ProfileStore) -> Keystore {
    Keystore::open(&store.keystore_service()).unwrap()
}

/// The phone's key store refused with `kind`, and the words tell the person what to do.
#[track_caller]
fn assert_signer_refused(err: &ClientError, kind: &KeySignerError, says: &str) {
    assert!(matches!(err, ClientError::KeySigner(k) if k == kind), "{err}");
    assert!(err.to_string().contains(says), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_passkey_enrolls_pays_a_real_charge_and_is_found_again_after_a_restart() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let phone = Phone::new();
    let (_home, store) = profile();

    let mut wallet = enroll(&server, store.clone(), &phone).await.expect("enrolment (is a keyring running?)");
    assert_eq!(wallet.profile().passkey, inkan_client::profile::PasskeyKind::Platform);
    assert_eq!(phone.key.key_count(), 1);
    assert_eq!(phone.last_prompt(), Approval::Setup.prompt(), "making the passkey asks for the biometric once");
    assert_eq!(wallet.authenticator_description(), "test phone (INSECURE)");

    top_up(&mut wallet, 10_000).await;
    let id = charge(&mut wallet, &till, 1_280).await;
    let pending = wallet.pending_charge(&id).await.unwrap();
    let paid = wallet.approve(&pending).await.unwrap();
    assert_eq!(paid.status, ChargeStatus::Succeeded);
    assert_eq!(
        phone.last_prompt(),
        Prompt { title: "Pay ¥1,280".into(), subtitle: "to FamilyMart Shibuya".into() },
        "the prompt names the amount and the shop"
    );
    assert_eq!(till.get(&id, None).await.status, ChargeStatus::Succeeded);

    // The app restarts: the passkey is found again from its record in the keystore.
    drop(wallet);
    let closed = Wallet::open(store.clone()).unwrap_err();
    assert!(closed.to_string().contains("open it in the Inkan app on that phone"), "{closed}");
    let mut wallet = Wallet::open_with(store.clone(), Some(signer(&phone))).unwrap();
    let id = charge(&mut wallet, &till, 500).await;
    let pending = wallet.pending_charge(&id).await.unwrap();
    assert_eq!(wallet.approve(&pending).await.unwrap().status, ChargeStatus::Succeeded);
    assert_eq!(wallet.status().await.unwrap().balance, Money::yen(10_000 - 1_280 - 500));

    // Signing in again is a biometric too, and says so.
    wallet.sign_out().await.unwrap();
    wallet.status().await.unwrap();
    assert_eq!(phone.last_prompt(), Approval::SignIn.prompt());

    // Removing the wallet removes the phone's key and its record.
    wallet.forget().unwrap();
    assert_eq!(phone.key.key_count(), 0);
    let err = PlatformPasskey::load(keystore_of(&store), signer(&phone)).unwrap_err();
    assert!(matches!(err, ClientError::KeySigner(KeySignerError::KeyMissing)), "{err}");
    server.assert_ledger_balanced().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_prompt_changes_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let phone = Phone::new();
    let (_home, mut wallet, id, pending) = wallet_with_a_charge(&server, &till, &phone, 1_280).await;

    phone.behave(Behaviour::Fails(KeySignerError::Cancelled));
    let err = wallet.approve(&pending).await.unwrap_err();
    assert_signer_refused(&err, &KeySignerError::Cancelled, "cancelled: nothing was signed");

    // Still waiting, nothing paid; the person can still approve it.
    assert_eq!(till.get(&id, None).await.status, ChargeStatus::PendingConfirmation);
    assert_eq!(wallet.status().await.unwrap().balance, Money::yen(3_000));
    assert!(wallet.pending().await.unwrap().iter().any(|p| p.charge.id == id));
    phone.behave(Behaviour::Honest);
    assert_eq!(wallet.approve(&pending).await.unwrap().status, ChargeStatus::Succeeded);
    assert_eq!(wallet.status().await.unwrap().balance, Money::yen(3_000 - 1_280));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_signature_over_other_data_and_nothing_changes() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let phone = Phone::new();
    let (_home, mut wallet, id, pending) = wallet_with_a_charge(&server, &till, &phone, 1_280).await;

    phone.behave(Behaviour::SignsOtherData);
    let err = wallet.approve(&pending).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PasskeyRejected), "{err}");
    assert_eq!(till.get(&id, None).await.status, ChargeStatus::PendingConfirmation);
    assert_eq!(wallet.status().await.unwrap().balance, Money::yen(3_000));

    // An assertion for this charge with another challenge in the client data: refused as well.
    phone.behave(Behaviour::Honest);
    let mut other_challenge = pending.clone();
    other_challenge.public_key.public_key.challenge[0] ^= 1;
    let err = wallet.approve(&other_challenge).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PasskeyRejected), "{err}");
    assert_eq!(till.get(&id, None).await.status, ChargeStatus::PendingConfirmation);

    assert_eq!(wallet.approve(&pending).await.unwrap().status, ChargeStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_signs_other_data_is_caught_at_enrolment_and_leaves_nothing_behind() {
    let server = TestServer::start(Backend::Sqlite).await;
    let phone = Phone::new();
    phone.behave(Behaviour::SignsOtherData);
    let (_home, store) = profile();
    let err = enroll(&server, store.clone(), &phone).await.unwrap_err();
    assert!(matches!(err, ClientError::KeySigner(KeySignerError::Platform { .. })), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
    assert!(!store.exists());
    assert_eq!(phone.key.key_count(), 0, "the key made for the failed enrolment is removed");
    let err = PlatformPasskey::load(keystore_of(&store), signer(&phone)).unwrap_err();
    assert!(matches!(err, ClientError::KeySigner(KeySignerError::KeyMissing)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn biometric_failures_reach_the_person_as_clear_errors() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;

    // No fingerprint set up: no wallet, and nothing left behind.
    let phone = Phone::new();
    phone.behave(Behaviour::Fails(KeySignerError::NotEnrolled));
    let (_home, store) = profile();
    let err = enroll(&server, store.clone(), &phone).await.unwrap_err();
    assert_signer_refused(&err, &KeySignerError::NotEnrolled, "add one in the phone's settings");
    assert!(!store.exists());
    assert_eq!(phone.key.key_count(), 0);

    // A wallet whose phone then locks the biometric out, or has a fingerprint added.
    let phone = Phone::new();
    let (_home, mut wallet, id, pending) = wallet_with_a_charge(&server, &till, &phone, 100).await;

    phone.behave(Behaviour::Fails(KeySignerError::Lockout));
    let err = wallet.approve(&pending).await.unwrap_err();
    assert_signer_refused(&err, &KeySignerError::Lockout, "unlock the phone with its PIN");

    phone.behave(Behaviour::Honest);
    phone.key.invalidate_all();
    let err = wallet.approve(&pending).await.unwrap_err();
    assert_signer_refused(&err, &KeySignerError::KeyInvalidated, "add this phone to your wallet again");
    assert_eq!(till.get(&id, None).await.status, ChargeStatus::PendingConfirmation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_requests_that_do_not_fit_are_refused_with_a_clear_error_and_make_nothing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let api = inkan_client::api::Api::new(server.url.parse().unwrap()).unwrap();
    let origin: Url = ORIGIN.parse().unwrap();
    let phone = Phone::new();
    let keystore = Keystore::open(&format!("inkan-test/{}", uuid::Uuid::new_v4().simple())).unwrap();

    // The server's real registration options, with ES256 taken out.
    let mut options = api.begin_registration("Hanako").await.unwrap().public_key;
    options.public_key.pub_key_cred_params.retain(|p| p.alg != -7);
    let mut passkey = PlatformPasskey::create(keystore.clone(), signer(&phone)).unwrap();
    let err = passkey.register(&origin, options).unwrap_err();
    assert!(err.to_string().contains("did not offer ES256"), "{err}");
    assert_eq!(phone.key.key_count(), 0);

    // The real options from a site that is not this origin.
    let options = api.begin_registration("Hanako").await.unwrap().public_key;
    let err = passkey.register(&"https://evil.example".parse().unwrap(), options.clone()).unwrap_err();
    assert!(err.to_string().contains("does not fit the origin https://evil.example"), "{err}");
    assert_eq!(phone.key.key_count(), 0);

    // Made for real, then asked to sign for a credential it does not hold.
    let made = passkey.register(&origin, options).unwrap();
    assert_eq!(passkey.credential_id(), Some(made.raw_id.as_slice()));
    let shopper = inkan_testkit::Shopper::enroll(&server, "Jiro").await;
    let challenge = api.begin_sign_in(shopper.account_id(), &shopper.device_id).await.unwrap();
    let err = passkey.authenticate(&origin, challenge.public_key, &Approval::SignIn).unwrap_err();
    assert!(err.to_string().contains("asked for another passkey than this phone's"), "{err}");
    assert!(phone.key.prompts().len() == 1, "no prompt is shown for a request that cannot be answered");

    PlatformPasskey::forget(&keystore, &signer(&phone)).unwrap();
    assert_eq!(phone.key.key_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_phone_joins_with_a_recovery_code_and_pays_with_its_own_key() {
    let server = TestServer::start(Backend::Sqlite).await;
    let till = server.merchant("FamilyMart Shibuya").await;
    let (first_phone, second_phone) = (Phone::new(), Phone::new());
    let (_home, store) = profile();
    let enrollment =
        Wallet::enroll(store, where_(&server), "Hanako", "first phone", PasskeyChoice::Platform(signer(&first_phone)))
            .await
            .unwrap();
    let mut first = enrollment.wallet;
    top_up(&mut first, 3_000).await;

    let (_home2, store2) = profile();
    let account_id = first.profile().account_id.clone();
    let code = enrollment.recovery_codes[0].clone();
    let mut second = Wallet::join(
        store2,
        where_(&server),
        &account_id,
        "second phone",
        Some(code),
        PasskeyChoice::Platform(signer(&second_phone)),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(second_phone.key.key_count(), 1);
    assert_eq!(second_phone.last_prompt(), Approval::Setup.prompt());

    let id = charge(&mut second, &till, 700).await;
    let pending = second.pending_charge(&id).await.unwrap();
    assert_eq!(second.approve(&pending).await.unwrap().status, ChargeStatus::Succeeded);
    assert_eq!(second_phone.last_prompt().title, "Pay ¥700");
    assert_eq!(first_phone.key.prompts().len(), 1, "the first phone's key was used only to make it");
    assert_eq!(first.status().await.unwrap().balance, Money::yen(2_300));
}

/// A history rewritten from genesis in the server's database, or cut short, is consistent in
/// itself. Rewritten by whoever can write the database, its signatures fail, even for a device that
/// never saw it; rewritten by the issuer itself (it holds the key) or cut short, a device that
/// verified the old one still refuses it. Each says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_rewritten_or_cut_short_on_the_server_is_caught() {
    use inkan_core::history::HistoryChanged;
    let server = TestServer::start(Backend::Sqlite).await;
    let soft = PasskeyChoice::InsecureSoftPasskey;
    let (_home, store) = profile();
    let mut wallet =
        Wallet::enroll(store, where_(&server), "Hanako", "laptop", soft.clone()).await.map(|e| e.wallet).unwrap();
    assert_eq!(wallet.profile().issuer_key.as_ref().and_then(|k| k.key()), Some(server.issuer_key()));
    wallet.freeze().await.unwrap();
    let seen = wallet.history().await.unwrap();
    assert!(seen.events.iter().all(|e| e.signature.is_some()), "every notice is signed");
    assert_eq!(wallet.known_head().unwrap().seq, seen.events.last().unwrap().seq);
    let account = wallet.profile().account_id.clone();
    let mallory =
        |seq: u64, payload: &str| if seq == 1 { payload.replace("Hanako", "Mallory") } else { payload.to_owned() };
    // The database rewritten (the wallet was "created for Mallory"), the chain recomputed: the
    // issuer's signature on notice 1 no longer matches.
    server.rewrite_history(&account, false, mallory).await;
    match wallet.history().await {
        Err(ClientError::HistoryChanged(HistoryChanged::Unvouched { seq: 1 })) => {}
        other => panic!("a history rewritten in the database was accepted or refused otherwise: {other:?}"),
    }
    // The issuer itself rewrites it and signs every head again: only what this device kept shows it.
    server.rewrite_history(&account, true, mallory).await;
    match wallet.history().await {
        Err(ClientError::HistoryChanged(HistoryChanged::Rewritten { seq })) => {
            assert_eq!(seq, seen.events.last().unwrap().seq)
        }
        other => panic!("a rewritten history was accepted or refused otherwise: {other:?}"),
    }
    // The error says what happened, in words, and what this device kept stays kept.
    let err = wallet.history().await.unwrap_err();
    assert!(err.to_string().contains("history changed on the server"), "{err}");
    assert_eq!(wallet.known_head().unwrap().seq, seen.events.last().unwrap().seq);

    // A device that has never loaded its history yet: a database rewrite is still caught, by the
    // issuer's signature under the key it pinned when it enrolled.
    let (_home3, store3) = profile();
    let mut fresh =
        Wallet::enroll(store3, where_(&server), "Jiro", "phone", soft.clone()).await.map(|e| e.wallet).unwrap();
    assert_eq!(fresh.known_head().unwrap(), inkan_core::history::KnownHead::GENESIS);
    let jiro = fresh.profile().account_id.clone();
    server.rewrite_history(&jiro, false, |_, payload| payload.replace("Jiro", "Mallory")).await;
    match fresh.history().await {
        Err(ClientError::HistoryChanged(HistoryChanged::Unvouched { seq: 1 })) => {}
        other => panic!("a forged history was accepted by a device that never saw it: {other:?}"),
    }

    // Another wallet's history, cut short.
    let (_home2, store2) = profile();
    let mut other = Wallet::enroll(store2, where_(&server), "Taro", "tablet", soft).await.map(|e| e.wallet).unwrap();
    other.freeze().await.unwrap();
    let seen = other.history().await.unwrap();
    server.truncate_history(&other.profile().account_id.clone(), 2).await;
    match other.history().await {
        Err(ClientError::HistoryChanged(HistoryChanged::Truncated { known, now })) => {
            assert_eq!((known, now), (seen.events.last().unwrap().seq, 2));
        }
        other => panic!("a truncated history was accepted or refused otherwise: {other:?}"),
    }
    server.stop().await;
}

/// A notice appended in the database by someone without the issuer key reaches an open feed like
/// any other: the feed refuses it and ends, saying the history changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_notice_the_issuer_did_not_sign_ends_the_feed() {
    use inkan_client::feed::{Cursor, FeedItem};
    use inkan_core::history::HistoryChanged;
    let server = TestServer::start(Backend::Sqlite).await;
    let (_home, store) = profile();
    let soft = PasskeyChoice::InsecureSoftPasskey;
    let mut wallet = Wallet::enroll(store, where_(&server), "Hanako", "laptop", soft).await.map(|e| e.wallet).unwrap();
    let seen = wallet.history().await.unwrap();
    let last = seen.events.last().unwrap();
    let cursor = Cursor { seq: last.seq, hash: inkan_client::history::hash_of(last).unwrap() };
    let mut feed = wallet.subscribe(cursor).await.unwrap();
    let next = async |feed: &mut inkan_client::feed::FeedSubscription| {
        tokio::time::timeout(std::time::Duration::from_secs(10), feed.next()).await.expect("the feed said nothing")
    };
    assert!(matches!(next(&mut feed).await, Some(FeedItem::Connected)));
    // A real notice passes, signed.
    wallet.freeze().await.unwrap();
    match next(&mut feed).await {
        Some(FeedItem::Event { event, .. }) => assert!(event.signature.is_some() && event.seq == last.seq + 1),
        other => panic!("the freeze did not arrive: {other:?}"),
    }
    let account = wallet.profile().account_id.clone();
    server.forge_notice(&account, r#"{"kind":"wallet_unfrozen"}"#).await;
    match next(&mut feed).await {
        Some(FeedItem::Ended(ClientError::HistoryChanged(HistoryChanged::Unvouched { seq }))) => {
            assert_eq!(seq, last.seq + 2);
        }
        other => panic!("a forged notice was delivered or refused otherwise: {other:?}"),
    }
    server.stop().await;
}
