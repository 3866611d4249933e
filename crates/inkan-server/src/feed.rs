//! The live feed: notices stored in the same transaction as what they report, chained by hash,
//! then pushed to subscribers over Server-Sent Events. Resuming with `Last-Event-ID` loses nothing
//! because a stream starts from the database; once caught up, it takes the notices this instance
//! commits from memory (`hub`), and reads the database again whenever memory may be incomplete.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use inkan_api::Base64Url;
use inkan_api::feed::{FeedEvent, HeadSignature, History, IssuerKeys, LiveEvent, Notice};
use inkan_core::history;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::SessionAuth;
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::hub::{Change, Published, Subscription};
use crate::issuer::Issuer;
use crate::state::AppState;
use crate::store;

/// How many notices one database read returns while catching up.
const PAGE: i64 = 500;

/// Appends a notice to an account's history inside `tx` and announces it once `tx` commits.
/// Takes the account row's lock (through the `UPDATE`), so sequence numbers follow commit order.
pub async fn append(
    tx: &mut Tx,
    issuer: &Issuer,
    account_id: &str,
    notice: &Notice,
    now: time::OffsetDateTime,
) -> Result<u64> {
    let row = store::accounts::lock_head(tx, account_id).await?;
    append_at(tx, issuer, Head::of(&row)?, account_id, notice, now).await
}

/// The columns of `accounts` that [`Head::of`] reads: add them to the `RETURNING` of an `UPDATE`
/// of the account row, then [`append_at`] saves a statement.
pub const HEAD_COLUMNS: &str = crate::store::accounts::HEAD_COLUMNS;

/// Where an account's history stands: its last sequence number and hash.
#[derive(Debug)]
pub struct Head {
    seq: i64,
    hash: [u8; 32],
}

impl Head {
    /// Reads [`HEAD_COLUMNS`] from a row of `accounts`.
    pub fn of(row: &AnyRow) -> Result<Head> {
        let hash: String = row.try_get("last_hash")?;
        let hash = hex::decode(&hash)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AppError::internal("an account's last_hash is corrupt"))?;
        Ok(Head { seq: row.try_get("event_seq")?, hash })
    }
}

/// As [`append`], for a `tx` that has already taken the account row's lock (with an `UPDATE` of
/// it) and read its `head` there. The new head is signed by the issuer in the same transaction.
pub async fn append_at(
    tx: &mut Tx,
    issuer: &Issuer,
    head: Head,
    account_id: &str,
    notice: &Notice,
    now: time::OffsetDateTime,
) -> Result<u64> {
    let moved = append_unheaded(tx, issuer, head, account_id, notice, now).await?;
    store::accounts::move_head(tx, account_id, &moved).await?;
    u64::try_from(moved.seq).map_err(AppError::internal)
}

/// As [`append_at`], but the account row's head is left for the caller to write with the rest of
/// the row, in one statement (`store::accounts::write_payment`): what it moves to.
pub(crate) async fn append_unheaded(
    tx: &mut Tx,
    issuer: &Issuer,
    head: Head,
    account_id: &str,
    notice: &Notice,
    now: time::OffsetDateTime,
) -> Result<store::accounts::HeadMove> {
    let seq = head.seq.checked_add(1).ok_or_else(|| AppError::internal("event sequence overflow"))?;
    let seq_u = u64::try_from(seq).map_err(AppError::internal)?;
    let payload = serde_json::to_string(notice)?;
    let at = to_ms(now);
    let hash_bytes = history::link(&head.hash, seq_u, at, &payload);
    let hash = hex::encode(hash_bytes);
    let signature = issuer.sign_head(account_id, seq_u, &hash_bytes);
    let stored = store::events::Stored {
        seq,
        at,
        payload,
        hash,
        signed_by: Some(signature.key_id.clone()),
        signature: Some(signature.signature.encode()),
    };
    store::events::insert(tx, account_id, &stored).await?;
    let moved = store::accounts::HeadMove { from_seq: head.seq, seq, hash: stored.hash.clone() };
    let event = FeedEvent {
        seq: seq_u,
        at: from_ms(at),
        payload: stored.payload,
        hash: stored.hash,
        signature: Some(signature),
    };
    // The notice as `read_after` would read it back, for the feeds to take from memory (once `tx`
    // commits, with the head written).
    tx.announce_notice(account_id, event);
    Ok(moved)
}

/// Notices of an account after `after`, oldest first, at most `limit`.
pub async fn read_after(state: &AppState, account_id: &str, after: u64, limit: i64) -> Result<Vec<FeedEvent>> {
    let after = i64::try_from(after).map_err(|_| AppError::invalid("Last-Event-ID is out of range"))?;
    let rows = store::events::after(state.db.reads(), account_id, after, limit).await?;
    rows.into_iter()
        .map(|row| {
            Ok(FeedEvent {
                seq: u64::try_from(row.seq).map_err(AppError::internal)?,
                at: from_ms(row.at),
                signature: signature_of(row.signed_by, row.signature)?,
                payload: row.payload,
                hash: row.hash,
            })
        })
        .collect()
}

/// The issuer's signature stored with a notice (none on notices from before heads were signed).
fn signature_of(key_id: Option<String>, signature: Option<String>) -> Result<Option<HeadSignature>> {
    match (key_id, signature) {
        (Some(key_id), Some(signature)) => {
            let signature = Base64Url::decode(&signature)
                .ok_or_else(|| AppError::internal("a notice's stored signature is corrupt"))?;
            Ok(Some(HeadSignature { key_id, signature }))
        }
        _ => Ok(None),
    }
}

/// Signs the head of every history whose latest notice has no signature: notices written before
/// the server signed heads. Run when the server starts, so that every history a device loads ends
/// in a signed head. Returns how many heads it signed.
pub async fn sign_unsigned_heads(app: &AppState) -> Result<u64> {
    let mut signed = 0u64;
    for (account_id, seq, hash) in store::events::unsigned_heads(app.db.reads()).await? {
        let bytes = hex::decode(&hash)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| AppError::internal(format!("account {account_id}: notice {seq} has a corrupt hash")))?;
        let signature = app.issuer.sign_head(&account_id, u64::try_from(seq).map_err(AppError::internal)?, &bytes);
        let mut tx = app.db.begin().await?;
        let done =
            store::events::sign(&mut tx, (&account_id, seq, &hash), (&signature.key_id, &signature.signature.encode()))
                .await?;
        tx.commit(&app.hub).await?;
        signed += u64::from(done);
    }
    Ok(signed)
}

fn last_event_id(headers: &HeaderMap) -> Result<u64> {
    match headers.get("last-event-id") {
        None => Ok(0),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| AppError::invalid("Last-Event-ID must be a notice sequence number")),
    }
}

fn sse_event(live: &LiveEvent) -> Event {
    let kind = live.event.notice().map(|n| notice_kind(&n)).unwrap_or("notice");
    Event::default()
        .id(live.event.seq.to_string())
        .event(kind)
        .data(serde_json::to_string(live).unwrap_or_else(|_| "{}".to_owned()))
}

/// The notice's `kind` tag, used as the SSE event name.
pub fn notice_kind(notice: &Notice) -> &'static str {
    match notice {
        Notice::ChargePending { .. } => "charge_pending",
        Notice::ChargeSucceeded { .. } => "charge_succeeded",
        Notice::ChargeDeclined { .. } => "charge_declined",
        Notice::ChargeExpired { .. } => "charge_expired",
        Notice::ChargeHeld { .. } => "charge_held",
        Notice::ChargeReviewDeclined { .. } => "charge_review_declined",
        Notice::ChargeRefunded { .. } => "charge_refunded",
        Notice::TopUpSucceeded { .. } => "top_up_succeeded",
        Notice::TopUpFailed { .. } => "top_up_failed",
        Notice::CardAdded { .. } => "card_added",
        Notice::CardVerificationFailed { .. } => "card_verification_failed",
        Notice::AccountCreated { .. } => "account_created",
        Notice::SignedIn { .. } => "signed_in",
        Notice::DeviceAdded { .. } => "device_added",
        Notice::DeviceRevoked { .. } => "device_revoked",
        Notice::LimitsLowered { .. } => "limits_lowered",
        Notice::LimitsRaiseRequested { .. } => "limits_raise_requested",
        Notice::WalletFrozen { .. } => "wallet_frozen",
        Notice::WalletClosed { .. } => "wallet_closed",
        Notice::PayoutFailed { .. } => "payout_failed",
        Notice::WalletUnfrozen => "wallet_unfrozen",
        Notice::AccountHeld { .. } => "account_held",
        Notice::AccountReleased => "account_released",
        Notice::RecoveryCodeUsed { .. } => "recovery_code_used",
        Notice::RecoveryCodesReplaced { .. } => "recovery_codes_replaced",
        Notice::RecoveryCodeRejected => "recovery_code_rejected",
        Notice::PasskeyRejected { .. } => "passkey_rejected",
        Notice::PasskeyAdded { .. } => "passkey_added",
        Notice::PasskeyRemoved { .. } => "passkey_removed",
        Notice::SessionsEnded { .. } => "sessions_ended",
        Notice::DeviceJoinRequested { .. } => "device_join_requested",
        Notice::RegionRefused { .. } => "region_refused",
        Notice::TriesRunningOut { .. } => "tries_running_out",
        Notice::TriesLocked { .. } => "tries_locked",
    }
}

/// How often an open feed compares the clock with its session's end. A feed closes at most this
/// long after its session's idle or absolute limit; an ended session (sign-out, removal, freeze,
/// hold) closes it as soon as the change arrives.
const SESSION_CHECK: Duration = Duration::from_millis(250);

/// The live feed
///
/// Server-Sent Events: every notice after `Last-Event-ID`, then each new one as it commits. Per
/// event, the SSE `id` is the notice's sequence number in the wallet (1, 2, 3, … without gaps),
/// the SSE `event` is the notice's `kind` (see `Notice`), and the `data` is a `LiveEvent` as
/// JSON: a `FeedEvent`, and with a `charge_pending` notice whose charge still waits, `pending`,
/// the charge with its passkey request (confirm from it; no `GET /v1/wallet/charges/pending`
/// needed). A comment line `heartbeat` comes every 15 seconds. Reconnect with `Last-Event-ID`
/// set to the last `id` received to lose nothing.
#[utoipa::path(
    get,
    path = "/v1/wallet/feed",
    operation_id = "feed",
    tag = "wallet",
    security(("session" = [])),
    params(("Last-Event-ID" = Option<u64>, Header, nullable = false, description = "Resume after this notice sequence number. Default 0: from the first notice.")),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each event's `data` is a `LiveEvent` in JSON.", body = String, content_type = "text/event-stream"),
        (status = 400, description = "`invalid_request`: `Last-Event-ID` is not a sequence number.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Every notice after `Last-Event-ID`, then live ones as they commit, for as long as the session
// lives. The stream ends when the session does; the client signs in again.
pub async fn stream(
    State(state): State<AppState>,
    auth: SessionAuth,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = last_event_id(&headers)?;
    // The wallet's share of the server's streams, held for as long as the stream is open.
    let place = state.admission.feed_place(&auth.account_id)?;
    // Subscribe before the first read, so a notice committed in between wakes us; and to the
    // account's sessions before the session is read, so that an ending in between is not missed.
    let changes = state.hub.subscribe(Change::Account(auth.account_id.clone()));
    let sessions = state.hub.subscribe(Change::Sessions(auth.account_id.clone()));
    let ends_at = crate::auth::session_ends_at(&state, auth.token_hash())
        .await?
        .ok_or_else(|| AppError::unauthorized("the session has ended; sign in again with your passkey"))?;
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let session = LiveSession { token_hash: auth.token_hash().to_owned(), ends_at, changes: sessions, check };
    let feed = Feed {
        state,
        account_id: auth.account_id,
        after,
        changes,
        session,
        backlog: VecDeque::new(),
        caught_up: false,
        _place: place,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        let live = feed.live(event).await?;
        Some((Ok(sse_event(&live)), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")))
}

/// The session a feed streams for, and when it ends unless a request refreshes it.
struct LiveSession {
    token_hash: String,
    ends_at: time::OffsetDateTime,
    /// Wakes when sessions of the account end.
    changes: Subscription,
    check: tokio::time::Interval,
}

struct Feed {
    state: AppState,
    account_id: String,
    after: u64,
    changes: Subscription,
    session: LiveSession,
    backlog: VecDeque<Published>,
    /// The last read returned everything there was (less than a page): until the account's next
    /// change, another read would find nothing.
    caught_up: bool,
    /// One of the wallet's places for a feed, given back when the feed ends.
    _place: crate::admission::FeedPlace,
}

impl Feed {
    /// The event as pushed: a `charge_pending` notice with its charge and passkey request, while
    /// the charge still waits (the wallet then needs no request of its own before it confirms).
    /// The charge comes from memory when its transaction published it with the notice and it has
    /// not expired; otherwise it is read. `None` ends the stream, as in [`Feed::next`].
    async fn live(&self, published: Published) -> Option<LiveEvent> {
        let Published { event, pending } = published;
        let now = self.state.clock.now();
        let pending = match event.notice() {
            Ok(Notice::ChargePending { charge_id, .. })
                if pending.as_ref().is_some_and(|p| p.charge.id == charge_id && now < p.charge.expires_at) =>
            {
                pending
            }
            Ok(Notice::ChargePending { charge_id, .. }) => {
                let waiting = store::charges::waiting(self.state.db.reads(), &self.account_id, Some(&charge_id), now);
                // Its notice is durable (published after its sync, or settled after its read), and
                // so is the charge as that notice's transaction left it; a later move not yet
                // durable can only make it not wait, and push less.
                waiting.await.ok()?.into_iter().next()
            }
            _ => None,
        };
        Some(LiveEvent { event, pending })
    }

    /// Whether the session is still alive, reading it again only once the clock has passed the end
    /// it last knew of (or when `force`d: sessions of the account ended).
    async fn session_alive(&mut self, force: bool) -> bool {
        if !force && self.state.clock.now() < self.session.ends_at {
            return true;
        }
        match crate::auth::session_ends_at(&self.state, &self.session.token_hash).await {
            Ok(Some(end)) => {
                self.session.ends_at = end;
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// The next notice, waiting for one if needed; `None` ends the stream (the session ended, the
    /// server is shutting down or the database failing: the client reconnects and resumes, after
    /// signing in again if it must).
    async fn next(&mut self) -> Option<Published> {
        loop {
            if !self.session_alive(false).await {
                return None;
            }
            if let Some(notice) = self.backlog.pop_front() {
                self.after = notice.event.seq;
                return Some(notice);
            }
            if !self.caught_up {
                match read_after(&self.state, &self.account_id, self.after, PAGE).await {
                    Ok(events) => {
                        // Read from the database: pushed only once durable (`Db::settled`).
                        self.state.db.settled().await;
                        self.caught_up = i64::try_from(events.len()).is_ok_and(|n| n < PAGE);
                        if !events.is_empty() {
                            self.backlog = events.into_iter().map(Published::from).collect();
                            continue;
                        }
                    }
                    Err(_) => return None,
                }
            }
            // Subscribed before the first read, so a notice committed since the last read has
            // already marked the subscription: this returns at once.
            let hub = self.state.hub.clone();
            tokio::select! {
                () = self.changes.changed() => match self.changes.fresh_after(self.after) {
                    // Published with their commit: everything there is, without a read.
                    Some(fresh) => self.backlog = fresh.into(),
                    None => self.caught_up = false,
                },
                () = self.session.changes.changed() => {
                    if !self.session_alive(true).await {
                        return None;
                    }
                }
                _ = self.session.check.tick() => {}
                () = hub.closed() => return None,
            }
        }
    }
}

/// The issuer's keys
///
/// The Ed25519 keys that sign every history head (`FeedEvent.signature`, over
/// `inkan_core::history::head_message`). A device pins them when it enrols or joins and checks
/// every history, live notice and export against the pinned key.
#[utoipa::path(
    get,
    path = "/v1/issuer-keys",
    operation_id = "issuer_keys",
    tag = "service",
    responses(
        (status = 200, description = "The keys.", body = inkan_api::feed::IssuerKeys),
    )
)]
// The key every history head is signed with. Public: a device pins it when it enrols or joins.
pub async fn issuer_keys(State(state): State<AppState>) -> Json<IssuerKeys> {
    Json(state.issuer.published())
}

/// The whole history
///
/// Every notice of the wallet with its chain hash, to export and verify.
#[utoipa::path(
    get,
    path = "/v1/wallet/history",
    operation_id = "history",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The history.", body = inkan_api::feed::History),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The whole history, to export and verify.
pub async fn export(State(state): State<AppState>, auth: SessionAuth) -> Result<Json<History>> {
    let mut events: Vec<FeedEvent> = Vec::new();
    loop {
        let after = events.last().map(|e| e.seq).unwrap_or(0);
        let page = read_after(&state, &auth.account_id, after, PAGE).await?;
        let last_page = i64::try_from(page.len()).is_ok_and(|n| n < PAGE);
        events.extend(page);
        if last_page {
            break;
        }
    }
    Ok(Json(History { account_id: auth.account_id, events }))
}
