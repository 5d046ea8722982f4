//! Bearer authentication and roles: every `/v1` route but health, readiness and the OpenAPI
//! document takes an [`Authed`] extractor naming the least role it needs. The token's SHA-256
//! is compared in constant time with every configured digest; each decision (allowed or
//! denied) is appended to the audit log as `api.request` with the token's name as actor and
//! `METHOD /route/{pattern}` as target.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::{Ready, ready};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::{ApiToken, Role, decode_digest};
use super::problem::ApiError;
use super::state::ApiState;
use crate::security::audit::AuditRecord;

/// The audit action of an API request.
pub(crate) const AUDIT_ACTION: &str = "api.request";

/// The name anonymous callers are audited under (no tokens configured).
pub(crate) const ANONYMOUS: &str = "anonymous";

/// The configured tokens, decoded.
#[derive(Debug)]
pub(crate) struct Tokens {
    entries: Vec<(Arc<str>, Role, [u8; 32])>,
}

/// Who made a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) name: Arc<str>,
    pub(crate) role: Role,
}

impl Tokens {
    /// Tokens whose digest decodes (the configuration's validation refuses the others).
    pub(crate) fn new(tokens: &[ApiToken]) -> Self {
        Tokens {
            entries: tokens
                .iter()
                .filter_map(|t| {
                    Some((
                        Arc::from(t.name.as_str()),
                        t.role,
                        decode_digest(&t.sha256)?,
                    ))
                })
                .collect(),
        }
    }

    /// Whether callers are anonymous (no token configured).
    pub(crate) fn anonymous(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller a request's `Authorization` header names. Every configured digest is
    /// compared (no early exit), each in constant time.
    fn authenticate(&self, req: &HttpRequest) -> Result<Caller, &'static str> {
        if self.anonymous() {
            return Ok(Caller {
                name: Arc::from(ANONYMOUS),
                role: Role::Admin,
            });
        }
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .ok_or("no bearer token")?
            .to_str()
            .map_err(|_| "a malformed Authorization header")?;
        let (scheme, token) = value
            .trim()
            .split_once(' ')
            .ok_or("a malformed Authorization header")?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err("an Authorization scheme other than Bearer");
        }
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut found: Option<&(Arc<str>, Role, [u8; 32])> = None;
        for entry in &self.entries {
            if bool::from(entry.2.ct_eq(&digest)) {
                found = Some(entry);
            }
        }
        found
            .map(|(name, role, _)| Caller {
                name: name.clone(),
                role: *role,
            })
            .ok_or("an unknown token")
    }
}

/// The least role of a route, as a type.
pub(crate) trait MinRole {
    /// The role.
    const ROLE: Role;
}

/// Any token.
#[derive(Debug)]
pub(crate) struct Viewer;
/// An operator or admin token.
#[derive(Debug)]
pub(crate) struct Operator;
/// An admin token.
#[derive(Debug)]
pub(crate) struct Admin;

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Operator {
    const ROLE: Role = Role::Operator;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// An authenticated caller with at least role `R` (first argument of every protected
/// handler, so it is checked before the body is read).
#[derive(Debug)]
pub(crate) struct Authed<R> {
    _role: PhantomData<R>,
}

/// `GET /v1/agents/{pid}`: the method and the route pattern, never the concrete path.
fn what(req: &HttpRequest) -> String {
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_string());
    format!("{} {pattern}", req.method())
}

impl<R: MinRole> FromRequest for Authed<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<ApiState>>() else {
            return ready(Err(ApiError::Internal(
                "the API state is not mounted".into(),
            )));
        };
        let target = what(req);
        let audit = state.kernel.audit();
        let result = match state.tokens.authenticate(req) {
            Err(why) => {
                tracing::info!(route = %target, "API request refused: {why}");
                audit.record(AuditRecord::new(AUDIT_ACTION).target(target).denied(why));
                Err(ApiError::Unauthorized)
            }
            Ok(caller) if caller.role < R::ROLE => {
                audit.record(
                    AuditRecord::new(AUDIT_ACTION)
                        .actor(&*caller.name)
                        .target(target)
                        .denied(format!("role {} is below {}", caller.role, R::ROLE)),
                );
                Err(ApiError::Forbidden { needed: R::ROLE })
            }
            Ok(caller) => {
                audit.record(
                    AuditRecord::new(AUDIT_ACTION)
                        .actor(&*caller.name)
                        .target(target)
                        .reason(format!("role {}", caller.role)),
                );
                tracing::Span::current().record("caller", &*caller.name);
                Ok(Authed { _role: PhantomData })
            }
        };
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[
            ApiToken {
                name: "a".into(),
                role: Role::Admin,
                sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            },
            ApiToken {
                name: "v".into(),
                role: Role::Viewer,
                // sha256("viewer")
                sha256: "d35ca5051b82ffc326a3b0b6574a9a3161dee16b9478a199ee39cd803ce5b799".into(),
            },
        ])
    }

    fn who(header: Option<&str>) -> Result<(String, Role), &'static str> {
        let mut req = actix_web::test::TestRequest::default();
        if let Some(h) = header {
            req = req.insert_header((header::AUTHORIZATION, h));
        }
        tokens()
            .authenticate(&req.to_http_request())
            .map(|c| (c.name.to_string(), c.role))
    }

    #[test]
    fn tokens_are_recognised_by_their_digest_only() {
        assert_eq!(who(Some("Bearer viewer")), Ok(("v".into(), Role::Viewer)));
        assert_eq!(
            who(Some("bearer   viewer ")),
            Ok(("v".into(), Role::Viewer))
        );
        assert!(
            who(Some(
                "Bearer d35ca5051b82ffc326a3b0b6574a9a3161dee16b9478a199ee39cd803ce5b799"
            ))
            .is_err()
        );
        assert!(who(Some("Bearer viewer2")).is_err());
        assert!(who(Some("Basic viewer")).is_err());
        assert!(who(None).is_err());
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn no_tokens_means_an_anonymous_admin() {
        let t = Tokens::new(&[]);
        let req = actix_web::test::TestRequest::default().to_http_request();
        let c = t.authenticate(&req).unwrap();
        assert_eq!((&*c.name, c.role), (ANONYMOUS, Role::Admin));
    }
}
