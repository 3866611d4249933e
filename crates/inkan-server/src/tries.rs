//! What a failed try of a secret is counted against, as plain values: the counters' names
//! ([`Counter`]), how a client address is named ([`address_key`], as the rate limits count it
//! too), and a failed try on its way to be counted ([`FailedTry`], carried by an `AppError`).
//! `attempts` keeps the counts in the database; this module uses nothing of the server but the
//! issuer's key, so the error type, the rate limits and `attempts` can all name these without a
//! circle.

use std::net::IpAddr;

use inkan_core::attempts::{Against, Secret};

/// One counter: which secret, what it counts against, and whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub secret: Secret,
    pub against: Against,
    pub subject: String,
}

impl Counter {
    /// A card number's counter, by its keyed hash ([`card_number_key`]).
    pub fn card_number(key: &str) -> Counter {
        Counter { secret: Secret::Card, against: Against::CardNumber, subject: key.to_owned() }
    }

    pub fn account(secret: Secret, account_id: &str) -> Counter {
        Counter { secret, against: Against::Account, subject: account_id.to_owned() }
    }

    pub fn device(secret: Secret, device_id: &str) -> Counter {
        Counter { secret, against: Against::Device, subject: device_id.to_owned() }
    }

    /// A session's counter, by its token's hash.
    pub fn session(secret: Secret, token_hash: &str) -> Counter {
        Counter { secret, against: Against::Session, subject: token_hash.to_owned() }
    }

    /// A client address's counter (an IPv6 client by its /64, as the rate limits count it).
    pub fn address(secret: Secret, address: IpAddr) -> Counter {
        Counter { secret, against: Against::Address, subject: address_subject(address) }
    }

    /// The counters of one try of `secret` (not a card's number: see `funding`): as many of the
    /// wallet's, the device's (if one is known) and the client address's as
    /// `Secret::counted_against` says.
    pub fn of(secret: Secret, account_id: &str, device_id: Option<&str>, address: IpAddr) -> Vec<Counter> {
        secret
            .counted_against()
            .iter()
            .filter_map(|against| match against {
                Against::Account => Some(Counter::account(secret, account_id)),
                Against::Device => device_id.map(|device| Counter::device(secret, device)),
                Against::Address => Some(Counter::address(secret, address)),
                Against::CardNumber | Against::Session => None,
            })
            .collect()
    }
}

/// How an address is named in the counters and by the operator's `unlock`.
pub fn address_subject(address: IpAddr) -> String {
    address_key(address).to_string()
}

/// The card number's keyed hash: what its failures are counted by, in every wallet. Keyed with a
/// secret derived from the issuer key, so that the database alone does not tell which number it
/// is (a bare hash of a 16-digit number is found by trying them all). Digits only.
pub fn card_number_key(issuer: &crate::issuer::Issuer, number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &issuer.derive("card numbers"));
    hex::encode(ring::hmac::sign(&key, digits.as_bytes()))
}

/// The key of an address: an IPv4 address, or an IPv6 address's /64.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// A failed try, to count once the request's own transaction is over (see `attempts`).
#[derive(Debug, Clone)]
pub struct FailedTry {
    pub secret: Secret,
    /// The wallet whose devices are told where its counters stand (none for an account id that
    /// is no wallet's).
    pub account_id: Option<String>,
    pub counters: Vec<Counter>,
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    }
}
