//! Unit tests of the in-process indexes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// `n` normalised vectors around `clusters` random centres (gaussian-ish noise).
fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| {
            let mut c: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            normalize(&mut c);
            c
        })
        .collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % clusters];
            let mut v: Vec<f32> = c
                .iter()
                .map(|x| x + rng.random_range(-0.08..0.08f32))
                .collect();
            normalize(&mut v);
            v
        })
        .collect()
}

fn recall(got: &[(u64, f32)], truth: &[(u64, f32)]) -> f64 {
    let hits = got
        .iter()
        .filter(|(k, _)| truth.iter().any(|(t, _)| t == k))
        .count();
    hits as f64 / truth.len().max(1) as f64
}

#[test]
fn exact_top_k_is_best_first_and_skips_wrong_lengths() {
    let vs: [(u64, Vec<f32>); 4] = [
        (1, vec![1.0, 0.0]),
        (2, vec![0.0, 1.0]),
        (3, vec![0.6, 0.8]),
        (4, vec![1.0, 0.0, 0.0]),
    ];
    let top = exact_top_k(vs.iter().map(|(k, v)| (*k, &v[..])), &[1.0, 0.0], 2);
    assert_eq!(top.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 3]);
    assert!((top[1].1 - 0.6).abs() < 1e-6);
    assert!(exact_top_k(vs.iter().map(|(k, v)| (*k, &v[..])), &[1.0, 0.0], 0).is_empty());
}

#[test]
fn hnsw_recall_at_10_matches_exact() {
    let data = clustered(4_000, 48, 40, 7);
    let mut hnsw = HnswIndex::new(48, HnswParams::default());
    for (i, v) in data.iter().enumerate() {
        hnsw.insert(i as u64, v.clone()).unwrap();
    }
    assert_eq!(hnsw.len(), 4_000);
    let queries = clustered(100, 48, 40, 8);
    let mut total = 0.0;
    for q in &queries {
        let truth = exact_top_k(hnsw.iter(), q, 10);
        let got = hnsw.search(q, 10, |_| true);
        assert_eq!(got.len(), 10);
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        total += recall(&got, &truth);
    }
    let mean = total / queries.len() as f64;
    assert!(mean >= 0.9, "recall@10 = {mean}");
    // A wider search approaches the exact answer (the graph is sound).
    hnsw.set_ef_search(400);
    let mut total = 0.0;
    for q in &queries {
        let truth = exact_top_k(hnsw.iter(), q, 10);
        total += recall(&hnsw.search(q, 10, |_| true), &truth);
    }
    let wide = total / queries.len() as f64;
    assert!(wide >= 0.99, "recall@10 at ef 400 = {wide}");
}

#[test]
fn hnsw_is_deterministic() {
    let data = clustered(500, 16, 10, 3);
    let build = || {
        let mut h = HnswIndex::new(16, HnswParams::default());
        for (i, v) in data.iter().enumerate() {
            h.insert(i as u64, v.clone()).unwrap();
        }
        h
    };
    let (a, b) = (build(), build());
    for q in data.iter().take(20) {
        assert_eq!(a.search(q, 5, |_| true), b.search(q, 5, |_| true));
    }
}

#[test]
fn hnsw_remove_replace_and_rebuild() {
    let data = clustered(600, 16, 12, 5);
    let mut h = HnswIndex::new(16, HnswParams::default());
    for (i, v) in data.iter().enumerate() {
        h.insert(i as u64, v.clone()).unwrap();
    }
    // Removed keys never come back.
    assert!(h.remove(0));
    assert!(!h.remove(0));
    assert!(!h.contains(0));
    let got = h.search(&data[0], 10, |_| true);
    assert!(got.iter().all(|(k, _)| *k != 0));
    // Replace: key 1 now holds key 2's vector.
    h.insert(1, data[2].clone()).unwrap();
    assert_eq!(h.len(), 599);
    let got = h.search(&data[2], 2, |_| true);
    let keys: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert!(keys.contains(&1) && keys.contains(&2), "{keys:?}");
    // Remove more than half: the graph is rebuilt and still answers exactly enough.
    for i in 3..400u64 {
        assert!(h.remove(i));
    }
    assert_eq!(h.len(), 202);
    let q = &data[500];
    let truth = exact_top_k(h.iter(), q, 10);
    assert!(recall(&h.search(q, 10, |_| true), &truth) >= 0.9);
    // Remove everything.
    let keys: Vec<u64> = h.iter().map(|(k, _)| k).collect();
    for k in keys {
        h.remove(k);
    }
    assert!(h.is_empty());
    assert!(h.search(q, 10, |_| true).is_empty());
}

#[test]
fn wrong_dimension_and_non_finite_are_typed_errors() {
    let mut h = HnswIndex::new(3, HnswParams::default());
    assert_eq!(
        h.insert(1, vec![1.0, 0.0]),
        Err(VectorError::Dimension {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        h.insert(1, vec![1.0, f32::NAN, 0.0]),
        Err(VectorError::NonFinite { index: 1 })
    );
    let mut v = VectorIndex::new(3);
    assert!(matches!(
        v.insert(1, vec![0.0; 4]),
        Err(VectorError::Dimension { .. })
    ));
    assert!(v.is_empty());
    assert!(h.search(&[1.0, 0.0], 1, |_| true).is_empty());
}

#[test]
fn filter_is_applied_during_search_even_when_selective() {
    let data = clustered(3_000, 32, 30, 11);
    let mut h = HnswIndex::new(32, HnswParams::default());
    for (i, v) in data.iter().enumerate() {
        h.insert(i as u64, v.clone()).unwrap();
    }
    for (name, modulo) in [("half", 2u64), ("1 %", 100), ("0.1 %", 1_000)] {
        let filter = |k: u64| k.is_multiple_of(modulo);
        let q = &data[1];
        let got = h.search(q, 10, filter);
        let truth = exact_top_k(h.iter().filter(|(k, _)| filter(*k)), q, 10);
        assert_eq!(got.len(), truth.len(), "{name}");
        assert!(got.iter().all(|(k, _)| filter(*k)), "{name}");
        assert!(recall(&got, &truth) >= 0.9, "{name}: {got:?} vs {truth:?}");
    }
    assert!(h.search(&data[0], 10, |_| false).is_empty());
}

#[test]
fn vector_index_switches_to_hnsw_and_back() {
    let data = clustered(300, 16, 6, 13);
    let mut idx = VectorIndex::with_threshold(16, 100, HnswParams::default());
    for (i, v) in data.iter().enumerate().take(99) {
        idx.insert(i as u64, v.clone()).unwrap();
    }
    assert!(!idx.is_hnsw());
    let exact_answer = idx.search(&data[0], 5, |_| true);
    idx.insert(99, data[99].clone()).unwrap();
    assert!(idx.is_hnsw());
    for (i, v) in data.iter().enumerate().skip(100) {
        idx.insert(i as u64, v.clone()).unwrap();
    }
    assert_eq!(idx.len(), 300);
    assert!(idx.contains(299));
    // Replace and remove in HNSW mode.
    idx.insert(5, data[7].clone()).unwrap();
    assert_eq!(idx.len(), 300);
    assert!(idx.remove(299));
    assert!(!idx.contains(299));
    for i in 0..260u64 {
        idx.remove(i);
    }
    assert!(!idx.is_hnsw(), "back to exact below threshold / 2");
    assert_eq!(idx.len(), 39);
    assert!(
        idx.search(&data[270], 50, |_| true)
            .iter()
            .all(|(k, _)| (260..299).contains(k))
    );
    assert_eq!(exact_answer.len(), 5);
    assert_eq!(exact_answer[0].0, 0);
}

#[test]
fn exact_index_replace_and_remove() {
    let mut e = ExactIndex::new(2);
    e.insert(1, vec![1.0, 0.0]).unwrap();
    e.insert(2, vec![0.0, 1.0]).unwrap();
    e.insert(3, vec![0.6, 0.8]).unwrap();
    e.insert(1, vec![0.0, -1.0]).unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e.search(&[1.0, 0.0], 1, |_| true)[0].0, 3);
    assert!(e.remove(3));
    assert!(!e.remove(3));
    assert_eq!(e.search(&[0.0, 1.0], 2, |_| true)[0].0, 2);
    assert_eq!(e.search(&[0.0, -1.0], 1, |k| k != 2)[0].0, 1);
}

#[test]
fn indexes_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<HnswIndex>();
    assert_send_sync::<VectorIndex>();
    assert_send_sync::<ExactIndex>();
}

#[test]
fn a_huge_k_is_not_an_allocation_size() {
    let mut index = HnswIndex::new(4, HnswParams::default());
    index.insert(1, vec![1.0, 0.0, 0.0, 0.0]).unwrap();
    index.insert(2, vec![0.0, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        index
            .search(&[1.0, 0.0, 0.0, 0.0], usize::MAX, |_| true)
            .len(),
        2
    );
    let rows = [(1u64, vec![1.0f32, 0.0]), (2, vec![0.0, 1.0])];
    let top = exact_top_k(
        rows.iter().map(|(k, v)| (*k, v.as_slice())),
        &[1.0, 0.0],
        usize::MAX,
    );
    assert_eq!(top.len(), 2);
}
