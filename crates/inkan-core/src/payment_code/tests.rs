//! Payment code tests: round trip, every single-byte and single-character change refused, the
//! validity window and counter, hostile input, and the published test vector.

use super::*;
use proptest::prelude::*;
use ring::rand::SystemRandom;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-06-10 12:00:00 UTC);

fn device() -> (DeviceSigningKey, DeviceKeyId) {
    let rng = SystemRandom::new();
    let (key, _pkcs8) = DeviceSigningKey::generate(&rng).unwrap();
    (key, DeviceKeyId::generate(&rng).unwrap())
}

fn issue(key: &DeviceSigningKey, id: DeviceKeyId, counter: u32) -> PaymentCode {
    PaymentCode::issue(key, id, counter, NOW, Duration::seconds(60), &SystemRandom::new()).unwrap()
}

#[test]
fn issued_code_round_trips_through_text() {
    let (key, id) = device();
    let code = issue(&key, id, 7);
    let text = code.text();
    assert_eq!(text.len(), TEXT_LEN);
    assert_eq!(TEXT_LEN, 140);
    assert!(text.bytes().all(|b| BASE45_ALPHABET.contains(&b)));
    let parsed = PaymentCode::parse(&text).unwrap();
    assert_eq!(parsed.key_id(), id);
    let verified = parsed.verify(&key.public_key(), NOW, Some(6)).unwrap();
    assert_eq!(
        *verified.claims(),
        Claims { key_id: id, counter: 7, not_before: NOW, expires: NOW + Duration::seconds(60) }
    );
}

#[test]
fn every_single_bit_flip_of_the_binary_form_is_refused() {
    let (key, id) = device();
    let code = issue(&key, id, 1);
    let public = key.public_key();
    for i in 0..BINARY_LEN {
        for bit in 0..8 {
            let mut bytes = *code.as_bytes();
            bytes[i] ^= 1 << bit;
            let outcome = PaymentCode::parse_bytes(&bytes).and_then(|c| c.verify(&public, NOW, None));
            assert!(
                matches!(
                    outcome,
                    Err(PaymentCodeError::BadSignature
                        | PaymentCodeError::UnsupportedVersion(_)
                        | PaymentCodeError::BadValidityWindow)
                ),
                "byte {i} bit {bit}: {outcome:?}"
            );
        }
    }
}

#[test]
fn every_single_character_change_of_the_text_form_is_refused() {
    let (key, id) = device();
    let text = issue(&key, id, 1).text();
    let public = key.public_key();
    let mut tried = 0;
    for i in 0..text.len() {
        let mut replacements: Vec<u8> = BASE45_ALPHABET.to_vec();
        replacements.extend_from_slice(b"abcz_=\0\xc3");
        for &r in &replacements {
            let mut bytes = text.clone().into_bytes();
            if bytes[i] == r {
                continue;
            }
            bytes[i] = r;
            let Ok(changed) = String::from_utf8(bytes) else { continue };
            let outcome = PaymentCode::parse(&changed).and_then(|c| c.verify(&public, NOW, None));
            assert!(outcome.is_err(), "position {i} → {:?} was accepted", char::from(r));
            tried += 1;
        }
    }
    assert!(tried > 140 * 44);
}

#[test]
fn validity_window_is_enforced_to_the_second() {
    let (key, id) = device();
    let code = PaymentCode::parse(&issue(&key, id, 1).text()).unwrap();
    let public = key.public_key();
    let expires = NOW + Duration::seconds(60);
    assert!(code.verify(&public, expires - Duration::SECOND, None).is_ok());
    assert_eq!(code.verify(&public, expires, None), Err(PaymentCodeError::Expired));
    assert_eq!(code.verify(&public, expires + Duration::days(400), None), Err(PaymentCodeError::Expired));
    assert!(code.verify(&public, NOW - CLOCK_SKEW, None).is_ok());
    assert_eq!(code.verify(&public, NOW - CLOCK_SKEW - Duration::SECOND, None), Err(PaymentCodeError::NotYetValid));
}

#[test]
fn counter_must_be_above_the_last_used_one() {
    let (key, id) = device();
    let code = PaymentCode::parse(&issue(&key, id, 41).text()).unwrap();
    let public = key.public_key();
    assert!(code.verify(&public, NOW, None).is_ok());
    assert!(code.verify(&public, NOW, Some(40)).is_ok());
    assert_eq!(code.verify(&public, NOW, Some(41)), Err(PaymentCodeError::CounterNotFresh));
    assert_eq!(code.verify(&public, NOW, Some(u32::MAX)), Err(PaymentCodeError::CounterNotFresh));
}

#[test]
fn another_devices_key_does_not_verify() {
    let (key, id) = device();
    let (other, _) = device();
    let code = PaymentCode::parse(&issue(&key, id, 1).text()).unwrap();
    assert_eq!(code.verify(&other.public_key(), NOW, None), Err(PaymentCodeError::BadSignature));
}

#[test]
fn lifetime_over_sixty_seconds_is_refused_on_both_sides() {
    let (key, id) = device();
    let rng = SystemRandom::new();
    for lifetime in [Duration::ZERO, Duration::seconds(-5), Duration::seconds(61)] {
        assert_eq!(PaymentCode::issue(&key, id, 1, NOW, lifetime, &rng), Err(PaymentCodeError::BadValidityWindow));
    }
    // A correctly signed code that claims a long window is refused when parsed.
    let mut header = [0u8; SIGNED_LEN];
    header[0] = VERSION;
    header[1..17].copy_from_slice(id.as_bytes());
    header[21..25].copy_from_slice(&unix_u32(NOW).unwrap().to_be_bytes());
    header[25..29].copy_from_slice(&unix_u32(NOW + Duration::hours(1)).unwrap().to_be_bytes());
    let signature = key.pair.sign(&rng, &signed_message(&header)).unwrap();
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(signature.as_ref());
    assert_eq!(PaymentCode::parse_bytes(&bytes), Err(PaymentCodeError::BadValidityWindow));
}

#[test]
fn signature_is_bound_to_the_domain_prefix() {
    let (key, id) = device();
    let rng = SystemRandom::new();
    let code = issue(&key, id, 1);
    // Sign the same header without the prefix: the result must not verify as a payment code.
    let header = &code.as_bytes()[..SIGNED_LEN];
    let bare = key.pair.sign(&rng, header).unwrap();
    let mut forged = header.to_vec();
    forged.extend_from_slice(bare.as_ref());
    let parsed = PaymentCode::parse_bytes(&forged).unwrap();
    assert_eq!(parsed.verify(&key.public_key(), NOW, None), Err(PaymentCodeError::BadSignature));
}

#[test]
fn hostile_shapes_get_typed_errors() {
    assert_eq!(PaymentCode::parse("").unwrap_err(), PaymentCodeError::WrongLength(0));
    let huge = "A".repeat(10 * 1024 * 1024);
    assert!(matches!(PaymentCode::parse(&huge), Err(PaymentCodeError::WrongLength(_))));
    assert_eq!(PaymentCode::parse(&"a".repeat(TEXT_LEN)), Err(PaymentCodeError::NotBase45));
    // 140 characters of the alphabet that decode to triples above 65535 (":::" = 44+44*45+44*2025).
    assert_eq!(PaymentCode::parse(&":".repeat(TEXT_LEN)), Err(PaymentCodeError::NotBase45));
    let mut v2 = [0u8; BINARY_LEN];
    v2[0] = 2;
    assert_eq!(PaymentCode::parse(&base45::encode(v2)), Err(PaymentCodeError::UnsupportedVersion(2)));
    assert_eq!(PaymentCode::parse_bytes(&[1u8; 10]), Err(PaymentCodeError::WrongLength(10)));
    assert_eq!(DevicePublicKey::from_sec1(&[4u8; 64]), Err(PaymentCodeError::BadKey));
    assert_eq!(DevicePublicKey::from_sec1(&[2u8; 65]), Err(PaymentCodeError::BadKey));
    // A key of the right shape that is not a curve point verifies nothing.
    let (key, id) = device();
    let code = PaymentCode::parse(&issue(&key, id, 1).text()).unwrap();
    let mut not_a_point = [0xffu8; 65];
    not_a_point[0] = 4;
    let bogus = DevicePublicKey::from_sec1(&not_a_point).unwrap();
    assert_eq!(code.verify(&bogus, NOW, None), Err(PaymentCodeError::BadSignature));
}

#[test]
fn secrets_never_print() {
    let (key, id) = device();
    assert_eq!(format!("{key:?}"), "DeviceSigningKey(***)");
    let code = issue(&key, id, 1);
    let shown = format!("{code:?}");
    assert!(!shown.contains(&code.text()[12..]), "{shown}");
}

#[test]
fn key_survives_its_pkcs8_form() {
    let rng = SystemRandom::new();
    let (key, pkcs8) = DeviceSigningKey::generate(&rng).unwrap();
    let restored = DeviceSigningKey::from_pkcs8(&pkcs8, &rng).unwrap();
    assert_eq!(key.public_key(), restored.public_key());
    assert!(matches!(DeviceSigningKey::from_pkcs8(b"not a key", &rng), Err(PaymentCodeError::BadKey)));
}

#[test]
fn proof_of_possession_is_bound_to_its_challenge_and_domain() {
    let rng = SystemRandom::new();
    let (key, id) = device();
    let (other, _) = device();
    let proof = key.prove(b"ceremony-1", &rng).unwrap();
    assert!(key.public_key().verify_proof(b"ceremony-1", &proof).is_ok());
    assert_eq!(key.public_key().verify_proof(b"ceremony-2", &proof), Err(PaymentCodeError::BadSignature));
    assert_eq!(other.public_key().verify_proof(b"ceremony-1", &proof), Err(PaymentCodeError::BadSignature));
    // A payment code's signature is no proof of possession, whatever challenge it is presented for.
    let code = issue(&key, id, 1);
    let header = &code.as_bytes()[..SIGNED_LEN];
    assert!(key.public_key().verify_proof(header, &code.as_bytes()[SIGNED_LEN..]).is_err());
}

#[test]
fn codes_of_generated_key_ids_never_start_or_end_with_a_space() {
    let rng = SystemRandom::new();
    let (key, _) = DeviceSigningKey::generate(&rng).unwrap();
    let unsafe_first_bytes: Vec<u8> =
        (0u8..=255).filter(|b| !DeviceKeyId::from_bytes([*b; 16]).is_text_safe()).collect();
    assert_eq!(unsafe_first_bytes, [5, 50, 95, 140, 185, 230]);
    for first in 0u8..=255 {
        let mut id = [7u8; 16];
        id[0] = first;
        let id = DeviceKeyId::from_bytes(id);
        let text = issue(&key, id, 1).text();
        assert_eq!(text.starts_with(' '), !id.is_text_safe(), "first byte {first}");
        assert!(!text.ends_with(' '));
    }
    for _ in 0..2_000 {
        assert!(DeviceKeyId::generate(&rng).unwrap().is_text_safe());
    }
}

#[test]
fn key_id_hex_form() {
    let id = DeviceKeyId::from_bytes([0xab; 16]);
    assert_eq!(id.to_string(), "abababababababababababababababab");
    assert_eq!(DeviceKeyId::from_hex(&id.to_string()), Some(id));
    assert_eq!(DeviceKeyId::from_hex("ABABABABABABABABABABABABABABABAB"), None);
    assert_eq!(DeviceKeyId::from_hex("abab"), None);
    assert_eq!(DeviceKeyId::from_hex("+bababababababababababababababab"), None);
    assert_eq!(DeviceKeyId::from_hex("ééabababababababababababababab"), None);
}

/// The published test vector of docs/payment-code.md.
mod vector {
    pub const PUBLIC_KEY_HEX: &str = "04aa8fd81ef6d4825a45eacf83da8907ce56761d0d13f4ada1859ed5b41f319fc92d85e36e7ce01aaa08f1c7d370482bf3225727952cd83a14f2edeade37ea09fd";
    pub const CODE: &str = "V50L72TL6$ZA05F8JJGXNO2SUAW000DG52A5SEO2A5F.VJC0/05HNH.COFFC739SPUX A-:J5AIZA3LVS3:4DOJBJ5G-QG*K757:1IJ$E4JE O2NLRBPVQ.EW*IIUN6CS-LG0RB.ZL:3";
    pub const BINARY_HEX: &str = "0100112233445566778899aabbccddeeff0000002a6a2951c06a2951fca8022f27b88a95c01e619e47bff1cf558f9e30902919a0e30427639a902aefd4efa51f38478ebb75527219142ed95bf9a7763a955dbb47df9e826a5bc2ac6eb3";
    pub const KEY_ID_HEX: &str = "00112233445566778899aabbccddeeff";
    pub const COUNTER: u32 = 42;
    /// 2026-06-10T12:00:00Z
    pub const NOT_BEFORE: i64 = 1_781_092_800;
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_vector_tested_is_the_vector_published() {
    let doc = include_str!("../../../../docs/payment-code.md");
    for value in [vector::PUBLIC_KEY_HEX, vector::CODE, vector::BINARY_HEX, vector::KEY_ID_HEX] {
        assert!(doc.contains(value), "docs/payment-code.md does not publish {value}");
    }
    assert!(doc.contains(&format!("counter = {}", vector::COUNTER)));
    assert!(doc.contains(&format!("not_before = {}", vector::NOT_BEFORE)));
}

#[test]
fn published_test_vector_verifies() {
    let public = DevicePublicKey::from_sec1(&unhex(vector::PUBLIC_KEY_HEX)).unwrap();
    let code = PaymentCode::parse(vector::CODE).unwrap();
    assert_eq!(code, PaymentCode::parse_bytes(&unhex(vector::BINARY_HEX)).unwrap());
    assert_eq!(code.key_id().to_string(), vector::KEY_ID_HEX);
    let not_before = OffsetDateTime::from_unix_timestamp(vector::NOT_BEFORE).unwrap();
    let claims = *code.verify(&public, not_before + Duration::seconds(10), None).unwrap().claims();
    assert_eq!(claims.counter, vector::COUNTER);
    assert_eq!(claims.not_before, not_before);
    assert_eq!(claims.expires, not_before + Duration::seconds(60));
    assert_eq!(code.verify(&public, not_before + Duration::seconds(60), None), Err(PaymentCodeError::Expired));
    assert_eq!(code.verify(&public, not_before, Some(vector::COUNTER)), Err(PaymentCodeError::CounterNotFresh));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_any_string(s in ".{0,300}") {
        let _ = PaymentCode::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_alphabet_strings(s in "[0-9A-Z $%*+./:-]{140}") {
        let _ = PaymentCode::parse(&s);
    }

    /// Random bytes of the right length, version 1: parse may accept the shape, verification
    /// must refuse.
    #[test]
    fn random_codes_never_verify(mut bytes in proptest::collection::vec(any::<u8>(), BINARY_LEN)) {
        bytes[0] = VERSION;
        let public = DevicePublicKey::from_sec1(&unhex("04").into_iter().chain([7u8; 64]).collect::<Vec<_>>()).unwrap();
        if let Ok(code) = PaymentCode::parse(&base45::encode(&bytes)) {
            prop_assert!(code.verify(&public, NOW, None).is_err());
        }
    }
}

#[test]
fn a_sign_in_signature_serves_no_other_purpose() {
    let rng = SystemRandom::new();
    let (key, id) = device();
    let (other, _) = device();
    let signed = key.sign_in(b"cer_1", &rng).unwrap();
    assert!(key.public_key().verify_sign_in(b"cer_1", &signed).is_ok());
    assert_eq!(key.public_key().verify_sign_in(b"cer_2", &signed), Err(PaymentCodeError::BadSignature));
    assert_eq!(other.public_key().verify_sign_in(b"cer_1", &signed), Err(PaymentCodeError::BadSignature));
    // Nor is it a proof of possession, nor is a proof of possession a sign-in.
    assert!(key.public_key().verify_proof(b"cer_1", &signed).is_err());
    let proof = key.prove(b"cer_1", &rng).unwrap();
    assert!(key.public_key().verify_sign_in(b"cer_1", &proof).is_err());
    // And a payment code's signature signs nobody in.
    let code = issue(&key, id, 1);
    let header = &code.as_bytes()[..SIGNED_LEN];
    assert!(key.public_key().verify_sign_in(header, &code.as_bytes()[SIGNED_LEN..]).is_err());
}

#[test]
fn a_join_step_signature_is_bound_to_its_join_step_and_ceremony() {
    let rng = SystemRandom::new();
    let (key, _) = device();
    let (other, _) = device();
    let public = key.public_key();
    let status = key.sign_join_step("join_1", JoinStep::Status, &rng).unwrap();
    assert!(public.verify_join_step("join_1", JoinStep::Status, &status).is_ok());
    // Not for another join, another step, or by another key.
    assert!(public.verify_join_step("join_2", JoinStep::Status, &status).is_err());
    assert!(public.verify_join_step("join_1", JoinStep::PasskeyChallenge, &status).is_err());
    assert!(other.public_key().verify_join_step("join_1", JoinStep::Status, &status).is_err());
    // The last step names its ceremony: a signature for one finish is no good for the next.
    let finish = key.sign_join_step("join_1", JoinStep::Passkey { ceremony_id: "cer_1" }, &rng).unwrap();
    assert!(public.verify_join_step("join_1", JoinStep::Passkey { ceremony_id: "cer_1" }, &finish).is_ok());
    assert!(public.verify_join_step("join_1", JoinStep::Passkey { ceremony_id: "cer_2" }, &finish).is_err());
    // No purpose shares a message with another.
    assert!(public.verify_sign_in(b"join_1", &status).is_err());
    assert!(public.verify_proof(b"join_1", &status).is_err());
}

#[test]
fn a_fingerprint_is_short_stable_and_differs_between_keys() {
    let (key, _) = device();
    let (other, _) = device();
    let print = key.public_key().fingerprint();
    assert_eq!(print.len(), 19);
    assert!(print.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{print}");
    assert_eq!(print.matches('-').count(), 3);
    assert_eq!(print, key.public_key().fingerprint());
    assert_ne!(print, other.public_key().fingerprint());
    // A fixed key has a fixed fingerprint (SHA-256 computed apart, by Python's hashlib).
    let fixed = DevicePublicKey::from_sec1(&[4; 65]).unwrap();
    assert_eq!(fixed.fingerprint(), "9BDA-95BD-A1EF-8F1B");
}

#[test]
fn version_one_is_admitted_only_inside_the_migration_window() {
    let (key, id) = device();
    let v1 = ScannedCode::parse(&issue(&key, id, 1).text()).unwrap();
    assert_eq!(v1.version(), 1);
    let end = NOW + Duration::days(30);
    assert_eq!(v1.admitted(None, NOW + Duration::days(3650)), Ok(()));
    assert_eq!(v1.admitted(Some(end), end - Duration::seconds(1)), Ok(()));
    assert_eq!(v1.admitted(Some(end), end), Err(PaymentCodeError::VersionRetired));
    let rng = SystemRandom::new();
    let seal = v2::SealKey::generate(1, &rng).unwrap();
    let index = v2::DeviceIndex::generate(&rng).unwrap();
    let master = v2::CodeMaster::new(v2::Secret32::generate(&rng).unwrap());
    let issuer = v2::CodeIssuer { index, code_key: master.device_keys(index).code, seal: *seal.public() };
    let code = issuer.issue(1, NOW, Duration::seconds(60), None, &mut v2::system_rng()).unwrap();
    let v2 = ScannedCode::parse(&code.text()).unwrap();
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.admitted(Some(end), end + Duration::days(1)), Ok(()));
}

#[test]
fn a_text_of_no_version_s_length_is_refused_by_its_length() {
    for len in [0, 125, 127, 139, 141, 167, 169, 500] {
        assert_eq!(ScannedCode::parse(&"A".repeat(len)), Err(PaymentCodeError::WrongLength(len)), "{len}");
    }
}

#[test]
fn a_counter_far_ahead_of_the_last_payment_is_out_of_reach() {
    assert_eq!(within_reach(1, None), Ok(()));
    assert_eq!(within_reach(MAX_COUNTER_STEP, None), Ok(()));
    assert_eq!(within_reach(MAX_COUNTER_STEP + 1, None), Err(PaymentCodeError::CounterOutOfReach));
    assert_eq!(within_reach(u32::MAX, Some(7)), Err(PaymentCodeError::CounterOutOfReach));
    assert_eq!(within_reach(u32::MAX, Some(u32::MAX - MAX_COUNTER_STEP)), Ok(()));
    assert_eq!(within_reach(u32::MAX, Some(u32::MAX - 1)), Ok(()));
}
