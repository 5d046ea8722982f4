//! `/v1/events`: the live event stream.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use crate::api::auth::{Authed, Viewer};
use crate::api::events;
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;

/// Kernel events (lifecycle, scheduling, faults, checkpoints, policy denials) as server-sent
/// events: `id:` increases, `event:` is the event's name, `data:` its JSON. Reconnect with
/// `Last-Event-ID` to get the kept events after it first.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<u64>, Header, description = "The last event id the client saw")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream"),
        (status = 400, description = "Last-Event-ID is not a number", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn events(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let after = match req.headers().get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::field("Last-Event-ID", "must be an event id (a number)")
                })?,
        ),
    };
    let body = events::stream(
        state.events.clone(),
        after,
        Duration::from_secs(state.config.keepalive_secs),
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}
