//! Request input: JSON bodies decoded with the path of the field at fault, the size limit,
//! pids and query parameters parsed into 400 problems naming their field; the path and query
//! configurations of actix answer problems too.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::problem::ApiError;
use super::state::ApiState;
use crate::pid::Pid;

/// A JSON body of type `T`, decoded with the path of the field at fault in any error, at most
/// `api.max_body_bytes` long.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// The name between the first pair of backticks of a serde message (`missing field `x``).
fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// A decoding error as a 400 naming its field: the path serde reached, else the field a
/// "missing field" / "unknown field" message names.
fn decode_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let msg = inner.to_string();
    // serde_path_to_error's path ends at the unknown key already, but at the parent of a
    // missing one.
    let named = if msg.starts_with("missing field") {
        backticked(&msg).map(|f| {
            if path == "." {
                f
            } else {
                format!("{path}.{f}")
            }
        })
    } else if msg.starts_with("unknown field") && path == "." {
        backticked(&msg)
    } else {
        None
    };
    let field = named.or_else(|| (path != ".").then_some(path));
    ApiError::BadRequest {
        detail: match &field {
            Some(f) => format!("field `{f}`: {msg}"),
            None => format!("the body is not valid JSON for this request: {msg}"),
        },
        field,
    }
}

/// Decodes `bytes` as a `T`, the whole input (no trailing data).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(decode_error)?;
    de.end().map_err(|e| ApiError::BadRequest {
        field: None,
        detail: format!("the body is not valid JSON: {e}"),
    })?;
    Ok(value)
}

/// Reads the body (at most `api.max_body_bytes`); `None` when it is empty. A non-empty body
/// must be declared `application/json` (or `…+json`).
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<Option<web::Bytes>, ApiError>> {
    let limit = req
        .app_data::<web::Data<ApiState>>()
        .map_or(1 << 20, |s| s.config.max_body_bytes);
    let json = is_json(req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest {
                field: None,
                detail: format!("the body could not be read: {e}"),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(Some(body.freeze()))
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            match body.await? {
                Some(bytes) => decode(&bytes).map(ApiJson),
                None => Err(ApiError::BadRequest {
                    field: None,
                    detail: "a JSON body is required".into(),
                }),
            }
        })
    }
}

/// An optional JSON body: `None` when the request has none.
#[derive(Debug)]
pub(crate) struct MaybeJson<T>(pub(crate) Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for MaybeJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            match body.await? {
                Some(bytes) => decode(&bytes).map(|v| MaybeJson(Some(v))),
                None => Ok(MaybeJson(None)),
            }
        })
    }
}

/// Parses a pid from the path (`field` names the path segment).
pub(crate) fn pid(raw: &str) -> Result<Pid, ApiError> {
    raw.parse::<Pid>()
        .map_err(|e| ApiError::field("pid", e.to_string()))
}

/// A query parameter holding an RFC 3339 time (a 400 naming `field` otherwise).
pub(crate) fn query_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::field(field, format!("`{raw}` is not an RFC 3339 time: {e}")))
}

/// A query parameter holding a whole number from 1 to `max` (a 400 naming `field` otherwise).
pub(crate) fn query_count(field: &str, raw: &str, max: u64) -> Result<u64, ApiError> {
    let n: u64 = raw
        .parse()
        .map_err(|_| ApiError::field(field, format!("`{raw}` is not a whole number")))?;
    if !(1..=max).contains(&n) {
        return Err(ApiError::field(field, format!("must be 1 to {max}")));
    }
    Ok(n)
}

/// A query parameter holding 1 to `max` bytes of text (a 400 naming `field` otherwise).
pub(crate) fn query_text(field: &str, value: String, max: usize) -> Result<String, ApiError> {
    if value.is_empty() || value.len() > max {
        return Err(ApiError::field(field, format!("must be 1 to {max} bytes")));
    }
    Ok(value)
}

/// The query parameters as (name, value) pairs, in order.
pub(crate) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest {
            field: None,
            detail: format!("the query string cannot be read: {e}"),
        })
}

/// The path and query configurations of the API scope: their errors are problems.
pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|e, _| {
        ApiError::BadRequest {
            field: Some("path".into()),
            detail: e.to_string(),
        }
        .into()
    })
}

/// See [`path_config`].
pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e, _| {
        ApiError::BadRequest {
            field: None,
            detail: e.to_string(),
        }
        .into()
    })
}

/// Actix's own JSON extractor, should a handler use it: errors as problems, the body limit of
/// the configuration.
pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |e, _| {
            use actix_web::error::JsonPayloadError as J;
            match e {
                J::Overflow { .. } | J::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge { limit }
                }
                J::ContentType => ApiError::UnsupportedMediaType,
                other => ApiError::BadRequest {
                    field: None,
                    detail: other.to_string(),
                },
            }
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn field_of(json: &str) -> Option<String> {
        match decode::<Outer>(json.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(field_of(r#"{"name": 1}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"name": "a", "x": 1}"#).as_deref(), Some("x"));
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"n": 300}}"#).as_deref(),
            Some("inner.n")
        );
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {}}"#).as_deref(),
            Some("inner.n")
        );
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"m": 1}}"#).as_deref(),
            Some("inner.m")
        );
        assert_eq!(field_of(r#"{"name": "a"} x"#), None);
        assert_eq!(field_of("true"), None);
    }
}
