//! Operator actions run from the command line against the database: merchants, terminals, and
//! the operator keys of the kill switches' API (`operator`).

use inkan_core::region::Country;

use crate::clock::{Clock, to_ms};
use crate::db::Db;
use crate::error::AppError;
use crate::hub::Hub;
use crate::secrets::{hash_secret, new_id, new_token};
use crate::store;
use crate::store::keys::Holder;

/// A new merchant; returns its id.
pub async fn create_merchant(db: &Db, clock: &dyn Clock, name: &str) -> anyhow::Result<String> {
    let name = crate::flow::accounts::display_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    let rng = ring::rand::SystemRandom::new();
    let id = new_id("mer", &rng).map_err(app_error)?;
    let mut tx = db.begin().await?;
    store::keys::insert_merchant(&mut tx, &id, &name, to_ms(clock.now())).await.map_err(app_error)?;
    tx.commit(&Hub::default()).await?;
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
    if !store::keys::merchant_exists(db.reads(), merchant_id).await.map_err(app_error)? {
        anyhow::bail!("no merchant with id {merchant_id}");
    }
    let name = crate::flow::accounts::display_name(name).map_err(|e| anyhow::anyhow!(e.message))?;
    let rng = ring::rand::SystemRandom::new();
    let id = new_id("term", &rng).map_err(app_error)?;
    let key = new_token("tk", &rng).map_err(app_error)?;
    let terminal = store::keys::NewTerminal {
        id: &id,
        merchant_id,
        name: &name,
        key_hash: &hash_secret(&key),
        created_at: to_ms(clock.now()),
        country: country.as_str(),
    };
    let mut tx = db.begin().await?;
    store::keys::insert_terminal(&mut tx, &terminal).await.map_err(app_error)?;
    tx.commit(&Hub::default()).await?;
    Ok((id, key))
}

/// Revokes a terminal: its key stops working at once.
pub async fn revoke_terminal(db: &Db, terminal_id: &str) -> anyhow::Result<()> {
    deactivate(db, Holder::Terminal, "terminal", terminal_id).await
}

/// Marks the key `id` inactive (the next request with it is refused).
async fn deactivate(db: &Db, holder: Holder, what: &str, id: &str) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    if !store::keys::deactivate(&mut tx, holder, id).await.map_err(app_error)? {
        anyhow::bail!("no {what} with id {id}");
    }
    tx.commit(&Hub::default()).await?;
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
    let scopes = inkan_core::operator::scopes_text(scopes);
    let mut tx = db.begin().await?;
    store::keys::insert_operator(&mut tx, (&id, &name), &hash_secret(&key), to_ms(clock.now()), &scopes)
        .await
        .map_err(app_error)?;
    tx.commit(&Hub::default()).await?;
    Ok((id, key))
}

/// Revokes an operator key: it stops working at once.
pub async fn revoke_operator(db: &Db, operator_id: &str) -> anyhow::Result<()> {
    deactivate(db, Holder::Operator, "operator key", operator_id).await
}

fn app_error(e: AppError) -> anyhow::Error {
    anyhow::anyhow!(e.message)
}
