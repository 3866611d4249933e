//! The live feed, kept running in Rust: loads the verified history once, then follows the feed
//! from where it ends, turning each notice into [`AppEvent`]s. Survives dropped connections (the
//! subscriber resumes with `Last-Event-ID`) and ended sessions (it signs in again with the passkey).
//!
//! On a phone that sign-in is a biometric prompt. When the person cancels it (or cannot answer
//! it: no biometric, a lockout, a key switched off), the feed stops with [`AppEvent::FeedEnded`]
//! instead of asking again and again; signing in from the screen starts it again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use inkan_api::ErrorCode;
use inkan_api::feed::{FeedEvent, Notice};
use inkan_api::wallet::PendingCharge;
use inkan_client::Wallet;
use inkan_client::api::Api;
use inkan_client::feed::{self, Cursor, FeedItem};
use tokio::sync::Mutex;

use crate::view::{ActivityItem, AppError, AppEvent, ChargeView};
use crate::{EventSink, lock};

/// The most activity lines kept in memory; the full history is always exportable.
const KEEP: usize = 2_000;
/// The most waiting charges kept from the feed's pushes (a wallet rarely has more than one).
const KEEP_WAITING: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) online: AtomicBool,
    activity: SyncMutex<VecDeque<ActivityItem>>,
    /// Charges the feed pushed with their passkey requests, newest first, until they settle: a
    /// confirmation starts from here, with no request before the passkey's.
    waiting: SyncMutex<VecDeque<PendingCharge>>,
}

impl Shared {
    pub(crate) fn reset(&self) {
        self.online.store(false, Ordering::SeqCst);
        lock(&self.activity).clear();
        lock(&self.waiting).clear();
    }

    /// The charge `id` as the feed pushed it, while it waits.
    pub(crate) fn waiting(&self, id: &str) -> Option<PendingCharge> {
        lock(&self.waiting).iter().find(|p| p.charge.id == id).cloned()
    }

    fn keep_waiting(&self, pending: PendingCharge) {
        let mut waiting = lock(&self.waiting);
        waiting.retain(|p| p.charge.id != pending.charge.id);
        waiting.push_front(pending);
        waiting.truncate(KEEP_WAITING);
    }

    pub(crate) fn forget_waiting(&self, id: &str) {
        lock(&self.waiting).retain(|p| p.charge.id != id);
    }

    pub(crate) fn activity(&self) -> Vec<ActivityItem> {
        lock(&self.activity).iter().cloned().collect()
    }

    fn push(&self, item: ActivityItem) {
        let mut activity = lock(&self.activity);
        activity.push_front(item);
        activity.truncate(KEEP);
    }

    fn set_online(&self, sink: &dyn EventSink, online: bool, detail: Option<String>) {
        if self.online.swap(online, Ordering::SeqCst) != online {
            sink.emit(AppEvent::Connection { online, detail });
        }
    }
}

fn is_unauthorized(e: &inkan_client::ClientError) -> bool {
    e.code() == Some(ErrorCode::Unauthorized)
}

/// The passkey needed the person and did not get them: retrying would only ask again. Or the
/// history changed on the server: retrying would only find it changed again.
fn needs_the_person(e: &inkan_client::ClientError) -> bool {
    matches!(e, inkan_client::ClientError::KeySigner(_) | inkan_client::ClientError::HistoryChanged(_))
}

pub(crate) async fn run(wallet: Arc<Mutex<Option<Wallet>>>, sink: Arc<dyn EventSink>, shared: Arc<Shared>) {
    let mut cursor: Option<Cursor> = None;
    let mut attempt = 0u32;
    let mut announced = false;
    loop {
        // The verified history first: it fills the Activity screen and says where the feed resumes.
        let (api, start, heads) = {
            let mut guard = wallet.lock().await;
            let Some(w) = guard.as_mut() else { return };
            let loaded = match cursor {
                Some(c) => Ok(c),
                None => load_history(w, &shared).await,
            };
            match async { Ok::<_, inkan_client::ClientError>((loaded?, w.heads().await?)) }.await {
                Ok((c, heads)) => (w.api(), c, heads),
                Err(e) if needs_the_person(&e) => {
                    shared.set_online(sink.as_ref(), false, Some(e.to_string()));
                    sink.emit(AppEvent::FeedEnded { error: AppError::from(e) });
                    return;
                }
                Err(e) => {
                    shared.set_online(sink.as_ref(), false, Some(e.to_string()));
                    drop(guard);
                    attempt = attempt.saturating_add(1);
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
            }
        };
        if !announced {
            // Notices after the history arrive live; charges already waiting are shown once here.
            announce_pending(&api, sink.as_ref()).await;
            announced = true;
        }
        let mut subscription = feed::subscribe(api.clone(), start, heads);
        let mut position = start;
        let ended = loop {
            match subscription.next().await {
                Some(FeedItem::Connected) => {
                    attempt = 0;
                    shared.set_online(sink.as_ref(), true, None);
                }
                Some(FeedItem::Event { event, waiting }) => {
                    // The subscriber has checked the link; this only moves our cursor along.
                    if let Ok(next) = feed::follow(position, &event) {
                        position = next;
                    }
                    // Keep it as the verified head at once, when the wallet is free (a person may
                    // be in the middle of a passkey prompt); otherwise at the next notice or when
                    // the feed ends.
                    if let Ok(guard) = wallet.try_lock()
                        && let Some(w) = guard.as_ref()
                        && let Err(e) = w.remember_head(position)
                    {
                        tracing::warn!(error = %e, "could not keep the verified history head");
                    }
                    deliver(&api, sink.as_ref(), &shared, &event, waiting.map(|p| *p)).await;
                }
                Some(FeedItem::Reconnecting { reason, .. }) => shared.set_online(sink.as_ref(), false, Some(reason)),
                Some(FeedItem::Ended(e)) => break Some(e),
                None => break None,
            }
        };
        cursor = Some(position);
        // The notices the feed verified are part of what this device has seen: a history
        // rewritten under them is caught at the next load too.
        if let Some(w) = wallet.lock().await.as_ref()
            && let Err(e) = w.remember_head(position)
        {
            tracing::warn!(error = %e, "could not keep the verified history head");
        }
        shared.set_online(sink.as_ref(), false, ended.as_ref().map(ToString::to_string));
        match ended {
            Some(e) if is_unauthorized(&e) => {
                // The session ended: sign in again with the passkey and resume where we were.
                let signed_in = {
                    let mut guard = wallet.lock().await;
                    let Some(w) = guard.as_mut() else { return };
                    w.sign_in().await
                };
                if let Err(e) = signed_in {
                    if needs_the_person(&e) {
                        sink.emit(AppEvent::FeedEnded { error: AppError::from(e) });
                        return;
                    }
                    tracing::warn!(error = %e, "could not sign in again for the live feed");
                    attempt = attempt.saturating_add(1);
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
            Some(e) => {
                sink.emit(AppEvent::FeedEnded { error: AppError::from(e) });
                return;
            }
            None => return,
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(15))
}

/// Loads the verified history into the activity list and returns the cursor after it.
async fn load_history(wallet: &mut Wallet, shared: &Shared) -> Result<Cursor, inkan_client::ClientError> {
    let history = wallet.history().await?;
    let mut cursor = Cursor::START;
    let mut items = VecDeque::new();
    for event in &history.events {
        cursor = feed::follow(cursor, event)?;
        if let Ok(notice) = event.notice() {
            items.push_front(ActivityItem::new(event.seq, event.at, notice));
        }
    }
    items.truncate(KEEP);
    *lock(&shared.activity) = items;
    Ok(cursor)
}

/// Charges that were already waiting when the app connected: show their Confirm sheets.
async fn announce_pending(api: &Api, sink: &dyn EventSink) {
    match api.pending().await {
        Ok(pending) => {
            for p in pending {
                sink.emit(AppEvent::ChargePending { charge: ChargeView::from(p.charge) });
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list the waiting charges"),
    }
}

async fn deliver(api: &Api, sink: &dyn EventSink, shared: &Shared, event: &FeedEvent, waiting: Option<PendingCharge>) {
    let notice = match event.notice() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(seq = event.seq, error = %e, "a notice of a kind this app does not know");
            return;
        }
    };
    let item = ActivityItem::new(event.seq, event.at, notice.clone());
    shared.push(item.clone());
    sink.emit(AppEvent::Activity { item });
    use Notice as N;
    match &notice {
        N::ChargePending { charge_id, .. } => {
            // The push carries the charge with its expiry and passkey request while it still
            // waits (it may have been answered on another device, or expired: then no sheet).
            // A server that does not push it is asked.
            let pending = match waiting {
                Some(pending) => Some(pending),
                None => match api.pending().await {
                    Ok(pending) => pending.into_iter().find(|p| &p.charge.id == charge_id),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not fetch the waiting charge");
                        None
                    }
                },
            };
            if let Some(pending) = pending {
                sink.emit(AppEvent::ChargePending { charge: ChargeView::from(pending.charge.clone()) });
                shared.keep_waiting(pending);
            }
            sink.emit(AppEvent::WalletChanged);
        }
        N::ChargeSucceeded { charge_id, .. } => settled(sink, shared, charge_id, "succeeded"),
        N::ChargeDeclined { charge_id, .. } => settled(sink, shared, charge_id, "declined"),
        N::ChargeExpired { charge_id, .. } => settled(sink, shared, charge_id, "expired"),
        // Held: no sheet until Inkan approves it (a `charge_pending` notice then follows).
        N::ChargeHeld { .. } => sink.emit(AppEvent::WalletChanged),
        N::ChargeReviewDeclined { charge_id, .. } => settled(sink, shared, charge_id, "declined"),
        N::ChargeRefunded { .. }
        | N::TopUpSucceeded { .. }
        | N::LimitsLowered { .. }
        | N::LimitsRaiseRequested { .. }
        | N::WalletFrozen { .. }
        | N::WalletClosed { .. }
        | N::PayoutFailed { .. }
        | N::WalletUnfrozen
        | N::AccountHeld { .. }
        | N::AccountReleased => sink.emit(AppEvent::WalletChanged),
        N::TopUpFailed { .. }
        | N::CardAdded { .. }
        | N::CardVerificationFailed { .. }
        | N::AccountCreated { .. }
        | N::SignedIn { .. }
        | N::DeviceAdded { .. }
        | N::DeviceRevoked { .. }
        | N::RecoveryCodeUsed { .. }
        | N::RecoveryCodesReplaced { .. }
        | N::RecoveryCodeRejected
        | N::PasskeyRejected { .. }
        | N::PasskeyAdded { .. }
        | N::PasskeyRemoved { .. }
        | N::SessionsEnded { .. }
        | N::DeviceJoinRequested { .. }
        | N::RegionRefused { .. }
        | N::TriesRunningOut { .. }
        | N::TriesLocked { .. } => {}
    }
}

fn settled(sink: &dyn EventSink, shared: &Shared, charge_id: &str, status: &str) {
    shared.forget_waiting(charge_id);
    sink.emit(AppEvent::ChargeSettled { charge_id: charge_id.to_owned(), status: status.to_owned() });
    sink.emit(AppEvent::WalletChanged);
}
