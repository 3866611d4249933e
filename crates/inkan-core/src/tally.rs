//! A wallet's running totals: what counts against its limits in one Tokyo day and one Tokyo month,
//! and what is not decided yet, kept beside its balance so that a payment is judged without
//! summing the month's charges.
//!
//! A [`Tally`] changes with every charge that starts or stops counting ([`Tally::moved`]), and
//! answers what a payment judges ([`Tally::sums`]) for its own day and month, or for a later one.
//! For an earlier day or month (a charge made before midnight and confirmed after it, once another
//! charge has turned the tally over) it has no answer: the caller sums that day's charges instead.

use time::OffsetDateTime;

use crate::charge::{ChargeEvent, ChargeStatus};
use crate::limits::Spending;
use crate::money::{Currency, Money, MoneyError};
use crate::tokyo;

/// A wallet's running totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The start of the Tokyo day that `today` counts.
    pub day: OffsetDateTime,
    /// The charges made in that day that count as spent ([`ChargeStatus::counts_as_spent`]).
    pub today: Money,
    /// The start of the Tokyo month that `this_month` counts.
    pub month: OffsetDateTime,
    /// The charges made in that month that count as spent.
    pub this_month: Money,
    /// The charges not decided yet ([`ChargeStatus::is_open`]), whenever they were made.
    pub open: Money,
}

/// A charge as a tally sees it: when it was made, and its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub created_at: OffsetDateTime,
    pub amount: Money,
}

/// What a payment is judged on of the wallet's other charges: what they spent in the payment's
/// Tokyo day and month, and what of them is not decided yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sums {
    pub spent: Spending,
    pub open: Money,
}

impl Tally {
    /// The tally of a wallet without charges.
    pub fn empty(currency: Currency) -> Tally {
        let zero = Money::zero(currency);
        let epoch = OffsetDateTime::UNIX_EPOCH;
        Tally { day: epoch, today: zero, month: epoch, this_month: zero, open: zero }
    }

    /// The tally of `sums`, the wallet's charges summed for the Tokyo day and month of `now`.
    pub fn of_sums(sums: Sums, now: OffsetDateTime) -> Tally {
        Tally {
            day: tokyo::day(now).start,
            today: sums.spent.today,
            month: tokyo::month(now).start,
            this_month: sums.spent.this_month,
            open: sums.open,
        }
    }

    /// The tally once `charge` moves from `from` (`None`: it is new) to `to`, at `now`. A day or
    /// month that has ended by then (or by the charge's making) starts again from zero.
    pub fn moved(
        self,
        charge: Counted,
        from: Option<ChargeStatus>,
        to: ChargeStatus,
        now: OffsetDateTime,
    ) -> Result<Tally, MoneyError> {
        let mut tally = self.turned(now.max(charge.created_at));
        let counts = |status: Option<ChargeStatus>| status.is_some_and(ChargeStatus::counts_as_spent);
        let open = |status: Option<ChargeStatus>| status.is_some_and(ChargeStatus::is_open);
        let zero = Money::zero(charge.amount.currency());
        let change = |before: bool, after: bool| match (before, after) {
            (false, true) => Ok(charge.amount),
            (true, false) => charge.amount.checked_neg(),
            _ => Ok(zero),
        };
        let spent = change(counts(from), counts(Some(to)))?;
        if tokyo::day(charge.created_at).start == tally.day {
            tally.today = tally.today.checked_add(spent)?;
        }
        if tokyo::month(charge.created_at).start == tally.month {
            tally.this_month = tally.this_month.checked_add(spent)?;
        }
        tally.open = tally.open.checked_add(change(open(from), open(Some(to)))?)?;
        Ok(tally)
    }

    /// The tally once `event` has happened to `charge` at `now`. The write that moved the charge
    /// need not say which of the statuses the event leaves it was in: they all count alike (a
    /// test below checks it).
    pub fn after(self, charge: Counted, event: ChargeEvent, now: OffsetDateTime) -> Result<Tally, MoneyError> {
        match event.transition() {
            Some(transition) => self.moved(charge, transition.from.first().copied(), transition.to, now),
            None => Ok(self),
        }
    }

    /// What the wallet's charges other than `except` (an open charge it counts) add up to for a
    /// payment made `at`: `None` when `at`'s day or month is older than the tally's.
    pub fn sums(&self, at: OffsetDateTime, except: Option<Counted>) -> Option<Sums> {
        let currency = self.open.currency();
        let in_window = |start: OffsetDateTime, kept: OffsetDateTime, total: Money| {
            use std::cmp::Ordering::*;
            match start.cmp(&kept) {
                Less => None,
                Equal => Some(total),
                // Nothing is counted yet in a day or month after the tally's.
                Greater => Some(Money::zero(currency)),
            }
        };
        let (day, month) = (tokyo::day(at).start, tokyo::month(at).start);
        let mut today = in_window(day, self.day, self.today)?;
        let mut this_month = in_window(month, self.month, self.this_month)?;
        let mut open = self.open;
        if let Some(charge) = except {
            let without = |total: Money| total.checked_sub(charge.amount).ok();
            if tokyo::day(charge.created_at).start == self.day && day == self.day {
                today = without(today)?;
            }
            if tokyo::month(charge.created_at).start == self.month && month == self.month {
                this_month = without(this_month)?;
            }
            open = without(open)?;
        }
        Some(Sums { spent: Spending { today, this_month }, open })
    }

    /// The tally at `now`: a day or month that has ended starts again from zero.
    fn turned(self, now: OffsetDateTime) -> Tally {
        let (day, month) = (tokyo::day(now).start, tokyo::month(now).start);
        let zero = Money::zero(self.open.currency());
        let mut tally = self;
        if day > tally.day {
            (tally.day, tally.today) = (day, zero);
        }
        if month > tally.month {
            (tally.month, tally.this_month) = (month, zero);
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-01-30 20:00 +9);

    fn counted(created_at: OffsetDateTime, amount: i64) -> Counted {
        Counted { created_at, amount: Money::yen(amount) }
    }

    fn spending(today: i64, this_month: i64) -> Spending {
        Spending { today: Money::yen(today), this_month: Money::yen(this_month) }
    }

    #[test]
    fn a_charge_counts_from_its_making_until_it_is_declined() {
        let at = datetime!(2026-03-10 12:00 +9);
        let charge = counted(at, 1_200);
        let made = Tally::empty(Currency::Jpy).moved(charge, None, ChargeStatus::PendingConfirmation, at).unwrap();
        let sums = made.sums(at, None).unwrap();
        assert_eq!(sums, Sums { spent: spending(1_200, 1_200), open: Money::yen(1_200) });
        // Judged again at its confirmation, it does not count against itself.
        let confirming = made.sums(at, Some(charge)).unwrap();
        assert_eq!(confirming, Sums { spent: spending(0, 0), open: Money::yen(0) });
        let paid = made.moved(charge, Some(ChargeStatus::PendingConfirmation), ChargeStatus::Succeeded, at).unwrap();
        assert_eq!(paid.sums(at, None).unwrap(), Sums { spent: spending(1_200, 1_200), open: Money::yen(0) });
        let refunded = paid.moved(charge, Some(ChargeStatus::Succeeded), ChargeStatus::Refunded, at).unwrap();
        assert_eq!(refunded.sums(at, None).unwrap(), Sums { spent: spending(0, 0), open: Money::yen(0) });
    }

    #[test]
    fn a_new_day_starts_from_zero_and_an_old_day_is_not_known() {
        let evening = datetime!(2026-03-10 23:59 +9);
        let charge = counted(evening, 500);
        let tally =
            Tally::empty(Currency::Jpy).moved(charge, None, ChargeStatus::PendingConfirmation, evening).unwrap();
        let morning = datetime!(2026-03-11 00:01 +9);
        assert_eq!(tally.sums(morning, None).unwrap().spent, spending(0, 500));
        // Another charge after midnight turns the tally over: the evening's day is gone from it.
        let next = counted(morning, 300);
        let turned = tally.moved(next, None, ChargeStatus::PendingConfirmation, morning).unwrap();
        assert_eq!(turned.sums(morning, None).unwrap().spent, spending(300, 800));
        assert_eq!(turned.sums(evening, Some(charge)), None);
        // Declining the evening's charge leaves the new day alone.
        let declined = turned.moved(charge, Some(ChargeStatus::PendingConfirmation), ChargeStatus::Declined, morning);
        let declined = declined.unwrap();
        assert_eq!(declined.sums(morning, None).unwrap(), Sums { spent: spending(300, 300), open: Money::yen(300) });
    }

    #[test]
    fn every_status_an_event_leaves_counts_alike() {
        for event in ChargeEvent::ALL {
            let from = event.transition().unwrap().from;
            let counted = |s: &ChargeStatus| (s.counts_as_spent(), s.is_open());
            assert!(from.iter().all(|s| counted(s) == counted(&from[0])), "{event:?} leaves {from:?}");
        }
    }

    /// One charge of the reference model.
    #[derive(Debug, Clone, Copy)]
    struct Modelled {
        charge: Counted,
        status: ChargeStatus,
    }

    /// The sums of the model's charges other than `except`, as the server summed them before it
    /// kept a tally.
    fn reference(charges: &[Modelled], at: OffsetDateTime, except: Option<usize>) -> Sums {
        let others = charges.iter().enumerate().filter(|(i, _)| Some(*i) != except).map(|(_, c)| c);
        let others: Vec<_> = others.collect();
        let spent =
            others.iter().filter(|c| c.status.counts_as_spent()).map(|c| (c.charge.created_at, c.charge.amount));
        let spent = Spending::from_history(Currency::Jpy, spent, at).unwrap();
        let open = others.iter().filter(|c| c.status.is_open()).map(|c| c.charge.amount);
        Sums { spent, open: Money::checked_sum(Currency::Jpy, open).unwrap() }
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Time passes (minutes), then a charge is made (held for review or not).
        Make { after: u32, amount: i64, held: bool },
        /// Time passes, then something happens to one of the charges.
        Happen { after: u32, which: usize, event: ChargeEvent },
    }

    fn step() -> impl Strategy<Value = Step> {
        // Up to three days between steps: days and months turn over often.
        let after = prop_oneof![0u32..90, 0u32..4_320];
        let event = prop_oneof![
            Just(ChargeEvent::Confirm),
            Just(ChargeEvent::Decline),
            Just(ChargeEvent::Expire),
            Just(ChargeEvent::Approve),
            Just(ChargeEvent::Refund),
        ];
        prop_oneof![
            (after.clone(), 1i64..100_000, any::<bool>()).prop_map(|(after, amount, held)| Step::Make {
                after,
                amount,
                held
            }),
            (after, any::<usize>(), event).prop_map(|(after, which, event)| Step::Happen { after, which, event }),
        ]
    }

    proptest! {
        /// Whatever happens to a wallet's charges, its tally answers as summing them would, for a
        /// payment made now and for each charge judged again at its confirmation, or says it
        /// cannot; for now it always can.
        #[test]
        fn the_tally_answers_as_summing_the_charges_would(steps in prop::collection::vec(step(), 1..60)) {
            let (mut now, mut tally, mut charges) = (START, Tally::empty(Currency::Jpy), Vec::<Modelled>::new());
            for step in steps {
                match step {
                    Step::Make { after, amount, held } => {
                        now += Duration::minutes(after.into());
                        let status = if held { ChargeStatus::HeldForReview } else { ChargeStatus::PendingConfirmation };
                        let charge = counted(now, amount);
                        tally = tally.moved(charge, None, status, now).unwrap();
                        charges.push(Modelled { charge, status });
                    }
                    Step::Happen { after, which, event } => {
                        now += Duration::minutes(after.into());
                        if charges.is_empty() {
                            continue;
                        }
                        let len = charges.len();
                        let modelled = &mut charges[which % len];
                        let Ok(to) = modelled.status.apply(event) else { continue };
                        // As the server writes it: knowing the event, not the status it left.
                        tally = tally.after(modelled.charge, event, now).unwrap();
                        modelled.status = to;
                    }
                }
                prop_assert_eq!(tally.sums(now, None), Some(reference(&charges, now, None)));
                for (i, modelled) in charges.iter().enumerate().filter(|(_, c)| c.status.is_open()) {
                    let at = modelled.charge.created_at;
                    if let Some(sums) = tally.sums(at, Some(modelled.charge)) {
                        prop_assert_eq!(sums, reference(&charges, at, Some(i)));
                    } else {
                        prop_assert!(tokyo::day(at).start < tally.day || tokyo::month(at).start < tally.month);
                    }
                }
            }
        }
    }
}
