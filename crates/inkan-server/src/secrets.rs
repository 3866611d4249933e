//! Identifiers, bearer secrets and their hashes.
//!
//! Bearer secrets (session tokens, terminal keys, recovery codes) carry at least 80 bits of
//! randomness, so a plain SHA-256 is enough to store them: nobody can guess one from its hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::clock::to_ms;
use crate::error::AppError;

/// Random bytes from the OS.
pub fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes).map_err(|_| AppError::internal("the system random generator failed"))?;
    Ok(bytes)
}

/// A new id such as `ch_8c2f…`: a type prefix and 128 random bits in hex.
pub fn new_id(prefix: &str, rng: &SystemRandom) -> Result<String, AppError> {
    let bytes: [u8; 16] = random(rng)?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// A new id for a row of the money path (a charge, a ledger transaction, a ceremony, a top-up): a type prefix, then in hex its creation time (milliseconds since 1970, 48 bits) and
/// 80 random bits, as a UUIDv7 orders them. Rows made one after another get neighbouring keys, so
/// a new row's key goes to the end of its index (the page the last one touched) instead of a
/// random page: fewer pages written per commit. Only for rows whose time their readers see anyway
/// (a wallet's or a device's id stays [`new_id`], all random).
pub fn new_ordered_id(prefix: &str, at: OffsetDateTime, rng: &SystemRandom) -> Result<String, AppError> {
    let ms = u64::try_from(to_ms(at)).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let bytes: [u8; 10] = random(rng)?;
    Ok(format!("{prefix}_{ms:012x}{}", hex::encode(bytes)))
}

/// A new bearer secret: a prefix and 256 random bits, base64url.
pub fn new_token(prefix: &str, rng: &SystemRandom) -> Result<String, AppError> {
    let bytes: [u8; 32] = random(rng)?;
    Ok(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A recovery code a person can copy: 16 characters of a 32-symbol alphabet without look-alikes
/// (80 bits), in four groups: `7KQM-2XHD-RW4P-9TNC`.
pub fn new_recovery_code(rng: &SystemRandom) -> Result<String, AppError> {
    const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes: [u8; 16] = random(rng)?;
    let mut code = String::with_capacity(19);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(b % 32)]));
    }
    Ok(code)
}

/// Recovery codes are compared without dashes, spaces or case.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Hex SHA-256, the stored form of every bearer secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(digest(&SHA256, secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_look_right_and_normalize() {
        let rng = SystemRandom::new();
        let code = new_recovery_code(&rng).unwrap();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert!(!code.contains(['0', 'O', '1', 'I']));
        assert_eq!(normalize_recovery_code(&code.to_lowercase().replace('-', " ")), code.replace('-', ""));
        assert_ne!(new_recovery_code(&rng).unwrap(), code);
    }

    #[test]
    fn ordered_ids_sort_by_time_and_stay_unguessable() {
        let rng = SystemRandom::new();
        let t = time::macros::datetime!(2026-12-07 03:00 UTC);
        let first = new_ordered_id("ch", t, &rng).unwrap();
        let same_ms = new_ordered_id("ch", t, &rng).unwrap();
        let later = new_ordered_id("ch", t + time::Duration::milliseconds(1), &rng).unwrap();
        let next_year = new_ordered_id("ch", t + time::Duration::days(365), &rng).unwrap();
        // As long as an all-random id, with the time first.
        assert_eq!(first.len(), new_id("ch", &rng).unwrap().len());
        assert!(first.starts_with(&format!("ch_{:012x}", 1_796_612_400_000_u64)), "{first}");
        assert_ne!(first, same_ms);
        assert_eq!(first[..15], same_ms[..15]);
        assert!(first < later && same_ms < later && later < next_year, "{first} {later} {next_year}");
        // 80 random bits after the time.
        assert!(first[15..].chars().all(|c| c.is_ascii_hexdigit()) && first.len() == 15 + 20);
    }
}
