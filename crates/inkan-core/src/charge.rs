//! The life of a charge: which states exist and which moves between them are allowed.
//!
//! `pending_confirmation → succeeded | declined | expired`, `succeeded → refunded`, and for a
//! charge a velocity rule set aside (`crate::risk`): `held_for_review → pending_confirmation`
//! (the operator approves it; the shopper may then confirm), `→ declined` (the operator or the
//! shopper declines it) or `→ expired` (nobody decided in time). Every other move is an
//! [`InvalidTransition`], so a refunded charge can never be confirmed, an expired one paid, nor a
//! held one confirmed before a person has looked at it.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// A velocity or anomaly rule set the charge aside: a person at Inkan looks at it before the
    /// shopper may confirm it.
    HeldForReview,
    PendingConfirmation,
    Succeeded,
    Declined,
    Expired,
    Refunded,
}

/// Something that happens to a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeEvent {
    /// The shopper confirmed with a passkey assertion bound to this charge.
    Confirm,
    /// The shopper declined (or said "this wasn't me").
    Decline,
    /// Nobody confirmed (or reviewed) before the deadline.
    Expire,
    /// The operator looked at a held charge and let it go on to the shopper.
    Approve,
    /// The merchant gave the money back.
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} charge cannot {event:?}")]
pub struct InvalidTransition {
    pub from: ChargeStatus,
    pub event: ChargeEvent,
}

impl ChargeStatus {
    pub const ALL: [ChargeStatus; 6] = [
        ChargeStatus::HeldForReview,
        ChargeStatus::PendingConfirmation,
        ChargeStatus::Succeeded,
        ChargeStatus::Declined,
        ChargeStatus::Expired,
        ChargeStatus::Refunded,
    ];

    /// Wire name, as in the merchant API.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::HeldForReview => "held_for_review",
            ChargeStatus::PendingConfirmation => "pending_confirmation",
            ChargeStatus::Succeeded => "succeeded",
            ChargeStatus::Declined => "declined",
            ChargeStatus::Expired => "expired",
            ChargeStatus::Refunded => "refunded",
        }
    }

    pub fn from_wire(s: &str) -> Option<ChargeStatus> {
        ChargeStatus::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Not decided yet: the charge still holds its amount of the wallet's balance, and a terminal
    /// waiting for it keeps waiting.
    pub const fn is_open(self) -> bool {
        matches!(self, ChargeStatus::HeldForReview | ChargeStatus::PendingConfirmation)
    }

    /// No event will ever change a final charge.
    pub const fn is_final(self) -> bool {
        matches!(self, ChargeStatus::Declined | ChargeStatus::Expired | ChargeStatus::Refunded)
    }

    /// The state after `event`, or why it cannot happen.
    pub fn apply(self, event: ChargeEvent) -> Result<ChargeStatus, InvalidTransition> {
        use ChargeEvent as E;
        use ChargeStatus as S;
        match (self, event) {
            (S::HeldForReview, E::Approve) => Ok(S::PendingConfirmation),
            (S::HeldForReview, E::Decline) => Ok(S::Declined),
            (S::HeldForReview, E::Expire) => Ok(S::Expired),
            (S::PendingConfirmation, E::Confirm) => Ok(S::Succeeded),
            (S::PendingConfirmation, E::Decline) => Ok(S::Declined),
            (S::PendingConfirmation, E::Expire) => Ok(S::Expired),
            (S::Succeeded, E::Refund) => Ok(S::Refunded),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }
}

/// What an event does to any charge: the statuses it may move a charge out of, and the one it
/// moves it to, as [`ChargeStatus::apply`] says. The server's conditional writes are built from
/// it (`… SET status = to WHERE status IN from`), so no move is restated in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Vec<ChargeStatus>,
    pub to: ChargeStatus,
}

impl ChargeEvent {
    pub const ALL: [ChargeEvent; 5] =
        [ChargeEvent::Confirm, ChargeEvent::Decline, ChargeEvent::Expire, ChargeEvent::Approve, ChargeEvent::Refund];

    /// The move this event makes, from every status it applies to; `None` for an event that
    /// moves no charge. Every event leads to one status, whatever it leaves (checked by a test
    /// over the whole table).
    pub fn transition(self) -> Option<Transition> {
        let moves: Vec<(ChargeStatus, ChargeStatus)> =
            ChargeStatus::ALL.into_iter().filter_map(|from| from.apply(self).ok().map(|to| (from, to))).collect();
        let &(_, to) = moves.first()?;
        Some(Transition { from: moves.into_iter().map(|(from, _)| from).collect(), to })
    }
}

impl ChargeStatus {
    /// Counts against the wallet's spending limits: paid, or not decided yet (many open charges
    /// must not together pass a limit).
    pub const fn counts_as_spent(self) -> bool {
        self.is_open() || matches!(self, ChargeStatus::Succeeded)
    }

    /// The shopper's money went to the merchant (given back later or not).
    pub const fn was_paid(self) -> bool {
        matches!(self, ChargeStatus::Succeeded | ChargeStatus::Refunded)
    }
}

impl fmt::Display for ChargeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_seven_moves_are_allowed() {
        let events = [
            ChargeEvent::Confirm,
            ChargeEvent::Decline,
            ChargeEvent::Expire,
            ChargeEvent::Refund,
            ChargeEvent::Approve,
        ];
        let mut allowed = Vec::new();
        for from in ChargeStatus::ALL {
            for event in events {
                match from.apply(event) {
                    Ok(to) => allowed.push((from, event, to)),
                    Err(e) => assert_eq!(e, InvalidTransition { from, event }),
                }
            }
        }
        use ChargeStatus as S;
        assert_eq!(
            allowed,
            vec![
                (S::HeldForReview, ChargeEvent::Decline, S::Declined),
                (S::HeldForReview, ChargeEvent::Expire, S::Expired),
                (S::HeldForReview, ChargeEvent::Approve, S::PendingConfirmation),
                (S::PendingConfirmation, ChargeEvent::Confirm, S::Succeeded),
                (S::PendingConfirmation, ChargeEvent::Decline, S::Declined),
                (S::PendingConfirmation, ChargeEvent::Expire, S::Expired),
                (S::Succeeded, ChargeEvent::Refund, S::Refunded),
            ]
        );
        for status in ChargeStatus::ALL {
            assert_eq!(status.is_final(), events.iter().all(|&e| status.apply(e).is_err()));
            // Open: it can still end up paid or not, by more than a refund.
            assert_eq!(status.is_open(), status.apply(ChargeEvent::Expire).is_ok());
        }
    }

    #[test]
    fn every_event_leads_to_one_status_from_the_statuses_it_applies_to() {
        use ChargeStatus as S;
        for event in ChargeEvent::ALL {
            let t = event.transition().unwrap();
            assert!(!t.from.is_empty(), "{event:?} moves nothing");
            for from in ChargeStatus::ALL {
                assert_eq!(from.apply(event).ok(), t.from.contains(&from).then_some(t.to), "{from} {event:?}");
            }
        }
        assert_eq!(
            ChargeEvent::Expire.transition(),
            Some(Transition { from: vec![S::HeldForReview, S::PendingConfirmation], to: S::Expired })
        );
        assert_eq!(
            ChargeEvent::Confirm.transition(),
            Some(Transition { from: vec![S::PendingConfirmation], to: S::Succeeded })
        );
        let spent: Vec<S> = ChargeStatus::ALL.into_iter().filter(|s| s.counts_as_spent()).collect();
        assert_eq!(spent, [S::HeldForReview, S::PendingConfirmation, S::Succeeded]);
    }

    #[test]
    fn wire_names_match_the_merchant_api() {
        for status in ChargeStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(ChargeStatus::from_wire(status.as_str()), Some(status));
        }
        assert_eq!(ChargeStatus::from_wire("SUCCEEDED"), None);
        assert!(serde_json::from_str::<ChargeStatus>("\"paid\"").is_err());
    }
}
