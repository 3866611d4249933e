//! The sandbox funding provider, for development and tests: the documented test cards, no money
//! moves. It behaves as a real provider does where Inkan's safety depends on it: a collection is
//! taken at most once per reference (our top-up id, its idempotency key), and it can be looked up
//! by that reference. With a journal file it remembers its collections across restarts, written
//! and `fsync`ed before it answers, as a provider outside the server would, so that a server
//! killed between the collection and the credit finds it again.
//!
//! Its test cards:
//!
//! | number | result |
//! | --- | --- |
//! | `4242 4242 4242 4242` | verified at once |
//! | `4000 0000 0000 3220` | needs a challenge; the one-time code is `123456` |
//! | `4000 0000 0000 0002` | declined |
//! | `5555 5555 5555 4444` | verified at once (Mastercard) |
//! | any other `424242…` of 16 digits | verified at once: a card of its own per test wallet |
//! | `4000 0000 0000 0994` | verified at once; every top-up and pay-out declined |
//! | `4000 0000 0000 0119` | verified at once; a top-up or pay-out is made, but the first answer is lost (a timeout) |
//! | `4000 0000 0000 5126` | verified at once; the provider cannot be reached for top-ups or pay-outs (nothing moves) |
//! | `4000 0000 0000 0077` | verified at once; top-ups collected, every pay-out declined (a card that cannot take money back) |
//!
//! Any other number that passes the Luhn check is declined; an expiry in the past is declined.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use inkan_core::topup::ProviderRecord;
use inkan_core::{Currency, Money};
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use crate::provider::{FundingError, FundingProvider, Looked, Registration};

/// The documented sandbox (see the module docs). Deterministic, offline.
#[derive(Debug, Default)]
pub struct SandboxProvider {
    book: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    /// Every collection and pay-out asked for, by reference.
    collections: HashMap<String, Collection>,
    /// Where they are kept across restarts, if anywhere.
    journal: Option<File>,
}

/// Which way the money goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Way {
    /// From the card (a top-up).
    #[default]
    Collect,
    /// To the card (a pay-out).
    PayOut,
}

/// One collection or pay-out, as the journal keeps it (a JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Collection {
    #[serde(default)]
    way: Way,
    reference: String,
    token: String,
    amount: i64,
    currency: Currency,
    /// The provider's reference of the payment; `None` if it was declined.
    taken: Option<String>,
}

/// How a card's top-ups go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Collects,
    Declines,
    LosesFirstAnswer,
    Unreachable,
    /// Top-ups collected, pay-outs declined.
    RefusesPayOuts,
}

impl SandboxProvider {
    /// A sandbox that forgets its collections when the process ends.
    pub fn in_memory() -> SandboxProvider {
        SandboxProvider::default()
    }

    /// A sandbox that keeps its collections in `path` (created if missing; a line torn by a crash
    /// at its end is dropped: its collection was never answered).
    pub fn with_journal(path: &Path) -> std::io::Result<SandboxProvider> {
        let mut collections = HashMap::new();
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                if let Ok(c) = serde_json::from_str::<Collection>(&line?) {
                    collections.insert(c.reference.clone(), c);
                }
            }
        }
        let mut journal = OpenOptions::new().create(true).append(true).open(path)?;
        // A torn last line would glue itself to the next: start on a fresh line (blank lines are
        // skipped when read).
        journal.write_all(b"\n")?;
        journal.sync_data()?;
        Ok(SandboxProvider { book: Mutex::new(Book { collections, journal: Some(journal) }) })
    }

    /// The `n`th of the sandbox's own test cards for test wallets (`4242420…`, 16 digits,
    /// Luhn-valid), verified at once: one per wallet, as no two shoppers share a card
    /// (`--max-accounts-per-card`). The benchmark and the soak make theirs as `4242421…` and
    /// `4242422…`, so that none of them meets another's on one server.
    pub fn test_card(n: u32) -> String {
        inkan_core::cards::with_check_digit(&format!("4242420{:08}", n % 100_000_000)).unwrap_or_default()
    }

    /// Every collection taken, as (reference, amount): what an audit compares with the top-ups
    /// credited.
    pub fn collected(&self) -> Vec<(String, Money)> {
        self.made(Way::Collect)
    }

    /// Every pay-out made to a card, as (reference, amount).
    pub fn paid_out(&self) -> Vec<(String, Money)> {
        self.made(Way::PayOut)
    }

    fn made(&self, way: Way) -> Vec<(String, Money)> {
        let book = self.book();
        let mut taken: Vec<(String, Money)> = book
            .collections
            .values()
            .filter(|c| c.way == way && c.taken.is_some())
            .map(|c| (c.reference.clone(), Money::new(c.currency, c.amount)))
            .collect();
        taken.sort_by(|a, b| a.0.cmp(&b.0));
        taken
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn behaviour(token: &str) -> Option<Behaviour> {
    let kind = token.strip_prefix("sandbox_tok_")?;
    Some(match kind.split_once('_').map(|(k, _)| k) {
        Some("declines") => Behaviour::Declines,
        Some("loses") => Behaviour::LosesFirstAnswer,
        Some("unreachable") => Behaviour::Unreachable,
        Some("nopayouts") => Behaviour::RefusesPayOuts,
        _ => Behaviour::Collects,
    })
}

impl Book {
    /// Keeps `c`, durably first when there is a journal: a collection is never answered before
    /// it is on disk.
    fn keep(&mut self, c: Collection) -> Result<(), FundingError> {
        if let Some(journal) = self.journal.as_mut() {
            let mut line = serde_json::to_vec(&c).map_err(|_| FundingError::Unavailable)?;
            line.push(b'\n');
            journal.write_all(&line).and_then(|()| journal.sync_data()).map_err(|e| {
                tracing::error!(error = %e, "the sandbox provider could not write its journal");
                FundingError::Unavailable
            })?;
        }
        self.collections.insert(c.reference.clone(), c);
        Ok(())
    }
}

impl FundingProvider for SandboxProvider {
    fn register(
        &self,
        number: &str,
        exp_month: u8,
        exp_year: u16,
        cvc: &str,
        now: time::OffsetDateTime,
    ) -> Result<Registration, FundingError> {
        let digits: Vec<u8> = number
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .map(|c| c.to_digit(10).and_then(|d| u8::try_from(d).ok()).unwrap_or(255))
            .collect();
        if !(12..=19).contains(&digits.len()) || digits.contains(&255) || !inkan_core::cards::luhn_valid(&digits) {
            return Err(FundingError::InvalidCard);
        }
        if cvc.len() != 3 || !cvc.bytes().all(|b| b.is_ascii_digit()) || !(1..=12).contains(&exp_month) {
            return Err(FundingError::InvalidCard);
        }
        let (year, month) = (i32::from(exp_year), u8::from(now.month()));
        if year < now.year() || (year == now.year() && exp_month < month) {
            return Err(FundingError::Declined);
        }
        let number: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let (challenge_required, kind) = match number.as_str() {
            "5555555555554444" => (false, ""),
            "4000000000003220" => (true, ""),
            "4000000000000994" => (false, "declines_"),
            "4000000000000119" => (false, "loses_"),
            "4000000000005126" => (false, "unreachable_"),
            "4000000000000077" => (false, "nopayouts_"),
            own if own.len() == 16 && own.starts_with("424242") => (false, ""),
            _ => return Err(FundingError::Declined),
        };
        let fingerprint = hex::encode(digest(&SHA256, format!("sandbox-card:{number}").as_bytes()));
        Ok(Registration {
            token: format!("sandbox_tok_{kind}{}", &fingerprint[..24]),
            brand: if number.starts_with('5') { "mastercard" } else { "visa" }.to_owned(),
            last4: number[number.len() - 4..].to_owned(),
            fingerprint,
            challenge_required,
        })
    }

    fn verify(&self, _token: &str, code: &str) -> Result<(), FundingError> {
        if code == "123456" { Ok(()) } else { Err(FundingError::ChallengeFailed) }
    }

    fn collect(&self, token: &str, amount: Money, reference: &str) -> Result<String, FundingError> {
        self.move_money(Way::Collect, token, amount, reference)
    }

    fn pay_out(&self, token: &str, amount: Money, reference: &str) -> Result<String, FundingError> {
        self.move_money(Way::PayOut, token, amount, reference)
    }

    fn lookup(&self, reference: &str) -> Result<Looked, FundingError> {
        let book = self.book();
        Ok(match book.collections.get(reference) {
            None => Looked { record: ProviderRecord::NotFound, provider_ref: None },
            Some(Collection { taken: None, .. }) => Looked { record: ProviderRecord::Refused, provider_ref: None },
            Some(c) => Looked {
                record: ProviderRecord::Collected { amount: Money::new(c.currency, c.amount) },
                provider_ref: c.taken.clone(),
            },
        })
    }
}

impl SandboxProvider {
    /// A collection or a pay-out, once per reference.
    fn move_money(&self, way: Way, token: &str, amount: Money, reference: &str) -> Result<String, FundingError> {
        let mut book = self.book();
        if let Some(c) = book.collections.get(reference) {
            if c.way != way || c.token != token || c.amount != amount.minor() || c.currency != amount.currency() {
                return Err(FundingError::ReferenceReused);
            }
            return c.taken.clone().ok_or(FundingError::Declined);
        }
        let behaviour = behaviour(token).ok_or(FundingError::Declined)?;
        if behaviour == Behaviour::Unreachable {
            return Err(FundingError::Unavailable);
        }
        let prefix = match way {
            Way::Collect => "sandbox_pay",
            Way::PayOut => "sandbox_out",
        };
        let taken = match (behaviour, way) {
            (Behaviour::Declines, _) | (Behaviour::RefusesPayOuts, Way::PayOut) => None,
            _ => Some(format!("{prefix}_{}", &hex::encode(digest(&SHA256, reference.as_bytes()))[..24])),
        };
        let c = Collection {
            way,
            reference: reference.to_owned(),
            token: token.to_owned(),
            amount: amount.minor(),
            currency: amount.currency(),
            taken: taken.clone(),
        };
        book.keep(c)?;
        match (behaviour, taken) {
            (Behaviour::LosesFirstAnswer, _) => Err(FundingError::Unavailable),
            (_, Some(taken)) => Ok(taken),
            (_, None) => Err(FundingError::Declined),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-06-10 12:00 UTC);

    #[test]
    fn sandbox_cards_behave_as_documented() {
        let p = SandboxProvider::in_memory();
        let ok = p.register("4242 4242 4242 4242", 12, 2030, "123", NOW).unwrap();
        assert!(!ok.challenge_required);
        assert_eq!((ok.brand.as_str(), ok.last4.as_str()), ("visa", "4242"));
        assert!(!ok.token.contains("4242424242424242") && !ok.fingerprint.contains("4242424242424242"));
        assert!(p.register("4000000000003220", 12, 2030, "123", NOW).unwrap().challenge_required);
        assert_eq!(p.register("4000000000000002", 12, 2030, "123", NOW), Err(FundingError::Declined));
        assert_eq!(p.register("4242424242424241", 12, 2030, "123", NOW), Err(FundingError::InvalidCard));
        assert_eq!(p.register("4242424242424242", 5, 2026, "123", NOW), Err(FundingError::Declined));
        assert_eq!(p.register("4242424242424242", 13, 2030, "123", NOW), Err(FundingError::InvalidCard));
        assert_eq!(p.register("4242424242424242", 12, 2030, "12", NOW), Err(FundingError::InvalidCard));
        assert_eq!(p.register("42424242４2424242", 12, 2030, "123", NOW), Err(FundingError::InvalidCard));
        assert_eq!(p.verify(&ok.token, "123456"), Ok(()));
        assert_eq!(p.verify(&ok.token, "000000"), Err(FundingError::ChallengeFailed));
    }

    #[test]
    fn a_collection_is_taken_once_per_reference_and_found_by_it() {
        let p = SandboxProvider::in_memory();
        let card = p.register("4242424242424242", 12, 2030, "123", NOW).unwrap();
        let yen = Money::yen(5_000);
        assert_eq!(p.lookup("top_1").unwrap().record, ProviderRecord::NotFound);
        let first = p.collect(&card.token, yen, "top_1").unwrap();
        assert_eq!(p.collect(&card.token, yen, "top_1").unwrap(), first, "a retry is the same payment");
        assert_eq!(p.collect(&card.token, Money::yen(6_000), "top_1"), Err(FundingError::ReferenceReused));
        assert_ne!(p.collect(&card.token, yen, "top_2").unwrap(), first);
        let looked = p.lookup("top_1").unwrap();
        assert_eq!(looked.record, ProviderRecord::Collected { amount: yen });
        assert_eq!(looked.provider_ref, Some(first));
        assert_eq!(p.collected().len(), 2);
        // A pay-out is its own movement: once per reference, never under a collection's.
        let out = p.pay_out(&card.token, yen, "pay_1").unwrap();
        assert_eq!(p.pay_out(&card.token, yen, "pay_1").unwrap(), out);
        assert_eq!(p.pay_out(&card.token, yen, "top_1"), Err(FundingError::ReferenceReused));
        assert_eq!(p.paid_out(), vec![("pay_1".to_owned(), yen)]);
        assert_eq!(p.collected().len(), 2);
    }

    #[test]
    fn the_failing_test_cards_fail_as_documented() {
        let p = SandboxProvider::in_memory();
        let yen = Money::yen(1_000);
        let token = |n: &str| p.register(n, 12, 2030, "123", NOW).unwrap().token;
        let (declines, loses, unreachable) =
            (token("4000000000000994"), token("4000000000000119"), token("4000000000005126"));
        assert_eq!(p.collect(&declines, yen, "a"), Err(FundingError::Declined));
        assert_eq!(p.collect(&declines, yen, "a"), Err(FundingError::Declined));
        assert_eq!(p.lookup("a").unwrap().record, ProviderRecord::Refused);
        assert_eq!(p.collect(&loses, yen, "b"), Err(FundingError::Unavailable), "the first answer is lost");
        assert_eq!(p.lookup("b").unwrap().record, ProviderRecord::Collected { amount: yen }, "but it was taken");
        assert!(p.collect(&loses, yen, "b").is_ok(), "and a retry gets the answer");
        assert_eq!(p.collect(&unreachable, yen, "c"), Err(FundingError::Unavailable));
        assert_eq!(p.lookup("c").unwrap().record, ProviderRecord::NotFound, "nothing was taken");
        assert_eq!(p.collect("someone_elses_token", yen, "d"), Err(FundingError::Declined));
        let no_pay_outs = token("4000000000000077");
        assert!(p.collect(&no_pay_outs, yen, "e").is_ok(), "it tops up");
        assert_eq!(p.pay_out(&no_pay_outs, yen, "f"), Err(FundingError::Declined), "but takes nothing back");
        assert_eq!(p.lookup("f").unwrap().record, ProviderRecord::Refused);
    }

    #[test]
    fn the_journal_keeps_collections_across_restarts_and_drops_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.jsonl");
        let yen = Money::yen(2_000);
        let token = {
            let p = SandboxProvider::with_journal(&path).unwrap();
            let token = p.register("4242424242424242", 12, 2030, "123", NOW).unwrap().token;
            p.collect(&token, yen, "top_1").unwrap();
            token
        };
        // A crash in the middle of the next line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"reference\":\"top_2\",\"tok")
            .unwrap();
        let p = SandboxProvider::with_journal(&path).unwrap();
        assert_eq!(p.lookup("top_1").unwrap().record, ProviderRecord::Collected { amount: yen });
        assert_eq!(p.lookup("top_2").unwrap().record, ProviderRecord::NotFound);
        p.collect(&token, yen, "top_3").unwrap();
        assert_eq!(SandboxProvider::with_journal(&path).unwrap().collected().len(), 2);
    }
}
