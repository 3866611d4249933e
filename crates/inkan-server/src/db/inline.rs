//! SQL on SQLite's writer connection, run on the calling thread.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands every statement to
//! it and back through channels: two thread hand-offs per statement, about thirty statements per
//! charge, most of a charge's context switches (`docs/performance.md`). The writer connection is
//! one `rusqlite` connection instead, used only by the transaction that holds it, and a statement
//! runs where that transaction's task runs: prepared once and kept (`prepare_cached`), bound,
//! stepped, its rows read, in a few microseconds and no hand-off.
//!
//! The store's SQL is unchanged: it is written with sqlx's query builders against the `Any`
//! driver, and this module is the `Executor` behind them on the writer. It turns sqlx's `Any`
//! arguments into SQLite bindings and SQLite's values into `Any` rows exactly as sqlx's SQLite
//! driver does (an integer is a `BigInt`, a real a `Double`; a value's kind is what SQLite stored,
//! not what the column declares), so a query reads the same on the writer as on a pooled
//! connection (`db::tests::the_writer_reads_rows_as_the_pool_does`). It builds those rows from
//! fields that sqlx marks as hidden from its documentation (`AnyRow`'s, `AnyColumn`'s,
//! `AnyArguments`'), which is why `sqlx-core` is pinned to one version in `Cargo.toml`.

use std::borrow::Cow;
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use rusqlite::types::ValueRef;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::{Any, Execute};
use sqlx_core::any::{
    AnyArguments, AnyColumn, AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind,
};
use sqlx_core::ext::ustr::UStr;

/// How many prepared statements the writer keeps: every statement of the store fits.
pub(super) const STATEMENT_CACHE: usize = 256;

/// What one statement answered: its rows (all of them, or only the first when `first_only`),
/// then what it changed.
pub(super) struct Answer {
    pub(super) rows: Vec<AnyRow>,
    pub(super) done: AnyQueryResult,
}

/// Runs `sql` with `arguments` on `conn`. A statement that only reads stops after its first row
/// when `first_only`; one that writes always runs to its end.
pub(super) fn run(
    conn: &rusqlite::Connection,
    sql: &str,
    persistent: bool,
    arguments: Option<AnyArguments<'_>>,
    first_only: bool,
) -> Result<Answer, sqlx::Error> {
    if !one_statement(sql) {
        // sqlx's SQLite driver runs every statement of such a text, rusqlite only the first.
        return Err(sqlx::Error::Protocol("the writer runs one statement at a time; send them one by one".into()));
    }
    let mut cached;
    let mut fresh;
    let statement: &mut rusqlite::Statement<'_> = if persistent {
        cached = conn.prepare_cached(sql).map_err(from_sqlite)?;
        &mut cached
    } else {
        fresh = conn.prepare(sql).map_err(from_sqlite)?;
        &mut fresh
    };
    bind(statement, arguments)?;
    let readonly = statement.readonly();
    let names: Vec<UStr> = statement.column_names().into_iter().map(UStr::new).collect();
    let mut column_names = sqlx_core::HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        column_names.insert(name.clone(), i);
    }
    let column_names = Arc::new(column_names);
    let mut rows = Vec::new();
    {
        let mut stepping = statement.raw_query();
        while let Some(row) = stepping.next().map_err(from_sqlite)? {
            let mut values = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                let value = row.get_ref(i).map_err(from_sqlite)?;
                values.push(AnyValue {
                    kind: any_value(value)
                        .map_err(|source| sqlx::Error::ColumnDecode { index: i.to_string(), source })?,
                });
            }
            let columns = names
                .iter()
                .zip(&values)
                .enumerate()
                .map(|(ordinal, (name, value))| AnyColumn {
                    ordinal,
                    name: name.clone(),
                    type_info: AnyTypeInfo { kind: kind_of(&value.kind) },
                })
                .collect();
            rows.push(AnyRow { column_names: column_names.clone(), columns, values });
            if first_only && readonly {
                break;
            }
        }
    }
    let rows_affected = if readonly { 0 } else { conn.changes() };
    Ok(Answer { rows, done: AnyQueryResult { rows_affected, last_insert_id: Some(conn.last_insert_rowid()) } })
}

/// sqlx's `fetch_many` of `query` on `conn`, run at once: each row, then what it changed.
pub(super) fn fetch_many<'e, 'q: 'e, E: 'q + Execute<'q, Any>>(
    conn: &rusqlite::Connection,
    mut query: E,
) -> BoxStream<'e, Result<sqlx::Either<AnyQueryResult, AnyRow>, sqlx::Error>> {
    let answer = query
        .take_arguments()
        .map_err(sqlx::Error::Encode)
        .and_then(|arguments| run(conn, query.sql(), query.persistent(), arguments, false));
    futures_util::stream::iter(steps(answer)).boxed()
}

/// sqlx's `fetch_optional` of `query` on `conn`, run at once.
pub(super) fn fetch_optional<'e, 'q: 'e, E: 'q + Execute<'q, Any>>(
    conn: &rusqlite::Connection,
    mut query: E,
) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>> {
    let row = query.take_arguments().map_err(sqlx::Error::Encode).and_then(|arguments| {
        run(conn, query.sql(), query.persistent(), arguments, true).map(|answer| answer.rows.into_iter().next())
    });
    Box::pin(std::future::ready(row))
}

/// An answer as the steps of sqlx's `fetch_many`: each row, then what the statement changed.
fn steps(answer: Result<Answer, sqlx::Error>) -> Vec<Result<sqlx::Either<AnyQueryResult, AnyRow>, sqlx::Error>> {
    match answer {
        Ok(answer) => {
            answer.rows.into_iter().map(sqlx::Either::Right).chain([sqlx::Either::Left(answer.done)]).map(Ok).collect()
        }
        Err(e) => vec![Err(e)],
    }
}

/// Runs a statement of the writer's own (a savepoint, a commit) that takes no arguments.
pub(super) fn exec(conn: &rusqlite::Connection, sql: &str) -> Result<(), sqlx::Error> {
    conn.prepare_cached(sql).and_then(|mut statement| statement.raw_execute()).map(drop).map_err(from_sqlite)
}

/// Whether `sql` is one statement: no `;` outside quotes and comments but at its end.
fn one_statement(sql: &str) -> bool {
    let mut chars = sql.chars().peekable();
    let mut quote = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                chars.by_ref().find(|&c| c == '\n');
            }
            (None, ';') => return chars.all(|c| c.is_whitespace() || c == ';'),
            (None, _) => {}
        }
    }
    true
}

/// Binds each parameter by its number (`$2` takes the second argument), as sqlx does.
fn bind(statement: &mut rusqlite::Statement<'_>, arguments: Option<AnyArguments<'_>>) -> Result<(), sqlx::Error> {
    let values = arguments.map(|a| a.values.0).unwrap_or_default();
    let count = statement.parameter_count();
    if count != values.len() {
        return Err(sqlx::Error::Protocol(format!(
            "the statement has {count} parameters and was given {} values",
            values.len()
        )));
    }
    for index in 1..=count {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix(['$', '?']))
            .map_or(Ok(index), str::parse::<usize>)
            .map_err(|_| sqlx::Error::Protocol(format!("parameter {index} is not numbered ($1, $2, …)")))?;
        let value = number
            .checked_sub(1)
            .and_then(|i| values.get(i))
            .ok_or_else(|| sqlx::Error::Protocol(format!("parameter ${number} has no value")))?;
        let bound = match value {
            AnyValueKind::Null(_) => statement.raw_bind_parameter(index, rusqlite::types::Null),
            AnyValueKind::Bool(b) => statement.raw_bind_parameter(index, i64::from(*b)),
            AnyValueKind::SmallInt(i) => statement.raw_bind_parameter(index, i64::from(*i)),
            AnyValueKind::Integer(i) => statement.raw_bind_parameter(index, i64::from(*i)),
            AnyValueKind::BigInt(i) => statement.raw_bind_parameter(index, *i),
            AnyValueKind::Real(r) => statement.raw_bind_parameter(index, f64::from(*r)),
            AnyValueKind::Double(d) => statement.raw_bind_parameter(index, *d),
            AnyValueKind::Text(t) => statement.raw_bind_parameter(index, t.as_ref()),
            AnyValueKind::Blob(b) => statement.raw_bind_parameter(index, b.as_ref()),
            other => return Err(sqlx::Error::Encode(format!("a value SQLite cannot take: {other:?}").into())),
        };
        bound.map_err(from_sqlite)?;
    }
    Ok(())
}

/// A value as sqlx's SQLite driver gives it to `Any`: of the kind SQLite stored.
fn any_value(value: ValueRef<'_>) -> Result<AnyValueKind<'static>, sqlx::error::BoxDynError> {
    Ok(match value {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(r) => AnyValueKind::Double(r),
        ValueRef::Text(t) => AnyValueKind::Text(Cow::Owned(std::str::from_utf8(t)?.to_owned())),
        ValueRef::Blob(b) => AnyValueKind::Blob(Cow::Owned(b.to_vec())),
    })
}

fn kind_of(value: &AnyValueKind<'_>) -> AnyTypeInfoKind {
    match value {
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
        _ => AnyTypeInfoKind::Null,
    }
}

/// SQLite's refusal, as the database error sqlx's SQLite driver would give (its extended code as
/// the code, and the kind of constraint it broke).
#[derive(Debug, thiserror::Error)]
#[error("(code: {code}) {message}")]
pub(super) struct SqliteRefusal {
    code: i32,
    message: String,
}

pub(super) fn from_sqlite(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => sqlx::Error::Database(Box::new(SqliteRefusal {
            code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        other => sqlx::Error::Protocol(format!("SQLite: {other}")),
    }
}

impl DatabaseError for SqliteRefusal {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_statement;

    #[test]
    fn one_statement_is_told_from_several() {
        for one in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1 ;  \n",
            "SELECT ';' AS x",
            "SELECT \"a;b\" FROM t",
            "SELECT 1 -- a; b\n",
        ] {
            assert!(one_statement(one), "{one:?}");
        }
        for several in ["SELECT 1; SELECT 2", "UPDATE t SET a = ';'; DELETE FROM t", "SELECT 1;\nSELECT 2;"] {
            assert!(!one_statement(several), "{several:?}");
        }
    }
}
