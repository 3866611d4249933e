//! The tamper-evident history: every notice of a wallet is chained to the one before by SHA-256,
//! so a shopper can export the history and anyone can check that nothing was changed, removed or
//! reordered (rule 10).
//!
//! `hash(n) = SHA-256("inkan/history/v1\0" ‖ hash(n-1) ‖ seq(n) ‖ at(n) ‖ payload(n))`, where `seq`
//! is 8 bytes big-endian, `at` the time in Unix milliseconds as 8 bytes big-endian (two's
//! complement), `payload` the exact text the server stored and sent, and `hash(0)` 32 zero bytes.
//!
//! A hash chain alone is only consistent in itself: whoever can write the database can rewrite a
//! history from genesis and compute new hashes. So the issuer signs each head with a key kept
//! outside the database (an Ed25519 [`IssuerKey`]), over [`head_message`]:
//! `"inkan/history-head/v1\0" ‖ len(account_id) ‖ account_id ‖ seq ‖ hash`, the length 2 bytes and
//! `seq` 8 bytes big-endian. Devices pin the issuer's key when they join and check it on every
//! load, live notice and export ([`verify_signed`], [`check_signature`]).

use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, UnparsedPublicKey};

const DOMAIN: &[u8] = b"inkan/history/v1\0";

/// The hash before the first notice.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// The hash of notice `seq` with `payload`, given the hash of the notice before it.
pub fn link(previous: &[u8; 32], seq: u64, at_unix_ms: i64, payload: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(DOMAIN.len() + 32 + 16 + payload.len());
    input.extend_from_slice(DOMAIN);
    input.extend_from_slice(previous);
    input.extend_from_slice(&seq.to_be_bytes());
    input.extend_from_slice(&at_unix_ms.to_be_bytes());
    input.extend_from_slice(payload.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

/// Where a history fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("notice {seq} is out of sequence (expected {expected})")]
    Gap { seq: u64, expected: u64 },
    #[error("notice {seq} does not match its hash: the history was changed")]
    Tampered { seq: u64 },
    #[error("notice {seq} is not signed with the issuer's key: the history or its signature was changed")]
    BadSignature { seq: u64 },
    #[error("notice {seq} has no issuer signature where one is required: a signature was removed")]
    Unsigned { seq: u64 },
}

impl ChainError {
    /// The notice the error is about.
    pub fn seq(&self) -> u64 {
        match *self {
            ChainError::Gap { seq, .. }
            | ChainError::Tampered { seq }
            | ChainError::BadSignature { seq }
            | ChainError::Unsigned { seq } => seq,
        }
    }

    /// The issuer does not vouch for this history (as opposed to a history broken in itself).
    pub fn is_unvouched(&self) -> bool {
        matches!(self, ChainError::BadSignature { .. } | ChainError::Unsigned { .. })
    }
}

const HEAD_DOMAIN: &[u8] = b"inkan/history-head/v1\0";
const KEY_ID_DOMAIN: &[u8] = b"inkan/issuer-key/v1\0";

/// What the issuer signs for the head of `account_id`'s history at notice `seq` with chain hash
/// `hash`. The account is in it, so a head of one wallet is never valid for another.
pub fn head_message(account_id: &str, seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    let id = account_id.as_bytes();
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX);
    let id = id.get(..usize::from(len)).unwrap_or(id);
    let mut out = Vec::with_capacity(HEAD_DOMAIN.len() + 2 + id.len() + 8 + 32);
    out.extend_from_slice(HEAD_DOMAIN);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    out
}

/// The issuer's public key for history heads: Ed25519, 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerKey([u8; 32]);

impl IssuerKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<IssuerKey> {
        Some(IssuerKey(bytes.try_into().ok()?))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's short name, as signatures and `/v1/issuer-keys` give it: the first 8 bytes of
    /// SHA-256 over a domain prefix and the key, in hex.
    pub fn id(&self) -> String {
        let mut input = KEY_ID_DOMAIN.to_vec();
        input.extend_from_slice(&self.0);
        hex::encode(digest(&SHA256, &input).as_ref().get(..8).unwrap_or_default())
    }

    /// Whether `signature` is this key's over the head `(account_id, seq, hash)`.
    pub fn signed_head(&self, account_id: &str, seq: u64, hash: &[u8; 32], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(&head_message(account_id, seq, hash), signature).is_ok()
    }
}

/// An issuer's signature as a notice carries it: which key, and the signature bytes (which may be
/// malformed: they come from the network or a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadSignature<'a> {
    pub key_id: &'a str,
    pub signature: &'a [u8],
}

/// One notice with the issuer's signature on the head it makes, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedLink<'a> {
    pub link: Link<'a>,
    pub signature: Option<HeadSignature<'a>>,
}

/// Checks the issuer's signature on the head that `link` makes: it must be there, by `issuer`, and
/// over this account, sequence number and hash.
pub fn check_signature(
    account_id: &str,
    issuer: &IssuerKey,
    link: &Link<'_>,
    signature: Option<HeadSignature<'_>>,
) -> Result<(), ChainError> {
    let Some(signature) = signature else { return Err(ChainError::Unsigned { seq: link.seq }) };
    if signature.key_id != issuer.id() || !issuer.signed_head(account_id, link.seq, &link.hash, signature.signature) {
        return Err(ChainError::BadSignature { seq: link.seq });
    }
    Ok(())
}

/// Where a history failed: the position of the entry among those given (from 0), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub position: usize,
    pub error: ChainError,
}

/// Checks a whole history of `account_id`, in order from the first notice, against the issuer's
/// key; returns its head. Every link must chain, and every signature must be the issuer's. Notices
/// from before the issuer signed heads may be unsigned, but only before the first signed one, and
/// the last notice must be signed: a history whose signatures were stripped does not pass.
pub fn verify_signed<'a, I>(account_id: &str, issuer: &IssuerKey, entries: I) -> Result<KnownHead, Failure>
where
    I: IntoIterator<Item = SignedLink<'a>>,
{
    let mut head = KnownHead::GENESIS;
    let mut signed_before = false;
    let mut last_signed = true;
    let mut count = 0usize;
    for (position, SignedLink { link, signature }) in entries.into_iter().enumerate() {
        let fail = |error| Failure { position, error };
        let expected = head.seq + 1;
        if link.seq != expected {
            return Err(fail(ChainError::Gap { seq: link.seq, expected }));
        }
        if self::link(&head.hash, link.seq, link.at_unix_ms, link.payload) != link.hash {
            return Err(fail(ChainError::Tampered { seq: link.seq }));
        }
        last_signed = signature.is_some();
        if last_signed || signed_before {
            check_signature(account_id, issuer, &link, signature).map_err(fail)?;
            signed_before = true;
        }
        head = KnownHead { seq: link.seq, hash: link.hash };
        count = position + 1;
    }
    if !last_signed {
        return Err(Failure { position: count.saturating_sub(1), error: ChainError::Unsigned { seq: head.seq } });
    }
    Ok(head)
}

/// One notice as the chain sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link<'a> {
    pub seq: u64,
    pub at_unix_ms: i64,
    pub payload: &'a str,
    pub hash: [u8; 32],
}

/// Checks a whole history, in order from the first notice; returns the last hash.
pub fn verify<'a, I>(entries: I) -> Result<[u8; 32], ChainError>
where
    I: IntoIterator<Item = Link<'a>>,
{
    let mut previous = GENESIS;
    for (expected, Link { seq, at_unix_ms, payload, hash }) in (1u64..).zip(entries) {
        if seq != expected {
            return Err(ChainError::Gap { seq, expected });
        }
        if link(&previous, seq, at_unix_ms, payload) != hash {
            return Err(ChainError::Tampered { seq });
        }
        previous = hash;
    }
    Ok(previous)
}

/// The last point of a wallet's history that this device verified: its sequence number and hash.
/// A device keeps it, so that a history rewritten or cut short on the server is noticed even when
/// the new one is consistent in itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl KnownHead {
    /// Before any notice: every history extends it.
    pub const GENESIS: KnownHead = KnownHead { seq: 0, hash: GENESIS };
}

/// How the history the server sends now differs from what this device verified before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HistoryChanged {
    #[error(
        "the history on the server ends at notice {now}, before notice {known} that this device verified: it was cut short"
    )]
    Truncated { known: u64, now: u64 },
    #[error("notice {seq} on the server is not the one this device verified: the history was rewritten")]
    Rewritten { seq: u64 },
    #[error(
        "notice {seq} on the server is not signed with the issuer key this device trusts: the history was rewritten or forged"
    )]
    Unvouched { seq: u64 },
}

/// Does a verified history (`hash_at` gives the hash of each of its notices, `last_seq` its
/// length) extend the head this device knew? Never judged from genesis alone: a consistent
/// history that differs from what was seen is a changed history.
pub fn extends(
    known: KnownHead,
    last_seq: u64,
    hash_at: impl Fn(u64) -> Option<[u8; 32]>,
) -> Result<(), HistoryChanged> {
    if known.seq == 0 {
        return Ok(());
    }
    if last_seq < known.seq {
        return Err(HistoryChanged::Truncated { known: known.seq, now: last_seq });
    }
    match hash_at(known.seq) {
        Some(hash) if hash == known.hash => Ok(()),
        _ => Err(HistoryChanged::Rewritten { seq: known.seq }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn issuer() -> (Ed25519KeyPair, IssuerKey) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = IssuerKey::from_bytes(pair.public_key().as_ref()).unwrap();
        (pair, key)
    }

    /// `entries` with each head signed by `pair` for `account`.
    fn sign(pair: &Ed25519KeyPair, account: &str, entries: &[Entry]) -> Vec<Vec<u8>> {
        entries
            .iter()
            .map(|(seq, _, _, hash)| pair.sign(&head_message(account, *seq, hash)).as_ref().to_vec())
            .collect()
    }

    fn check_signed(
        account: &str,
        key: &IssuerKey,
        entries: &[Entry],
        signatures: &[Option<Vec<u8>>],
    ) -> Result<KnownHead, Failure> {
        let id = key.id();
        verify_signed(
            account,
            key,
            entries.iter().zip(signatures).map(|((seq, at, p, hash), sig)| SignedLink {
                link: Link { seq: *seq, at_unix_ms: *at, payload: p, hash: *hash },
                signature: sig.as_deref().map(|signature| HeadSignature { key_id: &id, signature }),
            }),
        )
    }

    #[test]
    fn a_signed_history_verifies_only_with_the_issuers_key_for_its_own_account() {
        let (pair, key) = issuer();
        let entries = chain(&["a", "b", "c"]);
        let signatures: Vec<_> = sign(&pair, "acc_1", &entries).into_iter().map(Some).collect();
        assert_eq!(check_signed("acc_1", &key, &entries, &signatures), Ok(KnownHead { seq: 3, hash: entries[2].3 }));
        // Another wallet's heads, or another issuer, do not pass.
        let fail = |position, error| Err(Failure { position, error });
        assert_eq!(check_signed("acc_2", &key, &entries, &signatures), fail(0, ChainError::BadSignature { seq: 1 }));
        let (_, other) = issuer();
        assert_eq!(check_signed("acc_1", &other, &entries, &signatures), fail(0, ChainError::BadSignature { seq: 1 }));
        // Rewritten from notice 2 on with fresh hashes: consistent, but not signed.
        let mut rewritten = chain(&["a", "B", "c"]);
        assert_eq!(check_signed("acc_1", &key, &rewritten, &signatures), fail(1, ChainError::BadSignature { seq: 2 }));
        // A garbled signature, and a stripped one (in the middle or at the end).
        let mut garbled = signatures.clone();
        garbled[2] = Some(vec![0u8; 64]);
        assert_eq!(check_signed("acc_1", &key, &entries, &garbled), fail(2, ChainError::BadSignature { seq: 3 }));
        let mut stripped = signatures.clone();
        stripped[1] = None;
        assert_eq!(check_signed("acc_1", &key, &entries, &stripped), fail(1, ChainError::Unsigned { seq: 2 }));
        stripped = vec![None, None, None];
        assert_eq!(check_signed("acc_1", &key, &entries, &stripped), fail(2, ChainError::Unsigned { seq: 3 }));
        // Notices from before heads were signed pass, when a signed one follows.
        let mut legacy = signatures.clone();
        legacy[0] = None;
        legacy[1] = None;
        assert!(check_signed("acc_1", &key, &entries, &legacy).is_ok());
        // The wrong key id is refused even with a valid signature.
        let link = Link { seq: 1, at_unix_ms: entries[0].1, payload: &entries[0].2, hash: entries[0].3 };
        let bytes = signatures[0].clone().unwrap();
        let wrong_id = HeadSignature { key_id: "0000000000000000", signature: &bytes };
        assert_eq!(check_signature("acc_1", &key, &link, Some(wrong_id)), Err(ChainError::BadSignature { seq: 1 }));
        assert_eq!(
            check_signature("acc_1", &key, &link, Some(HeadSignature { key_id: &key.id(), signature: &bytes })),
            Ok(())
        );
        assert_eq!(check_signature("acc_1", &key, &link, None), Err(ChainError::Unsigned { seq: 1 }));
        rewritten.clear();
        assert_eq!(check_signed("acc_1", &key, &rewritten, &[]), Ok(KnownHead::GENESIS));
    }

    #[test]
    fn a_head_message_names_its_account_and_key_ids_are_stable() {
        let hash = [7u8; 32];
        assert_ne!(head_message("ab", 1, &hash), head_message("a", 1, &hash));
        // The length prefix keeps `("ab", …)` and `("a", "b…")` apart.
        assert!(head_message("acc", 258, &hash).starts_with(b"inkan/history-head/v1\0\0\x03acc"));
        let key = IssuerKey::from_bytes(&[1u8; 32]).unwrap();
        assert_eq!(key.id(), key.id());
        assert_eq!(key.id().len(), 16);
        assert_ne!(key.id(), IssuerKey::from_bytes(&[2u8; 32]).unwrap().id());
        assert!(IssuerKey::from_bytes(&[1u8; 31]).is_none());
    }

    type Entry = (u64, i64, String, [u8; 32]);

    fn chain(payloads: &[&str]) -> Vec<Entry> {
        let mut previous = GENESIS;
        (1u64..)
            .zip(payloads)
            .map(|(seq, p)| {
                let at = 1_781_092_800_000 + i64::try_from(seq).unwrap();
                previous = link(&previous, seq, at, p);
                (seq, at, (*p).to_owned(), previous)
            })
            .collect()
    }

    fn check(entries: &[Entry]) -> Result<[u8; 32], ChainError> {
        verify(entries.iter().map(|(seq, at, p, hash)| Link { seq: *seq, at_unix_ms: *at, payload: p, hash: *hash }))
    }

    #[test]
    fn any_change_removal_or_reordering_is_detected() {
        let entries = chain(&["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert!(check(&entries).is_ok());
        let mut changed = entries.clone();
        changed[1].2 = "{\"b\":3}".into();
        assert_eq!(check(&changed), Err(ChainError::Tampered { seq: 2 }));
        let mut retimed = entries.clone();
        retimed[2].1 += 1;
        assert_eq!(check(&retimed), Err(ChainError::Tampered { seq: 3 }));
        let mut removed = entries.clone();
        removed.remove(1);
        assert_eq!(check(&removed), Err(ChainError::Gap { seq: 3, expected: 2 }));
        let mut swapped = entries.clone();
        swapped.swap(0, 1);
        assert!(check(&swapped).is_err());
        // Renumbering after a removal does not help: the hashes link to the removed entry.
        let mut renumbered = removed;
        renumbered[1].0 = 2;
        assert_eq!(check(&renumbered), Err(ChainError::Tampered { seq: 2 }));
        assert_eq!(check(&[]), Ok(GENESIS));
    }

    #[test]
    fn a_history_must_extend_the_head_this_device_knew() {
        let entries = chain(&["a", "b", "c"]);
        let hash_at = |seq: u64| entries.iter().find(|e| e.0 == seq).map(|e| e.3);
        let known = KnownHead { seq: 2, hash: entries[1].3 };
        // The same history, grown: fine. Nothing known yet: fine.
        assert_eq!(extends(known, 3, hash_at), Ok(()));
        assert_eq!(extends(KnownHead::GENESIS, 3, hash_at), Ok(()));
        // Cut short.
        assert_eq!(extends(known, 1, hash_at), Err(HistoryChanged::Truncated { known: 2, now: 1 }));
        // Rewritten from genesis: consistent in itself, but not what was seen.
        let rewritten = chain(&["a", "B", "c"]);
        assert!(
            verify(rewritten.iter().map(|(seq, at, p, hash)| Link {
                seq: *seq,
                at_unix_ms: *at,
                payload: p,
                hash: *hash
            }))
            .is_ok()
        );
        let rewritten_at = |seq: u64| rewritten.iter().find(|e| e.0 == seq).map(|e| e.3);
        assert_eq!(extends(known, 3, rewritten_at), Err(HistoryChanged::Rewritten { seq: 2 }));
    }
}
