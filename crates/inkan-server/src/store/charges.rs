//! The `charges` table, read as the merchant and the wallet see a charge.

use inkan_api::merchant::Charge;
use inkan_api::wallet::{PendingCharge, WalletCharge};
use inkan_core::{ChargeEvent, ChargeStatus, Currency, Money, Spending, tokyo};
use sqlx::Row;
use sqlx::any::AnyRow;
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::charge_sql::{self, Move};
use crate::clock::{from_ms, to_ms};
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

pub(crate) fn wallet_view(row: &AnyRow) -> Result<WalletCharge> {
    Ok(WalletCharge {
        id: row.try_get("id")?,
        status: status_of(row)?,
        amount: Money::new(currency_of(row)?, row.try_get("amount")?),
        merchant_name: row.try_get("merchant_name")?,
        description: row.try_get("description")?,
        created_at: from_ms(row.try_get("created_at")?),
        expires_at: from_ms(row.try_get("expires_at")?),
    })
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

/// The wallet's charges that its passkey may confirm (`only`: just that one) and that have not
/// expired by `now`, oldest first, each with the passkey request bound to it.
pub(crate) async fn waiting<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    account_id: &str,
    only: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Vec<PendingCharge>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM charges c JOIN merchants m ON m.id = c.merchant_id \
         WHERE c.account_id = $1 AND c.status IN ({}) AND c.expires_at > $2 AND ($3 = '' OR c.id = $3) \
         ORDER BY c.created_at",
        Move::of(ChargeEvent::Confirm)?.from
    ))
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

/// What the wallet has spent in the current Tokyo day and month, counting charges not decided yet
/// (waiting for confirmation or held for review: many of them cannot together pass a limit).
pub(crate) async fn spending(
    conn: &mut sqlx::AnyConnection,
    settings: &Settings,
    account_id: &str,
    currency: Currency,
    now: time::OffsetDateTime,
) -> Result<Spending> {
    Ok(sums(conn, settings, account_id, currency, now, None, now).await?.spent)
}

/// What a wallet's charges other than `except` add up to.
pub(crate) struct ChargeSums {
    /// Succeeded and not decided yet, in the Tokyo day and month of the instant asked about.
    pub(crate) spent: Spending,
    /// Not decided yet: waiting for confirmation or held for review.
    pub(crate) pending: Money,
}

/// [`ChargeSums`] of the Tokyo day and month of `at`, in one pass over the wallet's charges of that
/// month and of the last review window and charge lifetime (no open charge is older).
pub(crate) async fn sums(
    conn: &mut sqlx::AnyConnection,
    settings: &Settings,
    account_id: &str,
    currency: Currency,
    at: time::OffsetDateTime,
    except: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<ChargeSums> {
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
    Ok(ChargeSums {
        spent: Spending {
            today: Money::new(currency, sums.try_get("today")?),
            this_month: Money::new(currency, sums.try_get("this_month")?),
        },
        pending: Money::new(currency, sums.try_get("open")?),
    })
}
