//! Who may lift a freeze. A freeze is the owner's brake against a thief, so it must not be lifted
//! by what a thief can get quickly: a device added recently (by a join the thief pushed through, or
//! with a recovery code they found) or its passkey. A recovery code always can; a passkey can only
//! if its device is settled: in the wallet for [`SETTLED_AFTER`], and older than the wallet's most
//! recent join.

use time::{Duration, OffsetDateTime};

/// How long a device must have been in the wallet before its passkey can lift a freeze.
pub const SETTLED_AFTER: Duration = Duration::hours(72);

/// What the server knows when a device's passkey asks to lift a freeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnfreezeFacts {
    /// When the device asking was added to the wallet.
    pub device_enrolled_at: OffsetDateTime,
    /// When the wallet's most recent join added a device (removed ones count too); `None` if every
    /// device it ever had was the one it was created with.
    pub latest_join_at: Option<OffsetDateTime>,
}

/// Why a passkey may not lift the freeze (a recovery code still can).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnfreezeRefusal {
    #[error(
        "this device joined the wallet less than 72 hours ago: unfreeze with a recovery code, or from a device that has been in the wallet longer"
    )]
    DeviceTooNew { settles_at: OffsetDateTime },
    #[error(
        "this device is the wallet's most recent one: unfreeze with a recovery code, or from a device that was in the wallet before it"
    )]
    NotBeforeLatestJoin,
}

/// May the passkey of the device described by `facts` lift the freeze at `now`?
pub fn may_lift_freeze(facts: UnfreezeFacts, now: OffsetDateTime) -> Result<(), UnfreezeRefusal> {
    let settles_at = facts.device_enrolled_at + SETTLED_AFTER;
    if now < settles_at {
        return Err(UnfreezeRefusal::DeviceTooNew { settles_at });
    }
    if facts.latest_join_at.is_some_and(|join| facts.device_enrolled_at >= join) {
        return Err(UnfreezeRefusal::NotBeforeLatestJoin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const CREATED: OffsetDateTime = datetime!(2026-12-01 09:00 UTC);

    #[test]
    fn a_settled_device_lifts_a_freeze() {
        let phone = UnfreezeFacts { device_enrolled_at: CREATED, latest_join_at: None };
        assert_eq!(may_lift_freeze(phone, CREATED + Duration::hours(72)), Ok(()));
        // With a tablet added later, the phone is still older than the latest join.
        let phone = UnfreezeFacts { latest_join_at: Some(CREATED + Duration::hours(1)), ..phone };
        assert_eq!(may_lift_freeze(phone, CREATED + Duration::days(10)), Ok(()));
    }

    #[test]
    fn a_new_device_does_not() {
        // Even the wallet's first device, in its first 72 hours.
        let phone = UnfreezeFacts { device_enrolled_at: CREATED, latest_join_at: None };
        let settles_at = CREATED + Duration::hours(72);
        assert_eq!(
            may_lift_freeze(phone, settles_at - Duration::SECOND),
            Err(UnfreezeRefusal::DeviceTooNew { settles_at })
        );
        // A device that joined an hour before the freeze.
        let joined = CREATED + Duration::days(30);
        let tablet = UnfreezeFacts { device_enrolled_at: joined, latest_join_at: Some(joined) };
        assert!(matches!(
            may_lift_freeze(tablet, joined + Duration::hours(1)),
            Err(UnfreezeRefusal::DeviceTooNew { .. })
        ));
    }

    #[test]
    fn the_latest_join_never_does_however_old() {
        // A thief's device that joined long ago and waited: as long as nothing joined after it,
        // it is the latest join, and it cannot lift the owner's freeze.
        let joined = CREATED + Duration::hours(1);
        let patient = UnfreezeFacts { device_enrolled_at: joined, latest_join_at: Some(joined) };
        assert_eq!(may_lift_freeze(patient, joined + Duration::days(100)), Err(UnfreezeRefusal::NotBeforeLatestJoin));
        // The phone that was there before it can.
        let phone = UnfreezeFacts { device_enrolled_at: CREATED, latest_join_at: Some(joined) };
        assert_eq!(may_lift_freeze(phone, joined + Duration::days(100)), Ok(()));
    }
}
