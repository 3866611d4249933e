//! Paying offline: whether a charge from a payment code that carries the shopper's pre-approval
//! (docs/payment-code.md, version 2) is paid at once, without the push and the passkey.
//!
//! A pre-approval is the shopper's consent, given once with their biometric or passkey, to one
//! payment of at most its cap before it expires. It stands in for the confirmation only; the
//! wallet must still be able to pay ([`crate::payment::may_pay`]: device, hold, freeze, limits,
//! balance), and the velocity rules still set a charge aside for review first. A charge whose
//! pre-approval does not apply is not refused for that: it waits for the shopper as any other.

use std::cmp::Ordering;

use time::OffsetDateTime;

use crate::money::{Money, MoneyError};
use crate::payment_code::CLOCK_SKEW;
use crate::payment_code::v2::{MAX_APPROVAL_LIFETIME, PreApproval};

/// At most this many charges of one wallet are paid on pre-approvals in a Tokyo day.
pub const PRE_APPROVED_PER_DAY: u32 = 3;

/// What the server read about the wallet and the paying device's pre-approvals, inside the
/// transaction that acts on the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalFacts {
    /// The highest pre-approval number of the device already used to pay (0: none; the app
    /// numbers approvals from 1).
    pub used_up_to: u32,
    /// Every pre-approval of the device numbered up to this one was cancelled (0: none).
    pub cancelled_up_to: u32,
    /// The wallet's charges paid on a pre-approval in the Tokyo day of `now`.
    pub paid_today: u32,
    /// The most the shopper lets one offline payment be, as their limits say now (a cap lowered
    /// after the approval was given applies to it).
    pub offline_cap: Money,
}

/// Why a pre-approval does not pay a charge at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPreApproved {
    #[error("the pre-approval has expired")]
    Expired,
    #[error("the pre-approval says it lasts longer than any the app gives")]
    TooLong,
    #[error("the pre-approval has paid already")]
    Used,
    #[error("the pre-approval was cancelled")]
    Cancelled,
    #[error("the amount is above the pre-approval's cap")]
    OverItsCap,
    #[error("the amount is above the wallet's offline limit")]
    OverTheOfflineLimit,
    #[error("the wallet has paid {PRE_APPROVED_PER_DAY} times offline today")]
    DailyCount,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Does `approval` pay `amount` at once? Checked in the order: its own validity (expiry, one use,
/// not cancelled), then the amounts (its cap, the wallet's offline limit now), then the day's
/// count. Whether the wallet may pay at all is [`crate::payment::may_pay`]'s question, asked too.
pub fn applies(
    approval: &PreApproval,
    facts: &ApprovalFacts,
    amount: Money,
    now: OffsetDateTime,
) -> Result<(), NotPreApproved> {
    if now >= approval.expires {
        return Err(NotPreApproved::Expired);
    }
    if approval.expires > now + MAX_APPROVAL_LIFETIME + CLOCK_SKEW {
        return Err(NotPreApproved::TooLong);
    }
    if approval.number <= facts.used_up_to {
        return Err(NotPreApproved::Used);
    }
    if approval.number <= facts.cancelled_up_to {
        return Err(NotPreApproved::Cancelled);
    }
    // The cap is in the wallet's currency (the offline limit's): a charge in another one is an
    // error, not a comparison.
    let cap = Money::new(facts.offline_cap.currency(), i64::from(approval.cap));
    if amount.checked_cmp(cap)? == Ordering::Greater {
        return Err(NotPreApproved::OverItsCap);
    }
    if amount.checked_cmp(facts.offline_cap)? == Ordering::Greater {
        return Err(NotPreApproved::OverTheOfflineLimit);
    }
    if facts.paid_today >= PRE_APPROVED_PER_DAY {
        return Err(NotPreApproved::DailyCount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-06-10 12:00:00 +9);

    fn approval(number: u32, cap: u32) -> PreApproval {
        PreApproval { number, cap, expires: NOW + Duration::minutes(5) }
    }

    fn facts() -> ApprovalFacts {
        ApprovalFacts { used_up_to: 0, cancelled_up_to: 0, paid_today: 0, offline_cap: Money::yen(3_000) }
    }

    #[test]
    fn a_fresh_approval_pays_up_to_its_cap() {
        assert_eq!(applies(&approval(1, 3_000), &facts(), Money::yen(3_000), NOW), Ok(()));
        assert_eq!(applies(&approval(1, 1_000), &facts(), Money::yen(1), NOW), Ok(()));
        assert_eq!(applies(&approval(1, 1_000), &facts(), Money::yen(1_001), NOW), Err(NotPreApproved::OverItsCap));
    }

    #[test]
    fn it_pays_once_and_not_after_it_was_cancelled() {
        assert_eq!(applies(&approval(0, 3_000), &facts(), Money::yen(100), NOW), Err(NotPreApproved::Used));
        let used = ApprovalFacts { used_up_to: 4, ..facts() };
        assert_eq!(applies(&approval(4, 3_000), &used, Money::yen(100), NOW), Err(NotPreApproved::Used));
        assert_eq!(applies(&approval(3, 3_000), &used, Money::yen(100), NOW), Err(NotPreApproved::Used));
        assert_eq!(applies(&approval(5, 3_000), &used, Money::yen(100), NOW), Ok(()));
        let cancelled = ApprovalFacts { cancelled_up_to: 7, ..used };
        assert_eq!(applies(&approval(7, 3_000), &cancelled, Money::yen(100), NOW), Err(NotPreApproved::Cancelled));
        assert_eq!(applies(&approval(8, 3_000), &cancelled, Money::yen(100), NOW), Ok(()));
    }

    #[test]
    fn it_expires_and_cannot_claim_a_long_life() {
        let a = approval(1, 3_000);
        assert_eq!(applies(&a, &facts(), Money::yen(100), a.expires - Duration::seconds(1)), Ok(()));
        assert_eq!(applies(&a, &facts(), Money::yen(100), a.expires), Err(NotPreApproved::Expired));
        let long = PreApproval { expires: NOW + Duration::hours(1), ..a };
        assert_eq!(applies(&long, &facts(), Money::yen(100), NOW), Err(NotPreApproved::TooLong));
    }

    #[test]
    fn a_lowered_offline_limit_applies_to_an_approval_given_before() {
        let lowered = ApprovalFacts { offline_cap: Money::yen(500), ..facts() };
        assert_eq!(
            applies(&approval(1, 3_000), &lowered, Money::yen(501), NOW),
            Err(NotPreApproved::OverTheOfflineLimit)
        );
        assert_eq!(applies(&approval(1, 3_000), &lowered, Money::yen(500), NOW), Ok(()));
        let off = ApprovalFacts { offline_cap: Money::yen(0), ..facts() };
        assert_eq!(applies(&approval(1, 3_000), &off, Money::yen(1), NOW), Err(NotPreApproved::OverTheOfflineLimit));
    }

    #[test]
    fn three_a_day_at_most() {
        let third = ApprovalFacts { paid_today: 2, ..facts() };
        assert_eq!(applies(&approval(1, 3_000), &third, Money::yen(100), NOW), Ok(()));
        let fourth = ApprovalFacts { paid_today: 3, ..facts() };
        assert_eq!(applies(&approval(1, 3_000), &fourth, Money::yen(100), NOW), Err(NotPreApproved::DailyCount));
    }
}
