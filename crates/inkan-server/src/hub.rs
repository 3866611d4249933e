//! In-process fan-out of "something changed" signals to live feeds and long-polls.
//!
//! On PostgreSQL, signals also travel between server instances (see `Db::relay_changes`), so a
//! wallet connected to one instance hears of a charge made on another.
//!
//! A signal carries no data: a woken subscriber reads what it needs from the database, which was
//! committed before the signal went out. Signals to one subscriber coalesce (two changes before it
//! looks are one wake-up), which loses nothing, because it re-reads from its last sequence number.
//!
//! Each subscriber listens to one topic (an account's feed, or one charge), so a change wakes only
//! the subscribers of its topic: the cost of a charge does not grow with the number of wallets
//! connected. [`Change::Everything`] wakes every subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// New notices in this account's feed.
    Account(String),
    /// This charge changed status.
    Charge(String),
    /// Sessions of this account ended (sign-out, a removed device, a freeze, a hold): its open
    /// feeds check whether theirs is still alive.
    Sessions(String),
    /// Anything may have changed (signals were missed): every subscriber re-reads.
    Everything,
}

impl Change {
    /// The form sent between instances (PostgreSQL NOTIFY payload).
    pub fn encode(&self) -> String {
        match self {
            Change::Account(id) => format!("a:{id}"),
            Change::Charge(id) => format!("c:{id}"),
            Change::Sessions(id) => format!("s:{id}"),
            Change::Everything => "*".to_owned(),
        }
    }

    pub fn decode(s: &str) -> Option<Change> {
        match s.split_once(':') {
            Some(("a", id)) => Some(Change::Account(id.to_owned())),
            Some(("c", id)) => Some(Change::Charge(id.to_owned())),
            Some(("s", id)) => Some(Change::Sessions(id.to_owned())),
            _ if s == "*" => Some(Change::Everything),
            _ => None,
        }
    }
}

/// The topics someone is listening to, each a counter that goes up with every change. An entry
/// lives as long as one of its subscriptions does.
type Topics = Mutex<HashMap<Change, watch::Sender<u64>>>;

#[derive(Debug, Clone)]
pub struct Hub {
    topics: Arc<Topics>,
    everything: watch::Sender<u64>,
    closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { topics: Arc::default(), everything: watch::channel(0).0, closing: watch::channel(false).0 }
    }
}

impl Hub {
    /// Wakes the subscribers of `change`'s topic (all of them for [`Change::Everything`]).
    pub fn publish(&self, change: Change) {
        if change == Change::Everything {
            self.everything.send_modify(|n| *n = n.wrapping_add(1));
            return;
        }
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        // Nobody listening is fine: nobody is watching.
        if let Some(topic) = topics.get(&change) {
            topic.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Listens to one topic (an account or a charge). Changes published from now on wake it, so
    /// subscribe *before* reading what the topic is about.
    pub fn subscribe(&self, topic: Change) -> Subscription {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let own = topics.entry(topic.clone()).or_insert_with(|| watch::channel(0).0).subscribe();
        Subscription { hub: self.clone(), topic, own, everything: self.everything.subscribe() }
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

    /// How many topics have subscribers (for tests: entries must not outlive them).
    #[cfg(test)]
    fn topic_count(&self) -> usize {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One subscriber's interest in one topic; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    topic: Change,
    own: watch::Receiver<u64>,
    everything: watch::Receiver<u64>,
}

impl Subscription {
    /// Waits for the next change of the topic (or of everything) since the last wake-up or, the
    /// first time, since subscribing.
    pub async fn changed(&mut self) {
        // Neither sender can close while `self.hub` holds the hub (and its map holds the topic's
        // sender), so an error here cannot happen; it would only end the wait early, which is safe.
        tokio::select! {
            _ = self.own.changed() => {}
            _ = self.everything.changed() => {}
        }
        self.own.mark_unchanged();
        self.everything.mark_unchanged();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self.hub.topics.lock().unwrap_or_else(PoisonError::into_inner);
        // Our receiver goes first, under the lock, so that of two last subscribers dropping at
        // once exactly one sees nobody left; the last one takes the topic with it.
        drop(std::mem::replace(&mut self.own, self.everything.clone()));
        if topics.get(&self.topic).is_some_and(|t| t.receiver_count() == 0) {
            topics.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Resolves within `ms` milliseconds: whether the subscription woke.
    async fn woke(sub: &mut Subscription, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), sub.changed()).await.is_ok()
    }

    #[tokio::test]
    async fn a_change_wakes_only_its_own_topic() {
        let hub = Hub::default();
        let mut alice = hub.subscribe(Change::Account("alice".into()));
        let mut bob = hub.subscribe(Change::Account("bob".into()));
        let mut charge = hub.subscribe(Change::Charge("alice".into()));
        hub.publish(Change::Account("alice".into()));
        assert!(woke(&mut alice, 1000).await);
        assert!(!woke(&mut bob, 20).await, "bob was woken by alice's change");
        assert!(!woke(&mut charge, 20).await, "a charge with the same id as an account was woken");
        // Woken once per change: nothing more is pending.
        assert!(!woke(&mut alice, 20).await);
    }

    #[tokio::test]
    async fn a_change_published_before_the_wait_is_not_missed() {
        let hub = Hub::default();
        let mut sub = hub.subscribe(Change::Charge("ch_1".into()));
        // Published between subscribing and waiting (while the subscriber reads the database).
        hub.publish(Change::Charge("ch_1".into()));
        hub.publish(Change::Charge("ch_1".into()));
        assert!(woke(&mut sub, 1000).await);
        // The two coalesced into one wake-up; the subscriber re-reads everything anyway.
        assert!(!woke(&mut sub, 20).await);
    }

    #[tokio::test]
    async fn everything_wakes_every_subscriber() {
        let hub = Hub::default();
        let mut a = hub.subscribe(Change::Account("a".into()));
        let mut c = hub.subscribe(Change::Charge("c".into()));
        hub.publish(Change::Everything);
        assert!(woke(&mut a, 1000).await);
        assert!(woke(&mut c, 1000).await);
    }

    #[tokio::test]
    async fn a_topic_lives_as_long_as_its_subscribers() {
        let hub = Hub::default();
        let first = hub.subscribe(Change::Account("a".into()));
        let mut second = hub.subscribe(Change::Account("a".into()));
        assert_eq!(hub.topic_count(), 1);
        drop(first);
        assert_eq!(hub.topic_count(), 1, "the second subscriber's topic was dropped with the first");
        hub.publish(Change::Account("a".into()));
        assert!(woke(&mut second, 1000).await);
        drop(second);
        assert_eq!(hub.topic_count(), 0, "a topic outlived its subscribers");
        // Publishing to a topic nobody listens to is fine, and creates nothing.
        hub.publish(Change::Account("a".into()));
        assert_eq!(hub.topic_count(), 0);
    }

    #[test]
    fn changes_travel_between_instances_unchanged() {
        for change in [
            Change::Account("acc_1".into()),
            Change::Charge("ch_1".into()),
            Change::Sessions("acc_1".into()),
            Change::Everything,
        ] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(Change::decode("x:1"), None);
        assert_eq!(Change::decode(""), None);
    }
}
