//! `Idempotency-Key`: what makes a retried charge or top-up the same operation, not a second one.

use axum::http::{HeaderMap, StatusCode};
use inkan_api::{ErrorCode, IDEMPOTENCY_KEY};

use crate::error::{AppError, Result};
use crate::secrets::hash_secret;

/// The request's key: required, 1 to 255 printable ASCII characters.
pub fn key(headers: &HeaderMap) -> Result<String> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| AppError::invalid("the Idempotency-Key header is required"))?
        .to_str()
        .map_err(|_| AppError::invalid("Idempotency-Key must be printable ASCII"))?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::invalid("Idempotency-Key must be 1 to 255 printable ASCII characters"));
    }
    Ok(key.to_owned())
}

/// What a retry must repeat exactly: the hash of the request's body.
pub fn request_hash(body: &impl serde::Serialize) -> Result<String> {
    Ok(hash_secret(&serde_json::to_string(body)?))
}

/// `409 idempotency_conflict`: the key was used with another request.
pub fn conflict() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::IdempotencyConflict,
        "this Idempotency-Key was used with a different request",
    )
}
