//! Recorded agent steps (`Kernel::trajectories`): by agent type, task, pid and time.

use actix_web::{HttpRequest, web};

use crate::api::auth::{Authed, Viewer};
use crate::api::extract::{query_count, query_pairs, query_text, query_time};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;
use crate::trajectory::{TrajectoryQuery, TrajectoryStep};

/// Most steps one request returns.
const MAX_LIMIT: u64 = 10_000;

/// The query parameters of `GET /v1/trajectories` (for the OpenAPI document).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct TrajectoryParams {
    /// Only steps of agents of this type (registered name, else Rust type).
    agent_type: Option<String>,
    /// Only steps of this task (`<pid>/<first step>`).
    task: Option<String>,
    /// Only steps of this agent (a pid).
    pid: Option<String>,
    /// Only steps started at or after this time (RFC 3339).
    from: Option<String>,
    /// At most this many steps (default 1000, at most 10000).
    limit: Option<u64>,
}

fn parse(req: &HttpRequest) -> ApiResult<TrajectoryQuery> {
    let mut q = TrajectoryQuery::new();
    for (key, value) in query_pairs(req)? {
        q = match key.as_str() {
            "agent_type" => q.agent_type(query_text("agent_type", value, 512)?),
            "task" => q.task(query_text("task", value, 512)?),
            "pid" => q.pid(
                value
                    .parse()
                    .map_err(|e: crate::ParsePidError| ApiError::field("pid", e.to_string()))?,
            ),
            "from" => q.from(query_time("from", &value)?),
            "limit" => q.limit(query_count("limit", &value, MAX_LIMIT)?),
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown parameter: use agent_type, task, pid, from, limit",
                ));
            }
        };
    }
    Ok(q)
}

/// Recorded steps, oldest first (what is queued is written first).
#[utoipa::path(get, path = "/v1/trajectories", tag = "kernel", security(("bearer" = [])),
    params(TrajectoryParams),
    responses(
        (status = 200, description = "Steps, oldest first", body = Vec<TrajectoryStep>),
        (status = 400, description = "Invalid parameter (named)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn query(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> ApiResult<web::Json<Vec<TrajectoryStep>>> {
    let q = parse(&req)?;
    let trajectories = state.kernel.trajectories();
    trajectories.flush().await;
    Ok(web::Json(trajectories.query(q).await?))
}
