//! The `charges` table: a charge written, moved by the core's events (`charge_sql::Move`), and
//! read as the merchant and the wallet see it.

use inkan_api::merchant::Charge;
use inkan_api::wallet::{PendingCharge, WalletCharge};
use inkan_core::tally::Sums;
use inkan_core::{ChargeEvent, ChargeStatus, Currency, Money, Spending, tokyo};
use sqlx::Row;
use sqlx::any::AnyRow;
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::charge_sql::{self, Move};
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::settings::Settings;

/// The columns the views below read, of `charges c JOIN merchants m`.
pub(crate) const COLUMNS: &str = "c.id, c.status, c.amount, c.currency, c.description, c.merchant_id, \
     m.name AS merchant_name, c.account_id, c.created_at, c.expires_at, c.decided_at, c.refunded_at, c.auth_request";

pub(crate) fn status_of(row: &AnyRow) -> Result<ChargeStatus> {
    let s: String = row.try_get("status")?;
    ChargeStatus::from_wire(&s).ok_or_else(|| AppError::internal(format!("unknown charge status {s}")))
}

pub(crate) fn currency_of(row: &AnyRow) -> Result<Currency> {
    row.try_get::<String, _>("currency")?.parse::<Currency>().map_err(AppError::internal)
}

pub(crate) fn merchant_view(row: &AnyRow) -> Result<Charge> {
    Ok(Charge {
        id: row.try_get("id")?,
        status: status_of(row)?,
        amount: row.try_get("amount")?,
        currency: currency_of(row)?,
        description: row.try_get("description")?,
        merchant_id: row.try_get("merchant_id")?,
        merchant_name: row.try_get("merchant_name")?,
        created_at: from_ms(row.try_get("created_at")?),
        expires_at: from_ms(row.try_get("expires_at")?),
        decided_at: row.try_get::<Option<i64>, _>("decided_at")?.map(from_ms),
        refunded_at: row.try_get::<Option<i64>, _>("refunded_at")?.map(from_ms),
    })
}

/// The shopper's view, as `WalletCharge::from` makes it of the merchant's (one mapping: a charge
/// pushed from memory reads the same).
pub(crate) fn wallet_view(row: &AnyRow) -> Result<WalletCharge> {
    Ok(WalletCharge::from(&merchant_view(row)?))
}

/// The charge with this id ([`COLUMNS`]), if there is one.
pub(crate) async fn load<'c>(db: impl sqlx::AnyExecutor<'c>, id: &str) -> Result<Option<AnyRow>> {
    if id.len() > 64 {
        return Ok(None);
    }
    Ok(sqlx::query(&format!(
        "SELECT {COLUMNS} FROM charges c JOIN merchants m ON m.id = c.merchant_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// How many of the wallet's charges are still open (`ChargeStatus::open`), in `tx`.
pub(crate) async fn open_count(tx: &mut Tx, account_id: &str) -> Result<u32> {
    let n: i64 = sqlx::query_scalar(&open_sql::count()).bind(account_id).fetch_one(tx.conn()).await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The wallet's charges that its passkey may confirm (`only`: just that one) and that have not
/// expired by `now`, oldest first, each with the passkey request bound to it.
pub(crate) async fn waiting<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    account_id: &str,
    only: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Vec<PendingCharge>> {
    let rows = sqlx::query(&open_sql::waiting()?)
        .bind(account_id)
        .bind(to_ms(now))
        // No charge id is empty.
        .bind(only.unwrap_or(""))
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| {
            let request: RequestChallengeResponse =
                serde_json::from_str(&row.try_get::<Option<String>, _>("auth_request")?.unwrap_or_default())?;
            Ok(PendingCharge { charge: wallet_view(row)?, public_key: request })
        })
        .collect()
}

/// What a wallet's charges other than `except` add up to in the Tokyo day and month of `at`, in
/// one pass over the wallet's charges of that month and of the last review window and charge
/// lifetime (no open charge is older). The wallet's running totals answer this without the pass
/// (`flow::tally`); it is summed only when they cannot.
pub(crate) async fn sums(
    conn: &mut crate::db::Conn,
    settings: &Settings,
    account_id: &str,
    currency: Currency,
    at: time::OffsetDateTime,
    except: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Sums> {
    let (day, month) = (tokyo::day(at), tokyo::month(at));
    // No open charge is older than a review window and a charge lifetime (held, then approved
    // at the window's end).
    let oldest = month.start.min(now - settings.review_window - settings.charge_ttl);
    let sums = sqlx::query(&format!(
        "SELECT \
         CAST(COALESCE(SUM(CASE WHEN created_at >= $2 AND created_at < $3 THEN amount ELSE 0 END), 0) AS BIGINT) AS today, \
         CAST(COALESCE(SUM(CASE WHEN created_at >= $4 AND created_at < $5 THEN amount ELSE 0 END), 0) AS BIGINT) AS this_month, \
         CAST(COALESCE(SUM(CASE WHEN status IN ({open}) THEN amount ELSE 0 END), 0) AS BIGINT) AS open \
         FROM charges WHERE account_id = $1 AND status IN ({spent}) \
         AND created_at >= $6 \
         AND id <> $7",
        open = charge_sql::open(),
        spent = charge_sql::spent(),
    ))
    .bind(account_id)
    .bind(to_ms(day.start))
    .bind(to_ms(day.end))
    .bind(to_ms(month.start))
    .bind(to_ms(month.end))
    .bind(to_ms(oldest))
    // No charge id is empty.
    .bind(except.unwrap_or(""))
    .fetch_one(conn)
    .await?;
    Ok(Sums {
        spent: Spending {
            today: Money::new(currency, sums.try_get("today")?),
            this_month: Money::new(currency, sums.try_get("this_month")?),
        },
        open: Money::new(currency, sums.try_get("open")?),
    })
}

/// A new charge's row: the charge as its merchant sees it, and what only the issuer keeps.
pub(crate) struct NewCharge<'a> {
    pub(crate) charge: &'a Charge,
    pub(crate) terminal_id: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) device_id: &'a str,
    /// The payment code's counter.
    pub(crate) code_counter: u32,
    pub(crate) hold: Option<&'static str>,
    /// The passkey request bound to the charge, and webauthn-rs's state to check its answer.
    pub(crate) auth_request: String,
    pub(crate) auth_state: String,
}

/// Writes a new charge in `tx`.
pub(crate) async fn insert(tx: &mut Tx, new: &NewCharge<'_>) -> Result<()> {
    let charge = new.charge;
    sqlx::query(
        "INSERT INTO charges (id, merchant_id, terminal_id, account_id, device_id, amount, currency, description, status, \
         code_counter, auth_state, auth_request, created_at, expires_at, decided_at, refunded_at, hold_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, $15)",
    )
    .bind(&charge.id)
    .bind(&charge.merchant_id)
    .bind(new.terminal_id)
    .bind(new.account_id)
    .bind(new.device_id)
    .bind(charge.amount)
    .bind(charge.currency.code())
    .bind(&charge.description)
    .bind(charge.status.as_str())
    .bind(i64::from(new.code_counter))
    .bind(&new.auth_state)
    .bind(&new.auth_request)
    .bind(to_ms(charge.created_at))
    .bind(to_ms(charge.expires_at))
    .bind(new.hold)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A charge of the wallet that a confirmation could still pay at `now`: the passkey state to
/// check the assertion with, the merchant's name and the device whose code made it.
pub(crate) struct Confirmable {
    pub(crate) auth_state: Option<String>,
    pub(crate) merchant_name: String,
    pub(crate) device_id: String,
}

/// The charge `id` of the wallet, if a confirmation (`confirming`) could pay it at `now`.
pub(crate) async fn confirmable(
    db: &crate::db::Reads,
    confirming: &Move,
    id: &str,
    account_id: &str,
    now: time::OffsetDateTime,
) -> Result<Option<Confirmable>> {
    let row: Option<(Option<String>, String, String)> = sqlx::query_as(&format!(
        "SELECT c.auth_state, m.name, c.device_id FROM charges c JOIN merchants m ON m.id = c.merchant_id \
         WHERE c.id = $1 AND c.account_id = $2 AND c.status IN ({}) AND c.expires_at > $3",
        confirming.from
    ))
    .bind(id)
    .bind(account_id)
    .bind(to_ms(now))
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(auth_state, merchant_name, device_id)| Confirmable { auth_state, merchant_name, device_id }))
}

/// The wallet's decision on its charge `id`, written in `tx` if the charge is in a status the move
/// (`confirming` or declining) leaves and, for a confirmation, not expired; the challenge goes with
/// it, so a replayed assertion finds nothing. The row (`merchant_id, amount, currency,
/// description, created_at, expires_at`), or `None` when the charge was not there to decide.
pub(crate) async fn decide(
    tx: &mut Tx,
    decision: &Move,
    id: &str,
    account_id: &str,
    now: time::OffsetDateTime,
) -> Result<Option<AnyRow>> {
    let unexpired = if decision.to == ChargeStatus::Succeeded { "AND expires_at > $1" } else { "" };
    Ok(sqlx::query(&format!(
        "UPDATE charges SET {}, decided_at = $1, auth_state = NULL, auth_request = NULL \
         WHERE id = $2 AND account_id = $3 AND status IN ({}) {unexpired} \
         RETURNING merchant_id, amount, currency, description, created_at, expires_at",
        decision.set(),
        decision.from
    ))
    .bind(to_ms(now))
    .bind(id)
    .bind(account_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The operator's decision on the held charge `id` (`decision`: approving or declining), written in
/// `tx` if the charge is in a status the move leaves and its review window has not passed by
/// `now`. Approved, it waits for the shopper until `expires_at`; declined, it is decided now and
/// its challenge goes with it. The row (`account_id, merchant_id, amount, currency, created_at`),
/// or `None`.
pub(crate) async fn decide_held(
    tx: &mut Tx,
    decision: &Move,
    id: &str,
    now: time::OffsetDateTime,
    expires_at: time::OffsetDateTime,
) -> Result<Option<AnyRow>> {
    if id.len() > 64 {
        return Ok(None);
    }
    let (set, from) = (decision.set(), &decision.from);
    let query = if decision.to == ChargeStatus::PendingConfirmation {
        sqlx::query(&format!(
            "UPDATE charges SET {set}, expires_at = $1 WHERE id = $2 AND status IN ({from}) AND expires_at > $3 \
             RETURNING account_id, merchant_id, amount, currency, created_at"
        ))
        .bind(to_ms(expires_at))
        .bind(id)
        .bind(to_ms(now))
        .fetch_optional(tx.conn())
        .await?
    } else {
        sqlx::query(&format!(
            "UPDATE charges SET {set}, decided_at = $1, auth_state = NULL, auth_request = NULL \
             WHERE id = $2 AND status IN ({from}) AND expires_at > $1 \
             RETURNING account_id, merchant_id, amount, currency, created_at"
        ))
        .bind(to_ms(now))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
    };
    Ok(query)
}

/// The charges held for review whose window has not passed by `now`, oldest first, at most
/// `limit`, each with its merchant's name and its terminal's country.
pub(crate) async fn held(
    db: &crate::db::Reads,
    now: time::OffsetDateTime,
    limit: i64,
) -> Result<Vec<inkan_api::admin::HeldCharge>> {
    let rows = sqlx::query(&open_sql::held())
        .bind(ChargeStatus::HeldForReview.as_str())
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(inkan_api::admin::HeldCharge {
                charge_id: row.try_get("id")?,
                account_id: row.try_get("account_id")?,
                device_id: row.try_get("device_id")?,
                merchant_id: row.try_get("merchant_id")?,
                merchant_name: row.try_get("merchant_name")?,
                terminal_country: row.try_get("country")?,
                amount: row.try_get("amount")?,
                currency: row.try_get("currency")?,
                reason: row.try_get::<Option<String>, _>("hold_reason")?.unwrap_or_default(),
                created_at: from_ms(row.try_get("created_at")?),
                expires_at: from_ms(row.try_get("expires_at")?),
            })
        })
        .collect()
}

/// The merchant's refund of its charge `id` (`refunding`), written in `tx` if the charge is in a
/// status that move leaves: the row (`account_id, amount, currency, created_at`), or `None`.
pub(crate) async fn refund(
    tx: &mut Tx,
    refunding: &Move,
    id: &str,
    merchant_id: &str,
    now: time::OffsetDateTime,
) -> Result<Option<AnyRow>> {
    Ok(sqlx::query(&format!(
        "UPDATE charges SET {}, refunded_at = $1 WHERE id = $2 AND merchant_id = $3 AND status IN ({}) \
         RETURNING account_id, amount, currency, created_at",
        refunding.set(),
        refunding.from
    ))
    .bind(to_ms(now))
    .bind(id)
    .bind(merchant_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The charges (id, account) whose time is up at `now`: the one named, or up to 500 of all.
pub(crate) async fn due_to_expire(
    db: &crate::db::Reads,
    expiring: &Move,
    only: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Vec<(String, String)>> {
    let now = to_ms(now);
    Ok(match only {
        Some(id) => {
            sqlx::query_as(&format!(
                "SELECT id, account_id FROM charges WHERE id = $1 AND status IN ({}) AND expires_at <= $2",
                expiring.from
            ))
            .bind(id)
            .bind(now)
            .fetch_all(db)
            .await?
        }
        None => sqlx::query_as(&open_sql::due_to_expire(expiring)).bind(now).fetch_all(db).await?,
    })
}

/// Expires the charge `id` in `tx` if it is still open and its time is up at `now`: the row
/// (`merchant_id, amount, currency, created_at`), or `None`.
pub(crate) async fn expire(
    tx: &mut Tx,
    expiring: &Move,
    id: &str,
    now: time::OffsetDateTime,
) -> Result<Option<AnyRow>> {
    Ok(sqlx::query(&format!(
        "UPDATE charges SET {}, auth_state = NULL, auth_request = NULL, decided_at = $1 \
         WHERE id = $2 AND status IN ({}) AND expires_at <= $1 \
         RETURNING merchant_id, amount, currency, created_at",
        expiring.set(),
        expiring.from
    ))
    .bind(to_ms(now))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The name of the merchant `id`.
pub(crate) async fn merchant_name(tx: &mut Tx, merchant_id: &str) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1").bind(merchant_id).fetch_one(tx.conn()).await?)
}

/// The wallet's charges made after `since`, newest first (at most 1,000), each with its terminal's
/// country (as stored): what the velocity rules read.
pub(crate) async fn recent_with_countries(
    tx: &mut Tx,
    account_id: &str,
    since: time::OffsetDateTime,
) -> Result<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT c.created_at, t.country FROM charges c JOIN terminals t ON t.id = c.terminal_id \
         WHERE c.account_id = $1 AND c.created_at > $2 ORDER BY c.created_at DESC LIMIT 1000",
    )
    .bind(account_id)
    .bind(to_ms(since))
    .fetch_all(tx.conn())
    .await?)
}

/// In one statement: when the wallet's latest top-up was made (milliseconds), and whether
/// `device_id` has paid a charge of the wallet (looked for among the charges since the device
/// joined, `enrolled_at`, by time: an index; a device that has paid is found at its first payment,
/// one that joined today has few to look through).
pub(crate) async fn last_top_up_and_paid(
    tx: &mut Tx,
    account_id: &str,
    device_id: &str,
    enrolled_at: time::OffsetDateTime,
) -> Result<(Option<i64>, bool)> {
    let (last_top_up, paid): (Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "SELECT (SELECT MAX(created_at) FROM topups WHERE account_id = $1), \
         (SELECT 1 FROM charges WHERE account_id = $1 AND created_at >= $2 AND device_id = $3 \
         AND status IN ({}) LIMIT 1)",
        crate::charge_sql::paid()
    ))
    .bind(account_id)
    .bind(to_ms(enrolled_at))
    .bind(device_id)
    .fetch_one(tx.conn())
    .await?;
    Ok((last_top_up, paid.is_some()))
}

/// The statements that look charges up by status. Only open charges are in an index by status
/// (migration 0019: `charges_open_by_account`, `charges_open_by_expiry`, each `WHERE status IN`
/// the open statuses), and SQLite's planner uses such an index only for a query that names the
/// same condition; so each of these names `charge_sql::open()` beside what it looks for. A test
/// asks SQLite's planner.
mod open_sql {
    use super::{COLUMNS, ChargeEvent, Move, Result, charge_sql};

    /// How many of a wallet's charges are open.
    pub(super) fn count() -> String {
        format!("SELECT COUNT(*) FROM charges WHERE account_id = $1 AND status IN ({})", charge_sql::open())
    }

    /// A wallet's charges waiting for its passkey.
    pub(super) fn waiting() -> Result<String> {
        Ok(format!(
            "SELECT {COLUMNS} FROM charges c JOIN merchants m ON m.id = c.merchant_id \
             WHERE c.account_id = $1 AND c.status IN ({open}) AND c.status IN ({confirmable}) \
             AND c.expires_at > $2 AND ($3 = '' OR c.id = $3) ORDER BY c.created_at",
            open = charge_sql::open(),
            confirmable = Move::of(ChargeEvent::Confirm)?.from
        ))
    }

    /// The charges in one status (`$1`), open until after `$2`.
    pub(super) fn held() -> String {
        format!(
            "SELECT c.id, c.account_id, c.device_id, c.merchant_id, m.name AS merchant_name, t.country, c.amount, \
             c.currency, c.hold_reason, c.created_at, c.expires_at \
             FROM charges c JOIN merchants m ON m.id = c.merchant_id JOIN terminals t ON t.id = c.terminal_id \
             WHERE c.status IN ({}) AND c.status = $1 AND c.expires_at > $2 ORDER BY c.created_at LIMIT $3",
            charge_sql::open()
        )
    }

    /// Up to 500 charges whose time is up at `$1`.
    pub(super) fn due_to_expire(expiring: &Move) -> String {
        format!(
            "SELECT id, account_id FROM charges WHERE status IN ({}) AND status IN ({}) AND expires_at <= $1 \
             LIMIT 500",
            charge_sql::open(),
            expiring.from
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every look-up of charges by status goes through an index of open charges, and those indexes
    /// hold what the core calls open: a decided charge is in neither, a wallet's history is never
    /// scanned for its few open charges, and the expiry sweep never reads decided charges.
    #[tokio::test]
    async fn open_charges_are_found_through_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&format!("sqlite://{}", dir.path().join("inkan.db").display())).await.unwrap();
        for index in ["charges_open_by_account", "charges_open_by_expiry"] {
            let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(index)
                .fetch_one(db.reads())
                .await
                .unwrap();
            assert!(
                sql.ends_with(&format!("WHERE status IN ({})", charge_sql::open())),
                "{index} does not hold the core's open charges: {sql}"
            );
        }
        let expiring = Move::of(ChargeEvent::Expire).unwrap();
        let statements = [
            ("count", open_sql::count(), "charges_open_by_account"),
            ("waiting", open_sql::waiting().unwrap(), "charges_open_by_account"),
            ("held", open_sql::held(), "charges_open_by_expiry"),
            ("due_to_expire", open_sql::due_to_expire(&expiring), "charges_open_by_expiry"),
        ];
        for (name, sql, index) in statements {
            // sqlx's pool: it leaves the statement's parameters unbound (NULL), as a plan needs.
            let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(db.pool())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let plan: Vec<String> = rows.iter().map(|row| row.try_get("detail").unwrap()).collect();
            let charges = plan.iter().find(|step| step.contains("charges") || step.starts_with("SEARCH c "));
            assert!(
                charges.is_some_and(|step| step.contains(&format!("USING INDEX {index}"))),
                "{name} does not read {index}: {plan:?}"
            );
        }
        db.close().await;
    }
}
