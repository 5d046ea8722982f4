//! Vector search in the database (`storage::vector::{nearest, load_embeddings}`) on real SQLite
//! and real PostgreSQL (pgvector HNSW), plus the plan PostgreSQL picks.

mod common;

use agent_os_kernel::storage::embedding::{EmbeddingTable, set_embedding};
use agent_os_kernel::storage::entities::page;
use agent_os_kernel::storage::vector::{
    NearestQuery, Neighbour, explain_nearest, load_embeddings, nearest, normalize,
};
use agent_os_kernel::storage::{Backend, Storage, StorageError};
use chrono::Utc;
use common::test_storage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue, ConnectionTrait, EntityTrait};

async fn add_page(storage: &Storage, id: &str, pid: &str, resident: bool, embedding: &[f32]) {
    let now = Utc::now();
    let row = page::ActiveModel {
        id: ActiveValue::Set(id.into()),
        pid: ActiveValue::Set(pid.into()),
        content: ActiveValue::Set(format!("page {id}")),
        tokens: ActiveValue::Set(2),
        importance: ActiveValue::Set(0.5),
        pinned: ActiveValue::Set(false),
        kind: ActiveValue::Set("message".into()),
        metadata: ActiveValue::Set(serde_json::json!({})),
        access_count: ActiveValue::Set(0),
        created_at: ActiveValue::Set(now),
        updated_at: ActiveValue::Set(now),
        accessed_at: ActiveValue::Set(now),
        content_hash: ActiveValue::Set(None),
        seq: ActiveValue::Set(0),
        resident: ActiveValue::Set(resident),
    };
    page::Entity::insert(row)
        .exec_without_returning(storage.connection())
        .await
        .unwrap_or_else(|e| panic!("insert page {id}: {e}"));
    let found = set_embedding(storage, EmbeddingTable::Pages, id, Some(embedding))
        .await
        .unwrap_or_else(|e| panic!("set embedding of {id}: {e}"));
    assert!(found);
}

/// A unit vector along axis `axis`, tilted by `tilt` towards axis `axis + 1`.
fn unit(dim: usize, axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[axis % dim] = 1.0;
    v[(axis + 1) % dim] = tilt;
    normalize(&mut v);
    v
}

fn ids(found: &[Neighbour]) -> Vec<&str> {
    found.iter().map(|n| n.id.as_str()).collect()
}

fn query<'a>(vector: &'a [f32], k: usize) -> NearestQuery<'a> {
    NearestQuery {
        table: EmbeddingTable::Pages,
        pid: None,
        swapped_only: false,
        vector,
        k,
    }
}

/// Pages a0..a4 of agent A and b0 of agent B, 384 dims (an indexed dimension); a3, a4 and b0
/// are swapped out. Similarity to the query: a0 > b0 > a1 > a3 > a2 > a4.
async fn seed(storage: &Storage) -> Vec<f32> {
    add_page(storage, "a0", "A", true, &unit(384, 0, 0.0)).await;
    add_page(storage, "a1", "A", true, &unit(384, 0, 0.5)).await;
    add_page(storage, "a2", "A", true, &unit(384, 1, 0.0)).await;
    add_page(storage, "a3", "A", false, &unit(384, 0, 1.5)).await;
    add_page(storage, "a4", "A", false, &unit(384, 9, 0.0)).await;
    add_page(storage, "b0", "B", false, &unit(384, 0, 0.2)).await;
    unit(384, 0, 0.05)
}

async fn most_similar_first(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let q = seed(&storage).await;
    let found = nearest(&storage, query(&q, 3))
        .await
        .unwrap_or_else(|e| panic!("{backend}: nearest: {e}"));
    assert_eq!(ids(&found), ["a0", "b0", "a1"], "{backend}: {found:?}");
    assert!(found[0].similarity > 0.99 && found[0].similarity <= 1.0 + 1e-6);
    assert!(found.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    // k larger than the table: every row with this dimension, best first.
    let all = nearest(&storage, query(&q, 100)).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(nearest(&storage, query(&q, 0)).await.unwrap().is_empty());
}

async fn pid_and_swapped_filters(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let q = seed(&storage).await;
    let mine = NearestQuery {
        pid: Some("A"),
        ..query(&q, 10)
    };
    let found = nearest(&storage, mine).await.unwrap();
    assert_eq!(ids(&found), ["a0", "a1", "a3", "a2", "a4"], "{backend}");
    let swapped = NearestQuery {
        swapped_only: true,
        ..mine
    };
    let found = nearest(&storage, swapped).await.unwrap();
    assert_eq!(ids(&found), ["a3", "a4"], "{backend}");
    let everyone_swapped = NearestQuery {
        pid: None,
        ..swapped
    };
    let found = nearest(&storage, everyone_swapped).await.unwrap();
    assert_eq!(ids(&found), ["b0", "a3", "a4"], "{backend}");
    let nobody = NearestQuery {
        pid: Some("C"),
        ..mine
    };
    assert!(nearest(&storage, nobody).await.unwrap().is_empty());
}

async fn non_indexed_dimension_and_errors(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let q = seed(&storage).await;
    add_page(&storage, "small0", "A", true, &unit(5, 2, 0.0)).await;
    add_page(&storage, "small1", "A", true, &unit(5, 3, 0.0)).await;
    let small = unit(5, 3, 0.2);
    let found = nearest(&storage, query(&small, 10)).await.unwrap();
    assert_eq!(
        ids(&found),
        ["small1", "small0"],
        "{backend}: only 5-dim rows"
    );
    // The 384-dim rows do not see the 5-dim ones.
    assert_eq!(nearest(&storage, query(&q, 10)).await.unwrap().len(), 6);

    let swapped_memories = NearestQuery {
        table: EmbeddingTable::Memories,
        swapped_only: true,
        ..query(&q, 3)
    };
    assert!(matches!(
        nearest(&storage, swapped_memories).await,
        Err(StorageError::InvalidInput { .. })
    ));
    assert!(matches!(
        nearest(&storage, query(&[], 3)).await,
        Err(StorageError::InvalidInput { .. })
    ));
    assert!(matches!(
        nearest(&storage, query(&[f32::NAN, 1.0], 3)).await,
        Err(StorageError::InvalidInput { .. })
    ));
}

async fn load_embeddings_round_trip(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    seed(&storage).await;
    let all = load_embeddings(&storage, EmbeddingTable::Pages, "A", false)
        .await
        .unwrap_or_else(|e| panic!("{backend}: load: {e}"));
    let keys: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(keys, ["a0", "a1", "a2", "a3", "a4"]);
    assert_eq!(all[1].1, unit(384, 0, 0.5), "{backend}: byte-identical");
    let swapped = load_embeddings(&storage, EmbeddingTable::Pages, "A", true)
        .await
        .unwrap();
    let keys: Vec<&str> = swapped.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(keys, ["a3", "a4"]);
    assert_eq!(swapped[1].1, unit(384, 9, 0.0));
    assert!(
        load_embeddings(&storage, EmbeddingTable::Memories, "A", false)
            .await
            .unwrap()
            .is_empty()
    );
    // A page without an embedding is left out.
    set_embedding(&storage, EmbeddingTable::Pages, "a2", None)
        .await
        .unwrap();
    assert_eq!(
        load_embeddings(&storage, EmbeddingTable::Pages, "A", false)
            .await
            .unwrap()
            .len(),
        4
    );
}

on_both_backends! {
    most_similar_first => super::most_similar_first;
    filters => super::pid_and_swapped_filters;
    non_indexed_dimension => super::non_indexed_dimension_and_errors;
    load_round_trip => super::load_embeddings_round_trip;
}

fn random_unit(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
    normalize(&mut v);
    v
}

/// The plan with the query vector cut out of each line.
fn short(plan: &[String]) -> String {
    let lines: Vec<String> = plan
        .iter()
        .map(|l| match l.find("'[") {
            Some(i) => format!("{}'[…]'", &l[..i]),
            None => l.clone(),
        })
        .collect();
    lines.join("\n")
}

fn literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("'[{}]'", parts.join(","))
}

/// 3 000 pages of 384 dims over 30 agents: the plan names the HNSW index without a pid
/// filter; with one, the planner may prefer the pid index + an exact sort (fine: one agent's
/// pages are few), and either way the answer holds only that agent's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plan_uses_hnsw_index() {
    let (storage, _guard) = test_storage(Backend::Postgres).await;
    let conn = storage.connection();
    let mut rng = StdRng::seed_from_u64(42);
    for chunk in 0..30 {
        let rows: Vec<String> = (0..100)
            .map(|i| {
                let v = random_unit(&mut rng, 384);
                format!(
                    "('p{chunk}_{i}', 'agent{chunk}', '', 0, 0.5, false, 'message', '{{}}', \
                     now(), now(), now(), {i}, {}, {}::vector, 384)",
                    i % 2 == 0,
                    literal(&v)
                )
            })
            .collect();
        conn.execute_unprepared(&format!(
            "INSERT INTO pages (id, pid, content, tokens, importance, pinned, kind, metadata, \
             created_at, updated_at, accessed_at, seq, resident, embedding, embedding_dim) \
             VALUES {}",
            rows.join(",")
        ))
        .await
        .unwrap_or_else(|e| panic!("bulk insert: {e}"));
    }
    conn.execute_unprepared("ANALYZE pages").await.unwrap();
    let q = random_unit(&mut rng, 384);

    let plan = explain_nearest(&storage, query(&q, 10)).await.unwrap();
    assert!(
        plan.iter()
            .any(|l| l.contains("idx_pages_embedding_384_hnsw")),
        "HNSW index not used without a filter: {plan:#?}"
    );
    let filtered = NearestQuery {
        pid: Some("agent3"),
        ..query(&q, 10)
    };
    let plan = explain_nearest(&storage, filtered).await.unwrap();
    eprintln!("plan with a pid filter:\n{}", short(&plan));
    let found = nearest(&storage, filtered).await.unwrap();
    assert_eq!(found.len(), 10, "a pid filter must not shorten the answer");
    assert!(found.iter().all(|n| n.id.starts_with("p3_")));
    let swapped = NearestQuery {
        pid: None,
        swapped_only: true,
        ..query(&q, 10)
    };
    let plan = explain_nearest(&storage, swapped).await.unwrap();
    eprintln!("plan with swapped_only:\n{}", short(&plan));
    let found = nearest(&storage, swapped).await.unwrap();
    assert_eq!(found.len(), 10);
    let (sqlite, _sqlite_guard) = test_storage(Backend::Sqlite).await;
    assert!(matches!(
        explain_nearest(&sqlite, query(&q, 1)).await,
        Err(StorageError::InvalidInput { .. })
    ));
}
