//! The optimizer (`Kernel::optimizer`): its analysis, applying a change, and the run-time
//! settings changes made (`Kernel::tuning`, the router's chains).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, web};
use serde::Serialize;

use crate::api::auth::{Authed, Operator, Viewer};
use crate::api::extract::{ApiJson, query_count, query_pairs, query_text, query_time};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::state::ApiState;
use crate::optimizer::{Analysis, AnalysisQuery, Applied, Change, OptimizerError};
use crate::tuning::TypeTuning;

/// The query parameters of `GET /v1/optimizer` (for the OpenAPI document).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AnalysisParams {
    /// Only this agent type.
    agent_type: Option<String>,
    /// Only steps started at or after this time (RFC 3339).
    from: Option<String>,
    /// At most this many steps, the newest (default 100000, at most 1000000).
    limit: Option<u64>,
    /// Fewest samples a rule takes as evidence (default 5, 1 to 1000000).
    min_samples: Option<u64>,
}

fn parse(req: &HttpRequest) -> ApiResult<AnalysisQuery> {
    let mut q = AnalysisQuery::new();
    for (key, value) in query_pairs(req)? {
        q = match key.as_str() {
            "agent_type" => q.agent_type(query_text("agent_type", value, 512)?),
            "from" => q.from(query_time("from", &value)?),
            "limit" => q.limit(query_count("limit", &value, 1_000_000)?),
            "min_samples" => q.min_samples(query_count("min_samples", &value, 1_000_000)?),
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown parameter: use agent_type, from, limit, min_samples",
                ));
            }
        };
    }
    Ok(q)
}

/// Reports per agent type and backend, and suggestions with their evidence.
#[utoipa::path(get, path = "/v1/optimizer", tag = "kernel", security(("bearer" = [])),
    params(AnalysisParams),
    responses(
        (status = 200, description = "The analysis", body = Analysis),
        (status = 400, description = "Invalid parameter (named)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn analyze(
    _: Authed<Viewer>,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> ApiResult<web::Json<Analysis>> {
    let q = parse(&req)?;
    match state.kernel.optimizer().analyze(q).await {
        Ok(a) => Ok(web::Json(a)),
        Err(OptimizerError::Storage(e)) => Err(e.into()),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// Applies a change (a suggestion's `change`, or one written by hand) to the running kernel;
/// audited as `optimizer.apply`.
#[utoipa::path(post, path = "/v1/optimizer/apply", tag = "kernel", security(("bearer" = [])),
    request_body(content = Change, description = "The change"),
    responses(
        (status = 200, description = "Applied", body = Applied),
        (status = 400, description = "Invalid change (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the operator role", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn apply(
    _: Authed<Operator>,
    state: web::Data<ApiState>,
    body: ApiJson<Change>,
) -> ApiResult<web::Json<Applied>> {
    let change = body.0;
    let field = match &change {
        Change::Route { .. } => "chain",
        Change::StepLimit { .. } => "max_steps",
        Change::Priority { .. } => "priority",
    };
    match state.kernel.optimizer().apply(&change, "api") {
        Ok(applied) => Ok(web::Json(applied)),
        Err(OptimizerError::Invalid(e)) => Err(ApiError::field(field, e)),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// Settings changed at run time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TuningView {
    /// Per agent type (only types with a setting).
    types: BTreeMap<String, TypeTuning>,
    /// Every model or group's fallback chain (backend names, first first).
    routes: BTreeMap<String, Vec<String>>,
}

/// Per-agent-type settings and the router's chains as the kernel uses them now.
#[utoipa::path(get, path = "/v1/tuning", tag = "kernel", security(("bearer" = [])),
    responses((status = 200, description = "The settings", body = TuningView)))]
pub(crate) async fn tuning(_: Authed<Viewer>, state: web::Data<ApiState>) -> web::Json<TuningView> {
    let routes = state
        .kernel
        .providers()
        .router
        .routes()
        .into_iter()
        .map(|(m, chain)| (m, chain.into_iter().map(|t| t.backend).collect()))
        .collect();
    web::Json(TuningView {
        types: state.kernel.tuning().all(),
        routes,
    })
}
