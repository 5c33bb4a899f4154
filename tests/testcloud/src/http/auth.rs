//! Token check on every OpenStack API except authentication and version discovery.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, App};
use crate::model::CloudError;
use crate::model::identity::Scope;

/// Who is calling, from their token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub token: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub is_admin: bool,
}

impl Auth {
    /// The project of a project-scoped token (what Nova/Cinder/Neutron act on).
    pub fn project(&self) -> Result<&str, ApiError> {
        self.project_id.as_deref().ok_or_else(|| {
            CloudError::Forbidden("This operation requires a project-scoped token.".into()).into()
        })
    }
}

pub async fn require_token(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = crate::time::now();
    let auth = token.and_then(|t| {
        app.engine.read(|c| {
            let tok = c.validate_token(&t, now).ok()?;
            let (project_id, domain_id) = match &tok.scope {
                Some(Scope::Project(p)) => (Some(p.clone()), None),
                Some(Scope::Domain(d)) => (None, Some(d.clone())),
                None => (None, None),
            };
            Some(Auth {
                token: t.clone(),
                user_id: tok.user_id.clone(),
                project_id,
                domain_id,
                is_admin: c.token_is_admin(tok),
            })
        })
    });
    match auth {
        Some(a) => {
            req.extensions_mut().insert(a);
            next.run(req).await
        }
        None => ApiError(CloudError::Unauthorized(
            "The request you have made requires authentication.".into(),
        ))
        .into_response(),
    }
}
