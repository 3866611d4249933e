//! In-process fan-out of "something changed" signals to live feeds and long-polls.
//!
//! On PostgreSQL, signals also travel between server instances (see `Db::relay_changes`), so a
//! wallet connected to one instance hears of a charge made on another.
//!
//! A signal carries no data: a woken subscriber reads what it needs from the database, which was
//! committed before the signal went out. A subscriber that falls behind loses only signals, never
//! notices, because it re-reads from its last sequence number.

use tokio::sync::{broadcast, watch};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New notices in this account's feed.
    Account(String),
    /// This charge changed status.
    Charge(String),
    /// Anything may have changed (signals were missed): every subscriber re-reads.
    Everything,
}

impl Change {
    /// The form sent between instances (PostgreSQL NOTIFY payload).
    pub fn encode(&self) -> String {
        match self {
            Change::Account(id) => format!("a:{id}"),
            Change::Charge(id) => format!("c:{id}"),
            Change::Everything => "*".to_owned(),
        }
    }

    pub fn decode(s: &str) -> Option<Change> {
        match s.split_once(':') {
            Some(("a", id)) => Some(Change::Account(id.to_owned())),
            Some(("c", id)) => Some(Change::Charge(id.to_owned())),
            _ if s == "*" => Some(Change::Everything),
            _ => None,
        }
    }

    /// Whether a subscriber to `account` should wake.
    pub fn concerns_account(&self, account: &str) -> bool {
        matches!(self, Change::Account(id) if id == account) || *self == Change::Everything
    }

    /// Whether a subscriber to `charge` should wake.
    pub fn concerns_charge(&self, charge: &str) -> bool {
        matches!(self, Change::Charge(id) if id == charge) || *self == Change::Everything
    }
}

#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Change>,
    closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { sender: broadcast::channel(4096).0, closing: watch::channel(false).0 }
    }
}

impl Hub {
    pub fn publish(&self, change: Change) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(change);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Tells long-lived streams to end: the server is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Hub::close`] has been called.
    pub async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }
}
