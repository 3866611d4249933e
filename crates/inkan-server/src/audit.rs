//! The operator audit trail (issue 15; METI's monitoring): every operator action, with who did it,
//! when, what and on what, and why. Written in the transaction of the action itself, so no action
//! commits without its entry. Listed by `GET /v1/admin/audit` and `inkan-server admin audit`.

use inkan_api::admin::AuditEntry;
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::db::Db;
use crate::error::Result;

/// Who acted when it was no operator key: `inkan-server admin ...` run on the database itself.
pub const COMMAND_LINE: &str = "command line";

/// Who acted when it was the server itself (a card flagged by `funding`).
pub const SERVER: &str = "inkan";

/// How many entries a listing shows at most (the newest).
pub const MAX_ENTRIES: i64 = 500;

/// One entry to write.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// An operator key's id, [`COMMAND_LINE`] or [`SERVER`].
    pub operator_id: &'a str,
    /// `inkan_core::operator::Action::as_str`, or `card_flagged`.
    pub action: &'a str,
    /// What it was done to: a service, an account, a device, an address, a card.
    pub subject: &'a str,
    /// Why, as the operator said (empty where the action takes no reason).
    pub reason: &'a str,
}

/// Writes `entry` on `conn`, in the transaction of the action itself.
pub async fn record(conn: &mut crate::db::Conn, entry: Entry<'_>, now: OffsetDateTime) -> Result<()> {
    let fields = (entry.operator_id, entry.action, entry.subject, entry.reason);
    crate::store::operator_audit::insert(conn, to_ms(now), fields).await
}

/// The newest entries, newest first.
pub async fn list(db: &Db) -> Result<Vec<AuditEntry>> {
    let rows = crate::store::operator_audit::newest(db.reads(), MAX_ENTRIES).await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, operator_id, action, subject, reason)| AuditEntry {
            id,
            at: from_ms(at),
            operator_id,
            action,
            subject,
            reason,
        })
        .collect())
}
