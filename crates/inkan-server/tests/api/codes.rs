//! Issue 19: payment codes of version 2, sealed to the issuer and unlinkable by anyone else, beside
//! version 1 during the migration window. (Every other test of this suite pays with v2 codes.)

use inkan_api::Base64Url;
use inkan_api::ErrorCode;
use inkan_api::wallet::PaymentCodeKeys;
use inkan_core::ChargeStatus;
use inkan_core::payment_code::v2::{SealKey, Secret32};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use time::Duration;

use super::support::{self, Backend, Shopper, error};
use super::{pay, setup, setup_with};

support::on_both_databases!(
    every_session_brings_the_same_code_keys,
    a_v1_code_pays_in_the_migration_window_and_is_refused_after,
    a_v2_code_sealed_elsewhere_or_changed_is_refused,
    one_use_of_a_v2_code_kills_every_older_code_of_either_version,
    a_device_enrolled_before_version_2_gets_its_keys_at_its_next_sign_in,
);

async fn every_session_brings_the_same_code_keys(backend: Backend) {
    let (server, _till, mut shopper) = setup(backend, 1_000).await;
    let enrolled = shopper.code_keys.clone().unwrap();
    let signed_in = shopper.sign_in(&server).await.payment_code;
    assert_eq!(signed_in, enrolled, "a device keeps one index and one pair of keys");
    assert_eq!((enrolled.code_key.0.len(), enrolled.approval_key.0.len(), enrolled.seal_key.0.len()), (32, 32, 32));
    assert_ne!(enrolled.code_key, enrolled.approval_key);
    // Another device gets another index and other keys, and the same seal key.
    let other = Shopper::enroll(&server, "Jiro").await.code_keys.unwrap();
    assert_ne!(other.index, enrolled.index);
    assert_ne!(other.code_key, enrolled.code_key);
    assert_eq!((other.seal_key_id, &other.seal_key), (enrolled.seal_key_id, &enrolled.seal_key));
    // The keys are derived, never stored: no column of the database holds them.
    let index = i64::try_from(enrolled.index.get()).unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE code_index = $1")
        .bind(index)
        .fetch_one(server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1);
    server.stop().await;
}

async fn a_v1_code_pays_in_the_migration_window_and_is_refused_after(backend: Backend) {
    let mut settings = support::settings();
    settings.payment_code_v1_until = Some(support::START + Duration::days(30));
    let (server, till, mut shopper) = setup_with(backend, 10_000, settings).await;
    // An app from before version 2 shows a v1 code: it pays, with the passkey as ever.
    let v1 = shopper.payment_code_v1(&server).text();
    assert_eq!(v1.len(), 140);
    let charge = till.charge_ok(&v1, 500).await;
    assert_eq!(charge.status, ChargeStatus::PendingConfirmation);
    let pending = shopper.pending(&server).await;
    assert_eq!(shopper.confirm(&server, &pending[0]).await.status(), StatusCode::OK);
    // After the window, a fresh v1 code is refused, and a v2 code still pays (the shopper signs
    // in again: a month has passed).
    server.advance(Duration::days(31));
    shopper.sign_in(&server).await;
    let v1 = shopper.payment_code_v1(&server).text();
    let refused = error(till.charge(&v1, 500).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    assert!(refused.contains("version 1"), "{refused}");
    pay(&server, &till, &mut shopper, 500).await;
    assert_eq!(shopper.balance(&server).await, 9_000);
    server.stop().await;
}

/// Keys like `real` but sealing to `seal` instead of the server's key.
fn sealing_to(real: &PaymentCodeKeys, seal: &SealKey) -> PaymentCodeKeys {
    PaymentCodeKeys {
        seal_key_id: seal.public().id(),
        seal_key: Base64Url(seal.public().x25519().to_vec()),
        ..real.clone()
    }
}

async fn a_v2_code_sealed_elsewhere_or_changed_is_refused(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let real = shopper.code_keys.clone().unwrap();
    let rng = SystemRandom::new();
    let invalid = |r| error(r, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid);
    // Sealed to another issuer's key with the same id, and to a key id the server does not hold.
    for seal in [SealKey::generate(real.seal_key_id, &rng).unwrap(), SealKey::generate(2, &rng).unwrap()] {
        shopper.code_keys = Some(sealing_to(&real, &seal));
        invalid(till.charge(&shopper.code(&server), 100).await).await;
    }
    // This device's index with another code key: a device that wants to pass as another one.
    shopper.code_keys = Some(PaymentCodeKeys {
        code_key: Base64Url(Secret32::generate(&rng).unwrap().as_bytes().to_vec()),
        ..real.clone()
    });
    invalid(till.charge(&shopper.code(&server), 100).await).await;
    // Every single character of a genuine code changed, one at a time, at a few places.
    shopper.code_keys = Some(real);
    let code = shopper.code(&server);
    for at in [0, 1, 2, 3, 40, 70, 100, 124, 125] {
        let mut changed = code.clone().into_bytes();
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        let answer = till.charge(&changed, 100).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "character {at}");
    }
    assert_eq!(server.charge_count().await, 0);
    // The genuine code itself still pays: none of the refusals used it.
    assert_eq!(till.charge_ok(&code, 100).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;
}

async fn one_use_of_a_v2_code_kills_every_older_code_of_either_version(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    let older_v1 = shopper.payment_code_v1(&server).text();
    let older_v2 = shopper.code(&server);
    let newer = shopper.code(&server);
    till.charge_ok(&newer, 100).await;
    for code in [&newer, &older_v2, &older_v1] {
        error(till.charge(code, 100).await, StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed).await;
    }
    // Expired is expired, in v2 too.
    let code = shopper.code(&server);
    server.advance(Duration::seconds(60));
    error(till.charge(&code, 100).await, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentCodeExpired).await;
    server.stop().await;
}

async fn a_device_enrolled_before_version_2_gets_its_keys_at_its_next_sign_in(backend: Backend) {
    let (server, till, mut shopper) = setup(backend, 10_000).await;
    // As the migration left a device enrolled before it: no index.
    sqlx::query("UPDATE devices SET code_index = NULL WHERE id = $1")
        .bind(&shopper.device_id)
        .execute(server.state.db.pool())
        .await
        .unwrap();
    let before = shopper.code_keys.take().unwrap();
    // Its old app shows v1 codes, which pay; its v2 codes of before name no device now.
    let v1 = shopper.payment_code_v1(&server).text();
    till.charge_ok(&v1, 100).await;
    shopper.code_keys = Some(before.clone());
    error(till.charge(&shopper.code(&server), 100).await, StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid).await;
    // The updated app signs in and gets a new index, which pays.
    let keys = shopper.sign_in(&server).await.payment_code;
    assert_ne!(keys.index, before.index);
    assert_eq!(till.charge_ok(&shopper.code(&server), 100).await.status, ChargeStatus::PendingConfirmation);
    server.stop().await;
}
