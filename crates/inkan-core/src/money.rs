//! Money: an integer count of a currency's minor unit, with the currency attached.
//!
//! There are no floats anywhere: amounts are `i64` minor units (JPY has no minor unit, so `1280`
//! is ¥1,280). Arithmetic is checked and refuses to mix currencies, so an overflow or a yen-plus-
//! dollar sum is an error value instead of a wrong balance.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A currency Inkan can hold. Only yen today; the type exists so that an amount can never be
/// separated from the unit it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Currency {
    #[serde(rename = "JPY")]
    Jpy,
}

impl Currency {
    /// ISO 4217 code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Jpy => "JPY",
        }
    }

    /// Number of decimal places of the minor unit (ISO 4217 exponent).
    pub const fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
        }
    }

    const fn symbol(self) -> &'static str {
        match self {
            Currency::Jpy => "¥",
        }
    }

    const fn japanese_suffix(self) -> &'static str {
        match self {
            Currency::Jpy => "円",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "JPY" => Ok(Currency::Jpy),
            other => Err(MoneyError::UnknownCurrency(other.chars().take(8).collect())),
        }
    }
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount out of range")]
    Overflow,
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
}

/// An amount of one currency, in integer minor units. May be negative (a ledger posting or a
/// refund); whether a negative value is acceptable is decided where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// In the currency's minor unit (JPY has none: 1280 is ¥1,280).
    #[serde(rename = "amount")]
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn new(currency: Currency, minor: i64) -> Self {
        Money { minor, currency }
    }

    pub const fn yen(amount: i64) -> Self {
        Money::new(Currency::Jpy, amount)
    }

    pub const fn zero(currency: Currency) -> Self {
        Money::new(currency, 0)
    }

    pub const fn minor(self) -> i64 {
        self.minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub const fn is_negative(self) -> bool {
        self.minor < 0
    }

    pub const fn is_positive(self) -> bool {
        self.minor > 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(self.currency, minor))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(self.currency, minor))
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money::new(self.currency, minor))
    }

    /// Sum of amounts that must all be in `currency`.
    pub fn checked_sum<I>(currency: Currency, items: I) -> Result<Money, MoneyError>
    where
        I: IntoIterator<Item = Money>,
    {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    /// Compares two amounts of the same currency; amounts of different currencies have no order.
    pub fn checked_cmp(self, other: Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.minor.cmp(&other.minor))
    }

    /// The smaller of two amounts of the same currency.
    pub fn checked_min(self, other: Money) -> Result<Money, MoneyError> {
        Ok(match self.checked_cmp(other)? {
            Ordering::Greater => other,
            Ordering::Less | Ordering::Equal => self,
        })
    }

    /// Japanese style: `1,280円`, `-1,280円`.
    pub fn format_ja(self) -> String {
        let sign = if self.is_negative() { "-" } else { "" };
        format!("{sign}{}{}", self.grouped_digits(), self.currency.japanese_suffix())
    }

    /// Digits of the absolute value with thousands separators and the currency's decimals.
    fn grouped_digits(self) -> String {
        let digits = self.minor.unsigned_abs().to_string();
        let exponent = usize::try_from(self.currency.exponent()).unwrap_or(usize::MAX);
        let (whole, fraction) = if exponent == 0 {
            (digits.as_str(), "")
        } else if digits.len() > exponent {
            digits.split_at(digits.len() - exponent)
        } else {
            // Fewer digits than decimals: the whole part is zero. Handled with padding below.
            ("0", digits.as_str())
        };
        let mut out = String::with_capacity(whole.len() + whole.len() / 3 + fraction.len() + 1);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        if exponent > 0 {
            out.push('.');
            for _ in fraction.len()..exponent {
                out.push('0');
            }
            out.push_str(fraction);
        }
        out
    }
}

/// English style: `¥1,280`, `-¥1,280`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        write!(f, "{sign}{}{}", self.currency.symbol(), self.grouped_digits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_yen_both_ways() {
        assert_eq!(Money::yen(1280).to_string(), "¥1,280");
        assert_eq!(Money::yen(1280).format_ja(), "1,280円");
        assert_eq!(Money::yen(0).to_string(), "¥0");
        assert_eq!(Money::yen(999).to_string(), "¥999");
        assert_eq!(Money::yen(1000).to_string(), "¥1,000");
        assert_eq!(Money::yen(-1_234_567).to_string(), "-¥1,234,567");
        assert_eq!(Money::yen(i64::MIN).to_string(), "-¥9,223,372,036,854,775,808");
    }

    #[test]
    fn refuses_overflow_and_unknown_currency() {
        assert_eq!(Money::yen(i64::MAX).checked_add(Money::yen(1)), Err(MoneyError::Overflow));
        assert_eq!(Money::yen(i64::MIN).checked_sub(Money::yen(1)), Err(MoneyError::Overflow));
        assert_eq!(Money::yen(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert!(matches!("USD".parse::<Currency>(), Err(MoneyError::UnknownCurrency(_))));
        assert!(matches!("jpy".parse::<Currency>(), Err(MoneyError::UnknownCurrency(_))));
    }

    #[test]
    fn wire_form_is_amount_and_currency_and_rejects_strangers() {
        let json = serde_json::to_string(&Money::yen(1280)).unwrap();
        assert_eq!(json, r#"{"amount":1280,"currency":"JPY"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), Money::yen(1280));
        for bad in [
            r#"{"amount":1280}"#,
            r#"{"amount":12.5,"currency":"JPY"}"#,
            r#"{"amount":"1280","currency":"JPY"}"#,
            r#"{"amount":1280,"currency":"USD"}"#,
            r#"{"amount":1280,"currency":"JPY","extra":1}"#,
            r#"{"amount":99999999999999999999,"currency":"JPY"}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad} was accepted");
        }
    }

    proptest! {
        /// Checked arithmetic agrees with exact i128 arithmetic: same value when it fits in i64,
        /// an Overflow error exactly when it does not.
        #[test]
        fn arithmetic_matches_i128_model(a in any::<i64>(), b in any::<i64>()) {
            let sum = i128::from(a) + i128::from(b);
            let diff = i128::from(a) - i128::from(b);
            let fits = |v: i128| i64::try_from(v).ok();
            prop_assert_eq!(Money::yen(a).checked_add(Money::yen(b)).ok().map(Money::minor), fits(sum));
            prop_assert_eq!(Money::yen(a).checked_sub(Money::yen(b)).ok().map(Money::minor), fits(diff));
        }

        #[test]
        fn sum_matches_model(items in proptest::collection::vec(any::<i32>(), 0..64)) {
            let expected: i128 = items.iter().map(|&v| i128::from(v)).sum();
            let total = Money::checked_sum(Currency::Jpy, items.iter().map(|&v| Money::yen(i64::from(v)))).unwrap();
            prop_assert_eq!(i128::from(total.minor()), expected);
        }

        /// The formatted string, with separators and symbol removed, is the number itself, and
        /// separators sit every three digits.
        #[test]
        fn formatting_round_trips(v in any::<i64>()) {
            let shown = Money::yen(v).to_string();
            let digits: String = shown.chars().filter(|c| c.is_ascii_digit()).collect();
            prop_assert_eq!(digits, v.unsigned_abs().to_string());
            prop_assert_eq!(shown.starts_with('-'), v < 0);
            let groups: Vec<&str> = shown.trim_start_matches('-').trim_start_matches('¥').split(',').collect();
            prop_assert!(groups[0].len() <= 3 && !groups[0].is_empty());
            prop_assert!(groups[1..].iter().all(|g| g.len() == 3));
        }
    }
}
