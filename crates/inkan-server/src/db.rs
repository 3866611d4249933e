//! The database: SQLite (embedded default) or PostgreSQL. sqlx's query builders over its `Any`
//! driver write every query once; on PostgreSQL they run on sqlx's pool, on SQLite on
//! connections of our own whose statements run on the calling thread (`inline`).
//!
//! Queries are written once in the SQL both understand: `$1` placeholders (numbered in the order
//! they first appear), integers for times, booleans and money, `RETURNING` for conditional
//! updates. Migrations are kept per backend under `migrations/` because DDL types differ.
//!
//! Every write transaction first locks the row it is about (a conditional `UPDATE`, or a read
//! ending with [`Tx::for_update`]), so on PostgreSQL it takes that row's lock first. On SQLite
//! every write transaction runs on one writer connection, one at a time, and many are made
//! durable by one commit (see `Writer`). Reads outside a transaction go through [`Reads`].
//!
//! **The lock order.** A transaction that locks several of these rows locks them in this order:
//! a charge, then its wallet's `accounts` row, then a passkey, then a device (and a top-up after
//! its account). Two transactions that took them in opposite orders could each wait for the
//! other on PostgreSQL, and one would be killed as a deadlock (`a_passkey_step_up_and_a_payment_at_once_never_deadlock`).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, AnyPool, Either, Execute, Executor};
use tokio::sync::{OwnedMutexGuard, oneshot};

mod inline;

use inkan_api::feed::FeedEvent;
use inkan_api::wallet::PendingCharge;

use crate::hub::{Change, Hub, Published};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    /// Where the server reads outside a transaction.
    reads: Reads,
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
            .connect_with(options)
            .await?;
        let writer = match backend {
            Backend::Sqlite => Some(Writer::open(&url).await?),
            Backend::Postgres => None,
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let readers = match &writer {
            Some(writer) => Some(Readers::open(&writer.file)?),
            None => None,
        };
        Ok(Db { reads: Reads { pool: pool.clone(), readers }, pool, backend, url, writer })
    }

    /// sqlx's pool: for migrations, tests and tools. The server reads through [`Db::reads`] and
    /// writes through [`Db::begin`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where to read outside a transaction: an `Executor` (`.fetch_one(app.db.reads())`).
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction whose change notifications go out only once it commits. On SQLite it
    /// waits for the writer connection (first come, first served).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let link = match &self.writer {
            Some(writer) => Link::Batched(Held { guard: writer.begin().await?, writer: writer.clone(), done: false }),
            None => Link::Pool(self.pool.begin().await?),
        };
        Ok(Tx { conn: Conn(link), announced: Announced::default(), notify: self.backend == Backend::Postgres })
    }

    /// A connection of the pool, for reads outside a transaction (and for the functions that
    /// read the same way in one or outside one: they take a [`Conn`]).
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(Conn(Link::Pooled(self.pool.acquire().await?)))
    }

    /// Returns once every transaction committed so far is durable. On SQLite a read from the pool
    /// sees a batch as soon as it commits, before the syncer has made it durable (`Writer`), so
    /// whatever answers a client with what it read awaits this first: nothing a client is told
    /// can be lost to a power cut. On PostgreSQL a commit is durable before anyone sees it.
    pub async fn settled(&self) {
        if let Some(writer) = &self.writer {
            writer.syncer.drained().await;
        }
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

/// SQLite's single writer, with group commit whose disk wait overlaps the next batch.
///
/// SQLite lets one connection write at a time, and a durable commit waits for the disk (one
/// `fsync` of the WAL, a few milliseconds here). Committed one by one, write transactions are
/// bound by that wait and nothing else. So on SQLite every write transaction of this process runs
/// on one connection, as a savepoint inside a *batch* transaction: a transaction's `commit`
/// releases its savepoint, and the batch is committed as soon as the connection is free, for
/// every transaction released into it meanwhile.
///
/// The writer connection runs with `synchronous = NORMAL`: its `COMMIT` writes the batch to the
/// WAL without waiting for the disk, and the connection is free for the next batch at once. The
/// [`Syncer`] then makes the WAL durable (`fdatasync` of the `-wal` file, from a blocking thread)
/// while the next batch is being written, and only then are the batch's transactions told (and
/// their changes announced): one `fdatasync` covers every batch committed before it began. So
/// each `commit` still returns only once its transaction would survive a power cut (what
/// `inkan-soak power-cut` checks); if the batch or its sync fails, every transaction in it gets
/// the error. SQLite's own syncs are unchanged where they matter: a checkpoint syncs the WAL before
/// it copies it into the database, and the database after. The writer runs its checkpoints itself,
/// between batches, on a blocking thread ([`WriterState::checkpoint`]).
///
/// The connection is `rusqlite`'s, and the transaction holding it runs its statements on its own
/// thread, prepared once and kept ([`inline`]): no statement is handed to another thread and back.
///
/// Transactions queue for the connection in FIFO order (a fair async mutex) instead of spinning
/// in SQLite's busy handler, which sleeps up to 100 ms at a time.
struct Writer {
    state: Arc<tokio::sync::Mutex<WriterState>>,
    /// Wakes the flusher: a savepoint was released or abandoned.
    flush: tokio::sync::Notify,
    syncer: Arc<Syncer>,
    /// The database file.
    file: PathBuf,
}

struct WriterState {
    conn: rusqlite::Connection,
    syncer: Arc<Syncer>,
    /// A batch transaction is open (`BEGIN IMMEDIATE` was sent and no `COMMIT` yet).
    open: bool,
    /// Transactions released into the open batch, waiting for its commit.
    waiting: Vec<Waiter>,
    /// A transaction was dropped without `commit`: its savepoint must be rolled back first.
    abandoned: bool,
    /// Closed by `Db::close`: no more transactions.
    closed: bool,
    /// The flusher runs the checkpoints (the syncer makes batches durable; else SQLite runs them).
    checkpoints_apart: bool,
    /// Transactions committed since the last checkpoint.
    since_checkpoint: u64,
    /// After how many transactions the next checkpoint is due.
    checkpoint_every: u64,
    /// How many checkpoints have run.
    checkpoints: u64,
}

/// About how many pages of WAL a checkpoint copies: SQLite's own default.
const CHECKPOINT_PAGES: u64 = 1000;

/// A transaction released into the open batch: told when the batch is durable, with what to
/// announce then (none for a rollback that only waits for the transactions before it).
struct Waiter {
    done: oneshot::Sender<Result<(), String>>,
    announce: Option<(Hub, Announced)>,
}

/// Makes committed batches durable: `fdatasync` of the WAL file, on a blocking thread, while the
/// writer goes on with the next batch; then tells their transactions and announces their changes.
struct Syncer {
    /// The database's `-wal` file and its directory; `None` for a database with no file (then
    /// the writer keeps `synchronous = FULL` and the syncer only passes batches on).
    wal: Option<(PathBuf, PathBuf)>,
    queue: std::sync::Mutex<SyncQueue>,
    wake: tokio::sync::Notify,
    /// How many syncs have made batches durable.
    syncs: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct SyncQueue {
    /// Committed, waiting for the next sync.
    waiting: Vec<Waiter>,
    /// Being synced now.
    syncing: bool,
    /// The WAL's directory entry has been made durable once.
    dir_synced: bool,
}

impl Syncer {
    fn start(file: &std::path::Path) -> anyhow::Result<Arc<Syncer>> {
        let in_memory = file.as_os_str().is_empty() || file.as_os_str() == ":memory:";
        let wal = (!in_memory).then(|| {
            let mut wal = file.as_os_str().to_owned();
            wal.push("-wal");
            let dir = match file.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => PathBuf::from("."),
            };
            (PathBuf::from(wal), dir)
        });
        let syncer =
            Arc::new(Syncer { wal, queue: Default::default(), wake: Default::default(), syncs: Default::default() });
        // Holds only a weak reference, so it ends when the writer is gone.
        let weak = Arc::downgrade(&syncer);
        tokio::spawn(async move {
            loop {
                let Some(syncer) = weak.upgrade() else { return };
                if tokio::time::timeout(Duration::from_secs(1), syncer.wake.notified()).await.is_ok() {
                    syncer.sync_waiting().await;
                }
            }
        });
        Ok(syncer)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, SyncQueue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the transactions of a batch that has just committed.
    fn hand(&self, batch: impl Iterator<Item = Waiter>) {
        self.queue().waiting.extend(batch);
        self.wake.notify_one();
    }

    /// A wait for every batch committed so far to be durable, if any is not yet.
    fn after_pending(&self) -> Option<oneshot::Receiver<Result<(), String>>> {
        let mut queue = self.queue();
        if queue.waiting.is_empty() && !queue.syncing {
            return None;
        }
        let (done, durable) = oneshot::channel();
        queue.waiting.push(Waiter { done, announce: None });
        drop(queue);
        self.wake.notify_one();
        Some(durable)
    }

    /// Returns once every batch committed so far is durable.
    async fn drained(&self) {
        if let Some(durable) = self.after_pending() {
            let _ = durable.await;
        }
    }

    /// Syncs the WAL once for every batch that has committed, then tells them.
    async fn sync_waiting(&self) {
        let (batch, dir_synced) = {
            let mut queue = self.queue();
            if queue.waiting.is_empty() {
                return;
            }
            queue.syncing = true;
            (std::mem::take(&mut queue.waiting), queue.dir_synced)
        };
        let started = std::time::Instant::now();
        let synced = match self.wal.clone() {
            None => Ok(()),
            Some((wal, dir)) => tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&wal)?.sync_data()?;
                if !dir_synced {
                    // Once: the WAL file's name in its directory.
                    std::fs::File::open(&dir)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e))),
        };
        {
            let mut queue = self.queue();
            queue.syncing = false;
            queue.dir_synced |= synced.is_ok();
        }
        self.syncs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let committed = batch.iter().filter(|waiter| waiter.announce.is_some()).count();
        crate::telemetry::writer_sync(committed, started.elapsed());
        for waiter in batch {
            match &synced {
                Ok(()) => {
                    // Published here, not by the transaction's own task: a request dropped while
                    // it waited still has its notices pushed.
                    if let Some((hub, announced)) = waiter.announce {
                        announced.publish(&hub);
                    }
                    let _ = waiter.done.send(Ok(()));
                }
                Err(e) => {
                    let _ = waiter.done.send(Err(format!("the batch was committed but could not be synced: {e}")));
                }
            }
        }
    }
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
    fn checkpoint_due(&self) -> bool {
        self.checkpoints_apart && !self.open && self.since_checkpoint >= self.checkpoint_every
    }

    /// Copies the WAL into the database (a `PASSIVE` checkpoint; it syncs the WAL first and the
    /// database after). Run between batches with the writer held, so no frame is added meanwhile:
    /// it copies the whole WAL, and the next batch writes the WAL from its beginning again. (A
    /// checkpoint on another connection, beside a writer that never stops, never catches up: the
    /// WAL would only grow, and each checkpoint copy the same pages again.) SQLite would run it
    /// inside a `COMMIT` once the WAL holds 1,000 pages; here it is due after about as many
    /// transactions as wrote [`CHECKPOINT_PAGES`], learnt from the last one.
    fn checkpoint(&mut self) {
        let since = std::mem::take(&mut self.since_checkpoint).max(1);
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)));
        match done {
            Ok((pages, copied)) => {
                let pages = u64::try_from(pages).unwrap_or(0);
                crate::telemetry::wal_checkpointed(pages);
                let pages = pages.max(1);
                self.checkpoint_every = (CHECKPOINT_PAGES.saturating_mul(since) / pages).clamp(8, 4096);
                if u64::try_from(copied).unwrap_or(0) < pages {
                    tracing::debug!(pages, copied, "a checkpoint left pages that a reader still reads");
                }
            }
            Err(e) => tracing::warn!(error = %e, "a WAL checkpoint failed; the next one tries again"),
        }
        self.checkpoints = self.checkpoints.saturating_add(1);
    }

    /// Undoes an abandoned savepoint, so the connection is ready for the next transaction.
    fn settle(&mut self) -> Result<(), sqlx::Error> {
        if self.abandoned {
            self.abandoned = false;
            if let Err(e) = inline::exec(&self.conn, ROLLBACK_TO).and_then(|()| inline::exec(&self.conn, RELEASE)) {
                self.fail(&e.to_string());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Rolls the whole batch back and tells everyone in it.
    fn fail(&mut self, reason: &str) {
        if self.open {
            let _ = inline::exec(&self.conn, "ROLLBACK");
            self.open = false;
        }
        for waiter in self.waiting.drain(..) {
            let _ = waiter.done.send(Err(format!("the batch commit failed: {reason}")));
        }
    }

    /// Commits the open batch (to the WAL, without waiting for the disk) and hands everyone in it
    /// to the syncer, which tells them once it is durable.
    fn commit_batch(&mut self) {
        if self.settle().is_err() || !self.open {
            return;
        }
        match inline::exec(&self.conn, "COMMIT") {
            Ok(()) => {
                self.open = false;
                let committed = self.waiting.iter().filter(|waiter| waiter.announce.is_some()).count();
                crate::telemetry::writer_batch(committed);
                self.since_checkpoint =
                    self.since_checkpoint.saturating_add(u64::try_from(committed).unwrap_or(u64::MAX));
                self.syncer.hand(self.waiting.drain(..));
            }
            Err(e) => self.fail(&e.to_string()),
        }
    }
}

/// The writer's connection: WAL, foreign keys, SQLite's busy timeout (for a write from outside
/// the writer: a migration, another process). When the syncer makes batches durable
/// (`synced_apart`), the connection's `COMMIT` does not wait for the disk (`synchronous =
/// NORMAL`) and runs no checkpoint inside a `COMMIT` (`wal_autocheckpoint = 0`): the flusher runs
/// them between batches ([`WriterState::checkpoint`]).
fn writer_connection(file: &std::path::Path, synced_apart: bool) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(file)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if synced_apart {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let _: i64 = conn.query_row("PRAGMA wal_autocheckpoint = 0", [], |row| row.get(0))?;
    } else {
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    conn.set_prepared_statement_cache_capacity(inline::STATEMENT_CACHE);
    Ok(conn)
}

impl Writer {
    async fn open(url: &str) -> anyhow::Result<Arc<Writer>> {
        let file = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.get_filename().to_owned();
        let syncer = Syncer::start(&file)?;
        let conn = writer_connection(&file, syncer.wal.is_some())?;
        let state = WriterState {
            conn,
            syncer: syncer.clone(),
            open: false,
            waiting: Vec::new(),
            abandoned: false,
            closed: false,
            checkpoints_apart: syncer.wal.is_some(),
            since_checkpoint: 0,
            checkpoint_every: 64,
            checkpoints: 0,
        };
        let state = Arc::new(tokio::sync::Mutex::new(state));
        let writer = Arc::new(Writer { state, flush: Default::default(), syncer, file });
        // The flusher holds only a weak reference, so it ends when the `Db` is gone.
        let weak = Arc::downgrade(&writer);
        tokio::spawn(async move {
            loop {
                let Some(writer) = weak.upgrade() else { return };
                // Re-checked every second so a dropped `Db` lets the task end.
                if tokio::time::timeout(Duration::from_secs(1), writer.flush.notified()).await.is_err() {
                    continue;
                }
                let mut state = writer.state.clone().lock_owned().await;
                state.commit_batch();
                if state.closed {
                    return;
                }
                if state.checkpoint_due() {
                    // It waits for the disk: on a blocking thread, with the writer still held.
                    let _ = tokio::task::spawn_blocking(move || state.checkpoint()).await;
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
        state.settle()?;
        if !state.open {
            inline::exec(&state.conn, "BEGIN IMMEDIATE")?;
            state.open = true;
        }
        if let Err(e) = inline::exec(&state.conn, SAVEPOINT) {
            state.fail(&e.to_string());
            return Err(e);
        }
        Ok(state)
    }

    async fn close(&self) {
        let mut state = self.state.lock().await;
        state.commit_batch();
        state.closed = true;
        self.flush.notify_one();
        drop(state);
        self.syncer.drained().await;
    }
}

/// A transaction plus the changes to announce after it commits (never before: a subscriber that
/// wakes up must find the data). Dropped without `commit`, it rolls back.
pub struct Tx {
    conn: Conn,
    announced: Announced,
    /// On PostgreSQL, changes are also announced to the other instances with NOTIFY, which the
    /// database delivers only when (and if) the transaction commits.
    notify: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("changes", &self.announced.changes).finish_non_exhaustive()
    }
}

/// A connection to run the store's SQL on: a transaction's ([`Tx::conn`]) or the pool's
/// ([`Db::acquire`]). sqlx's query builders run on it (`.fetch_one(tx.conn())`) as on any of
/// sqlx's connections: on PostgreSQL and the pool it is one of them; on SQLite's writer it runs
/// each statement on the calling thread ([`inline`]).
pub struct Conn(Link);

enum Link {
    /// A connection of the pool, outside any transaction.
    Pooled(sqlx::pool::PoolConnection<Any>),
    /// PostgreSQL: a transaction on a pooled connection.
    Pool(sqlx::Transaction<'static, Any>),
    /// SQLite: a savepoint on the writer connection, inside its batch.
    Batched(Held),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Link::Pooled(_) => "Conn(pooled)",
            Link::Pool(_) => "Conn(transaction)",
            Link::Batched(_) => "Conn(writer)",
        })
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match &mut self.0 {
            Link::Pooled(conn) => (&mut **conn).fetch_many(query),
            Link::Pool(tx) => (&mut **tx).fetch_many(query),
            Link::Batched(held) => inline::fetch_many(&held.guard.conn, query),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match &mut self.0 {
            Link::Pooled(conn) => (&mut **conn).fetch_optional(query),
            Link::Pool(tx) => (&mut **tx).fetch_optional(query),
            Link::Batched(held) => inline::fetch_optional(&held.guard.conn, query),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        match &mut self.0 {
            Link::Pooled(conn) => (&mut **conn).prepare_with(sql, parameters),
            Link::Pool(tx) => (&mut **tx).prepare_with(sql, parameters),
            Link::Batched(_) => Box::pin(std::future::ready(Err(unsupported("prepare")))),
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<sqlx::Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match &mut self.0 {
            Link::Pooled(conn) => (&mut **conn).describe(sql),
            Link::Pool(tx) => (&mut **tx).describe(sql),
            Link::Batched(_) => Box::pin(std::future::ready(Err(unsupported("describe")))),
        }
    }
}

/// Where the server reads outside a transaction ([`Db::reads`]). On PostgreSQL, the pool. On
/// SQLite, a few read-only connections of its own, each behind a lock that is only ever tried:
/// a read takes a free one and runs on the reading thread ([`inline`]), as the writer's
/// statements do; when every one is busy (more threads read at once than there are connections),
/// it goes to sqlx's pool instead of waiting. Read-only: a write sent here by mistake is refused,
/// never queued behind the writer.
#[derive(Clone)]
pub struct Reads {
    pool: AnyPool,
    readers: Option<Arc<Readers>>,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("inline", &self.readers.is_some()).finish_non_exhaustive()
    }
}

/// SQLite's read-only connections of [`Reads`].
struct Readers {
    conns: Vec<std::sync::Mutex<rusqlite::Connection>>,
    /// Where the next read starts looking, so that reads spread over the connections.
    next: std::sync::atomic::AtomicUsize,
}

/// As many as the runtime has workers, and some for the blocking threads that read.
const READERS: usize = 4;

impl Readers {
    fn open(file: &std::path::Path) -> anyhow::Result<Arc<Readers>> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let mut conns = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = rusqlite::Connection::open_with_flags(file, flags)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.set_prepared_statement_cache_capacity(inline::STATEMENT_CACHE);
            conns.push(std::sync::Mutex::new(conn));
        }
        Ok(Arc::new(Readers { conns, next: Default::default() }))
    }

    /// A connection no one is using, if there is one.
    fn free(&self) -> Option<std::sync::MutexGuard<'_, rusqlite::Connection>> {
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (0..self.conns.len()).find_map(|i| self.conns.get((start + i) % self.conns.len())?.try_lock().ok())
    }
}

impl<'c> Executor<'c> for &'c Reads {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.readers.as_ref().and_then(|readers| readers.free()) {
            Some(conn) => inline::fetch_many(&conn, query),
            None => (&self.pool).fetch_many(query),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.readers.as_ref().and_then(|readers| readers.free()) {
            Some(conn) => inline::fetch_optional(&conn, query),
            None => (&self.pool).fetch_optional(query),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.pool).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<sqlx::Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.pool).describe(sql)
    }
}

/// The writer runs statements as the store writes them; it does not hand out prepared ones.
fn unsupported(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{what} is not offered on the SQLite writer; run the query instead"))
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
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// What a read ends with to lock the rows it reads until this transaction ends: `FOR UPDATE`
    /// on PostgreSQL; nothing on SQLite, whose writer runs one transaction at a time from its
    /// `BEGIN IMMEDIATE` (every read in it is as good as locked). Cheaper than writing the row
    /// unchanged: PostgreSQL makes no new version of it.
    pub fn for_update(&self) -> &'static str {
        match self.conn.0 {
            Link::Batched(_) => "",
            Link::Pool(_) | Link::Pooled(_) => " FOR UPDATE",
        }
    }

    pub fn announce(&mut self, change: Change) {
        if !self.announced.changes.contains(&change) {
            self.announced.changes.push(change);
        }
    }

    /// Announces a notice appended to `account_id`'s history, to be published with it.
    pub fn announce_notice(&mut self, account_id: &str, notice: FeedEvent) {
        self.announce(Change::Account(account_id.to_owned()));
        self.announced.notices.push((account_id.to_owned(), notice.into()));
    }

    /// Attaches the charge a `charge_pending` notice is about, as the shopper confirms it, to the
    /// notice last announced for `account_id`, so that feeds push it from memory
    /// ([`Published`]).
    pub fn attach_pending(&mut self, account_id: &str, pending: PendingCharge) {
        if let Some((_, notice)) = self.announced.notices.iter_mut().rev().find(|(to, _)| to == account_id) {
            notice.pending = Some(pending);
        }
    }

    /// Commits, and returns once the transaction is durable and its changes are announced.
    pub async fn commit(self, hub: &Hub) -> Result<(), sqlx::Error> {
        match self.conn.0 {
            // A `Tx` is only ever made by `Db::begin`, with one of the other two.
            Link::Pooled(_) => return Err(writer_error("a pooled connection is no transaction to commit")),
            Link::Pool(mut inner) => {
                if self.notify {
                    for change in &self.announced.changes {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(CHANNEL)
                            .bind(change.encode_from(hub.instance()))
                            .execute(&mut *inner)
                            .await?;
                    }
                }
                inner.commit().await?;
                self.announced.publish(hub);
            }
            Link::Batched(mut held) => {
                inline::exec(&held.guard.conn, RELEASE)?;
                let (done, durable) = oneshot::channel();
                held.guard.waiting.push(Waiter { done, announce: Some((hub.clone(), self.announced)) });
                held.done = true;
                drop(held);
                durable.await.map_err(|_| writer_error("the database writer stopped"))?.map_err(writer_error)?;
            }
        }
        Ok(())
    }

    /// Rolls back, and returns once every transaction committed before this one is durable and
    /// visible to every connection: a read from the pool afterwards sees what beat us.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.conn.0 {
            Link::Pooled(_) => Ok(()),
            Link::Pool(inner) => inner.rollback().await,
            Link::Batched(mut held) => {
                inline::exec(&held.guard.conn, ROLLBACK_TO)?;
                inline::exec(&held.guard.conn, RELEASE)?;
                held.done = true;
                let durable = if held.guard.open && !held.guard.waiting.is_empty() {
                    let (done, durable) = oneshot::channel();
                    held.guard.waiting.push(Waiter { done, announce: None });
                    Some(durable)
                } else {
                    // Committed batches may still be on their way to the disk.
                    held.writer.syncer.after_pending()
                };
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

/// What a transaction announces once it has committed: the changes, and the notices appended to
/// histories with their account.
#[derive(Debug, Default)]
struct Announced {
    changes: Vec<Change>,
    notices: Vec<(String, Published)>,
}

impl Announced {
    /// Wakes the subscribers of each change; an account's with the notices appended to it.
    fn publish(self, hub: &Hub) {
        let mut notices = self.notices;
        for change in self.changes {
            if let Change::Account(account_id) = &change {
                let (own, rest): (Vec<_>, Vec<_>) = notices.into_iter().partition(|(to, _)| to == account_id);
                notices = rest;
                if !own.is_empty() {
                    hub.publish_notices(account_id, own.into_iter().map(|(_, n)| n).collect());
                    continue;
                }
            }
            hub.publish(change);
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
                    match Change::decode_from(notification.payload()) {
                        // Our own: published here already, with its notices, when it committed.
                        Some((_, Some(sender))) if sender == hub.instance() => {}
                        Some((change, _)) => hub.publish(change),
                        None => {}
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
    use super::*;

    /// A new SQLite database in a directory of its own (kept while the directory is), its URL.
    async fn fresh() -> (tempfile::TempDir, String, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inkan.db").display());
        let db = Db::open(&url).await.unwrap();
        (dir, url, db)
    }

    /// One transaction that writes one audit row (`subject i`) and commits.
    async fn audit_one(db: &Db, hub: &Hub, i: u32) {
        let mut tx = db.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO operator_audit (operator_id, action, subject, reason, at) VALUES ('op', 'test', $1, 'r', 0)",
        )
        .bind(format!("subject {i}"))
        .execute(tx.conn())
        .await
        .unwrap();
        tx.commit(hub).await.unwrap();
    }

    /// How many rows `audit_one` wrote, read by a `Db` opened afresh on `url`.
    async fn audited_after_reopening(url: &str) -> i64 {
        let again = Db::open(url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operator_audit WHERE action = 'test'")
            .fetch_one(again.pool())
            .await
            .unwrap();
        again.close().await;
        n
    }

    /// Transactions committed at once share their batches and syncs, each returns once its
    /// batch is synced, and all of them are there for a connection opened afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_syncs_and_all_last() {
        let (_dir, url, db) = fresh().await;
        let hub = Hub::default();
        let commits: u32 = 40;
        let tasks: Vec<_> = (0..commits)
            .map(|i| {
                let (db, hub) = (db.clone(), hub.clone());
                tokio::spawn(async move { audit_one(&db, &hub, i).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let writer = db.writer.clone().unwrap();
        let syncs = writer.syncer.syncs.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=u64::from(commits)).contains(&syncs), "{syncs} syncs for {commits} commits");
        assert!(writer.syncer.wal.is_some(), "a database file is synced through its WAL");
        db.close().await;
        assert_eq!(audited_after_reopening(&url).await, i64::from(commits));
    }

    /// A query reads the same on the writer (`inline`, rusqlite) as on a pooled connection
    /// (sqlx's SQLite driver): the same columns, the same kinds of values, arguments bound by
    /// their numbers, the same refusal for a broken constraint, and what a write changed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_reads_rows_as_the_pool_does() {
        let (_dir, _, db) = fresh().await;
        let sql = "SELECT 1 AS i, 2.5 AS r, 'text' AS t, x'0102' AS b, NULL AS n, $2 AS second, $1 AS first, \
                   $3 AS flag, $4 AS bytes, $5 AS absent, $1 || $2 AS again, 'é' AS i";
        let query =
            || sqlx::query(sql).bind("one").bind(7_i64).bind(true).bind(vec![9_u8, 8]).bind(Option::<String>::None);
        let seen = |row: &AnyRow| {
            use sqlx::{Column as _, Row as _};
            let columns: Vec<_> = row.columns().iter().map(|c| (c.ordinal(), c.name().to_owned())).collect();
            let mut names: Vec<_> = row.column_names.iter().map(|(name, i)| (name.to_string(), *i)).collect();
            names.sort();
            let first: String = row.try_get("first").unwrap();
            let flag: i64 = row.try_get("flag").unwrap();
            let absent: Option<String> = row.try_get("absent").unwrap();
            format!("{columns:?} {names:?} {:?} {first} {flag} {absent:?}", row.values)
        };
        let pooled = query().fetch_one(&mut db.acquire().await.unwrap()).await.unwrap();
        let read = query().fetch_one(db.reads()).await.unwrap();
        assert_eq!(seen(&read), seen(&pooled));
        let mut tx = db.begin().await.unwrap();
        let written = query().fetch_one(tx.conn()).await.unwrap();
        assert_eq!(seen(&written), seen(&pooled));
        assert!(seen(&written).contains("BigInt(7)") && seen(&written).contains("one 1 None"), "{}", seen(&written));
        assert_eq!(query().fetch_all(tx.conn()).await.unwrap().len(), 1);
        assert!(query().fetch_optional(tx.conn()).await.unwrap().is_some());

        // What a write changed, through `execute` and through `RETURNING`.
        let insert =
            "INSERT INTO operator_audit (operator_id, action, subject, reason, at) VALUES ('op', 'test', $1, 'r', 0)";
        for subject in ["a", "b"] {
            let done = sqlx::query(insert).bind(subject).execute(tx.conn()).await.unwrap();
            assert_eq!(done.rows_affected(), 1);
        }
        let returned: Vec<String> =
            sqlx::query_scalar("UPDATE operator_audit SET reason = 'changed' WHERE action = 'test' RETURNING subject")
                .fetch_all(tx.conn())
                .await
                .unwrap();
        assert_eq!(returned.len(), 2);
        let first: Option<String> =
            sqlx::query_scalar("UPDATE operator_audit SET reason = 'again' WHERE action = 'test' RETURNING subject")
                .fetch_optional(tx.conn())
                .await
                .unwrap();
        assert!(first.is_some());
        let again: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operator_audit WHERE reason = 'again'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(again, 2, "a write whose first row was all that was asked for still changed every row");

        // Bad statements and bindings are refused as errors, and the transaction goes on.
        let wrong_count = sqlx::query("SELECT $1, $2").bind(1_i64).fetch_one(tx.conn()).await.map(drop).unwrap_err();
        assert!(wrong_count.to_string().contains("2 parameters"), "{wrong_count}");
        let two = sqlx::query("SELECT 1; SELECT 2").fetch_one(tx.conn()).await.map(drop).unwrap_err();
        assert!(matches!(two, sqlx::Error::Protocol(_)), "{two}");
        let syntax = sqlx::query("SELEKT 1").fetch_one(tx.conn()).await.map(drop).unwrap_err();
        assert!(syntax.as_database_error().is_some(), "{syntax}");
        tx.commit(&Hub::default()).await.unwrap();

        // A broken unique constraint, both ways (in a table made after the writer opened).
        sqlx::query("CREATE TABLE keyed (k TEXT PRIMARY KEY)").execute(db.pool()).await.unwrap();
        let insert = "INSERT INTO keyed (k) VALUES ($1)";
        let mut tx = db.begin().await.unwrap();
        sqlx::query(insert).bind("k").execute(tx.conn()).await.unwrap();
        let on_writer = sqlx::query(insert).bind("k").execute(tx.conn()).await.unwrap_err();
        tx.commit(&Hub::default()).await.unwrap();
        let on_pool = sqlx::query(insert).bind("k").execute(db.pool()).await.unwrap_err();
        let (writer, pool) = (on_writer.as_database_error().unwrap(), on_pool.as_database_error().unwrap());
        assert!(writer.is_unique_violation() && pool.is_unique_violation(), "{on_writer} / {on_pool}");
        assert_eq!(writer.code(), pool.code());

        // Reads are read-only: a write sent there by mistake is refused, not queued.
        let misplaced = sqlx::query(insert).bind("other").execute(db.reads()).await.unwrap_err();
        assert!(misplaced.to_string().contains("readonly"), "{misplaced}");
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keyed").fetch_one(db.reads()).await.unwrap();
        assert_eq!(kept, 1);
        db.close().await;
    }

    /// No checkpoint runs inside a `COMMIT`; after enough transactions the flusher runs one
    /// between batches, learns from it when the next is due, the WAL starts again from its
    /// beginning, and nothing is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_run_between_batches() {
        let (_dir, url, db) = fresh().await;
        let hub = Hub::default();
        let writer = db.writer.clone().unwrap();
        let autocheckpoint: i64 =
            writer.state.lock().await.conn.query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0)).unwrap();
        assert_eq!(autocheckpoint, 0);
        let commits: u32 = 200;
        for i in 0..commits {
            audit_one(&db, &hub, i).await;
        }
        {
            // Held after the flusher: any checkpoint it began is over.
            let state = writer.state.lock().await;
            assert!(state.checkpoints > 0, "no checkpoint after {commits} commits");
            assert!(
                (8..=4096).contains(&state.checkpoint_every) && state.checkpoint_every != 64,
                "the next checkpoint's due was not learnt: {}",
                state.checkpoint_every
            );
            // What the WAL holds now was written since the last checkpoint, not since the start.
            let (pages, _): (i64, i64) = state
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(1)?, row.get(2)?)))
                .unwrap();
            assert!(pages < 400, "the WAL was not started again: {pages} pages");
        }
        db.close().await;
        assert_eq!(audited_after_reopening(&url).await, i64::from(commits));
    }

    /// The two flavours of each migration describe the same schema: the PostgreSQL file is the
    /// SQLite file with PostgreSQL's names for the same types, less what the SQLite file marks as
    /// its own (`-- sqlite only: begin` … `-- sqlite only: end`: how SQLite lays out a table, which
    /// PostgreSQL has no words for). A change made to one only fails here.
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
            let mut sqlite_only = false;
            text.lines()
                .filter(|l| {
                    match l.trim() {
                        "-- sqlite only: begin" => sqlite_only = true,
                        "-- sqlite only: end" => sqlite_only = false,
                        _ => {}
                    }
                    !sqlite_only
                })
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
