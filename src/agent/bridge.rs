//! Messaging an agent in actix's vocabulary: [`crate::AgentRef::recipient`] gives an actix
//! [`Recipient`](actix::Recipient) of [`Deliver`] messages, so an existing actix actor can
//! `do_send` to an agent (a tell) or `send(..).await` (an ask).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use actix::dev::{MessageResponse, OneshotSender};
use actix::{Context, Handler};

use crate::agent::Agent;
use crate::agent::process::AgentProcess;
use crate::error::IpcError;
use crate::ipc::envelope::Envelope;
use crate::ipc::mailbox::Mailbox;

/// An agent's message as an actix [`Message`](actix::Message): `M` is the agent's `Msg`, `R`
/// its `Reply`. Through a [`Recipient<Deliver<M, R>>`](actix::Recipient), `do_send` is a
/// tell and `send(..).await` an ask with the kernel's default ask timeout (the inner `Result`
/// carries the [`IpcError`]; the outer one is actix's `MailboxError`, e.g. `Closed` once the
/// agent has terminated). Messages keep their order unless a full mailbox under
/// backpressure makes one wait.
///
/// ```no_run
/// use actix::prelude::*;
/// use agent_os_kernel::prelude::*;
///
/// # #[derive(Default)] struct Counter(i64);
/// # impl Agent for Counter {
/// #     type Msg = i64; type Reply = i64;
/// #     async fn handle(&mut self, n: i64, _: &mut AgentContext) -> Result<i64, AgentError> { self.0 += n; Ok(self.0) }
/// # }
/// # async fn demo(counter: AgentRef<Counter>) -> Result<(), Box<dyn std::error::Error>> {
/// let recipient: Recipient<Deliver<i64, i64>> = counter.recipient();
/// recipient.do_send(Deliver::new(40));
/// let total = recipient.send(Deliver::new(2)).await??;
/// assert_eq!(total, 42);
/// # Ok(()) }
/// ```
pub struct Deliver<M, R> {
    msg: M,
    reply: PhantomData<fn() -> R>,
}

impl<M, R> Deliver<M, R> {
    /// Wraps a message.
    pub fn new(msg: M) -> Self {
        Deliver {
            msg,
            reply: PhantomData,
        }
    }

    /// The message.
    pub fn into_inner(self) -> M {
        self.msg
    }
}

impl<M, R> fmt::Debug for Deliver<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliver")
            .field("msg", &std::any::type_name::<M>())
            .field("reply", &std::any::type_name::<R>())
            .finish()
    }
}

impl<M: Send + 'static, R: Send + 'static> actix::Message for Deliver<M, R> {
    type Result = Result<R, IpcError>;
}

/// A delivery on its way into the data lane; it knows whether actix wants the reply.
pub(crate) struct Delivery<A: Agent> {
    mailbox: Option<Arc<Mailbox<A>>>,
    msg: A::Msg,
}

impl<A: Agent> Handler<Deliver<A::Msg, A::Reply>> for AgentProcess<A> {
    type Result = Delivery<A>;

    fn handle(&mut self, d: Deliver<A::Msg, A::Reply>, _ctx: &mut Context<Self>) -> Delivery<A> {
        Delivery {
            mailbox: self.mailbox(),
            msg: d.msg,
        }
    }
}

impl<A: Agent> MessageResponse<AgentProcess<A>, Deliver<A::Msg, A::Reply>> for Delivery<A> {
    fn handle(
        self,
        _ctx: &mut Context<AgentProcess<A>>,
        tx: Option<OneshotSender<Result<A::Reply, IpcError>>>,
    ) {
        let Some(mailbox) = self.mailbox else {
            if let Some(tx) = tx {
                let _ = tx.send(Err(IpcError::ShuttingDown));
            }
            return;
        };
        let pid = mailbox.pid;
        // Enqueued here, in the actor's mailbox order; only a wait for room runs apart.
        let Some(tx) = tx else {
            if mailbox.durable.is_some() {
                actix::spawn(async move {
                    if let Err(e) = mailbox.enqueue(Envelope::tell(self.msg, None)).await {
                        tracing::warn!(%pid, error = %e, "actix delivery refused");
                    }
                });
                return;
            }
            match mailbox.try_enqueue(Envelope::tell(self.msg, None)) {
                Ok(None) => {}
                Ok(Some(env)) => {
                    actix::spawn(async move {
                        if let Err(e) = mailbox.wait_room(env).await {
                            tracing::warn!(%pid, error = %e, "actix delivery dropped");
                        }
                    });
                }
                Err(e) => tracing::warn!(%pid, error = %e, "actix delivery refused"),
            }
            return;
        };
        let request = mailbox.request(self.msg, None);
        actix::spawn(async move {
            let result = match request {
                Ok(request) => mailbox.reply(request, mailbox.ask_timeout).await,
                Err(e) => Err(e),
            };
            let _ = tx.send(result);
        });
    }
}
