//! Top-ups: money taken from a card and credited to a wallet, in two steps that a crash between
//! them cannot split.
//!
//! A top-up is written `pending` (and made durable) before the funding provider is asked for the
//! money, with the top-up's id as the provider's idempotency key. The provider's answer settles it
//! in a second step: `succeeded` (the wallet is credited, once) or `failed`. When that answer is
//! lost (a crash, a timeout, a full disk), the top-up stays `pending` and the reconciler asks the
//! provider what became of it ([`settle`]). Nothing here does IO.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::Money;
use crate::money::Currency;

/// The largest single top-up: ¥500,000.
pub const MAX_TOP_UP: i64 = 500_000;

/// How long a top-up the provider has no record of may still be on its way to it (a request in
/// flight when the reconciler looks) before it counts as never sent. Far longer than a request may
/// take (the server's request timeout), so that no request still running can collect it after it
/// is given up.
pub const NEVER_SENT_AFTER: Duration = Duration::minutes(10);

/// Where a top-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopUpStatus {
    /// Written, and the provider asked (or about to be): the money may or may not be taken yet.
    Pending,
    /// The provider took the money and the wallet was credited. Final.
    Succeeded,
    /// The provider refused, or never received it: nothing was taken. Final.
    Failed,
}

impl TopUpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TopUpStatus::Pending => "pending",
            TopUpStatus::Succeeded => "succeeded",
            TopUpStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<TopUpStatus> {
        match s {
            "pending" => Some(TopUpStatus::Pending),
            "succeeded" => Some(TopUpStatus::Succeeded),
            "failed" => Some(TopUpStatus::Failed),
            _ => None,
        }
    }

    /// Whether nothing can change it any more.
    pub fn is_final(self) -> bool {
        !matches!(self, TopUpStatus::Pending)
    }
}

impl fmt::Display for TopUpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a top-up is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopUpRefused {
    /// The wallet was closed for good: it takes no money in.
    #[error("this wallet is closed")]
    Closed,
    #[error("a top-up is between 1 and {MAX_TOP_UP}")]
    OutOfRange,
    #[error("this wallet holds {0}")]
    OtherCurrency(Currency),
    /// The wallet has no card of that id.
    #[error("no such card in this wallet")]
    NoSuchCard,
    /// The card's registration has not been verified by the provider.
    #[error("this card is not verified")]
    CardNotVerified,
}

/// What a new top-up request is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopUpFacts {
    /// The wallet's currency.
    pub wallet: Currency,
    /// Whether the wallet was closed.
    pub closed: bool,
    /// Whether the card named is verified; `None` when the wallet has no such card.
    pub card_verified: Option<bool>,
}

/// Whether a top-up of `amount` may be collected from the card into the wallet: not into a closed
/// wallet, an amount in range and in the wallet's currency, from a verified card of the wallet;
/// refused in that order.
pub fn may_top_up(amount: Money, facts: &TopUpFacts) -> Result<(), TopUpRefused> {
    if facts.closed {
        return Err(TopUpRefused::Closed);
    }
    check_amount(amount, facts.wallet)?;
    match facts.card_verified {
        None => Err(TopUpRefused::NoSuchCard),
        Some(false) => Err(TopUpRefused::CardNotVerified),
        Some(true) => Ok(()),
    }
}

/// Whether `amount` may be topped up into a wallet holding `wallet`.
pub fn check_amount(amount: Money, wallet: Currency) -> Result<(), TopUpRefused> {
    if amount.minor() <= 0 || amount.minor() > MAX_TOP_UP {
        return Err(TopUpRefused::OutOfRange);
    }
    if amount.currency() != wallet {
        return Err(TopUpRefused::OtherCurrency(wallet));
    }
    Ok(())
}

/// What the funding provider says of a collection asked for under a top-up's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRecord {
    /// It took `amount` from the card.
    Collected { amount: Money },
    /// It refused (declined, or the card is gone): nothing was taken.
    Refused,
    /// It has no record of the request: it never arrived, or has not yet.
    NotFound,
}

/// What to do with a top-up left `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Credit the wallet and mark it `succeeded`.
    Credit,
    /// Mark it `failed` (the shopper is told; nothing was taken).
    Fail,
    /// Ask again later: it may still be on its way to the provider.
    Wait,
    /// The provider took another amount than the top-up's: never credit a guess. The operator
    /// must look (it stays `pending`, and is reported).
    Mismatch { collected: Money },
}

/// Whether a retried request may still ask the provider to collect a `pending` top-up written at
/// `written_at` (the provider takes it at most once): only while the reconciler cannot yet give
/// it up as never sent, with room for the request to finish. Later, a retry only looks it up.
pub fn may_collect(written_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - written_at < NEVER_SENT_AFTER / 2
}

/// How to settle a top-up of `amount`, written at `written_at` and still `pending` at `now`, given
/// what the provider says of it.
pub fn settle(record: &ProviderRecord, amount: Money, written_at: OffsetDateTime, now: OffsetDateTime) -> Settlement {
    match record {
        ProviderRecord::Collected { amount: collected } if *collected == amount => Settlement::Credit,
        ProviderRecord::Collected { amount: collected } => Settlement::Mismatch { collected: *collected },
        ProviderRecord::Refused => Settlement::Fail,
        ProviderRecord::NotFound if now - written_at >= NEVER_SENT_AFTER => Settlement::Fail,
        ProviderRecord::NotFound => Settlement::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_collected_top_up_is_credited_and_a_refused_one_failed() {
        let at = datetime!(2026-12-06 10:00 UTC);
        let yen = Money::yen(5_000);
        assert_eq!(settle(&ProviderRecord::Collected { amount: yen }, yen, at, at), Settlement::Credit);
        assert_eq!(settle(&ProviderRecord::Refused, yen, at, at), Settlement::Fail);
    }

    #[test]
    fn a_top_up_the_provider_never_saw_waits_until_no_request_can_still_carry_it() {
        let at = datetime!(2026-12-06 10:00 UTC);
        let yen = Money::yen(5_000);
        let just_before = at + NEVER_SENT_AFTER - Duration::SECOND;
        assert_eq!(settle(&ProviderRecord::NotFound, yen, at, at), Settlement::Wait);
        assert_eq!(settle(&ProviderRecord::NotFound, yen, at, just_before), Settlement::Wait);
        assert_eq!(settle(&ProviderRecord::NotFound, yen, at, at + NEVER_SENT_AFTER), Settlement::Fail);
    }

    #[test]
    fn a_retry_collects_only_long_before_the_reconciler_may_give_up() {
        let at = datetime!(2026-12-06 10:00 UTC);
        assert!(may_collect(at, at));
        assert!(may_collect(at, at + NEVER_SENT_AFTER / 2 - Duration::SECOND));
        assert!(!may_collect(at, at + NEVER_SENT_AFTER / 2));
    }

    #[test]
    fn another_amount_collected_is_never_credited() {
        let at = datetime!(2026-12-06 10:00 UTC);
        let taken = ProviderRecord::Collected { amount: Money::yen(50_000) };
        assert_eq!(
            settle(&taken, Money::yen(5_000), at, at + Duration::hours(1)),
            Settlement::Mismatch { collected: Money::yen(50_000) }
        );
    }

    #[test]
    fn amounts_outside_the_range_or_currency_are_refused() {
        assert_eq!(check_amount(Money::yen(1), Currency::Jpy), Ok(()));
        assert_eq!(check_amount(Money::yen(MAX_TOP_UP), Currency::Jpy), Ok(()));
        assert_eq!(check_amount(Money::yen(0), Currency::Jpy), Err(TopUpRefused::OutOfRange));
        assert_eq!(check_amount(Money::yen(-5), Currency::Jpy), Err(TopUpRefused::OutOfRange));
        assert_eq!(check_amount(Money::yen(MAX_TOP_UP + 1), Currency::Jpy), Err(TopUpRefused::OutOfRange));
    }

    #[test]
    fn a_top_up_needs_an_open_wallet_a_fair_amount_and_a_verified_card_in_that_order() {
        let fine = TopUpFacts { wallet: Currency::Jpy, closed: false, card_verified: Some(true) };
        assert_eq!(may_top_up(Money::yen(1000), &fine), Ok(()));
        let closed = TopUpFacts { closed: true, card_verified: None, ..fine };
        // A closed wallet is refused first, whatever else is wrong.
        assert_eq!(may_top_up(Money::yen(0), &closed), Err(TopUpRefused::Closed));
        let no_card = TopUpFacts { card_verified: None, ..fine };
        assert_eq!(may_top_up(Money::yen(0), &no_card), Err(TopUpRefused::OutOfRange));
        assert_eq!(may_top_up(Money::yen(1000), &no_card), Err(TopUpRefused::NoSuchCard));
        let unverified = TopUpFacts { card_verified: Some(false), ..fine };
        assert_eq!(may_top_up(Money::yen(1000), &unverified), Err(TopUpRefused::CardNotVerified));
        assert_eq!(may_top_up(Money::yen(MAX_TOP_UP + 1), &unverified), Err(TopUpRefused::OutOfRange));
    }

    #[test]
    fn statuses_round_trip_and_only_pending_moves() {
        for s in [TopUpStatus::Pending, TopUpStatus::Succeeded, TopUpStatus::Failed] {
            assert_eq!(TopUpStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TopUpStatus::parse("collected"), None);
        assert!(!TopUpStatus::Pending.is_final());
        assert!(TopUpStatus::Succeeded.is_final() && TopUpStatus::Failed.is_final());
    }
}
