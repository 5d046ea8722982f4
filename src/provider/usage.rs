//! Usage and cost ledger per (agent, backend, model), priced from the config's price table.
//! Costs are integers in nano-USD so that sums add up exactly.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::collections::HashMap;

use super::config::Price;
use super::model::Usage;
use crate::pid::Pid;

/// Totals of one (agent, backend, model) cell, or of any aggregate of cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageTotals {
    /// Successful calls.
    pub calls: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cost in nano-USD (1e-9 USD).
    pub cost_nano_usd: u64,
}

impl UsageTotals {
    /// Adds `o` (saturating: server-reported usage can be anything up to `u64::MAX`).
    pub(crate) fn add(&mut self, o: &UsageTotals) {
        self.calls = self.calls.saturating_add(o.calls);
        self.prompt_tokens = self.prompt_tokens.saturating_add(o.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(o.completion_tokens);
        self.cost_nano_usd = self.cost_nano_usd.saturating_add(o.cost_nano_usd);
    }
    /// Cost in USD.
    pub fn cost_usd(&self) -> f64 {
        self.cost_nano_usd as f64 / 1e9
    }
}

/// Key of a ledger cell.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    /// Agent.
    pub pid: Pid,
    /// Backend name.
    pub backend: String,
    /// Model name.
    pub model: String,
}

/// One agent's cells: (backend, model) → totals. An agent uses few pairs, so a scan finds its
/// cell without building a key (no allocation per recorded call).
type AgentCells = Vec<(String, String, UsageTotals)>;

/// The shared ledger (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct UsageLedger {
    prices: Arc<BTreeMap<String, Price>>,
    cells: Arc<Mutex<HashMap<Pid, AgentCells>>>,
}

impl UsageLedger {
    /// A ledger pricing models from `prices` (unpriced models cost 0).
    pub fn new(prices: BTreeMap<String, Price>) -> Self {
        UsageLedger {
            prices: Arc::new(prices),
            cells: Arc::default(),
        }
    }

    /// Cost in nano-USD of `usage` on `model` (saturating at `u64::MAX`).
    pub fn cost_nano(&self, model: &str, usage: &Usage) -> u64 {
        self.prices.get(model).map_or(0, |p| {
            // 1 USD per million tokens is 1000 nano-USD per token. `as` saturates (a negative
            // or NaN price is 0).
            let input = (p.input_per_mtok * 1000.0).round() as u64;
            let output = (p.output_per_mtok * 1000.0).round() as u64;
            usage
                .prompt_tokens
                .saturating_mul(input)
                .saturating_add(usage.completion_tokens.saturating_mul(output))
        })
    }

    /// Records one successful call; returns its totals (cost included).
    pub fn record(&self, pid: Pid, backend: &str, model: &str, usage: &Usage) -> UsageTotals {
        let one = UsageTotals {
            calls: 1,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_nano_usd: self.cost_nano(model, usage),
        };
        let mut cells = self.cells.lock();
        let agent = cells.entry(pid).or_default();
        match agent
            .iter_mut()
            .find(|(b, m, _)| b == backend && m == model)
        {
            Some((_, _, t)) => t.add(&one),
            None => agent.push((backend.to_owned(), model.to_owned(), one)),
        }
        one
    }

    /// Totals of the cells whose backend `keep` accepts.
    fn fold(&self, keep: impl Fn(&str) -> bool) -> UsageTotals {
        let mut t = UsageTotals::default();
        for agent in self.cells.lock().values() {
            for (backend, _, v) in agent {
                if keep(backend) {
                    t.add(v);
                }
            }
        }
        t
    }

    /// Every cell.
    pub fn snapshot(&self) -> BTreeMap<UsageKey, UsageTotals> {
        let mut out = BTreeMap::new();
        for (pid, agent) in self.cells.lock().iter() {
            for (backend, model, v) in agent {
                let key = UsageKey {
                    pid: *pid,
                    backend: backend.clone(),
                    model: model.clone(),
                };
                out.insert(key, *v);
            }
        }
        out
    }

    /// Totals of one agent over all backends and models (what the scheduler's quotas read).
    pub fn agent_totals(&self, pid: Pid) -> UsageTotals {
        let mut t = UsageTotals::default();
        if let Some(agent) = self.cells.lock().get(&pid) {
            agent.iter().for_each(|(_, _, v)| t.add(v));
        }
        t
    }

    /// Totals of one backend over all agents.
    pub fn backend_totals(&self, backend: &str) -> UsageTotals {
        self.fold(|b| b == backend)
    }

    /// Grand totals.
    pub fn totals(&self) -> UsageTotals {
        self.fold(|_| true)
    }
}
