//! Agents: registered types, spawn, list, get, stop, kill.

use std::time::Duration;

use actix_web::{HttpResponse, http::header, web};

use crate::agent::SpawnOptions;
use crate::api::auth::{Admin, Authed, Operator, Viewer};
use crate::api::dto::{AgentTypes, AgentView, ExitView, SpawnRequest, StopRequest};
use crate::api::extract::{ApiJson, MaybeJson, pid};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;
use crate::pid::Pid;

/// The longest stop deadline a request may set (one hour), milliseconds.
const MAX_STOP_MS: u64 = 3_600_000;
/// The largest context budget a spawn may ask for, tokens.
const MAX_CONTEXT_BUDGET: u64 = 100_000_000;

/// The agent's status, or 404.
pub(crate) fn live(state: &ApiState, pid: Pid) -> ApiResult<AgentView> {
    state
        .kernel
        .status(pid)
        .map(AgentView::from)
        .map_err(|_| ApiError::NotFound(format!("no live agent with pid {pid}")))
}

/// The names of the registered agent types (what `POST /v1/agents` can spawn).
#[utoipa::path(get, path = "/v1/agent-types", tag = "agents", security(("bearer" = [])),
    responses(
        (status = 200, description = "Registered agent types", body = AgentTypes),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn types(_: Authed<Viewer>, state: web::Data<ApiState>) -> web::Json<AgentTypes> {
    web::Json(AgentTypes {
        types: state.kernel.agent_types(),
    })
}

/// Every live agent, oldest first.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", security(("bearer" = [])),
    responses(
        (status = 200, description = "Live agents", body = Vec<AgentView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
) -> web::Json<Vec<AgentView>> {
    web::Json(
        state
            .kernel
            .list()
            .into_iter()
            .map(AgentView::from)
            .collect(),
    )
}

fn options(req: &SpawnRequest) -> ApiResult<SpawnOptions> {
    if req.agent_type.trim().is_empty() {
        return Err(ApiError::field("type", "must name a registered agent type"));
    }
    if req.name.trim().is_empty() {
        return Err(ApiError::field("name", "must not be empty"));
    }
    if req.name.len() > 256 {
        return Err(ApiError::field("name", "must be at most 256 bytes"));
    }
    let mut opts = SpawnOptions::new(req.name.clone()).durable(req.durable);
    if let Some(p) = req.priority {
        if p > 100 {
            return Err(ApiError::field(
                "priority",
                format!("{p} is out of range: use 0 (most urgent) to 100"),
            ));
        }
        opts = opts.priority(p);
    }
    if let Some(m) = req.mailbox {
        if !(1..=1_000_000).contains(&m) {
            return Err(ApiError::field("mailbox", "must be 1 to 1000000"));
        }
        opts = opts.mailbox(m);
    }
    if let Some(r) = req.restart {
        opts = opts.restart(r);
    }
    if let Some(b) = req.context_budget {
        if !(1..=MAX_CONTEXT_BUDGET).contains(&b) {
            return Err(ApiError::field(
                "context_budget",
                format!("must be 1 to {MAX_CONTEXT_BUDGET} tokens"),
            ));
        }
        opts = opts.context_budget(b);
    }
    if let Some(ms) = req.stop_timeout_ms {
        if !(1..=MAX_STOP_MS).contains(&ms) {
            return Err(ApiError::field(
                "stop_timeout_ms",
                format!("must be 1 to {MAX_STOP_MS}"),
            ));
        }
        opts = opts.stop_timeout(Duration::from_millis(ms));
    }
    Ok(opts)
}

/// Spawns an agent of a registered type, with JSON access (tell and ask through the API).
#[utoipa::path(post, path = "/v1/agents", tag = "agents", security(("bearer" = [])),
    request_body = SpawnRequest,
    responses(
        (status = 201, description = "Spawned", body = AgentView),
        (status = 400, description = "Invalid options (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn spawn(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    body: ApiJson<SpawnRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let opts = options(&req)?;
    if !state.kernel.agent_types().contains(&req.agent_type) {
        return Err(ApiError::field(
            "type",
            format!(
                "no agent type `{}` is registered (GET /v1/agent-types lists them)",
                req.agent_type
            ),
        ));
    }
    let pid = state.kernel.spawn_registered(&req.agent_type, opts).await?;
    let view = live(&state, pid)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("agents/{pid}")))
        .json(view))
}

/// One live agent.
#[utoipa::path(get, path = "/v1/agents/{pid}", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid (a UUID)")),
    responses(
        (status = 200, description = "The agent", body = AgentView),
        (status = 400, description = "Not a pid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<AgentView>> {
    live(&state, pid(&path)?).map(web::Json)
}

/// Stops an agent gracefully and waits for its exit.
#[utoipa::path(post, path = "/v1/agents/{pid}/stop", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    request_body(content = Option<StopRequest>, description = "Optional: a deadline"),
    responses(
        (status = 200, description = "Stopped", body = ExitView),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn stop(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
    body: MaybeJson<StopRequest>,
) -> ApiResult<web::Json<ExitView>> {
    let pid = pid(&path)?;
    let req = body.0.unwrap_or_default();
    let reason = match req.timeout_ms {
        Some(ms) if !(1..=MAX_STOP_MS).contains(&ms) => {
            return Err(ApiError::field(
                "timeout_ms",
                format!("must be 1 to {MAX_STOP_MS}"),
            ));
        }
        Some(ms) => {
            state
                .kernel
                .stop_within(pid, Duration::from_millis(ms))
                .await?
        }
        None => state.kernel.stop(pid).await?,
    };
    Ok(web::Json(ExitView {
        pid: pid.to_string(),
        reason: reason.to_string(),
    }))
}

/// Kills an agent: the message it handles is aborted, `on_stop` does not run.
#[utoipa::path(post, path = "/v1/agents/{pid}/kill", tag = "agents", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Killed", body = ExitView),
        (status = 403, description = "Needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn kill(
    _: Authed<Admin>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<ExitView>> {
    let pid = pid(&path)?;
    let reason = state.kernel.kill(pid).await?;
    Ok(web::Json(ExitView {
        pid: pid.to_string(),
        reason: reason.to_string(),
    }))
}
