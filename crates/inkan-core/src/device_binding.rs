//! What a device's passkey may do, and when a device may be removed: the rules that keep a removed
//! phone, its passkey and its sessions from acting for the wallet (brief rules 1 and 10).
//!
//! A passkey belongs to exactly one device. It proves the person *on that device*; it never acts
//! for another device of the wallet, and it stops acting the moment its device is removed.

use time::Duration;

/// The facts about the device a passkey belongs to, as the server read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyOwner<'a> {
    /// The account the passkey was registered to.
    pub account_id: &'a str,
    /// The device the passkey was registered with.
    pub device_id: &'a str,
    /// Whether that device is still part of the wallet.
    pub device_active: bool,
}

/// Why a passkey may not act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BindingRefusal {
    #[error("this passkey belongs to another wallet")]
    OtherAccount,
    #[error("this passkey belongs to another device of the wallet")]
    OtherDevice,
    #[error("this passkey's device was removed from the wallet")]
    DeviceRemoved,
}

/// May a passkey owned by `owner` act for `device_id` of `account_id` (sign in there, confirm a
/// step-up or a charge there)? Only for its own device, and only while that device is active.
pub fn passkey_acts_for(owner: PasskeyOwner<'_>, account_id: &str, device_id: &str) -> Result<(), BindingRefusal> {
    if owner.account_id != account_id {
        return Err(BindingRefusal::OtherAccount);
    }
    if owner.device_id != device_id {
        return Err(BindingRefusal::OtherDevice);
    }
    if !owner.device_active {
        return Err(BindingRefusal::DeviceRemoved);
    }
    Ok(())
}

/// Why a device may not be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RevokeRefusal {
    #[error("no such active device in this wallet")]
    NotActive,
    #[error("this is the wallet's last device: add another before removing it")]
    LastDevice,
}

/// May a device be removed, given whether it is active and how many active devices the wallet
/// has (it included)? Never the last one: a wallet without a device could not be used or
/// recovered except through support.
pub fn may_revoke(target_active: bool, active_devices: u64) -> Result<(), RevokeRefusal> {
    if !target_active {
        return Err(RevokeRefusal::NotActive);
    }
    if active_devices <= 1 {
        return Err(RevokeRefusal::LastDevice);
    }
    Ok(())
}

/// How many devices may wait to join one wallet at once, and how long a request to join lives.
///
/// Anyone who knows a wallet's id can ask to join it, and each request that names its device is a
/// notice to the wallet's devices: without a bound, a script floods the shopper with "a device
/// asks to join" until one is approved by mistake (approval fatigue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinPolicy {
    /// Requests waiting at once per wallet (not yet completed, rejected or expired).
    pub max_waiting: u32,
    /// From the request to the new device's passkey.
    pub ttl: Duration,
}

impl JoinPolicy {
    /// Three at once, each for ten minutes: a person adds one device at a time, in a minute or two.
    pub const DEFAULT: JoinPolicy = JoinPolicy { max_waiting: 3, ttl: Duration::minutes(10) };

    /// Whether one more request may begin while `waiting` others of the wallet are waiting.
    pub fn admits(&self, waiting: u64) -> bool {
        waiting < u64::from(self.max_waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: PasskeyOwner<'static> =
        PasskeyOwner { account_id: "acct_1", device_id: "dev_phone", device_active: true };

    #[test]
    fn a_passkey_acts_only_for_its_own_active_device() {
        assert_eq!(passkey_acts_for(PHONE, "acct_1", "dev_phone"), Ok(()));
        // The thief claims the owner's other device.
        assert_eq!(passkey_acts_for(PHONE, "acct_1", "dev_tablet"), Err(BindingRefusal::OtherDevice));
        // Or another wallet altogether.
        assert_eq!(passkey_acts_for(PHONE, "acct_2", "dev_phone"), Err(BindingRefusal::OtherAccount));
        // Once the phone is removed, its passkey does nothing, even for the phone itself.
        let removed = PasskeyOwner { device_active: false, ..PHONE };
        assert_eq!(passkey_acts_for(removed, "acct_1", "dev_phone"), Err(BindingRefusal::DeviceRemoved));
        assert_eq!(passkey_acts_for(removed, "acct_1", "dev_tablet"), Err(BindingRefusal::OtherDevice));
    }

    #[test]
    fn the_last_device_stays() {
        assert_eq!(may_revoke(true, 2), Ok(()));
        assert_eq!(may_revoke(true, 1), Err(RevokeRefusal::LastDevice));
        assert_eq!(may_revoke(true, 0), Err(RevokeRefusal::LastDevice));
        assert_eq!(may_revoke(false, 3), Err(RevokeRefusal::NotActive));
    }

    #[test]
    fn at_most_three_joins_wait_at_once() {
        let policy = JoinPolicy::DEFAULT;
        assert!(policy.admits(0) && policy.admits(2));
        assert!(!policy.admits(3) && !policy.admits(50));
        assert_eq!(policy.ttl, Duration::minutes(10));
    }
}
