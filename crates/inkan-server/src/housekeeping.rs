//! Housekeeping: what has expired is deleted, in the background, on a schedule.
//!
//! Passkey ceremonies that were begun and never finished, sessions that have ended and device
//! joins long past their expiry would otherwise pile up without bound: anyone can begin a
//! ceremony, and every sign-in leaves a session. What is deleted here was already dead: a ceremony
//! past its expiry is refused when used, an ended session is refused by
//! [`inkan_core::session::SessionPolicy`], and a join past its expiry shows as expired. A join is
//! kept for [`JOIN_GRACE`] after its expiry, so a device still polling it is told "expired" rather
//! than "no such join". Counters of failed tries whose failures are forgotten go too
//! (`attempts::sweep`).

use time::Duration;

use crate::error::Result;
use crate::state::AppState;
use crate::store;

/// How long an expired device join stays readable before it is deleted.
pub const JOIN_GRACE: Duration = Duration::hours(1);

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub ceremonies: u64,
    pub sessions: u64,
    pub joins: u64,
    pub attempt_counters: u64,
}

/// Deletes the ceremonies, sessions and joins that are over at the server's `now`, in one write
/// transaction (on SQLite, the writer's: nothing else writes beside it).
pub async fn sweep(app: &AppState) -> Result<Swept> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let ceremonies = store::ceremonies::delete_expired(&mut tx, now).await?;
    let ended = crate::auth::policy(app).ended_by(now);
    let sessions = store::sessions::delete_ended(&mut tx, ended.last_seen_by, ended.created_by).await?;
    let joins = store::joins::delete_expired(&mut tx, now - JOIN_GRACE).await?;
    let attempt_counters = crate::attempts::sweep(&mut tx, &app.settings.attempts, now).await?;
    tx.commit(&app.hub).await?;
    app.limiter.forget_idle();
    Ok(Swept { attempt_counters, ceremonies, sessions, joins })
}

/// Sweeps every `settings.housekeeping_every` until `shutdown` changes.
pub async fn sweeper(app: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(app.settings.housekeeping_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match sweep(&app).await {
                Ok(swept) if swept != Swept::default() => tracing::debug!(?swept, "housekeeping"),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = ?e.code, "housekeeping failed; will retry"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
