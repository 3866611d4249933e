//! Fuzz target: every JSON request body the server accepts, from arbitrary bytes.
//!
//! The first byte picks the body type, the rest is the JSON text. Whatever the bytes, parsing
//! returns a value or an error, never a panic. A body that parses must come out the same after a
//! second trip through JSON (the server keys idempotent retries on the re-serialised body), and
//! then goes through the checks the server runs with `inkan-core` beyond serde: the payment code
//! decoder, money arithmetic, device keys with their proof of possession and sign-in signature,
//! and limit changes.
//! (Checks written in the server's handlers, such as name lengths, are exercised over HTTP by
//! schemathesis in `cargo xtask soak`.)

#![no_main]

use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, SubmitDevice};
use inkan_api::merchant::{CreateCharge, RefundCharge};
use inkan_api::wallet::{
    AddCard, Assertion, BeginRegistration, BeginSignIn, BeginStepUp, ConfirmCharge, DeclineCharge,
    FinishRegistration, Freeze, NewDevice, SetLimits, SignIn, TopUp, VerifyCard,
};
use inkan_core::payment_code::{DevicePublicKey, PaymentCode};
use inkan_core::{LimitPolicy, LimitSettings, Money};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses `text` as `T`; if it parses, checks that it survives a second trip through JSON.
fn parse<T: Serialize + DeserializeOwned>(text: &str) -> Option<T> {
    let value: T = serde_json::from_str(text).ok()?;
    let once = serde_json::to_string(&value).expect("a parsed body serialises");
    let again: T = serde_json::from_str(&once).expect("a serialised body parses again");
    assert_eq!(once, serde_json::to_string(&again).expect("serialises"), "the wire form is not stable");
    Some(value)
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_781_092_810).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// What the server checks of a new device: its key id, its key and its proof over the challenge.
fn check_device(device: &NewDevice, challenge: &str) {
    let _ = device.key_id.is_text_safe();
    if let Ok(key) = DevicePublicKey::from_sec1(&device.public_key.0) {
        let _ = key.verify_proof(challenge.as_bytes(), &device.proof.0);
    }
}

fn check_money(amount: Money) {
    let _ = amount.checked_neg();
    let _ = Money::checked_sum(amount.currency(), [amount, amount]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match selector % 20 {
        0 => {
            if let Some(body) = parse::<CreateCharge>(text) {
                check_money(Money::new(body.currency, body.amount));
                if let Ok(code) = PaymentCode::parse(&body.payment_code) {
                    let _ = code.key_id().to_string();
                }
            }
        }
        1 => {
            let _ = parse::<RefundCharge>(text);
        }
        2 => {
            let _ = parse::<BeginRegistration>(text);
        }
        3 => {
            if let Some(body) = parse::<FinishRegistration>(text) {
                check_device(&body.device, &body.ceremony_id);
            }
        }
        4 => {
            let _ = parse::<BeginSignIn>(text);
        }
        5 => {
            let _ = parse::<Assertion>(text);
        }
        6 => {
            if let Some(body) = parse::<SetLimits>(text) {
                let yen = Money::yen;
                if let Ok(current) = LimitPolicy::new(yen(50_000), yen(100_000), yen(300_000)) {
                    let _ = LimitSettings::new(current).request(body.limits, now(), time::Duration::hours(24));
                }
            }
        }
        7 => {
            let _ = parse::<ConfirmCharge>(text);
        }
        8 => {
            let _ = parse::<DeclineCharge>(text);
        }
        9 => {
            let _ = parse::<AddCard>(text);
        }
        10 => {
            let _ = parse::<VerifyCard>(text);
        }
        11 => {
            if let Some(body) = parse::<TopUp>(text) {
                check_money(body.amount);
            }
        }
        12 => {
            let _ = parse::<Freeze>(text);
        }
        13 => {
            let _ = parse::<BeginStepUp>(text);
        }
        14 => {
            let _ = parse::<BeginJoin>(text);
        }
        15 => {
            if let Some(body) = parse::<SubmitDevice>(text) {
                check_device(&body.device, "join_fuzz");
            }
        }
        16 => {
            let _ = parse::<ApproveJoin>(text);
        }
        17 => {
            let _ = parse::<FinishJoin>(text);
        }
        18 => {
            let _ = parse::<FreezeWithRecoveryCode>(text);
        }
        _ => {
            // The device's half of a sign-in: a signature over the ceremony id, under its domain.
            if let Some(body) = parse::<SignIn>(text) {
                if let Ok(key) = DevicePublicKey::from_sec1(&[4; 65]) {
                    let _ = key.verify_sign_in(body.ceremony_id.as_bytes(), &body.device_signature.0);
                }
            }
        }
    }
});
