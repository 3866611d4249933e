//! Identifiers, bearer secrets and their hashes.
//!
//! Bearer secrets (session tokens, terminal keys, recovery codes) carry at least 80 bits of
//! randomness, so a plain SHA-256 is enough to store them: nobody can guess one from its hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

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
    fn hex_round_trips() {}
}
