//! Recorded agent steps (`Kernel::trajectories`): by agent type, task, pid and time.

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};

use crate::api::auth::{Authed, Viewer};
use crate::api::extract::query_pairs;
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

fn text(field: &str, value: String) -> ApiResult<String> {
    if value.is_empty() || value.len() > 512 {
        return Err(ApiError::field(field, "must be 1 to 512 bytes"));
    }
    Ok(value)
}

fn parse(req: &HttpRequest) -> ApiResult<TrajectoryQuery> {
    let mut q = TrajectoryQuery::new();
    for (key, value) in query_pairs(req)? {
        q = match key.as_str() {
            "agent_type" => q.agent_type(text("agent_type", value)?),
            "task" => q.task(text("task", value)?),
            "pid" => q.pid(
                value
                    .parse()
                    .map_err(|e: crate::ParsePidError| ApiError::field("pid", e.to_string()))?,
            ),
            "from" => q.from(
                DateTime::parse_from_rfc3339(&value)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        ApiError::field("from", format!("`{value}` is not an RFC 3339 time: {e}"))
                    })?,
            ),
            "limit" => {
                let n: u64 = value.parse().map_err(|_| {
                    ApiError::field("limit", format!("`{value}` is not a whole number"))
                })?;
                if !(1..=MAX_LIMIT).contains(&n) {
                    return Err(ApiError::field(
                        "limit",
                        format!("must be 1 to {MAX_LIMIT}"),
                    ));
                }
                q.limit(n)
            }
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
