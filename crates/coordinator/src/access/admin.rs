//! The `aide.v1.Admin` service: projects and tokens, for admin tokens only. A token's secret
//! appears once, in the answer to CreateToken; the store keeps its hash.

use std::sync::Arc;

use aide_core::access::{ProjectName, Role, Token};
use aide_proto::v1;
use aide_proto::v1::admin_server::{Admin, AdminServer};
use aide_store::{AccessStore, NewToken, ProjectRecord, TokenRecord};
use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use super::{Access, Caller};
use crate::api::store_status;

/// Longest label a token may carry.
const MAX_LABEL_CHARS: usize = 200;
/// Longest a token may be made to last: ten years.
const MAX_EXPIRY_SECS: u64 = 10 * 365 * 24 * 3600;

/// The admin service over a store.
#[derive(Debug)]
pub struct AdminService<S> {
    store: Arc<S>,
    access: Access<S>,
}

impl<S: AccessStore> AdminService<S> {
    pub fn new(store: Arc<S>, access: Access<S>) -> Self {
        Self { store, access }
    }

    pub fn into_server(self) -> AdminServer<Self> {
        AdminServer::new(self)
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Admin)?;
        Ok(caller)
    }
}

#[tonic::async_trait]
impl<S: AccessStore> Admin for AdminService<S> {
    async fn create_project(
        &self,
        request: Request<v1::CreateProjectRequest>,
    ) -> Result<Response<v1::Project>, Status> {
        self.admin(&request).await?;
        let name = project_name(&request.get_ref().name, "name")?;
        let project = self
            .store
            .create_project(&name)
            .await
            .map_err(store_status)?;
        tracing::info!(project = %name, "project created");
        Ok(Response::new(project_message(&project)))
    }

    async fn list_projects(
        &self,
        request: Request<v1::ListProjectsRequest>,
    ) -> Result<Response<v1::ListProjectsResponse>, Status> {
        self.admin(&request).await?;
        let projects = self.store.list_projects().await.map_err(store_status)?;
        Ok(Response::new(v1::ListProjectsResponse {
            projects: projects.iter().map(project_message).collect(),
        }))
    }

    async fn create_token(
        &self,
        request: Request<v1::CreateTokenRequest>,
    ) -> Result<Response<v1::CreateTokenResponse>, Status> {
        let caller = self.admin(&request).await?;
        let wanted = request.into_inner();
        let token = Token::generate().map_err(|e| Status::internal(e.to_string()))?;
        let new = NewToken {
            project: project_name(&wanted.project, "project")?,
            role: wanted
                .role
                .parse()
                .map_err(|e: aide_core::access::AccessError| {
                    Status::invalid_argument(format!("role: {e}"))
                })?,
            hash: token.hash(),
            label: label(wanted.label)?,
            expires_at: expiry(wanted.expires_in_secs)?,
        };
        let stored = self.store.create_token(&new).await.map_err(store_status)?;
        tracing::info!(token_id = %stored.id, project = %stored.project, role = %stored.role,
            by = %caller.token_id, "token created");
        Ok(Response::new(v1::CreateTokenResponse {
            info: Some(token_message(&stored)),
            token: token.expose().to_owned(),
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<v1::ListTokensRequest>,
    ) -> Result<Response<v1::ListTokensResponse>, Status> {
        self.admin(&request).await?;
        let project = match request.get_ref().project.trim() {
            "" => None,
            name => Some(project_name(name, "project")?),
        };
        let tokens = self
            .store
            .list_tokens(project.as_ref())
            .await
            .map_err(store_status)?;
        Ok(Response::new(v1::ListTokensResponse {
            tokens: tokens.iter().map(token_message).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<v1::RevokeTokenRequest>,
    ) -> Result<Response<v1::TokenInfo>, Status> {
        let caller = self.admin(&request).await?;
        let text = request.get_ref().id.trim();
        let id = uuid::Uuid::parse_str(text)
            .map_err(|_| Status::invalid_argument(format!("id: {text:?} is not a token id")))?;
        let revoked = self.store.revoke_token(id).await.map_err(store_status)?;
        tracing::info!(token_id = %id, by = %caller.token_id, "token revoked");
        Ok(Response::new(token_message(&revoked)))
    }

    async fn who_am_i(
        &self,
        request: Request<v1::WhoAmIRequest>,
    ) -> Result<Response<v1::TokenInfo>, Status> {
        let record = self.access.active_token(request.metadata()).await?;
        Ok(Response::new(token_message(&record)))
    }
}

fn project_name(text: &str, field: &str) -> Result<ProjectName, Status> {
    text.trim()
        .parse()
        .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn label(text: String) -> Result<String, Status> {
    if text.chars().count() > MAX_LABEL_CHARS {
        return Err(Status::invalid_argument(format!(
            "label: at most {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(text)
}

fn expiry(secs: Option<u64>) -> Result<Option<DateTime<Utc>>, Status> {
    let Some(secs) = secs else {
        return Ok(None);
    };
    if secs == 0 || secs > MAX_EXPIRY_SECS {
        return Err(Status::invalid_argument(format!(
            "expires_in_secs: between 1 and {MAX_EXPIRY_SECS} (ten years)"
        )));
    }
    let lasting = chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
    Utc::now()
        .checked_add_signed(lasting)
        .map(Some)
        .ok_or_else(|| Status::invalid_argument("expires_in_secs: out of range"))
}

fn rfc3339(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn project_message(project: &ProjectRecord) -> v1::Project {
    v1::Project {
        name: project.name.to_string(),
        created_at: project.created_at.to_rfc3339(),
    }
}

pub(crate) fn token_message(token: &TokenRecord) -> v1::TokenInfo {
    v1::TokenInfo {
        id: token.id.to_string(),
        project: token.project.to_string(),
        role: token.role.to_string(),
        label: token.label.clone(),
        bootstrap: token.bootstrap,
        created_at: token.created_at.to_rfc3339(),
        expires_at: rfc3339(token.expires_at),
        revoked_at: rfc3339(token.revoked_at),
    }
}
