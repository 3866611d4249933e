//! How many failed tries of a secret (a card's details, a passkey, a recovery code) one account,
//! one device, one client address and one card number get, across every wallet (brief rule 8;
//! PSD2 RTS article 4).
//!
//! PayPay let a stolen card's details be guessed wallet after wallet: each fresh wallet had its
//! own five tries. So failures are also counted by what the thief cannot change for free: the
//! card number itself (as a keyed hash, never in clear), the device, and the client address.
//!
//! The fourth failure on a counter warns the shopper (one try left); the fifth locks it. A card
//! lock holds until the operator lifts it (contact support); a passkey's or a recovery code's ends
//! `lock_for` after the last failure, and an address's `address_memory` after it, as an address
//! may be shared by many people.

use time::{Duration, OffsetDateTime};

/// What is being tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Secret {
    /// A card's details when it is added, or its one-time verification code.
    Card,
    /// A passkey assertion (sign-in, step-up, payment), once the device's own key has signed:
    /// nobody without the device can make one fail, so nobody else can lock a wallet this way.
    Passkey,
    /// A recovery code (join, unfreeze, freeze).
    RecoveryCode,
}

impl Secret {
    pub const ALL: [Secret; 3] = [Secret::Card, Secret::Passkey, Secret::RecoveryCode];

    /// The name in the database, in notices and in the operator's commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Secret::Card => "card",
            Secret::Passkey => "passkey",
            Secret::RecoveryCode => "recovery_code",
        }
    }

    pub fn parse(name: &str) -> Option<Secret> {
        Secret::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a try is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Against {
    /// One card number, in every wallet.
    CardNumber,
    /// One wallet.
    Account,
    /// One device.
    Device,
    /// One client address (an IPv6 client by its /64).
    Address,
    /// One wallet session (a passkey tried within it: a step-up, a payment). Locked, it ends.
    Session,
}

impl Against {
    pub const ALL: [Against; 5] =
        [Against::CardNumber, Against::Account, Against::Device, Against::Address, Against::Session];

    /// The name in the database and in the operator's commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Against::CardNumber => "card_number",
            Against::Account => "account",
            Against::Device => "device",
            Against::Address => "address",
            Against::Session => "session",
        }
    }

    pub fn parse(name: &str) -> Option<Against> {
        Against::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// What a try is for, when it matters to which locks refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in, confirming, letting a device join, lifting a freeze: it grants access.
    Access,
    /// Freezing the wallet with a recovery code: it only protects the wallet.
    Freeze,
}

/// Whether a lock of `against` refuses a try of `secret` for `purpose`. Every failure counts and
/// the shopper hears of every warning and lock; but a wallet's recovery-code lock does not refuse
/// a freeze: whoever knows the account id could otherwise keep an owner who lost the phone from
/// freezing the wallet. The address's lock still applies.
pub fn locks(secret: Secret, against: Against, purpose: Purpose) -> bool {
    !matches!((secret, against, purpose), (Secret::RecoveryCode, Against::Account, Purpose::Freeze))
}

impl Secret {
    /// What a try of this secret is counted against (a device only when one is known). A passkey
    /// is not counted against its wallet: a thief holding one of its devices (its key, not its
    /// passkey) could then lock the owner's other devices out of signing in, paying and removing
    /// the stolen one. The thief's device and address are locked instead; and a passkey can only
    /// fail once a device's own key has signed.
    pub fn counted_against(self) -> &'static [Against] {
        match self {
            Secret::Card => &[Against::CardNumber, Against::Account, Against::Device, Against::Address],
            Secret::Passkey => &[Against::Device, Against::Address],
            Secret::RecoveryCode => &[Against::Account, Against::Device, Against::Address],
        }
    }
}

/// What a passkey try made within a session (a step-up, a payment's confirmation) is counted
/// against: that session and the address, not the device. Whoever stole a session but not the
/// passkey could otherwise lock the owner's device out of signing in and paying, 30 minutes at a
/// time, for as long as the session lives; the fifth failure ends the session instead, and
/// getting another needs the device's key and its passkey.
pub const PASSKEY_IN_SESSION: &[Against] = &[Against::Session, Against::Address];

/// The limit of failed tries, and how long failures are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    pub max_failures: u32,
    /// An address's failures are forgotten this long after its last one.
    pub address_memory: Duration,
    /// A passkey's or recovery code's failures are forgotten this long after the last one.
    pub lock_for: Duration,
}

/// Where a counter stands after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// More than one try is left.
    Counted { left: u32 },
    /// One try is left: the shopper is warned.
    LastTry,
    /// No try is left until `until`; `None`: until the operator lifts the lock.
    Locked { until: Option<OffsetDateTime> },
}

impl Standing {
    /// The graver of two standings: a lock over a warning over a count; of two locks, the longer.
    pub fn graver(self, other: Standing) -> Standing {
        use Standing::*;
        match (self, other) {
            (Locked { until: None }, _) | (_, Locked { until: None }) => Locked { until: None },
            (Locked { until: Some(a) }, Locked { until: Some(b) }) => Locked { until: Some(a.max(b)) },
            (l @ Locked { .. }, _) | (_, l @ Locked { .. }) => l,
            (LastTry, _) | (_, LastTry) => LastTry,
            (Counted { left: a }, Counted { left: b }) => Counted { left: a.min(b) },
        }
    }
}

impl AttemptPolicy {
    /// Five failures, as rule 8 says; an address's are forgotten after an hour without one, a
    /// passkey's or recovery code's after 30 minutes.
    pub const DEFAULT: AttemptPolicy =
        AttemptPolicy { max_failures: 5, address_memory: Duration::hours(1), lock_for: Duration::minutes(30) };

    /// How long failures on this counter are remembered after the last one; `None`: always (a
    /// card's, per card number, wallet or device, until the operator lifts the lock).
    pub fn memory(&self, secret: Secret, against: Against) -> Option<Duration> {
        match (secret, against) {
            (_, Against::Address) => Some(self.address_memory),
            (Secret::Card, _) => None,
            (Secret::Passkey | Secret::RecoveryCode, _) => Some(self.lock_for),
        }
    }

    /// A counter whose last failure is at or before the returned instant counts from zero again at
    /// `now`. `None`: its failures always count.
    pub fn forgotten_by(&self, secret: Secret, against: Against, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.memory(secret, against).map(|memory| now - memory)
    }

    /// Whether a counter with `failures` (still remembered) lets another try go ahead.
    pub fn admits(&self, failures: u32) -> bool {
        failures < self.max_failures
    }

    /// Where a counter stands with `failures` remembered, the last of them at `last_failed_at`.
    pub fn standing(
        &self,
        secret: Secret,
        against: Against,
        failures: u32,
        last_failed_at: OffsetDateTime,
    ) -> Standing {
        let left = self.max_failures.saturating_sub(failures);
        match left {
            0 => Standing::Locked { until: self.memory(secret, against).map(|memory| last_failed_at + memory) },
            1 => Standing::LastTry,
            left => Standing::Counted { left },
        }
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
        for failures in 0..5 {
            assert!(policy.admits(failures), "after {failures}");
        }
        assert!(!policy.admits(5));
        assert!(!policy.admits(6));
    }

    #[test]
    fn the_fourth_failure_warns_and_the_fifth_locks() {
        let policy = AttemptPolicy::DEFAULT;
        let at = |failures| policy.standing(Secret::Passkey, Against::Device, failures, NOW);
        assert_eq!(at(1), Standing::Counted { left: 4 });
        assert_eq!(at(3), Standing::Counted { left: 2 });
        assert_eq!(at(4), Standing::LastTry);
        assert_eq!(at(5), Standing::Locked { until: Some(NOW + Duration::minutes(30)) });
        assert_eq!(at(9), Standing::Locked { until: Some(NOW + Duration::minutes(30)) });
    }

    #[test]
    fn a_card_lock_lasts_until_lifted_but_an_address_is_forgotten() {
        let policy = AttemptPolicy::DEFAULT;
        for against in [Against::CardNumber, Against::Account, Against::Device] {
            assert_eq!(policy.standing(Secret::Card, against, 5, NOW), Standing::Locked { until: None });
            assert_eq!(policy.forgotten_by(Secret::Card, against, NOW), None);
        }
        assert_eq!(
            policy.standing(Secret::Card, Against::Address, 5, NOW),
            Standing::Locked { until: Some(NOW + Duration::hours(1)) }
        );
        assert_eq!(policy.forgotten_by(Secret::Card, Against::Address, NOW), Some(NOW - Duration::hours(1)));
        assert_eq!(policy.forgotten_by(Secret::RecoveryCode, Against::Account, NOW), Some(NOW - Duration::minutes(30)));
    }

    #[test]
    fn the_gravest_standing_wins() {
        let soon = Standing::Locked { until: Some(NOW) };
        let later = Standing::Locked { until: Some(NOW + Duration::hours(1)) };
        let forever = Standing::Locked { until: None };
        let warn = Standing::LastTry;
        let count = Standing::Counted { left: 3 };
        assert_eq!(count.graver(Standing::Counted { left: 2 }), Standing::Counted { left: 2 });
        assert_eq!(count.graver(warn), warn);
        assert_eq!(warn.graver(soon), soon);
        assert_eq!(soon.graver(later), later);
        assert_eq!(later.graver(soon), later);
        assert_eq!(later.graver(forever), forever);
        assert_eq!(forever.graver(count), forever);
    }

    #[test]
    fn no_wallet_wide_lock_serves_an_attacker() {
        assert!(!locks(Secret::RecoveryCode, Against::Account, Purpose::Freeze));
        assert!(locks(Secret::RecoveryCode, Against::Address, Purpose::Freeze));
        assert!(locks(Secret::RecoveryCode, Against::Account, Purpose::Access));
        for against in Against::ALL {
            assert!(locks(Secret::Card, against, Purpose::Access));
            assert!(locks(Secret::Passkey, against, Purpose::Access));
        }
        assert!(!Secret::Passkey.counted_against().contains(&Against::Account));
        assert!(Secret::RecoveryCode.counted_against().contains(&Against::Account));
        assert_eq!(
            Secret::Card.counted_against(),
            &[Against::CardNumber, Against::Account, Against::Device, Against::Address]
        );
        // Within a session, a passkey's failures never reach its device: a stolen session cannot
        // lock the owner out.
        assert!(!PASSKEY_IN_SESSION.contains(&Against::Device) && PASSKEY_IN_SESSION.contains(&Against::Session));
        for secret in Secret::ALL {
            assert!(!secret.counted_against().contains(&Against::Session));
        }
    }

    #[test]
    fn names_round_trip() {
        for against in Against::ALL {
            assert_eq!(Against::parse(against.as_str()), Some(against));
        }
        for secret in Secret::ALL {
            assert_eq!(Secret::parse(secret.as_str()), Some(secret));
        }
        assert_eq!(Against::parse("wallet"), None);
        assert_eq!(Secret::parse("pin"), None);
    }
}
