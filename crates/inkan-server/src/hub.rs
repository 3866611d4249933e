//! In-process fan-out of "something changed" signals to live feeds and long-polls.
//!
//! On PostgreSQL, signals also travel between server instances (see `Db::relay_changes`), so a
//! wallet connected to one instance hears of a charge made on another.
//!
//! A bare signal carries no data: a woken subscriber reads what it needs from the database, which
//! was committed before the signal went out. Signals to one subscriber coalesce (two changes
//! before it looks are one wake-up), which loses nothing, because it re-reads from its last
//! sequence number.
//!
//! **Notices from memory.** A transaction of this instance that appended notices to an account's
//! history publishes them with its signal, after it commits ([`Hub::publish_notices`]); the
//! account's topic keeps the latest few. A woken feed takes the notices that follow its last one
//! from there ([`Subscription::fresh_after`]) instead of reading the database (a new charge's
//! `charge_pending` notice comes with the charge to push: [`Published`]), and reads it
//! whenever that cannot be sure to be complete: a signal came bare (from another instance, or
//! [`Change::Everything`]) since its last read, or the notice after its last is not in memory
//! (another transaction committed it and has not published yet, or it was pushed out). Publishes
//! of two transactions may come in either order; the notices are taken only as an unbroken run
//! from the feed's last sequence number, and the one missing will wake the feed when it comes.
//!
//! Each subscriber listens to one topic (an account's feed, or one charge), so a change wakes only
//! the subscribers of its topic: the cost of a charge does not grow with the number of wallets
//! connected. [`Change::Everything`] wakes every subscriber.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use inkan_api::feed::FeedEvent;
use inkan_api::wallet::PendingCharge;
use tokio::sync::watch;

/// How many of an account's latest notices its topic keeps in memory.
const RECENT: usize = 32;

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
    /// The form sent between instances (PostgreSQL NOTIFY payload), without its sender.
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

    /// The NOTIFY payload of a change `sender` (a [`Hub::instance`]) committed: the change, a
    /// space and the sender, so that its own instance, which published it already, skips it.
    pub fn encode_from(&self, sender: &str) -> String {
        format!("{} {sender}", self.encode())
    }

    /// A NOTIFY payload and its sender (none from a server that did not name itself).
    pub fn decode_from(payload: &str) -> Option<(Change, Option<&str>)> {
        match payload.split_once(' ') {
            Some((change, sender)) => Some((Change::decode(change)?, Some(sender))),
            None => Some((Change::decode(payload)?, None)),
        }
    }
}

/// A notice as its transaction published it: for a `charge_pending` notice, the charge as the
/// shopper confirms it, with its passkey request, so that a feed pushes it without reading it
/// back (`None`: read it, if it is a `charge_pending` notice).
#[derive(Debug, Clone)]
pub struct Published {
    pub event: FeedEvent,
    pub pending: Option<PendingCharge>,
}

impl From<FeedEvent> for Published {
    fn from(event: FeedEvent) -> Published {
        Published { event, pending: None }
    }
}

/// One topic's state, as long as someone listens to it.
#[derive(Debug)]
struct Topic {
    /// Goes up with every change.
    signal: watch::Sender<u64>,
    /// Goes up with every change that came without its notices.
    bare: u64,
    /// An account's latest notices published with their commit, by sequence number.
    recent: BTreeMap<u64, Published>,
}

impl Topic {
    fn new() -> Topic {
        Topic { signal: watch::channel(0).0, bare: 0, recent: BTreeMap::new() }
    }

    fn wake(&self) {
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The topics someone is listening to. An entry lives as long as one of its subscriptions does.
type Topics = Mutex<HashMap<Change, Topic>>;

#[derive(Debug, Clone)]
pub struct Hub {
    topics: Arc<Topics>,
    everything: watch::Sender<u64>,
    closing: watch::Sender<bool>,
    /// This instance's name among the servers that share a PostgreSQL database.
    instance: Arc<str>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            topics: Arc::default(),
            everything: watch::channel(0).0,
            closing: watch::channel(false).0,
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
        }
    }
}

impl Hub {
    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Change, Topic>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the subscribers of `change`'s topic (all of them for [`Change::Everything`]); they
    /// will read the database.
    pub fn publish(&self, change: Change) {
        if change == Change::Everything {
            self.everything.send_modify(|n| *n = n.wrapping_add(1));
            return;
        }
        // Nobody listening is fine: nobody is watching.
        if let Some(topic) = self.topics().get_mut(&change) {
            topic.bare = topic.bare.wrapping_add(1);
            topic.wake();
        }
    }

    /// Wakes the subscribers of `account_id`'s feed with the notices a transaction of this
    /// instance appended there and has committed.
    pub fn publish_notices(&self, account_id: &str, notices: Vec<Published>) {
        let mut topics = self.topics();
        let Some(topic) = topics.get_mut(&Change::Account(account_id.to_owned())) else {
            return;
        };
        for notice in notices {
            topic.recent.insert(notice.event.seq, notice);
        }
        while topic.recent.len() > RECENT {
            topic.recent.pop_first();
        }
        topic.wake();
    }

    /// Listens to one topic (an account or a charge). Changes published from now on wake it, so
    /// subscribe *before* reading what the topic is about.
    pub fn subscribe(&self, topic: Change) -> Subscription {
        let mut topics = self.topics();
        let entry = topics.entry(topic.clone()).or_insert_with(Topic::new);
        let (own, seen_bare) = (entry.signal.subscribe(), entry.bare);
        Subscription { hub: self.clone(), topic, own, everything: self.everything.subscribe(), seen_bare, stale: false }
    }

    /// This instance's name (random, new at every start), sent with the changes it announces to
    /// the others.
    pub fn instance(&self) -> &str {
        &self.instance
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
        self.topics().len()
    }
}

/// One subscriber's interest in one topic; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    topic: Change,
    own: watch::Receiver<u64>,
    everything: watch::Receiver<u64>,
    /// The topic's count of bare changes when this subscriber last read the database (or
    /// subscribed, before its first read).
    seen_bare: u64,
    /// Everything changed since the last read.
    stale: bool,
}

impl Subscription {
    /// Waits for the next change of the topic (or of everything) since the last wake-up or, the
    /// first time, since subscribing.
    pub async fn changed(&mut self) {
        // Neither sender can close while `self.hub` holds the hub (and its map holds the topic's
        // sender), so an error here cannot happen; it would only end the wait early, which is safe.
        let everything = tokio::select! {
            _ = self.own.changed() => false,
            _ = self.everything.changed() => true,
        };
        if everything || self.everything.has_changed().unwrap_or(true) {
            self.stale = true;
        }
        self.own.mark_unchanged();
        self.everything.mark_unchanged();
    }

    /// After a wake-up: the notices that follow `after`, from memory, when they are sure to be
    /// everything there is to read; `None` when the database must be read instead (the
    /// subscriber then counts as having read it).
    pub fn fresh_after(&mut self, after: u64) -> Option<Vec<Published>> {
        let topics = self.hub.topics();
        let topic = topics.get(&self.topic)?;
        if std::mem::take(&mut self.stale) || topic.bare != self.seen_bare {
            self.seen_bare = topic.bare;
            return None;
        }
        let mut next = after.checked_add(1)?;
        let mut run = Vec::new();
        for (&seq, notice) in topic.recent.range(next..) {
            if seq != next {
                break;
            }
            run.push(notice.clone());
            next = next.checked_add(1)?;
        }
        (!run.is_empty()).then_some(run)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self.hub.topics();
        // Our receiver goes first, under the lock, so that of two last subscribers dropping at
        // once exactly one sees nobody left; the last one takes the topic with it.
        drop(std::mem::replace(&mut self.own, self.everything.clone()));
        if topics.get(&self.topic).is_some_and(|t| t.signal.receiver_count() == 0) {
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

    fn notice(seq: u64) -> FeedEvent {
        FeedEvent {
            seq,
            at: time::OffsetDateTime::UNIX_EPOCH,
            payload: format!("{{\"n\":{seq}}}"),
            hash: format!("{seq:064x}"),
            signature: None,
        }
    }

    fn seqs(run: Option<Vec<Published>>) -> Option<Vec<u64>> {
        run.map(|r| r.into_iter().map(|n| n.event.seq).collect())
    }

    #[tokio::test]
    async fn a_feed_takes_the_notices_that_follow_its_last_from_memory() {
        let hub = Hub::default();
        let mut feed = hub.subscribe(Change::Account("a".into()));
        hub.publish_notices("a", vec![notice(1).into(), notice(2).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(0)), Some(vec![1, 2]));
        // Only what follows: nothing after 2 yet, and what it has is not handed out again.
        assert_eq!(seqs(feed.fresh_after(2)), None);
        hub.publish_notices("a", vec![notice(3).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(2)), Some(vec![3]));
        // Another account's notices are not this feed's, and do not wake it.
        hub.publish_notices("b", vec![notice(4).into()]);
        assert!(!woke(&mut feed, 20).await);
        assert_eq!(seqs(feed.fresh_after(3)), None);
    }

    #[tokio::test]
    async fn notices_published_out_of_order_are_taken_only_as_an_unbroken_run() {
        let hub = Hub::default();
        let mut feed = hub.subscribe(Change::Account("a".into()));
        // Notice 2's transaction committed after 1's, but published first.
        hub.publish_notices("a", vec![notice(2).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(0)), None, "notice 1 is missing: read the database");
        hub.publish_notices("a", vec![notice(1).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(0)), Some(vec![1, 2]));
        // Its publish of 4 came before 3's: 3 is taken when it comes, and wakes the feed.
        hub.publish_notices("a", vec![notice(4).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(2)), None);
        hub.publish_notices("a", vec![notice(3).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(2)), Some(vec![3, 4]));
    }

    #[tokio::test]
    async fn a_bare_signal_sends_the_feed_to_the_database_once() {
        let hub = Hub::default();
        let mut feed = hub.subscribe(Change::Account("a".into()));
        // Another instance committed notice 2 (its signal carries nothing), and this one 1 and 3.
        hub.publish_notices("a", vec![notice(1).into()]);
        hub.publish(Change::Account("a".into()));
        hub.publish_notices("a", vec![notice(3).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(0)), None, "a bare change since the last read: read the database");
        // Having read it (up to 3), the next notices come from memory again.
        hub.publish_notices("a", vec![notice(4).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(3)), Some(vec![4]));
        // Everything changed (the relay reconnected): the database again, once.
        hub.publish(Change::Everything);
        hub.publish_notices("a", vec![notice(5).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(4)), None);
        hub.publish_notices("a", vec![notice(6).into()]);
        assert!(woke(&mut feed, 1000).await);
        assert_eq!(seqs(feed.fresh_after(5)), Some(vec![6]));
    }

    #[tokio::test]
    async fn a_topic_keeps_only_the_latest_notices() {
        let hub = Hub::default();
        let mut feed = hub.subscribe(Change::Account("a".into()));
        let many: u64 = 100;
        hub.publish_notices("a", (1..=many).map(|n| notice(n).into()).collect());
        assert!(woke(&mut feed, 1000).await);
        // The first were pushed out: a feed behind them reads the database.
        assert_eq!(seqs(feed.fresh_after(0)), None);
        let kept = u64::try_from(RECENT).unwrap();
        assert_eq!(seqs(feed.fresh_after(many - kept)), Some(((many - kept + 1)..=many).collect()));
        // Nobody listening: nothing is kept.
        hub.publish_notices("nobody", vec![notice(1).into()]);
        assert_eq!(hub.topic_count(), 1);
    }

    #[test]
    fn an_instance_knows_its_own_announcements() {
        let (one, other) = (Hub::default(), Hub::default());
        assert_ne!(one.instance(), other.instance());
        let payload = Change::Account("acc_1".into()).encode_from(one.instance());
        assert_eq!(Change::decode_from(&payload), Some((Change::Account("acc_1".into()), Some(one.instance()))));
        // A server that does not name itself: a change from someone else.
        assert_eq!(Change::decode_from("c:ch_1"), Some((Change::Charge("ch_1".into()), None)));
        assert_eq!(Change::decode_from("x:1 abc"), None);
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
