//! The durability of one agent process: its checkpoint settings, its lineage (the last
//! checkpoint, the delta base), its step and task counters, and the durable messages its steps
//! handled since the last checkpoint. Kept by the process across incarnations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::checkpoint::image::{AgentUsage, Image};
use crate::checkpoint::store::Lineage;
use crate::checkpoint::task::TaskState;
use crate::checkpoint::{CheckpointPolicy, RunawayLimit, RunawayLimits, WriteMode};
use crate::storage::durable::mailbox::MailboxRow;

/// Settings fixed at spawn.
#[derive(Debug, Clone)]
pub(crate) struct DurableSpec {
    pub(crate) policy: CheckpointPolicy,
    pub(crate) write: WriteMode,
    pub(crate) full_every: u32,
    pub(crate) keep_last: u32,
    pub(crate) max_age: Option<Duration>,
    pub(crate) limits: RunawayLimits,
    /// The registered agent type (resumable at kernel start).
    pub(crate) type_name: Option<Arc<str>>,
    /// Whether its mailbox is durable (messages persisted, acknowledged by checkpoints,
    /// journaled calls replayed on redelivery).
    pub(crate) mailbox: bool,
    pub(crate) max_deliveries: u32,
    pub(crate) acked_retention: Duration,
}

/// What the next incarnation starts from.
#[derive(Debug, Default)]
pub(crate) struct Restart {
    /// Restore this image first (`None`: the factory's state).
    pub(crate) image: Option<Image>,
    /// Reset the pager to `image`'s pages (or to none): set for agents that checkpoint.
    pub(crate) reset_pages: bool,
    /// The checkpoint the image comes from, for the event.
    pub(crate) checkpoint: Option<String>,
    /// Durable messages to hand over before the queue (by row id).
    pub(crate) redeliver: Vec<MailboxRow>,
    /// Row ids to load and redeliver (a crash restart: the rows are in storage).
    pub(crate) redeliver_ids: Vec<i64>,
}

/// Mutable durability state.
#[derive(Debug)]
pub(crate) struct DurableState {
    pub(crate) lineage: Lineage,
    /// Steps handled (the one in progress included).
    pub(crate) step: u64,
    pub(crate) task: TaskState,
    pub(crate) usage: AgentUsage,
    /// Durable mailbox rows handled since the last checkpoint, in order.
    pub(crate) unacked: Vec<i64>,
    pub(crate) steps_since: u32,
    pub(crate) last_at: Instant,
    /// Set by a restart, a resume or an in-place restore; taken when the loop starts.
    pub(crate) restart: Option<Box<Restart>>,
    /// The last checkpoint could not be written: the next one is full.
    pub(crate) force_full: bool,
}

/// One agent's durability.
#[derive(Debug)]
pub(crate) struct Durability {
    pub(crate) spec: DurableSpec,
    pub(crate) state: Mutex<DurableState>,
}

impl Durability {
    pub(crate) fn new(spec: DurableSpec, lineage: Lineage, restart: Option<Restart>) -> Self {
        let (step, task, usage) = match restart.as_ref().and_then(|r| r.image.as_ref()) {
            Some(img) => (img.step, img.task.clone(), img.usage),
            None => (0, TaskState::default(), AgentUsage::default()),
        };
        Durability {
            spec,
            state: Mutex::new(DurableState {
                lineage,
                step,
                task,
                usage,
                unacked: Vec::new(),
                steps_since: 0,
                last_at: Instant::now(),
                restart: restart.map(Box::new),
                force_full: false,
            }),
        }
    }

    /// Whether this agent writes checkpoints on its own.
    pub(crate) fn automatic(&self) -> bool {
        self.spec.policy.is_automatic()
    }

    /// Begins a step: counts it in the task (a message from someone else starts a new task).
    /// The limit that refuses it, if any.
    /// `max_steps`: the type's step limit set at run time, in place of the configured one.
    pub(crate) fn begin_step(
        &self,
        continues_task: bool,
        max_steps: Option<u64>,
    ) -> Result<u64, RunawayLimit> {
        let limits = match max_steps {
            Some(n) => RunawayLimits {
                max_steps_per_task: n,
                ..self.spec.limits
            },
            None => self.spec.limits,
        };
        let mut st = self.state.lock();
        if !continues_task {
            st.task.begin();
            st.task.first_step = st.step.saturating_add(1);
        }
        let refused = st.task.step(&limits);
        st.step = st.step.saturating_add(1);
        st.steps_since = st.steps_since.saturating_add(1);
        match refused {
            Some(limit) => Err(limit),
            None => Ok(st.step),
        }
    }

    /// The current task's name in trajectories: `<pid>/<the step that began it>`.
    pub(crate) fn task_id(&self, pid: crate::Pid) -> String {
        format!("{pid}/{}", self.state.lock().task.first_step)
    }

    /// Steps handled so far (the one in progress included).
    pub(crate) fn steps(&self) -> u64 {
        self.state.lock().step
    }

    /// Whether an LLM call may start (the task's limits).
    pub(crate) fn may_call(&self) -> Result<(), RunawayLimit> {
        match self.state.lock().task.may_call(&self.spec.limits) {
            Some(limit) => Err(limit),
            None => Ok(()),
        }
    }

    /// Records an LLM call's outcome (and what it used).
    pub(crate) fn llm_outcome(&self, used: Option<(u64, u64, f64)>) {
        let mut st = self.state.lock();
        st.task.llm_outcome(used.is_some());
        if let Some((i, o, c)) = used {
            st.usage.add(i, o, c);
        }
    }

    /// Records a durable message handled by the current step.
    pub(crate) fn handled(&self, row: i64) {
        self.state.lock().unacked.push(row);
    }

    /// Whether the policy wants a checkpoint now (after a step).
    pub(crate) fn due(&self) -> bool {
        let st = self.state.lock();
        if st.task.ended.is_some() && st.steps_since > 0 {
            // A limit ended the task: persist that, so a restart does not re-enter the loop.
            return true;
        }
        match self.spec.policy {
            CheckpointPolicy::EveryStep => st.steps_since > 0,
            CheckpointPolicy::EverySteps(n) => st.steps_since >= n.max(1),
            CheckpointPolicy::IntervalMs(ms) => {
                st.steps_since > 0 && st.last_at.elapsed() >= Duration::from_millis(ms)
            }
            CheckpointPolicy::Manual => false,
        }
    }

    /// Installs a restore plan (an in-place restore, a fork): the counters come from its
    /// image, its lineage continues the checkpoint it came from.
    pub(crate) fn install(&self, plan: Restart, lineage: Lineage) {
        let mut st = self.state.lock();
        if let Some(img) = &plan.image {
            st.step = img.step;
            st.task = img.task.clone();
            st.usage = img.usage;
        }
        st.lineage = lineage;
        st.steps_since = 0;
        st.restart = Some(Box::new(plan));
    }

    /// Prepares the next incarnation after a crash (or a group restart): restore the last
    /// checkpoint and redeliver the durable messages handled since.
    pub(crate) fn plan_restart(&self) {
        let mut st = self.state.lock();
        let checkpointed = st.lineage.last.is_some();
        let image = st.lineage.last.clone();
        let checkpoint = st.lineage.last_id.clone();
        let redeliver_ids = std::mem::take(&mut st.unacked);
        if let Some(img) = &image {
            st.step = img.step;
            st.task = img.task.clone();
            st.usage = img.usage;
        } else if self.automatic() {
            st.step = 0;
            st.task = TaskState::default();
        }
        st.steps_since = 0;
        st.restart = Some(Box::new(Restart {
            image: image.map(|i| *i),
            reset_pages: checkpointed || self.automatic(),
            checkpoint,
            redeliver: Vec::new(),
            redeliver_ids,
        }));
    }
}
