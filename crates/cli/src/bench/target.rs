//! Where `aide bench` sends its calls: a server (`--server URL`, with the caller's token),
//! or, without one, the three services started in this process over SQLite in the bench
//! data directory (`aide serve` on a loopback port, `--slots` runner slots), reached with
//! the bootstrap admin token that first start wrote there.

use std::net::SocketAddr;
use std::path::PathBuf;

use aide_core::access::Token;
use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::v1::sweeps_client::SweepsClient;
use aide_runner::BackendKind;
use aide_service::tls::Dialer;
use tokio_util::sync::CancellationToken;

use crate::client::ServerArg;
use crate::error::CliError;
use crate::serve::{ServeArgs, Stack};

/// The flags that choose where sweeps run.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// A coordinator's API (`aide serve --listen`, or an aide-coordinator service); without
    /// it, everything runs in this process on this machine.
    #[arg(long, env = "AIDE_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,
    /// The CA that signed the server's certificate, for an https:// server.
    #[arg(long, env = "AIDE_CA", value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// Without --server: where the sweeps' database and blobs are kept
    /// [default: $XDG_DATA_HOME/aide/bench, else ~/.local/share/aide/bench].
    #[arg(long, env = "AIDE_BENCH_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Without --server: runner slots (scripts executed at once).
    #[arg(long, value_name = "N", default_value_t = 2, global = true)]
    pub slots: u32,
    /// Without --server: the sandbox scripts run in.
    #[arg(
        long,
        env = "AIDE_SANDBOX",
        value_enum,
        default_value = "process",
        global = true
    )]
    pub sandbox: BackendKind,
}

/// A connection to where sweeps run; [`close`](Self::close) it to stop the in-process
/// services (their runs are released and resume on the next start).
#[derive(Debug)]
pub struct Connection {
    pub channel: AuthedChannel,
    stack: Option<Stack>,
}

impl Connection {
    pub fn sweeps(&self) -> SweepsClient<AuthedChannel> {
        SweepsClient::new(self.channel.clone())
            .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
    }

    /// True when the services run in this process (the sweep advances only while it runs).
    pub fn is_embedded(&self) -> bool {
        self.stack.is_some()
    }

    /// Resolves when an in-process service stopped on its own (never for a server).
    pub async fn died(&mut self) -> CliError {
        match &mut self.stack {
            Some(stack) => match stack.serve_until(&CancellationToken::new()).await {
                Err(e) => e,
                Ok(()) => CliError::Service("the services stopped".into()),
            },
            None => std::future::pending().await,
        }
    }

    pub async fn close(self) {
        if let Some(stack) = self.stack {
            eprintln!("stopping the local services (runs are released)");
            stack.stop().await;
        }
    }
}

impl Target {
    /// Connects to the server, or starts the local services; `None` when `shutdown` fired
    /// while they started.
    pub async fn connect(&self, shutdown: &CancellationToken) -> Result<Connection, CliError> {
        if let Some(server) = &self.server {
            let server = ServerArg {
                server: server.clone(),
                ca: self.ca.clone(),
            };
            return Ok(Connection {
                channel: server.channel().await?,
                stack: None,
            });
        }
        self.start_local(shutdown).await
    }

    async fn start_local(&self, shutdown: &CancellationToken) -> Result<Connection, CliError> {
        if self.slots == 0 {
            return Err(CliError::Usage("--slots: at least 1".into()));
        }
        let dir = self.data_dir.clone().unwrap_or_else(default_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            CliError::Usage(format!(
                "cannot create the bench directory {}: {e}",
                dir.display()
            ))
        })?;
        let args = ServeArgs {
            database_url: format!("sqlite:{}", dir.join("bench.db").display()),
            redis_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: aide_service::tls::TlsArgs {
                plaintext: true,
                ..Default::default()
            },
            sandbox: self.sandbox,
            slots: self.slots,
            max_runs: usize::try_from(self.slots).unwrap_or(usize::MAX),
            output_dir: None,
            metrics_listen: None,
            http_listen: None,
            data_dir: Some(dir.clone()),
            blob_store: None,
            max_blob_bytes: None,
            task_roots: Vec::new(),
            max_unfinished_runs: Some(1_000_000),
            max_daily_cost_usd: None,
            print_config: false,
        };
        let Some(stack) = Stack::start(&args, shutdown).await? else {
            return Err(CliError::Interrupted);
        };
        let token_file = stack
            .data_dir
            .join(aide_coordinator::access::BOOTSTRAP_TOKEN_FILE);
        let token = std::fs::read_to_string(&token_file)
            .map_err(|e| {
                CliError::Service(format!(
                    "cannot read the local admin token {}: {e}",
                    token_file.display()
                ))
            })
            .and_then(|t| {
                t.trim()
                    .parse::<Token>()
                    .map_err(|e| CliError::Service(format!("{}: {e}", token_file.display())))
            });
        let token = match token {
            Ok(token) => token,
            Err(e) => {
                stack.stop().await;
                return Err(e);
            }
        };
        let channel = Dialer::plaintext()
            .endpoint(&stack.url())
            .map_err(|e| CliError::Service(e.to_string()))?
            .connect()
            .await
            .map_err(CliError::service("connecting to the local coordinator"))?;
        Ok(Connection {
            channel: authed(channel, Bearer::new(&token)),
            stack: Some(stack),
        })
    }
}

/// `$XDG_DATA_HOME/aide/bench`, else `~/.local/share/aide/bench`.
fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("aide").join("bench")
}
