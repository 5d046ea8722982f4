//! `Router`: by topic (published, or a `topic` field; an unknown topic refused) and by an LLM
//! classification through an in-test OpenAI-shaped server (an unknown answer to the fallback).

mod support;

use std::sync::{Arc, Mutex};

use agent_os_actors::{FnWorker, Routed, Router};
use agent_os_kernel::{AgentRef, Kernel, SpawnOptions};
use serde_json::{Value, json};
use support::{config, eventually, kernel_with, last_user, openai_server, text};

type Inbox = Arc<Mutex<Vec<Value>>>;

/// A JSON target that records what it gets.
async fn target(k: &Kernel, name: &str) -> (AgentRef<FnWorker>, Inbox) {
    let inbox: Inbox = Arc::default();
    let i = inbox.clone();
    let worker = FnWorker::new(move |v, _| {
        i.lock().unwrap().push(v.clone());
        Ok(Value::Null)
    });
    let r = k
        .spawn(worker.factory(), SpawnOptions::new(name))
        .json()
        .await
        .unwrap();
    (r, inbox)
}

#[actix_rt::test]
async fn routes_by_topic_published_or_named_in_the_message() {
    let (url, _seen) = openai_server(|_| text("unused")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let (billing, billing_in) = target(&k, "billing").await;
    let (support, support_in) = target(&k, "support").await;
    let router = Router::by_topic([("billing", billing.pid()), ("support", support.pid())]);
    let r = k
        .spawn(router.factory(), SpawnOptions::new("router"))
        .await
        .unwrap();

    let routed = r
        .ask(json!({"topic": "support", "text": "help"}))
        .await
        .unwrap();
    assert_eq!(
        routed,
        Routed {
            route: "support".into(),
            to: support.pid()
        }
    );
    assert_eq!(k.publish("billing", json!({"invoice": 7})).await, 1);
    assert!(eventually(2000, || billing_in.lock().unwrap().len() == 1).await);
    assert!(eventually(2000, || support_in.lock().unwrap().len() == 1).await);
    assert_eq!(billing_in.lock().unwrap()[0], json!({"invoice": 7}));
    assert_eq!(support_in.lock().unwrap()[0]["text"], "help");

    let err = r.ask(json!({"topic": "sales"})).await.unwrap_err();
    assert!(
        err.to_string().contains("no route for topic `sales`"),
        "{err}"
    );
    let err = r.ask(json!({"text": "no topic"})).await.unwrap_err();
    assert!(err.to_string().contains("no topic"), "{err}");
    k.shutdown().await;
}

#[actix_rt::test]
async fn routes_by_llm_classification_and_unknown_names_go_to_the_fallback() {
    let (url, seen) = openai_server(|body| {
        let user = last_user(body);
        if user.contains("invoice") {
            text("Billing.")
        } else if user.contains("crash") {
            text("support")
        } else {
            text("poetry")
        }
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let (billing, billing_in) = target(&k, "billing").await;
    let (support, _support_in) = target(&k, "support").await;
    let (other, other_in) = target(&k, "triage").await;
    let router = Router::by_llm(
        "test-model",
        [("billing", billing.pid()), ("support", support.pid())],
        other.pid(),
    );
    let r = k
        .spawn(router.factory(), SpawnOptions::new("router"))
        .await
        .unwrap();

    let a = r.ask(json!({"text": "my invoice is wrong"})).await.unwrap();
    assert_eq!((a.route.as_str(), a.to), ("billing", billing.pid()));
    let b = r.ask(json!({"text": "the app crashed"})).await.unwrap();
    assert_eq!((b.route.as_str(), b.to), ("support", support.pid()));
    let c = r.ask(json!({"text": "write me a sonnet"})).await.unwrap();
    assert_eq!((c.route.as_str(), c.to), ("fallback", other.pid()));
    assert!(eventually(2000, || billing_in.lock().unwrap().len() == 1).await);
    assert!(eventually(2000, || other_in.lock().unwrap().len() == 1).await);
    assert_eq!(other_in.lock().unwrap()[0]["text"], "write me a sonnet");
    // The model was told the route names.
    let first = seen.lock().unwrap()[0].clone();
    let system = first["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("billing, support"), "{system}");
    k.shutdown().await;
}
