//! Raw-SQL helpers shared by the storage repositories (pages, durability): one statement
//! spelling for both backends, value conversions, and execution that counts every data
//! statement on the [`Storage`] handle (see [`Storage::statements_executed`]).

use chrono::Utc;
use sea_orm::{ConnectionTrait, ExecResult, QueryResult, Statement, Value};

use crate::storage::{Backend, Storage, StorageError};

/// Most values bound in one `IN (…)` list; longer lists are split over several statements.
pub(crate) const IN_CHUNK: usize = 500;

/// Builds a statement, writing `?` placeholders as `$n` on Postgres.
pub(crate) fn stmt(backend: Backend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        Backend::Sqlite => sql.to_string(),
        Backend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for ch in sql.chars() {
                if ch == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(ch);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend.sea(), sql, values)
}

/// `n` comma-separated `?` placeholders, for an `IN (…)` list.
pub(crate) fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A `u64` as a `BIGINT` value (saturating at `i64::MAX`).
pub(crate) fn int(v: u64) -> Value {
    Value::BigInt(Some(i64::try_from(v).unwrap_or(i64::MAX)))
}

/// A `u32` as an `INTEGER` value (saturating at `i32::MAX`).
pub(crate) fn int32(v: u32) -> Value {
    Value::Int(Some(i32::try_from(v).unwrap_or(i32::MAX)))
}

/// The current time as a timestamp value.
pub(crate) fn now() -> Value {
    Value::ChronoDateTimeUtc(Some(Utc::now()))
}

/// A byte length as a `BIGINT` value (saturating).
pub(crate) fn len(bytes: &[u8]) -> Value {
    Value::BigInt(Some(i64::try_from(bytes.len()).unwrap_or(i64::MAX)))
}

/// A stored value that cannot be decoded, naming `what` was read.
pub(crate) fn corrupt(storage: &Storage, what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        url: storage.url().to_string(),
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// A stored `BIGINT` that must be non-negative, as `u64`.
pub(crate) fn to_u64(storage: &Storage, what: &str, v: i64) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| corrupt(storage, what, format!("negative value {v}")))
}

/// A stored `INTEGER` that must be non-negative, as `u32`.
pub(crate) fn to_u32(storage: &Storage, what: &str, v: i32) -> Result<u32, StorageError> {
    u32::try_from(v).map_err(|_| corrupt(storage, what, format!("negative value {v}")))
}

/// Reads column `col` of a result row, a decoding failure as [`StorageError::Corrupt`].
pub(crate) fn col<T: sea_orm::TryGetable>(
    storage: &Storage,
    row: &QueryResult,
    col: &str,
) -> Result<T, StorageError> {
    row.try_get("", col).map_err(|e| corrupt(storage, col, e))
}

/// Executes a data statement on `conn` (the pool or a transaction) and counts it.
pub(crate) async fn exec<C: ConnectionTrait>(
    storage: &Storage,
    conn: &C,
    operation: &'static str,
    statement: Statement,
) -> Result<ExecResult, StorageError> {
    storage.count_statement();
    conn.execute_raw(statement)
        .await
        .map_err(|e| storage.query_error(operation, e))
}

/// Runs a query on `conn` and counts it; every result row.
pub(crate) async fn query_all<C: ConnectionTrait>(
    storage: &Storage,
    conn: &C,
    operation: &'static str,
    statement: Statement,
) -> Result<Vec<QueryResult>, StorageError> {
    storage.count_statement();
    conn.query_all_raw(statement)
        .await
        .map_err(|e| storage.query_error(operation, e))
}

/// Runs a query on `conn` and counts it; the first result row, if any.
pub(crate) async fn query_one<C: ConnectionTrait>(
    storage: &Storage,
    conn: &C,
    operation: &'static str,
    statement: Statement,
) -> Result<Option<QueryResult>, StorageError> {
    storage.count_statement();
    conn.query_one_raw(statement)
        .await
        .map_err(|e| storage.query_error(operation, e))
}

/// [`query_all`] of `sql` with `values` on the pool.
pub(crate) async fn fetch_all(
    storage: &Storage,
    operation: &'static str,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, StorageError> {
    let statement = stmt(storage.backend(), sql, values);
    query_all(storage, storage.connection(), operation, statement).await
}

/// [`query_one`] of `sql` with `values` on the pool.
pub(crate) async fn fetch_one(
    storage: &Storage,
    operation: &'static str,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<QueryResult>, StorageError> {
    let statement = stmt(storage.backend(), sql, values);
    query_one(storage, storage.connection(), operation, statement).await
}

/// [`exec`] of `sql` with `values` on the pool; the rows it affected.
pub(crate) async fn run(
    storage: &Storage,
    operation: &'static str,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, StorageError> {
    let statement = stmt(storage.backend(), sql, values);
    let done = exec(storage, storage.connection(), operation, statement).await?;
    Ok(done.rows_affected())
}
