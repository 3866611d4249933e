//! The `recovery_codes` table: codes stored only as hashes.

use crate::db::Tx;
use crate::error::Result;
use crate::secrets::{hash_secret, new_recovery_code, normalize_recovery_code};
use crate::state::AppState;

/// How many recovery codes an account has.
pub const RECOVERY_CODES: usize = 10;

/// Makes a fresh set of codes for `account_id` inside `tx` and returns them (to show once).
pub async fn issue(tx: &mut Tx, app: &AppState, account_id: &str) -> Result<Vec<String>> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code(&app.rng)?;
        sqlx::query("INSERT INTO recovery_codes (code_hash, account_id, used_at) VALUES ($1, $2, NULL)")
            .bind(hash_secret(&normalize_recovery_code(&code)))
            .bind(account_id)
            .execute(tx.conn())
            .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// Whether `code` is an unused recovery code of `account_id`.
pub(crate) async fn is_unused(db: &crate::db::Reads, account_id: &str, code: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM recovery_codes WHERE code_hash = $1 AND account_id = $2 AND used_at IS NULL",
    )
    .bind(hash_secret(&normalize_recovery_code(code)))
    .bind(account_id)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Uses up the recovery code `code` of `account_id` in `tx`: `false` (nothing written) if it is not
/// an unused code of this wallet.
pub(crate) async fn use_up(tx: &mut Tx, account_id: &str, code: &str, now: time::OffsetDateTime) -> Result<bool> {
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND account_id = $3 AND used_at IS NULL",
    )
    .bind(crate::clock::to_ms(now))
    .bind(hash_secret(&normalize_recovery_code(code)))
    .bind(account_id)
    .execute(tx.conn())
    .await?;
    Ok(used.rows_affected() == 1)
}

/// How many unused recovery codes `account_id` has, in `tx`.
pub(crate) async fn unused_count(tx: &mut Tx, account_id: &str) -> Result<u32> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
        .bind(account_id)
        .fetch_one(tx.conn())
        .await?;
    Ok(u32::try_from(n).unwrap_or(0))
}

/// Deletes every recovery code of `account_id`, used or not, in `tx`.
pub(crate) async fn delete_all(tx: &mut Tx, account_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account_id).execute(tx.conn()).await?;
    Ok(())
}
