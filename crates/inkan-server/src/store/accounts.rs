//! The `accounts` table: reads, locks and writes of the wallet's account row that several
//! operations share.

use inkan_core::tally::Tally;
use inkan_core::{Currency, Money};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};

/// Locks the account in `tx` (as a freeze's lift does first) and refuses if the wallet is closed
/// (`inkan_core::closing::may_unfreeze`): a closed wallet stays frozen.
pub async fn lock_unclosed(tx: &mut Tx, account_id: &str) -> Result<()> {
    let closed_at: Option<i64> =
        sqlx::query_scalar(&locking(tx, "closed_at")).bind(account_id).fetch_one(tx.conn()).await?;
    inkan_core::closing::may_unfreeze(closed_at.is_some()).map_err(|e| AppError::invalid_state(e.to_string()))
}

/// `SELECT columns` of the account `$1`, locking its row until `tx` ends: whoever locks it next
/// waits, and reads what this transaction wrote.
fn locking(tx: &Tx, columns: &str) -> String {
    format!("SELECT {columns} FROM accounts WHERE id = $1{}", tx.for_update())
}

/// The columns of the account row that hold where its history stands (`feed::Head::of` reads
/// them): read with the row's lock, they save the history's append a statement.
pub const HEAD_COLUMNS: &str = "event_seq, last_hash";

/// Where an account's history moves with a notice appended (`feed::append_unheaded`): from the
/// sequence number read under the row's lock to the new one, with its hash.
#[derive(Debug)]
pub(crate) struct HeadMove {
    pub(crate) from_seq: i64,
    pub(crate) seq: i64,
    pub(crate) hash: String,
}

/// Locks the account row in `tx` (as it reads it: [`Tx::for_update`]) and reads where its
/// history stands ([`HEAD_COLUMNS`]).
pub(crate) async fn lock_head(tx: &mut Tx, account_id: &str) -> Result<AnyRow> {
    Ok(sqlx::query(&locking(tx, HEAD_COLUMNS)).bind(account_id).fetch_one(tx.conn()).await?)
}

/// Writes the history's new head on an account locked in `tx`. Conditional on the head read under
/// the lock, so a caller that broke the rule (no lock taken) fails instead of forking the chain.
pub(crate) async fn move_head(tx: &mut Tx, account_id: &str, head: &HeadMove) -> Result<()> {
    let moved = sqlx::query("UPDATE accounts SET event_seq = $1, last_hash = $2 WHERE id = $3 AND event_seq = $4")
        .bind(head.seq)
        .bind(&head.hash)
        .bind(account_id)
        .bind(head.from_seq)
        .execute(tx.conn())
        .await?;
    head_moved(account_id, moved.rows_affected())
}

fn head_moved(account_id: &str, rows: u64) -> Result<()> {
    match rows {
        1 => Ok(()),
        _ => Err(AppError::internal(format!("account {account_id}: history moved under a held lock"))),
    }
}

/// What a charge's transaction writes of the wallet's account row it locked
/// ([`lock_for_payment`]), in one statement.
#[derive(Debug)]
pub(crate) struct PaymentWrite<'a> {
    /// Added to the balance (a confirmation's negative amount; zero for a new charge).
    pub(crate) balance_change: Money,
    pub(crate) tally: &'a Tally,
    pub(crate) head: &'a HeadMove,
}

/// Writes a charge's changes to the account row locked in `tx`: balance, running totals and the
/// history's head, the head conditional as in [`move_head`].
pub(crate) async fn write_payment(tx: &mut Tx, account_id: &str, write: &PaymentWrite<'_>) -> Result<()> {
    let (tally, head) = (write.tally, write.head);
    let moved = sqlx::query(
        "UPDATE accounts SET balance = balance + $1, tally_day = $2, tally_month = $3, spent_today = $4, \
         spent_this_month = $5, open_amount = $6, event_seq = $7, last_hash = $8 WHERE id = $9 AND event_seq = $10",
    )
    .bind(write.balance_change.minor())
    .bind(to_ms(tally.day))
    .bind(to_ms(tally.month))
    .bind(tally.today.minor())
    .bind(tally.this_month.minor())
    .bind(tally.open.minor())
    .bind(head.seq)
    .bind(&head.hash)
    .bind(account_id)
    .bind(head.from_seq)
    .execute(tx.conn())
    .await?;
    head_moved(account_id, moved.rows_affected())
}

/// The columns of the account row that hold its running totals ([`tally_of`] reads them).
pub(crate) const TALLY_COLUMNS: &str = "tally_day, tally_month, spent_today, spent_this_month, open_amount";

/// The running totals in `row` (read with [`TALLY_COLUMNS`]), in `currency`: `None` if the
/// wallet has none yet (an account older than them, until its next charge).
pub(crate) fn tally_of(row: &AnyRow, currency: Currency) -> Result<Option<Tally>> {
    let (Some(day), Some(month)) =
        (row.try_get::<Option<i64>, _>("tally_day")?, row.try_get::<Option<i64>, _>("tally_month")?)
    else {
        return Ok(None);
    };
    let money = |column: &str| -> Result<Money> { Ok(Money::new(currency, row.try_get(column)?)) };
    Ok(Some(Tally {
        day: from_ms(day),
        today: money("spent_today")?,
        month: from_ms(month),
        this_month: money("spent_this_month")?,
        open: money("open_amount")?,
    }))
}

/// The running totals of the account (not locked), in `currency`.
pub(crate) async fn tally(conn: &mut crate::db::Conn, account_id: &str, currency: Currency) -> Result<Option<Tally>> {
    let row = sqlx::query(&format!("SELECT {TALLY_COLUMNS} FROM accounts WHERE id = $1"))
        .bind(account_id)
        .fetch_one(conn)
        .await?;
    tally_of(&row, currency)
}

/// Locks the wallet's account row inside `tx` (a charge and a confirmation of the same wallet take
/// turns from here) and reads what a payment judges of it, with the history's head
/// ([`HEAD_COLUMNS`]) and its running totals ([`TALLY_COLUMNS`]).
pub(crate) async fn lock_for_payment(tx: &mut Tx, account_id: &str) -> Result<AnyRow> {
    let sql = locking(tx, &format!("balance, frozen, held, limits, currency, {HEAD_COLUMNS}, {TALLY_COLUMNS}"));
    Ok(sqlx::query(&sql).bind(account_id).fetch_one(tx.conn()).await?)
}

/// Adds `amount` (negative to take it) to the balance of the account, in `tx`.
pub(crate) async fn add_to_balance(tx: &mut Tx, account_id: &str, amount: Money) -> Result<()> {
    sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
        .bind(amount.minor())
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Credits `amount` to the account in `tx` if the wallet holds its currency: `false` (nothing
/// written) if it holds another.
pub(crate) async fn credit(tx: &mut Tx, account_id: &str, amount: Money) -> Result<bool> {
    let credited = sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND currency = $3")
        .bind(amount.minor())
        .bind(account_id)
        .bind(amount.currency().code())
        .execute(tx.conn())
        .await?;
    Ok(credited.rows_affected() == 1)
}

/// The account's balance, in minor units of its currency.
pub(crate) async fn balance(db: &crate::db::Reads, account_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1").bind(account_id).fetch_one(db).await?)
}

/// The wallet's currency (its code), and when it was closed, if it was.
pub(crate) async fn currency_and_closed(db: &crate::db::Reads, account_id: &str) -> Result<(String, Option<i64>)> {
    Ok(sqlx::query_as("SELECT currency, closed_at FROM accounts WHERE id = $1").bind(account_id).fetch_one(db).await?)
}

/// What closing a wallet judges of its account row, read with the row locked in `tx`.
#[derive(Debug)]
pub(crate) struct ClosingRow {
    pub balance: i64,
    pub currency: String,
    pub held: Option<String>,
    pub closed_at: Option<i64>,
}

/// Locks the account row in `tx` and reads what closing the wallet judges of it.
pub(crate) async fn lock_for_closing(tx: &mut Tx, account_id: &str) -> Result<ClosingRow> {
    let (balance, currency, held, closed_at): (i64, String, Option<String>, Option<i64>) =
        sqlx::query_as(&locking(tx, "balance, currency, held, closed_at"))
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    Ok(ClosingRow { balance, currency, held, closed_at })
}

/// Closes the wallet in `tx`: frozen, for good.
pub(crate) async fn close(tx: &mut Tx, account_id: &str, now: time::OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE accounts SET frozen = 1, closed_at = $1 WHERE id = $2")
        .bind(crate::clock::to_ms(now))
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Gives a closed wallet back `amount` that its card would not take, in `tx`: credited, and no
/// longer closed (it stays frozen).
pub(crate) async fn reopen_with(tx: &mut Tx, account_id: &str, amount: Money) -> Result<()> {
    sqlx::query("UPDATE accounts SET balance = balance + $1, closed_at = NULL WHERE id = $2")
        .bind(amount.minor())
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether an account of this id exists.
pub(crate) async fn exists<'c>(db: impl sqlx::AnyExecutor<'c>, account_id: &str) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1").bind(account_id).fetch_optional(db).await?;
    Ok(found.is_some())
}

/// The account's hold (its reason, if the operator holds it); `None` if there is no such account.
pub(crate) async fn hold<'c>(db: impl sqlx::AnyExecutor<'c>, account_id: &str) -> Result<Option<Option<String>>> {
    Ok(sqlx::query_scalar("SELECT held FROM accounts WHERE id = $1").bind(account_id).fetch_optional(db).await?)
}

/// Locks the account row in `tx` and reads its hold, with the head of its history
/// ([`HEAD_COLUMNS`]); `None` if there is no such account.
pub(crate) async fn lock_hold(tx: &mut Tx, account_id: &str) -> Result<Option<AnyRow>> {
    Ok(sqlx::query(&locking(tx, &format!("held, {HEAD_COLUMNS}"))).bind(account_id).fetch_optional(tx.conn()).await?)
}

/// Sets (with its reason) or clears the hold of an account locked in `tx`.
pub(crate) async fn set_hold(tx: &mut Tx, account_id: &str, reason: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE accounts SET held = $1 WHERE id = $2").bind(reason).bind(account_id).execute(tx.conn()).await?;
    Ok(())
}

/// Freezes or unfreezes the account in `tx`: whether its flag changed.
pub(crate) async fn set_frozen(tx: &mut Tx, account_id: &str, frozen: bool) -> Result<bool> {
    let changed = sqlx::query("UPDATE accounts SET frozen = $1 WHERE id = $2 AND frozen <> $1")
        .bind(i64::from(frozen))
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(changed.rows_affected() == 1)
}

/// The wallet's name and WebAuthn user handle, for a new passkey's creation options.
pub(crate) async fn passkey_user(db: &crate::db::Reads, account_id: &str) -> Result<(String, String)> {
    Ok(sqlx::query_as("SELECT display_name, webauthn_user FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(db)
        .await?)
}

/// What the wallet's own screen shows of its account row.
#[derive(Debug)]
pub(crate) struct WalletRow {
    pub display_name: String,
    pub balance: i64,
    pub currency: String,
    pub frozen: bool,
    pub held: Option<String>,
    /// `LimitSettings`, as JSON.
    pub limits: String,
}

pub(crate) async fn wallet(db: &crate::db::Reads, account_id: &str) -> Result<WalletRow> {
    let (display_name, balance, currency, frozen, held, limits): (String, i64, String, i64, Option<String>, String) =
        sqlx::query_as("SELECT display_name, balance, currency, frozen, held, limits FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(db)
            .await?;
    Ok(WalletRow { display_name, balance, currency, frozen: frozen != 0, held, limits })
}

/// Locks the account row in `tx` and reads its limits (`LimitSettings` as JSON) and currency.
pub(crate) async fn lock_limits(tx: &mut Tx, account_id: &str) -> Result<(String, String)> {
    Ok(sqlx::query_as(&locking(tx, "limits, currency")).bind(account_id).fetch_one(tx.conn()).await?)
}

/// Writes the limits (`LimitSettings` as JSON) of an account locked in `tx`.
pub(crate) async fn set_limits(tx: &mut Tx, account_id: &str, limits: &str) -> Result<()> {
    sqlx::query("UPDATE accounts SET limits = $1 WHERE id = $2")
        .bind(limits)
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Locks the account row in `tx`, so that two changes of the wallet's devices are decided one
/// after the other.
pub(crate) async fn lock(tx: &mut Tx, account_id: &str) -> Result<()> {
    sqlx::query(&locking(tx, "id")).bind(account_id).fetch_optional(tx.conn()).await?;
    Ok(())
}

/// A new account with an empty balance and history (its head the genesis hash).
pub(crate) async fn insert(
    tx: &mut Tx,
    account_id: &str,
    display_name: &str,
    webauthn_user: uuid::Uuid,
    currency: inkan_core::Currency,
    limits: &str,
    now: time::OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO accounts (id, display_name, webauthn_user, currency, balance, frozen, limits, event_seq, last_hash, created_at, \
         tally_day, tally_month) VALUES ($1, $2, $3, $4, 0, 0, $5, 0, $6, $7, 0, 0)",
    )
    .bind(account_id)
    .bind(display_name)
    .bind(webauthn_user.to_string())
    .bind(currency.code())
    .bind(limits)
    .bind(hex::encode(inkan_core::history::GENESIS))
    .bind(crate::clock::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The ids of up to `limit` wallets not closed yet, after `after` in id order.
pub(crate) async fn open_after(db: &crate::db::Reads, after: &str, limit: u32) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM accounts WHERE closed_at IS NULL AND id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?)
}

/// Where the money stands across every wallet (a wind-down's report).
#[derive(Debug)]
pub(crate) struct WindDownSums {
    pub open_wallets: u64,
    /// What the wallets hold.
    pub left_in_wallets: i64,
    /// Pay-outs to cards that succeeded, and those still on their way.
    pub paid_out: i64,
    pub waiting: i64,
    /// The wallets' books in the ledger: equal to what they hold.
    pub ledger_wallet_books: i64,
}

pub(crate) async fn wind_down_sums(db: &crate::db::Reads) -> Result<WindDownSums> {
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE closed_at IS NULL").fetch_one(db).await?;
    let sum = |sql: &'static str| async move {
        let total: Option<i64> = sqlx::query_scalar(sql).fetch_one(db).await?;
        Ok::<i64, crate::error::AppError>(total.unwrap_or(0))
    };
    Ok(WindDownSums {
        open_wallets: u64::try_from(open).unwrap_or(0),
        left_in_wallets: sum("SELECT CAST(SUM(balance) AS BIGINT) FROM accounts").await?,
        paid_out: sum("SELECT CAST(SUM(amount) AS BIGINT) FROM payouts WHERE status = 'succeeded'").await?,
        waiting: sum("SELECT CAST(SUM(amount) AS BIGINT) FROM payouts WHERE status = 'pending'").await?,
        ledger_wallet_books: sum("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE book LIKE 'wallet:%'")
            .await?,
    })
}
