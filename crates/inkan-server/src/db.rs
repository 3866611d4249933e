//! The database: SQLite (embedded default) or PostgreSQL, through one sqlx `Any` pool.
//!
//! Queries are written once in the SQL both understand: `$1` placeholders (numbered in the order
//! they first appear), integers for times, booleans and money, `RETURNING` for conditional
//! updates. Migrations are kept per backend under `migrations/` because DDL types differ.
//!
//! Every write transaction starts with a write (an `UPDATE` of the row it is about), so on
//! PostgreSQL it takes that row's lock first, and on SQLite it takes the write lock at once instead
//! of failing to upgrade a read lock under contention.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

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
                        // WAL with FULL sync: an acknowledged charge survives a power cut.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let db = Db { pool, backend, url };
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

    /// Starts a transaction whose change notifications go out only once it commits.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx { inner: self.pool.begin().await?, changes: Vec::new(), notify: self.backend == Backend::Postgres })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A transaction plus the changes to announce after it commits (never before: a subscriber that
/// wakes up must find the data).
pub struct Tx {
    inner: sqlx::Transaction<'static, sqlx::Any>,
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

impl Tx {
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }

    pub fn announce(&mut self, change: Change) {
        self.changes.push(change);
    }

    pub async fn commit(mut self, hub: &Hub) -> Result<(), sqlx::Error> {
        if self.notify {
            for change in &self.changes {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(change.encode())
                    .execute(&mut *self.inner)
                    .await?;
            }
        }
        self.inner.commit().await?;
        for change in self.changes {
            hub.publish(change);
        }
        Ok(())
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
