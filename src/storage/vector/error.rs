//! The error type of the in-process vector indexes.

/// What can go wrong when adding a vector to an in-process index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// The vector does not have the index's dimension.
    #[error("vector has {got} dimensions, the index holds {expected}-dimensional vectors")]
    Dimension {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// The vector contains a NaN or an infinity.
    #[error("vector component {index} is not a finite number")]
    NonFinite {
        /// The first offending component.
        index: usize,
    },
    /// The index cannot address more nodes (2^32).
    #[error("the index is full")]
    Full,
}

/// Checks `vector` against the index dimension `dim`.
pub(crate) fn check_vector(dim: usize, vector: &[f32]) -> Result<(), VectorError> {
    if vector.len() != dim {
        return Err(VectorError::Dimension {
            expected: dim,
            got: vector.len(),
        });
    }
    match vector.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(VectorError::NonFinite { index }),
        None => Ok(()),
    }
}
