//! Fuzz target: the payment-code decoder must return a typed error, never panic, on any input,
//! whether it arrives as text (from a QR scan) or as bytes.

#![no_main]

use inkan_core::payment_code::{DevicePublicKey, PaymentCode};
use libfuzzer_sys::fuzz_target;

/// The public key of the published test vector (docs/payment-code.md), so inputs derived from
/// the vector reach the signature check with a real key.
const VECTOR_KEY: &str = "04aa8fd81ef6d4825a45eacf83da8907ce56761d0d13f4ada1859ed5b41f319fc92d85e36e7ce01aaa08f1c7d370482bf3225727952cd83a14f2edeade37ea09fd";

fuzz_target!(|data: &[u8]| {
    let key_bytes: Vec<u8> =
        (0..VECTOR_KEY.len()).step_by(2).filter_map(|i| u8::from_str_radix(&VECTOR_KEY[i..i + 2], 16).ok()).collect();
    let Ok(key) = DevicePublicKey::from_sec1(&key_bytes) else { return };
    let now = time::OffsetDateTime::from_unix_timestamp(1_781_092_810).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(code) = PaymentCode::parse(text) {
            let _ = code.verify(&key, now, Some(41));
        }
    }
    if let Ok(code) = PaymentCode::parse_bytes(data) {
        let _ = code.verify(&key, now, None);
    }
});
