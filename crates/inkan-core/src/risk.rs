//! Velocity and anomaly holds (METI's monitoring points; PSD2 RTS article 2): rules over a new
//! charge and its wallet's recent history that set the charge aside for a person to look at
//! before the shopper may confirm it.
//!
//! Each rule is what account takeovers looked like in the 7pay and PayPay incidents: many charges
//! in minutes, money topped up and spent at once from a brand-new device, a wallet "at" shops in
//! two countries within the hour, and a large first payment from a device that joined today.
//! Every threshold is a setting; a rule set to `None` is off.

use time::{Duration, OffsetDateTime};

use crate::Money;
use crate::region::Country;

/// More than `max_charges` charges of one wallet (the new one included) within `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub max_charges: u32,
    pub within: Duration,
}

impl Burst {
    /// Five charges in ten minutes is more than a day of shopping for most people.
    pub const DEFAULT: Burst = Burst { max_charges: 5, within: Duration::minutes(10) };
}

/// Two countries within an hour: no flight is that short.
pub const TWO_COUNTRIES_WITHIN: Duration = Duration::hours(1);

/// A top-up, then within `within` a charge that brings the day's spending to `share_percent` % of
/// the daily limit or more, from a device younger than `device_younger_than`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopUpThenSpend {
    pub within: Duration,
    pub share_percent: u32,
    pub device_younger_than: Duration,
}

impl TopUpThenSpend {
    /// A top-up spent to 80 % of the day's limit within 30 minutes from a device of less than
    /// three days: the shape of the 7pay takeovers.
    pub const DEFAULT: TopUpThenSpend =
        TopUpThenSpend { within: Duration::minutes(30), share_percent: 80, device_younger_than: Duration::hours(72) };
}

/// A device's first charge above `above`, from a device younger than `device_younger_than`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YoungDeviceFirstCharge {
    pub above: Money,
    pub device_younger_than: Duration,
}

impl YoungDeviceFirstCharge {
    /// A first payment above ¥20,000 from a device of less than a day.
    pub const DEFAULT: YoungDeviceFirstCharge =
        YoungDeviceFirstCharge { above: Money::yen(20_000), device_younger_than: Duration::hours(24) };
}

/// The rules, each optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskRules {
    pub burst: Option<Burst>,
    pub top_up_then_spend: Option<TopUpThenSpend>,
    /// Charges from terminals in two countries within this long.
    pub two_countries_within: Option<Duration>,
    pub young_device_first_charge: Option<YoungDeviceFirstCharge>,
}

impl RiskRules {
    /// Where an issuer would start: every rule on, at its default.
    pub const DEFAULT: RiskRules = RiskRules {
        burst: Some(Burst::DEFAULT),
        top_up_then_spend: Some(TopUpThenSpend::DEFAULT),
        two_countries_within: Some(TWO_COUNTRIES_WITHIN),
        young_device_first_charge: Some(YoungDeviceFirstCharge::DEFAULT),
    };

    /// No rule at all.
    pub const OFF: RiskRules =
        RiskRules { burst: None, top_up_then_spend: None, two_countries_within: None, young_device_first_charge: None };

    /// How far back the wallet's charges must be read for these rules.
    pub fn lookback(&self) -> Duration {
        let burst = self.burst.map_or(Duration::ZERO, |b| b.within);
        let countries = self.two_countries_within.unwrap_or(Duration::ZERO);
        burst.max(countries)
    }
}

/// One earlier charge of the wallet (any status: tries count for velocity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentCharge {
    pub at: OffsetDateTime,
    /// The country of the terminal that made it.
    pub country: Country,
}

/// What the server knows when a terminal asks for a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeFacts {
    pub amount: Money,
    /// The terminal's country.
    pub country: Country,
    /// The wallet's earlier charges within [`RiskRules::lookback`].
    pub recent: Vec<RecentCharge>,
    /// The wallet's latest successful top-up.
    pub last_top_up: Option<OffsetDateTime>,
    /// Spent today (Tokyo), pending charges included, before this charge.
    pub spent_today: Money,
    pub daily_limit: Money,
    /// When the device whose code made the charge joined the wallet.
    pub device_enrolled_at: OffsetDateTime,
    /// Whether that device has paid before.
    pub device_has_paid: bool,
}

/// Why a charge was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldReason {
    Burst,
    TopUpThenSpend,
    TwoCountries,
    YoungDeviceFirstCharge,
}

impl HoldReason {
    pub const ALL: [HoldReason; 4] =
        [HoldReason::Burst, HoldReason::TopUpThenSpend, HoldReason::TwoCountries, HoldReason::YoungDeviceFirstCharge];

    /// The name in the database, the operator's list and the shopper's notice.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Burst => "many_charges",
            HoldReason::TopUpThenSpend => "top_up_then_spend",
            HoldReason::TwoCountries => "two_countries",
            HoldReason::YoungDeviceFirstCharge => "new_device_first_charge",
        }
    }

    pub fn parse(name: &str) -> Option<HoldReason> {
        HoldReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The first rule a charge trips, in the order of [`HoldReason::ALL`]; `None`: it goes ahead.
pub fn review(rules: &RiskRules, charge: &ChargeFacts, now: OffsetDateTime) -> Option<HoldReason> {
    let within = |window: Duration, at: OffsetDateTime| at > now - window && at <= now;
    if let Some(burst) = rules.burst {
        let earlier = charge.recent.iter().filter(|c| within(burst.within, c.at)).count();
        if u32::try_from(earlier).unwrap_or(u32::MAX).saturating_add(1) > burst.max_charges {
            return Some(HoldReason::Burst);
        }
    }
    let device_age = now - charge.device_enrolled_at;
    if let Some(rule) = rules.top_up_then_spend {
        let topped_up = charge.last_top_up.is_some_and(|at| within(rule.within, at));
        let young = device_age < rule.device_younger_than;
        let spent = charge.spent_today.minor().saturating_add(charge.amount.minor());
        let near = i128::from(spent) * 100 >= i128::from(charge.daily_limit.minor()) * i128::from(rule.share_percent);
        if topped_up && young && near {
            return Some(HoldReason::TopUpThenSpend);
        }
    }
    if let Some(window) = rules.two_countries_within
        && charge.recent.iter().any(|c| within(window, c.at) && c.country != charge.country)
    {
        return Some(HoldReason::TwoCountries);
    }
    if let Some(rule) = rules.young_device_first_charge
        && !charge.device_has_paid
        && device_age < rule.device_younger_than
        && charge.amount.minor() > rule.above.minor()
    {
        return Some(HoldReason::YoungDeviceFirstCharge);
    }
    None
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-05 12:00 UTC);

    /// An ordinary charge: an old device that has paid, no recent charges or top-ups.
    fn ordinary(amount: i64) -> ChargeFacts {
        ChargeFacts {
            amount: Money::yen(amount),
            country: Country::JP,
            recent: Vec::new(),
            last_top_up: None,
            spent_today: Money::yen(0),
            daily_limit: Money::yen(50_000),
            device_enrolled_at: NOW - Duration::days(30),
            device_has_paid: true,
        }
    }

    fn us() -> Country {
        "US".parse().unwrap()
    }

    fn at(minutes_ago: i64, country: Country) -> RecentCharge {
        RecentCharge { at: NOW - Duration::minutes(minutes_ago), country }
    }

    #[test]
    fn an_ordinary_charge_goes_ahead() {
        assert_eq!(review(&RiskRules::DEFAULT, &ordinary(1_280), NOW), None);
    }

    #[test]
    fn the_sixth_charge_in_ten_minutes_is_held_but_not_one_spread_out() {
        let rules = RiskRules::DEFAULT;
        let mut charge = ordinary(500);
        charge.recent = (1..=4).map(|m| at(m, Country::JP)).collect();
        assert_eq!(review(&rules, &charge, NOW), None, "the fifth");
        charge.recent.push(at(9, Country::JP));
        assert_eq!(review(&rules, &charge, NOW), Some(HoldReason::Burst), "the sixth");
        charge.recent[4] = at(10, Country::JP);
        assert_eq!(review(&rules, &charge, NOW), None, "one of them ten minutes ago is outside");
    }

    #[test]
    fn a_top_up_spent_near_the_limit_from_a_new_device_is_held() {
        let rules = RiskRules::DEFAULT;
        let mut charge = ordinary(40_000);
        charge.last_top_up = Some(NOW - Duration::minutes(5));
        charge.device_enrolled_at = NOW - Duration::hours(2);
        assert_eq!(review(&rules, &charge, NOW), Some(HoldReason::TopUpThenSpend));
        // Below 80 % of the daily limit, even with what was spent before: ahead.
        charge.amount = Money::yen(30_000);
        charge.spent_today = Money::yen(9_999);
        assert_eq!(review(&rules, &charge, NOW), None);
        charge.spent_today = Money::yen(10_000);
        assert_eq!(review(&rules, &charge, NOW), Some(HoldReason::TopUpThenSpend), "exactly 80 %");
        // An old device, or a top-up an hour ago: ahead.
        let mut old = charge.clone();
        old.device_enrolled_at = NOW - Duration::hours(72);
        assert_eq!(review(&rules, &old, NOW), None);
        charge.last_top_up = Some(NOW - Duration::minutes(30));
        assert_eq!(review(&rules, &charge, NOW), None);
    }

    #[test]
    fn two_countries_within_the_hour_are_held() {
        let rules = RiskRules::DEFAULT;
        let mut charge = ordinary(1_000);
        charge.recent = vec![at(59, us())];
        assert_eq!(review(&rules, &charge, NOW), Some(HoldReason::TwoCountries));
        charge.recent = vec![at(60, us()), at(5, Country::JP)];
        assert_eq!(review(&rules, &charge, NOW), None);
    }

    #[test]
    fn a_large_first_charge_from_a_device_of_today_is_held() {
        let rules = RiskRules::DEFAULT;
        let mut charge = ordinary(20_001);
        charge.device_enrolled_at = NOW - Duration::hours(3);
        charge.device_has_paid = false;
        assert_eq!(review(&rules, &charge, NOW), Some(HoldReason::YoungDeviceFirstCharge));
        charge.amount = Money::yen(20_000);
        assert_eq!(review(&rules, &charge, NOW), None, "at the threshold");
        charge.amount = Money::yen(25_000);
        charge.device_has_paid = true;
        assert_eq!(review(&rules, &charge, NOW), None, "not its first");
        charge.device_has_paid = false;
        charge.device_enrolled_at = NOW - Duration::hours(24);
        assert_eq!(review(&rules, &charge, NOW), None, "a day old");
    }

    #[test]
    fn rules_that_are_off_hold_nothing() {
        let mut charge = ordinary(45_000);
        charge.recent = (1..=9).map(|m| at(m, us())).collect();
        charge.last_top_up = Some(NOW);
        charge.device_enrolled_at = NOW;
        charge.device_has_paid = false;
        assert_eq!(review(&RiskRules::OFF, &charge, NOW), None);
        assert_eq!(RiskRules::OFF.lookback(), Duration::ZERO);
        assert_eq!(RiskRules::DEFAULT.lookback(), Duration::hours(1));
    }

    #[test]
    fn reasons_round_trip() {
        for reason in HoldReason::ALL {
            assert_eq!(HoldReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(HoldReason::parse("bad_luck"), None);
    }
}
