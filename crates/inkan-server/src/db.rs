//! The database: SQLite (embedded default) or PostgreSQL, through one sqlx `Any` pool.
//!
//! Queries are written once in the SQL both understand: `$1` placeholders (numbered in the order
//! they first appear), integers for times, booleans and money, `RETURNING` for conditional
//! updates. Migrations are kept per backend under `migrations/` because DDL types differ.
//!
//! Every write transaction starts with a write (an `UPDATE` of the row it is about), so on
//! PostgreSQL it takes that row's lock first. On SQLite every write transaction runs on one writer
//! connection, one at a time, and many are made durable by one commit (see `Writer`).
//!
//! **The lock order.** A transaction that locks several of these rows locks them in this order:
//! a charge, then its wallet's `accounts` row, then a passkey, then a device (and a top-up after
//! its account). Two transactions that took them in opposite orders could each wait for the
//! other on PostgreSQL, and one would be killed as a deadlock (`a_passkey_step_up_and_a_payment_at_once_never_deadlock`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{OwnedMutexGuard, oneshot};

use crate::hub::{Change, Hub};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Kept for PostgreSQL's LISTEN connection; may hold a password, so never printed.
    url: String,
    /// SQLite only: the connection every write transaction runs on.
    writer: Option<Arc<Writer>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// The PostgreSQL channel on which every instance announces committed changes.
const CHANNEL: &str = "inkan_changes";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if needed, and
    /// brings the schema up to date. Waits for a pool connection are bounded by the default
    /// [`LoadLimits`](crate::settings::LoadLimits).
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        Db::connect(url, crate::settings::LoadLimits::DEFAULT.db_acquire_timeout).await
    }

    /// As [`Db::open`], with waits for a pool connection bounded by `acquire_timeout`: a request
    /// that waits longer fails with `PoolTimedOut`, which the API answers as `503 overloaded`.
    pub async fn connect(url: &str, acquire_timeout: Duration) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL (use sqlite://FILE or postgres://…)");
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_pragmas(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;
        let writer = match backend {
            Backend::Sqlite => Some(Writer::open(&options).await?),
            Backend::Postgres => None,
        };
        let db = Db { pool, backend, url, writer };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&db.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&db.pool).await?,
        }
        Ok(db)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction whose change notifications go out only once it commits. On SQLite it
    /// waits for the writer connection (first come, first served).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let inner = match &self.writer {
            Some(writer) => {
                TxInner::Batched(Held { guard: writer.begin().await?, writer: writer.clone(), done: false })
            }
            None => TxInner::Pool(self.pool.begin().await?),
        };
        Ok(Tx { inner, changes: Vec::new(), notify: self.backend == Backend::Postgres })
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// WAL with FULL sync: an acknowledged charge survives a power cut.
async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 10000",
    ] {
        conn.execute(pragma).await?;
    }
    Ok(())
}

/// SQLite's single writer, with group commit.
///
/// SQLite lets one connection write at a time, and with `synchronous = FULL` every commit waits
/// for the disk (one `fsync` of the WAL, a few milliseconds here). Committed one by one, write
/// transactions are bound by that wait and nothing else. So on SQLite every write transaction of
/// this process runs on one connection, as a savepoint inside a *batch* transaction: a
/// transaction's `commit` releases its savepoint, and the batch is committed (one `fsync`) as
/// soon as the connection is free, for every transaction released into it meanwhile. Each
/// `commit` returns only once its batch is durable, so nothing is acknowledged before it would
/// survive a power cut; if the batch fails, every transaction in it gets the error.
///
/// Transactions queue for the connection in FIFO order (a fair async mutex) instead of spinning
/// in SQLite's busy handler, which sleeps up to 100 ms at a time.
struct Writer {
    state: Arc<tokio::sync::Mutex<WriterState>>,
    /// Wakes the flusher: a savepoint was released or abandoned.
    flush: tokio::sync::Notify,
}

struct WriterState {
    conn: AnyConnection,
    /// A batch transaction is open (`BEGIN IMMEDIATE` was sent and no `COMMIT` yet).
    open: bool,
    /// Transactions released into the open batch, waiting for its commit.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// A transaction was dropped without `commit`: its savepoint must be rolled back first.
    abandoned: bool,
    /// Closed by `Db::close`: no more transactions.
    closed: bool,
}

/// The one savepoint name: only the holder of the writer uses the connection.
const SAVEPOINT: &str = "SAVEPOINT tx";
const RELEASE: &str = "RELEASE tx";
const ROLLBACK_TO: &str = "ROLLBACK TO tx";

/// How long a transaction waits for the writer before giving up (as SQLite's busy timeout did).
const WRITER_TIMEOUT: Duration = Duration::from_secs(10);

fn writer_error(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(message.into()))
}

impl WriterState {
    /// Undoes an abandoned savepoint, so the connection is ready for the next transaction.
    async fn settle(&mut self) -> Result<(), sqlx::Error> {
        if self.abandoned {
            self.abandoned = false;
            if let Err(e) = async {
                self.conn.execute(ROLLBACK_TO).await?;
                self.conn.execute(RELEASE).await
            }
            .await
            {
                self.fail(&e.to_string()).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Rolls the whole batch back and tells everyone in it.
    async fn fail(&mut self, reason: &str) {
        if self.open {
            let _ = self.conn.execute("ROLLBACK").await;
            self.open = false;
        }
        for waiter in self.waiting.drain(..) {
            let _ = waiter.send(Err(format!("the batch commit failed: {reason}")));
        }
    }

    /// Commits the open batch (one `fsync`) and tells everyone in it.
    async fn commit_batch(&mut self) {
        if self.settle().await.is_err() || !self.open {
            return;
        }
        match self.conn.execute("COMMIT").await {
            Ok(_) => {
                self.open = false;
                for waiter in self.waiting.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(e) => self.fail(&e.to_string()).await,
        }
    }
}

impl Writer {
    async fn open(options: &AnyConnectOptions) -> anyhow::Result<Arc<Writer>> {
        let mut conn = AnyConnection::connect_with(options).await?;
        sqlite_pragmas(&mut conn).await?;
        let state = WriterState { conn, open: false, waiting: Vec::new(), abandoned: false, closed: false };
        let writer = Arc::new(Writer { state: Arc::new(tokio::sync::Mutex::new(state)), flush: Default::default() });
        // The flusher holds only a weak reference, so it ends when the `Db` is gone.
        let weak = Arc::downgrade(&writer);
        tokio::spawn(async move {
            loop {
                let Some(writer) = weak.upgrade() else { return };
                // Re-checked every second so a dropped `Db` lets the task end.
                if tokio::time::timeout(Duration::from_secs(1), writer.flush.notified()).await.is_err() {
                    continue;
                }
                let mut state = writer.state.lock().await;
                state.commit_batch().await;
                if state.closed {
                    return;
                }
            }
        });
        Ok(writer)
    }

    async fn begin(&self) -> Result<OwnedMutexGuard<WriterState>, sqlx::Error> {
        let mut state = tokio::time::timeout(WRITER_TIMEOUT, self.state.clone().lock_owned())
            .await
            .map_err(|_| writer_error("timed out waiting for the database writer"))?;
        if state.closed {
            return Err(sqlx::Error::PoolClosed);
        }
        state.settle().await?;
        if !state.open {
            state.conn.execute("BEGIN IMMEDIATE").await?;
            state.open = true;
        }
        if let Err(e) = state.conn.execute(SAVEPOINT).await {
            state.fail(&e.to_string()).await;
            return Err(e);
        }
        Ok(state)
    }

    async fn close(&self) {
        let mut state = self.state.lock().await;
        state.commit_batch().await;
        state.closed = true;
        self.flush.notify_one();
    }
}

/// A transaction plus the changes to announce after it commits (never before: a subscriber that
/// wakes up must find the data). Dropped without `commit`, it rolls back.
pub struct Tx {
    inner: TxInner,
    changes: Vec<Change>,
    /// On PostgreSQL, changes are also announced to the other instances with NOTIFY, which the
    /// database delivers only when (and if) the transaction commits.
    notify: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("changes", &self.changes).finish_non_exhaustive()
    }
}

enum TxInner {
    /// PostgreSQL: a transaction on a pooled connection.
    Pool(sqlx::Transaction<'static, sqlx::Any>),
    /// SQLite: a savepoint on the writer connection, inside its batch.
    Batched(Held),
}

/// The writer connection, held by one transaction. Dropped unfinished, it leaves word that its
/// savepoint must be rolled back (no async work can run in `drop`); either way it wakes the
/// flusher.
struct Held {
    guard: OwnedMutexGuard<WriterState>,
    writer: Arc<Writer>,
    done: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.done {
            self.guard.abandoned = true;
        }
        self.writer.flush.notify_one();
    }
}

impl Tx {
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.inner {
            TxInner::Pool(tx) => tx,
            TxInner::Batched(held) => &mut held.guard.conn,
        }
    }

    pub fn announce(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Commits, and returns once the transaction is durable; then announces its changes.
    pub async fn commit(self, hub: &Hub) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Pool(mut inner) => {
                if self.notify {
                    for change in &self.changes {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(CHANNEL)
                            .bind(change.encode())
                            .execute(&mut *inner)
                            .await?;
                    }
                }
                inner.commit().await?;
            }
            TxInner::Batched(mut held) => {
                held.guard.conn.execute(RELEASE).await?;
                let (done, durable) = oneshot::channel();
                held.guard.waiting.push(done);
                held.done = true;
                drop(held);
                durable.await.map_err(|_| writer_error("the database writer stopped"))?.map_err(writer_error)?;
            }
        }
        for change in self.changes {
            hub.publish(change);
        }
        Ok(())
    }

    /// Rolls back, and returns once every transaction committed before this one is durable and
    /// visible to every connection: a read from the pool afterwards sees what beat us.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.inner {
            TxInner::Pool(inner) => inner.rollback().await,
            TxInner::Batched(mut held) => {
                held.guard.conn.execute(ROLLBACK_TO).await?;
                held.guard.conn.execute(RELEASE).await?;
                held.done = true;
                let durable = (held.guard.open && !held.guard.waiting.is_empty()).then(|| {
                    let (done, durable) = oneshot::channel();
                    held.guard.waiting.push(done);
                    durable
                });
                drop(held);
                if let Some(durable) = durable {
                    // Only waiting: whether those others committed is theirs to know.
                    let _ = durable.await;
                }
                Ok(())
            }
        }
    }
}

impl Db {
    /// On PostgreSQL, forwards the changes other instances commit into `hub`, until `stop`.
    /// After a lost connection it reconnects and wakes every subscriber, since signals may have
    /// been missed while it was away (they re-read the database, so nothing is lost).
    pub async fn relay_changes(&self, hub: Hub, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.backend != Backend::Postgres {
            return;
        }
        loop {
            let session = async {
                let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
                listener.listen(CHANNEL).await?;
                hub.publish(Change::Everything);
                loop {
                    let notification = listener.recv().await?;
                    if let Some(change) = Change::decode(notification.payload()) {
                        hub.publish(change);
                    }
                }
                #[allow(unreachable_code, reason = "the loop only ends with an error")]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                result = session => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "lost the PostgreSQL change channel; reconnecting");
                    }
                }
                _ = stop.changed() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The two flavours of each migration describe the same schema: the PostgreSQL file is the
    /// SQLite file with PostgreSQL's names for the same types. A change made to one only fails here.
    #[test]
    fn migrations_are_kept_in_step() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut names: Vec<_> =
            std::fs::read_dir(dir.join("sqlite")).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        let mut postgres_names: Vec<_> =
            std::fs::read_dir(dir.join("postgres")).unwrap().map(|e| e.unwrap().file_name()).collect();
        postgres_names.sort();
        assert_eq!(names, postgres_names);
        let normalize = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .map(|l| {
                    l.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                        .replace(" INTEGER", " BIGINT")
                        .replace(" BLOB", " BYTEA")
                })
                .collect()
        };
        for name in names {
            let sqlite = std::fs::read_to_string(dir.join("sqlite").join(&name)).unwrap();
            let postgres = std::fs::read_to_string(dir.join("postgres").join(&name)).unwrap();
            assert_eq!(normalize(&sqlite), normalize(&postgres), "{name:?} differs between the flavours");
        }
    }
}
