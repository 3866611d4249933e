//! What the Rust side says to the Kotlin and Swift sides and what they answer: the command names,
//! their arguments and answers as JSON (binary as standard base64), and the codes the native sides
//! reject with. Compiled and tested everywhere, so a change here is caught on Linux; the tests
//! also hold the Kotlin and Swift sources to the same names.

// Used only by the mobile side and the tests.
#![cfg_attr(not(mobile), allow(dead_code))]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use inkan_client::key_signer::{KeyAlias, KeySignerError, Prompt, PublicKeySec1};
use serde::{Deserialize, Serialize};

pub(crate) const CREATE_KEY: &str = "createKey";
pub(crate) const SIGN: &str = "sign";
pub(crate) const DELETE_KEY: &str = "deleteKey";

/// The words on the prompt's cancel button.
const CANCEL: &str = "Cancel";

/// `createKey` and `deleteKey`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyRequest<'a> {
    pub(crate) alias: &'a str,
}

impl<'a> KeyRequest<'a> {
    pub(crate) fn new(alias: &'a KeyAlias) -> KeyRequest<'a> {
        KeyRequest { alias: alias.as_str() }
    }
}

/// `sign`: show the prompt, then sign `message` (ECDSA P-256 SHA-256, DER).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignRequest<'a> {
    alias: &'a str,
    message: String,
    title: &'a str,
    subtitle: &'a str,
    cancel: &'a str,
}

impl<'a> SignRequest<'a> {
    pub(crate) fn new(alias: &'a KeyAlias, message: &[u8], prompt: &'a Prompt) -> SignRequest<'a> {
        SignRequest {
            alias: alias.as_str(),
            message: STANDARD.encode(message),
            title: &prompt.title,
            subtitle: &prompt.subtitle,
            cancel: CANCEL,
        }
    }
}

/// `createKey`'s answer: the public key, SEC1 uncompressed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatedKey {
    public_key: String,
}

impl CreatedKey {
    pub(crate) fn public_key(&self) -> Result<PublicKeySec1, KeySignerError> {
        PublicKeySec1::new(decode("public key", &self.public_key)?)
    }
}

/// `sign`'s answer: the DER signature.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Signed {
    signature: String,
}

impl Signed {
    pub(crate) fn signature(&self) -> Result<Vec<u8>, KeySignerError> {
        decode("signature", &self.signature)
    }
}

fn decode(what: &str, text: &str) -> Result<Vec<u8>, KeySignerError> {
    STANDARD
        .decode(text)
        .map_err(|e| KeySignerError::Platform { detail: format!("the phone's {what} is not base64: {e}") })
}

/// The codes the Kotlin and Swift sides reject with (the tests hold both sides to this list).
#[cfg(test)]
pub(crate) const CODES: &[&str] =
    &["cancelled", "notEnrolled", "notAvailable", "keyInvalidated", "lockout", "keyMissing", "failed"];

/// A rejection from the native side (`invoke.reject(message, code)`), as a [`KeySignerError`].
pub(crate) fn rejected(code: Option<&str>, message: Option<&str>) -> KeySignerError {
    let detail = || message.unwrap_or("no detail").to_owned();
    match code {
        Some("cancelled") => KeySignerError::Cancelled,
        Some("notEnrolled") => KeySignerError::NotEnrolled,
        Some("notAvailable") => KeySignerError::NotAvailable { detail: detail() },
        Some("keyInvalidated") => KeySignerError::KeyInvalidated,
        Some("lockout") => KeySignerError::Lockout,
        Some("keyMissing") => KeySignerError::KeyMissing,
        Some(other) => KeySignerError::Platform { detail: format!("{} ({other})", detail()) },
        None => KeySignerError::Platform { detail: detail() },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KOTLIN: &str = include_str!("../android/src/main/java/PasskeyPlugin.kt");
    const SWIFT: &str = include_str!("../ios/Sources/PasskeyPlugin.swift");

    fn alias() -> KeyAlias {
        serde_json::from_value(json!("inkan-passkey-000102030405060708090a0b0c0d0e0f")).unwrap()
    }

    #[test]
    fn requests_are_the_json_the_native_sides_parse() {
        let alias = alias();
        assert_eq!(
            serde_json::to_value(KeyRequest::new(&alias)).unwrap(),
            json!({"alias": "inkan-passkey-000102030405060708090a0b0c0d0e0f"})
        );
        let prompt = Prompt { title: "Pay ¥1,280".into(), subtitle: "to FamilyMart Shibuya".into() };
        assert_eq!(
            serde_json::to_value(SignRequest::new(&alias, &[0xfb, 0xff], &prompt)).unwrap(),
            json!({
                "alias": "inkan-passkey-000102030405060708090a0b0c0d0e0f",
                "message": "+/8=",
                "title": "Pay ¥1,280",
                "subtitle": "to FamilyMart Shibuya",
                "cancel": "Cancel",
            })
        );
    }

    #[test]
    fn answers_are_checked() {
        let point = [vec![4u8], vec![9u8; 64]].concat();
        let created: CreatedKey = serde_json::from_value(json!({"publicKey": STANDARD.encode(&point)})).unwrap();
        assert_eq!(created.public_key().unwrap().as_bytes(), point.as_slice());
        let short: CreatedKey = serde_json::from_value(json!({"publicKey": STANDARD.encode([4u8; 33])})).unwrap();
        assert!(matches!(short.public_key(), Err(KeySignerError::Platform { .. })));
        let signed: Signed = serde_json::from_value(json!({"signature": "MEUCIQ=="})).unwrap();
        assert_eq!(signed.signature().unwrap(), vec![0x30, 0x45, 0x02, 0x21]);
        let garbled: Signed = serde_json::from_value(json!({"signature": "not base64!"})).unwrap();
        assert!(matches!(garbled.signature(), Err(KeySignerError::Platform { .. })));
    }

    #[test]
    fn every_native_code_becomes_its_own_error() {
        assert_eq!(rejected(Some("cancelled"), Some("User canceled")), KeySignerError::Cancelled);
        assert_eq!(rejected(Some("notEnrolled"), None), KeySignerError::NotEnrolled);
        assert_eq!(
            rejected(Some("notAvailable"), Some("no sensor")),
            KeySignerError::NotAvailable { detail: "no sensor".into() }
        );
        assert_eq!(rejected(Some("keyInvalidated"), None), KeySignerError::KeyInvalidated);
        assert_eq!(rejected(Some("lockout"), None), KeySignerError::Lockout);
        assert_eq!(rejected(Some("keyMissing"), None), KeySignerError::KeyMissing);
        assert!(
            matches!(rejected(Some("failed"), Some("boom")), KeySignerError::Platform { detail } if detail.contains("boom"))
        );
        assert!(matches!(rejected(None, None), KeySignerError::Platform { .. }));
        let distinct: std::collections::HashSet<_> =
            CODES.iter().map(|code| std::mem::discriminant(&rejected(Some(code), None))).collect();
        assert_eq!(distinct.len(), CODES.len());
    }

    /// The Kotlin and Swift sources answer to these command names, read these argument and answer
    /// fields, and reject with exactly these codes.
    #[test]
    fn the_native_sides_speak_the_same_protocol() {
        for command in [CREATE_KEY, SIGN, DELETE_KEY] {
            assert!(KOTLIN.contains(&format!("fun {command}(invoke: Invoke)")), "Kotlin lacks {command}");
            assert!(SWIFT.contains(&format!("func {command}(_ invoke: Invoke)")), "Swift lacks {command}");
        }
        for field in ["alias", "message", "title", "subtitle", "cancel"] {
            assert!(KOTLIN.contains(&format!("var {field}: String")), "Kotlin lacks argument {field}");
            assert!(SWIFT.contains(&format!("let {field}: String")), "Swift lacks argument {field}");
        }
        for answer in ["\"publicKey\"", "\"signature\""] {
            assert!(KOTLIN.contains(answer) && SWIFT.contains(answer), "{answer}");
        }
        for code in CODES {
            let quoted = format!("= \"{code}\"");
            assert!(KOTLIN.contains(&quoted), "Kotlin lacks code {code}");
            assert!(SWIFT.contains(&quoted), "Swift lacks code {code}");
        }
        assert!(KOTLIN.contains("package jp.inkan.passkey") && KOTLIN.contains("class PasskeyPlugin("));
        assert!(SWIFT.contains("@_cdecl(\"init_plugin_inkan_passkey\")"));
    }
}
