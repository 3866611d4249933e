//! The live feed: notices of everything that happens to a wallet (rule 10).
//!
//! Sent as Server-Sent Events by `GET /v1/wallet/feed`: the SSE `id` is the notice's sequence
//! number in its wallet (1, 2, 3, … without gaps), the SSE `event` is its kind, and the data is a
//! [`FeedEvent`]. A client that reconnects with `Last-Event-ID: n` receives every notice after `n`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Base64Url;

/// What happened. Stored as the exact JSON text that is hashed into the history chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Notice {
    /// A terminal asked for a payment: the shopper must confirm or decline.
    ChargePending {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
    },
    /// A terminal asked for a payment that a velocity rule set aside (`reason`: `many_charges`,
    /// `top_up_then_spend`, `two_countries` or `new_device_first_charge`): a person at Inkan looks
    /// at it first. If they approve it, a `charge_pending` notice follows and the shopper may
    /// confirm it; if not, `charge_review_declined`. Meanwhile the shopper may decline it.
    ChargeHeld {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
        reason: String,
    },
    /// Inkan declined a payment it had held for review: nothing was paid.
    ChargeReviewDeclined {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
    },
    ChargeSucceeded {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
    },
    ChargeDeclined {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
        not_me: bool,
    },
    ChargeExpired {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
    },
    ChargeRefunded {
        charge_id: String,
        amount: i64,
        currency: String,
        merchant_name: String,
    },
    TopUpSucceeded {
        topup_id: String,
        amount: i64,
        currency: String,
        card_last4: String,
    },
    TopUpFailed {
        amount: i64,
        currency: String,
        card_last4: String,
        reason: String,
    },
    CardAdded {
        card_id: String,
        brand: String,
        last4: String,
        verified: bool,
    },
    /// A card was refused when added, or its verification code was wrong. `locked`: that was the
    /// last try allowed, for this wallet or for this card in any wallet.
    CardVerificationFailed {
        last4: String,
        locked: bool,
    },
    AccountCreated {
        display_name: String,
    },
    SignedIn {
        /// `null` when the session was opened without naming an enrolled device.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        device_id: Option<String>,
    },
    DeviceAdded {
        device_id: String,
        name: String,
    },
    DeviceRevoked {
        device_id: String,
        name: String,
    },
    LimitsLowered {
        per_charge: i64,
        daily: i64,
        monthly: i64,
    },
    LimitsRaiseRequested {
        per_charge: i64,
        daily: i64,
        monthly: i64,
        #[serde(with = "time::serde::rfc3339")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        effective_at: OffsetDateTime,
    },
    WalletFrozen {
        by: String,
    },
    /// The wallet is closed for good (`reason`: `closed` by the shopper, `wind_down` by the
    /// operator), its balance paid back to the card ending `card_last4` (none if it was empty).
    WalletClosed {
        reason: String,
        amount: i64,
        currency: String,
        card_last4: Option<String>,
    },
    /// The card provider refused to pay the balance back: the money is in the wallet again, which
    /// stays frozen; add another card and close it again.
    PayoutFailed {
        amount: i64,
        currency: String,
        card_last4: String,
        reason: String,
    },
    WalletUnfrozen,
    /// The operator has put the account on hold: no payment, top-up or new device until it is
    /// lifted. `reason` is the operator's, for the shopper.
    AccountHeld {
        reason: String,
    },
    /// The operator has lifted the hold.
    AccountReleased,
    RecoveryCodeUsed {
        remaining: u32,
    },
    /// Every recovery code was replaced by new ones (shown once to the device that asked).
    RecoveryCodesReplaced {
        count: u32,
    },
    /// A recovery code given for this wallet was wrong.
    RecoveryCodeRejected,
    /// A passkey assertion for this wallet was refused (`during`: `sign_in`, `step_up` or
    /// `payment`): someone may be trying a passkey that is not, or no longer, this device's.
    PasskeyRejected {
        device_id: Option<String>,
        during: String,
    },
    /// A device's passkey was registered (with the device, at enrolment or a join).
    PasskeyAdded {
        device_id: String,
    },
    /// A removed device's passkeys were deleted.
    PasskeyRemoved {
        device_id: String,
        count: u32,
    },
    /// Sessions were ended for a security reason (`device_removed`, `wallet_frozen` or
    /// `account_held`): the devices they belonged to must sign in again.
    SessionsEnded {
        count: u32,
        reason: String,
    },
    /// A new device asks to join the wallet: approve it with a passkey after comparing the
    /// fingerprint of its key, or ignore it. Notices written before joins were bound to their
    /// device carry the join id instead of the fingerprint; new ones never name the join.
    DeviceJoinRequested {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        join_id: Option<String>,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        fingerprint: Option<String>,
    },
    /// A request for this wallet from outside the countries Inkan serves was refused (`during`:
    /// `sign_in`, `device_join`, `card`, `top_up` or `payment`; `country` as the edge named it, or
    /// none if it named none).
    RegionRefused {
        during: String,
        country: Option<String>,
    },
    /// A secret (`card`, `passkey` or `recovery_code`) was tried wrongly again, for this wallet,
    /// one of its devices or the address it was tried from: one try is left before it is locked.
    TriesRunningOut {
        secret: String,
        left: u32,
    },
    /// Failed tries of a secret (`card`, `passkey` or `recovery_code`) locked it: until `until`,
    /// or, without one, until support lifts the lock.
    TriesLocked {
        secret: String,
        #[serde(default, with = "time::serde::rfc3339::option")]
        #[cfg_attr(feature = "ts", ts(type = "string | null"))]
        until: Option<OffsetDateTime>,
    },
}

/// One notice as delivered: its place in the wallet's history, and the chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedEvent {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The notice's JSON text, exactly as hashed: parse it as a `Notice`.
    #[cfg_attr(feature = "openapi", schema(content_media_type = "application/json"))]
    pub payload: String,
    /// Hex SHA-256 chain hash (see `inkan_core::history`).
    pub hash: String,
    /// The issuer's signature on the history as it stands with this notice as its head. Absent
    /// only on notices written before the server signed heads, and never on the latest notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<HeadSignature>,
}

impl FeedEvent {
    pub fn notice(&self) -> Result<Notice, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

/// One notice as the live feed pushes it: the [`FeedEvent`], and with a `charge_pending` notice
/// whose charge still waits, that charge with the passkey request bound to it, so that the wallet
/// confirms from the push alone (`GET /v1/wallet/charges/pending` is for catching up, not needed
/// here). `pending` is not part of the history: it is neither hashed nor signed, and the history
/// export does not carry it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    #[serde(flatten)]
    pub event: FeedEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::wallet::PendingCharge>,
}

/// An issuer's Ed25519 signature over `inkan_core::history::head_message(account, seq, hash)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HeadSignature {
    /// Which issuer key signed (its id in `GET /v1/issuer-keys`).
    pub key_id: String,
    /// 64 bytes.
    pub signature: Base64Url,
}

/// `GET /v1/issuer-keys`: the keys the issuer signs history heads with. A device pins them when it
/// enrols or joins, and checks every history against the pinned key, never against what a server
/// says later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerKeys {
    pub keys: Vec<IssuerKeyInfo>,
}

/// One issuer key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerKeyInfo {
    /// `inkan_core::history::IssuerKey::id`.
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key.
    pub public_key: Base64Url,
}

impl IssuerKeyInfo {
    pub fn of(key: &inkan_core::history::IssuerKey) -> IssuerKeyInfo {
        IssuerKeyInfo {
            key_id: key.id(),
            algorithm: "ed25519".to_owned(),
            public_key: Base64Url(key.as_bytes().to_vec()),
        }
    }

    /// The key, if it is a well-formed Ed25519 key whose id matches.
    pub fn key(&self) -> Option<inkan_core::history::IssuerKey> {
        let key = inkan_core::history::IssuerKey::from_bytes(&self.public_key.0)?;
        (self.algorithm == "ed25519" && key.id() == self.key_id).then_some(key)
    }
}

/// `GET /v1/wallet/history`: the whole verifiable history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    pub account_id: String,
    pub events: Vec<FeedEvent>,
}

/// Text of a feed's body as it arrives in network chunks. A chunk may end inside a multibyte
/// character (any Japanese merchant name): its first bytes wait for the rest, so no character is
/// ever decoded in halves (which would change the notice and break its hash). Bytes that are no
/// UTF-8 at all become U+FFFD, as a browser's `EventSource` does; the chain check then refuses them.
#[derive(Debug, Default)]
pub struct Utf8Chunks {
    pending: Vec<u8>,
}

impl Utf8Chunks {
    /// The text that `chunk` completes.
    pub fn decode(&mut self, chunk: &[u8]) -> String {
        self.pending.extend_from_slice(chunk);
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(all) => {
                    text.push_str(all);
                    self.pending.clear();
                    return text;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    text.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        // A character cut by the chunk's end: its bytes wait for the next chunk.
                        None => {
                            self.pending.drain(..valid);
                            return text;
                        }
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod utf8_tests {
    use super::Utf8Chunks;

    #[test]
    fn a_character_cut_by_a_chunk_is_decoded_whole() {
        let text = "data: {\"merchant_name\":\"ファミリーマート 渋谷店 🍱\"}\n\n";
        let bytes = text.as_bytes();
        for size in 1..=7 {
            let mut decoder = Utf8Chunks::default();
            let decoded: String = bytes.chunks(size).map(|chunk| decoder.decode(chunk)).collect();
            assert_eq!(decoded, text, "chunks of {size} bytes");
        }
        for cut in 0..=bytes.len() {
            let mut decoder = Utf8Chunks::default();
            let decoded = decoder.decode(&bytes[..cut]) + &decoder.decode(&bytes[cut..]);
            assert_eq!(decoded, text, "cut at {cut}");
        }
    }

    #[test]
    fn bytes_that_are_no_utf8_become_replacement_characters() {
        let mut decoder = Utf8Chunks::default();
        assert_eq!(decoder.decode(b"a\xffb"), "a\u{FFFD}b");
        // A lone continuation byte, then a character cut in two.
        assert_eq!(decoder.decode(&[0x80, b'x', 0xe6]), "\u{FFFD}x");
        assert_eq!(decoder.decode(&[0xb8, 0x8b]), "\u{6e0b}");
    }
}
