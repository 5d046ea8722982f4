//! Tell and ask: JSON messages to agents spawned with JSON access.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::api::auth::{Authed, Operator};
use crate::api::dto::{AskReply, AskRequest, TellAccepted, TellRequest};
use crate::api::extract::{ApiJson, pid};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;

/// Queues a message for the agent (decoded into its message type first: a body of the
/// wrong shape is a 400 naming `message` and never reaches the agent).
#[utoipa::path(post, path = "/v1/agents/{pid}/tell", tag = "messages", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    request_body = TellRequest,
    responses(
        (status = 202, description = "Queued", body = TellAccepted),
        (status = 400, description = "Invalid input (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agent does not accept JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Its mailbox is full", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn tell(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
    body: ApiJson<TellRequest>,
) -> ApiResult<HttpResponse> {
    let pid = pid(&path)?;
    let req = body.0;
    let queued = match req.delivery_id {
        Some(id) if id.is_empty() || id.len() > 256 => {
            return Err(ApiError::field("delivery_id", "must be 1 to 256 bytes"));
        }
        Some(id) => state.kernel.send_json_once(pid, &id, req.message).await?,
        None => {
            state.kernel.send_json(pid, req.message).await?;
            true
        }
    };
    Ok(HttpResponse::Accepted().json(TellAccepted {
        pid: pid.to_string(),
        queued,
    }))
}

/// Sends a message and waits for the agent's reply.
#[utoipa::path(post, path = "/v1/agents/{pid}/ask", tag = "messages", security(("bearer" = [])),
    params(("pid" = String, Path, description = "The agent's pid")),
    request_body = AskRequest,
    responses(
        (status = 200, description = "The reply", body = AskReply),
        (status = 400, description = "Invalid input (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live agent with this pid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agent does not accept JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The agent's handler returned an error", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The agent crashed or was interrupted", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "No reply within the timeout", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ask(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    path: web::Path<String>,
    body: ApiJson<AskRequest>,
) -> ApiResult<web::Json<AskReply>> {
    let pid = pid(&path)?;
    let req = body.0;
    let max = state.config.max_ask_timeout_ms;
    let timeout = match req.timeout_ms {
        Some(ms) if ms == 0 || ms > max => {
            return Err(ApiError::field(
                "timeout_ms",
                format!("must be 1 to {max} (api.max_ask_timeout_ms)"),
            ));
        }
        Some(ms) => Duration::from_millis(ms),
        None => state.kernel.config().kernel.ask_timeout(),
    };
    let reply = state.kernel.ask_json(pid, req.message, timeout).await?;
    Ok(web::Json(AskReply {
        pid: pid.to_string(),
        reply,
    }))
}
