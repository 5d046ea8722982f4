//! [`AgentRef`]: the typed handle to one agent.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use actix::Recipient;

use crate::agent::{Agent, Deliver};
use crate::error::IpcError;
use crate::ipc::current::Current;
use crate::ipc::envelope::Envelope;
use crate::ipc::mailbox::Mailbox;
use crate::ipc::reply::ReplyPort;
use crate::ipc::request::{Ask, Call};
use crate::pid::Pid;

/// A typed handle to an agent of type `A`, returned by [`crate::Kernel::spawn`] and
/// [`crate::AgentContext::spawn_child`] (or made once from a pid with
/// [`crate::Kernel::agent_ref`]).
///
/// Its messages are `A::Msg` and [`AgentRef::ask`] resolves to `A::Reply`, both checked at
/// compile time: a handle enqueues straight into the agent's bounded mailbox, without a
/// registry lookup or a type check per message. Cheap to clone (one `Arc`), `Send + Sync`,
/// and valid for the agent's whole life: supervisor restarts keep the pid and the mailbox.
/// Once the agent has terminated, sends return [`IpcError::NoSuchAgent`].
///
/// Messages sent from inside a handler carry that agent's pid as their sender
/// ([`crate::AgentContext::sender`] on the receiving side), and the waiting agent shows
/// `Waiting(reply)` while it awaits an `ask` or a `call`.
///
/// ```no_run
/// use agent_os_kernel::prelude::*;
///
/// #[derive(Default)]
/// struct Counter { total: i64 }
///
/// impl Agent for Counter {
///     type Msg = i64;
///     type Reply = i64;
///     async fn handle(&mut self, n: i64, _ctx: &mut AgentContext) -> Result<i64, AgentError> {
///         self.total += n;
///         Ok(self.total)
///     }
/// }
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let kernel = Kernel::builder().build().await?;
///     let counter = kernel.spawn(Counter::default, SpawnOptions::new("counter")).await?;
///     counter.tell(40).await?;
///     let total = counter.ask(2).await?; // an i64, inferred from `Counter::Reply`
///     assert_eq!(total, 42);
///     let slow = counter.ask(0).timeout(std::time::Duration::from_millis(50)).await;
///     println!("{slow:?}");
///     kernel.shutdown().await;
///     Ok(())
/// }
/// ```
pub struct AgentRef<A: Agent> {
    mailbox: Arc<Mailbox<A>>,
}

impl<A: Agent> AgentRef<A> {
    pub(crate) fn new(mailbox: Arc<Mailbox<A>>) -> Self {
        AgentRef { mailbox }
    }

    /// The agent's pid (stable across restarts).
    pub fn pid(&self) -> Pid {
        self.mailbox.pid
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.mailbox.name
    }

    /// Whether the agent has terminated for good (restarts do not count).
    pub fn is_terminated(&self) -> bool {
        self.mailbox.is_closed()
    }

    /// An actix [`Recipient`] for this agent's messages, so an actix actor (or any actix code)
    /// can reach it in actix's vocabulary: `do_send(Deliver::new(msg))` is a tell,
    /// `send(Deliver::new(msg)).await` an ask with the default timeout. See [`Deliver`].
    pub fn recipient(&self) -> Recipient<Deliver<A::Msg, A::Reply>> {
        self.mailbox.bridge.clone()
    }

    /// Sends a message, fire and forget. Under the `reject` overflow policy a full mailbox is
    /// [`IpcError::MailboxFull`] at once; under `backpressure` this waits for room.
    pub async fn tell(&self, msg: A::Msg) -> Result<(), IpcError> {
        self.mailbox
            .enqueue(Envelope::tell(msg, Current::pid()))
            .await
    }

    /// Sends a message to an agent with a durable mailbox under the producer's own delivery
    /// id (see [`crate::Kernel::send_json_once`]): sent again with the same id, it is
    /// persisted and handled once. `Ok(false)` for an id already received.
    pub async fn tell_once(&self, delivery_id: &str, msg: A::Msg) -> Result<bool, IpcError> {
        self.mailbox
            .enqueue_durable(
                Envelope::tell(msg, Current::pid()),
                Some(delivery_id.to_string()),
            )
            .await
    }

    /// Sends a message without ever waiting: a full mailbox is [`IpcError::MailboxFull`]
    /// whatever the overflow policy (for code that cannot `.await`).
    pub fn try_tell(&self, msg: A::Msg) -> Result<(), IpcError> {
        match self
            .mailbox
            .try_enqueue(Envelope::tell(msg, Current::pid()))?
        {
            None => Ok(()),
            Some(_) => Err(self.mailbox.full()),
        }
    }

    /// Sends a message and waits for the agent's reply, of type `A::Reply`. The timeout is
    /// `kernel.ask_timeout_ms` unless set with [`Ask::timeout`]; it covers waiting for room in
    /// the mailbox too.
    ///
    /// Errors: [`IpcError::Timeout`] (the message may still be handled later),
    /// [`IpcError::Handler`] (the handler returned an error; see [`IpcError::root_cause`]),
    /// [`IpcError::Crashed`] (it panicked on this message), [`IpcError::Interrupted`] (killed,
    /// stopped past its deadline, or halted for a sibling's restart while handling it),
    /// [`IpcError::Terminated`] (it terminated before handling it), and the send errors of
    /// [`AgentRef::tell`].
    pub fn ask(&self, msg: A::Msg) -> Ask<A> {
        Ask::new(self.mailbox.clone(), msg)
    }

    /// Sends the message `make` builds around a fresh [`ReplyPort<T>`] and waits for the
    /// handler to answer through it: the result is a `T`, whatever `A::Reply` is. Same
    /// timeout and errors as [`AgentRef::ask`], plus [`IpcError::NoReply`] when the handler
    /// dropped the port unanswered.
    ///
    /// ```no_run
    /// # use agent_os_kernel::prelude::*;
    /// # struct Store;
    /// enum StoreMsg { Get(String, ReplyPort<Option<u64>>), Keys(ReplyPort<Vec<String>>) }
    /// # impl Agent for Store {
    /// #     type Msg = StoreMsg; type Reply = ();
    /// #     async fn handle(&mut self, _: StoreMsg, _: &mut AgentContext) -> Result<(), AgentError> { Ok(()) }
    /// # }
    /// # async fn demo(store: AgentRef<Store>) -> Result<(), IpcError> {
    /// let value = store.call(|reply| StoreMsg::Get("a".into(), reply)).await?; // Option<u64>
    /// let keys = store.call(StoreMsg::Keys).await?;                            // Vec<String>
    /// # Ok(()) }
    /// ```
    pub fn call<T, F>(&self, make: F) -> Call<A, T>
    where
        T: Send + 'static,
        F: FnOnce(ReplyPort<T>) -> A::Msg,
    {
        let (msg, port) = Mailbox::<A>::with_port(make);
        Call::new(self.mailbox.clone(), msg, port)
    }
}

impl<A: Agent> Clone for AgentRef<A> {
    fn clone(&self) -> Self {
        AgentRef {
            mailbox: self.mailbox.clone(),
        }
    }
}

impl<A: Agent> fmt::Debug for AgentRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRef")
            .field("pid", &self.mailbox.pid)
            .field("name", &&*self.mailbox.name)
            .field("agent", &std::any::type_name::<A>())
            .finish()
    }
}

/// Handles are equal when they name the same agent.
impl<A: Agent> PartialEq for AgentRef<A> {
    fn eq(&self, other: &Self) -> bool {
        self.mailbox.pid == other.mailbox.pid
    }
}

impl<A: Agent> Eq for AgentRef<A> {}

impl<A: Agent> Hash for AgentRef<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mailbox.pid.hash(state);
    }
}
