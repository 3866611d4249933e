//! When a wallet session ends: after an idle limit, after an absolute limit, and the moment its
//! device is removed. A stolen session token therefore dies with its owner's "remove", and at the
//! latest one absolute limit after sign-in, however busy the thief keeps it.

use time::{Duration, OffsetDateTime};

/// The two limits of every session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends after this long without a request (5 minutes in production).
    pub idle: Duration,
    /// Ends this long after sign-in, whatever happens (12 hours by default).
    pub absolute: Duration,
}

/// What the server knows of one session when it asks whether it is still alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// Whether the session's device is still part of the wallet.
    pub device_active: bool,
}

impl SessionPolicy {
    /// The instant the session ends unless a request refreshes it first (only the idle limit
    /// moves); `None` if it has no future at all: its device was removed.
    pub fn ends_at(&self, facts: SessionFacts) -> Option<OffsetDateTime> {
        if !facts.device_active {
            return None;
        }
        Some((facts.last_seen_at + self.idle).min(facts.created_at + self.absolute))
    }

    /// Whether the session may still be used at `now`.
    pub fn is_alive(&self, facts: SessionFacts, now: OffsetDateTime) -> bool {
        self.ends_at(facts).is_some_and(|end| now < end)
    }

    /// The sessions over by `now` whatever their device, as two bounds a store can look up by
    /// index: every session last seen at or before `last_seen_by`, or created at or before
    /// `created_by`, has ended (what housekeeping deletes).
    pub fn ended_by(&self, now: OffsetDateTime) -> EndedSessions {
        EndedSessions { last_seen_by: now - self.idle, created_by: now - self.absolute }
    }
}

/// See [`SessionPolicy::ended_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedSessions {
    pub last_seen_by: OffsetDateTime,
    pub created_by: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const POLICY: SessionPolicy = SessionPolicy { idle: Duration::minutes(5), absolute: Duration::hours(12) };
    const SIGN_IN: OffsetDateTime = datetime!(2026-12-04 09:00 UTC);

    fn facts(last_seen_at: OffsetDateTime) -> SessionFacts {
        SessionFacts { created_at: SIGN_IN, last_seen_at, device_active: true }
    }

    #[test]
    fn an_idle_session_ends() {
        let fresh = facts(SIGN_IN);
        assert!(POLICY.is_alive(fresh, SIGN_IN + Duration::minutes(4)));
        assert!(!POLICY.is_alive(fresh, SIGN_IN + Duration::minutes(5)));
        // A request moves the idle limit along.
        let used = facts(SIGN_IN + Duration::minutes(4));
        assert!(POLICY.is_alive(used, SIGN_IN + Duration::minutes(8)));
        assert_eq!(POLICY.ends_at(used), Some(SIGN_IN + Duration::minutes(9)));
    }

    #[test]
    fn a_busy_session_still_ends_at_its_absolute_limit() {
        // Used a second ago, every second since sign-in: still over after 12 hours.
        let busy = facts(SIGN_IN + Duration::hours(12) - Duration::seconds(1));
        assert!(POLICY.is_alive(busy, SIGN_IN + Duration::hours(12) - Duration::milliseconds(1)));
        assert!(!POLICY.is_alive(busy, SIGN_IN + Duration::hours(12)));
        assert_eq!(POLICY.ends_at(busy), Some(SIGN_IN + Duration::hours(12)));
    }

    #[test]
    fn the_bounds_of_ended_sessions_agree_with_is_alive() {
        let now = SIGN_IN + Duration::hours(13);
        let ended = POLICY.ended_by(now);
        for minutes in [0, 60, 700, 719, 720, 770, 774, 775, 776, 779, 780] {
            let last_seen = SIGN_IN + Duration::minutes(minutes);
            for created_back in [0, 1, 5, 60] {
                let facts = SessionFacts {
                    created_at: (last_seen - Duration::minutes(created_back)).min(last_seen),
                    last_seen_at: last_seen,
                    device_active: true,
                };
                let by_bounds = facts.last_seen_at <= ended.last_seen_by || facts.created_at <= ended.created_by;
                assert_eq!(by_bounds, !POLICY.is_alive(facts, now), "{facts:?}");
            }
        }
    }

    #[test]
    fn a_session_of_a_removed_device_is_over_at_once() {
        let removed = SessionFacts { device_active: false, ..facts(SIGN_IN) };
        assert_eq!(POLICY.ends_at(removed), None);
        assert!(!POLICY.is_alive(removed, SIGN_IN));
    }
}
