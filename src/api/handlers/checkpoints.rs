//! Checkpoints: take, list, restore, fork.

use actix_web::{HttpResponse, web};

use crate::api::auth::{Admin, Authed, Operator, Viewer};
use crate::api::dto::{CheckpointView, ForkRequest, PidView};
use crate::api::extract::{MaybeJson, pid};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;

/// A checkpoint id from the path: a UUID, else 400 naming `id`.
fn checkpoint_id(raw: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| ApiError::field("id", format!("`{raw}` is not a checkpoint id (a UUID)")))
}

/// Every stored checkpoint of an agent (running or not), oldest first; 404 when the agent
/// neither runs nor has checkpoints.
#[utoipa::path(get, path = "/v1/agents/{pid}/checkpoints", tag = "checkpoints", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 200, description = "Its checkpoints", body = Vec<CheckpointView>),
        (status = 400, description = "Not a pid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown agent", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<CheckpointView>>> {
    let pid = pid(&path)?;
    let all = state.kernel.checkpoints(pid).await?;
    if all.is_empty() && state.kernel.status(pid).is_err() {
        return Err(ApiError::NotFound(format!(
            "no live agent and no checkpoint with pid {pid}"
        )));
    }
    Ok(web::Json(
        all.into_iter().map(CheckpointView::from).collect(),
    ))
}

/// Checkpoints a running agent now (between two messages) and waits for the commit.
#[utoipa::path(post, path = "/v1/agents/{pid}/checkpoints", tag = "checkpoints", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    responses(
        (status = 201, description = "Committed", body = CheckpointView),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let pid = pid(&path)?;
    let info = state.kernel.checkpoint(pid).await?;
    Ok(HttpResponse::Created().json(CheckpointView::from(info)))
}

/// Restores a checkpoint into its own agent (rebuilt in place if running, respawned under
/// its pid from its registered type if not).
#[utoipa::path(post, path = "/v1/checkpoints/{id}/restore", tag = "checkpoints", security(("bearer" = [])),
    params(("id" = String, Path, description = "The checkpoint id")),
    responses(
        (status = 200, description = "Restored", body = PidView),
        (status = 403, description = "Needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checkpoint", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its agent type is not registered", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn restore(
    _: Authed<Admin>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<PidView>> {
    let id = checkpoint_id(&path)?;
    let pid = state.kernel.restore_checkpoint(&id).await?;
    Ok(web::Json(PidView {
        pid: pid.to_string(),
    }))
}

/// Starts a new agent (a new pid) from a checkpoint of a registered agent type.
#[utoipa::path(post, path = "/v1/checkpoints/{id}/fork", tag = "checkpoints", security(("bearer" = [])),
    params(("id" = String, Path, description = "The checkpoint id")),
    request_body(content = Option<ForkRequest>, description = "Optional: the new agent's name"),
    responses(
        (status = 201, description = "Forked", body = PidView),
        (status = 403, description = "Needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checkpoint", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its agent type is not registered", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn fork(
    _: Authed<Admin>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
    body: MaybeJson<ForkRequest>,
) -> ApiResult<HttpResponse> {
    let id = checkpoint_id(&path)?;
    let req = body.0.unwrap_or_default();
    if let Some(name) = &req.name
        && (name.trim().is_empty() || name.len() > 256)
    {
        return Err(ApiError::field("name", "must be 1 to 256 bytes"));
    }
    let pid = state
        .kernel
        .fork_checkpoint(&id, req.name.as_deref())
        .await?;
    Ok(HttpResponse::Created().json(PidView {
        pid: pid.to_string(),
    }))
}
