//! The client commands of a team server (`aide serve` or the `aide-coordinator` service):
//! the shared `--server` flag, the connection carrying the caller's token ([`credentials`];
//! an unreachable server is exit 5), gRPC errors turned into the CLI's errors (NOT_FOUND,
//! INVALID_ARGUMENT and a refused token are exit 2), and a run as text and as JSON.

pub mod admin;
pub mod cancel;
pub mod credentials;
pub mod export;
pub mod login;
pub mod ls;
pub mod status;
pub mod steer;
pub mod submit;
pub mod upload;
pub mod watch;

use std::time::Duration;

use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_service::tls::Dialer;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::error::CliError;
use crate::progress::fmt_metric;

/// The default server: `aide serve`'s default --listen.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// The `--server` flag every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArg {
    /// The coordinator's API (`aide serve --listen`, or an aide-coordinator service).
    #[arg(
        long,
        env = "AIDE_SERVER",
        value_name = "URL",
        default_value = DEFAULT_SERVER,
        global = true
    )]
    pub server: String,
    /// The CA that signed the server's certificate (PEM; `ca.pem` of `aide certs init`),
    /// for an https:// server.
    #[arg(long, env = "AIDE_CA", value_name = "FILE", global = true)]
    pub ca: Option<std::path::PathBuf>,
}

/// A connected client of the Coordinator API.
pub type Client = CoordinatorClient<AuthedChannel>;

impl ServerArg {
    /// Connects to the server; a refused or failed connection is [`CliError::Unreachable`].
    pub async fn connect(&self) -> Result<Client, CliError> {
        Ok(CoordinatorClient::new(self.channel().await?)
            .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES))
    }

    /// A channel to the server carrying the caller's token, for its other services (blobs,
    /// admin).
    pub async fn channel(&self) -> Result<AuthedChannel, CliError> {
        let url = self.url();
        let bearer = match credentials::token_for(&url)? {
            Some(token) => Bearer::new(&token),
            None => Bearer::none(),
        };
        Ok(authed(self.plain_channel().await?, bearer))
    }

    /// The server's URL as given, with a scheme and without a trailing slash: the key of its
    /// stored token.
    pub fn url(&self) -> String {
        let url = self.server.trim().trim_end_matches('/').to_owned();
        if url.contains("://") {
            url
        } else {
            format!("http://{url}")
        }
    }

    /// A channel to the server without a token.
    pub async fn plain_channel(&self) -> Result<Channel, CliError> {
        let url = self.url();
        let dialer = match &self.ca {
            Some(ca) => {
                Dialer::trusting_ca(ca).map_err(|e| CliError::Usage(format!("--ca: {e}")))?
            }
            None => Dialer::plaintext(),
        };
        let endpoint = dialer
            .endpoint(&url)
            .map_err(|e| CliError::Usage(format!("--server {e}")))?
            .connect_timeout(Duration::from_secs(5));
        endpoint.connect().await.map_err(|e| CliError::Unreachable {
            url: url.clone(),
            reason: root_cause(&e),
        })
    }
}

/// The innermost message of an error chain ("Connection refused (os error 111)").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A gRPC error as the CLI's error; `run` names the run for NOT_FOUND.
pub fn remote(status: tonic::Status, run: Option<&str>) -> CliError {
    use tonic::Code;
    let message = status.message().to_owned();
    match status.code() {
        Code::NotFound => CliError::Usage(match run {
            Some(id) => format!("no run {id}"),
            None => message,
        }),
        Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists => {
            CliError::Usage(message)
        }
        Code::Unauthenticated if message.contains("aide login") => {
            CliError::Usage(format!("the server refused the request: {message}"))
        }
        Code::Unauthenticated => CliError::Usage(format!(
            "the server refused the token: {message} (set AIDE_TOKEN, or run `aide login`)"
        )),
        Code::PermissionDenied => CliError::Usage(format!("not allowed: {message}")),
        Code::Unavailable => CliError::Unreachable {
            url: "the server".into(),
            reason: message,
        },
        _ => CliError::Remote(format!("{:?}: {message}", status.code())),
    }
}

/// The lower-case name of a run status.
pub fn status_name(status: i32) -> &'static str {
    match v1::RunStatus::try_from(status).unwrap_or(v1::RunStatus::Unspecified) {
        v1::RunStatus::Unspecified => "unknown",
        v1::RunStatus::Queued => "queued",
        v1::RunStatus::Running => "running",
        v1::RunStatus::Completed => "completed",
        v1::RunStatus::Failed => "failed",
        v1::RunStatus::Cancelled => "cancelled",
    }
}

/// A protocol timestamp as RFC 3339 UTC text (seconds).
pub fn time_text(at: Option<&prost_types::Timestamp>) -> Option<String> {
    let at = at?;
    let nanos = u32::try_from(at.nanos).unwrap_or(0);
    chrono::DateTime::from_timestamp(at.seconds, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The best metric as text, `-` when none.
pub fn best_text(run: &v1::Run) -> String {
    match &run.best_metric {
        Some(m) if !run.best_node_id.is_empty() => fmt_metric(m.value),
        _ => "-".into(),
    }
}

/// A run as JSON (`aide ls --json`, `aide status --json`).
pub fn run_json(run: &v1::Run) -> Value {
    let settings = run.settings.clone().unwrap_or_default();
    let best = run
        .best_metric
        .as_ref()
        .filter(|_| !run.best_node_id.is_empty());
    json!({
        "id": run.id,
        "name": run.name,
        "task": run.task_name,
        "status": status_name(run.status),
        "stop_reason": non_empty(&run.stop_reason),
        "steps": settings.steps,
        "nodes": run.nodes,
        "reviewed": run.reviewed,
        "best_node_id": non_empty(&run.best_node_id),
        "best_metric": best.map(|m| m.value),
        "cost_usd": run.cost_usd,
        "code_model": settings.code_model,
        "owner": non_empty(&run.owner),
        "cancel_requested": run.cancel_requested,
        "sweep_id": non_empty(&run.sweep_id),
        "fork_of": non_empty(&run.fork_of_node_id),
        "created_at": time_text(run.created_at.as_ref()),
        "updated_at": time_text(run.updated_at.as_ref()),
        "finished_at": time_text(run.finished_at.as_ref()),
    })
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// Prints JSON on stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}
