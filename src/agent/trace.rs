//! Recording an agent's steps as trajectories (`crate::trajectory`): the run loop opens a
//! trace before the handler runs and closes it with the outcome; the syscalls add their calls
//! to it through the context.

use chrono::Utc;

use crate::agent::durable::Durability;
use crate::agent::{Agent, AgentContext};
use crate::pid::Pid;
use crate::trajectory::{RecordMode, StepOutcome, StepTrace, TrajectoryStep};

/// The type a trajectory names: the registered type when the agent has one, else its Rust type.
fn type_of<A: Agent>(dur: &Durability) -> String {
    dur.spec
        .type_name
        .as_deref()
        .map_or_else(|| std::any::type_name::<A>().to_string(), str::to_string)
}

fn open(
    actx: &AgentContext,
    step: u64,
    from: Option<Pid>,
    topic: Option<&str>,
) -> Option<StepTrace> {
    if actx.kernel().trajectories().mode() == RecordMode::Off {
        return None;
    }
    // Names are filled in by `end`, only for the steps the recorder keeps: a plain message on
    // the IPC fast path allocates nothing here.
    Some(StepTrace {
        step: TrajectoryStep {
            pid: actx.pid(),
            agent_name: String::new(),
            agent_type: String::new(),
            task: String::new(),
            step,
            started_at: Utc::now(),
            duration_ms: 0,
            sender: from,
            topic: topic.map(str::to_string),
            outcome: StepOutcome::Ok,
            error: None,
            llm_calls: Vec::new(),
            tool_calls: Vec::new(),
            preemptions: 0,
            faults: 0,
        },
        started: std::time::Instant::now(),
    })
}

/// Opens the trace of the step about to run.
pub(crate) fn begin(actx: &AgentContext, step: u64, from: Option<Pid>, topic: Option<&str>) {
    if let Some(trace) = open(actx, step, from, topic) {
        actx.begin_trace(trace);
    }
}

/// Closes the running step's trace with its outcome and hands it to the recorder.
pub(crate) fn end<A: Agent>(
    actx: &AgentContext,
    dur: &Durability,
    outcome: StepOutcome,
    error: Option<String>,
) {
    if let Some(trace) = actx.take_trace() {
        keep::<A>(actx, dur, trace.finish(outcome, error));
    }
}

/// Names the step and records it, if the recorder keeps steps like it.
fn keep<A: Agent>(actx: &AgentContext, dur: &Durability, mut step: TrajectoryStep) {
    let recorder = actx.kernel().trajectories();
    if !recorder.keeps(&step) {
        return;
    }
    step.agent_name = actx.name().to_string();
    step.agent_type = type_of::<A>(dur);
    step.task = dur.task_id(step.pid);
    recorder.record(step);
}

/// Records a step refused before its handler ran.
pub(crate) fn refused<A: Agent>(
    actx: &AgentContext,
    dur: &Durability,
    from: Option<Pid>,
    topic: Option<&str>,
    why: String,
) {
    if let Some(trace) = open(actx, dur.steps(), from, topic) {
        keep::<A>(actx, dur, trace.finish(StepOutcome::Refused, Some(why)));
    }
}
