//! The deployment over HTTP: logging in and out (the session cookie), who the caller is,
//! the runners and, for admins, the tokens (through the Admin service's own methods).

// utoipa's generated code names the query types by path.
#![allow(unused_qualifications)]

use aide_core::access::Token;
use aide_proto::v1;
use aide_proto::v1::admin_server::Admin;
use aide_store::prelude::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tonic::Code;
use utoipa::IntoParams;

use super::Shared;
use super::auth::{Authed, cleared_cookie, metadata_of, same_origin, session_cookie};
use super::problem::Problem;
use super::views::fleet::{LoginRequest, NewTokenRequest};
use super::views::{RunnerList, RunnerView, SessionView, TokenCreated, TokenList, TokenView};
use crate::api::store_status;

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/session", tag = "deployment",
    responses((status = 200, body = SessionView), (status = "4XX", body = Problem)))]
pub async fn whoami(
    State(api): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, Problem> {
    let record = api.access.active_token(&metadata_of(&headers)).await?;
    Ok(Json(SessionView::of(&record)))
}

/// Trades a token for a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless the
/// UI is served in plaintext on loopback).
#[utoipa::path(post, path = "/api/v1/session", tag = "deployment", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = "4XX", body = Problem)))]
pub async fn login(
    State(api): State<Shared>,
    headers: HeaderMap,
    Json(login): Json<LoginRequest>,
) -> Result<Response, Problem> {
    if !same_origin(&headers) {
        return Err(Problem::new(
            Code::PermissionDenied,
            "a login from another origin is refused",
        ));
    }
    let token: Token = login.token.trim().parse().map_err(|_| {
        Problem::new(
            Code::Unauthenticated,
            "the token is unknown, revoked or expired",
        )
    })?;
    let record = api.access.active(&token).await?;
    tracing::info!(token_id = %record.id, project = %record.project, "web session started");
    let cookie = session_cookie(token.expose(), api.settings.secure_cookies);
    let mut response = Json(SessionView::of(&record)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Ends the browser's session (the token itself stays valid).
#[utoipa::path(delete, path = "/api/v1/session", tag = "deployment", security(()),
    responses((status = 204, description = "the cookie is cleared")))]
pub async fn logout(State(api): State<Shared>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cleared_cookie(api.settings.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The live runners with their slots, load, version and cache size.
#[utoipa::path(get, path = "/api/v1/runners", tag = "deployment",
    responses((status = 200, body = RunnerList), (status = "4XX", body = Problem)))]
pub async fn list_runners(
    State(api): State<Shared>,
    _authed: Authed,
) -> Result<Json<RunnerList>, Problem> {
    let heartbeat = api.settings.runner_heartbeat;
    let runners = api
        .store
        .live_runners(heartbeat * 3)
        .await
        .map_err(store_status)?;
    let now = chrono::Utc::now();
    let mut runners: Vec<RunnerView> = runners
        .iter()
        .map(|r| RunnerView::of(r, heartbeat, now))
        .collect();
    runners.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(RunnerList { runners }))
}

/// Whose tokens to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// One project's; every project's when absent.
    project: Option<String>,
}

/// Every token (admins only), never their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "deployment", params(TokenQuery),
    responses((status = 200, body = TokenList), (status = "4XX", body = Problem)))]
pub async fn list_tokens(
    State(api): State<Shared>,
    authed: Authed,
    Query(query): Query<TokenQuery>,
) -> Result<Json<TokenList>, Problem> {
    let request = authed.request(v1::ListTokensRequest {
        project: query.project.unwrap_or_default(),
    });
    let tokens = api.admin.list_tokens(request).await?.into_inner().tokens;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(TokenView::from).collect(),
    }))
}

/// Makes a token (admins only); its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "deployment",
    request_body = NewTokenRequest,
    responses((status = 200, body = TokenCreated), (status = "4XX", body = Problem)))]
pub async fn create_token(
    State(api): State<Shared>,
    authed: Authed,
    Json(wanted): Json<NewTokenRequest>,
) -> Result<Json<TokenCreated>, Problem> {
    let request = authed.request(v1::CreateTokenRequest {
        project: wanted.project,
        role: wanted.role,
        label: wanted.label,
        expires_in_secs: wanted.expires_in_secs,
    });
    let created = api.admin.create_token(request).await?.into_inner();
    let info = created
        .info
        .ok_or_else(|| Problem::new(Code::Internal, "the token was made without its record"))?;
    Ok(Json(TokenCreated {
        token: created.token,
        info: TokenView::from(info),
    }))
}

/// Revokes a token (admins only); its sessions end within seconds.
#[utoipa::path(delete, path = "/api/v1/tokens/{token_id}", tag = "deployment",
    params(("token_id" = String, Path)),
    responses((status = 200, body = TokenView), (status = "4XX", body = Problem)))]
pub async fn revoke_token(
    State(api): State<Shared>,
    authed: Authed,
    Path(token_id): Path<String>,
) -> Result<Json<TokenView>, Problem> {
    let request = authed.request(v1::RevokeTokenRequest { id: token_id });
    let revoked = api.admin.revoke_token(request).await?.into_inner();
    Ok(Json(TokenView::from(revoked)))
}
