//! Read-only views: an agent's context, pages, policy and usage; the scheduler, the
//! providers, the usage ledger, the tools.

use actix_web::web;

use crate::api::auth::{Authed, Viewer};
use crate::api::dto::{
    AgentUsageView, ContextView, PageView, ProviderView, SchedulerView, ToolView, UsageCell,
    UsageReport, UsageView,
};
use crate::api::extract::pid;
use crate::api::handlers::agents::live;
use crate::api::problem::{ApiResult, Problem};
use crate::api::state::ApiState;

/// An agent's context: resident and swapped pages and tokens, its budget, faults, hits.
#[utoipa::path(get, path = "/v1/agents/{pid}/context", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Its pager statistics", body = ContextView),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn context(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<ContextView>> {
    let pid = pid(&path)?;
    live(&state, pid)?;
    let stats = state.kernel.pager().stats(pid).await?;
    Ok(web::Json(stats.into()))
}

/// An agent's page table in conversation order (no content).
#[utoipa::path(get, path = "/v1/agents/{pid}/pages", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Its pages", body = Vec<PageView>),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn pages(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<PageView>>> {
    let pid = pid(&path)?;
    live(&state, pid)?;
    let pages = state.kernel.pager().pages(pid).await?;
    Ok(web::Json(pages.into_iter().map(PageView::from).collect()))
}

/// The security policy an agent runs under (the `[security]` schema of the configuration).
#[utoipa::path(get, path = "/v1/agents/{pid}/policy", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Its policy", content_type = "application/json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn policy(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<crate::security::policy::SecurityPolicy>> {
    let pid = pid(&path)?;
    Ok(web::Json(state.kernel.policy_of(pid)?))
}

/// What an agent used through its LLM calls over its life.
#[utoipa::path(get, path = "/v1/agents/{pid}/usage", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Its usage and cost", body = AgentUsageView),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn agent_usage(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<AgentUsageView>> {
    let pid = pid(&path)?;
    let u = state.kernel.agent_usage(pid)?;
    Ok(web::Json(AgentUsageView {
        pid: pid.to_string(),
        calls: u.calls,
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cost_usd: u.cost_usd,
    }))
}

/// The scheduler: policy, slots, queue, waits, grants, preemptions, usage per agent.
#[utoipa::path(get, path = "/v1/scheduler", tag = "kernel", security(("bearer" = [])),
    responses((status = 200, description = "Scheduler state", body = SchedulerView)))]
pub(crate) async fn scheduler(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
) -> ApiResult<web::Json<SchedulerView>> {
    Ok(web::Json(state.kernel.scheduler_stats().await?.into()))
}

/// Every LLM backend: counters, rate budget, breaker state, usage.
#[utoipa::path(get, path = "/v1/providers", tag = "kernel", security(("bearer" = [])),
    responses((status = 200, description = "The backends", body = Vec<ProviderView>)))]
pub(crate) async fn providers(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
) -> web::Json<Vec<ProviderView>> {
    let p = state.kernel.providers();
    web::Json(
        p.router
            .stats()
            .into_iter()
            .map(|s| {
                let usage = p.ledger.backend_totals(&s.backend);
                ProviderView::of(s, usage)
            })
            .collect(),
    )
}

/// The usage ledger: totals, and per agent, backend and model.
#[utoipa::path(get, path = "/v1/usage", tag = "kernel", security(("bearer" = [])),
    responses((status = 200, description = "Usage and cost", body = UsageReport)))]
pub(crate) async fn usage(_: Authed<Viewer>, state: web::Data<ApiState>) -> web::Json<UsageReport> {
    let ledger = &state.kernel.providers().ledger;
    web::Json(UsageReport {
        total: UsageView::from(ledger.totals()),
        cells: ledger
            .snapshot()
            .into_iter()
            .map(|(k, v)| UsageCell {
                pid: k.pid.to_string(),
                backend: k.backend,
                model: k.model,
                usage: v.into(),
            })
            .collect(),
    })
}

/// Every tool agents can call, with its argument schema.
#[utoipa::path(get, path = "/v1/tools", tag = "kernel", security(("bearer" = [])),
    responses((status = 200, description = "The tools", body = Vec<ToolView>)))]
pub(crate) async fn tools(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
) -> web::Json<Vec<ToolView>> {
    let registry = state.kernel.tools();
    web::Json(
        registry
            .names()
            .into_iter()
            .filter_map(|name| registry.get(&name))
            .map(|t| ToolView {
                name: t.name().to_string(),
                description: t.description().to_string(),
                level: serde_json::to_value(t.level())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                schema: t.schema(),
            })
            .collect(),
    )
}
