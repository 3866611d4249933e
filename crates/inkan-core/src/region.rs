//! Where a request comes from, and whether the region policy lets it in (brief rule 6).
//!
//! 7pay left overseas access open. Inkan serves the countries the issuer is licensed in (`JP` by
//! default), and learns a client's country only from a trusted edge: a header such as Cloudflare's
//! `CF-IPCountry`, believed only when the TCP peer is one of the configured proxy networks. The same
//! edge names the client's address (`X-Forwarded-For`) for every per-address limit; from anyone
//! else, both headers are ignored and the socket's peer is the client.
//!
//! Everything here is pure: the server passes in the peer, the headers and the policy.

use core::net::IpAddr;
use std::fmt;
use std::str::FromStr;

pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 country code, upper case (`JP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a country is two letters (ISO 3166-1 alpha-2, e.g. JP), not {0:?}")]
pub struct CountryError(String);

impl Country {
    pub const JP: Country = Country(*b"JP");

    pub fn as_str(&self) -> &str {
        // Two ASCII letters, by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for Country {
    type Err = CountryError;

    /// Two ASCII letters, either case.
    fn from_str(s: &str) -> Result<Country, CountryError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(CountryError(s.chars().take(16).collect())),
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Country, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The edge in front of the server: which peers are our proxies, and which header of theirs names
/// the client's country.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    /// Networks of the proxies (load balancer, CDN) whose headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The header a trusted proxy names the client's country in (e.g. `cf-ipcountry`).
    pub country_header: Option<String>,
}

/// A request's client as the edge establishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The client's address: from a trusted proxy's `X-Forwarded-For`, otherwise the peer.
    pub address: IpAddr,
    /// The client's country, from a trusted proxy's country header; `None` when no trusted proxy
    /// said (or said it does not know: `XX`).
    pub country: Option<Country>,
}

/// Longest `X-Forwarded-For` read; longer ones are not believed.
const MAX_FORWARDED_FOR: usize = 1_024;

impl Edge {
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The origin of a request that came from `peer` with these header values.
    ///
    /// From a trusted proxy, the client is the last address of `X-Forwarded-For` that is not itself
    /// a trusted proxy (each proxy appends the peer it saw, so addresses to the left of it are the
    /// client's own claims); the country comes from the country header. From anyone else, both are
    /// ignored: the client is the peer, and its country is unknown.
    pub fn origin(&self, peer: IpAddr, forwarded_for: Option<&str>, country: Option<&str>) -> Origin {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return Origin { address: peer, country: None };
        }
        let address = forwarded_for
            .filter(|v| v.len() <= MAX_FORWARDED_FOR)
            .and_then(|v| {
                let hops: Option<Vec<IpAddr>> = v.split(',').map(|hop| hop.trim().parse().ok()).collect();
                let hops = hops?;
                let client = hops.iter().rev().map(|a| canonical(*a)).find(|a| !self.trusts(*a));
                client.or_else(|| hops.first().copied().map(canonical))
            })
            .unwrap_or(peer);
        // `XX`: Cloudflare does not know the country. Anything malformed is unknown too.
        let country = country.and_then(|c| c.trim().parse::<Country>().ok()).filter(|c| c.as_str() != "XX");
        Origin { address, country }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What to do with a request whose country no trusted edge named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCountry {
    /// Refuse it: production, behind an edge that names every client's country.
    Deny,
    /// Let it in only from this machine (`127.0.0.0/8`, `::1`): development and tests, where no
    /// edge stands in front. The default.
    AllowLoopback,
    /// Let it in from anywhere: only for a deployment whose edge cannot name countries, which then
    /// has no region policy at all.
    Allow,
}

/// The countries served, and what a request of unknown country gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPolicy {
    pub allowed: Vec<Country>,
    pub unknown: UnknownCountry,
}

impl Default for RegionPolicy {
    /// `JP` only; an unknown country only from this machine.
    fn default() -> Self {
        RegionPolicy { allowed: vec![Country::JP], unknown: UnknownCountry::AllowLoopback }
    }
}

/// Why the region policy refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// From a country that is not served.
    Country(Country),
    /// No trusted edge named a country, and the policy wants one.
    UnknownCountry,
}

impl RegionPolicy {
    /// Whether a request from `origin` may enrol, sign in, join, add a card, top up or pay.
    pub fn admit(&self, origin: &Origin) -> Result<(), Blocked> {
        match origin.country {
            Some(country) if self.allowed.contains(&country) => Ok(()),
            Some(country) => Err(Blocked::Country(country)),
            None => match self.unknown {
                UnknownCountry::Allow => Ok(()),
                UnknownCountry::AllowLoopback if origin.address.is_loopback() => Ok(()),
                UnknownCountry::AllowLoopback | UnknownCountry::Deny => Err(Blocked::UnknownCountry),
            },
        }
    }

    /// Whether a terminal configured for `country` may take payments.
    pub fn admit_terminal(&self, country: Country) -> Result<(), Blocked> {
        if self.allowed.contains(&country) { Ok(()) } else { Err(Blocked::Country(country)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn edge() -> Edge {
        Edge {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
            country_header: Some("cf-ipcountry".to_owned()),
        }
    }

    #[test]
    fn countries_are_two_letters() {
        assert_eq!("jp".parse::<Country>().unwrap(), Country::JP);
        assert_eq!(Country::JP.to_string(), "JP");
        for bad in ["", "J", "JPN", "J1", "日本", " JP"] {
            assert!(bad.parse::<Country>().is_err(), "{bad:?}");
        }
        let json: Country = serde_json::from_str("\"us\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"US\"");
        assert!(serde_json::from_str::<Country>("\"USA\"").is_err());
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_its_country() {
        let origin = edge().origin(ip("10.1.2.3"), Some("203.0.113.9"), Some("US"));
        assert_eq!(origin, Origin { address: ip("203.0.113.9"), country: Some("US".parse().unwrap()) });
        // Through two of our proxies: the last address that is not ours is the client.
        let origin = edge().origin(ip("10.1.2.3"), Some("198.51.100.1, 203.0.113.9, 10.9.9.9"), Some("jp"));
        assert_eq!(origin, Origin { address: ip("203.0.113.9"), country: Some(Country::JP) });
        // An IPv4 peer seen as IPv6 is the same peer.
        let origin = edge().origin(ip("::ffff:10.1.2.3"), Some("203.0.113.9"), None);
        assert_eq!(origin.address, ip("203.0.113.9"));
    }

    #[test]
    fn anyone_else_s_headers_are_ignored() {
        let origin = edge().origin(ip("203.0.113.9"), Some("10.0.0.1, 1.2.3.4"), Some("JP"));
        assert_eq!(origin, Origin { address: ip("203.0.113.9"), country: None });
        let origin = Edge::default().origin(ip("127.0.0.1"), Some("1.2.3.4"), Some("JP"));
        assert_eq!(origin, Origin { address: ip("127.0.0.1"), country: None });
    }

    #[test]
    fn malformed_forwarding_is_not_believed() {
        let long = "1.2.3.4,".repeat(300);
        for bad in ["", "not an address", "1.2.3.4, junk", "1.2.3.4,", long.as_str()] {
            let origin = edge().origin(ip("10.1.2.3"), Some(bad), Some("JP"));
            assert_eq!(origin.address, ip("10.1.2.3"), "{bad:?}");
        }
        // All hops are our proxies: the first one is the client.
        assert_eq!(edge().origin(ip("10.1.2.3"), Some("10.0.0.7, 10.0.0.8"), None).address, ip("10.0.0.7"));
        // Unknown and malformed countries are unknown.
        for unknown in ["XX", "", "J", "JPN"] {
            assert_eq!(edge().origin(ip("10.1.2.3"), None, Some(unknown)).country, None, "{unknown:?}");
        }
    }

    #[test]
    fn the_policy_admits_served_countries_and_unknown_ones_as_configured() {
        let policy = RegionPolicy::default();
        let from = |address: &str, country: Option<&str>| Origin {
            address: ip(address),
            country: country.map(|c| c.parse().unwrap()),
        };
        assert_eq!(policy.admit(&from("203.0.113.9", Some("JP"))), Ok(()));
        let us = "US".parse().unwrap();
        assert_eq!(policy.admit(&from("203.0.113.9", Some("US"))), Err(Blocked::Country(us)));
        // Even from this machine, a named foreign country is refused.
        assert_eq!(policy.admit(&from("127.0.0.1", Some("US"))), Err(Blocked::Country(us)));
        assert_eq!(policy.admit(&from("127.0.0.1", None)), Ok(()));
        assert_eq!(policy.admit(&from("::1", None)), Ok(()));
        assert_eq!(policy.admit(&from("203.0.113.9", None)), Err(Blocked::UnknownCountry));
        let deny = RegionPolicy { unknown: UnknownCountry::Deny, ..RegionPolicy::default() };
        assert_eq!(deny.admit(&from("127.0.0.1", None)), Err(Blocked::UnknownCountry));
        let allow = RegionPolicy { unknown: UnknownCountry::Allow, ..RegionPolicy::default() };
        assert_eq!(allow.admit(&from("203.0.113.9", None)), Ok(()));
        assert_eq!(policy.admit_terminal(Country::JP), Ok(()));
        assert_eq!(policy.admit_terminal(us), Err(Blocked::Country(us)));
    }
}
