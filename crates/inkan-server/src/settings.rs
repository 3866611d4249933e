//! Policy the server runs with: WebAuthn relying party, time limits, default limits, load limits.
//!
//! Built by the binary from flags, environment and an optional TOML file (see `main.rs`). There is
//! deliberately no `Default`: the relying-party id and origin are security data and must be given.

use inkan_core::attempts::AttemptPolicy;
use inkan_core::cards::CardSharing;
use inkan_core::limits::NewDeviceCap;
use inkan_core::region::{Edge, RegionPolicy};
use inkan_core::{LimitPolicy, Money};

use crate::ratelimit::RateLimits;
use time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct Settings {
    /// WebAuthn relying-party id: the domain passkeys are bound to (e.g. `inkan.example`).
    pub rp_id: String,
    /// The web origin the wallet's WebAuthn requests come from (e.g. `https://inkan.example`).
    pub rp_origin: Url,
    /// How long a charge waits for the shopper before it expires.
    pub charge_ttl: Duration,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub session_max: Duration,
    /// How long a passkey ceremony (begin → finish) may take.
    pub ceremony_ttl: Duration,
    /// How long a raised limit waits before it applies.
    pub limits_cooling_off: Duration,
    /// Limits of a new wallet.
    pub initial_limits: LimitPolicy,
    /// Reduced limits for a device in its first hours.
    pub new_device_cap: NewDeviceCap,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The proxies in front of the server whose headers name a client's address and country.
    pub edge: Edge,
    /// The countries served (ISO 3166-1 alpha-2), and what a request of unknown country gets:
    /// enrolment, sign-in, joins, cards, top-ups and payments from elsewhere are refused.
    pub region: RegionPolicy,
    /// How much work the server takes on at once before it answers `503 overloaded`.
    pub load: LoadLimits,
    /// Failed tries of card details, passkeys and recovery codes per card number, wallet, device
    /// and client address (`attempts`).
    pub attempts: AttemptPolicy,
    /// How many wallets one card may be verified in (`inkan_core::cards`).
    pub card_sharing: CardSharing,
    /// Requests per client address and per wallet on the flows anyone can start (`ratelimit`).
    pub rate_limits: RateLimits,
    /// How often expired ceremonies, ended sessions and old device joins are deleted.
    pub housekeeping_every: std::time::Duration,
}

/// The server's bounds on concurrent work (see `admission`). Past them a request is refused at
/// once with `503 overloaded` and `Retry-After`, never queued without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Short requests being handled at once (everything but live feeds and long-polls).
    pub max_requests_in_flight: usize,
    /// Live feeds (SSE) and charge long-polls open at once. Counted apart so that long-lived
    /// connections cannot starve short requests.
    pub max_open_streams: usize,
    /// How long a request waits for a database connection before it gets `503 overloaded`.
    pub db_acquire_timeout: std::time::Duration,
    /// Live feeds one wallet may have open at once, within `max_open_streams`; past it,
    /// `429 too_many_requests`. One wallet must not take every stream's place.
    pub max_feeds_per_account: usize,
    /// How long a short request may take from arrival to answer, its body included; past it,
    /// `408 request_timeout` and nothing is kept.
    pub request_timeout: std::time::Duration,
    /// How long a client may take to send a request's body; past it, `408 request_timeout`. A
    /// client that trickles its body must not hold a place for long.
    pub body_timeout: std::time::Duration,
}

impl LoadLimits {
    /// 256 requests and 512 streams stay below the common limit of 1,024 open files per process
    /// (each is a socket) with room for the database; 2 s of waiting for a connection is already
    /// far beyond any healthy request. A wallet has a phone, a tablet and a computer or two, each
    /// with a window or two open: 8 feeds. A body is at most 16 KiB, which a poor mobile link
    /// sends in well under 10 s; a request that has its body and still takes 15 s is stuck.
    pub const DEFAULT: LoadLimits = LoadLimits {
        max_requests_in_flight: 256,
        max_open_streams: 512,
        db_acquire_timeout: std::time::Duration::from_secs(2),
        max_feeds_per_account: 8,
        request_timeout: std::time::Duration::from_secs(15),
        body_timeout: std::time::Duration::from_secs(10),
    };
}

impl Settings {
    /// The production policy for a relying party: 120 s charges, 5 min idle sessions that end
    /// after 12 h at most, 24 h
    /// cooling-off, 72 h new-device caps.
    pub fn for_relying_party(rp_id: String, rp_origin: Url) -> anyhow::Result<Settings> {
        let yen = Money::yen;
        Ok(Settings {
            rp_id,
            rp_origin,
            charge_ttl: Duration::seconds(120),
            session_idle: Duration::minutes(5),
            session_max: Duration::hours(12),
            ceremony_ttl: Duration::minutes(5),
            limits_cooling_off: Duration::hours(24),
            initial_limits: LimitPolicy::new(yen(50_000), yen(100_000), yen(300_000))?,
            new_device_cap: NewDeviceCap {
                probation: Duration::hours(72),
                cap: LimitPolicy::new(yen(30_000), yen(30_000), yen(50_000))?,
            },
            body_limit: 16 * 1024,
            edge: Edge::default(),
            region: RegionPolicy::default(),
            load: LoadLimits::DEFAULT,
            attempts: AttemptPolicy::DEFAULT,
            card_sharing: CardSharing::DEFAULT,
            rate_limits: RateLimits::DEFAULT,
            housekeeping_every: std::time::Duration::from_secs(60),
        })
    }
}
