//! The live feed subscriber: Server-Sent Events from `GET /v1/wallet/feed`, reconnecting by
//! itself with `Last-Event-ID` so nothing is lost or repeated, and checking each notice's hash
//! against the one before it (`inkan_core::history`).

use std::sync::Arc;
use std::time::Duration;

use inkan_api::feed::{FeedEvent, LiveEvent};
use inkan_api::wallet::PendingCharge;
use inkan_core::history;
use reqwest::StatusCode;
use tokio::sync::mpsc;

use crate::api::Api;
use crate::error::ClientError;
use crate::history::{Heads, unhex32};

/// What the subscriber reports.
#[derive(Debug)]
pub enum FeedItem {
    /// The stream is open (first, and again after each reconnection): the wallet is online.
    Connected,
    /// A notice, in order, exactly once; with a `charge_pending` notice whose charge still
    /// waits, that charge and its passkey request (`waiting`: confirm from it, no request needed).
    Event { event: FeedEvent, waiting: Option<Box<PendingCharge>> },
    /// The connection dropped; it will try again after `delay`.
    Reconnecting { attempt: u32, delay: Duration, reason: String },
    /// The subscription is over (the session ended, or the history does not verify).
    Ended(ClientError),
}

/// Incremental parser of a `text/event-stream` body.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: String,
    text: inkan_api::feed::Utf8Chunks,
}

/// One parsed event: `id`, `event` and `data` fields. Comments (heartbeats) yield nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) {
        let text = self.text.decode(chunk);
        self.buffer.push_str(&text);
    }

    /// The next complete event in the buffer, if any.
    pub fn next_message(&mut self) -> Option<SseMessage> {
        loop {
            let normalized = self.buffer.replace("\r\n", "\n");
            if normalized.len() != self.buffer.len() {
                self.buffer = normalized;
            }
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut message = SseMessage { id: None, event: None, data: String::new() };
            let mut has_field = false;
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => message.id = Some(value.to_owned()),
                    "event" => message.event = Some(value.to_owned()),
                    "data" => {
                        if !message.data.is_empty() {
                            message.data.push('\n');
                        }
                        message.data.push_str(value);
                    }
                    _ => continue,
                }
                has_field = true;
            }
            if has_field {
                return Some(message);
            }
        }
    }
}

/// A running subscription; dropping it stops the background task.
#[derive(Debug)]
pub struct FeedSubscription {
    receiver: mpsc::Receiver<FeedItem>,
    task: tokio::task::JoinHandle<()>,
}

impl FeedSubscription {
    pub async fn next(&mut self) -> Option<FeedItem> {
        self.receiver.recv().await
    }
}

impl Drop for FeedSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where to resume: after notice `seq` whose hash is `hash` (or from the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Cursor {
    pub const START: Cursor = Cursor { seq: 0, hash: history::GENESIS };
}

/// A verified head as kept in the keystore: `SEQ:HEX-HASH`.
pub fn format_head(cursor: Cursor) -> String {
    format!("{}:{}", cursor.seq, hex::encode(cursor.hash))
}

/// Reads what [`format_head`] wrote.
pub fn parse_head(text: &str) -> Option<history::KnownHead> {
    let (seq, hash) = text.trim().split_once(':')?;
    Some(history::KnownHead { seq: seq.parse().ok()?, hash: unhex32(hash)? })
}

/// Checks that `event` follows `cursor` in the chain; returns the new cursor.
pub fn follow(cursor: Cursor, event: &FeedEvent) -> Result<Cursor, ClientError> {
    let tampered =
        || ClientError::Protocol(format!("notice {} does not verify against the history: it was changed", event.seq));
    if event.seq != cursor.seq + 1 {
        return Err(ClientError::Protocol(format!(
            "notice {} arrived after {}: a notice is missing",
            event.seq, cursor.seq
        )));
    }
    let hash = unhex32(&event.hash).ok_or_else(tampered)?;
    let at = i64::try_from(event.at.unix_timestamp_nanos() / 1_000_000).map_err(|_| tampered())?;
    if history::link(&cursor.hash, event.seq, at, &event.payload) != hash {
        return Err(tampered());
    }
    Ok(Cursor { seq: event.seq, hash })
}

/// Subscribes after `cursor`, a point of the history this device verified, reconnecting with
/// growing delays (up to 10 s) when the connection drops. Each notice must follow the one before
/// and carry the issuer's signature (`heads`). Ends when the session is refused or a notice does
/// not verify.
pub fn subscribe(api: Arc<Api>, cursor: Cursor, heads: Heads) -> FeedSubscription {
    let (sender, receiver) = mpsc::channel(256);
    let task = tokio::spawn(run(api, cursor, heads, sender));
    FeedSubscription { receiver, task }
}

async fn run(api: Arc<Api>, mut cursor: Cursor, heads: Heads, sender: mpsc::Sender<FeedItem>) {
    let mut attempt = 0u32;
    loop {
        let reason = match stream_once(&api, &mut cursor, &heads, &sender, &mut attempt).await {
            Ok(reason) => reason,
            Err(fatal) => {
                let _ = sender.send(FeedItem::Ended(fatal)).await;
                return;
            }
        };
        attempt = attempt.saturating_add(1);
        let delay = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(10));
        if sender.send(FeedItem::Reconnecting { attempt, delay, reason }).await.is_err() {
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

/// One connection. `Ok(reason)` means it dropped and may be retried; `Err` is final.
async fn stream_once(
    api: &Api,
    cursor: &mut Cursor,
    heads: &Heads,
    sender: &mpsc::Sender<FeedItem>,
    attempt: &mut u32,
) -> Result<String, ClientError> {
    let url = api.url("/v1/wallet/feed")?;
    let mut request = api.http().get(url).header("Last-Event-ID", cursor.seq.to_string());
    if let Some(token) = api.token() {
        request = request.bearer_auth(token);
    }
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Ok(format!("cannot reach the server: {e}")),
    };
    api.observe(&response);
    match response.status() {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => {
            return Err(ClientError::Api {
                status: 401,
                error: inkan_api::ApiError::new(
                    inkan_api::ErrorCode::Unauthorized,
                    "the session has ended; sign in again",
                ),
            });
        }
        status if status.is_server_error() => return Ok(format!("server error {status}")),
        status => return Err(ClientError::Protocol(format!("the feed answered {status}"))),
    }
    if sender.send(FeedItem::Connected).await.is_err() {
        return Err(ClientError::Invalid("nobody is listening".into()));
    }
    let mut parser = SseParser::default();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok("the server closed the feed".into()),
            Err(e) => return Ok(format!("the connection dropped: {e}")),
        };
        parser.push(&chunk);
        while let Some(message) = parser.next_message() {
            let LiveEvent { event, pending } = serde_json::from_str(&message.data)
                .map_err(|e| ClientError::Protocol(format!("a feed event could not be read: {e}")))?;
            if event.seq <= cursor.seq {
                continue;
            }
            let next = follow(*cursor, &event)?;
            heads.check_live(&event)?;
            *cursor = next;
            *attempt = 0;
            // The server pushes only a charge of this notice; anything else is not believed.
            let waiting = pending.filter(|p| is_charge_of(&event, &p.charge.id)).map(Box::new);
            if sender.send(FeedItem::Event { event, waiting }).await.is_err() {
                return Err(ClientError::Invalid("nobody is listening".into()));
            }
        }
    }
}

/// Whether `event` is the `charge_pending` notice of charge `id`.
fn is_charge_of(event: &FeedEvent, id: &str) -> bool {
    matches!(event.notice(), Ok(inkan_api::feed::Notice::ChargePending { charge_id, .. }) if charge_id == id)
}

/// Why a payment was held for review, in words (`Notice::ChargeHeld`'s `reason`).
pub fn hold_reason(reason: &str) -> &'static str {
    match reason {
        "many_charges" => "many payments in a few minutes",
        "top_up_then_spend" => "a top-up spent at once from a new device",
        "two_countries" => "payments in two countries within the hour",
        "new_device_first_charge" => "a large first payment from a new device",
        _ => "an unusual payment",
    }
}

/// A notice in a sentence, for people (English).
pub fn describe(notice: &inkan_api::feed::Notice) -> String {
    use inkan_api::feed::Notice as N;
    let yen = |amount: &i64, currency: &str| match currency.parse::<inkan_core::Currency>() {
        Ok(c) => inkan_core::Money::new(c, *amount).to_string(),
        Err(_) => format!("{amount} {currency}"),
    };
    match notice {
        N::ChargePending { amount, currency, merchant_name, .. } => {
            format!("{merchant_name} asks for {}: confirm or decline", yen(amount, currency))
        }
        N::ChargeSucceeded { amount, currency, merchant_name, .. } => {
            format!("Paid {} to {merchant_name}", yen(amount, currency))
        }
        N::ChargeDeclined { amount, currency, merchant_name, not_me, .. } => {
            let why = if *not_me { " (reported: this wasn't me)" } else { "" };
            format!("Declined {} to {merchant_name}{why}", yen(amount, currency))
        }
        N::ChargeHeld { amount, currency, merchant_name, reason, .. } => format!(
            "Inkan is checking a payment of {} to {merchant_name} before you can confirm it ({}); \
             if it is not yours, freeze the wallet",
            yen(amount, currency),
            hold_reason(reason)
        ),
        N::ChargeReviewDeclined { amount, currency, merchant_name, .. } => {
            format!("Inkan declined the payment of {} to {merchant_name} after checking it", yen(amount, currency))
        }
        N::ChargeExpired { amount, currency, merchant_name, .. } => {
            format!("Expired unconfirmed: {} to {merchant_name}", yen(amount, currency))
        }
        N::ChargeRefunded { amount, currency, merchant_name, .. } => {
            format!("Refunded {} from {merchant_name}", yen(amount, currency))
        }
        N::TopUpSucceeded { amount, currency, card_last4, .. } => {
            format!("Topped up {} from card ending {card_last4}", yen(amount, currency))
        }
        N::TopUpFailed { amount, currency, card_last4, reason } => {
            format!("Top-up of {} from card ending {card_last4} failed: {reason}", yen(amount, currency))
        }
        N::CardAdded { brand, last4, verified, .. } => {
            format!("Card added: {brand} ending {last4}{}", if *verified { "" } else { " (verification needed)" })
        }
        N::AccountCreated { display_name } => format!("Wallet created for {display_name}"),
        N::SignedIn { device_id } => match device_id {
            Some(d) => format!("Signed in on device {d}"),
            None => "Signed in with the passkey".to_owned(),
        },
        N::DeviceAdded { name, .. } => format!("New device added: {name}"),
        N::DeviceRevoked { name, .. } => format!("Device removed: {name}"),
        N::DeviceJoinRequested { name, fingerprint: Some(fingerprint), .. } => format!(
            "{name} (key {fingerprint}) asks to join this wallet: compare the key with the one it shows, \
             then see `inkan devices waiting`"
        ),
        N::DeviceJoinRequested { name, .. } => format!("{name} asked to join this wallet"),
        N::LimitsLowered { per_charge, daily, monthly } => format!(
            "Limits now: {} per charge, {} a day, {} a month",
            yen(per_charge, "JPY"),
            yen(daily, "JPY"),
            yen(monthly, "JPY")
        ),
        N::LimitsRaiseRequested { per_charge, daily, monthly, effective_at } => format!(
            "Raise requested: {} per charge, {} a day, {} a month, from {} JST",
            yen(per_charge, "JPY"),
            yen(daily, "JPY"),
            yen(monthly, "JPY"),
            effective_at
                .to_offset(inkan_core::tokyo::JST)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ),
        N::WalletFrozen { by } => format!("Wallet frozen (by {by}): no payment can be made"),
        N::WalletClosed { reason, amount, currency, card_last4 } => {
            let by = if reason == "wind_down" { "Inkan is closing: your wallet was closed" } else { "Wallet closed" };
            match card_last4 {
                Some(last4) => format!("{by}; {} paid back to card ending {last4}", yen(amount, currency)),
                None => format!("{by}; it was empty"),
            }
        }
        N::PayoutFailed { amount, currency, card_last4, reason } => format!(
            "Paying {} back to card ending {card_last4} failed ({reason}): the money is in your wallet again",
            yen(amount, currency)
        ),
        N::WalletUnfrozen => "Wallet unfrozen".to_owned(),
        N::AccountHeld { reason } => format!("Account on hold by Inkan ({reason}): no payment, top-up or new device"),
        N::AccountReleased => "The hold on the account was lifted".to_owned(),
        N::RecoveryCodeUsed { remaining } => format!("A recovery code was used ({remaining} left)"),
        N::RecoveryCodesReplaced { count } => {
            format!("The recovery codes were replaced: {count} new ones, and the old ones no longer work")
        }
        N::RecoveryCodeRejected => "A wrong recovery code was given for this wallet".to_owned(),
        N::CardVerificationFailed { last4, locked } => format!(
            "A card (…{last4}) was refused or its code was wrong{}",
            if *locked { ": no more tries, cards are locked; contact support" } else { "" }
        ),
        N::PasskeyRejected { device_id, during } => format!(
            "A passkey was refused ({}){}",
            during.replace('_', " "),
            device_id.as_deref().map(|d| format!(" for device {d}")).unwrap_or_default()
        ),
        N::PasskeyAdded { device_id } => format!("A passkey was added with device {device_id}"),
        N::PasskeyRemoved { device_id, count } => format!("{count} passkey(s) of removed device {device_id} deleted"),
        N::SessionsEnded { count, reason } => {
            format!("{count} session(s) ended ({}): those devices must sign in again", reason.replace('_', " "))
        }
        N::RegionRefused { during, country } => format!(
            "A {} from abroad ({}) was refused",
            during.replace('_', " "),
            country.as_deref().unwrap_or("country unknown")
        ),
        N::TriesRunningOut { secret, left } => {
            format!("Wrong {} again: {left} try left before it is locked", secret_name(secret))
        }
        N::TriesLocked { secret, until: Some(until) } => format!(
            "Too many wrong tries: {} locked until {}",
            secret_name(secret),
            until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        ),
        N::TriesLocked { secret, until: None } => {
            format!("Too many wrong tries: {} locked; contact support", secret_name(secret))
        }
    }
}

/// How a notice names a secret that was tried (`tries_running_out`, `tries_locked`).
fn secret_name(secret: &str) -> String {
    match secret {
        "card" => "card details".to_owned(),
        "passkey" => "passkey".to_owned(),
        "recovery_code" => "recovery code".to_owned(),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_comments_and_split_chunks() {
        let mut parser = SseParser::default();
        parser.push(b": heartbeat\n\nid: 7\nevent: charge_pending\ndata: {\"a\":");
        assert_eq!(parser.next_message(), None);
        parser.push(b"1}\n\nid: 8\r\ndata: x\r\ndata: y\r\n\r\n");
        assert_eq!(
            parser.next_message(),
            Some(SseMessage { id: Some("7".into()), event: Some("charge_pending".into()), data: "{\"a\":1}".into() })
        );
        assert_eq!(parser.next_message(), Some(SseMessage { id: Some("8".into()), event: None, data: "x\ny".into() }));
        assert_eq!(parser.next_message(), None);
    }

    #[test]
    fn a_japanese_name_cut_between_chunks_arrives_whole() {
        let event = "id: 9\nevent: charge_pending\ndata: {\"merchant_name\":\"ローソン 恵比寿\"}\n\n";
        let bytes = event.as_bytes();
        let inside = event.find("ソ").unwrap() + 1;
        let mut parser = SseParser::default();
        parser.push(&bytes[..inside]);
        assert_eq!(parser.next_message(), None);
        parser.push(&bytes[inside..]);
        let message = parser.next_message().unwrap();
        assert_eq!(message.data, "{\"merchant_name\":\"ローソン 恵比寿\"}");
    }
}
