//! In-process fan-out of "something changed" signals to live feeds and long-polls.
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
