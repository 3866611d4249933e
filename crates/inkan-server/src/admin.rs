//! Operator actions run from the command line against the database: merchants, terminals, and
//! the operator keys of the kill switches' API (`operator`).

use inkan_core::region::Country;

use crate::clock::{Clock, to_ms};
use crate::db::Db;
use crate::error::AppError;
use crate::secrets::{hash_secret, new_id, new_token};

/// A new merchant; returns its id.
pub async fn create_merchant(db: &Db, clock: &dyn Clock, name: &str) -> anyhow::Result<String> {
    let name = crate::flow::accounts::display_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    let rng = ring::rand::SystemRandom::new();
    let id = new_id("mer", &rng).map_err(app_error)?;
    sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(&name)
        .bind(to_ms(clock.now()))
        .execute(db.pool())
        .await?;
    Ok(id)
}

/// A new terminal of a merchant, taking payments in `country`; returns its id and its key. The
/// key is shown this once: only its hash is stored.
pub async fn create_terminal(
    db: &Db,
    clock: &dyn Clock,
    merchant_id: &str,
    name: &str,
    country: Country,
) -> anyhow::Result<(String, String)> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM merchants WHERE id = $1")
        .bind(merchant_id)
        .fetch_optional(db.pool())
        .await?;
    if exists.is_none() {
        anyhow::bail!("no merchant with id {merchant_id}");
    }
    let name = crate::flow::accounts::display_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    let rng = ring::rand::SystemRandom::new();
    let id = new_id("term", &rng).map_err(app_error)?;
    let key = new_token("tk", &rng).map_err(app_error)?;
    sqlx::query(
        "INSERT INTO terminals (id, merchant_id, name, key_hash, active, created_at, country) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(&id)
    .bind(merchant_id)
    .bind(&name)
    .bind(hash_secret(&key))
    .bind(to_ms(clock.now()))
    .bind(country.as_str())
    .execute(db.pool())
    .await?;
    Ok((id, key))
}

/// Revokes a terminal: its key stops working at once.
pub async fn revoke_terminal(db: &Db, terminal_id: &str) -> anyhow::Result<()> {
    deactivate(db, "terminals", "terminal", terminal_id).await
}

/// Marks the key `id` of `table` inactive (the next request with it is refused).
async fn deactivate(db: &Db, table: &'static str, what: &str, id: &str) -> anyhow::Result<()> {
    let done = sqlx::query(&format!("UPDATE {table} SET active = 0 WHERE id = $1")).bind(id).execute(db.pool()).await?;
    if done.rows_affected() != 1 {
        anyhow::bail!("no {what} with id {id}");
    }
    Ok(())
}

/// A new operator key (for `/v1/admin/...`) with `scopes`; returns its id and the key, shown this
/// once: only its hash is stored.
pub async fn create_operator(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    scopes: &[inkan_core::operator::Scope],
) -> anyhow::Result<(String, String)> {
    let name = crate::flow::accounts::display_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    anyhow::ensure!(!scopes.is_empty(), "an operator key needs at least one scope");
    let rng = ring::rand::SystemRandom::new();
    let id = new_id("op", &rng).map_err(app_error)?;
    let key = new_token("ok", &rng).map_err(app_error)?;
    sqlx::query(
        "INSERT INTO operator_keys (id, name, key_hash, active, created_at, scopes) VALUES ($1, $2, $3, 1, $4, $5)",
    )
    .bind(&id)
    .bind(&name)
    .bind(hash_secret(&key))
    .bind(to_ms(clock.now()))
    .bind(inkan_core::operator::scopes_text(scopes))
    .execute(db.pool())
    .await?;
    Ok((id, key))
}

/// Revokes an operator key: it stops working at once.
pub async fn revoke_operator(db: &Db, operator_id: &str) -> anyhow::Result<()> {
    deactivate(db, "operator_keys", "operator key", operator_id).await
}

fn app_error(e: AppError) -> anyhow::Error {
    anyhow::anyhow!(e.message)
}
