//! Nothing outlives its device (issue 14): a passkey acts only for its own device, a session ends
//! with its device, its limits, a sign-out, a freeze from another device or a hold, and its open
//! feed closes within a second when it does. Each test is an attack that worked before.

use std::time::Duration as StdDuration;

use inkan_api::devices::Joined;
use inkan_api::wallet::{
    AssertionChallenge, BeginStepUp, RemoveDevice, SetLimits, SignIn, StepUpAction, Wallet, WalletCharge,
};
use inkan_api::{Base64Url, ErrorCode};
use inkan_core::LimitPolicy;
use inkan_core::Money;
use inkan_core::payment_code::DeviceSigningKey;
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use time::Duration;

use super::support::{self, Backend, FeedReader, Shopper, TestServer, error, json};
use super::{finish_join, poll_join, request_join, setup};

support::on_both_databases!(
    a_removed_devices_passkey_and_sessions_do_nothing,
    a_passkey_signs_in_only_its_own_device_and_with_that_devices_key,
    step_ups_and_charges_take_only_a_passkey_of_their_own_device,
    a_charge_of_a_device_removed_before_its_confirmation_is_not_paid,
    the_last_device_cannot_be_removed,
    an_open_feed_closes_with_its_session,
    a_freeze_signs_out_every_other_device,
    a_removed_devices_feed_closes_on_every_instance,
    a_stolen_session_cannot_follow_or_finish_a_join,
    a_recent_device_cannot_lift_a_freeze,
    recovery_codes_are_replaced_with_a_passkey_and_wrong_ones_are_told,
    the_migration_binds_existing_passkeys_and_sessions_to_their_devices,
);

/// A second device of `owner`'s wallet, joined with a recovery code.
pub(super) async fn second_device(server: &TestServer, owner: &Shopper) -> Shopper {
    let code = owner.enrolled.as_ref().unwrap().recovery_codes[9].clone();
    let (response, mut tablet, join_id) = request_join(server, owner.account_id(), Some(&code)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let joined: Joined = json(finish_join(server, &mut tablet, &join_id).await, StatusCode::CREATED).await;
    tablet.joined(&joined);
    tablet
}

/// `by` removes a device, confirming with its passkey.
async fn remove(server: &TestServer, by: &mut Shopper, device_id: &str) -> reqwest::Response {
    let challenge = step_up_challenge(server, by, StepUpAction::RemoveDevice).await;
    let step_up = by.assert(challenge);
    remove_with(server, by, device_id, step_up).await
}

/// A device removes itself.
async fn remove_self(server: &TestServer, device: &mut Shopper) -> reqwest::Response {
    let id = device.device_id.clone();
    remove(server, device, &id).await
}

async fn remove_with(
    server: &TestServer,
    by: &Shopper,
    device_id: &str,
    step_up: inkan_api::wallet::Assertion,
) -> reqwest::Response {
    let path = format!("/v1/wallet/devices/{device_id}/remove");
    server.post(&path, Some(&by.token), &RemoveDevice { step_up }).await
}

async fn step_up_challenge(server: &TestServer, shopper: &Shopper, action: StepUpAction) -> AssertionChallenge {
    json(server.post("/v1/wallet/step-up", Some(&shopper.token), &BeginStepUp { action }).await, StatusCode::OK).await
}

/// A sign-in for `device_id` answered with `passkey_holder`'s passkey (whatever the request asks
/// for) and signed by `other_key`, or else by `passkey_holder`'s own device key.
pub(super) async fn sign_in_as(
    server: &TestServer,
    device_id: &str,
    passkey_holder: &mut Shopper,
    other_key: Option<&DeviceSigningKey>,
) -> reqwest::Response {
    let challenge: AssertionChallenge =
        json(passkey_holder.sign_in_challenge(server, device_id).await, StatusCode::OK).await;
    let ceremony_id = challenge.ceremony_id.clone();
    let credential = passkey_holder.assert_anyway(challenge).credential;
    let key = other_key.unwrap_or(&passkey_holder.device_key);
    let signature = key.sign_in(ceremony_id.as_bytes(), &SystemRandom::new()).unwrap();
    server.post("/v1/sessions", None, &SignIn { ceremony_id, credential, device_signature: Base64Url(signature) }).await
}

async fn a_removed_devices_passkey_and_sessions_do_nothing(backend: Backend) {
    let (server, till, mut owner) = setup(backend, 10_000).await;
    // The tablet is stolen, unlocked: the thief has its passkey, its device key and its session.
    let mut thief = second_device(&server, &owner).await;
    let stolen_session = thief.token.clone();
    let tablet = thief.device_id.clone();
    let started: AssertionChallenge = json(thief.sign_in_challenge(&server, &tablet).await, StatusCode::OK).await;
    let code = thief.code(&server);
    assert_eq!(remove(&server, &mut owner, &tablet).await.status(), StatusCode::NO_CONTENT);

    // The session, the code and the passkey are all dead.
    error(server.get("/v1/wallet", Some(&stolen_session)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    error(till.charge(&code, 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE device_id = $1")
        .bind(&tablet)
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(passkeys, 0, "a removed device kept its passkey");
    // A sign-in begun before the removal does not finish after it.
    let answer = thief.sign_in_answer(started);
    error(server.post("/v1/sessions", None, &answer).await, StatusCode::FORBIDDEN, ErrorCode::DeviceRevoked).await;
    // Nor does a new one, for the tablet...
    error(thief.sign_in_challenge(&server, &tablet).await, StatusCode::FORBIDDEN, ErrorCode::DeviceRevoked).await;
    // ...or claiming the owner's phone.
    let phone = owner.device_id.clone();
    let response = sign_in_as(&server, &phone, &mut thief, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Nor with no device at all.
    let no_device = serde_json::json!({ "account_id": owner.account_id() });
    error(
        server.post("/v1/sessions/challenge", None, &no_device).await,
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
    )
    .await;
    // The stolen session cannot approve a join, nor unfreeze what the owner froze.
    let response = server.post("/v1/wallet/freeze", Some(&owner.token), &serde_json::json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let step_up =
        server.post("/v1/wallet/step-up", Some(&stolen_session), &BeginStepUp { action: StepUpAction::Unfreeze });
    error(step_up.await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let joins = server.get("/v1/wallet/device-joins", Some(&stolen_session)).await;
    error(joins, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // The owner is unaffected.
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&owner.token)).await, StatusCode::OK).await;
    assert!(wallet.frozen);
    owner.sign_in(&server).await;
    server.stop().await;
}

async fn a_passkey_signs_in_only_its_own_device_and_with_that_devices_key(backend: Backend) {
    let (server, _till, mut phone) = setup(backend, 1_000).await;
    let mut tablet = second_device(&server, &phone).await;
    let (phone_id, tablet_id) = (phone.device_id.clone(), tablet.device_id.clone());
    // The tablet's passkey and key, claiming the phone.
    let response = sign_in_as(&server, &phone_id, &mut tablet, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The phone's passkey (synced to a thief's laptop, say) without the phone's key.
    let response = sign_in_as(&server, &phone_id, &mut phone, Some(&tablet.device_key)).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // The phone's key over another ceremony.
    let challenge: AssertionChallenge = json(phone.sign_in_challenge(&server, &phone_id).await, StatusCode::OK).await;
    let mut answer = phone.sign_in_answer(challenge);
    answer.device_signature = Base64Url(phone.device_key.sign_in(b"cer_another", &SystemRandom::new()).unwrap());
    error(server.post("/v1/sessions", None, &answer).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // The phone's passkey for the tablet, with the tablet's key (a thief holding the tablet and a
    // synced copy of the phone's passkey).
    let response = sign_in_as(&server, &tablet_id, &mut phone, Some(&tablet.device_key)).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
    // No signature at all, or a device of another wallet.
    let challenge: AssertionChallenge = json(phone.sign_in_challenge(&server, &phone_id).await, StatusCode::OK).await;
    let answer = phone.assert(challenge);
    error(server.post("/v1/sessions", None, &answer).await, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    // A device of another wallet is no device of this one: the request is a stand-in that no
    // passkey answers (issue 15: it looks like a real one, so that ids cannot be probed).
    let stranger = Shopper::enroll(&server, "Stranger").await;
    let stand_in: AssertionChallenge =
        json(phone.sign_in_challenge(&server, &stranger.device_id).await, StatusCode::OK).await;
    let allowed = serde_json::to_value(&stand_in.public_key).unwrap()["publicKey"]["allowCredentials"][0]["id"].clone();
    for real in [&phone.credential_id, &stranger.credential_id] {
        assert_ne!(allowed, serde_json::json!(Base64Url(real.clone()).encode()));
    }
    // Each device signs itself in, and the notice names it.
    phone.sign_in(&server).await;
    tablet.sign_in(&server).await;
    let history: inkan_api::feed::History =
        json(server.get("/v1/wallet/history", Some(&phone.token)).await, StatusCode::OK).await;
    let signed_in: Vec<Option<String>> = history
        .events
        .iter()
        .filter_map(|e| match e.notice() {
            Ok(inkan_api::feed::Notice::SignedIn { device_id }) => Some(device_id),
            _ => None,
        })
        .collect();
    assert_eq!(signed_in, vec![Some(phone_id), Some(tablet_id)]);
    server.stop().await;
}

async fn step_ups_and_charges_take_only_a_passkey_of_their_own_device(backend: Backend) {
    let (server, till, mut phone) = setup(backend, 10_000).await;
    let mut tablet = second_device(&server, &phone).await;
    let raise = SetLimits {
        limits: LimitPolicy::new(Money::yen(60_000), Money::yen(120_000), Money::yen(400_000)).unwrap(),
        step_up: None,
    };
    // The phone's step-up request, answered by the tablet's passkey.
    let challenge = step_up_challenge(&server, &phone, StepUpAction::RaiseLimits).await;
    let wrong = tablet.assert_anyway(challenge);
    let body = SetLimits { step_up: Some(wrong), ..raise.clone() };
    error(
        server.put("/v1/wallet/limits", Some(&phone.token), &body).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::PasskeyRejected,
    )
    .await;
    // The phone's step-up, answered by the phone's passkey, used by the tablet's session.
    let challenge = step_up_challenge(&server, &phone, StepUpAction::RaiseLimits).await;
    let phones = phone.assert(challenge);
    let body = SetLimits { step_up: Some(phones), ..raise.clone() };
    error(
        server.put("/v1/wallet/limits", Some(&tablet.token), &body).await,
        StatusCode::FORBIDDEN,
        ErrorCode::StepUpRequired,
    )
    .await;
    // Its own, by its own.
    let challenge = step_up_challenge(&server, &tablet, StepUpAction::RaiseLimits).await;
    let own = tablet.assert(challenge);
    let body = SetLimits { step_up: Some(own), ..raise };
    assert_eq!(server.put("/v1/wallet/limits", Some(&tablet.token), &body).await.status(), StatusCode::OK);
    // A charge made with the phone's code is paid only by the phone's passkey.
    let charge = till.charge_ok(&phone.code(&server), 1_000).await;
    let pending = phone.pending(&server).await;
    let this = pending.iter().find(|p| p.charge.id == charge.id).unwrap().clone();
    let confirm = inkan_api::wallet::ConfirmCharge { credential: tablet.credential_anyway(this.public_key.clone()) };
    let response =
        server.post(&format!("/v1/wallet/charges/{}/confirm", charge.id), Some(&tablet.token), &confirm).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected).await;
    let paid: WalletCharge = json(phone.confirm(&server, &this).await, StatusCode::OK).await;
    assert_eq!(paid.id, charge.id);
    server.stop().await;
}

async fn a_charge_of_a_device_removed_before_its_confirmation_is_not_paid(backend: Backend) {
    let (server, till, mut phone) = setup(backend, 10_000).await;
    let mut tablet = second_device(&server, &phone).await;
    let charge = till.charge_ok(&phone.code(&server), 1_000).await;
    let pending = phone.pending(&server).await;
    let signed = phone.sign_charge(&pending[0]);
    assert_eq!(remove(&server, &mut tablet, &phone.device_id.clone()).await.status(), StatusCode::NO_CONTENT);
    let path = format!("/v1/wallet/charges/{}/confirm", charge.id);
    // The phone's session ended with it; the wallet's other session cannot use its passkey.
    error(server.post(&path, Some(&phone.token), &signed).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    error(server.post(&path, Some(&tablet.token), &signed).await, StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected)
        .await;
    assert_eq!(tablet.balance(&server).await, 10_000);
    assert_eq!(till.get(&charge.id, None).await.status, inkan_core::ChargeStatus::PendingConfirmation);
    server.stop().await;
}

async fn the_last_device_cannot_be_removed(backend: Backend) {
    let (server, _till, mut phone) = setup(backend, 1_000).await;
    error(remove_self(&server, &mut phone).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    let mut tablet = second_device(&server, &phone).await;
    // A session alone removes nothing: a step-up for another action, or one that another device
    // asked for and answered, is refused, and so is no step-up at all.
    let other_action = step_up_challenge(&server, &tablet, StepUpAction::RaiseLimits).await;
    let other_action = tablet.assert(other_action);
    let response = remove_with(&server, &tablet, &phone.device_id, other_action).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::StepUpRequired).await;
    let phones = step_up_challenge(&server, &phone, StepUpAction::RemoveDevice).await;
    let phones = phone.assert(phones);
    let response = remove_with(&server, &tablet, &phone.device_id, phones).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::StepUpRequired).await;
    let path = format!("/v1/wallet/devices/{}/remove", phone.device_id);
    let response = server.post(&path, Some(&tablet.token), &serde_json::json!({})).await;
    error(response, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest).await;
    error(remove(&server, &mut phone, "dev_nope").await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    // A device may remove itself while another remains.
    assert_eq!(remove_self(&server, &mut tablet).await.status(), StatusCode::NO_CONTENT);
    error(remove(&server, &mut phone, &tablet.device_id).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    error(remove_self(&server, &mut phone).await, StatusCode::CONFLICT, ErrorCode::InvalidState).await;
    // Another wallet's device is not this wallet's to remove.
    let stranger = Shopper::enroll(&server, "Stranger").await;
    let _stranger_tablet = second_device(&server, &stranger).await;
    error(remove(&server, &mut phone, &stranger.device_id).await, StatusCode::NOT_FOUND, ErrorCode::NotFound).await;
    let phone_still: Wallet = json(server.get("/v1/wallet", Some(&phone.token)).await, StatusCode::OK).await;
    assert!(!phone_still.frozen);
    let theirs: Wallet = json(server.get("/v1/wallet", Some(&stranger.token)).await, StatusCode::OK).await;
    assert_eq!(theirs.account_id, stranger.account_id());
    server.stop().await;
}

async fn an_open_feed_closes_with_its_session(backend: Backend) {
    let mut settings = support::settings();
    settings.session_max = Duration::hours(1);
    let server = TestServer::start_with(backend, settings).await;
    let mut shopper = Shopper::enroll(&server, "Hanako").await;
    let second = StdDuration::from_secs(1);
    // Signed out.
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    assert!(!feed.ends_within(StdDuration::from_millis(300)).await, "the feed closed by itself");
    let response = server.delete("/v1/sessions/current", Some(&shopper.token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(feed.ends_within(second).await, "the feed outlived a sign-out");
    // Idle for the idle limit (an open feed is not activity).
    shopper.sign_in(&server).await;
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    server.advance(Duration::minutes(5));
    assert!(feed.ends_within(second).await, "the feed outlived the idle limit");
    // Busy until the absolute limit.
    shopper.sign_in(&server).await;
    let mut feed = FeedReader::open(&server, &shopper.token, None).await;
    for _ in 0..14 {
        server.advance(Duration::minutes(4));
        assert_eq!(server.get("/v1/wallet", Some(&shopper.token)).await.status(), StatusCode::OK);
    }
    assert!(!feed.ends_within(StdDuration::from_millis(300)).await, "the feed closed before its session ended");
    server.advance(Duration::minutes(4));
    assert!(feed.ends_within(second).await, "the feed outlived the absolute limit");
    error(server.get("/v1/wallet", Some(&shopper.token)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        .await;
    // And a feed cannot be opened on an ended session.
    let response = server.get("/v1/wallet/feed", Some(&shopper.token)).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    server.stop().await;
}

async fn a_freeze_signs_out_every_other_device(backend: Backend) {
    let (server, _till, phone) = setup(backend, 1_000).await;
    let mut tablet = second_device(&server, &phone).await;
    let mut tablets_feed = FeedReader::open(&server, &tablet.token, None).await;
    let response = server.post("/v1/wallet/freeze", Some(&phone.token), &serde_json::json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(tablets_feed.ends_within(StdDuration::from_secs(1)).await, "the other device's feed outlived the freeze");
    error(server.get("/v1/wallet", Some(&tablet.token)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&phone.token)).await, StatusCode::OK).await;
    assert!(wallet.frozen, "the freezing device was signed out");
    // The tablet is not removed: its owner signs in again.
    tablet.sign_in(&server).await;
    server.stop().await;
}

async fn a_removed_devices_feed_closes_on_every_instance(backend: Backend) {
    if backend == Backend::Sqlite {
        // One SQLite file has one server process; instances share a feed only on PostgreSQL.
        return;
    }
    let (server, _till, mut phone) = setup(backend, 1_000).await;
    let tablet = second_device(&server, &phone).await;
    let other = server.second_instance().await;
    let mut feed = FeedReader::open(&other, &tablet.token, None).await;
    assert!(!feed.ends_within(StdDuration::from_millis(300)).await);
    assert_eq!(remove(&server, &mut phone, &tablet.device_id).await.status(), StatusCode::NO_CONTENT);
    assert!(
        feed.ends_within(StdDuration::from_secs(1)).await,
        "the removed device's feed stayed open on another instance"
    );
    other.stop().await;
    server.stop().await;
}

async fn a_stolen_session_cannot_follow_or_finish_a_join(backend: Backend) {
    use inkan_api::devices::{ApproveJoin, FinishJoin, Join, JoinState};
    use inkan_api::feed::Notice;
    use inkan_core::payment_code::JoinStep;
    let (server, _till, mut owner) = setup(backend, 1_000).await;
    // The thief holds a copy of the owner's session token, and a device key and passkey of their own.
    let stolen_session = owner.token.clone();
    let mut thief = Shopper::new();
    let mut owners_feed = FeedReader::open(&server, &owner.token, None).await;
    let (response, mut newcomer, join_id) = request_join(&server, owner.account_id(), None).await;
    let submitted: Join = json(response, StatusCode::OK).await;
    let fingerprint = newcomer.device_key.public_key().fingerprint();
    assert_eq!(submitted.device_fingerprint.as_deref(), Some(fingerprint.as_str()), "the new device is shown its key");
    // The owner's devices are told the name and the fingerprint, never the join id.
    let told = loop {
        let event = owners_feed.next_within(StdDuration::from_secs(1)).await.expect("the join request was pushed");
        if event.kind == "device_join_requested" {
            break event;
        }
    };
    assert!(!told.data.payload.contains(&join_id), "the notice names the join: {}", told.data.payload);
    assert_eq!(
        told.data.notice().unwrap(),
        Notice::DeviceJoinRequested {
            join_id: None,
            name: "test phone".to_owned(),
            fingerprint: Some(fingerprint.clone())
        }
    );
    // The session lists the waiting join, with the same fingerprint to compare.
    let waiting: Vec<Join> =
        json(server.get("/v1/wallet/device-joins", Some(&stolen_session)).await, StatusCode::OK).await;
    assert_eq!(waiting[0].device_fingerprint.as_deref(), Some(fingerprint.as_str()));
    // The owner approves.
    let challenge = step_up_challenge(&server, &owner, StepUpAction::AddDevice).await;
    let step_up = owner.assert(challenge);
    let approve = format!("/v1/wallet/device-joins/{join_id}/approve");
    let approved: Join =
        json(server.post(&approve, Some(&owner.token), &ApproveJoin { step_up }).await, StatusCode::OK).await;
    assert_eq!(approved.state, JoinState::Approved);

    // The thief races the new phone: without the new phone's key, every step is refused.
    let status = format!("/v1/device-joins/{join_id}");
    error(server.get(&status, Some(&stolen_session)).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let forged = thief.join_signature(&join_id, JoinStep::Status);
    error(server.signed::<()>(&status, &forged, None).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let challenge_path = format!("/v1/device-joins/{join_id}/passkey/challenge");
    let forged = thief.join_signature(&join_id, JoinStep::PasskeyChallenge);
    let response = server.signed(&challenge_path, &forged, Some(&serde_json::json!({}))).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // A status signature replayed as a challenge signature is no good either.
    let replayed = newcomer.join_signature(&join_id, JoinStep::Status);
    let response = server.signed(&challenge_path, &replayed, Some(&serde_json::json!({}))).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    // Even with a challenge fetched by the real phone, the thief cannot finish with their passkey.
    let signature = newcomer.join_signature(&join_id, JoinStep::PasskeyChallenge);
    let challenge: inkan_api::wallet::RegistrationChallenge =
        json(server.signed(&challenge_path, &signature, Some(&serde_json::json!({}))).await, StatusCode::OK).await;
    let credential = thief.register_passkey(challenge.public_key);
    let forged = thief.join_signature(&join_id, JoinStep::Passkey { ceremony_id: &challenge.ceremony_id });
    let finish = FinishJoin { ceremony_id: challenge.ceremony_id, credential };
    let response = server.signed(&format!("/v1/device-joins/{join_id}/passkey"), &forged, Some(&finish)).await;
    error(response, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE account_id = $1")
        .bind(owner.account_id())
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(passkeys, 1, "the thief's passkey was registered");

    // The real phone still completes its join.
    assert_eq!(poll_join(&server, &newcomer, &join_id).await.state, JoinState::Approved);
    let joined: Joined = json(finish_join(&server, &mut newcomer, &join_id).await, StatusCode::CREATED).await;
    newcomer.joined(&joined);
    newcomer.sign_in(&server).await;
    server.stop().await;
}

async fn unfreeze_with_passkey(server: &TestServer, device: &mut Shopper) -> reqwest::Response {
    let challenge = step_up_challenge(server, device, StepUpAction::Unfreeze).await;
    let step_up = device.assert(challenge);
    server.post("/v1/wallet/unfreeze", Some(&device.token), &step_up).await
}

async fn a_recent_device_cannot_lift_a_freeze(backend: Backend) {
    let (server, _till, mut phone) = setup(backend, 1_000).await;
    server.advance(Duration::days(10));
    let mut tablet = second_device(&server, &phone).await;
    phone.sign_in(&server).await;
    // An hour after the tablet joined, the owner freezes from the phone.
    server.advance(Duration::hours(1));
    phone.sign_in(&server).await;
    let response = server.post("/v1/wallet/freeze", Some(&phone.token), &serde_json::json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The tablet (a thief's, say) cannot lift it: too new...
    tablet.sign_in(&server).await;
    error(unfreeze_with_passkey(&server, &mut tablet).await, StatusCode::FORBIDDEN, ErrorCode::UnfreezeNotAllowed)
        .await;
    // ...and still not once 72 hours have passed: it is the wallet's latest join.
    server.advance(Duration::hours(100));
    tablet.sign_in(&server).await;
    error(unfreeze_with_passkey(&server, &mut tablet).await, StatusCode::FORBIDDEN, ErrorCode::UnfreezeNotAllowed)
        .await;
    let wallet: Wallet = json(server.get("/v1/wallet", Some(&tablet.token)).await, StatusCode::OK).await;
    assert!(wallet.frozen);
    // The phone, which was there before it, can.
    phone.sign_in(&server).await;
    assert_eq!(unfreeze_with_passkey(&server, &mut phone).await.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

async fn recovery_codes_are_replaced_with_a_passkey_and_wrong_ones_are_told(backend: Backend) {
    use inkan_api::devices::FreezeWithRecoveryCode;
    use inkan_api::feed::Notice;
    use inkan_api::wallet::{RecoveryCodes, ReplaceRecoveryCodes, UnfreezeWithRecoveryCode};
    let (server, _till, mut phone) = setup(backend, 1_000).await;
    let old = phone.enrolled.as_ref().unwrap().recovery_codes.clone();
    let tablet = second_device(&server, &phone).await;
    let mut tablets_feed = FeedReader::open(&server, &tablet.token, None).await;
    let next_kind = async |feed: &mut FeedReader| loop {
        let event = feed.next_within(StdDuration::from_secs(1)).await.expect("a notice within a second");
        if event.kind != "signed_in" && event.kind != "device_added" && event.kind != "recovery_code_used" {
            break event;
        }
    };
    // Catch up with what is already there.
    while tablets_feed.next_within(StdDuration::from_millis(300)).await.is_some() {}
    // A wrong code, anywhere, is told to every device.
    let freeze_path = format!("/v1/accounts/{}/freeze", phone.account_id());
    let wrong = FreezeWithRecoveryCode { recovery_code: "AAAA-BBBB-CCCC-DDDD".to_owned() };
    error(server.post(&freeze_path, None, &wrong).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    assert_eq!(next_kind(&mut tablets_feed).await.kind, "recovery_code_rejected");
    // Replacing needs the passkey.
    let path = "/v1/wallet/recovery-codes";
    let other_action = step_up_challenge(&server, &phone, StepUpAction::RaiseLimits).await;
    let other_action = phone.assert(other_action);
    let response = server.post(path, Some(&phone.token), &ReplaceRecoveryCodes { step_up: other_action }).await;
    error(response, StatusCode::FORBIDDEN, ErrorCode::StepUpRequired).await;
    let challenge = step_up_challenge(&server, &phone, StepUpAction::ReplaceRecoveryCodes).await;
    let step_up = phone.assert(challenge);
    let new: RecoveryCodes =
        json(server.post(path, Some(&phone.token), &ReplaceRecoveryCodes { step_up }).await, StatusCode::CREATED).await;
    assert_eq!(new.recovery_codes.len(), 10);
    assert!(new.recovery_codes.iter().all(|c| !old.contains(c)));
    let told = next_kind(&mut tablets_feed).await;
    assert_eq!(told.data.notice().unwrap(), Notice::RecoveryCodesReplaced { count: 10 });
    assert!(!told.data.payload.contains(&new.recovery_codes[0]), "a notice carries a code");
    // The old codes are dead (told as wrong), the new ones work.
    let old_code = FreezeWithRecoveryCode { recovery_code: old[3].clone() };
    error(server.post(&freeze_path, None, &old_code).await, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized).await;
    assert_eq!(next_kind(&mut tablets_feed).await.kind, "recovery_code_rejected");
    let new_code = FreezeWithRecoveryCode { recovery_code: new.recovery_codes[3].clone() };
    assert_eq!(server.post(&freeze_path, None, &new_code).await.status(), StatusCode::NO_CONTENT);
    phone.sign_in(&server).await;
    let unfreeze = UnfreezeWithRecoveryCode { recovery_code: new.recovery_codes[4].clone() };
    let response = server.post("/v1/wallet/unfreeze/recovery-code", Some(&phone.token), &unfreeze).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Nobody else's code, and no code for an unknown wallet, tells anyone anything.
    let nowhere = FreezeWithRecoveryCode { recovery_code: new.recovery_codes[5].clone() };
    error(
        server.post("/v1/accounts/acct_nope/freeze", None, &nowhere).await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    )
    .await;
    server.stop().await;
}

async fn the_migration_binds_existing_passkeys_and_sessions_to_their_devices(backend: Backend) {
    // The schema as it was before passkeys were bound: the migrations before 0005.
    let (db, pool, all) = super::migrations::schema_before(backend, "0005").await;
    let exec = async |sql: &str, binds: &[&str]| {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        query.execute(&pool).await.unwrap();
    };
    exec(
        "INSERT INTO accounts (id, display_name, webauthn_user, currency, balance, frozen, limits, event_seq, last_hash, created_at) \
         VALUES ('acct_1', 'A', 'u', 'JPY', 0, 0, '{}', 0, '00', 0)",
        &[],
    )
    .await;
    // A phone (removed since), a tablet and a laptop, enrolled at 1 s, 100 s and 200 s.
    for (id, active, enrolled) in [("dev_phone", 0, 1_000), ("dev_tablet", 1, 100_000), ("dev_laptop", 1, 200_000)] {
        sqlx::query(
            "INSERT INTO devices (id, account_id, key_id, public_key, name, active, last_counter, enrolled_at, revoked_at) \
             VALUES ($1, 'acct_1', $1, $2, 'd', $3, NULL, $4, NULL)",
        )
        .bind(id)
        .bind(vec![4u8; 65])
        .bind(i64::from(active))
        .bind(i64::from(enrolled))
        .execute(&pool)
        .await
        .unwrap();
    }
    // The phone's passkey (made with it), the tablet's, and one made when no device was enrolled.
    for (id, created) in [("pk_phone", 1_001), ("pk_tablet", 100_002), ("pk_unknown", 50_000)] {
        sqlx::query(
            "INSERT INTO passkeys (id, account_id, passkey, counter, created_at) VALUES ($1, 'acct_1', '{}', 0, $2)",
        )
        .bind(id)
        .bind(i64::from(created))
        .execute(&pool)
        .await
        .unwrap();
    }
    // Sessions: one without a device, one of the removed phone, one of the laptop.
    exec("INSERT INTO sessions (token_hash, account_id, device_id, created_at, last_seen_at) VALUES ('s_none', 'acct_1', NULL, 0, 0)", &[]).await;
    for (token, device) in [("s_phone", "dev_phone"), ("s_laptop", "dev_laptop")] {
        exec(
            "INSERT INTO sessions (token_hash, account_id, device_id, created_at, last_seen_at) VALUES ($1, 'acct_1', $2, 0, 0)",
            &[token, device],
        )
        .await;
    }
    exec("INSERT INTO ceremonies (id, kind, account_id, state, context, expires_at) VALUES ('cer_1', 'sign_in', 'acct_1', '{}', '{}', 0)", &[])
        .await;

    sqlx::migrate::Migrator::new(all.as_path()).await.unwrap().run(&pool).await.unwrap();
    let passkeys: Vec<(String, String)> =
        sqlx::query_as("SELECT id, device_id FROM passkeys ORDER BY id").fetch_all(&pool).await.unwrap();
    // The tablet's passkey is the tablet's; the unknown one goes to the oldest active device; the
    // removed phone's passkey is gone with it.
    let expected = [("pk_tablet", "dev_tablet"), ("pk_unknown", "dev_tablet")];
    assert_eq!(passkeys, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let sessions: Vec<(String, String)> =
        sqlx::query_as("SELECT token_hash, device_id FROM sessions ORDER BY token_hash")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(sessions, vec![("s_laptop".to_owned(), "dev_laptop".to_owned())]);
    let ceremonies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ceremonies").fetch_one(&pool).await.unwrap();
    assert_eq!(ceremonies, 0, "a sign-in made for any passkey of the account survived");
    pool.close().await;
    db.remove().await;
}
