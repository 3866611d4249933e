//! Money out: a wallet closed, its balance paid back to a card of its owner's.
//!
//! 7pay's shoppers were refunded by hand after the service shut down. Here a shopper closes their
//! own wallet, and the operator can close every wallet (a wind-down); either way the balance goes
//! back to a verified card through the funding provider, as a ledger movement like any other
//! (`payout`: the wallet's book to the provider's clearing book), with the pay-out's id as the
//! provider's idempotency key, and the account ends frozen and closed. A pay-out the provider
//! refuses gives the money back to the wallet, which stays frozen until the shopper picks another
//! way.
//!
//! The money goes back where it came from ([`payout_card`]): to the first card that topped the
//! wallet up and has not refused a pay-out, never simply to the newest card. Adding a card needs
//! only a session, so a thief holding an unlocked phone could otherwise add their own card and
//! close the wallet to it.

use std::fmt;

use time::OffsetDateTime;

use crate::Money;
use crate::topup::{self, ProviderRecord, Settlement};

/// What the server read about a wallet, with its account row locked, to close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosingFacts {
    /// The wallet was already closed.
    pub closed: bool,
    /// A pay-out of it is still on its way to the provider.
    pub paying_out: bool,
    /// The operator holds the account (an investigation): no money leaves it.
    pub held: bool,
    /// Charges still open (waiting for the shopper or for review): each holds its amount.
    pub open_charges: u32,
    pub balance: Money,
    /// [`payout_card`] found a card to pay the balance back to.
    pub card_to_pay: bool,
}

/// Why a wallet cannot be closed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseRefused {
    #[error("the wallet is already closed")]
    AlreadyClosed,
    #[error("the wallet's balance is already on its way back to the card")]
    PayingOut,
    #[error("the operator holds this account; contact Inkan support")]
    Held,
    #[error("{0} payment(s) are still open: confirm or decline them first")]
    OpenCharges(u32),
    #[error(
        "no card that topped this wallet up can take its balance back: add and verify a card, top up with it, then close the wallet"
    )]
    NoCard,
}

/// How a wallet is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Nothing to pay back: closed at once.
    Empty,
    /// The balance goes back to the card.
    PayBack(Money),
}

/// Whether, and how, the wallet may be closed.
pub fn may_close(facts: &ClosingFacts) -> Result<Closing, CloseRefused> {
    if facts.closed {
        return Err(CloseRefused::AlreadyClosed);
    }
    if facts.paying_out {
        return Err(CloseRefused::PayingOut);
    }
    if facts.held {
        return Err(CloseRefused::Held);
    }
    if facts.open_charges > 0 {
        return Err(CloseRefused::OpenCharges(facts.open_charges));
    }
    if facts.balance.minor() == 0 {
        return Ok(Closing::Empty);
    }
    if !facts.card_to_pay {
        return Err(CloseRefused::NoCard);
    }
    Ok(Closing::PayBack(facts.balance))
}

/// A card of the wallet, as the choice of where its balance goes needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts<Id> {
    pub id: Id,
    pub added_at: OffsetDateTime,
    /// The provider verified it.
    pub verified: bool,
    /// A top-up from it succeeded: money of the wallet came from it.
    pub funded: bool,
    /// A pay-out to it was refused by the provider: it cannot take money back.
    pub refused_payout: bool,
}

/// The card a wallet's balance is paid back to: of the verified cards that topped the wallet up
/// and never refused a pay-out, the one added first (ties by id). The money goes back where it
/// came from, and a card added later, by a thief with a session or by the owner, receives it only
/// when every earlier card that funded the wallet has refused it.
pub fn payout_card<Id: Ord>(cards: &[CardFacts<Id>]) -> Option<&CardFacts<Id>> {
    cards
        .iter()
        .filter(|c| c.verified && c.funded && !c.refused_payout)
        .min_by(|a, b| a.added_at.cmp(&b.added_at).then_with(|| a.id.cmp(&b.id)))
}

/// A closed wallet stays frozen: its money has left, and nothing lifts the freeze.
pub fn may_unfreeze(closed: bool) -> Result<(), CloseRefused> {
    if closed { Err(CloseRefused::AlreadyClosed) } else { Ok(()) }
}

/// What to do with a pay-out still `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutSettlement {
    /// As a top-up would be settled (`Credit` meaning paid).
    Settle(Settlement),
    /// Ask the provider to pay it now, under its id (the provider pays it at most once).
    Send,
}

/// How a pay-out of `amount`, written at `written_at` and still `pending` at `now`, is settled,
/// given what the provider says of it: as a top-up is ([`topup::settle`]), except that one the
/// provider never received is sent again while [`topup::may_collect`] allows. Its money left the
/// wallet when it was decided; a server stopped between writing it and asking the provider must
/// not leave the shopper waiting for the pay-out to be given up.
pub fn settle_payout(
    record: &ProviderRecord,
    amount: Money,
    written_at: OffsetDateTime,
    now: OffsetDateTime,
) -> PayoutSettlement {
    match topup::settle(record, amount, written_at, now) {
        Settlement::Wait if *record == ProviderRecord::NotFound && topup::may_collect(written_at, now) => {
            PayoutSettlement::Send
        }
        settlement => PayoutSettlement::Settle(settlement),
    }
}

/// Why money is paid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutReason {
    /// The shopper closed the wallet.
    Closed,
    /// The operator wound the service down.
    WindDown,
}

impl PayoutReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutReason::Closed => "closed",
            PayoutReason::WindDown => "wind_down",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutReason> {
        match s {
            "closed" => Some(PayoutReason::Closed),
            "wind_down" => Some(PayoutReason::WindDown),
            _ => None,
        }
    }
}

impl fmt::Display for PayoutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ClosingFacts {
        ClosingFacts {
            closed: false,
            paying_out: false,
            held: false,
            open_charges: 0,
            balance: Money::yen(12_345),
            card_to_pay: true,
        }
    }

    #[test]
    fn the_balance_goes_back_to_the_card() {
        assert_eq!(may_close(&facts()), Ok(Closing::PayBack(Money::yen(12_345))));
    }

    #[test]
    fn an_empty_wallet_closes_without_a_card() {
        let empty = ClosingFacts { balance: Money::yen(0), card_to_pay: false, ..facts() };
        assert_eq!(may_close(&empty), Ok(Closing::Empty));
    }

    #[test]
    fn nothing_is_paid_out_twice_nor_past_a_hold_an_open_charge_or_without_a_card() {
        assert_eq!(may_close(&ClosingFacts { closed: true, ..facts() }), Err(CloseRefused::AlreadyClosed));
        assert_eq!(may_close(&ClosingFacts { paying_out: true, ..facts() }), Err(CloseRefused::PayingOut));
        assert_eq!(may_close(&ClosingFacts { held: true, ..facts() }), Err(CloseRefused::Held));
        assert_eq!(may_close(&ClosingFacts { open_charges: 2, ..facts() }), Err(CloseRefused::OpenCharges(2)));
        assert_eq!(may_close(&ClosingFacts { card_to_pay: false, ..facts() }), Err(CloseRefused::NoCard));
    }

    #[test]
    fn a_pay_out_the_provider_never_received_is_sent_again_then_given_up() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let yen = Money::yen(3_000);
        let not_found =
            |minutes: i64| settle_payout(&ProviderRecord::NotFound, yen, at, at + time::Duration::minutes(minutes));
        assert_eq!(not_found(0), PayoutSettlement::Send);
        assert_eq!(not_found(4), PayoutSettlement::Send);
        assert_eq!(not_found(6), PayoutSettlement::Settle(Settlement::Wait), "a request may still carry it");
        assert_eq!(not_found(10), PayoutSettlement::Settle(Settlement::Fail));
        let paid = ProviderRecord::Collected { amount: yen };
        assert_eq!(settle_payout(&paid, yen, at, at), PayoutSettlement::Settle(Settlement::Credit));
        assert_eq!(settle_payout(&ProviderRecord::Refused, yen, at, at), PayoutSettlement::Settle(Settlement::Fail));
    }

    fn card(id: &str, day: i64) -> CardFacts<String> {
        CardFacts {
            id: id.to_owned(),
            added_at: OffsetDateTime::UNIX_EPOCH + time::Duration::days(day),
            verified: true,
            funded: true,
            refused_payout: false,
        }
    }

    #[test]
    fn the_money_goes_back_to_the_first_card_that_funded_the_wallet() {
        let owners = card("owners", 1);
        // A thief with a session adds a card, tops up from it and closes: the owner's card is paid.
        let thiefs = card("thiefs", 9);
        assert_eq!(payout_card(&[thiefs.clone(), owners.clone()]).map(|c| &c.id), Some(&owners.id));
        // A card that never funded the wallet, or is not verified, is never paid, however old.
        let never_funded = CardFacts { funded: false, ..card("never_funded", 0) };
        let unverified = CardFacts { verified: false, ..card("unverified", 0) };
        let cards = [never_funded.clone(), unverified, thiefs.clone(), owners.clone()];
        assert_eq!(payout_card(&cards).map(|c| &c.id), Some(&owners.id));
        assert_eq!(payout_card(&[never_funded]), None);
        assert_eq!(payout_card::<String>(&[]), None);
        // Ties go by id, so the choice never depends on the order the cards were read in.
        let twin = card("a_twin", 1);
        assert_eq!(payout_card(&[owners.clone(), twin.clone()]).map(|c| &c.id), Some(&twin.id));
    }

    #[test]
    fn a_card_that_refused_a_pay_out_is_passed_over_for_the_next_that_funded_the_wallet() {
        let expired = CardFacts { refused_payout: true, ..card("expired", 1) };
        let next = card("next", 5);
        assert_eq!(payout_card(&[expired.clone(), next.clone()]).map(|c| &c.id), Some(&next.id));
        assert_eq!(payout_card(&[expired]), None);
    }

    #[test]
    fn a_closed_wallet_is_never_unfrozen() {
        assert_eq!(may_unfreeze(true), Err(CloseRefused::AlreadyClosed));
        assert_eq!(may_unfreeze(false), Ok(()));
    }

    #[test]
    fn reasons_round_trip() {
        for r in [PayoutReason::Closed, PayoutReason::WindDown] {
            assert_eq!(PayoutReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(PayoutReason::parse("refund"), None);
    }
}
