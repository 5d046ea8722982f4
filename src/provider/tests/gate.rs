//! The gate: admission is one awaitable step that needs the provider actor only for its
//! timers; a caller that goes away gives its budget back, and a queued call whose caller left
//! is never sent.

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
    router.backend_stats(backend).map_or(0, |s| s.queued)
}

/// Rule 23: admission is one awaitable step at the gate. A queued call is admitted by
/// whatever frees budget — here the end of the call ahead of it — without the provider actor;
/// only a wait for time (an RPM window entry expiring) needs the actor's timer.
#[actix_rt::test]
async fn admission_needs_the_actor_only_for_its_timers() {
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
    b.rpm = Some(3);
    b.window_ms = 5000;
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
    .expect("an admitted call does not wait for the actor")
    .expect("call");
    assert_eq!(r.content, "direct");
    // Concurrency 1: the first call holds the only slot until the server lets it go, so the
    // second one queues; the first one's end admits it, still without the actor.
    let call = |text: &'static str| spawn_call(&p.router, text);
    let first = call("first");
    eventually("the first call reached the server", || srv.hits() == 2).await;
    let second = call("second");
    eventually("the second call is queued", || {
        queued(&p.router, "gated") == 1
    })
    .await;
    hold.notify_one();
    assert_eq!(first.await.expect("join").expect("first").content, "first");
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("admitted when the first call ended")
        .expect("join")
        .expect("second call");
    assert_eq!(second.content, "second");
    // RPM 3 is used up: the third call waits for a window entry to expire, i.e. for the
    // actor's timer, which cannot fire while its arbiter is blocked.
    let third = call("third");
    eventually("the third call is queued", || {
        queued(&p.router, "gated") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !third.is_finished(),
        "a wait for time needs the actor's timer"
    );
    block_tx.send(()).expect("unblock");
    let third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("admitted once the timer fires")
        .expect("join")
        .expect("third call");
    assert_eq!(third.content, "third");
    assert_eq!(srv.hits(), 4);
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
    let stats = p.router.backend_stats("c").expect("backend");
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
async fn a_queued_call_whose_caller_left_is_never_sent() {
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
    eventually("the second call is queued", || queued(&p.router, "l") == 1).await;
    let third = call("third");
    eventually("the third call is queued", || queued(&p.router, "l") == 2).await;
    left.abort();
    let _ = left.await;
    hold.notify_one();
    assert_eq!(first.await.expect("join").expect("first").content, "first");
    assert_eq!(third.await.expect("join").expect("third").content, "third");
    let sent: Vec<String> = srv.log.lock().iter().map(|h| last_user(&h.body)).collect();
    assert_eq!(sent, ["first", "third"]);
}

/// Rule 26: when the provider actor stops, a call waiting at its gate is answered
/// `Unavailable`, and so is every later call.
#[actix_rt::test]
async fn a_stopped_actor_answers_its_waiting_calls() {
    let hold = Arc::new(Notify::new());
    let h = hold.clone();
    let srv = serve(move |_| {
        let h = h.clone();
        async move {
            h.notified().await;
            json_response(200, &openai_completion("late", 5), &[])
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let arbiter = actix::Arbiter::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cfg = one("stopping", b);
    assert!(arbiter.spawn_fn(move || {
        let _ = tx.send(Providers::start(&cfg));
    }));
    let p = rx.await.expect("arbiter").expect("start");
    let first = spawn_call(&p.router, "first");
    eventually("the first call reached the server", || srv.hits() == 1).await;
    let waiting = spawn_call(&p.router, "waiting");
    eventually("the second call is queued", || {
        queued(&p.router, "stopping") == 1
    })
    .await;
    arbiter.stop();
    let r = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered when the actor stopped")
        .expect("join");
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    let r = p
        .router
        .chat(req("after"), &token(Pid::new(), 1), None)
        .await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    hold.notify_one();
    let _ = first.await;
}
