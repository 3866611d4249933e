//! Card numbers' Luhn check, and one card on many wallets (brief rule 8). A stolen card list is used through many fresh
//! wallets; a real shopper's card is in their own wallet. So a card (as the funding provider's
//! fingerprint names it) that is already verified in as many other wallets as the policy allows is
//! refused in a new one, and the operator sees the attempt.

/// How many wallets one card may be verified in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardSharing {
    /// At least 1.
    pub max_accounts_per_card: u32,
}

impl CardSharing {
    /// One: a card verified in one wallet is refused in any other (a family that shares a card
    /// shares a wallet, or the operator raises this).
    pub const DEFAULT: CardSharing = CardSharing { max_accounts_per_card: 1 };

    /// Whether a card verified in `verified_elsewhere` other wallets may be verified in one more.
    pub fn admits(&self, verified_elsewhere: u32) -> bool {
        verified_elsewhere < self.max_accounts_per_card
    }
}

/// Whether a card number's digits (each 0 to 9) pass the Luhn check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `body` (ASCII digits) with the Luhn check digit appended: a card number that passes the check.
/// `None` if `body` holds anything but digits.
pub fn with_check_digit(body: &str) -> Option<String> {
    let digits: Vec<u8> = body.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.iter().any(|d| *d > 9) {
        return None;
    }
    (0..10u8).find_map(|check| {
        let mut number = digits.clone();
        number.push(check);
        luhn_valid(&number).then(|| format!("{body}{check}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_knows_the_test_cards() {
        let digits = |n: &str| n.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
        assert!(luhn_valid(&digits("4242424242424242")));
        assert!(!luhn_valid(&digits("4242424242424241")));
        assert_eq!(with_check_digit("424242424242424").as_deref(), Some("4242424242424242"));
        assert_eq!(with_check_digit("400000000000322").as_deref(), Some("4000000000003220"));
        assert_eq!(with_check_digit("4242x"), None);
        for n in 0..50 {
            let number = with_check_digit(&format!("4242420{n:08}")).unwrap();
            assert!(luhn_valid(&digits(&number)) && number.len() == 16);
        }
    }

    #[test]
    fn a_card_in_one_wallet_is_refused_in_a_second_by_default() {
        let sharing = CardSharing::DEFAULT;
        assert!(sharing.admits(0));
        assert!(!sharing.admits(1));
        assert!(!sharing.admits(7));
        let family = CardSharing { max_accounts_per_card: 3 };
        assert!(family.admits(2));
        assert!(!family.admits(3));
    }
}
