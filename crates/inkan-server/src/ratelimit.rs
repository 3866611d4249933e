//! Rate limits on the flows anyone can start and the costly ones: enrolment, sign-in, device
//! joins, recovery codes and cards. Past a limit a request gets `429 too_many_requests` with
//! `Retry-After`, having done nothing.
//!
//! Each flow has a token bucket per client address (the trusted edge's, see `origin`) and, where
//! the request names a wallet, one per wallet. The buckets are `governor`'s GCRA, kept in memory
//! per instance and run on the server's clock (so tests move time instead of sleeping): a limit
//! that must hold across instances (consecutive failures, joins waiting per wallet) is kept in the
//! database instead. An IPv6 client is counted by its /64, the block one subscriber gets.
//!
//! Unknown wallets are limited exactly like known ones: a limit must not tell which exist.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
use crate::error::{AppError, Result};
use crate::tries::address_key;

/// One token bucket: `burst` requests at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub burst: u32,
    pub every: Duration,
}

impl Bucket {
    pub const fn new(burst: u32, every: Duration) -> Bucket {
        Bucket { burst, every }
    }

    /// This bucket `factor` times as large, refilling `factor` times as fast (load tests).
    pub fn scaled(self, factor: u32) -> Bucket {
        let factor = factor.max(1);
        Bucket { burst: self.burst.saturating_mul(factor), every: self.every / factor }
    }

    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        Some(Quota::with_period(self.every)?.allow_burst(burst))
    }
}

/// The limits of one flow: per client address, and per wallet where the request names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimit {
    pub per_address: Bucket,
    pub per_account: Bucket,
}

/// The flows that are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Beginning and finishing a new wallet (no wallet named: per address only).
    Enrolment,
    /// Beginning a sign-in.
    SignIn,
    /// A new device asking to join a wallet.
    JoinBegin,
    /// A joining device submitting its key (and perhaps a recovery code).
    JoinSubmit,
    /// Any use of a recovery code: a join, a freeze, an unfreeze.
    RecoveryCode,
    /// Adding a card and answering its verification code.
    Card,
}

impl Flow {
    const ALL: [Flow; 6] =
        [Flow::Enrolment, Flow::SignIn, Flow::JoinBegin, Flow::JoinSubmit, Flow::RecoveryCode, Flow::Card];

    fn index(self) -> usize {
        match self {
            Flow::Enrolment => 0,
            Flow::SignIn => 1,
            Flow::JoinBegin => 2,
            Flow::JoinSubmit => 3,
            Flow::RecoveryCode => 4,
            Flow::Card => 5,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Flow::Enrolment => "new wallets",
            Flow::SignIn => "sign-ins",
            Flow::JoinBegin | Flow::JoinSubmit => "device join requests",
            Flow::RecoveryCode => "recovery code tries",
            Flow::Card => "card registrations",
        }
    }
}

/// Every flow's limits. See [`RateLimits::DEFAULT`] for the reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub enrolment: FlowLimit,
    pub sign_in: FlowLimit,
    pub join_begin: FlowLimit,
    pub join_submit: FlowLimit,
    pub recovery_code: FlowLimit,
    pub card: FlowLimit,
}

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

impl RateLimits {
    /// Chosen so that people never meet them, while a script meets them within seconds. An address
    /// may be shared by a whole shop, office or mobile carrier (carrier-grade NAT), so the
    /// per-address buckets are the wide ones; the per-wallet ones are tight, as one wallet has a
    /// handful of devices and one person.
    ///
    /// - Enrolment: 20 at once per address, then one every 3 minutes. A family setting up phones
    ///   together makes a few; a script making wallets to guess cards is slowed to 20 an hour.
    /// - Sign-in: 60 at once per address, then one every 2 s (a shared address of many shoppers);
    ///   10 per wallet, then one every 30 s (a wallet signs in each device every few minutes at
    ///   most).
    /// - Join requests: 10 per address, then one a minute; 5 per wallet, then one every 2 minutes.
    ///   (At most 3 wait per wallet at once in any case: see `devices`.)
    /// - Recovery codes: 10 per address and per wallet (as many as a wallet has codes), then one
    ///   every 10 minutes. People use them once in years; 80-bit codes cannot be guessed, but every
    ///   wrong try is a notice to the shopper.
    /// - Cards: 10 per address and per wallet, then one every 6 minutes. A card number guessed
    ///   digit by digit needs thousands of tries.
    pub const DEFAULT: RateLimits = RateLimits {
        enrolment: FlowLimit {
            per_address: Bucket::new(20, minutes(3)),
            // A new wallet names none: unused.
            per_account: Bucket::new(20, minutes(3)),
        },
        sign_in: FlowLimit {
            per_address: Bucket::new(60, Duration::from_secs(2)),
            per_account: Bucket::new(10, Duration::from_secs(30)),
        },
        join_begin: FlowLimit { per_address: Bucket::new(10, minutes(1)), per_account: Bucket::new(5, minutes(2)) },
        join_submit: FlowLimit { per_address: Bucket::new(10, minutes(1)), per_account: Bucket::new(5, minutes(2)) },
        recovery_code: FlowLimit {
            per_address: Bucket::new(10, minutes(10)),
            per_account: Bucket::new(10, minutes(10)),
        },
        card: FlowLimit { per_address: Bucket::new(10, minutes(6)), per_account: Bucket::new(10, minutes(6)) },
    };

    pub fn of(&self, flow: Flow) -> FlowLimit {
        match flow {
            Flow::Enrolment => self.enrolment,
            Flow::SignIn => self.sign_in,
            Flow::JoinBegin => self.join_begin,
            Flow::JoinSubmit => self.join_submit,
            Flow::RecoveryCode => self.recovery_code,
            Flow::Card => self.card,
        }
    }

    /// Every bucket `factor` times as large and as fast: for load tests and benchmarks, where one
    /// address makes thousands of wallets (`serve --rate-limit-scale`).
    pub fn scaled(self, factor: u32) -> RateLimits {
        let scale = |l: FlowLimit| FlowLimit {
            per_address: l.per_address.scaled(factor),
            per_account: l.per_account.scaled(factor),
        };
        RateLimits {
            enrolment: scale(self.enrolment),
            sign_in: scale(self.sign_in),
            join_begin: scale(self.join_begin),
            join_submit: scale(self.join_submit),
            recovery_code: scale(self.recovery_code),
            card: scale(self.card),
        }
    }
}

/// governor's view of the server's clock: time since the Unix epoch.
#[derive(Clone)]
struct ServerClock(Arc<dyn Clock>);

impl governor::clock::Clock for ServerClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let nanos = self.0.now().unix_timestamp_nanos();
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, ServerClock, governor::middleware::NoOpMiddleware<Duration>>;

/// One flow's buckets (`None`: a bucket of size 0, which refuses everything).
struct FlowBuckets {
    by_address: Option<Keyed<IpAddr>>,
    by_account: Option<Keyed<String>>,
}

/// The buckets of every flow, shared by every request of this instance.
pub struct Limiter {
    clock: ServerClock,
    flows: Vec<FlowBuckets>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(limits: &RateLimits, clock: Arc<dyn Clock>) -> Limiter {
        let clock = ServerClock(clock);
        let flows = Flow::ALL
            .iter()
            .map(|flow| {
                let limit = limits.of(*flow);
                FlowBuckets {
                    by_address: limit.per_address.quota().map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
                    by_account: limit.per_account.quota().map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
                }
            })
            .collect();
        Limiter { clock, flows }
    }

    /// Takes a token of `flow` for the client's address (see `origin::Client`) and, if given, the
    /// wallet; or `429 too_many_requests` with the time until one is free.
    pub fn check(&self, flow: Flow, address: IpAddr, account_id: Option<&str>) -> Result<()> {
        let Some(buckets) = self.flows.get(flow.index()) else { return Ok(()) };
        let now = governor::clock::Clock::now(&self.clock);
        let refused = |wait: Duration| {
            // Whole seconds, rounded up: a client that waits as told is let in.
            let whole = wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0));
            let seconds = u32::try_from(whole).unwrap_or(u32::MAX).max(1);
            AppError::too_many_requests(
                format!("too many {} from here; try again in {seconds} s", flow.what()),
                seconds,
            )
        };
        match &buckets.by_address {
            Some(limiter) => limiter.check_key(&address_key(address)).map_err(|n| refused(n.wait_time_from(now)))?,
            None => return Err(refused(Duration::from_secs(3600))),
        }
        if let Some(account_id) = account_id {
            match &buckets.by_account {
                // Bounded: ids are at most 64 characters (checked before).
                Some(limiter) => limiter
                    .check_key(&account_id.chars().take(64).collect::<String>())
                    .map_err(|n| refused(n.wait_time_from(now)))?,
                None => return Err(refused(Duration::from_secs(3600))),
            }
        }
        Ok(())
    }

    /// Forgets buckets that are full again (housekeeping), so memory follows recent clients only.
    pub fn forget_idle(&self) {
        for buckets in &self.flows {
            if let Some(limiter) = &buckets.by_address {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            if let Some(limiter) = &buckets.by_account {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;

    fn client(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_refills_on_the_server_s_clock() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-12-05 09:00 UTC)));
        let mut limits = RateLimits::DEFAULT;
        limits.sign_in = FlowLimit {
            per_address: Bucket::new(3, Duration::from_secs(10)),
            per_account: Bucket::new(2, Duration::from_secs(60)),
        };
        let limiter = Limiter::new(&limits, clock.clone());
        let here = client("203.0.113.9");
        for _ in 0..3 {
            limiter.check(Flow::SignIn, here, None).unwrap();
        }
        let refused = limiter.check(Flow::SignIn, here, None).unwrap_err();
        assert_eq!(refused.code, inkan_api::ErrorCode::TooManyRequests);
        assert_eq!(refused.retry_after, Some(10));
        // Another address has its own bucket; another flow too.
        limiter.check(Flow::SignIn, client("203.0.113.10"), None).unwrap();
        limiter.check(Flow::Enrolment, here, None).unwrap();
        clock.advance(time::Duration::seconds(10));
        limiter.check(Flow::SignIn, here, None).unwrap();
        assert!(limiter.check(Flow::SignIn, here, None).is_err());

        // Per wallet, from as many addresses as one likes.
        for (i, address) in ["198.51.100.1", "198.51.100.2"].into_iter().enumerate() {
            limiter.check(Flow::SignIn, client(address), Some("acct_1")).unwrap_or_else(|e| panic!("{i}: {e:?}"));
        }
        let refused = limiter.check(Flow::SignIn, client("198.51.100.3"), Some("acct_1")).unwrap_err();
        assert_eq!(refused.retry_after, Some(60));
        limiter.check(Flow::SignIn, client("198.51.100.3"), Some("acct_2")).unwrap();
        limiter.forget_idle();
    }

    #[test]
    fn scaling_keeps_the_rate_shape() {
        let b = Bucket::new(10, Duration::from_secs(60)).scaled(100);
        assert_eq!(b, Bucket::new(1_000, Duration::from_millis(600)));
        assert_eq!(Bucket::new(10, Duration::from_secs(60)).scaled(0), Bucket::new(10, Duration::from_secs(60)));
    }
}
