//! Embeddings of pages and memories, stored per backend.
//!
//! * PostgreSQL: pgvector `vector` (any dimension) + `embedding_dim`; HNSW partial indexes
//!   exist for the dimensions in [`migrations::INDEXED_EMBEDDING_DIMS`].
//! * SQLite: little-endian `f32` BLOB + `embedding_dim`; similarity is computed in process.
//!
//! The sea-orm models of `pages` / `memories` leave these two columns out (their type differs
//! per backend); this module reads and writes them.

use sea_orm::{ConnectionTrait, Statement, Value};

use crate::storage::{Backend, Storage, StorageError};

/// A table with an `embedding` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingTable {
    /// `pages`: the pager's context pages.
    Pages,
    /// `memories`: long-term memories.
    Memories,
}

impl EmbeddingTable {
    pub(crate) fn name(self) -> &'static str {
        match self {
            EmbeddingTable::Pages => "pages",
            EmbeddingTable::Memories => "memories",
        }
    }
}

/// Encodes a vector as little-endian `f32` bytes (the SQLite column format).
pub fn encode_f32_le(vector: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vector.len() * 4);
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Decodes little-endian `f32` bytes; `None` if the length is not a multiple of 4.
pub fn decode_f32_le(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Sets (or clears, with `None`) the embedding of row `id` in `table`. Returns whether the row
/// exists.
pub async fn set_embedding(
    storage: &Storage,
    table: EmbeddingTable,
    id: &str,
    embedding: Option<&[f32]>,
) -> Result<bool, StorageError> {
    let dim = match embedding {
        Some(v) => Some(
            i32::try_from(v.len()).map_err(|_| StorageError::InvalidInput {
                what: "embedding",
                reason: format!("{} dimensions is too many", v.len()),
            })?,
        ),
        None => None,
    };
    let backend = storage.backend();
    let value = column_value(backend, embedding);
    let sql = match backend {
        Backend::Postgres => format!(
            "UPDATE {} SET embedding = $1, embedding_dim = $2 WHERE id = $3",
            table.name()
        ),
        Backend::Sqlite => format!(
            "UPDATE {} SET embedding = ?, embedding_dim = ? WHERE id = ?",
            table.name()
        ),
    };
    let result = storage
        .connection()
        .execute_raw(Statement::from_sql_and_values(
            backend.sea(),
            sql,
            [value, dim.into(), id.into()],
        ))
        .await
        .map_err(|e| storage.query_error("writing an embedding", e))?;
    Ok(result.rows_affected() > 0)
}

/// The embedding of row `id` in `table`: `None` if the row does not exist or has none.
pub async fn get_embedding(
    storage: &Storage,
    table: EmbeddingTable,
    id: &str,
) -> Result<Option<Vec<f32>>, StorageError> {
    let backend = storage.backend();
    let sql = match backend {
        Backend::Postgres => format!(
            "SELECT embedding, embedding_dim FROM {} WHERE id = $1",
            table.name()
        ),
        Backend::Sqlite => format!(
            "SELECT embedding, embedding_dim FROM {} WHERE id = ?",
            table.name()
        ),
    };
    let row = storage
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            backend.sea(),
            sql,
            [id.into()],
        ))
        .await
        .map_err(|e| storage.query_error("reading an embedding", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |reason: String| StorageError::Corrupt {
        url: storage.url().to_string(),
        what: format!("{}.embedding of {id}", table.name()),
        reason,
    };
    let vector = read_column(&row, backend, "embedding").map_err(corrupt)?;
    let dim: Option<i32> = row
        .try_get("", "embedding_dim")
        .map_err(|e| corrupt(e.to_string()))?;
    if let Some(v) = &vector
        && dim != i32::try_from(v.len()).ok()
    {
        return Err(corrupt(format!(
            "embedding_dim {dim:?} does not match {} stored dimensions",
            v.len()
        )));
    }
    Ok(vector)
}

/// The SQL value of an embedding column on `backend` (`NULL` for `None`).
pub(crate) fn column_value(backend: Backend, embedding: Option<&[f32]>) -> Value {
    match (backend, embedding) {
        (Backend::Postgres, Some(v)) => Value::Vector(Some(pgvector::Vector::from(v.to_vec()))),
        (Backend::Postgres, None) => Value::Vector(None),
        (Backend::Sqlite, Some(v)) => Value::Bytes(Some(encode_f32_le(v))),
        (Backend::Sqlite, None) => Value::Bytes(None),
    }
}

/// Reads the embedding column `col` of a row on `backend`; `Err` names what is wrong.
pub(crate) fn read_column(
    row: &sea_orm::QueryResult,
    backend: Backend,
    col: &str,
) -> Result<Option<Vec<f32>>, String> {
    match backend {
        Backend::Postgres => row
            .try_get::<Option<pgvector::Vector>>("", col)
            .map_err(|e| e.to_string())
            .map(|v| v.map(|v| v.to_vec())),
        Backend::Sqlite => match row
            .try_get::<Option<Vec<u8>>>("", col)
            .map_err(|e| e.to_string())?
        {
            Some(bytes) => decode_f32_le(&bytes)
                .map(Some)
                .ok_or_else(|| format!("{} bytes is not a whole f32 vector", bytes.len())),
            None => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_le_round_trip() {
        let v = [1.0f32, -0.5, 3.25e-3, f32::MAX];
        let bytes = encode_f32_le(&v);
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[0..4], &1.0f32.to_le_bytes());
        assert_eq!(decode_f32_le(&bytes), Some(v.to_vec()));
        assert_eq!(decode_f32_le(&bytes[..3]), None);
    }
}
