//! The embedders, on real parts: the lexical embedder; the neural model from the files
//! `scripts/setup-minilm.sh` installs (feature `neural`; missing files fail the test with the
//! setup command, never skip it); the provider embedder through a real kernel whose
//! `openai_compatible` backend is an OpenAI `/v1/embeddings` server started in the test.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent_os_kernel::embed::{
    EmbedError, Embedder, EmbedderConfig, EmbedderKind, LexicalEmbedder, ProviderEmbedder, build,
    cosine,
};
use agent_os_kernel::provider::{BackendConfig, BackendKind};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use support::*;

/// The paraphrase fixture: the right passage shares no keyword with the query; each
/// distractor shares several.
const QUERY: &str = "How do I fix a flat tyre on my bicycle?";
const RIGHT: &str = "Patching the punctured inner tube of a bike wheel";
const DISTRACTORS: [&str; 4] = [
    "How do I fix my leaking kitchen sink?",
    "How do I fix a flat screen TV that will not turn on?",
    "My flat is on the top floor, how do I get a sofa up the stairs?",
    "How do I fix a typo in my thesis?",
];

/// Index of the candidate most similar to the query, and the candidates' scores.
async fn rank(embedder: &dyn Embedder) -> (usize, Vec<f32>) {
    let mut texts = vec![QUERY, RIGHT];
    texts.extend(DISTRACTORS);
    let v = embedder.embed(&texts).await.expect("embeds");
    let scores: Vec<f32> = v[1..].iter().map(|c| cosine(&v[0], c)).collect();
    let best = (0..scores.len())
        .max_by(|a, b| scores[*a].total_cmp(&scores[*b]))
        .expect("candidates");
    eprintln!(
        "{}: right {:.3}, distractors {:.3?}",
        embedder.id(),
        scores[0],
        &scores[1..]
    );
    (best, scores)
}

fn assert_unit(v: &[f32]) {
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
}

#[test]
fn the_paraphrase_fixture_shares_no_keyword_between_query_and_answer() {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 1)
            .map(str::to_owned)
            .collect()
    };
    let query = words(QUERY);
    assert!(words(RIGHT).iter().all(|w| !query.contains(w)));
    for d in DISTRACTORS {
        assert!(
            words(d).iter().filter(|w| query.contains(w)).count() >= 2,
            "{d}"
        );
    }
}

#[tokio::test]
async fn lexical_is_deterministic_normalised_and_of_its_dimension() {
    let e = LexicalEmbedder::new(256);
    assert_eq!(e.id(), "lexical-hash-v1-256");
    assert_eq!(e.kind(), EmbedderKind::Lexical);
    let texts = [
        "the pager evicts the lowest-scoring page",
        "",
        "Grüße aus Köln",
    ];
    let a = e.embed(&texts).await.unwrap();
    let b = LexicalEmbedder::new(256).embed(&texts).await.unwrap();
    assert_eq!(a, b, "identical across instances and calls");
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|v| v.len() == 256));
    assert_unit(&a[0]);
    assert_unit(&a[2]);
    assert!(
        a[1].iter().all(|x| *x == 0.0),
        "empty text is the zero vector"
    );
    // Pinned values: a change to the hashing changes every stored vector (bump the id).
    let v = LexicalEmbedder::new(384).embed_one("page fault");
    let nonzero = v.iter().filter(|x| **x != 0.0).count();
    assert!((10..=20).contains(&nonzero), "{nonzero} features");
}

#[tokio::test]
async fn lexical_puts_texts_sharing_words_closer_than_unrelated_ones() {
    let e = LexicalEmbedder::default();
    let v = e
        .embed(&[
            "the scheduler grants slice tokens to agents",
            "agents wait for slice tokens from the scheduler",
            "a recipe for lemon cake with fresh cream",
        ])
        .await
        .unwrap();
    let (near, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!(
        near > 0.4 && far < 0.15 && near > far,
        "near {near} far {far}"
    );
}

#[tokio::test]
async fn lexical_misses_the_paraphrase() {
    let (best, scores) = rank(&LexicalEmbedder::default()).await;
    assert_ne!(
        best, 0,
        "the lexical embedder matches words, so a distractor wins: {scores:?}"
    );
    assert!(
        scores[1..].iter().all(|d| *d > scores[0]),
        "with no shared word the right passage ranks last: {scores:?}"
    );
}

#[actix_rt::test]
async fn the_neural_kind_without_the_feature_or_files_is_a_typed_error() {
    let (kernel, _db) = kernel_with(KernelConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-model-here");
    let cfg = EmbedderConfig {
        kind: EmbedderKind::Neural,
        model_dir: Some(missing.clone()),
        ..EmbedderConfig::default()
    };
    let err = build(&cfg, &kernel).await.expect_err("no model");
    if cfg!(feature = "neural") {
        let EmbedError::ModelFile { path, .. } = &err else {
            panic!("expected ModelFile, got {err:?}")
        };
        assert_eq!(path, &missing);
        let text = err.to_string();
        assert!(text.contains("no-model-here") && text.contains("scripts/setup-minilm.sh"));
    } else {
        assert!(matches!(err, EmbedError::NeuralNotCompiled), "{err:?}");
    }
    kernel.shutdown().await;
}

#[cfg(feature = "neural")]
mod neural {
    use super::*;
    use agent_os_kernel::embed::MiniLmEmbedder;

    /// The installed model; a missing one fails here with the setup command in the message.
    fn model() -> MiniLmEmbedder {
        let dir = EmbedderConfig::default().resolved_model_dir();
        match MiniLmEmbedder::load(&dir) {
            Ok(m) => m,
            Err(e) => panic!("the neural tests need the model: {e}"),
        }
    }

    #[tokio::test]
    async fn neural_finds_the_paraphrase() {
        let m = model();
        assert_eq!((m.id(), m.dimensions()), ("all-minilm-l6-v2", 384));
        let (best, scores) = rank(&m).await;
        assert_eq!(best, 0, "the right passage ranks first: {scores:?}");
        let runner_up = scores[1..].iter().copied().fold(f32::MIN, f32::max);
        assert!(scores[0] - runner_up > 0.05, "by a margin: {scores:?}");
    }

    #[tokio::test]
    async fn neural_vectors_do_not_depend_on_batching_or_padding() {
        let m = model().with_batch_size(4);
        let long = "word ".repeat(1_000);
        let texts = [
            "a short text",
            "a much longer text that forces the short one to be padded in its batch",
            long.as_str(),
            "",
            "a short text",
        ];
        let batched = m.embed(&texts).await.unwrap();
        assert_eq!(batched.len(), 5);
        for v in &batched {
            assert_eq!(v.len(), 384);
            assert_unit(v);
        }
        let alone = m.embed(&["a short text"]).await.unwrap();
        assert!(
            cosine(&alone[0], &batched[0]) > 0.9999,
            "padding is masked out"
        );
        assert!(cosine(&batched[0], &batched[4]) > 0.9999, "across batches");
        let truncated = m.embed(&[&"word ".repeat(300)]).await.unwrap();
        assert!(
            cosine(&truncated[0], &batched[2]) > 0.9999,
            "texts past 256 tokens are truncated"
        );
    }

    #[test]
    fn a_model_dir_with_bad_or_missing_files_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
        let err = MiniLmEmbedder::load(dir.path()).expect_err("bad config");
        let EmbedError::ModelInvalid { path, .. } = &err else {
            panic!("expected ModelInvalid, got {err:?}")
        };
        assert_eq!(path, &dir.path().join("config.json"));

        let installed = EmbedderConfig::default().resolved_model_dir();
        std::fs::copy(
            installed.join("config.json"),
            dir.path().join("config.json"),
        )
        .unwrap();
        let err = MiniLmEmbedder::load(dir.path()).expect_err("no tokenizer");
        let EmbedError::ModelFile { path, .. } = &err else {
            panic!("expected ModelFile, got {err:?}")
        };
        assert_eq!(path, &dir.path().join("tokenizer.json"));
        assert!(err.to_string().contains("scripts/setup-minilm.sh"));
    }
}

/// An OpenAI `/v1/embeddings` server: the vector of a text is `[len, 1, 0]` (not normalised),
/// or `[len, 1]` for a text containing "short-vector"; counts requests and inputs.
#[derive(Clone, Default)]
struct EmbeddingsServer {
    requests: Arc<AtomicUsize>,
    inputs: Arc<AtomicUsize>,
}

async fn embeddings(State(s): State<EmbeddingsServer>, Json(body): Json<Value>) -> Json<Value> {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    s.inputs.fetch_add(inputs.len(), Ordering::SeqCst);
    // Answered out of order: the client places vectors by `index`.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            let v = if t.contains("short-vector") {
                json!([t.len() as f32, 1.0])
            } else {
                json!([t.len() as f32, 1.0, 0.0])
            };
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    Json(
        json!({"object": "list", "model": body["model"], "data": data,
        "usage": {"prompt_tokens": inputs.len() * 3, "total_tokens": inputs.len() * 3}}),
    )
}

async fn kernel_with_embeddings_server() -> (
    agent_os_kernel::Kernel,
    common::StorageGuard,
    EmbeddingsServer,
) {
    let server = EmbeddingsServer::default();
    let app = axum::Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut cfg = KernelConfig::default();
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(format!("http://{addr}/v1"));
    backend.models = vec!["test-embed".into()];
    cfg.providers.backends.insert("local".into(), backend);
    let (k, guard) = kernel_with(cfg).await;
    (k, guard, server)
}

#[actix_rt::test]
async fn provider_embeds_through_the_router_under_scheduler_slices() {
    let (k, _db, server) = kernel_with_embeddings_server().await;
    let cfg = EmbedderConfig {
        kind: EmbedderKind::Provider,
        model: "test-embed".into(),
        batch_size: 2,
        ..EmbedderConfig::default()
    };
    // `dimensions` unset: one probe call fixes it.
    let e = build(&cfg, &k).await.expect("provider embedder");
    assert_eq!(e.id(), "provider:test-embed");
    assert_eq!(e.kind(), EmbedderKind::Provider);
    assert_eq!(e.dimensions(), 3);
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "the probe");

    let texts = ["a", "abcd", "ab", "abc", "abcdefgh"];
    let v = e.embed(&texts).await.expect("embeds");
    assert_eq!(v.len(), 5);
    for (t, vec) in texts.iter().zip(&v) {
        assert_unit(vec);
        let n = t.len() as f32;
        let norm = (n * n + 1.0).sqrt();
        assert!(
            (vec[0] - n / norm).abs() < 1e-6,
            "in input order, normalised"
        );
    }
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        4,
        "probe + 3 batches of 2"
    );
    assert_eq!(server.inputs.load(Ordering::SeqCst), 6);
    let stats = k.scheduler_stats().await.unwrap();
    assert_eq!(stats.grants, 4, "one slice per attempt");
    assert_eq!(k.providers().ledger.totals().calls, 4);
    k.shutdown().await;
}

#[actix_rt::test]
async fn provider_refuses_a_vector_of_another_dimension_and_charges_the_given_pid() {
    let (k, _db, _server) = kernel_with_embeddings_server().await;
    let agent = agent_os_kernel::Pid::new();
    let e = ProviderEmbedder::new(&k, "test-embed", 3).for_pid(agent);
    assert_eq!(e.pid(), agent);
    let ok = e.embed(&["fine"]).await.expect("3 dims");
    assert_eq!(ok[0].len(), 3);
    let err = e
        .embed(&["fine", "a short-vector text"])
        .await
        .expect_err("2 dims");
    assert!(
        matches!(
            err,
            EmbedError::Dimension {
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(k.providers().ledger.agent_totals(agent).calls, 2);

    let unknown = ProviderEmbedder::new(&k, "no-such-model", 3);
    // The router sends an unlisted model to the first backend; the server answers it.
    assert!(unknown.embed(&["x"]).await.is_ok());
    k.shutdown().await;
}
