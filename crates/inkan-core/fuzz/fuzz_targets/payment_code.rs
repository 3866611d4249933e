//! Fuzz target: the payment-code decoders (v1 and v2) must return a typed error, never panic, on
//! any input, whether it arrives as text (from a QR scan) or as bytes.

#![no_main]

use inkan_core::payment_code::v2::{CodeMaster, SealKey, SealedCode, Secret32};
use inkan_core::payment_code::{DevicePublicKey, PaymentCode, ScannedCode};
use libfuzzer_sys::fuzz_target;

/// The public key of v1's published test vector (docs/payment-code.md), so inputs derived from
/// the vector reach the signature check with a real key.
const VECTOR_KEY: &str = "04aa8fd81ef6d4825a45eacf83da8907ce56761d0d13f4ada1859ed5b41f319fc92d85e36e7ce01aaa08f1c7d370482bf3225727952cd83a14f2edeade37ea09fd";
/// v2's published seal key and master secret, so inputs derived from its vectors are opened and
/// reach the device-tag check.
const V2_SEAL_KEY: &str = "4f8b2c1d0e9a7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b";
const V2_MASTER: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fuzz_target!(|data: &[u8]| {
    let key_bytes: Vec<u8> =
        (0..VECTOR_KEY.len()).step_by(2).filter_map(|i| u8::from_str_radix(&VECTOR_KEY[i..i + 2], 16).ok()).collect();
    let Ok(key) = DevicePublicKey::from_sec1(&key_bytes) else { return };
    let (Some(seal), Some(master)) = (Secret32::from_hex(V2_SEAL_KEY), Secret32::from_hex(V2_MASTER)) else { return };
    let Ok(seal) = SealKey::from_bytes(1, &seal) else { return };
    let master = CodeMaster::new(master);
    let now = time::OffsetDateTime::from_unix_timestamp(1_781_092_810).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let open = |code: &SealedCode| {
        if let Ok(opened) = code.open(std::slice::from_ref(&seal)) {
            let _ = opened.verify(&master, now, Some(41));
        }
    };
    if let Ok(text) = std::str::from_utf8(data) {
        match ScannedCode::parse(text) {
            Ok(ScannedCode::V1(code)) => drop(code.verify(&key, now, Some(41))),
            Ok(ScannedCode::V2(code)) => open(&code),
            Err(_) => {}
        }
    }
    if let Ok(code) = PaymentCode::parse_bytes(data) {
        let _ = code.verify(&key, now, None);
    }
    if let Ok(code) = SealedCode::parse_bytes(data) {
        open(&code);
    }
});
