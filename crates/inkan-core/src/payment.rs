//! Whether a wallet may pay a charge, asked twice: when a terminal makes the charge from a payment
//! code, and again when the shopper confirms it with the passkey. Between the two, anything may
//! have changed: the device removed, the wallet frozen or held, a limit lowered, the balance.
//!
//! And how long a payment code survives refusals: a terminal that could retry one code for its
//! whole minute could probe the wallet's balance and limits amount by amount, so a code dies after
//! [`REFUSALS_PER_CODE`] refused charges.

use std::cmp::Ordering;

use time::OffsetDateTime;

use crate::limits::{LimitError, LimitPolicy, LimitSettings, NewDeviceCap, Spending};
use crate::money::{Money, MoneyError};
use crate::region::Country;
use crate::risk::{ChargeFacts, HoldReason, RecentCharge, RiskRules};

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
    let limits = limits_now(facts, cap, now)?;
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

/// The wallet's limits for the paying device now: its own, within the new-device cap.
fn limits_now(facts: &PaymentFacts, cap: &NewDeviceCap, now: OffsetDateTime) -> Result<LimitPolicy, PaymentRefusal> {
    cap.apply(&facts.limits.effective(now), facts.device_enrolled_at, now).map_err(PaymentRefusal::Limit)
}

/// What the velocity rules ([`crate::risk`]) read of the wallet's history, beside [`PaymentFacts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentActivity {
    /// The wallet's charges (any status) made within [`RiskRules::lookback`] of now.
    pub recent: Vec<RecentCharge>,
    /// The wallet's latest top-up.
    pub last_top_up: Option<OffsetDateTime>,
    /// Whether the paying device has paid a charge before.
    pub device_has_paid: bool,
}

/// What a terminal's new charge becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It waits for the shopper's passkey.
    AwaitShopper,
    /// A rule set it aside: a person looks at it first, and the shopper is told.
    Review(HoldReason),
}

/// May a terminal make this charge, and does it go to the shopper or to review first? The wallet
/// must be able to pay it ([`may_pay`] at [`Stage::Create`]: a charge it could not pay is refused
/// outright, never held), and then the velocity rules judge it against the wallet's recent
/// activity, the daily limit being the one that applies to the paying device now.
#[allow(clippy::too_many_arguments, reason = "each is one fact or policy of a different source")]
pub fn admit(
    facts: &PaymentFacts,
    activity: &RecentActivity,
    amount: Money,
    country: Country,
    cap: &NewDeviceCap,
    rules: &RiskRules,
    now: OffsetDateTime,
) -> Result<Admission, PaymentRefusal> {
    may_pay(Stage::Create, facts, amount, cap, now)?;
    let charge = ChargeFacts {
        amount,
        country,
        recent: activity.recent.clone(),
        last_top_up: activity.last_top_up,
        spent_today: facts.spent.today,
        daily_limit: limits_now(facts, cap, now)?.get(crate::limits::LimitKind::Daily),
        device_enrolled_at: facts.device_enrolled_at,
        device_has_paid: activity.device_has_paid,
    };
    Ok(match crate::risk::review(rules, &charge, now) {
        Some(reason) => Admission::Review(reason),
        None => Admission::AwaitShopper,
    })
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
    use proptest::prelude::*;
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

    fn quiet() -> RecentActivity {
        RecentActivity { recent: Vec::new(), last_top_up: None, device_has_paid: true }
    }

    #[test]
    fn a_charge_the_wallet_cannot_pay_is_refused_not_held() {
        let rules = RiskRules::DEFAULT;
        let burst = RecentActivity {
            recent: (1..=5).map(|m| RecentCharge { at: NOW - Duration::minutes(m), country: Country::JP }).collect(),
            ..quiet()
        };
        let admit = |facts: &PaymentFacts, activity: &RecentActivity, amount| {
            admit(facts, activity, yen(amount), Country::JP, &cap(), &rules, NOW)
        };
        assert_eq!(admit(&facts(), &quiet(), 1_000), Ok(Admission::AwaitShopper));
        assert_eq!(admit(&facts(), &burst, 1_000), Ok(Admission::Review(HoldReason::Burst)));
        let frozen = PaymentFacts { frozen: true, ..facts() };
        assert_eq!(admit(&frozen, &burst, 1_000), Err(PaymentRefusal::Frozen));
        assert_eq!(
            super::admit(&facts(), &burst, yen(1_000), Country::JP, &cap(), &RiskRules::OFF, NOW),
            Ok(Admission::AwaitShopper)
        );
    }

    #[test]
    fn the_top_up_rule_reads_the_daily_limit_of_the_paying_device() {
        // The device is new, so its day is capped at ¥3,000: ¥2,400 after a top-up is 80 % of it.
        let new = PaymentFacts { device_enrolled_at: NOW - Duration::hours(1), ..facts() };
        let topped_up = RecentActivity { last_top_up: Some(NOW - Duration::minutes(2)), ..quiet() };
        let admit = |amount| admit(&new, &topped_up, yen(amount), Country::JP, &cap(), &RiskRules::DEFAULT, NOW);
        assert_eq!(admit(2_399), Ok(Admission::AwaitShopper));
        assert_eq!(admit(2_400), Ok(Admission::Review(HoldReason::TopUpThenSpend)));
    }

    /// A reference model of [`admit`] in plain integers (yen, seconds before now), written from
    /// the rules as the product states them rather than from the implementation: no `Money`, no
    /// `LimitPolicy`, no `time`.
    mod model {
        /// What a terminal's charge comes to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Outcome {
            Removed,
            Held,
            Frozen,
            NotPositive,
            /// 0 per charge, 1 day, 2 month.
            Over(usize),
            Insufficient,
            Review(&'static str),
            Await,
        }

        #[derive(Debug, Clone)]
        pub struct Case {
            pub device_active: bool,
            pub held: bool,
            pub frozen: bool,
            /// Per charge, day, month.
            pub limits: [i64; 3],
            pub device_age_s: i64,
            pub device_has_paid: bool,
            pub balance: i64,
            pub pending: i64,
            pub today: i64,
            pub month: i64,
            pub amount: i64,
            /// Earlier charges: seconds ago, and whether the terminal was abroad.
            pub recent: Vec<(i64, bool)>,
            pub abroad: bool,
            pub top_up_s_ago: Option<i64>,
        }

        /// The new-device cap and rules of the test: ¥3,000 a charge, day and month for the first
        /// 24 h; bursts of more than 5 charges in 10 minutes; two countries within an hour; a
        /// top-up spent to 80 % of the day within 30 minutes from a device under 72 h; a first
        /// charge above ¥20,000 from a device under 24 h.
        pub fn decide(c: &Case) -> Outcome {
            const HOUR: i64 = 3_600;
            if !c.device_active {
                return Outcome::Removed;
            }
            if c.held {
                return Outcome::Held;
            }
            if c.frozen {
                return Outcome::Frozen;
            }
            if c.amount <= 0 {
                return Outcome::NotPositive;
            }
            let capped = c.device_age_s < 24 * HOUR;
            let limit = |i: usize| if capped { c.limits[i].min(3_000) } else { c.limits[i] };
            let already = [0, c.today, c.month];
            if let Some(i) = (0..3).find(|&i| already[i] + c.amount > limit(i)) {
                return Outcome::Over(i);
            }
            if c.balance - c.pending < c.amount {
                return Outcome::Insufficient;
            }
            let within = |window: i64, ago: i64| (0..window).contains(&ago);
            if c.recent.iter().filter(|(ago, _)| within(600, *ago)).count() + 1 > 5 {
                return Outcome::Review("many_charges");
            }
            if c.top_up_s_ago.is_some_and(|ago| within(1_800, ago))
                && c.device_age_s < 72 * HOUR
                && (c.today + c.amount) * 100 >= limit(1) * 80
            {
                return Outcome::Review("top_up_then_spend");
            }
            if c.recent.iter().any(|&(ago, abroad)| within(HOUR, ago) && abroad != c.abroad) {
                return Outcome::Review("two_countries");
            }
            if !c.device_has_paid && c.device_age_s < 24 * HOUR && c.amount > 20_000 {
                return Outcome::Review("new_device_first_charge");
            }
            Outcome::Await
        }
    }

    fn case() -> impl Strategy<Value = model::Case> {
        let flags = (any::<bool>(), prop::bool::weighted(0.1), prop::bool::weighted(0.1), prop::bool::weighted(0.1));
        let limits = (0i64..60_000, 0i64..60_000, 0i64..200_000).prop_map(|(p, d, m)| [p, p + d, p + d + m]);
        let device = (0i64..100 * 3_600, any::<bool>());
        let money = (0i64..80_000, 0i64..20_000, 0i64..60_000, 0i64..100_000, -10i64..40_000);
        let recent = prop::collection::vec((0i64..7_200, prop::bool::weighted(0.1)), 0..8);
        let top_up = prop::option::of(0i64..3_600);
        (flags, limits, device, money, recent, top_up).prop_map(
            |((inactive_unless, held, frozen, abroad), limits, (age, paid), money, recent, top_up_s_ago)| {
                let (balance, pending, today, month_extra, amount) = money;
                model::Case {
                    // Mostly active: a removed device ends every case at the first question.
                    device_active: inactive_unless || !held,
                    held,
                    frozen,
                    limits,
                    device_age_s: age,
                    device_has_paid: paid,
                    balance,
                    pending,
                    today,
                    month: today + month_extra,
                    amount,
                    recent,
                    abroad,
                    top_up_s_ago,
                }
            },
        )
    }

    proptest! {
        /// [`admit`] decides every charge as the reference model does: refused (and why, in the
        /// order the shopper can act on), set aside for review (and by which rule), or sent to
        /// the shopper.
        #[test]
        fn admit_matches_the_reference_model(c in case()) {
            let ago = |s: i64| NOW - Duration::seconds(s);
            let abroad = |a: bool| if a { "KR".parse().unwrap() } else { Country::JP };
            let facts = PaymentFacts {
                device_active: c.device_active,
                device_enrolled_at: ago(c.device_age_s),
                frozen: c.frozen,
                held: c.held,
                limits: LimitSettings::new(policy(c.limits[0], c.limits[1], c.limits[2])),
                balance: yen(c.balance),
                pending_elsewhere: yen(c.pending),
                spent: Spending { today: yen(c.today), this_month: yen(c.month) },
            };
            let activity = RecentActivity {
                recent: c.recent.iter().map(|&(s, a)| RecentCharge { at: ago(s), country: abroad(a) }).collect(),
                last_top_up: c.top_up_s_ago.map(ago),
                device_has_paid: c.device_has_paid,
            };
            let got = match admit(&facts, &activity, yen(c.amount), abroad(c.abroad), &cap(), &RiskRules::DEFAULT, NOW) {
                Err(PaymentRefusal::DeviceRemoved) => model::Outcome::Removed,
                Err(PaymentRefusal::Held) => model::Outcome::Held,
                Err(PaymentRefusal::Frozen) => model::Outcome::Frozen,
                Err(PaymentRefusal::Limit(LimitError::AmountNotPositive)) => model::Outcome::NotPositive,
                Err(PaymentRefusal::Limit(LimitError::Exceeded { kind, .. })) => {
                    model::Outcome::Over(LimitKind::ALL.iter().position(|k| *k == kind).unwrap())
                }
                Err(PaymentRefusal::InsufficientFunds) => model::Outcome::Insufficient,
                Err(other) => panic!("no case here should fail with {other:?}"),
                Ok(Admission::Review(reason)) => model::Outcome::Review(reason.as_str()),
                Ok(Admission::AwaitShopper) => model::Outcome::Await,
            };
            prop_assert_eq!(got, model::decide(&c), "{:?}", c);
        }
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
