//! The core's charge statuses and moves, as the SQL that writes and reads them. Every status
//! change is a conditional write built from `inkan_core::ChargeEvent::transition` (`… SET status =
//! to … WHERE status IN from`), and every set of statuses a query counts comes from a rule of
//! `ChargeStatus` (`is_open`, `counts_as_spent`, `was_paid`): no move or set is restated here.
//! Wire names are fixed ASCII words of the core, never input, so they are written into the SQL.

use inkan_core::{ChargeEvent, ChargeStatus};

use crate::error::{AppError, Result};

/// `'a', 'b'`: statuses as an SQL list.
fn list(statuses: impl IntoIterator<Item = ChargeStatus>) -> String {
    statuses.into_iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

fn all_where(rule: fn(ChargeStatus) -> bool) -> String {
    list(ChargeStatus::ALL.into_iter().filter(|&s| rule(s)))
}

/// The write of one event: the status it sets, and the statuses (an SQL list) a row must be in.
#[derive(Debug, Clone)]
pub struct Move {
    pub to: ChargeStatus,
    pub from: String,
}

impl Move {
    /// `event` from every status it applies to.
    pub fn of(event: ChargeEvent) -> Result<Move> {
        let t = event.transition().ok_or_else(|| AppError::internal(format!("{event:?} moves no charge")))?;
        Ok(Move { to: t.to, from: list(t.from) })
    }

    /// `event` from `from` only (an operator's decision on a held charge, say).
    pub fn from_only(from: ChargeStatus, event: ChargeEvent) -> Result<Move> {
        let to = from.apply(event).map_err(AppError::internal)?;
        Ok(Move { to, from: list([from]) })
    }

    /// `status = '<to>'`, for the `SET` of the write.
    pub fn set(&self) -> String {
        format!("status = '{}'", self.to.as_str())
    }
}

/// Not decided yet (`ChargeStatus::is_open`).
pub fn open() -> String {
    all_where(ChargeStatus::is_open)
}

/// Count against the spending limits (`ChargeStatus::counts_as_spent`).
pub fn spent() -> String {
    all_where(ChargeStatus::counts_as_spent)
}

/// The shopper's money went to the merchant (`ChargeStatus::was_paid`).
pub fn paid() -> String {
    all_where(ChargeStatus::was_paid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_says_what_the_core_says() {
        let confirm = Move::of(ChargeEvent::Confirm).unwrap();
        assert_eq!(
            (confirm.set(), confirm.from),
            ("status = 'succeeded'".to_owned(), "'pending_confirmation'".to_owned())
        );
        assert_eq!(Move::of(ChargeEvent::Expire).unwrap().from, "'held_for_review', 'pending_confirmation'");
        let approve = Move::from_only(ChargeStatus::HeldForReview, ChargeEvent::Approve).unwrap();
        assert_eq!(approve.to, ChargeStatus::PendingConfirmation);
        assert!(Move::from_only(ChargeStatus::Refunded, ChargeEvent::Confirm).is_err());
        assert_eq!(open(), "'held_for_review', 'pending_confirmation'");
        assert_eq!(spent(), "'held_for_review', 'pending_confirmation', 'succeeded'");
        assert_eq!(paid(), "'succeeded', 'refunded'");
    }
}
