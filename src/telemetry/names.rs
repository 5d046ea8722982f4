//! The metric names the kernel publishes (listed with their meaning in `docs/observability.md`).

/// Agents by lifecycle state (gauge, label `state`).
pub const AGENTS: &str = "aok_agents";
/// Messages queued in agents' mailboxes (gauge; label `pid` and `name` for each non-empty
/// mailbox, none for the total).
pub const MAILBOX_DEPTH: &str = "aok_mailbox_depth";
/// Deepest mailbox now (gauge).
pub const MAILBOX_DEPTH_MAX: &str = "aok_mailbox_depth_max";
/// Messages handled by the agents alive now (counter).
pub const MESSAGES_HANDLED: &str = "aok_messages_handled_total";
/// Restarts of the agents alive now (counter).
pub const RESTARTS: &str = "aok_agent_restarts_total";
/// Slices granted (counter).
pub const GRANTS: &str = "aok_scheduler_grants_total";
/// Slices revoked from a running call (counter).
pub const PREEMPTIONS: &str = "aok_scheduler_preemptions_total";
/// Slices that ran out (counter).
pub const EXPIRATIONS: &str = "aok_scheduler_expirations_total";
/// Requests refused by quota (counter).
pub const DENIALS: &str = "aok_scheduler_denials_total";
/// Slices running now (gauge).
pub const RUNNING: &str = "aok_scheduler_running";
/// Requests queued for a slice (gauge).
pub const QUEUED: &str = "aok_scheduler_queued";
/// Requests waiting for quota (gauge).
pub const WAITING_QUOTA: &str = "aok_scheduler_waiting_quota";
/// Wait for a slice, by quantile 0.5 / 0.9 / 0.99 over the recent window (gauge, seconds).
pub const WAIT: &str = "aok_scheduler_wait_seconds";
/// Attempts admitted to a backend (counter, label `backend`).
pub const PROVIDER_ATTEMPTS: &str = "aok_provider_attempts_total";
/// Attempts that succeeded (counter, label `backend`).
pub const PROVIDER_SUCCEEDED: &str = "aok_provider_succeeded_total";
/// Calls answered with an error (counter, label `backend`).
pub const PROVIDER_FAILED: &str = "aok_provider_failed_total";
/// Retries scheduled (counter, label `backend`).
pub const PROVIDER_RETRIES: &str = "aok_provider_retries_total";
/// 429 responses (counter, label `backend`).
pub const PROVIDER_RATE_LIMITED: &str = "aok_provider_rate_limited_total";
/// Streams cut by a revoked slice (counter, label `backend`).
pub const PROVIDER_PREEMPTED: &str = "aok_provider_preempted_total";
/// Times the breaker opened (counter, label `backend`).
pub const PROVIDER_BREAKER_OPENED: &str = "aok_provider_breaker_opened_total";
/// Breaker state: 0 closed, 1 half-open, 2 open (gauge, label `backend`).
pub const PROVIDER_BREAKER: &str = "aok_provider_breaker_state";
/// Requests in flight (gauge, label `backend`).
pub const PROVIDER_IN_FLIGHT: &str = "aok_provider_in_flight";
/// Calls waiting for budget (gauge, label `backend`).
pub const PROVIDER_QUEUED: &str = "aok_provider_queued";
/// One attempt's duration (histogram, labels `backend` and `outcome` = ok | error).
pub const PROVIDER_LATENCY: &str = "aok_provider_request_duration_seconds";
/// Successful LLM calls (counter, labels `backend`, `model`).
pub const LLM_CALLS: &str = "aok_llm_calls_total";
/// Tokens (counter, labels `backend`, `model`, `kind` = prompt | completion).
pub const LLM_TOKENS: &str = "aok_llm_tokens_total";
/// Cost so far in US dollars from the price table (a gauge, since counters are integers;
/// it only grows; labels `backend`, `model`).
pub const LLM_COST: &str = "aok_llm_cost_usd";
/// Page faults: swapped pages loaded back (counter).
pub const PAGE_FAULTS: &str = "aok_pager_faults_total";
/// Pages evicted (counter).
pub const PAGE_EVICTIONS: &str = "aok_pager_evictions_total";
/// Audit records committed (counter).
pub const AUDIT_WRITTEN: &str = "aok_audit_written_total";
/// Audit records dropped because the queue was full (counter).
pub const AUDIT_DROPPED: &str = "aok_audit_dropped_total";
