//! Nearest neighbours in the database: pgvector HNSW on PostgreSQL, an exact scan in process on
//! SQLite; and loading a pid's embeddings to rebuild an in-process index.

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TransactionTrait, Value};

use crate::storage::embedding::{EmbeddingTable, read_column};
use crate::storage::vector::exact::{exact_top_k, normalize};
use crate::storage::{Backend, Storage, StorageError};

/// pgvector's `vector` type holds at most this many dimensions.
const PG_MAX_DIM: usize = 16_000;
/// `hnsw.ef_search` is at least this (pgvector's own default is 40).
const MIN_EF_SEARCH: usize = 40;
/// pgvector accepts `hnsw.ef_search` up to this.
const MAX_EF_SEARCH: usize = 1_000;

/// A nearest-neighbour query over the embeddings of `pages` or `memories`.
#[derive(Clone, Copy, Debug)]
pub struct NearestQuery<'a> {
    /// Which table.
    pub table: EmbeddingTable,
    /// Only rows of this owner.
    pub pid: Option<&'a str>,
    /// Only swapped-out pages (`resident = false`); `pages` only.
    pub swapped_only: bool,
    /// The query embedding; rows with another `embedding_dim` are not candidates.
    pub vector: &'a [f32],
    /// How many rows to return at most.
    pub k: usize,
}

/// A row found by [`nearest`].
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    /// The row's id.
    pub id: String,
    /// Cosine similarity to the query (1 = same direction).
    pub similarity: f32,
}

fn invalid(reason: String) -> StorageError {
    StorageError::InvalidInput {
        what: "nearest-neighbour query",
        reason,
    }
}

fn check(query: &NearestQuery<'_>) -> Result<(), StorageError> {
    let dim = query.vector.len();
    if dim == 0 || dim > PG_MAX_DIM {
        return Err(invalid(format!(
            "{dim} dimensions (1..={PG_MAX_DIM} supported)"
        )));
    }
    if let Some(i) = query.vector.iter().position(|x| !x.is_finite()) {
        return Err(invalid(format!("component {i} is not finite")));
    }
    if query.swapped_only && query.table != EmbeddingTable::Pages {
        return Err(invalid("only pages can be swapped out".into()));
    }
    Ok(())
}

/// The `k` rows whose embedding is most similar (cosine) to `query.vector`, best first.
///
/// * **PostgreSQL**: `ORDER BY embedding::vector(N) <=> $q LIMIT k` on rows with
///   `embedding_dim = N`, so for N in [`migrations::INDEXED_EMBEDDING_DIMS`] the partial HNSW
///   index answers it (approximately; an exact scan for other N). In the same transaction
///   `hnsw.ef_search` is raised to at least `2·k` (min 40) and, when a `pid` or `swapped_only`
///   filter applies, `hnsw.iterative_scan = relaxed_order` lets the index scan continue past
///   rejected rows (pgvector ≥ 0.8) — without it a selective filter silently returns fewer
///   than `k` rows. The relaxed order is restored by an outer `ORDER BY`. With a `pid` filter
///   whose owner has at most 10 000 candidate rows, the search is exact instead (the `pid`
///   index, then a sort), which is both faster and complete for a small owner.
/// * **SQLite**: the matching rows' embeddings are loaded and scanned exactly in process
///   (cosine; stored vectors need not be normalised). Fine for one agent's pages; the pager
///   keeps a [`VectorIndex`](crate::storage::vector::VectorIndex) for anything larger.
///
/// Errors: [`StorageError::InvalidInput`] for an empty, too long (> 16 000) or non-finite
/// vector, or `swapped_only` on `memories`; query and decoding errors otherwise.
pub async fn nearest(
    storage: &Storage,
    query: NearestQuery<'_>,
) -> Result<Vec<Neighbour>, StorageError> {
    check(&query)?;
    if query.k == 0 {
        return Ok(Vec::new());
    }
    match storage.backend() {
        Backend::Postgres => pg_nearest(storage, &query).await,
        Backend::Sqlite => sqlite_nearest(storage, &query).await,
    }
}

/// With a pid filter, owners of at most this many candidate rows are searched exactly (through
/// the `pid` btree index): an HNSW scan over every owner's rows finds few of a small owner's
/// rows (recall 0.73 and ≈ 200 ms for a 1 % owner of 100 000 rows, `docs/benchmarks.md`),
/// while an exact scan of a few thousand rows takes milliseconds.
const EXACT_OWNER_ROWS: i64 = 10_000;

/// The PostgreSQL statement of [`nearest`] and its values (`$1` the vector, `$2` the pid).
fn pg_statement(query: &NearestQuery<'_>) -> Statement {
    pg_statement_with(query, false)
}

/// [`pg_statement`], or with `exact` an ORDER BY no index can serve.
fn pg_statement_with(query: &NearestQuery<'_>, exact: bool) -> Statement {
    let dim = query.vector.len();
    let table = query.table.name();
    let mut filters = String::new();
    let mut values: Vec<Value> = vec![Value::Vector(Some(pgvector::Vector::from(
        query.vector.to_vec(),
    )))];
    if let Some(pid) = query.pid {
        filters.push_str(" AND pid = $2");
        values.push(pid.into());
    }
    if query.swapped_only {
        filters.push_str(" AND resident = false");
    }
    let sql = format!(
        "WITH hits AS MATERIALIZED (\
           SELECT id, embedding::vector({dim}) <=> $1 AS distance FROM {table} \
           WHERE embedding_dim = {dim}{filters} \
           ORDER BY {order} LIMIT {k}) \
         SELECT id, (1 - distance)::real AS similarity FROM hits ORDER BY distance, id",
        k = query.k,
        order = if exact {
            format!("(embedding::vector({dim}) <=> $1) + 0")
        } else {
            format!("embedding::vector({dim}) <=> $1")
        }
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn filtered(query: &NearestQuery<'_>) -> bool {
    query.pid.is_some() || query.swapped_only
}

async fn pg_nearest(
    storage: &Storage,
    query: &NearestQuery<'_>,
) -> Result<Vec<Neighbour>, StorageError> {
    let err = |e| storage.query_error("searching nearest embeddings", e);
    let txn = storage.connection().begin().await.map_err(err)?;
    let ef = query
        .k
        .saturating_mul(2)
        .clamp(MIN_EF_SEARCH, MAX_EF_SEARCH);
    txn.execute_unprepared(&format!("SET LOCAL hnsw.ef_search = {ef}"))
        .await
        .map_err(err)?;
    if filtered(query) {
        txn.execute_unprepared("SET LOCAL hnsw.iterative_scan = relaxed_order")
            .await
            .map_err(err)?;
    }
    let exact = match query.pid {
        Some(pid) => {
            let count = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!(
                        "SELECT COUNT(*) AS n FROM {} WHERE pid = $1 AND embedding_dim = {}",
                        query.table.name(),
                        query.vector.len()
                    ),
                    [pid.into()],
                ))
                .await
                .map_err(err)?
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()
                .map_err(err)?
                .unwrap_or(0);
            count <= EXACT_OWNER_ROWS
        }
        None => false,
    };
    let rows = txn
        .query_all_raw(pg_statement_with(query, exact))
        .await
        .map_err(err)?;
    txn.commit().await.map_err(err)?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("", "id").map_err(err)?;
            let similarity: f32 = row.try_get("", "similarity").map_err(err)?;
            Ok(Neighbour { id, similarity })
        })
        .collect()
}

/// `EXPLAIN` of the statement [`nearest`] runs on PostgreSQL for `query`, one line per plan
/// row, with the same settings — to check which index answers it. `InvalidInput` on SQLite.
pub async fn explain_nearest(
    storage: &Storage,
    query: NearestQuery<'_>,
) -> Result<Vec<String>, StorageError> {
    check(&query)?;
    if storage.backend() != Backend::Postgres {
        return Err(invalid("EXPLAIN is only available on PostgreSQL".into()));
    }
    let err = |e| storage.query_error("explaining a nearest-neighbour query", e);
    let statement = pg_statement(&query);
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let txn = storage.connection().begin().await.map_err(err)?;
    if filtered(&query) {
        txn.execute_unprepared("SET LOCAL hnsw.iterative_scan = relaxed_order")
            .await
            .map_err(err)?;
    }
    let rows = txn.query_all_raw(explain).await.map_err(err)?;
    txn.commit().await.map_err(err)?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "QUERY PLAN").map_err(err))
        .collect()
}

async fn sqlite_nearest(
    storage: &Storage,
    query: &NearestQuery<'_>,
) -> Result<Vec<Neighbour>, StorageError> {
    let table = query.table.name();
    let mut sql = format!("SELECT id, embedding FROM {table} WHERE embedding_dim = ?");
    let mut values: Vec<Value> = vec![(query.vector.len() as i64).into()];
    if let Some(pid) = query.pid {
        sql.push_str(" AND pid = ?");
        values.push(pid.into());
    }
    if query.swapped_only {
        sql.push_str(" AND resident = false");
    }
    let rows = storage
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await
        .map_err(|e| storage.query_error("loading embeddings for a nearest search", e))?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut vectors = Vec::with_capacity(rows.len());
    for row in &rows {
        let (id, mut vector) = decode_row(storage, query.table, row, Backend::Sqlite)?;
        if vector.len() != query.vector.len() {
            continue;
        }
        normalize(&mut vector);
        ids.push(id);
        vectors.push(vector);
    }
    let mut q = query.vector.to_vec();
    normalize(&mut q);
    let top = exact_top_k(
        vectors.iter().enumerate().map(|(i, v)| (i as u64, &v[..])),
        &q,
        query.k,
    );
    Ok(top
        .into_iter()
        .map(|(i, similarity)| Neighbour {
            id: ids[i as usize].clone(),
            similarity,
        })
        .collect())
}

/// Decodes `(id, embedding)` of a row; a row whose `embedding_dim` is set must match.
fn decode_row(
    storage: &Storage,
    table: EmbeddingTable,
    row: &QueryResult,
    backend: Backend,
) -> Result<(String, Vec<f32>), StorageError> {
    let corrupt = |what: String, reason: String| StorageError::Corrupt {
        url: storage.url().to_string(),
        what,
        reason,
    };
    let id: String = row
        .try_get("", "id")
        .map_err(|e| corrupt(format!("{}.id", table.name()), e.to_string()))?;
    let what = || format!("{}.embedding of {id}", table.name());
    let vector = read_column(row, backend, "embedding")
        .map_err(|reason| corrupt(what(), reason))?
        .ok_or_else(|| corrupt(what(), "is NULL".into()))?;
    Ok((id, vector))
}

/// Every embedding of `pid`'s rows in `table` (only swapped-out pages with `swapped_only`), as
/// `(id, vector)` in id order — what the pager rebuilds its in-process index from after a
/// restart. Rows without an embedding are left out; a row whose `embedding_dim` disagrees with
/// its vector is [`StorageError::Corrupt`].
pub async fn load_embeddings(
    storage: &Storage,
    table: EmbeddingTable,
    pid: &str,
    swapped_only: bool,
) -> Result<Vec<(String, Vec<f32>)>, StorageError> {
    if swapped_only && table != EmbeddingTable::Pages {
        return Err(invalid("only pages can be swapped out".into()));
    }
    let backend = storage.backend();
    let name = table.name();
    let placeholder = match backend {
        Backend::Postgres => "$1",
        Backend::Sqlite => "?",
    };
    let resident = if swapped_only {
        " AND resident = false"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, embedding, embedding_dim FROM {name} \
         WHERE pid = {placeholder} AND embedding IS NOT NULL{resident} ORDER BY id"
    );
    let rows = storage
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            backend.sea(),
            sql,
            [pid.into()],
        ))
        .await
        .map_err(|e| storage.query_error("loading embeddings", e))?;
    rows.iter()
        .map(|row| {
            let (id, vector) = decode_row(storage, table, row, backend)?;
            let dim: Option<i32> = row.try_get("", "embedding_dim").ok().flatten();
            if dim != i32::try_from(vector.len()).ok() {
                return Err(StorageError::Corrupt {
                    url: storage.url().to_string(),
                    what: format!("{name}.embedding of {id}"),
                    reason: format!(
                        "embedding_dim {dim:?} does not match {} stored dimensions",
                        vector.len()
                    ),
                });
            }
            Ok((id, vector))
        })
        .collect()
}
