//! Spending limits: per charge, per Tokyo day and per Tokyo month.
//!
//! Everything here is a pure function of (policy, spending so far, now). Lowering a limit applies
//! at once; raising one waits out a cooling-off period (24 h in production) and needs a passkey
//! step-up, which the server checks before it calls [`LimitSettings::request`]. A device in its
//! first hours after enrolment is held to a reduced cap ([`NewDeviceCap`]).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::money::{Money, MoneyError};
use crate::tokyo;

/// Which limit a check or a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    PerCharge,
    Daily,
    Monthly,
}

impl LimitKind {
    pub const ALL: [LimitKind; 3] = [LimitKind::PerCharge, LimitKind::Daily, LimitKind::Monthly];
}

/// Why a limit policy, a change or a charge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the {0:?} limit cannot be negative")]
    Negative(LimitKind),
    #[error("the per-charge limit cannot exceed the daily limit, nor the daily the monthly")]
    Inconsistent,
    #[error("a charge amount must be positive")]
    AmountNotPositive,
    #[error("over the {kind:?} limit of {limit}: {remaining} remains")]
    Exceeded { kind: LimitKind, limit: Money, remaining: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The three limits of a wallet, all in one currency, each at least zero, and
/// `per_charge <= daily <= monthly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, try_from = "LimitPolicyWire")]
pub struct LimitPolicy {
    per_charge: Money,
    daily: Money,
    monthly: Money,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitPolicyWire {
    per_charge: Money,
    daily: Money,
    monthly: Money,
}

impl TryFrom<LimitPolicyWire> for LimitPolicy {
    type Error = LimitError;
    fn try_from(w: LimitPolicyWire) -> Result<Self, LimitError> {
        LimitPolicy::new(w.per_charge, w.daily, w.monthly)
    }
}

impl LimitPolicy {
    pub fn new(per_charge: Money, daily: Money, monthly: Money) -> Result<Self, LimitError> {
        for (kind, value) in
            [(LimitKind::PerCharge, per_charge), (LimitKind::Daily, daily), (LimitKind::Monthly, monthly)]
        {
            if value.is_negative() {
                return Err(LimitError::Negative(kind));
            }
        }
        if per_charge.checked_cmp(daily)? == Ordering::Greater || daily.checked_cmp(monthly)? == Ordering::Greater {
            return Err(LimitError::Inconsistent);
        }
        Ok(LimitPolicy { per_charge, daily, monthly })
    }

    pub fn get(&self, kind: LimitKind) -> Money {
        match kind {
            LimitKind::PerCharge => self.per_charge,
            LimitKind::Daily => self.daily,
            LimitKind::Monthly => self.monthly,
        }
    }

    /// Each limit the smaller of the two. The result is consistent when both inputs are.
    pub fn min(&self, other: &LimitPolicy) -> Result<LimitPolicy, LimitError> {
        LimitPolicy::new(
            self.per_charge.checked_min(other.per_charge)?,
            self.daily.checked_min(other.daily)?,
            self.monthly.checked_min(other.monthly)?,
        )
    }

    /// Refuses `amount` if it would take the wallet over any limit, given what it has already
    /// spent (counting charges still waiting for confirmation). Checked in the order per charge,
    /// day, month, so the error names the tightest rule the shopper can see first.
    pub fn check(&self, spent: &Spending, amount: Money) -> Result<(), LimitError> {
        if !amount.is_positive() {
            return Err(LimitError::AmountNotPositive);
        }
        let checks = [
            (LimitKind::PerCharge, Money::zero(amount.currency())),
            (LimitKind::Daily, spent.today),
            (LimitKind::Monthly, spent.this_month),
        ];
        for (kind, already) in checks {
            let limit = self.get(kind);
            let after = already.checked_add(amount)?;
            if after.checked_cmp(limit)? == Ordering::Greater {
                let remaining = limit.checked_sub(already)?;
                let remaining = if remaining.is_negative() { Money::zero(limit.currency()) } else { remaining };
                return Err(LimitError::Exceeded { kind, limit, remaining });
            }
        }
        Ok(())
    }

    /// The most a single charge could be right now: what the UI shows as "left today".
    pub fn remaining(&self, spent: &Spending) -> Result<Money, LimitError> {
        let day = self.daily.checked_sub(spent.today)?;
        let month = self.monthly.checked_sub(spent.this_month)?;
        let left = day.checked_min(month)?.checked_min(self.per_charge)?;
        Ok(if left.is_negative() { Money::zero(left.currency()) } else { left })
    }
}

/// What a wallet has spent in the current Tokyo day and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Spending {
    pub today: Money,
    pub this_month: Money,
}

impl Spending {
    /// Sums the charges of `history` that fall in the Tokyo day and month of `now`.
    pub fn from_history<I>(currency: crate::Currency, history: I, now: OffsetDateTime) -> Result<Spending, MoneyError>
    where
        I: IntoIterator<Item = (OffsetDateTime, Money)>,
    {
        let (day, month) = (tokyo::day(now), tokyo::month(now));
        let mut spent = Spending { today: Money::zero(currency), this_month: Money::zero(currency) };
        for (at, amount) in history {
            if month.contains(at) {
                spent.this_month = spent.this_month.checked_add(amount)?;
            }
            if day.contains(at) {
                spent.today = spent.today.checked_add(amount)?;
            }
        }
        Ok(spent)
    }
}

/// A raise that has been asked for and takes effect at `effective_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingRaise {
    pub policy: LimitPolicy,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_at: OffsetDateTime,
}

/// The limits of a wallet: those in force, and a raise waiting out its cooling-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSettings {
    pub current: LimitPolicy,
    pub pending: Option<PendingRaise>,
}

/// The outcome of asking for new limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitChange {
    /// The settings to store.
    pub settings: LimitSettings,
    /// Limits that went down (or stayed) and hold from now.
    pub lowered: Vec<LimitKind>,
    /// Limits that go up only at `settings.pending.effective_at`.
    pub raised: Vec<LimitKind>,
}

impl LimitChange {
    /// A raise needs the shopper's passkey: the server must have verified a step-up assertion.
    pub fn needs_step_up(&self) -> bool {
        !self.raised.is_empty()
    }
}

impl LimitSettings {
    pub fn new(current: LimitPolicy) -> Self {
        LimitSettings { current, pending: None }
    }

    /// The settings as they stand at `now`: a raise whose cooling-off has passed is folded in.
    pub fn settle(&self, now: OffsetDateTime) -> LimitSettings {
        match self.pending {
            Some(raise) if raise.effective_at <= now => LimitSettings::new(raise.policy),
            _ => *self,
        }
    }

    /// The limits in force at `now`.
    pub fn effective(&self, now: OffsetDateTime) -> LimitPolicy {
        self.settle(now).current
    }

    /// Asks for `requested` at `now`. Each limit that goes down (or stays) applies at once; each
    /// that goes up waits `cooling_off`. A request replaces any raise still waiting, and a request
    /// with a raise in it starts the cooling-off again: a new raise never rides on an old clock.
    pub fn request(
        &self,
        requested: LimitPolicy,
        now: OffsetDateTime,
        cooling_off: Duration,
    ) -> Result<LimitChange, LimitError> {
        let base = self.effective(now);
        let mut lowered = Vec::new();
        let mut raised = Vec::new();
        for kind in LimitKind::ALL {
            match requested.get(kind).checked_cmp(base.get(kind))? {
                Ordering::Greater => raised.push(kind),
                Ordering::Less | Ordering::Equal => lowered.push(kind),
            }
        }
        let current = base.min(&requested)?;
        let pending = if raised.is_empty() {
            None
        } else {
            Some(PendingRaise { policy: requested, effective_at: now + cooling_off })
        };
        Ok(LimitChange { settings: LimitSettings { current, pending }, lowered, raised })
    }
}

/// Reduced limits for a device in its first hours: a stolen session that enrols a new phone
/// cannot spend the whole wallet before the owner sees the "new device" notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDeviceCap {
    pub probation: Duration,
    pub cap: LimitPolicy,
}

impl NewDeviceCap {
    /// The limits that hold for a charge made with a device enrolled at `enrolled_at`.
    pub fn apply(
        &self,
        policy: &LimitPolicy,
        enrolled_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<LimitPolicy, LimitError> {
        if now < enrolled_at + self.probation { policy.min(&self.cap) } else { Ok(*policy) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn policy(per_charge: i64, daily: i64, monthly: i64) -> LimitPolicy {
        LimitPolicy::new(Money::yen(per_charge), Money::yen(daily), Money::yen(monthly)).unwrap()
    }

    fn spent(history: &[(OffsetDateTime, i64)], now: OffsetDateTime) -> Spending {
        Spending::from_history(Currency::Jpy, history.iter().map(|&(t, a)| (t, Money::yen(a))), now).unwrap()
    }

    #[test]
    fn policy_must_be_consistent() {
        assert_eq!(
            LimitPolicy::new(Money::yen(-1), Money::yen(1), Money::yen(1)),
            Err(LimitError::Negative(LimitKind::PerCharge))
        );
        assert_eq!(LimitPolicy::new(Money::yen(5), Money::yen(4), Money::yen(9)), Err(LimitError::Inconsistent));
        assert_eq!(LimitPolicy::new(Money::yen(1), Money::yen(9), Money::yen(4)), Err(LimitError::Inconsistent));
        let bad = r#"{"per_charge":{"amount":5,"currency":"JPY"},"daily":{"amount":4,"currency":"JPY"},"monthly":{"amount":9,"currency":"JPY"}}"#;
        assert!(serde_json::from_str::<LimitPolicy>(bad).is_err());
    }

    #[test]
    fn daily_limit_resets_at_midnight_jst() {
        let p = policy(10_000, 10_000, 100_000);
        let at_2359 = datetime!(2026-06-10 23:59:00 +9);
        let at_0000 = datetime!(2026-06-11 00:00:00 +9);
        let history = [(at_2359, 9_000)];
        // At 23:59:30 the same day, only ¥1,000 is left.
        let late = datetime!(2026-06-10 23:59:30 +9);
        assert_eq!(
            p.check(&spent(&history, late), Money::yen(1_001)),
            Err(LimitError::Exceeded {
                kind: LimitKind::Daily,
                limit: Money::yen(10_000),
                remaining: Money::yen(1_000)
            })
        );
        assert_eq!(p.check(&spent(&history, late), Money::yen(1_000)), Ok(()));
        // At 00:00 JST a new day starts, although it is still the same UTC day (15:00 UTC).
        assert_eq!(spent(&history, at_0000).today, Money::yen(0));
        assert_eq!(p.check(&spent(&history, at_0000), Money::yen(10_000)), Ok(()));
        // ...but 00:00 UTC, which is 09:00 JST, is not a day boundary.
        let morning = datetime!(2026-06-10 09:00:00 +9);
        let history = [(datetime!(2026-06-10 08:59:00 +9), 9_000)];
        assert_eq!(spent(&history, morning).today, Money::yen(9_000));
    }

    #[test]
    fn monthly_limit_resets_at_month_end_jst() {
        let p = policy(50_000, 50_000, 60_000);
        let history = [(datetime!(2026-01-30 12:00 +9), 30_000), (datetime!(2026-01-31 23:59:59 +9), 29_000)];
        let feb_first = datetime!(2026-02-01 00:00 +9);
        assert_eq!(spent(&history, datetime!(2026-01-31 23:59:59 +9)).this_month, Money::yen(59_000));
        assert!(matches!(
            p.check(&spent(&history, datetime!(2026-01-31 23:59:59 +9)), Money::yen(1_001)),
            Err(LimitError::Exceeded { kind: LimitKind::Monthly, .. })
        ));
        assert_eq!(spent(&history, feb_first).this_month, Money::yen(0));
        assert_eq!(p.check(&spent(&history, feb_first), Money::yen(50_000)), Ok(()));
        // Leap-year February ends on the 29th; 1 March starts a new month.
        let history = [(datetime!(2028-02-29 23:00 +9), 60_000)];
        assert!(p.check(&spent(&history, datetime!(2028-02-29 23:30 +9)), Money::yen(1)).is_err());
        assert!(p.check(&spent(&history, datetime!(2028-03-01 00:00 +9)), Money::yen(1)).is_ok());
    }

    #[test]
    fn per_charge_limit_and_non_positive_amounts() {
        let p = policy(5_000, 10_000, 100_000);
        let none = spent(&[], datetime!(2026-06-10 12:00 +9));
        assert!(matches!(
            p.check(&none, Money::yen(5_001)),
            Err(LimitError::Exceeded { kind: LimitKind::PerCharge, .. })
        ));
        assert_eq!(p.check(&none, Money::yen(0)), Err(LimitError::AmountNotPositive));
        assert_eq!(p.check(&none, Money::yen(-5)), Err(LimitError::AmountNotPositive));
        assert_eq!(p.remaining(&none), Ok(Money::yen(5_000)));
    }

    #[test]
    fn lowering_is_immediate_and_raising_waits_out_the_cooling_off() {
        let now = datetime!(2026-06-10 12:00 +9);
        let day = Duration::hours(24);
        let settings = LimitSettings::new(policy(10_000, 30_000, 100_000));

        let lower = settings.request(policy(5_000, 30_000, 100_000), now, day).unwrap();
        assert!(!lower.needs_step_up());
        assert_eq!(lower.settings.effective(now), policy(5_000, 30_000, 100_000));

        let raise = settings.request(policy(20_000, 50_000, 100_000), now, day).unwrap();
        assert!(raise.needs_step_up());
        assert_eq!(raise.raised, vec![LimitKind::PerCharge, LimitKind::Daily]);
        // During the cooling-off the old limits hold, to the second.
        let almost = now + day - Duration::SECOND;
        assert_eq!(raise.settings.effective(almost), policy(10_000, 30_000, 100_000));
        assert!(raise.settings.effective(almost).check(&spent(&[], almost), Money::yen(10_001)).is_err());
        assert_eq!(raise.settings.effective(now + day), policy(20_000, 50_000, 100_000));

        // A mixed request lowers at once and raises later.
        let mixed = settings.request(policy(20_000, 20_000, 100_000), now, day).unwrap();
        assert_eq!(mixed.settings.effective(now), policy(10_000, 20_000, 100_000));
        assert_eq!(mixed.settings.effective(now + day), policy(20_000, 20_000, 100_000));

        // Lowering during a raise's cooling-off cancels the raise and applies at once.
        let halfway = now + Duration::hours(12);
        let cancel = raise.settings.request(policy(1_000, 30_000, 100_000), halfway, day).unwrap();
        assert_eq!(cancel.settings.pending, None);
        assert_eq!(cancel.settings.effective(now + day * 2), policy(1_000, 30_000, 100_000));

        // Raising again during a cooling-off restarts the clock.
        let again = raise.settings.request(policy(20_000, 60_000, 100_000), halfway, day).unwrap();
        assert_eq!(again.settings.effective(now + day), policy(10_000, 30_000, 100_000));
        assert_eq!(again.settings.effective(halfway + day), policy(20_000, 60_000, 100_000));
    }

    #[test]
    fn new_device_is_capped_for_its_first_72_hours() {
        let cap = NewDeviceCap { probation: Duration::hours(72), cap: policy(5_000, 10_000, 10_000) };
        let wallet = policy(50_000, 100_000, 300_000);
        let enrolled = datetime!(2026-06-10 12:00 +9);
        assert_eq!(
            cap.apply(&wallet, enrolled, enrolled + Duration::hours(71)).unwrap(),
            policy(5_000, 10_000, 10_000)
        );
        assert_eq!(cap.apply(&wallet, enrolled, enrolled + Duration::hours(72)).unwrap(), wallet);
        // A cap never raises a wallet's own lower limit.
        let modest = policy(1_000, 2_000, 3_000);
        assert_eq!(cap.apply(&modest, enrolled, enrolled).unwrap(), modest);
    }

    /// Reference model: JST day and month computed by plain integer arithmetic on Unix seconds
    /// (civil-from-days), independent of the `time` crate used by the implementation.
    mod model {
        pub fn jst_day(unix: i64) -> i64 {
            (unix + 9 * 3600).div_euclid(86_400)
        }

        pub fn jst_month(unix: i64) -> (i64, i64) {
            let z = jst_day(unix) + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let month = if mp < 10 { mp + 3 } else { mp - 9 };
            let year = yoe + era * 400 + i64::from(month <= 2);
            (year, month)
        }

        /// Accepts each charge in order iff it keeps every limit; returns the decisions.
        pub fn decide(limits: (i64, i64, i64), charges: &[(i64, i64)]) -> Vec<bool> {
            let mut accepted: Vec<(i64, i64)> = Vec::new();
            charges
                .iter()
                .map(|&(t, amount)| {
                    let day: i64 = accepted.iter().filter(|(s, _)| jst_day(*s) == jst_day(t)).map(|(_, a)| a).sum();
                    let month: i64 =
                        accepted.iter().filter(|(s, _)| jst_month(*s) == jst_month(t)).map(|(_, a)| a).sum();
                    let ok = amount > 0 && amount <= limits.0 && day + amount <= limits.1 && month + amount <= limits.2;
                    if ok {
                        accepted.push((t, amount));
                    }
                    ok
                })
                .collect()
        }
    }

    proptest! {
        /// The implementation accepts exactly the charges the reference model accepts, over
        /// random histories spanning day and month boundaries (steps of up to ~2 days).
        #[test]
        fn charge_decisions_match_reference_model(
            per_charge in 1i64..20_000,
            daily_extra in 0i64..40_000,
            monthly_extra in 0i64..200_000,
            start in 1_700_000_000i64..1_900_000_000,
            steps in proptest::collection::vec((0i64..172_800, 1i64..25_000), 1..60),
        ) {
            let limits = (per_charge, per_charge + daily_extra, per_charge + daily_extra + monthly_extra);
            let p = policy(limits.0, limits.1, limits.2);
            let mut t = start;
            let charges: Vec<(i64, i64)> = steps.iter().map(|&(dt, a)| { t += dt; (t, a) }).collect();
            let expected = model::decide(limits, &charges);
            let mut accepted: Vec<(OffsetDateTime, i64)> = Vec::new();
            for (&(unix, amount), &want) in charges.iter().zip(&expected) {
                let now = OffsetDateTime::from_unix_timestamp(unix).unwrap();
                let got = p.check(&spent(&accepted, now), Money::yen(amount)).is_ok();
                prop_assert_eq!(got, want, "charge of {} at {}", amount, now);
                if got {
                    accepted.push((now, amount));
                }
            }
        }

        /// Whatever is asked, at no instant before the cooling-off ends is any limit higher than
        /// it was; from the moment of asking every limit is at most what was asked.
        #[test]
        fn a_request_never_raises_early(
            old in (1i64..10_000, 0i64..10_000, 0i64..10_000),
            new in (1i64..10_000, 0i64..10_000, 0i64..10_000),
            probe in 0i64..200_000,
        ) {
            let now = datetime!(2026-06-10 12:00 +9);
            let mk = |(a, b, c): (i64, i64, i64)| policy(a, a + b, a + b + c);
            let (old, new) = (mk(old), mk(new));
            let change = LimitSettings::new(old).request(new, now, Duration::hours(24)).unwrap();
            let at = now + Duration::seconds(probe);
            let effective = change.settings.effective(at);
            for kind in LimitKind::ALL {
                prop_assert!(effective.get(kind).minor() <= new.get(kind).minor());
                if at < now + Duration::hours(24) {
                    prop_assert!(effective.get(kind).minor() <= old.get(kind).minor());
                } else {
                    prop_assert_eq!(effective.get(kind), new.get(kind));
                }
            }
        }
    }
}
