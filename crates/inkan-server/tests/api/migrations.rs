//! Migrations that rebuild what holds money or history keep every row: each test fills the schema
//! as it was before the migration, runs the rest, and reads the rows back.

use super::support::{self, Backend};

support::on_both_databases!(the_migration_to_fewer_pages_keeps_every_row);

/// A database with the server's migrations of `backend` before `first_not_run` applied (`"0005"`:
/// 0001 to 0004), and the directory of all of them, to run the rest with
/// (`sqlx::migrate::Migrator::new(all)`).
pub(super) async fn schema_before(
    backend: Backend,
    first_not_run: &str,
) -> (support::EmptyDatabase, sqlx::AnyPool, std::path::PathBuf) {
    sqlx::any::install_default_drivers();
    let db = support::EmptyDatabase::new(backend).await;
    let flavour = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(flavour);
    let before = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().as_ref() < first_not_run {
            std::fs::copy(entry.path(), before.path().join(entry.file_name())).unwrap();
        }
    }
    let url = if backend == Backend::Sqlite { format!("{}?mode=rwc", db.url) } else { db.url.clone() };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(before.path()).await.unwrap().run(&pool).await.unwrap();
    (db, pool, all)
}

async fn exec(pool: &sqlx::AnyPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Migration 0019: ledger entries renumbered without AUTOINCREMENT (SQLite), and the charges'
/// status indexes replaced by indexes of open charges only. Nothing is lost (notices and
/// idempotency keys are read back too), ledger entry numbers are kept and go on from the largest,
/// and the open charges, and only they, are found by the new index.
async fn the_migration_to_fewer_pages_keeps_every_row(backend: Backend) {
    let (db, pool, all) = schema_before(backend, "0019").await;
    exec(
        &pool,
        "INSERT INTO accounts (id, display_name, webauthn_user, currency, balance, frozen, limits, event_seq, last_hash, created_at) \
         VALUES ('acct_1', 'A', 'u', 'JPY', 700, 0, '{}', 2, 'h2', 0)",
    )
    .await;
    exec(&pool, "INSERT INTO merchants (id, name, created_at) VALUES ('mer_1', 'M', 0)").await;
    exec(
        &pool,
        "INSERT INTO terminals (id, merchant_id, name, key_hash, active, created_at) VALUES ('term_1', 'mer_1', 'T', 'k', 1, 0)",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO devices (id, account_id, key_id, public_key, name, active, enrolled_at) \
         VALUES ('dev_1', 'acct_1', 'key_1', 'pk', 'd', 1, 0)",
    )
    .await;
    for (id, status, counter) in
        [("ch_paid", "succeeded", 1), ("ch_waiting", "pending_confirmation", 2), ("ch_held", "held_for_review", 3)]
    {
        exec(
            &pool,
            &format!(
                "INSERT INTO charges (id, merchant_id, terminal_id, account_id, device_id, amount, currency, status, \
                 code_counter, created_at, expires_at) \
                 VALUES ('{id}', 'mer_1', 'term_1', 'acct_1', 'dev_1', 100, 'JPY', '{status}', {counter}, {counter}, 1000)"
            ),
        )
        .await;
    }
    exec(
        &pool,
        "INSERT INTO idempotency_keys (terminal_id, key, request_hash, charge_id, response, created_at) \
         VALUES ('term_1', 'retry-1', 'rh', 'ch_paid', '{\"id\":\"ch_paid\"}', 5)",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO ledger_transactions (id, kind, reference, created_at) VALUES ('ltx_1', 'top_up', 'top_1', 0)",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO ledger_transactions (id, kind, reference, created_at) VALUES ('ltx_2', 'charge', 'ch_paid', 1)",
    )
    .await;
    for (tx, book, amount) in [
        ("ltx_1", "funding_clearing", -800),
        ("ltx_1", "wallet:acct_1", 800),
        ("ltx_2", "wallet:acct_1", -100),
        ("ltx_2", "merchant:mer_1", 100),
    ] {
        exec(
            &pool,
            &format!("INSERT INTO ledger_entries (transaction_id, book, amount, currency) VALUES ('{tx}', '{book}', {amount}, 'JPY')"),
        )
        .await;
    }
    for (seq, signed) in [(1, "'issuer'"), (2, "NULL")] {
        exec(
            &pool,
            &format!(
                "INSERT INTO events (account_id, seq, at, payload, hash, signed_by, signature) \
                 VALUES ('acct_1', {seq}, {seq}, '{{\"n\":{seq}}}', 'h{seq}', {signed}, {signed})"
            ),
        )
        .await;
    }
    type Event = (String, i64, i64, String, String, Option<String>);
    let events_sql = "SELECT account_id, seq, at, payload, hash, signature FROM events ORDER BY seq";
    let events: Vec<Event> = sqlx::query_as(events_sql).fetch_all(&pool).await.unwrap();
    let keys_sql = "SELECT terminal_id, key, request_hash, charge_id, response, created_at FROM idempotency_keys";
    let keys: Vec<(String, String, String, String, String, i64)> =
        sqlx::query_as(keys_sql).fetch_all(&pool).await.unwrap();
    let entries_sql = "SELECT id, transaction_id, book, amount FROM ledger_entries ORDER BY id";
    let entries: Vec<(i64, String, String, i64)> = sqlx::query_as(entries_sql).fetch_all(&pool).await.unwrap();
    assert_eq!(entries.len(), 4);

    // An operator built one of the new indexes beforehand, as the README says to on PostgreSQL
    // (without blocking writes): the migration keeps it.
    let concurrently = if backend == Backend::Postgres { "CONCURRENTLY" } else { "" };
    exec(
        &pool,
        &format!(
            "CREATE INDEX {concurrently} charges_open_by_expiry ON charges(expires_at) \
             WHERE status IN ('held_for_review', 'pending_confirmation')"
        ),
    )
    .await;

    sqlx::migrate::Migrator::new(all.as_path()).await.unwrap().run(&pool).await.unwrap();
    assert_eq!(sqlx::query_as::<_, Event>(events_sql).fetch_all(&pool).await.unwrap(), events);
    assert_eq!(
        sqlx::query_as::<_, (String, String, String, String, String, i64)>(keys_sql).fetch_all(&pool).await.unwrap(),
        keys
    );
    assert_eq!(sqlx::query_as::<_, (i64, String, String, i64)>(entries_sql).fetch_all(&pool).await.unwrap(), entries);
    // A new entry is numbered after the largest, as before.
    exec(&pool, "INSERT INTO ledger_entries (transaction_id, book, amount, currency) VALUES ('ltx_2', 'x', 0, 'JPY')")
        .await;
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM ledger_entries").fetch_one(&pool).await.unwrap();
    assert_eq!(last, entries[3].0 + 1);
    // The same keys still refuse a second row.
    let twice =
        sqlx::query("INSERT INTO events (account_id, seq, at, payload, hash) VALUES ('acct_1', 2, 9, '{}', 'other')")
            .execute(&pool)
            .await;
    assert!(twice.is_err(), "a second notice 2 was written");
    let twice = sqlx::query(
        "INSERT INTO idempotency_keys (terminal_id, key, request_hash, charge_id, response, created_at) \
         VALUES ('term_1', 'retry-1', 'other', 'ch_held', '{}', 6)",
    )
    .execute(&pool)
    .await;
    assert!(twice.is_err(), "a second answer for one idempotency key was kept");
    // The open charges, and only they, are in the indexes of open charges.
    let open = "'held_for_review', 'pending_confirmation'";
    let by_account = if backend == Backend::Sqlite { "INDEXED BY charges_open_by_account" } else { "" };
    let mut found: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM charges {by_account} WHERE account_id = 'acct_1' AND status IN ({open})"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    found.sort();
    assert_eq!(found, ["ch_held", "ch_waiting"]);
    if backend == Backend::Sqlite {
        let sequences: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'ledger_entries'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(sequences, 0, "ledger entries are still numbered through sqlite_sequence");
    }
    pool.close().await;
    db.remove().await;
}
