//! Who is calling (ARCHITECTURE §10): every public RPC of the coordinator names its caller
//! with a bearer token (runner calls prove a runner instead: [`require_runner`]), which
//! [`Access`] resolves — through a short-lived cache, so a
//! revoked token is refused within [`TOKEN_CACHE_TTL`] — into a [`Caller`]: a project and a
//! role. Objects of another project answer NOT_FOUND, as if they did not exist.
//!
//! - [`bootstrap`]: the first admin token, written to a 0600 file on first start;
//! - [`admin`]: the `aide.v1.Admin` service (projects and tokens).

pub mod admin;
mod bootstrap;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aide_core::access::{ProjectName, Role, TokenHash};
use aide_core::service_identity::{ServiceIdentity, ServiceKind};
use aide_proto::bearer::token_of;
use aide_service::tls::Peer;
use aide_service::tls::peer::check_process_token;
use aide_store::{AccessStore, TokenRecord};
use futures::future::BoxFuture;
use tonic::Status;
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::api::store_status;

pub use bootstrap::{BOOTSTRAP_TOKEN_FILE, bootstrap_admin_token};

/// How long a token's record is reused before the store is asked again: the longest a
/// revoked token keeps working.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Token records remembered at most; the cache starts over beyond it.
const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// The identity behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: Uuid,
    pub project: ProjectName,
    pub role: Role,
}

impl Caller {
    /// `PERMISSION_DENIED` unless the caller's role allows `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Status> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "a {} token cannot do this: it takes a {needed} token",
                self.role
            )))
        }
    }

    /// The caller as the audit trail records it.
    pub fn actor(&self) -> aide_core::event::Actor {
        aide_core::event::Actor {
            token_id: self.token_id.to_string(),
            project: self.project.to_string(),
            role: self.role.to_string(),
        }
    }

    /// Whether an object of `project` is visible to the caller.
    pub fn sees(&self, project: &ProjectName) -> bool {
        &self.project == project
    }
}

/// Admits a call that only runners make (registration, heartbeats, reading task data): on
/// a TLS port the caller must prove a runner's certificate — and, when `runner_id` is
/// given, that very runner's, so a registration can change only the runner it proves;
/// a plaintext port (loopback only, by explicit choice) trusts its callers, or, inside
/// `aide serve`, those bringing its process token.
pub fn require_runner<T>(
    request: &tonic::Request<T>,
    runner_id: Option<&str>,
    process_token: Option<TokenHash>,
) -> Result<(), Status> {
    let Some(peer) = Peer::of(request) else {
        return Err(Status::permission_denied(
            "a runner call that did not come through the coordinator's listener",
        ));
    };
    if !peer.secure {
        return check_process_token(process_token, request);
    }
    match (&peer.identity, runner_id) {
        (Some(identity), Some(id)) if identity.is_runner(id) => Ok(()),
        (Some(identity), None) if identity.kind == ServiceKind::Runner => Ok(()),
        (identity, _) => {
            let shown = identity
                .as_ref()
                .map_or_else(|| "no certificate".to_owned(), ServiceIdentity::uri);
            tracing::warn!(remote = %peer.remote, certificate = %shown, runner_id = runner_id.unwrap_or(""),
                "refused a runner call its certificate does not allow");
            Err(Status::permission_denied(format!(
                "only a runner may make this call, and only for itself: the caller showed {shown}"
            )))
        }
    }
}

/// Resolves the caller of a request: [`Access`] over a store, as services that are not
/// generic over one (the blob service) hold it.
pub trait Authenticate: Send + Sync + 'static {
    fn caller<'a>(&'a self, metadata: &'a MetadataMap) -> BoxFuture<'a, Result<Caller, Status>>;
}

impl<S: AccessStore> Authenticate for Access<S> {
    fn caller<'a>(&'a self, metadata: &'a MetadataMap) -> BoxFuture<'a, Result<Caller, Status>> {
        Box::pin(Access::caller(self, metadata))
    }
}

/// Resolves bearer tokens into callers; cheap to clone.
#[derive(Debug)]
pub struct Access<S> {
    store: Arc<S>,
    cache: Arc<Mutex<HashMap<TokenHash, Remembered>>>,
}

impl<S> Clone for Access<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            cache: self.cache.clone(),
        }
    }
}

/// A token's record (or its absence) as the store gave it, and when.
#[derive(Debug, Clone)]
struct Remembered {
    record: Option<TokenRecord>,
    at: Instant,
}

impl<S: AccessStore> Access<S> {
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// The caller of a request: `UNAUTHENTICATED` without an active token (the message never
    /// repeats what was sent).
    pub async fn caller(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        let record = self.active_token(metadata).await?;
        Ok(Caller {
            token_id: record.id,
            project: record.project,
            role: record.role,
        })
    }

    /// The record of the active token a request carries.
    pub async fn active_token(&self, metadata: &MetadataMap) -> Result<TokenRecord, Status> {
        self.active(&token_of(metadata)?).await
    }

    /// The record of `token` when it is active; `UNAUTHENTICATED` otherwise.
    pub async fn active(&self, token: &aide_core::access::Token) -> Result<TokenRecord, Status> {
        match self.record(token.hash()).await? {
            Some(record) if record.is_active(chrono::Utc::now()) => Ok(record),
            Some(record) => {
                tracing::info!(token_id = %record.id, "refused an expired or revoked token");
                Err(refused())
            }
            None => Err(refused()),
        }
    }

    async fn record(&self, hash: TokenHash) -> Result<Option<TokenRecord>, Status> {
        if let Some(known) = self.lock().get(&hash)
            && known.at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(known.record.clone());
        }
        let record = self.store.find_token(&hash).await.map_err(store_status)?;
        let mut cache = self.lock();
        if cache.len() >= TOKEN_CACHE_ENTRIES {
            cache.clear();
        }
        let at = Instant::now();
        cache.insert(
            hash,
            Remembered {
                record: record.clone(),
                at,
            },
        );
        Ok(record)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Remembered>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn refused() -> Status {
    Status::unauthenticated("the token is unknown, revoked or expired")
}
