//! Whether a wallet may pay a charge, asked twice: when a terminal makes the charge from a payment
//! code, and again when the shopper confirms it with the passkey. Between the two, anything may
//! have changed: the device removed, the wallet frozen or held, a limit lowered, the balance.
//!
//! And how long a payment code survives refusals: a terminal that could retry one code for its
//! whole minute could probe the wallet's balance and limits amount by amount, so a code dies after
//! [`REFUSALS_PER_CODE`] refused charges.

use std::cmp::Ordering;

use time::OffsetDateTime;

use crate::limits::{LimitError, LimitSettings, NewDeviceCap, Spending};
use crate::money::{Money, MoneyError};

/// When the question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A terminal makes the charge: it must fit beside every charge still waiting, since each of
    /// them holds its amount of the balance until it is decided.
    Create,
    /// The shopper confirms the charge: its amount was held when it was made, so only the
    /// balance itself must still cover it.
    Confirm,
}

/// What the server read about the wallet and the paying device, inside the transaction that acts
/// on the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFacts {
    /// Whether the device whose code made the charge is still part of the wallet.
    pub device_active: bool,
    /// When that device joined the wallet (a new device is held to [`NewDeviceCap`]).
    pub device_enrolled_at: OffsetDateTime,
    /// The shopper froze the wallet.
    pub frozen: bool,
    /// The operator holds the account.
    pub held: bool,
    /// The wallet's limits as they are now.
    pub limits: LimitSettings,
    pub balance: Money,
    /// What the wallet's other charges still waiting for confirmation hold of the balance.
    pub pending_elsewhere: Money,
    /// What the wallet spent in the charge's Tokyo day and month (succeeded and pending charges),
    /// not counting this charge.
    pub spent: Spending,
}

/// Why a wallet may not pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefusal {
    #[error("the device that showed the payment code was removed from the wallet")]
    DeviceRemoved,
    #[error("the operator holds this account")]
    Held,
    #[error("the wallet is frozen")]
    Frozen,
    #[error(transparent)]
    Limit(LimitError),
    #[error("the wallet's balance is too low")]
    InsufficientFunds,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// May the wallet pay `amount` now? Checked in the order the shopper can act on: the device, a
/// hold, a freeze, the limits (with the new-device cap of `cap`), the balance.
pub fn may_pay(
    stage: Stage,
    facts: &PaymentFacts,
    amount: Money,
    cap: &NewDeviceCap,
    now: OffsetDateTime,
) -> Result<(), PaymentRefusal> {
    if !facts.device_active {
        return Err(PaymentRefusal::DeviceRemoved);
    }
    if facts.held {
        return Err(PaymentRefusal::Held);
    }
    if facts.frozen {
        return Err(PaymentRefusal::Frozen);
    }
    let limits =
        cap.apply(&facts.limits.effective(now), facts.device_enrolled_at, now).map_err(PaymentRefusal::Limit)?;
    limits.check(&facts.spent, amount).map_err(PaymentRefusal::Limit)?;
    let available = match stage {
        Stage::Create => facts.balance.checked_sub(facts.pending_elsewhere)?,
        Stage::Confirm => facts.balance,
    };
    if available.checked_cmp(amount)? == Ordering::Less {
        return Err(PaymentRefusal::InsufficientFunds);
    }
    Ok(())
}

/// How many refused charges a payment code survives.
pub const REFUSALS_PER_CODE: u32 = 3;

/// The refused charges of a device's most recently refused payment code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRefusals {
    /// The refused code's counter.
    pub counter: u32,
    /// How many charges made from it were refused.
    pub refusals: u32,
}

impl CodeRefusals {
    /// The count after a charge from the code with `counter` was refused (`self`: the count so
    /// far, of whichever code was refused last), and whether the code is now dead.
    pub fn after_refusal(previous: Option<CodeRefusals>, counter: u32) -> (CodeRefusals, bool) {
        let refusals = match previous {
            Some(p) if p.counter == counter => p.refusals.saturating_add(1),
            _ => 1,
        };
        (CodeRefusals { counter, refusals }, refusals >= REFUSALS_PER_CODE)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::limits::{LimitKind, LimitPolicy};

    const NOW: OffsetDateTime = datetime!(2026-06-10 12:00:00 +9);

    fn yen(n: i64) -> Money {
        Money::yen(n)
    }

    fn policy(per_charge: i64, daily: i64, monthly: i64) -> LimitPolicy {
        LimitPolicy::new(yen(per_charge), yen(daily), yen(monthly)).unwrap()
    }

    fn cap() -> NewDeviceCap {
        NewDeviceCap { probation: Duration::hours(24), cap: policy(3_000, 3_000, 3_000) }
    }

    fn facts() -> PaymentFacts {
        PaymentFacts {
            device_active: true,
            device_enrolled_at: NOW - Duration::days(30),
            frozen: false,
            held: false,
            limits: LimitSettings::new(policy(50_000, 100_000, 300_000)),
            balance: yen(10_000),
            pending_elsewhere: yen(0),
            spent: Spending { today: yen(0), this_month: yen(0) },
        }
    }

    #[test]
    fn a_wallet_in_order_pays() {
        assert_eq!(may_pay(Stage::Create, &facts(), yen(10_000), &cap(), NOW), Ok(()));
        assert_eq!(may_pay(Stage::Confirm, &facts(), yen(10_000), &cap(), NOW), Ok(()));
    }

    #[test]
    fn the_device_the_hold_and_the_freeze_come_first() {
        let removed = PaymentFacts { device_active: false, held: true, frozen: true, ..facts() };
        assert_eq!(may_pay(Stage::Confirm, &removed, yen(1), &cap(), NOW), Err(PaymentRefusal::DeviceRemoved));
        let held = PaymentFacts { held: true, frozen: true, ..facts() };
        assert_eq!(may_pay(Stage::Confirm, &held, yen(1), &cap(), NOW), Err(PaymentRefusal::Held));
        let frozen = PaymentFacts { frozen: true, balance: yen(0), ..facts() };
        assert_eq!(may_pay(Stage::Create, &frozen, yen(1), &cap(), NOW), Err(PaymentRefusal::Frozen));
    }

    #[test]
    fn limits_are_those_of_now_and_count_what_was_spent() {
        // Lowered after the charge was made: the confirmation is judged by the new limit.
        let lowered = PaymentFacts { limits: LimitSettings::new(policy(1_000, 1_000, 1_000)), ..facts() };
        assert!(matches!(
            may_pay(Stage::Confirm, &lowered, yen(1_001), &cap(), NOW),
            Err(PaymentRefusal::Limit(LimitError::Exceeded { kind: LimitKind::PerCharge, .. }))
        ));
        let spent = PaymentFacts { spent: Spending { today: yen(99_500), this_month: yen(99_500) }, ..facts() };
        assert!(matches!(
            may_pay(Stage::Confirm, &spent, yen(501), &cap(), NOW),
            Err(PaymentRefusal::Limit(LimitError::Exceeded { kind: LimitKind::Daily, .. }))
        ));
        assert_eq!(may_pay(Stage::Confirm, &spent, yen(500), &cap(), NOW), Ok(()));
        // A device enrolled an hour ago is held to the cap.
        let new = PaymentFacts { device_enrolled_at: NOW - Duration::hours(1), ..facts() };
        assert!(matches!(may_pay(Stage::Create, &new, yen(3_001), &cap(), NOW), Err(PaymentRefusal::Limit(_))));
        assert_eq!(may_pay(Stage::Create, &new, yen(3_000), &cap(), NOW), Ok(()));
    }

    #[test]
    fn a_new_charge_fits_beside_those_waiting_and_a_confirmation_only_needs_the_balance() {
        let waiting = PaymentFacts { pending_elsewhere: yen(6_000), ..facts() };
        assert_eq!(may_pay(Stage::Create, &waiting, yen(4_001), &cap(), NOW), Err(PaymentRefusal::InsufficientFunds));
        assert_eq!(may_pay(Stage::Create, &waiting, yen(4_000), &cap(), NOW), Ok(()));
        assert_eq!(may_pay(Stage::Confirm, &waiting, yen(10_000), &cap(), NOW), Ok(()));
        let drained = PaymentFacts { balance: yen(999), ..facts() };
        assert_eq!(may_pay(Stage::Confirm, &drained, yen(1_000), &cap(), NOW), Err(PaymentRefusal::InsufficientFunds));
    }

    #[test]
    fn nothing_or_less_is_not_a_payment() {
        let refused = |n| may_pay(Stage::Create, &facts(), yen(n), &cap(), NOW);
        assert_eq!(refused(0), Err(PaymentRefusal::Limit(LimitError::AmountNotPositive)));
        assert_eq!(refused(-1), Err(PaymentRefusal::Limit(LimitError::AmountNotPositive)));
    }

    #[test]
    fn a_code_dies_on_its_third_refusal_and_a_newer_code_starts_afresh() {
        let (first, dead) = CodeRefusals::after_refusal(None, 7);
        assert_eq!((first, dead), (CodeRefusals { counter: 7, refusals: 1 }, false));
        let (second, dead) = CodeRefusals::after_refusal(Some(first), 7);
        assert_eq!((second.refusals, dead), (2, false));
        let (third, dead) = CodeRefusals::after_refusal(Some(second), 7);
        assert_eq!((third.refusals, dead), (3, true));
        let (newer, dead) = CodeRefusals::after_refusal(Some(second), 8);
        assert_eq!((newer, dead), (CodeRefusals { counter: 8, refusals: 1 }, false));
        let (stuck, dead) = CodeRefusals::after_refusal(Some(CodeRefusals { counter: 9, refusals: u32::MAX }), 9);
        assert_eq!((stuck.refusals, dead), (u32::MAX, true));
    }
}
