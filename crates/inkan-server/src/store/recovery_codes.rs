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
