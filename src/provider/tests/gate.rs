//! The gate's two paths: a call admitted on arrival runs in its caller's task without waiting
//! for the provider actor; a call that has to wait is parked and pumped by the actor. A caller
//! that goes away gives its budget back, and a parked call whose caller left is never sent.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::rate_limits::req;
use super::server::*;
use crate::pid::Pid;
use crate::provider::config::BackendKind;
use crate::provider::{ChatResponse, ProviderError, Providers, Router};

/// Polls until `f` holds (up to 10 s; the generous bound only matters when the code is wrong).
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

/// Starts a chat call (`text` as the user message) as a task of its own.
fn spawn_call(
    router: &Router,
    text: &'static str,
) -> tokio::task::JoinHandle<Result<ChatResponse, ProviderError>> {
    let router = router.clone();
    tokio::task::spawn_local(
        async move { router.chat(req(text), &token(Pid::new(), 1), None).await },
    )
}

fn queued(router: &Router, backend: &str) -> usize {
    router.backend(backend).map_or(0, |h| h.stats().queued)
}

#[actix_rt::test]
async fn an_admitted_call_does_not_wait_for_the_actor_and_a_parked_one_does() {
    let hold = Arc::new(Notify::new());
    let h = hold.clone();
    let srv = serve(move |hit| {
        let h = h.clone();
        async move {
            let text = last_user(&hit.body);
            if text == "first" {
                h.notified().await;
            }
            json_response(200, &openai_completion(&text, 5), &[])
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    // The provider actor lives on its own arbiter, which the test then blocks.
    let arbiter = actix::Arbiter::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cfg = one("gated", b);
    assert!(arbiter.spawn_fn(move || {
        let _ = tx.send(Providers::start(&cfg));
    }));
    let p = rx.await.expect("arbiter").expect("start");
    let (block_tx, block_rx) = std::sync::mpsc::channel::<()>();
    assert!(arbiter.spawn_fn(move || {
        let _ = block_rx.recv();
    }));
    // The actor cannot run now; a call the gate admits on arrival still completes.
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        p.router.chat(req("direct"), &token(Pid::new(), 1), None),
    )
    .await
    .expect("an admitted call must not wait for the actor")
    .expect("call");
    assert_eq!(r.content, "direct");
    // Concurrency 1: the first call holds the only slot until the server lets it go, so the
    // second one parks; it is served only once the actor pumps it.
    let call = |text: &'static str| spawn_call(&p.router, text);
    let first = call("first");
    eventually("the first call reached the server", || srv.hits() == 2).await;
    let second = call("second");
    eventually("the second call is parked", || {
        queued(&p.router, "gated") == 1
    })
    .await;
    hold.notify_one();
    let first = first.await.expect("join").expect("first call");
    assert_eq!(first.content, "first");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "a parked call runs only when the actor pumps it"
    );
    assert_eq!(queued(&p.router, "gated"), 1);
    block_tx.send(()).expect("unblock");
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("pumped once the actor runs")
        .expect("join")
        .expect("second call");
    assert_eq!(second.content, "second");
    assert_eq!(srv.hits(), 3);
    arbiter.stop();
}

#[actix_rt::test]
async fn a_caller_that_goes_away_mid_call_gives_its_budget_back() {
    let srv = serve(|hit| async move {
        if hit.n == 0 {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        json_response(200, &openai_completion("ok", 5), &[])
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let p = Providers::start(&one("c", b)).expect("start");
    let gone = tokio::time::timeout(
        Duration::from_millis(300),
        p.router.chat(req("abandoned"), &token(Pid::new(), 1), None),
    )
    .await;
    assert!(
        gone.is_err(),
        "the first call is still waiting for its server"
    );
    let stats = p.router.backend("c").expect("backend").stats();
    assert_eq!(stats.in_flight, 0, "the dropped call's slot is free again");
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        p.router.chat(req("next"), &token(Pid::new(), 1), None),
    )
    .await
    .expect("the next call gets the slot")
    .expect("call");
    assert_eq!(r.content, "ok");
}

#[actix_rt::test]
async fn a_parked_call_whose_caller_left_is_never_sent() {
    let hold = Arc::new(Notify::new());
    let h = hold.clone();
    let srv = serve(move |hit| {
        let h = h.clone();
        async move {
            if hit.n == 0 {
                h.notified().await;
            }
            json_response(200, &openai_completion(&last_user(&hit.body), 5), &[])
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let p = Providers::start(&one("l", b)).expect("start");
    let call = |text: &'static str| spawn_call(&p.router, text);
    let first = call("first");
    eventually("the first call reached the server", || srv.hits() == 1).await;
    let left = call("left");
    eventually("the second call is parked", || queued(&p.router, "l") == 1).await;
    let third = call("third");
    eventually("the third call is parked", || queued(&p.router, "l") == 2).await;
    left.abort();
    let _ = left.await;
    hold.notify_one();
    assert_eq!(first.await.expect("join").expect("first").content, "first");
    assert_eq!(third.await.expect("join").expect("third").content, "third");
    let sent: Vec<String> = srv.log.lock().iter().map(|h| last_user(&h.body)).collect();
    assert_eq!(sent, ["first", "third"]);
}
