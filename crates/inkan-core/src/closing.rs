//! Money out: a wallet closed, its balance paid back to a card of its owner's.
//!
//! 7pay's shoppers were refunded by hand after the service shut down. Here a shopper closes their
//! own wallet, and the operator can close every wallet (a wind-down); either way the balance goes
//! back to a verified card through the funding provider, as a ledger movement like any other
//! (`payout`: the wallet's book to the provider's clearing book), with the pay-out's id as the
//! provider's idempotency key, and the account ends frozen and closed. A pay-out the provider
//! refuses gives the money back to the wallet, which stays frozen until the shopper picks another
//! way.

use std::fmt;

use crate::Money;

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
    /// The wallet has a verified card to pay the balance back to.
    pub verified_card: bool,
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
    #[error("add and verify a card to pay the balance back to")]
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
    if !facts.verified_card {
        return Err(CloseRefused::NoCard);
    }
    Ok(Closing::PayBack(facts.balance))
}

/// A closed wallet stays frozen: its money has left, and nothing lifts the freeze.
pub fn may_unfreeze(closed: bool) -> Result<(), CloseRefused> {
    if closed { Err(CloseRefused::AlreadyClosed) } else { Ok(()) }
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
            verified_card: true,
        }
    }

    #[test]
    fn the_balance_goes_back_to_the_card() {
        assert_eq!(may_close(&facts()), Ok(Closing::PayBack(Money::yen(12_345))));
    }

    #[test]
    fn an_empty_wallet_closes_without_a_card() {
        let empty = ClosingFacts { balance: Money::yen(0), verified_card: false, ..facts() };
        assert_eq!(may_close(&empty), Ok(Closing::Empty));
    }

    #[test]
    fn nothing_is_paid_out_twice_nor_past_a_hold_an_open_charge_or_without_a_card() {
        assert_eq!(may_close(&ClosingFacts { closed: true, ..facts() }), Err(CloseRefused::AlreadyClosed));
        assert_eq!(may_close(&ClosingFacts { paying_out: true, ..facts() }), Err(CloseRefused::PayingOut));
        assert_eq!(may_close(&ClosingFacts { held: true, ..facts() }), Err(CloseRefused::Held));
        assert_eq!(may_close(&ClosingFacts { open_charges: 2, ..facts() }), Err(CloseRefused::OpenCharges(2)));
        assert_eq!(may_close(&ClosingFacts { verified_card: false, ..facts() }), Err(CloseRefused::NoCard));
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
