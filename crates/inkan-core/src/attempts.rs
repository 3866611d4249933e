//! How many failed tries of a card's details one card number, one device and one client address
//! get, across every wallet (brief rule 8; PSD2 RTS article 4).
//!
//! PayPay let a stolen card's details be guessed wallet after wallet: each fresh wallet had its
//! own five tries. So failures are also counted by what the thief cannot change for free: the
//! card number itself (as a keyed hash, never in clear), the device, and the client address.
//! Each try is counted as failed before the provider is asked, and taken back only if it
//! succeeds, so tries sent at once get no more than the limit between them.

use time::{Duration, OffsetDateTime};

/// What a card try is counted against, besides its wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Against {
    /// One card number, in every wallet: locked for good (the operator can lift it).
    CardNumber,
    /// One device: locked for good (the operator can lift it).
    Device,
    /// One client address: its failures are forgotten `address_memory` after the last one, as an
    /// address may be shared by many people.
    Address,
}

impl Against {
    pub const ALL: [Against; 3] = [Against::CardNumber, Against::Device, Against::Address];

    /// The name in the database and in the operator's commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Against::CardNumber => "card_number",
            Against::Device => "device",
            Against::Address => "address",
        }
    }

    pub fn parse(name: &str) -> Option<Against> {
        Against::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// The limit of failed tries, and how long an address's failures are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    pub max_failures: u32,
    pub address_memory: Duration,
}

/// The state of one counter after a try was reserved on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Failures counted, this try included.
    pub failures: u32,
}

impl AttemptPolicy {
    /// Five failures, as rule 8 says; an address's are forgotten after an hour without one.
    pub const DEFAULT: AttemptPolicy = AttemptPolicy { max_failures: 5, address_memory: Duration::hours(1) };

    /// A counter whose last failure is at or before the returned instant counts from zero again at
    /// `now`: an address's, `address_memory` after its last failure. `None`: a card number's and a
    /// device's failures always count.
    pub fn forgotten_by(&self, against: Against, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match against {
            Against::CardNumber | Against::Device => None,
            Against::Address => Some(now - self.address_memory),
        }
    }

    /// Whether a try may go ahead once reserved (`failures` counts it).
    pub fn admits(&self, reserved: Reserved) -> bool {
        reserved.failures <= self.max_failures
    }

    /// Tries left after a failure that brought the counter to `failures`.
    pub fn left_after(&self, failures: u32) -> u32 {
        self.max_failures.saturating_sub(failures)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-05 12:00 UTC);

    #[test]
    fn five_failures_then_no_more() {
        let policy = AttemptPolicy::DEFAULT;
        for failures in 1..=5 {
            assert!(policy.admits(Reserved { failures }), "try {failures}");
        }
        assert!(!policy.admits(Reserved { failures: 6 }));
        assert_eq!(policy.left_after(4), 1);
        assert_eq!(policy.left_after(7), 0);
    }

    #[test]
    fn only_an_address_forgets() {
        let policy = AttemptPolicy::DEFAULT;
        assert_eq!(policy.forgotten_by(Against::CardNumber, NOW), None);
        assert_eq!(policy.forgotten_by(Against::Device, NOW), None);
        assert_eq!(policy.forgotten_by(Against::Address, NOW), Some(NOW - Duration::hours(1)));
    }

    #[test]
    fn names_round_trip() {
        for against in Against::ALL {
            assert_eq!(Against::parse(against.as_str()), Some(against));
        }
        assert_eq!(Against::parse("wallet"), None);
    }
}
