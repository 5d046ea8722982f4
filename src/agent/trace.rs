//! Recording an agent's steps as trajectories (`crate::trajectory`): the run loop opens a
//! step before the handler runs and closes it with the outcome; the syscalls add their calls
//! through the context. Names, task and timestamps are only built for the steps the recorder
//! keeps.

use chrono::Utc;

use crate::agent::durable::Durability;
use crate::agent::{Agent, AgentContext};
use crate::pid::Pid;
use crate::trajectory::{RecordMode, StepCalls, StepOpen, StepOutcome, TrajectoryStep};

/// The type a trajectory names: the registered type when the agent has one, else its Rust type.
pub(crate) fn type_of<A: Agent>(dur: &Durability) -> String {
    dur.spec
        .type_name
        .as_deref()
        .map_or_else(|| std::any::type_name::<A>().to_string(), str::to_string)
}

fn open(
    actx: &AgentContext,
    step: u64,
    from: Option<Pid>,
    topic: Option<&std::sync::Arc<str>>,
) -> Option<StepOpen> {
    (actx.kernel().trajectories().mode() != RecordMode::Off).then(|| StepOpen {
        step,
        from,
        topic: topic.cloned(),
        started: std::time::Instant::now(),
    })
}

/// Opens the record of the step about to run.
pub(crate) fn begin(
    actx: &mut AgentContext,
    step: u64,
    from: Option<Pid>,
    topic: Option<&std::sync::Arc<str>>,
) {
    if let Some(o) = open(actx, step, from, topic) {
        actx.open_step(o);
    }
}

/// Closes the running step with its outcome and hands it to the recorder if kept.
pub(crate) fn end(
    actx: &mut AgentContext,
    dur: &Durability,
    outcome: StepOutcome,
    error: Option<String>,
) {
    if let Some((o, calls)) = actx.close_step() {
        keep(actx, dur, o, calls, outcome, error);
    }
}

/// Records a step refused before its handler ran.
pub(crate) fn refused(
    actx: &AgentContext,
    dur: &Durability,
    from: Option<Pid>,
    topic: Option<&std::sync::Arc<str>>,
    why: String,
) {
    if let Some(o) = open(actx, dur.steps(), from, topic) {
        keep(
            actx,
            dur,
            o,
            StepCalls::default(),
            StepOutcome::Refused,
            Some(why),
        );
    }
}

fn keep(
    actx: &AgentContext,
    dur: &Durability,
    o: StepOpen,
    calls: StepCalls,
    outcome: StepOutcome,
    error: Option<String>,
) {
    let (outcome, error) = match (outcome, calls.cut_off) {
        (StepOutcome::Ok, Some(limit)) => (
            StepOutcome::CutOff,
            Some(format!("{}{limit}", crate::trajectory::CUT_OFF_PREFIX)),
        ),
        _ => (outcome, error),
    };
    let recorder = actx.kernel().trajectories();
    if !recorder.keeps(&calls, outcome) {
        return;
    }
    let elapsed = o.started.elapsed();
    let pid = actx.pid();
    recorder.record(TrajectoryStep {
        pid,
        agent_name: actx.name().to_string(),
        agent_type: actx.agent_type().to_owned(),
        task: dur.task_id(pid),
        step: o.step,
        started_at: Utc::now() - chrono::Duration::from_std(elapsed).unwrap_or_default(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        sender: o.from,
        topic: o.topic.map(|t| t.to_string()),
        outcome,
        error,
        llm_calls: calls.llm_calls,
        tool_calls: calls.tool_calls,
        preemptions: calls.preemptions,
        faults: calls.faults,
    });
}
