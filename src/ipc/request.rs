//! [`Ask`] and [`Call`]: request/reply futures with an optional timeout set as a builder.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::agent::Agent;
use crate::error::IpcError;
use crate::ipc::mailbox::Mailbox;
use crate::pid::Pid;

/// The state of a request: built (its timeout can still change), then running.
enum State<M, P, T> {
    Built {
        msg: M,
        port: P,
        timeout: Option<Duration>,
    },
    Running(BoxFuture<'static, Result<T, IpcError>>),
    Done,
}

impl<M, P, T> State<M, P, T> {
    fn set_timeout(&mut self, after: Duration) {
        if let State::Built { timeout, .. } = self {
            *timeout = Some(after);
        }
    }

    /// Starts the request on its first poll (`start` builds the future), then drives it.
    fn poll_with(
        &mut self,
        pid: Pid,
        cx: &mut Context<'_>,
        start: impl FnOnce(M, P, Option<Duration>) -> BoxFuture<'static, Result<T, IpcError>>,
    ) -> Poll<Result<T, IpcError>> {
        if let State::Built { .. } = self
            && let State::Built { msg, port, timeout } = std::mem::replace(self, State::Done)
        {
            *self = State::Running(start(msg, port, timeout));
        }
        match self {
            State::Running(fut) => {
                let out = fut.poll_unpin(cx);
                if out.is_ready() {
                    *self = State::Done;
                }
                out
            }
            State::Built { .. } | State::Done => Poll::Ready(Err(IpcError::Interrupted {
                pid,
                why: "the request was polled after it completed",
            })),
        }
    }
}

/// A pending [`crate::AgentRef::ask`]: await it for the agent's `Reply`.
#[must_use = "an ask does nothing unless it is awaited"]
pub struct Ask<A: Agent> {
    to: Arc<Mailbox<A>>,
    state: State<A::Msg, (), A::Reply>,
}

impl<A: Agent> Ask<A> {
    pub(crate) fn new(to: Arc<Mailbox<A>>, msg: A::Msg) -> Self {
        Ask {
            to,
            state: State::Built {
                msg,
                port: (),
                timeout: None,
            },
        }
    }

    /// Waits at most `after` (instead of `kernel.ask_timeout_ms`) for room and the reply.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.state.set_timeout(after);
        self
    }
}

// The message is moved out by value on the first poll and never pinned.
impl<A: Agent> Unpin for Ask<A> {}

impl<A: Agent> Future for Ask<A> {
    type Output = Result<A::Reply, IpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let to = &this.to;
        this.state.poll_with(to.pid, cx, |msg, (), timeout| {
            let to = to.clone();
            let after = timeout.unwrap_or(to.ask_timeout);
            async move { to.ask(msg, after).await }.boxed()
        })
    }
}

impl<A: Agent> fmt::Debug for Ask<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask").field("to", &self.to.pid).finish()
    }
}

/// A pending [`crate::AgentRef::call`]: await it for the reply port's `T`.
#[must_use = "a call does nothing unless it is awaited"]
pub struct Call<A: Agent, T> {
    to: Arc<Mailbox<A>>,
    state: State<A::Msg, oneshot::Receiver<T>, T>,
}

impl<A: Agent, T: Send + 'static> Call<A, T> {
    pub(crate) fn new(to: Arc<Mailbox<A>>, msg: A::Msg, port: oneshot::Receiver<T>) -> Self {
        Call {
            to,
            state: State::Built {
                msg,
                port,
                timeout: None,
            },
        }
    }

    /// Waits at most `after` (instead of `kernel.ask_timeout_ms`) for room and the answer.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.state.set_timeout(after);
        self
    }
}

// The message and the port are moved out by value on the first poll and never pinned.
impl<A: Agent, T> Unpin for Call<A, T> {}

impl<A: Agent, T: Send + 'static> Future for Call<A, T> {
    type Output = Result<T, IpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let to = &this.to;
        this.state.poll_with(to.pid, cx, |msg, port, timeout| {
            let to = to.clone();
            let after = timeout.unwrap_or(to.ask_timeout);
            async move { to.call(msg, port, after).await }.boxed()
        })
    }
}

impl<A: Agent, T> fmt::Debug for Call<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("to", &self.to.pid)
            .field("answer", &std::any::type_name::<T>())
            .finish()
    }
}
