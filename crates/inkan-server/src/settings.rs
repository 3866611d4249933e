//! Policy the server runs with: WebAuthn relying party, time limits, default limits, load limits.
//!
//! Built by the binary from flags, environment and an optional TOML file (see `main.rs`). There is
//! deliberately no `Default`: the relying-party id and origin are security data and must be given.

use inkan_core::attempts::AttemptPolicy;
use inkan_core::cards::CardSharing;
use inkan_core::limits::NewDeviceCap;
use inkan_core::region::{Edge, RegionPolicy};
use inkan_core::risk::{Burst, RiskRules, TWO_COUNTRIES_WITHIN, TopUpThenSpend, YoungDeviceFirstCharge};
use inkan_core::{LimitPolicy, Money};
use serde::Deserialize;

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
    /// How often top-ups left `pending` (the provider's answer was lost) are settled by asking
    /// the provider (`flow::topups::reconcile`); also once at start-up.
    pub reconcile_every: std::time::Duration,
    /// The velocity and anomaly rules that set a new charge aside for review (`inkan_core::risk`).
    pub risk: RiskRules,
    /// How long a held charge waits for the operator's decision before it expires. Once approved,
    /// it waits `charge_ttl` for the shopper, as a new charge does.
    pub review_window: Duration,
    /// The end of the migration window of payment codes (docs/payment-code.md): from then on, a
    /// code of version 1 is refused (`payment_code_invalid`). `None`: both versions are taken.
    pub payment_code_v1_until: Option<time::OffsetDateTime>,
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
            reconcile_every: std::time::Duration::from_secs(60),
            risk: RiskRules::DEFAULT,
            review_window: Duration::minutes(10),
            payment_code_v1_until: None,
        })
    }
}

/// The `[risk]` table of the settings file: the review window, and each rule's thresholds (any
/// left out keep [`RiskRules::DEFAULT`]'s) or `off = true`.
///
/// ```toml
/// [risk]
/// review_window_minutes = 10
/// many_charges = { max_charges = 5, within_minutes = 10 }
/// top_up_then_spend = { within_minutes = 30, share_percent = 80, device_younger_than_hours = 72 }
/// two_countries = { within_minutes = 60 }
/// new_device_first_charge = { above_yen = 20000, device_younger_than_hours = 24 }
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskFile {
    pub review_window_minutes: Option<u32>,
    #[serde(default)]
    pub many_charges: ManyChargesFile,
    #[serde(default)]
    pub top_up_then_spend: TopUpThenSpendFile,
    #[serde(default)]
    pub two_countries: TwoCountriesFile,
    #[serde(default)]
    pub new_device_first_charge: NewDeviceFirstChargeFile,
}

/// `[risk] many_charges`: more than `max_charges` charges of one wallet within `within_minutes`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyChargesFile {
    #[serde(default)]
    pub off: bool,
    pub max_charges: Option<u32>,
    pub within_minutes: Option<u32>,
}

/// `[risk] top_up_then_spend`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopUpThenSpendFile {
    #[serde(default)]
    pub off: bool,
    pub within_minutes: Option<u32>,
    pub share_percent: Option<u32>,
    pub device_younger_than_hours: Option<u32>,
}

/// `[risk] two_countries`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoCountriesFile {
    #[serde(default)]
    pub off: bool,
    pub within_minutes: Option<u32>,
}

/// `[risk] new_device_first_charge`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceFirstChargeFile {
    #[serde(default)]
    pub off: bool,
    pub above_yen: Option<u32>,
    pub device_younger_than_hours: Option<u32>,
}

/// A window or age of a rule: at least one unit, at most 30 days.
fn span(value: Option<u32>, default: Duration, unit: Duration, name: &str) -> anyhow::Result<Duration> {
    let Some(value) = value else { return Ok(default) };
    let span = unit * value;
    anyhow::ensure!(value >= 1 && span <= Duration::days(30), "[risk] {name}: between 1 and 30 days' worth");
    Ok(span)
}

impl RiskFile {
    /// The rules this table describes (what it leaves out keeps its default) and the review
    /// window (`window` unless it sets one).
    pub fn apply(&self, window: Duration) -> anyhow::Result<(RiskRules, Duration)> {
        let (minute, hour) = (Duration::MINUTE, Duration::HOUR);
        let many = &self.many_charges;
        let burst = (!many.off)
            .then(|| -> anyhow::Result<Burst> {
                let max_charges = many.max_charges.unwrap_or(Burst::DEFAULT.max_charges);
                anyhow::ensure!(max_charges >= 1, "[risk] many_charges.max_charges: at least 1");
                let within = span(many.within_minutes, Burst::DEFAULT.within, minute, "many_charges.within_minutes")?;
                Ok(Burst { max_charges, within })
            })
            .transpose()?;
        let spend = &self.top_up_then_spend;
        let top_up_then_spend = (!spend.off)
            .then(|| -> anyhow::Result<TopUpThenSpend> {
                let default = TopUpThenSpend::DEFAULT;
                let share_percent = spend.share_percent.unwrap_or(default.share_percent);
                anyhow::ensure!((1..=100).contains(&share_percent), "[risk] top_up_then_spend.share_percent: 1 to 100");
                Ok(TopUpThenSpend {
                    within: span(spend.within_minutes, default.within, minute, "top_up_then_spend.within_minutes")?,
                    share_percent,
                    device_younger_than: span(
                        spend.device_younger_than_hours,
                        default.device_younger_than,
                        hour,
                        "top_up_then_spend.device_younger_than_hours",
                    )?,
                })
            })
            .transpose()?;
        let countries = &self.two_countries;
        let two_countries_within = (!countries.off)
            .then(|| span(countries.within_minutes, TWO_COUNTRIES_WITHIN, minute, "two_countries.within_minutes"))
            .transpose()?;
        let young = &self.new_device_first_charge;
        let young_device_first_charge = (!young.off)
            .then(|| -> anyhow::Result<YoungDeviceFirstCharge> {
                let default = YoungDeviceFirstCharge::DEFAULT;
                Ok(YoungDeviceFirstCharge {
                    above: young.above_yen.map_or(default.above, |yen| Money::yen(i64::from(yen))),
                    device_younger_than: span(
                        young.device_younger_than_hours,
                        default.device_younger_than,
                        hour,
                        "new_device_first_charge.device_younger_than_hours",
                    )?,
                })
            })
            .transpose()?;
        let window = span(self.review_window_minutes, window, minute, "review_window_minutes")?;
        Ok((RiskRules { burst, top_up_then_spend, two_countries_within, young_device_first_charge }, window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_risk_table_sets_thresholds_turns_rules_off_and_refuses_nonsense() {
        let window = Duration::minutes(10);
        let empty = RiskFile::default();
        assert_eq!(empty.apply(window).unwrap(), (RiskRules::DEFAULT, window));
        let file: RiskFile = toml::from_str(
            "review_window_minutes = 30\n\
             many_charges = { max_charges = 3 }\n\
             two_countries = { off = true }\n\
             new_device_first_charge = { above_yen = 5000 }\n",
        )
        .unwrap();
        let (rules, window) = file.apply(window).unwrap();
        assert_eq!(window, Duration::minutes(30));
        assert_eq!(rules.burst, Some(Burst { max_charges: 3, within: Duration::minutes(10) }));
        assert_eq!(rules.two_countries_within, None);
        assert_eq!(rules.young_device_first_charge.unwrap().above, Money::yen(5_000));
        assert_eq!(rules.top_up_then_spend, RiskRules::DEFAULT.top_up_then_spend);
        for bad in [
            "many_charges = { max_charges = 0 }",
            "top_up_then_spend = { share_percent = 101 }",
            "two_countries = { within_minutes = 0 }",
            "review_window_minutes = 100000",
            "many_charges = { max = 3 }",
            "burst = { max_charges = 3 }",
        ] {
            let parsed = toml::from_str::<RiskFile>(bad);
            assert!(parsed.is_err() || parsed.unwrap().apply(window).is_err(), "{bad}");
        }
    }
}
