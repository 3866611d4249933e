//! Errors at the HTTP boundary: a status, a stable code and a safe message.
//!
//! Internal failures (database, serialisation) are logged with their details and reach the client
//! only as `internal`. Request bodies that do not parse, carry unknown fields or are too large get
//! `invalid_request` / `payload_too_large` and change nothing.

use std::borrow::Cow;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use inkan_api::{ApiError, ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// Seconds to send as `Retry-After` (overload and rate limits).
    pub retry_after: Option<u32>,
    /// A notice of this refusal itself (a refused passkey), written in a transaction of its own
    /// once the request's has rolled back, and before the answer leaves (`refusals::record`).
    pub notice: Option<Box<RefusalNotice>>,
    /// A failed try of a secret to count, as the notice is written (`attempts`): the answer is
    /// then worded for where its counters stand.
    pub failed_try: Option<Box<crate::tries::FailedTry>>,
    /// Tries left before a lock, when the shopper is warned (`attempts::worded`).
    pub tries_left: Option<u32>,
    /// When a lock of failed tries ends.
    pub locked_until: Option<time::OffsetDateTime>,
}

/// A notice to record because a request was refused: what [`AppError::with_notice`] attaches.
#[derive(Debug, Clone)]
pub struct RefusalNotice {
    pub account_id: String,
    pub notice: inkan_api::feed::Notice,
}

/// A refusal's failed try on its way out: `refusals::record` counts it and words the answer
/// again from the refusal's status, code and message.
#[derive(Debug, Clone)]
pub struct PendingFailure {
    pub failed: crate::tries::FailedTry,
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

/// What an overloaded server asks a client to wait before retrying, in seconds.
pub const OVERLOAD_RETRY_AFTER_SECONDS: u32 = 1;

impl AppError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            notice: None,
            failed_try: None,
            tries_left: None,
            locked_until: None,
        }
    }

    /// This error, as a failed try of a secret that counts against `counters` once the request's
    /// transaction is over.
    pub fn failed_try(self, failed: crate::tries::FailedTry) -> Self {
        AppError { failed_try: Some(Box::new(failed)), ..self }
    }

    /// This error, with a notice to the wallet's devices that it happened.
    pub fn with_notice(self, account_id: &str, notice: inkan_api::feed::Notice) -> Self {
        AppError { notice: Some(Box::new(RefusalNotice { account_id: account_id.to_owned(), notice })), ..self }
    }

    /// `503 overloaded` with `Retry-After`: the server took on nothing of this request.
    pub fn overloaded(message: impl Into<Cow<'static, str>>) -> Self {
        AppError {
            retry_after: Some(OVERLOAD_RETRY_AFTER_SECONDS),
            ..AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded, message)
        }
    }

    /// `429 too_many_requests` with `Retry-After`.
    pub fn too_many_requests(message: impl Into<Cow<'static, str>>, retry_after_seconds: u32) -> Self {
        AppError {
            retry_after: Some(retry_after_seconds.max(1)),
            ..AppError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, message)
        }
    }

    /// `408 request_timeout`: the request, or its body, took longer than the server waits.
    pub fn request_timeout() -> Self {
        AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            "the request took too long to arrive or to handle; nothing was kept, send it again",
        )
    }

    /// Something broke on our side. `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error; please retry")
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        AppError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        AppError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn not_found(what: &'static str) -> Self {
        AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn invalid_state(message: impl Into<Cow<'static, str>>) -> Self {
        AppError::new(StatusCode::CONFLICT, ErrorCode::InvalidState, message)
    }

    pub fn passkey_rejected() -> Self {
        AppError::new(StatusCode::UNAUTHORIZED, ErrorCode::PasskeyRejected, "the passkey confirmation was not accepted")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let failed_try = self.failed_try.map(|failed| PendingFailure {
            failed: *failed,
            status: self.status,
            code: self.code,
            message: self.message.to_string(),
        });
        let error = ApiError {
            code: self.code,
            message: self.message.into_owned(),
            tries_left: self.tries_left,
            locked_until: self.locked_until,
        };
        let mut response = (self.status, axum::Json(ErrorBody { error })).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if let Some(notice) = self.notice {
            response.extensions_mut().insert(*notice);
        }
        if let Some(pending) = failed_try {
            response.extensions_mut().insert(pending);
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // Every connection stayed busy for the whole acquire timeout: shed this request rather
            // than queue it.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection within the acquire timeout; answering 503");
                AppError::overloaded("the server is busy; retry shortly")
            }
            e => AppError::internal(format!("database: {e}")),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::internal(format!("json: {e}"))
    }
}

impl From<inkan_core::MoneyError> for AppError {
    fn from(e: inkan_core::MoneyError) -> Self {
        AppError::invalid(e.to_string())
    }
}

/// A JSON body whose parse errors are API errors (`invalid_request`, `payload_too_large`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => AppError::invalid(format!("invalid request body: {}", e.body_text())),
        JsonRejection::JsonSyntaxError(_) => AppError::invalid("the request body is not valid JSON"),
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest,
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if timed_out(&e) => AppError::request_timeout(),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        other => AppError::new(other.status(), ErrorCode::InvalidRequest, "the request body could not be read"),
    }
}

/// Whether reading the body failed because the client sent it too slowly (`body_timeout`).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Query parameters whose parse errors are API errors (`invalid_request`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e| AppError::invalid(format!("invalid query parameters: {}", e.body_text())))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
