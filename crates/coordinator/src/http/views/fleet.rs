//! The deployment as the HTTP API shows it: the caller's session, the runners and the
//! tokens (for admins).

use std::collections::BTreeMap;
use std::time::Duration;

use aide_proto::v1;
use aide_store::{RunnerRecord, TokenRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub token_id: Uuid,
    pub project: String,
    /// viewer, member or admin.
    pub role: String,
    pub label: String,
}

impl SessionView {
    pub fn of(token: &TokenRecord) -> Self {
        Self {
            token_id: token.id,
            project: token.project.to_string(),
            role: token.role.to_string(),
            label: token.label.clone(),
        }
    }
}

/// A login: the token to trade for a session cookie.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub token: String,
}

/// A registered runner and its last reported load.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerView {
    pub id: String,
    pub address: String,
    /// docker or process.
    pub backend: Option<String>,
    /// The runner's aide version.
    pub version: Option<String>,
    pub slots: u32,
    pub free_slots: u32,
    pub running: u32,
    /// Fractions of the host's capacity, 0 to 1.
    pub cpu_load: f64,
    pub memory_load: f64,
    /// Bytes of task bundles and environments the runner keeps cached.
    pub cache_bytes: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub registered_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    /// Whether it heartbeat within the last two intervals.
    pub healthy: bool,
}

impl RunnerView {
    pub fn of(runner: &RunnerRecord, heartbeat: Duration, now: DateTime<Utc>) -> Self {
        let labels: BTreeMap<String, String> = runner
            .info
            .labels
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let silent = (now - runner.last_heartbeat_at)
            .to_std()
            .unwrap_or_default();
        Self {
            id: runner.info.id.clone(),
            address: runner.info.address.clone(),
            backend: labels.get("backend").cloned(),
            version: labels.get("version").cloned(),
            slots: runner.info.slots,
            free_slots: runner.load.free_slots,
            running: runner.load.running,
            cpu_load: runner.load.cpu_load,
            memory_load: runner.load.memory_load,
            cache_bytes: runner.load.cache_bytes,
            labels,
            registered_at: runner.registered_at,
            last_heartbeat_at: runner.last_heartbeat_at,
            healthy: silent <= heartbeat * 2,
        }
    }
}

/// The live runners.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerList {
    pub runners: Vec<RunnerView>,
}

/// A token, never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub project: String,
    pub role: String,
    pub label: String,
    /// The deployment's first admin token.
    pub bootstrap: bool,
    /// RFC 3339 times.
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<v1::TokenInfo> for TokenView {
    fn from(info: v1::TokenInfo) -> Self {
        let set = |s: String| Some(s).filter(|s| !s.is_empty());
        Self {
            id: info.id,
            project: info.project,
            role: info.role,
            label: info.label,
            bootstrap: info.bootstrap,
            created_at: info.created_at,
            expires_at: set(info.expires_at),
            revoked_at: set(info.revoked_at),
        }
    }
}

/// Tokens of every project, or of one.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenRequest {
    pub project: String,
    /// admin, member or viewer.
    pub role: String,
    #[serde(default)]
    pub label: String,
    /// Seconds until it expires; never when absent.
    pub expires_in_secs: Option<u64>,
}

/// A new token: its secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub token: String,
    pub info: TokenView,
}
