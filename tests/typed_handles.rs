//! Typed handles: tell/ask/call with replies inferred from the agent, reply ports, JSON access
//! as an opt-in, errors that keep their cause across agents, the actix bridge.

mod common;
mod support;

use std::time::Duration;

use agent_os_kernel::prelude::*;
use support::*;

/// An agent with a reply type per message.
#[derive(Default)]
struct Store {
    items: Vec<String>,
}

enum StoreMsg {
    Put(String),
    Count(ReplyPort<usize>),
    List(ReplyPort<Vec<String>>),
    /// Answers later, from a task of its own.
    CountLater(ReplyPort<usize>, u64),
    /// Drops the port without answering.
    Forget(ReplyPort<usize>),
    /// Never answers in time.
    Slow(ReplyPort<usize>, u64),
    /// Panics while holding the port.
    Crash(ReplyPort<usize>),
    /// Returns an error while holding the port.
    Refuse(ReplyPort<usize>),
}

impl Agent for Store {
    type Msg = StoreMsg;
    type Reply = ();

    async fn handle(&mut self, msg: StoreMsg, _ctx: &mut AgentContext) -> Result<(), AgentError> {
        match msg {
            StoreMsg::Put(item) => self.items.push(item),
            StoreMsg::Count(reply) => reply.send(self.items.len()),
            StoreMsg::List(reply) => reply.send(self.items.clone()),
            StoreMsg::CountLater(reply, ms) => {
                let n = self.items.len();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    reply.send(n);
                });
            }
            StoreMsg::Forget(reply) => drop(reply),
            StoreMsg::Slow(reply, ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                reply.send(0);
            }
            StoreMsg::Crash(_reply) => panic!("store crashed"),
            StoreMsg::Refuse(_reply) => return Err(AgentError::invalid("refused")),
        }
        Ok(())
    }
}

/// One reply type for every message; not serde.
#[derive(Default)]
struct Total(u64);

struct Add(u64);

impl Agent for Total {
    type Msg = Add;
    type Reply = u64;
    async fn handle(&mut self, Add(n): Add, _: &mut AgentContext) -> Result<u64, AgentError> {
        self.0 += n;
        Ok(self.0)
    }
}

#[test]
fn handles_are_clone_send_sync_and_debug() {
    fn assert_handle<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_handle::<AgentRef<Total>>();
    assert_handle::<AgentRef<Store>>();
    fn assert_send<T: Send>() {}
    assert_send::<agent_os_kernel::Ask<Total>>();
    assert_send::<agent_os_kernel::Call<Store, usize>>();
}

#[actix_rt::test]
async fn typed_tell_ask_and_call_infer_their_replies() {
    let (k, _db) = kernel().await;
    let total = k
        .spawn(Total::default, SpawnOptions::new("total"))
        .await
        .unwrap();
    total.tell(Add(40)).await.unwrap();
    total.try_tell(Add(1)).unwrap();
    let sum = total.ask(Add(1)).await.unwrap();
    assert_eq!(sum, 42u64);

    let store = k
        .spawn(Store::default, SpawnOptions::new("store"))
        .await
        .unwrap();
    store.tell(StoreMsg::Put("a".into())).await.unwrap();
    store.tell(StoreMsg::Put("b".into())).await.unwrap();
    let count = store.call(StoreMsg::Count).await.unwrap();
    let list = store.call(StoreMsg::List).await.unwrap();
    assert_eq!(count, 2usize);
    assert_eq!(list, vec!["a".to_string(), "b".to_string()]);
    // A port moved into a task and answered after the handler returned.
    let later = store
        .call(|r| StoreMsg::CountLater(r, 30))
        .timeout(LONG)
        .await
        .unwrap();
    assert_eq!(later, 2);
    // Handles are cheap clones naming the same agent.
    let again = store.clone();
    assert_eq!(again, store);
    assert_eq!(again.pid(), store.pid());
    assert!(format!("{store:?}").contains("Store"));
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_reply_port_times_out_is_lost_to_a_crash_or_an_error_or_is_dropped() {
    let (k, _db) = kernel().await;
    let store = k
        .spawn(Store::default, SpawnOptions::new("ports"))
        .await
        .unwrap();
    let pid = store.pid();

    let r = store
        .call(|reply| StoreMsg::Slow(reply, 300))
        .timeout(Duration::from_millis(20))
        .await;
    assert!(
        matches!(r, Err(IpcError::Timeout { pid: p, .. }) if p == pid),
        "{r:?}"
    );

    let r = store.call(StoreMsg::Crash).timeout(LONG).await;
    assert!(
        matches!(&r, Err(IpcError::Crashed { reason, .. }) if reason == "store crashed"),
        "{r:?}"
    );

    let r = store.call(StoreMsg::Refuse).timeout(LONG).await;
    assert!(
        matches!(&r, Err(IpcError::Handler { error, .. }) if matches!(**error, AgentError::Invalid(_))),
        "{r:?}"
    );

    let r = store.call(StoreMsg::Forget).timeout(LONG).await;
    assert!(matches!(r, Err(IpcError::NoReply(p)) if p == pid), "{r:?}");

    // The agent was restarted after the crash and still answers.
    assert_eq!(store.call(StoreMsg::Count).await.unwrap(), 0);
    assert_eq!(k.status(pid).unwrap().restarts, 1);

    // Killed while holding a port: the caller hears why.
    let slow = tokio::spawn(store.call(|r| StoreMsg::Slow(r, 5_000)).timeout(LONG));
    // Being handled: sent, taken from the mailbox, and running (a `Running` seen before the
    // message is taken would be the previous message's). The handler sleeps 5 s.
    assert!(
        eventually(LONG, || k.status(pid).unwrap().mailbox_len == 1
            || k.status(pid).unwrap().state == AgentState::Running)
        .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        eventually(LONG, || {
            let s = k.status(pid).unwrap();
            s.state == AgentState::Running && s.mailbox_len == 0
        })
        .await
    );
    k.kill(pid).await.unwrap();
    let r = slow.await.unwrap();
    assert!(
        matches!(r, Err(IpcError::Interrupted { why: "killed", .. })),
        "{r:?}"
    );
    // Gone for good: later sends name the missing agent.
    let r = store.tell(StoreMsg::Put("x".into())).await;
    assert!(
        matches!(r, Err(IpcError::NoSuchAgent(p)) if p == pid),
        "{r:?}"
    );
    assert!(store.is_terminated());
    k.shutdown().await;
}

#[actix_rt::test]
async fn json_needs_the_opt_in_and_is_refused_with_a_typed_error_naming_the_agent() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let closed = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("typed-only"))
        .await
        .unwrap();
    let r = k
        .send_json(closed.pid(), serde_json::json!({"Record": 1}))
        .await;
    assert!(
        matches!(&r, Err(IpcError::NoJsonAccess { name, pid }) if name == "typed-only" && *pid == closed.pid()),
        "{r:?}"
    );
    let r = k
        .ask_json(closed.pid(), serde_json::json!("Log"), SEC)
        .await;
    assert!(matches!(r, Err(IpcError::NoJsonAccess { .. })), "{r:?}");
    assert!(!k.status(closed.pid()).unwrap().json);

    let open = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("open"))
        .json()
        .await
        .unwrap();
    k.send_json(open.pid(), serde_json::json!({"Record": 3}))
        .await
        .unwrap();
    let reply = k
        .ask_json(open.pid(), serde_json::json!("Log"), SEC)
        .await
        .unwrap();
    assert_eq!(reply["log"], serde_json::json!([3]));
    assert!(k.status(open.pid()).unwrap().json);
    // Nothing reached the closed agent.
    assert!(closed.ask(Cmd::Log).await.unwrap().log == vec![3]);
    k.shutdown().await;
}

/// Asks the next agent in a chain and returns its answer with `?`, so failures travel up.
struct Hop {
    next: Option<AgentRef<Hop>>,
    behaviour: Leaf,
}

#[derive(Clone, Copy)]
enum Leaf {
    Sleep,
    Panic,
}

impl Agent for Hop {
    type Msg = Duration;
    type Reply = u32;
    async fn handle(&mut self, timeout: Duration, _: &mut AgentContext) -> Result<u32, AgentError> {
        match &self.next {
            // The next hop gets half the time, so the deepest timeout fires first.
            Some(next) => Ok(next.ask(timeout / 2).timeout(timeout).await? + 1),
            None => match self.behaviour {
                Leaf::Sleep => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(0)
                }
                Leaf::Panic => panic!("leaf failed"),
            },
        }
    }
}

async fn chain(k: &Kernel, leaf: Leaf) -> (AgentRef<Hop>, AgentRef<Hop>) {
    let c = k
        .spawn(
            move || Hop {
                next: None,
                behaviour: leaf,
            },
            SpawnOptions::new("c"),
        )
        .await
        .unwrap();
    let c2 = c.clone();
    let b = k
        .spawn(
            move || Hop {
                next: Some(c2.clone()),
                behaviour: leaf,
            },
            SpawnOptions::new("b"),
        )
        .await
        .unwrap();
    let b2 = b.clone();
    let a = k
        .spawn(
            move || Hop {
                next: Some(b2.clone()),
                behaviour: leaf,
            },
            SpawnOptions::new("a"),
        )
        .await
        .unwrap();
    (a, c)
}

#[actix_rt::test]
async fn an_error_that_crossed_two_agents_still_matches_as_timeout_or_crashed() {
    let (k, _db) = kernel().await;
    let (a, c) = chain(&k, Leaf::Sleep).await;
    let err = a
        .ask(Duration::from_millis(400))
        .timeout(LONG)
        .await
        .unwrap_err();
    // a's handler returned b's failure, which was c's timeout.
    assert!(
        matches!(err, IpcError::Handler { pid, .. } if pid == a.pid()),
        "{err:?}"
    );
    assert!(
        matches!(err.root_cause(), IpcError::Timeout { pid, .. } if *pid == c.pid()),
        "{err:?}"
    );
    // The chain of causes is kept for `std::error::Error` users and for JSON.
    let mut depth = 0;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = cur {
        depth += 1;
        cur = e.source();
    }
    assert_eq!(depth, 5, "Handler(a) → Ipc → Handler(b) → Ipc → Timeout(c)");
    let view = ErrorViewExt::of(&err);
    assert_eq!(view.kind, "handler");
    let mut leaf = &view;
    while let Some(c) = &leaf.cause {
        leaf = c;
    }
    assert_eq!(leaf.kind, "timeout");
    assert_eq!(leaf.pid, Some(c.pid()));

    let (a, c) = chain(&k, Leaf::Panic).await;
    let err = a.ask(LONG).await.unwrap_err();
    assert!(
        matches!(err.root_cause(), IpcError::Crashed { pid, reason } if *pid == c.pid() && reason == "leaf failed"),
        "{err:?}"
    );
    k.shutdown().await;
}

/// `ErrorView` by its full path (it is not in the prelude).
use agent_os_kernel::ErrorView as ErrorViewExt;

#[actix_rt::test]
async fn an_agent_gets_its_own_handle_and_a_pid_becomes_a_handle_once() {
    struct Me;
    impl Agent for Me {
        type Msg = bool;
        type Reply = Option<Pid>;
        async fn handle(
            &mut self,
            right: bool,
            ctx: &mut AgentContext,
        ) -> Result<Option<Pid>, AgentError> {
            if right {
                Ok(Some(ctx.myself::<Me>()?.pid()))
            } else {
                ctx.myself::<Total>()
                    .map(|_| None)
                    .map_err(AgentError::from)
            }
        }
    }
    let (k, _db) = kernel().await;
    let me = k.spawn(|| Me, SpawnOptions::new("me")).await.unwrap();
    assert_eq!(me.ask(true).await.unwrap(), Some(me.pid()));
    let err = me.ask(false).await.unwrap_err();
    assert!(
        matches!(err.root_cause(), IpcError::WrongAgentType { expected, .. } if expected.contains("Total")),
        "{err:?}"
    );
    let again: AgentRef<Me> = k.agent_ref(me.pid()).unwrap();
    assert_eq!(again.ask(true).await.unwrap(), Some(me.pid()));
    assert!(matches!(
        k.agent_ref::<Me>(Pid::new()),
        Err(IpcError::NoSuchAgent(_))
    ));
    k.shutdown().await;
}

mod bridge {
    use actix::prelude::*;
    use agent_os_kernel::prelude::*;

    use super::{Add, Total};

    /// A plain actix actor that reaches an agent through actix's own vocabulary.
    struct Forwarder {
        to: Recipient<Deliver<Add, u64>>,
    }

    impl Actor for Forwarder {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "Result<u64, String>")]
    struct Bump(u64);

    impl Handler<Bump> for Forwarder {
        type Result = ResponseFuture<Result<u64, String>>;
        fn handle(&mut self, Bump(n): Bump, _: &mut Context<Self>) -> Self::Result {
            self.to.do_send(Deliver::new(Add(n)));
            let to = self.to.clone();
            Box::pin(async move {
                match to.send(Deliver::new(Add(0))).await {
                    Ok(Ok(total)) => Ok(total),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            })
        }
    }

    #[actix_rt::test]
    async fn an_actix_actor_messages_an_agent_through_a_recipient() {
        let (k, _db) = crate::support::kernel().await;
        let total = k
            .spawn(Total::default, SpawnOptions::new("total"))
            .await
            .unwrap();
        let fwd = Forwarder {
            to: total.recipient(),
        }
        .start();
        assert_eq!(fwd.send(Bump(40)).await.unwrap(), Ok(40));
        assert_eq!(fwd.send(Bump(2)).await.unwrap(), Ok(42));
        assert_eq!(total.ask(Add(0)).await.unwrap(), 42);
        k.kill(total.pid()).await.unwrap();
        let r = fwd.send(Bump(1)).await.unwrap();
        assert!(r.is_err(), "{r:?}");
        k.shutdown().await;
    }
}
