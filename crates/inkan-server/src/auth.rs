//! Who is calling: a merchant terminal (bearer terminal key), a wallet session (bearer session
//! token) or the operator (bearer operator key). All are looked up by the SHA-256 of the secret; the secret itself is never stored.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use inkan_core::operator::{Action, Scope, may, parse_scopes};
use inkan_core::session::{SessionFacts, SessionPolicy};

use crate::clock::from_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::hub::Change;
use crate::secrets::hash_secret;
use crate::state::AppState;
use crate::store;

fn bearer(parts: &Parts) -> Result<&str> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| AppError::unauthorized("missing Authorization: Bearer …"))?
        .to_str()
        .map_err(|_| AppError::unauthorized("malformed Authorization header"))?;
    // The scheme is case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` are `Bearer`.
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim_start_matches(' '),
        _ => return Err(AppError::unauthorized("expected a Bearer token")),
    };
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
    /// The country the terminal takes payments in (`admin terminal create --country`).
    pub country: String,
}

impl FromRequestParts<AppState> for TerminalAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let hash = hash_secret(bearer(parts)?);
        let terminal = store::keys::terminal(state.db.reads(), &hash)
            .await?
            .ok_or_else(|| AppError::unauthorized("unknown or revoked terminal key"))?;
        Ok(TerminalAuth {
            terminal_id: terminal.id,
            merchant_id: terminal.merchant_id,
            merchant_name: terminal.merchant_name,
            country: terminal.country,
        })
    }
}

/// An active operator key, and what it may do (`inkan_core::operator`).
#[derive(Debug, Clone)]
pub struct OperatorAuth {
    pub operator_id: String,
    pub scopes: Vec<Scope>,
}

impl OperatorAuth {
    /// Refuses, with `403 forbidden`, an action outside the key's scopes.
    pub fn allow(&self, action: Action) -> Result<()> {
        if may(&self.scopes, action) {
            return Ok(());
        }
        let scope = action.scope().as_str();
        Err(AppError::new(
            axum::http::StatusCode::FORBIDDEN,
            inkan_api::ErrorCode::Forbidden,
            format!("this operator key may not do that: it needs the {scope:?} scope"),
        ))
    }
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let hash = hash_secret(bearer(parts)?);
        let (id, scopes) = store::keys::operator(state.db.reads(), &hash)
            .await?
            .ok_or_else(|| AppError::unauthorized("unknown or revoked operator key"))?;
        let scopes = parse_scopes(&scopes).map_err(|e| AppError::internal(format!("operator key {id}: {e}")))?;
        Ok(OperatorAuth { operator_id: id, scopes })
    }
}

/// How often a session's last-seen time is written while it is in use.
const REFRESH_EVERY: time::Duration = time::Duration::seconds(1);

/// A signed-in wallet session of one device, refreshed by this request. It fails once the session
/// has ended: idle longer than the idle limit (5 minutes by default), older than the absolute
/// limit (12 hours by default), signed out, or its device removed (see
/// [`inkan_core::session::SessionPolicy`]).
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub account_id: String,
    pub device_id: String,
    token_hash: String,
}

impl SessionAuth {
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

/// The session policy the server runs with.
pub fn policy(state: &AppState) -> SessionPolicy {
    SessionPolicy { idle: state.settings.session_idle, absolute: state.settings.session_max }
}

fn ended() -> AppError {
    AppError::unauthorized("the session has ended; sign in again with your passkey")
}

/// A session as stored, with what the policy needs to judge it.
struct StoredSession {
    account_id: String,
    device_id: String,
    facts: SessionFacts,
}

async fn stored(state: &AppState, token_hash: &str) -> Result<Option<StoredSession>> {
    let Some(row) = store::sessions::by_token_hash(state.db.reads(), token_hash).await? else { return Ok(None) };
    Ok(Some(StoredSession {
        facts: SessionFacts {
            created_at: from_ms(row.created_at),
            last_seen_at: from_ms(row.last_seen_at),
            device_active: row.active == 1,
        },
        account_id: row.account_id,
        device_id: row.device_id,
    }))
}

/// When the session of `token_hash` ends if nothing refreshes it; `None` if it has ended. What a
/// live feed checks, without refreshing the session: an open stream is not a request.
pub async fn session_ends_at(state: &AppState, token_hash: &str) -> Result<Option<time::OffsetDateTime>> {
    let now = state.clock.now();
    Ok(stored(state, token_hash).await?.and_then(|s| policy(state).ends_at(s.facts)).filter(|end| now < *end))
}

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token_hash = hash_secret(bearer(parts)?);
        let now = state.clock.now();
        let session = stored(state, &token_hash).await?.ok_or_else(ended)?;
        let policy = policy(state);
        if !policy.is_alive(session.facts, now) {
            return Err(ended());
        }
        // A write only when the last one is older than `REFRESH_EVERY` (a wallet polling or paying
        // several times a second writes once a second): the idle timeout counts from the last
        // refresh, at most that much before the last request, so a session never outlives it.
        if session.facts.last_seen_at <= now - REFRESH_EVERY {
            // One statement checks that the session is still there, unchanged since it was judged
            // above, and refreshes it, so two racing requests cannot revive a session that has
            // lapsed, and a removal in between wins. A write, so in a transaction: on SQLite every
            // write goes through the one writer (see `db`).
            let mut tx = state.db.begin().await?;
            let refreshed = store::sessions::refresh(&mut tx, &token_hash, session.facts.last_seen_at, now).await?;
            tx.commit(&state.hub).await?;
            // Another request refreshed it first: it was alive, and still is unless it just ended.
            if !refreshed && session_ends_at(state, &token_hash).await?.is_none() {
                return Err(ended());
            }
        }
        Ok(SessionAuth { account_id: session.account_id, device_id: session.device_id, token_hash })
    }
}

/// Which sessions of an account [`end_sessions`] ends.
pub use crate::store::sessions::Ending;

/// Ends sessions of `account_id` inside `tx`. Once `tx` commits, their open feeds close within a
/// second, on every server instance (the change travels as the other changes do, see `hub`).
pub async fn end_sessions(tx: &mut Tx, account_id: &str, which: Ending<'_>) -> Result<u64> {
    let ended = store::sessions::delete(tx, account_id, which).await?;
    // Only when one ended: otherwise every open feed of the account would re-read its session.
    if ended > 0 {
        tx.announce(Change::Sessions(account_id.to_owned()));
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    fn parts(authorization: &str) -> axum::http::request::Parts {
        axum::http::Request::builder().header("authorization", authorization).body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_passes() {
        for (header, token) in
            [("Bearer tk_1", "tk_1"), ("bearer tk_1", "tk_1"), ("BEARER tk_1", "tk_1"), ("Bearer   tk_1", "tk_1")]
        {
            assert_eq!(bearer(&parts(header)).unwrap(), token, "{header}");
        }
        for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearertk_1", "tk_1", "Token tk_1"] {
            assert!(bearer(&parts(header)).is_err(), "{header} passed");
        }
        assert!(bearer(&parts(&format!("Bearer {}", "a".repeat(257)))).is_err());
        let none = axum::http::Request::builder().body(()).unwrap().into_parts().0;
        assert!(bearer(&none).is_err());
    }
}
