//! The tamper-evident history: every notice of a wallet is chained to the one before by SHA-256,
//! so a shopper can export the history and anyone can check that nothing was changed, removed or
//! reordered (rule 10).
//!
//! `hash(n) = SHA-256("inkan/history/v1\0" ‖ hash(n-1) ‖ seq(n) ‖ at(n) ‖ payload(n))`, where `seq`
//! is 8 bytes big-endian, `at` the time in Unix milliseconds as 8 bytes big-endian (two's
//! complement), `payload` the exact text the server stored and sent, and `hash(0)` 32 zero bytes.

use ring::digest::{SHA256, digest};

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
