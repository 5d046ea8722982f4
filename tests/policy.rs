//! The security policy through the kernel: whom an agent may message and which models it may
//! call, refused with a typed error and a `PolicyDenied` event; `[security]` defaults and
//! per-spawn overrides; a bad policy named by its key.

mod common;
mod support;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, Message};
use agent_os_kernel::security::policy::AllowBlock;
use agent_os_kernel::{
    AuditQuery, KernelConfig, KernelEvent, LlmError, PermissionLevel, SecurityPolicy,
};
use support::{eventually, kernel, kernel_with};

/// Forwards text to another agent by name, or asks the LLM.
struct Relay;

enum RelayMsg {
    Forward(AgentRef<Sink>),
    Ask(String),
    Share(Pid),
}

impl Agent for Relay {
    type Msg = RelayMsg;
    type Reply = String;
    async fn handle(
        &mut self,
        msg: RelayMsg,
        ctx: &mut AgentContext,
    ) -> Result<String, AgentError> {
        match msg {
            RelayMsg::Forward(to) => {
                to.tell("hello".to_string()).await?;
                Ok("sent".into())
            }
            RelayMsg::Share(with) => {
                let ids = ctx
                    .allocate(agent_os_kernel::pager::NewPage::new(
                        agent_os_kernel::pager::PageKind::Message,
                        "a shared note",
                    ))
                    .await?;
                match ctx.share_page(ids[0], with).await {
                    Ok(()) => Ok("shared".into()),
                    Err(e) => Ok(format!("refused: {e}")),
                }
            }
            RelayMsg::Ask(model) => {
                let r = ctx
                    .llm(ChatRequest::new(model, vec![Message::user("hi")]))
                    .await;
                match r {
                    Err(LlmError::Denied(d)) => Ok(format!("denied: {}", d.reason)),
                    Err(e) => Ok(format!("other: {e}")),
                    Ok(_) => Ok("called".into()),
                }
            }
        }
    }
}

#[derive(Default)]
struct Sink;

impl Agent for Sink {
    type Msg = String;
    type Reply = ();
    async fn handle(&mut self, _msg: String, _ctx: &mut AgentContext) -> Result<(), AgentError> {
        Ok(())
    }
}

#[actix_rt::test]
async fn an_agent_messages_only_the_agents_its_policy_allows() {
    let (k, _db) = kernel().await;
    let mut events = k.events();
    let policy = SecurityPolicy {
        agents: AllowBlock::only(["worker-*"]),
        ..SecurityPolicy::default()
    };
    let relay = k
        .spawn(|| Relay, SpawnOptions::new("relay").policy(policy.clone()))
        .await
        .unwrap();
    let worker = k
        .spawn(Sink::default, SpawnOptions::new("worker-1"))
        .await
        .unwrap();
    let admin = k
        .spawn(Sink::default, SpawnOptions::new("admin"))
        .await
        .unwrap();
    assert_eq!(relay.ask(RelayMsg::Forward(worker)).await.unwrap(), "sent");
    let err = relay
        .ask(RelayMsg::Forward(admin.clone()))
        .await
        .unwrap_err();
    match err.root_cause() {
        IpcError::Denied { pid, denied } => {
            assert_eq!(*pid, admin.pid());
            assert_eq!(denied.action, "ipc.send");
            assert!(denied.reason.contains("allow list"), "{denied}");
        }
        other => panic!("expected a denial, got {other}"),
    }
    let rp = relay.pid();
    assert!(
        eventually(support::SEC, || matches!(events.try_recv(), Ok(KernelEvent::PolicyDenied { pid, ref action, .. }) if pid == rp && action == "ipc.send")).await
    );
    // Outside any agent (user code) there is no sender policy.
    admin.tell("from outside".into()).await.unwrap();
    assert_eq!(k.policy_of(relay.pid()).unwrap(), policy);
    // Both decisions are in the audit log (newest first), and the chain verifies.
    k.audit().flush().await.unwrap();
    let rows = k
        .audit()
        .query(AuditQuery::new().pid(relay.pid()).action("ipc.send"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(!rows[0].record.allowed);
    assert_eq!(rows[0].record.target.as_deref(), Some("admin"));
    assert!(rows[1].record.allowed);
    assert_eq!(rows[1].record.target.as_deref(), Some("worker-1"));
    assert!(k.audit().verify().await.unwrap().is_ok());
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_model_outside_the_policy_is_refused_before_any_call() {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.security.models = AllowBlock::all().blocking(["big-*"]);
    let (k, _db) = kernel_with(cfg).await;
    let relay = k.spawn(|| Relay, SpawnOptions::new("relay")).await.unwrap();
    let answer = relay.ask(RelayMsg::Ask("big-model".into())).await.unwrap();
    assert!(
        answer.starts_with("denied: `big-model` is blocked"),
        "{answer}"
    );
    // Allowed models go on to the provider layer (here: none configured).
    let answer = relay.ask(RelayMsg::Ask("small".into())).await.unwrap();
    assert!(answer.starts_with("other: no LLM backend"), "{answer}");
    k.audit().flush().await.unwrap();
    let calls = k
        .audit()
        .query(AuditQuery::new().pid(relay.pid()).action("llm.call"))
        .await
        .unwrap();
    // Newest first: the allowed call (that failed at the provider layer), then the refusal.
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].record.allowed && calls[0].record.args_digest.is_some());
    assert!(!calls[1].record.allowed);
    assert_eq!(calls[1].record.target.as_deref(), Some("big-model"));
    k.shutdown().await;
}

#[test]
fn a_bad_policy_in_the_configuration_names_its_key() {
    let err = KernelConfig::from_sources(None, [("AOK__SECURITY__ALLOW_UNSANDBOXED", "true")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("security.allow_unsandboxed"), "{err}");
    let cfg = KernelConfig::from_sources(
        None,
        [
            ("AOK__SECURITY__LEVEL", "admin"),
            ("AOK__SECURITY__ALLOW_UNSANDBOXED", "true"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.security.level, PermissionLevel::Admin);
    let err = KernelConfig::from_sources(None, [("AOK__SECURITY__LEVEL", "root")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("security.level") || err.contains("level"),
        "{err}"
    );
}

#[actix_rt::test]
async fn pages_are_shared_only_with_agents_the_policy_allows() {
    let (k, _db) = kernel().await;
    let policy = SecurityPolicy {
        agents: AllowBlock::only(["friend"]),
        ..SecurityPolicy::default()
    };
    let relay = k
        .spawn(|| Relay, SpawnOptions::new("sharer").policy(policy))
        .await
        .unwrap();
    let friend = k
        .spawn(Sink::default, SpawnOptions::new("friend"))
        .await
        .unwrap();
    let stranger = k
        .spawn(Sink::default, SpawnOptions::new("stranger"))
        .await
        .unwrap();
    assert_eq!(
        relay.ask(RelayMsg::Share(friend.pid())).await.unwrap(),
        "shared"
    );
    let answer = relay.ask(RelayMsg::Share(stranger.pid())).await.unwrap();
    assert!(
        answer.starts_with("refused: denied by policy: page.share `stranger`"),
        "{answer}"
    );
    k.shutdown().await;
}
