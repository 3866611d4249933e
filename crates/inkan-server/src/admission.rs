//! Admission control: how much work the server takes on at once.
//!
//! Two separate budgets, because requests come in two kinds. Short requests (everything that
//! answers at once) share `max_requests_in_flight`. Long-lived ones, the live feed (SSE) and a
//! terminal's long-poll (`GET /v1/charges/{id}?wait=N`), share `max_open_streams`: thousands of
//! idle feeds must not leave no room for a charge. A request over its budget is refused at once
//! with `503 overloaded` and `Retry-After`, having touched nothing; nothing is queued, so the
//! server recovers as soon as the load drops. `GET /healthz` is never refused: it does no work,
//! and a liveness probe failing under load would only get a busy server restarted.
//!
//! The budgets are semaphores taken without waiting. A short request gives its permit back when
//! its response is ready; a stream keeps its permit until its body ends (the client went away,
//! or the server is shutting down). tower's `ConcurrencyLimit` + `LoadShed` would do the first
//! half but hold a long-poll's permit among the short ones; telling the two kinds apart needs the
//! matched route, hence this small middleware.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::error::AppError;
use crate::settings::LoadLimits;

/// What a wallet over its share of live feeds is asked to wait: a feed closes when its app goes.
const FEED_RETRY_AFTER_SECONDS: u32 = 5;

/// The two budgets, shared by every clone (one per server), and the share of one account.
#[derive(Debug, Clone)]
pub struct Admission {
    requests: Budget,
    streams: Budget,
    /// Live feeds open per account: one wallet may not take every stream's place.
    feeds: Arc<Mutex<HashMap<String, usize>>>,
    feeds_per_account: usize,
    /// How long a short request may take, from its arrival to its answer (its body included).
    request_timeout: Duration,
}

/// One of an account's places for a live feed; given back when dropped (when the feed ends).
#[derive(Debug)]
pub struct FeedPlace {
    feeds: Arc<Mutex<HashMap<String, usize>>>,
    account_id: String,
}

impl Drop for FeedPlace {
    fn drop(&mut self) {
        let mut feeds = self.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = feeds.get_mut(&self.account_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                feeds.remove(&self.account_id);
            }
        }
    }
}

/// One budget: a semaphore, and the number of permits taken, which tests and operators can watch.
#[derive(Debug, Clone)]
struct Budget {
    permits: Arc<Semaphore>,
    in_use: Arc<watch::Sender<usize>>,
}

/// A taken permit; gives itself back and updates the count when dropped.
#[derive(Debug)]
struct Ticket {
    _permit: OwnedSemaphorePermit,
    in_use: Arc<watch::Sender<usize>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.in_use.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Budget {
    fn new(size: usize) -> Budget {
        Budget { permits: Arc::new(Semaphore::new(size)), in_use: Arc::new(watch::Sender::new(0)) }
    }

    fn try_take(&self) -> Option<Ticket> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        self.in_use.send_modify(|n| *n += 1);
        Some(Ticket { _permit: permit, in_use: self.in_use.clone() })
    }
}

impl Admission {
    pub fn new(limits: &LoadLimits) -> Admission {
        Admission {
            requests: Budget::new(limits.max_requests_in_flight),
            streams: Budget::new(limits.max_open_streams),
            feeds: Arc::default(),
            feeds_per_account: limits.max_feeds_per_account,
            request_timeout: limits.request_timeout,
        }
    }

    /// A place for one more live feed of `account_id`, or `429 too_many_requests` when the account
    /// has its `max_feeds_per_account` open (inside the server's budget of streams).
    pub fn feed_place(&self, account_id: &str) -> Result<FeedPlace, AppError> {
        let mut feeds = self.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = feeds.entry(account_id.to_owned()).or_insert(0);
        if *open >= self.feeds_per_account {
            crate::telemetry::admission_refused("feeds_per_account");
            return Err(AppError::too_many_requests(
                format!("this wallet already has {} live feeds open; close one first", self.feeds_per_account),
                FEED_RETRY_AFTER_SECONDS,
            ));
        }
        *open += 1;
        Ok(FeedPlace { feeds: self.feeds.clone(), account_id: account_id.to_owned() })
    }

    /// The number of live feeds open now, over every account.
    pub fn feeds_open(&self) -> usize {
        self.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().sum()
    }

    /// The number of short requests being handled now, as it changes.
    pub fn requests_in_flight(&self) -> watch::Receiver<usize> {
        self.requests.in_use.subscribe()
    }

    /// The number of open live feeds and long-polls, as it changes.
    pub fn open_streams(&self) -> watch::Receiver<usize> {
        self.streams.in_use.subscribe()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Never refused.
    Free,
    Short,
    Stream,
}

fn kind(request: &Request) -> Kind {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    match (request.method(), route) {
        (&Method::GET, Some("/healthz")) => Kind::Free,
        (&Method::GET, Some("/v1/wallet/feed")) => Kind::Stream,
        (&Method::GET, Some("/v1/charges/{id}")) if asks_to_wait(request.uri().query()) => Kind::Stream,
        _ => Kind::Short,
    }
}

/// Whether a query string has a `wait` of more than zero seconds, read as the handler reads it:
/// percent-decoded (`wait=%36%30` is a wait of 60 s, and takes a stream's place). A malformed one is
/// left to the handler, which refuses it before waiting.
fn asks_to_wait(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(key, value)| key == "wait" && value.parse::<u64>().is_ok_and(|w| w > 0))
    })
}

/// The middleware: takes a permit from the request's budget or answers `503 overloaded`.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    match kind(&request) {
        Kind::Free => next.run(request).await,
        Kind::Short => {
            let Some(ticket) = admission.requests.try_take() else {
                crate::telemetry::admission_refused("requests");
                return AppError::overloaded("the server is handling as many requests as it can; retry shortly")
                    .into_response();
            };
            let response = match tokio::time::timeout(admission.request_timeout, next.run(request)).await {
                Ok(response) => response,
                // The handler is dropped where it stood: its transaction, if any, rolls back.
                Err(_) => {
                    crate::telemetry::admission_refused("timeout");
                    AppError::request_timeout().into_response()
                }
            };
            drop(ticket);
            response
        }
        Kind::Stream => {
            let Some(ticket) = admission.streams.try_take() else {
                crate::telemetry::admission_refused("streams");
                return AppError::overloaded(
                    "the server has as many live feeds and long-polls open as it can; retry shortly",
                )
                .into_response();
            };
            let response = next.run(request).await;
            // A long-poll has done its waiting by now; a live feed's body is still to come, and
            // holds the permit until it ends.
            if axum::body::HttpBody::size_hint(response.body()).exact().is_some() {
                return response;
            }
            response.map(|body| {
                Body::from_stream(body.into_data_stream().map(move |chunk| {
                    let _held = &ticket;
                    chunk
                }))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_positive_wait_makes_a_long_poll() {
        assert!(asks_to_wait(Some("wait=30")));
        assert!(asks_to_wait(Some("x=1&wait=1")));
        assert!(!asks_to_wait(Some("wait=0")));
        assert!(!asks_to_wait(Some("wait=-1")));
        assert!(!asks_to_wait(Some("wait=soon")));
        assert!(!asks_to_wait(Some("nowait=5")));
        assert!(!asks_to_wait(None));
        // Encoded as the handler decodes it.
        assert!(asks_to_wait(Some("wait=%36%30")));
        assert!(asks_to_wait(Some("%77ait=5")));
        assert!(!asks_to_wait(Some("wait=+7")), "a plus is a space, which the handler refuses too");
        assert!(!asks_to_wait(Some("wait=%30")));
    }

    #[test]
    fn an_account_has_its_share_of_feeds_and_gets_them_back() {
        let limits = LoadLimits { max_feeds_per_account: 2, ..LoadLimits::DEFAULT };
        let admission = Admission::new(&limits);
        let (a, b) = (admission.feed_place("acct_a"), admission.feed_place("acct_a"));
        assert!(a.is_ok() && b.is_ok());
        let refused = admission.feed_place("acct_a").expect_err("a third feed");
        assert_eq!(refused.code, inkan_api::ErrorCode::TooManyRequests);
        assert!(admission.feed_place("acct_b").is_ok(), "another account has its own share");
        drop(a);
        assert!(admission.feed_place("acct_a").is_ok());
        drop(b);
        assert!(admission.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty());
    }

    #[test]
    fn a_budget_refuses_past_its_size_and_recovers() {
        let budget = Budget::new(2);
        let watch = budget.in_use.subscribe();
        let (a, b) = (budget.try_take(), budget.try_take());
        assert!(a.is_some() && b.is_some());
        assert_eq!(*watch.borrow(), 2);
        assert!(budget.try_take().is_none());
        drop(a);
        assert_eq!(*watch.borrow(), 1);
        assert!(budget.try_take().is_some());
    }
}
