//! Every error the API answers, as an RFC 9457 `application/problem+json` document.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:agent-os:problem:not-found`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem (the same for every occurrence).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The request field at fault (`priority`, `message`, `pid`, …), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Why a request failed; each variant is one status and one problem type.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Malformed or invalid input.
    #[error("{detail}")]
    BadRequest {
        /// The field at fault, if one is.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// No or an unknown bearer token. The detail is the same for every case.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The token's role is too low.
    #[error("this operation needs the {needed} role")]
    Forbidden { needed: super::Role },
    /// No such agent, checkpoint or route.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("the method is not allowed on this route")]
    MethodNotAllowed,
    /// The body is larger than `api.max_body_bytes`.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body is not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The agent refused the message (its handler returned an error).
    #[error("{0}")]
    Unprocessable(String),
    /// The agent's mailbox is full.
    #[error("{0}")]
    TooManyRequests(String),
    /// The agent failed while handling the request (crash, interruption, no reply).
    #[error("{0}")]
    BadGateway(String),
    /// The agent did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The kernel or its storage cannot serve now.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the kernel itself (never bad input).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// 400 naming `field`.
    pub(crate) fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    fn slug(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => ("bad-request", "Bad request"),
            ApiError::Unauthorized => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden { .. } => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            ApiError::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::Unprocessable(_) => ("agent-error", "The agent returned an error"),
            ApiError::TooManyRequests(_) => ("mailbox-full", "Mailbox full"),
            ApiError::BadGateway(_) => ("agent-failed", "The agent failed"),
            ApiError::Timeout(_) => ("timeout", "The agent did not answer in time"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem document.
    pub(crate) fn problem(&self) -> Problem {
        let (slug, title) = self.slug();
        Problem {
            kind: format!("urn:agent-os:problem:{slug}"),
            title: title.to_string(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            field: match self {
                ApiError::BadRequest { field, .. } => field.clone(),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        if self.status_code().is_server_error() {
            tracing::error!(status = problem.status, detail = %problem.detail, "API request failed");
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.body(body)
    }
}

/// The `Result` of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
