//! Counters of failed card tries by card number, device and client address, across every wallet
//! and every instance (`inkan_core::attempts` decides; this keeps the counts in the database).
//!
//! A try is reserved inside the transaction that records it: the counter goes up by one (a row
//! lock on PostgreSQL, the single writer on SQLite), and if that passes the limit the caller rolls
//! back and refuses. A try that succeeds is taken back.

use std::net::IpAddr;

use inkan_core::attempts::{Against, AttemptPolicy, Reserved};
use time::OffsetDateTime;

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// One counter: what it counts against, and whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub against: Against,
    pub subject: String,
}

impl Counter {
    /// A card number's counter, by its keyed hash (`funding::card_number_key`).
    pub fn card_number(key: &str) -> Counter {
        Counter { against: Against::CardNumber, subject: key.to_owned() }
    }

    pub fn device(device_id: &str) -> Counter {
        Counter { against: Against::Device, subject: device_id.to_owned() }
    }

    /// A client address's counter (an IPv6 client by its /64, as the rate limits count it).
    pub fn address(address: IpAddr) -> Counter {
        Counter { against: Against::Address, subject: crate::ratelimit::address_key(address).to_string() }
    }
}

/// Counts one more failed try on each counter, in `tx`; returns the first counter past the limit
/// (the caller then rolls back and refuses), or `None`.
pub async fn reserve(
    tx: &mut Tx,
    policy: &AttemptPolicy,
    counters: &[Counter],
    now: OffsetDateTime,
) -> Result<Option<Against>> {
    for counter in counters {
        // Failures last counted at or before this instant are forgotten (an address's, after a
        // while); the others never are.
        let forgotten = policy.forgotten_by(counter.against, now).map_or(i64::MIN, to_ms);
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO attempt_counters (against, subject, failures, last_failed_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (against, subject) DO UPDATE SET \
             failures = CASE WHEN attempt_counters.last_failed_at <= $4 THEN 1 ELSE attempt_counters.failures + 1 END, \
             last_failed_at = $3 \
             RETURNING failures",
        )
        .bind(counter.against.as_str())
        .bind(&counter.subject)
        .bind(to_ms(now))
        .bind(forgotten)
        .fetch_one(tx.conn())
        .await?;
        let reserved = Reserved { failures: u32::try_from(failures).unwrap_or(u32::MAX) };
        if !policy.admits(reserved) {
            return Ok(Some(counter.against));
        }
    }
    Ok(None)
}

/// Lifts the lock of a counter (the operator's `admin unlock`): its failures are forgotten.
/// Whether there was anything to lift.
pub async fn unlock(db: &crate::db::Db, counter: &Counter) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM attempt_counters WHERE against = $1 AND subject = $2")
        .bind(counter.against.as_str())
        .bind(&counter.subject)
        .execute(db.pool())
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Takes back the try reserved on each counter: it succeeded.
pub async fn take_back(tx: &mut Tx, counters: &[Counter]) -> Result<()> {
    for counter in counters {
        sqlx::query(
            "UPDATE attempt_counters SET failures = failures - 1 WHERE against = $1 AND subject = $2 AND failures > 0",
        )
        .bind(counter.against.as_str())
        .bind(&counter.subject)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
