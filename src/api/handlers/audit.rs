//! The audit log: query and verify.

use actix_web::{HttpRequest, web};

use crate::api::auth::{Admin, Authed, Viewer};
use crate::api::dto::{AuditView, VerifyView};
use crate::api::extract::{query_count, query_pairs, query_text, query_time};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;
use crate::security::audit::{AuditQuery, MAX_LIMIT};

/// The query parameters of `GET /v1/audit` (for the OpenAPI document).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AuditParams {
    /// Only records of this agent (a pid).
    pid: Option<String>,
    /// Only this action (`tool.call`), or a prefix ending in `*` (`tool.*`).
    action: Option<String>,
    /// Only records at or after this time (RFC 3339).
    from: Option<String>,
    /// Only records before this time (RFC 3339).
    to: Option<String>,
    /// At most this many entries (default 100, at most 10000).
    limit: Option<u64>,
}

fn parse(req: &HttpRequest) -> ApiResult<AuditQuery> {
    let mut q = AuditQuery::new();
    for (key, value) in query_pairs(req)? {
        match key.as_str() {
            "pid" => {
                q =
                    q.pid(value.parse().map_err(|e: crate::ParsePidError| {
                        ApiError::field("pid", e.to_string())
                    })?);
            }
            "action" => q = q.action(query_text("action", value, 256)?),
            "from" => q = q.from(query_time("from", &value)?),
            "to" => q = q.to(query_time("to", &value)?),
            "limit" => q = q.limit(query_count("limit", &value, MAX_LIMIT)?),
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown parameter: use pid, action, from, to, limit",
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(ApiError::field("from", "is after `to`"));
    }
    Ok(q)
}

/// Audit entries, newest first (committed ones: the writer flushes before the query).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditView>),
        (status = 400, description = "Invalid parameter (named)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn query(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> ApiResult<web::Json<Vec<AuditView>>> {
    let q = parse(&req)?;
    let audit = state.kernel.audit();
    audit.flush().await?;
    let entries = audit.query(q).await?;
    Ok(web::Json(
        entries.into_iter().map(AuditView::from).collect(),
    ))
}

/// Verifies the whole audit hash chain.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses(
        (status = 200, description = "What verification found", body = VerifyView),
        (status = 403, description = "Needs the admin role", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify(
    _: Authed<Admin>,
    state: web::Data<ApiState>,
) -> ApiResult<web::Json<VerifyView>> {
    Ok(web::Json(state.kernel.audit().verify().await?.into()))
}
