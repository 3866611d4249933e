//! A wallet's history as this device checks it: the hash chain, and the issuer's signature on
//! each head under the key this device pinned when it enrolled or joined
//! (`inkan_core::history`). And the export people keep: JSON Lines, one notice per line, that
//! `inkan history --verify` checks offline, naming the line that was changed.

use inkan_api::feed::{FeedEvent, History};
use inkan_core::history::{self, ChainError, Failure, HeadSignature, IssuerKey, KnownHead, Link, SignedLink};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ClientError;

/// 32 bytes from 64 hex digits.
pub(crate) fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// The chain hash an event carries, if it is well formed.
pub fn hash_of(event: &FeedEvent) -> Option<[u8; 32]> {
    unhex32(&event.hash)
}

/// The checks of one wallet's history: its account, and the issuer key this device trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heads {
    account_id: String,
    key: IssuerKey,
}

/// What the chain sees of a notice, or `None` when its hash or time is not well formed.
fn link_of(event: &FeedEvent) -> Option<Link<'_>> {
    Some(Link {
        seq: event.seq,
        at_unix_ms: i64::try_from(event.at.unix_timestamp_nanos() / 1_000_000).ok()?,
        payload: &event.payload,
        hash: hash_of(event)?,
    })
}

fn signature_of(event: &FeedEvent) -> Option<HeadSignature<'_>> {
    event.signature.as_ref().map(|s| HeadSignature { key_id: &s.key_id, signature: &s.signature.0 })
}

impl Heads {
    pub fn new(account_id: &str, key: IssuerKey) -> Heads {
        Heads { account_id: account_id.to_owned(), key }
    }

    pub fn key(&self) -> &IssuerKey {
        &self.key
    }

    /// Checks a whole history from its first notice: each link, and the issuer's signatures (the
    /// last notice must be signed). Returns its head.
    pub fn verify(&self, events: &[FeedEvent]) -> Result<KnownHead, Failure> {
        let mut links = Vec::with_capacity(events.len());
        for (position, event) in events.iter().enumerate() {
            let link = link_of(event).ok_or(Failure { position, error: ChainError::Tampered { seq: event.seq } })?;
            links.push(SignedLink { link, signature: signature_of(event) });
        }
        history::verify_signed(&self.account_id, &self.key, links)
    }

    /// A notice that arrived live, after one this device verified: the server signs every new
    /// head, so it must carry the issuer's signature.
    pub fn check_live(&self, event: &FeedEvent) -> Result<(), ClientError> {
        let link = link_of(event).ok_or_else(|| tampered(event.seq))?;
        history::check_signature(&self.account_id, &self.key, &link, signature_of(event)).map_err(|e| changed(&e))
    }
}

fn tampered(seq: u64) -> ClientError {
    ClientError::Protocol(format!("notice {seq} does not verify against the history: it was changed"))
}

/// What a failed check means for a person: a history the issuer does not vouch for changed on the
/// server; a broken link is an answer that cannot be trusted.
pub fn changed(error: &ChainError) -> ClientError {
    if error.is_unvouched() {
        ClientError::HistoryChanged(history::HistoryChanged::Unvouched { seq: error.seq() })
    } else {
        ClientError::Protocol(format!("the history does not verify: {error}"))
    }
}

/// The first line of an export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    pub account_id: String,
    /// The issuer key the notices are signed with (check them against a key you trust, not this).
    pub issuer_key_id: String,
    /// How many notices follow, one per line.
    pub notices: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
}

pub const EXPORT_FORMAT: &str = "inkan-history/v1";

/// A history as an export file: a header line, then one notice per line (as the feed sends it),
/// oldest first.
pub fn export_text(history: &History, issuer_key_id: &str, now: OffsetDateTime) -> Result<String, ClientError> {
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        account_id: history.account_id.clone(),
        issuer_key_id: issuer_key_id.to_owned(),
        notices: u64::try_from(history.events.len()).unwrap_or(u64::MAX),
        exported_at: now,
    };
    let json = |e: serde_json::Error| ClientError::Invalid(format!("cannot write the export: {e}"));
    let mut text = serde_json::to_string(&header).map_err(json)?;
    text.push('\n');
    for event in &history.events {
        text.push_str(&serde_json::to_string(event).map_err(json)?);
        text.push('\n');
    }
    Ok(text)
}

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedExport {
    pub header: ExportHeader,
    /// The last notice, as the issuer signed it.
    pub head: KnownHead,
    /// The notices, oldest first.
    pub events: Vec<FeedEvent>,
}

impl VerifiedExport {
    /// Does this export extend the head a device verified (`inkan_core::history::extends`)? A file
    /// cut short, or rewritten by whoever held the issuer key, does not.
    pub fn extends(&self, known: KnownHead) -> Result<(), history::HistoryChanged> {
        let hash_at = |seq: u64| {
            let event = self.events.get(usize::try_from(seq.checked_sub(1)?).ok()?)?;
            hash_of(event)
        };
        history::extends(known, self.head.seq, hash_at)
    }
}

/// Why an export does not verify, and on which line of the file (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ExportError {
    pub line: usize,
    pub reason: String,
}

/// Checks an export file offline against the issuer's key: every line is read, every link and
/// every signature checked. An edited, removed, added or reordered notice names its line.
/// A file cut short at its end still says how many notices it was exported with, but that count is
/// not signed: compare the head with one you kept to be sure nothing was cut.
pub fn verify_export(text: &str, key: &IssuerKey) -> Result<VerifiedExport, ExportError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let fail = |line: usize, reason: String| ExportError { line, reason };
    let (first, header_line) = lines.next().ok_or_else(|| fail(1, "the file is empty".into()))?;
    let header: ExportHeader = serde_json::from_str(header_line)
        .map_err(|e| fail(first, format!("not the header of an Inkan history export ({e})")))?;
    if header.format != EXPORT_FORMAT {
        return Err(fail(first, format!("format {:?} is not {EXPORT_FORMAT:?}", header.format)));
    }
    let mut numbers = Vec::new();
    let mut events = Vec::new();
    for (number, line) in lines {
        let event: FeedEvent = serde_json::from_str(line).map_err(|e| fail(number, format!("not a notice ({e})")))?;
        numbers.push(number);
        events.push(event);
    }
    let heads = Heads::new(&header.account_id, *key);
    let head = heads.verify(&events).map_err(|Failure { position, error }| {
        let line = numbers.get(position).copied().unwrap_or(first);
        fail(line, explain(&error))
    })?;
    let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
    if count != header.notices {
        let last = numbers.last().copied().unwrap_or(first);
        return Err(fail(
            last,
            format!(
                "the file holds {count} notices but was exported with {}: notices were removed from its end or added",
                header.notices
            ),
        ));
    }
    Ok(VerifiedExport { header, head, events })
}

fn explain(error: &ChainError) -> String {
    match error {
        ChainError::Gap { seq, expected } => {
            format!("notice {seq} is where notice {expected} should be: a notice was removed, added or moved")
        }
        ChainError::Tampered { seq } => format!("notice {seq} was changed: it does not match its hash"),
        ChainError::BadSignature { seq } => format!(
            "notice {seq} is not signed with the issuer's key: it was changed and the hashes after it recomputed, or the file is of another wallet or issuer"
        ),
        ChainError::Unsigned { seq } => format!("notice {seq} has no issuer signature: a signature was removed"),
    }
}
