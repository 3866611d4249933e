//! Who is calling: a merchant terminal (bearer terminal key), a wallet session (bearer session
//! token) or the operator (bearer operator key). All are looked up by the SHA-256 of the secret; the secret itself is never stored.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sqlx::Row;

use crate::clock::to_ms;
use crate::error::{AppError, Result};
use crate::secrets::hash_secret;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Result<&str> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| AppError::unauthorized("missing Authorization: Bearer …"))?
        .to_str()
        .map_err(|_| AppError::unauthorized("malformed Authorization header"))?;
    let token = value.strip_prefix("Bearer ").ok_or_else(|| AppError::unauthorized("expected a Bearer token"))?;
    if token.is_empty() || token.len() > 256 {
        return Err(AppError::unauthorized("malformed bearer token"));
    }
    Ok(token)
}

/// An active terminal of a merchant.
#[derive(Debug, Clone)]
pub struct TerminalAuth {
    pub terminal_id: String,
    pub merchant_id: String,
    pub merchant_name: String,
}

impl FromRequestParts<AppState> for TerminalAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let hash = hash_secret(bearer(parts)?);
        let row = sqlx::query(
            "SELECT t.id, t.merchant_id, m.name FROM terminals t JOIN merchants m ON m.id = t.merchant_id \
             WHERE t.key_hash = $1 AND t.active = 1",
        )
        .bind(hash)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(|| AppError::unauthorized("unknown or revoked terminal key"))?;
        Ok(TerminalAuth { terminal_id: row.try_get(0)?, merchant_id: row.try_get(1)?, merchant_name: row.try_get(2)? })
    }
}

/// An active operator key: the caller may use the kill switches (`/v1/admin/...`).
#[derive(Debug, Clone)]
pub struct OperatorAuth {
    pub operator_id: String,
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let hash = hash_secret(bearer(parts)?);
        let id: String = sqlx::query_scalar("SELECT id FROM operator_keys WHERE key_hash = $1 AND active = 1")
            .bind(hash)
            .fetch_optional(state.db.pool())
            .await?
            .ok_or_else(|| AppError::unauthorized("unknown or revoked operator key"))?;
        Ok(OperatorAuth { operator_id: id })
    }
}

/// How often a session's last-seen time is written while it is in use.
const REFRESH_EVERY: time::Duration = time::Duration::seconds(1);

/// A signed-in wallet session, refreshed by this request. It fails once the session has been idle
/// longer than the configured timeout (5 minutes by default).
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub account_id: String,
    pub device_id: Option<String>,
    token_hash: String,
}

impl SessionAuth {
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token_hash = hash_secret(bearer(parts)?);
        let now = state.clock.now();
        let idle_since = to_ms(now - state.settings.session_idle);
        let ended = || AppError::unauthorized("the session has ended; sign in again with your passkey");
        let row = sqlx::query(
            "SELECT account_id, device_id, last_seen_at FROM sessions WHERE token_hash = $1 AND last_seen_at > $2",
        )
        .bind(&token_hash)
        .bind(idle_since)
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(ended)?;
        // A write only when the last one is older than `REFRESH_EVERY` (a wallet polling or paying
        // several times a second writes once a second): the idle timeout counts from the last
        // refresh, at most that much before the last request, so a session never outlives it.
        if row.try_get::<i64, _>("last_seen_at")? <= to_ms(now - REFRESH_EVERY) {
            // One statement checks the idle timeout and refreshes it, so two racing requests
            // cannot revive a session that has already lapsed. A write, so in a transaction: on
            // SQLite every write goes through the one writer (see `db`).
            let mut tx = state.db.begin().await?;
            let refreshed = sqlx::query(
                "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at > $3 RETURNING account_id",
            )
            .bind(to_ms(now))
            .bind(&token_hash)
            .bind(idle_since)
            .fetch_optional(tx.conn())
            .await?;
            tx.commit(&state.hub).await?;
            refreshed.ok_or_else(ended)?;
        }
        Ok(SessionAuth { account_id: row.try_get(0)?, device_id: row.try_get(1)?, token_hash })
    }
}
