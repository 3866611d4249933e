//! What an operator key may do, and which of its actions are kept in the audit trail (METI's
//! monitoring: every operator action has a who, a when, a what and a why).
//!
//! A key holds scopes: `switches` (suspend and resume services, hold and release accounts, lift
//! locks of failed tries), `review` (list the charges held for review and approve or decline
//! them) and `read` (see suspensions, card flags and the audit trail). A key for the support desk may read without
//! being able to stop the service.

/// One power of an operator key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Switches,
    Review,
    Read,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Switches, Scope::Review, Scope::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Switches => "switches",
            Scope::Review => "review",
            Scope::Read => "read",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A key's scopes as stored: names joined by commas. Unknown names are an error, and so is an
/// empty list (a key that can do nothing is a mistake).
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let scope = Scope::parse(name).ok_or_else(|| format!("unknown scope {name:?}: switches, review or read"))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err("give at least one scope: switches, review or read".to_owned());
    }
    scopes.sort();
    Ok(scopes)
}

/// The stored form of `scopes`.
pub fn scopes_text(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// What an operator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Resume,
    Hold,
    Release,
    Unlock,
    ListReviews,
    ApproveCharge,
    DeclineCharge,
    ListSuspensions,
    ListFlags,
    ListAudit,
    /// Close wallets for good, each balance paid back to its card (the service winds down).
    WindDown,
}

impl Action {
    /// The scope a key needs for this action.
    pub fn scope(self) -> Scope {
        match self {
            Action::Suspend | Action::Resume | Action::Hold | Action::Release | Action::Unlock | Action::WindDown => {
                Scope::Switches
            }
            Action::ListReviews | Action::ApproveCharge | Action::DeclineCharge => Scope::Review,
            Action::ListSuspensions | Action::ListFlags | Action::ListAudit => Scope::Read,
        }
    }

    /// Whether the action changes something, and so is written to the audit trail. Reading is not.
    pub fn audited(self) -> bool {
        !matches!(self, Action::ListReviews | Action::ListSuspensions | Action::ListFlags | Action::ListAudit)
    }

    /// Its name in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Unlock => "unlock",
            Action::ListReviews => "list_reviews",
            Action::ApproveCharge => "approve_charge",
            Action::DeclineCharge => "decline_charge",
            Action::ListSuspensions => "list_suspensions",
            Action::ListFlags => "list_flags",
            Action::ListAudit => "list_audit",
            Action::WindDown => "wind_down",
        }
    }
}

/// Whether a key with `scopes` may take `action`.
pub fn may(scopes: &[Scope], action: Action) -> bool {
    scopes.contains(&action.scope())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_key_cannot_flip_a_switch() {
        let read = parse_scopes("read").unwrap();
        assert!(may(&read, Action::ListAudit) && may(&read, Action::ListFlags));
        assert!(!may(&read, Action::Suspend) && !may(&read, Action::Unlock));
        let switches = parse_scopes("switches").unwrap();
        assert!(may(&switches, Action::Hold) && !may(&switches, Action::ListAudit));
    }

    #[test]
    fn scopes_parse_strictly_and_round_trip() {
        assert_eq!(parse_scopes(" read , switches,read").unwrap(), vec![Scope::Switches, Scope::Read]);
        assert!(parse_scopes("").is_err());
        assert!(parse_scopes("root").is_err());
        let all = parse_scopes("switches,review,read").unwrap();
        assert_eq!(parse_scopes(&scopes_text(&all)).unwrap(), all);
    }

    #[test]
    fn every_change_is_audited_and_no_read_is() {
        let changes = [
            Action::Suspend,
            Action::Resume,
            Action::Hold,
            Action::Release,
            Action::Unlock,
            Action::ApproveCharge,
            Action::DeclineCharge,
        ];
        for action in changes {
            assert!(action.audited(), "{action:?}");
        }
        for read in [Action::ListAudit, Action::ListFlags, Action::ListSuspensions, Action::ListReviews] {
            assert!(!read.audited(), "{read:?}");
        }
    }

    #[test]
    fn a_reviewer_decides_on_held_charges_and_nothing_else() {
        let review = parse_scopes("review").unwrap();
        for action in [Action::ListReviews, Action::ApproveCharge, Action::DeclineCharge] {
            assert!(may(&review, action) && !may(&parse_scopes("switches,read").unwrap(), action), "{action:?}");
        }
        assert!(!may(&review, Action::Suspend) && !may(&review, Action::ListAudit));
    }
}
