//! [`Spread`]: counts and percentiles of a sample.

use serde::{Deserialize, Serialize};

/// How a sample is spread: its size and nearest-rank percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Spread {
    /// Values in the sample.
    pub n: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// Largest value.
    pub max: u64,
}

impl Spread {
    /// The spread of `values` (all zero when empty).
    pub fn of(mut values: Vec<u64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        let rank = |q: usize| {
            // Nearest rank: ceil(q/100 · n), 1-based.
            let r = (q * values.len()).div_ceil(100).max(1);
            values[r - 1]
        };
        Spread {
            n: values.len() as u64,
            p50: rank(50),
            p95: rank(95),
            max: values[values.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(Spread::of(vec![]), Spread::default());
        let s = Spread::of((1..=100).rev().collect());
        assert_eq!((s.n, s.p50, s.p95, s.max), (100, 50, 95, 100));
        let s = Spread::of(vec![7]);
        assert_eq!((s.n, s.p50, s.p95, s.max), (1, 7, 7, 7));
        let s = Spread::of(vec![10, 30, 20]);
        assert_eq!((s.p50, s.p95), (20, 30));
    }
}
