//! Durability at step boundaries: taking a checkpoint of a running agent, and starting an
//! incarnation from one (restore the state, put the pages back, redeliver durable messages).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use crate::agent::durable::Durability;
use crate::agent::run_loop::panic_message;
use crate::agent::{Agent, AgentContext};
use crate::checkpoint::image::Image;
use crate::checkpoint::retention::{collect_blobs, retain};
use crate::checkpoint::store::{self, CheckpointInfo};
use crate::checkpoint::{CheckpointError, WriteMode};
use crate::events::KernelEvent;
use crate::ipc::envelope::{DeliveryTag, Envelope};
use crate::ipc::mailbox::Mailbox;
use crate::storage::durable::mailbox::{self as mailbox_rows, MailboxRow};

/// A checkpoint attempt that crashed the agent (its `snapshot` panicked).
pub(crate) struct SnapshotPanicked(pub(crate) String);

/// Takes a checkpoint of `agent` now: its snapshot, its page table by reference, its
/// counters, and the acknowledgement of the durable messages handled since the last one.
/// `wait` forces a synchronous write (a manual checkpoint, a shutdown).
pub(crate) async fn checkpoint<A: Agent>(
    agent: &A,
    actx: &AgentContext,
    dur: &Durability,
    wait: bool,
) -> Result<Result<CheckpointInfo, CheckpointError>, SnapshotPanicked> {
    let pid = actx.pid();
    let snapshot = match std::panic::catch_unwind(AssertUnwindSafe(|| agent.snapshot())) {
        Err(p) => return Err(SnapshotPanicked(panic_message(&*p))),
        Ok(Err(e)) => {
            return Ok(Err(CheckpointError::Agent {
                pid,
                reason: format!("snapshot failed: {e}"),
            }));
        }
        Ok(Ok(s)) => s,
    };
    let kernel = actx.kernel();
    let pages = kernel.pager().manifest(pid).await;
    let spec = &dur.spec;
    let (prepared, prev_id) = {
        let mut st = dur.state.lock();
        let pages = pages
            .or_else(|| st.lineage.last.as_ref().map(|l| l.pages.clone()))
            .unwrap_or_default();
        let image = Image {
            step: st.step,
            state: snapshot,
            pages,
            usage: st.usage,
            task: st.task.clone(),
        };
        let prev_id = st.lineage.last_id.clone();
        let full_every = if st.force_full { 1 } else { spec.full_every };
        st.force_full = false;
        let acks = std::mem::take(&mut st.unacked);
        st.steps_since = 0;
        st.last_at = Instant::now();
        let p = store::prepare(
            pid,
            &mut st.lineage,
            image,
            full_every,
            spec.type_name.as_deref(),
            acks,
        );
        (p, prev_id)
    };
    let full = prepared.row.kind == "full";
    let storage = kernel.storage().clone();
    if spec.write == WriteMode::Behind && !wait {
        let info = store::info_of_new(pid, &prepared.row);
        let failed = failure_hook(kernel.clone(), pid, actx.durability().clone(), prev_id);
        kernel
            .checkpoint_writer()
            .submit(pid, prepared, failed)
            .await;
        return Ok(Ok(info));
    }
    match store::commit(&storage, pid, &prepared).await {
        Ok(info) => {
            committed(actx, &info, full, dur);
            Ok(Ok(info))
        }
        Err(e) => {
            revert(dur, prev_id, prepared.acks);
            let reason = e.to_string();
            tracing::error!(%pid, error = %reason, "checkpoint not written");
            kernel
                .events_bus()
                .emit_with(|| KernelEvent::CheckpointFailed { pid, reason });
            Ok(Err(e))
        }
    }
}

/// After a commit: the event, and retention when a full checkpoint started a new chain.
fn committed(actx: &AgentContext, info: &CheckpointInfo, full: bool, dur: &Durability) {
    let kernel = actx.kernel();
    let pid = actx.pid();
    kernel.events_bus().emit_with(|| KernelEvent::Checkpointed {
        pid,
        id: info.id.clone(),
        step: info.step,
        kind: info.kind.clone(),
        bytes: info.bytes,
    });
    let spec = &dur.spec;
    if full && (spec.keep_last > 0 || spec.max_age.is_some()) {
        let storage = kernel.storage().clone();
        let (keep, age, acked) = (spec.keep_last, spec.max_age, spec.acked_retention);
        tokio::spawn(async move {
            match retain(&storage, pid, keep, age, acked).await {
                Ok(r) if r.checkpoints_deleted > 0 => {
                    if let Err(e) = collect_blobs(&storage).await {
                        tracing::warn!(%pid, error = %e, "page blobs not collected");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%pid, error = %e, "checkpoint retention failed"),
            }
        });
    }
}

/// A failed write: the next checkpoint is full and carries these acknowledgements.
fn revert(dur: &Durability, prev_id: Option<String>, acks: Vec<i64>) {
    let mut st = dur.state.lock();
    st.lineage.last = None;
    st.lineage.last_id = prev_id;
    st.force_full = true;
    let later = std::mem::take(&mut st.unacked);
    st.unacked = acks;
    st.unacked.extend(later);
}

/// What the write-behind writer calls when a queued checkpoint fails.
fn failure_hook(
    kernel: crate::Kernel,
    pid: crate::Pid,
    dur: std::sync::Arc<Durability>,
    prev_id: Option<String>,
) -> crate::checkpoint::writer::OnFailure {
    Box::new(move |acks, reason| {
        revert(&dur, prev_id, acks);
        kernel
            .events_bus()
            .emit_with(|| KernelEvent::CheckpointFailed { pid, reason });
    })
}

/// Starts an incarnation from what a restart, a resume or a restore planned: restores the
/// state, puts the pages back, and returns the durable messages to hand over first. An
/// error is a failed start.
pub(crate) async fn start_from<A: Agent>(
    agent: &mut A,
    actx: &AgentContext,
    dur: &Durability,
    me: Option<&Mailbox<A>>,
) -> Result<VecDeque<Envelope<A>>, String> {
    let Some(plan) = dur.state.lock().restart.take() else {
        return Ok(VecDeque::new());
    };
    let pid = actx.pid();
    let kernel = actx.kernel();
    if let Some(state) = plan.image.as_ref().and_then(|i| i.state.clone()) {
        match std::panic::catch_unwind(AssertUnwindSafe(|| agent.restore(state))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("restore from checkpoint failed: {e}")),
            Err(p) => return Err(format!("restore panicked: {}", panic_message(&*p))),
        }
    }
    if plan.reset_pages {
        let pages = plan
            .image
            .as_ref()
            .map(|i| i.pages.clone())
            .unwrap_or_default();
        kernel
            .pager()
            .reset_to(pid, &pages)
            .await
            .map_err(|e| format!("pages could not be restored: {e}"))?;
    }
    let storage = kernel.storage();
    let mut rows: Vec<MailboxRow> = plan.redeliver;
    // The message whose step crashed (the last one taken since the checkpoint) counts a
    // failed delivery; the others were handled fine or only queued. A resume after the
    // process died counts none: a process death is not attributed to a message.
    let in_flight = plan.redeliver_ids.last().copied();
    if !plan.redeliver_ids.is_empty() {
        let loaded = mailbox_rows::by_ids(storage, &plan.redeliver_ids)
            .await
            .map_err(|e| format!("durable messages could not be read: {e}"))?;
        rows.extend(loaded.into_iter().filter(|r| r.status == "pending"));
    }
    if let Some(id) = in_flight
        && let Some(row) = rows.iter_mut().find(|r| r.id == id)
    {
        mailbox_rows::bump_attempts(storage, &[id])
            .await
            .map_err(|e| format!("durable messages could not be updated: {e}"))?;
        row.attempts = row.attempts.saturating_add(1);
    }
    let mut out = VecDeque::new();
    for row in rows {
        match redelivery(me, &row, dur.spec.max_deliveries) {
            Ok(env) => out.push_back(env),
            Err(reason) => {
                tracing::warn!(%pid, delivery = %row.delivery_id, %reason, "durable message set aside");
                if let Err(e) = mailbox_rows::mark_dead(storage, row.id).await {
                    tracing::error!(%pid, error = %e, "a dead durable message could not be marked");
                }
                let delivery_id = row.delivery_id.clone();
                kernel
                    .events_bus()
                    .emit_with(|| KernelEvent::DeadLetter { pid, delivery_id });
            }
        }
    }
    let step = plan.image.as_ref().map_or(0, |i| i.step);
    let redelivered = out.len();
    tracing::info!(%pid, checkpoint = ?plan.checkpoint, step, redelivered, "agent restored");
    kernel.events_bus().emit_with(|| KernelEvent::Restored {
        pid,
        checkpoint: plan.checkpoint.clone(),
        step,
        redelivered,
    });
    Ok(out)
}

/// A stored durable message as an envelope again.
fn redelivery<A: Agent>(
    me: Option<&Mailbox<A>>,
    row: &MailboxRow,
    max_deliveries: u32,
) -> Result<Envelope<A>, String> {
    if row.attempts >= max_deliveries {
        return Err(format!(
            "its step crashed {} times without committing (durability.max_deliveries = {max_deliveries})",
            row.attempts
        ));
    }
    let codec = me
        .and_then(|m| m.json)
        .ok_or_else(|| "the agent has no JSON access to decode it".to_string())?;
    let msg = (codec.decode)(row.payload.clone())?;
    Ok(Envelope {
        msg,
        from: row.sender.parse().ok(),
        topic: None,
        reply: None,
        delivery: Some(Box::new(DeliveryTag {
            row: row.id,
            id: row.delivery_id.clone(),
            redelivered: true,
        })),
    })
}
