//! Liveness, readiness, the OpenAPI document, and the answers for unknown routes.

use crate::api::auth::{Authed, Viewer};
use crate::api::dto::Health;
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/v1/health", tag = "health",
    responses((status = 200, description = "The server is up", body = Health)))]
pub(crate) async fn health() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the kernel's storage answers a query.
#[utoipa::path(get, path = "/v1/ready", tag = "health",
    responses(
        (status = 200, description = "Storage is reachable", body = Health),
        (status = 503, description = "Storage is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ready(state: web::Data<ApiState>) -> ApiResult<web::Json<Health>> {
    let conn = state.kernel.storage().connection();
    match tokio::time::timeout(std::time::Duration::from_secs(5), conn.ping()).await {
        Ok(Ok(_)) => Ok(web::Json(Health {
            status: "ready".into(),
        })),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("storage: {e}"))),
        Err(_) => Err(ApiError::Unavailable(
            "storage did not answer within 5 s".into(),
        )),
    }
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::api::openapi::document())
}

/// Any path under `/v1` that is not a route.
pub(crate) async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ApiError::NotFound(format!(
        "no route {} {}",
        req.method(),
        req.path()
    )))
}

/// A route asked with a method it does not have.
pub(crate) async fn method_not_allowed() -> ApiResult<HttpResponse> {
    Err(ApiError::MethodNotAllowed)
}

/// The kernel's metrics in the Prometheus text format (docs/observability.md).
#[utoipa::path(get, path = "/metrics", tag = "kernel", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus exposition format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn metrics(_: Authed<Viewer>, state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.kernel.metrics_text().await)
}
