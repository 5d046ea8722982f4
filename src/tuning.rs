//! [`Tuning`]: per-agent-type settings changed while the kernel runs — by the optimizer's
//! applied suggestions ([`crate::optimizer`]) or by hand — and read by every agent of the type
//! at its next step or LLM call.
//!
//! * `max_steps` — the step limit of a task: the kernel refuses a task's step past it (as
//!   `durability.limits.max_steps_per_task` does for every agent), and agents that loop inside
//!   one step (the stock `ReactAgent`) read it through
//!   [`AgentContext::step_limit`](crate::AgentContext::step_limit) in place of their own.
//! * `priority` — the priority (0 most urgent … 100) the type's agents' slice requests and LLM
//!   calls carry, in place of the one they were spawned with.
//!
//! Settings live for the kernel's life; each change made through the optimizer is in the
//! audit log (`optimizer.apply`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// Settings of one agent type; `None` keeps what the agent was built or spawned with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeTuning {
    /// Steps a task may take (at least 1).
    pub max_steps: Option<u64>,
    /// Priority of its slice requests and LLM calls (0 most urgent … 100).
    pub priority: Option<u8>,
}

/// A setting refused by [`Tuning`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TuningError {
    /// `max_steps` was 0.
    #[error("max_steps for agent type `{0}` must be at least 1")]
    ZeroSteps(String),
    /// `priority` was above 100.
    #[error("priority {priority} for agent type `{agent_type}` is out of range (0..=100)")]
    Priority {
        /// The agent type.
        agent_type: String,
        /// The value given.
        priority: u8,
    },
}

/// The kernel's per-agent-type settings ([`crate::Kernel::tuning`]). Cheap to clone; clones
/// share the settings.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    types: Arc<RwLock<BTreeMap<String, TypeTuning>>>,
    /// Whether any type has a setting (agents skip the lock while none has).
    any: Arc<AtomicBool>,
}

impl Tuning {
    /// The settings of `agent_type` (all `None` when it has none).
    pub fn get(&self, agent_type: &str) -> TypeTuning {
        if !self.any.load(Ordering::Acquire) {
            return TypeTuning::default();
        }
        self.types
            .read()
            .get(agent_type)
            .copied()
            .unwrap_or_default()
    }

    /// Every type with a setting.
    pub fn all(&self) -> BTreeMap<String, TypeTuning> {
        self.types.read().clone()
    }

    /// Sets (or, with `None`, clears) the step limit of `agent_type`; returns the one it had.
    pub fn set_max_steps(
        &self,
        agent_type: &str,
        max_steps: Option<u64>,
    ) -> Result<Option<u64>, TuningError> {
        if max_steps == Some(0) {
            return Err(TuningError::ZeroSteps(agent_type.to_owned()));
        }
        Ok(self.update(agent_type, |t| {
            std::mem::replace(&mut t.max_steps, max_steps)
        }))
    }

    /// Sets (or, with `None`, clears) the priority of `agent_type`; returns the one it had.
    pub fn set_priority(
        &self,
        agent_type: &str,
        priority: Option<u8>,
    ) -> Result<Option<u8>, TuningError> {
        if let Some(p) = priority.filter(|p| *p > 100) {
            return Err(TuningError::Priority {
                agent_type: agent_type.to_owned(),
                priority: p,
            });
        }
        Ok(self.update(agent_type, |t| std::mem::replace(&mut t.priority, priority)))
    }

    fn update<R>(&self, agent_type: &str, f: impl FnOnce(&mut TypeTuning) -> R) -> R {
        let mut types = self.types.write();
        let entry = types.entry(agent_type.to_owned()).or_default();
        let out = f(entry);
        if *entry == TypeTuning::default() {
            types.remove(agent_type);
        }
        self.any.store(!types.is_empty(), Ordering::Release);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_replace_and_clear() {
        let t = Tuning::default();
        assert_eq!(t.get("a"), TypeTuning::default());
        assert_eq!(t.set_max_steps("a", Some(8)), Ok(None));
        assert_eq!(t.set_max_steps("a", Some(16)), Ok(Some(8)));
        assert_eq!(t.set_priority("a", Some(70)), Ok(None));
        assert_eq!(
            t.get("a"),
            TypeTuning {
                max_steps: Some(16),
                priority: Some(70)
            }
        );
        assert_eq!(t.set_max_steps("a", None), Ok(Some(16)));
        assert_eq!(t.set_priority("a", None), Ok(Some(70)));
        assert!(t.all().is_empty());
        assert_eq!(t.get("a"), TypeTuning::default());
    }

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let t = Tuning::default();
        assert_eq!(
            t.set_max_steps("a", Some(0)),
            Err(TuningError::ZeroSteps("a".into()))
        );
        assert!(matches!(
            t.set_priority("a", Some(101)),
            Err(TuningError::Priority { priority: 101, .. })
        ));
        assert!(t.all().is_empty());
    }
}
