//! The services of embedded mode, started in this process on loopback (127.0.0.1, port 0):
//! the LLM gateway (provider keys from the environment, the offline baseline otherwise) and
//! a sandbox runner (process backend with a provisioned virtualenv, or Docker). The
//! coordinator engine talks to both over gRPC exactly as it does in a deployment, bringing
//! a token made for this process, without which both refuse every call (another local
//! user cannot run code through the runner or spend the provider keys).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aide_runner::sandbox::venv;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::CliError;
use aide_core::access::Token;
use aide_runner::BackendKind;

/// The provider keys looked for, in the order a default model is chosen.
pub const KEY_VARS: &[(&str, &str)] = &[
    ("ANTHROPIC_API_KEY", "claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "gpt-4o"),
    ("GEMINI_API_KEY", "gemini-2.5-flash"),
    (
        "OPENROUTER_API_KEY",
        "openrouter/anthropic/claude-sonnet-4.5",
    ),
];

/// The models a run uses and what to tell the user about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Models {
    pub code: String,
    pub feedback: String,
    /// Said once at start (the baseline notice, or which key chose the model).
    pub note: String,
}

/// Picks the models: explicit choices win; otherwise the first provider key found decides;
/// `OPENAI_BASE_URL` alone needs `--model`; with nothing, the offline baseline.
pub fn choose_models(
    code: Option<&str>,
    feedback: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Models, CliError> {
    let has = |var: &str| env(var).is_some_and(|v| !v.trim().is_empty());
    let (code, note) = match code {
        Some(m) => (m.to_owned(), format!("model: {m}")),
        None => match KEY_VARS.iter().find(|(var, _)| has(var)) {
            Some((var, model)) => (
                (*model).to_owned(),
                format!("model: {model} (from {var}; choose another with --model)"),
            ),
            None if has("OPENAI_BASE_URL") => {
                return Err(CliError::Usage(
                    "OPENAI_BASE_URL is set but no model is named: pass --model <name> \
                     (the model your server serves, e.g. --model llama3.1)"
                        .into(),
                ));
            }
            None => (
                "baseline".to_owned(),
                format!(
                    "no LLM key found ({}, OPENAI_BASE_URL): using the offline baseline \
                     author, which is not an LLM",
                    KEY_VARS
                        .iter()
                        .map(|(v, _)| *v)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        },
    };
    let feedback = feedback.unwrap_or(&code).to_owned();
    let note = if code == "baseline" && !note.starts_with("no LLM key") {
        "model: baseline, the offline deterministic author (not an LLM)".to_owned()
    } else {
        note
    };
    Ok(Models {
        code,
        feedback,
        note,
    })
}

/// What the embedded services need.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub sandbox: BackendKind,
    /// Sandbox slots (the run's workers).
    pub slots: u32,
    /// Where execution attempts get their directories; a private temp dir when `None`.
    pub work_root: Option<PathBuf>,
    /// A coordinator the runner registers with (`aide serve`); none in embedded runs.
    pub coordinator: Option<String>,
    /// Redis for the gateway's response cache and shared rate limits; none: in-process.
    pub redis_url: Option<String>,
    /// The counters both services' gRPC requests go to (`aide serve` shares them with the
    /// coordinator and serves them on `--metrics-listen`).
    pub metrics: Arc<aide_telemetry::Metrics>,
}

/// The running gateway and runner; stopped by [`Services::stop`].
#[derive(Debug)]
pub struct Services {
    pub gateway_url: String,
    pub runner_url: String,
    /// The token of this process, the only caller the services answer.
    pub process_token: Token,
    shutdown: CancellationToken,
    /// Cancelled when a service stops on its own (its error is in `failure`).
    died: CancellationToken,
    failure: Arc<Mutex<Option<String>>>,
    tasks: Vec<JoinHandle<()>>,
    temp_work_root: Option<PathBuf>,
}

impl Services {
    /// Starts both services; `say` reports slow steps. Returns once the gateway answers and
    /// the sandbox is provisioned (the first start builds its virtualenv), both checked at
    /// once. The runner's own start (its interpreter probes and start-up sweep) goes on in
    /// the background: its address is bound already, so the first execution simply waits
    /// for it, while the run's first model call needs only the gateway. A runner that fails
    /// to start marks the services as dead like any service that stops.
    pub async fn start(opts: &ServiceOptions, say: &dyn Fn(&str)) -> Result<Self, CliError> {
        let env = |var: &str| std::env::var(var).ok();
        let mut gw_config = aide_gateway::config::GatewayConfig::default();
        gw_config.shared.redis_url = opts.redis_url.clone();
        let gateway = aide_gateway::service::Gateway::new(&gw_config, &env, opts.metrics.clone())
            .await
            .map_err(|e| CliError::Usage(format!("LLM gateway configuration: {e}")))?;
        let process_token =
            Token::generate().map_err(|e| CliError::Service(format!("a process token: {e}")))?;
        let mut services = Self {
            gateway_url: String::new(),
            runner_url: String::new(),
            process_token,
            shutdown: CancellationToken::new(),
            died: CancellationToken::new(),
            failure: Arc::new(Mutex::new(None)),
            tasks: Vec::new(),
            temp_work_root: None,
        };
        let (listener, url) = bind().await?;
        services.gateway_url = url;
        let shell = aide_service::Shell::new(opts.metrics.clone())
            .process_token(services.process_token.hash());
        let served =
            aide_gateway::server::serve_in(shell, gateway, listener, services.shutdown.clone());
        services.watch("LLM gateway", async move {
            served.await.map_err(|e| e.to_string())
        });

        let work_root = match &opts.work_root {
            Some(dir) => dir.clone(),
            None => {
                let dir = std::env::temp_dir().join(format!("aide-{}", std::process::id()));
                services.temp_work_root = Some(dir.clone());
                dir
            }
        };
        let mut config = runner_config(opts, &work_root);
        config.process_token = Some(services.process_token.clone());
        let provisioned = async {
            match opts.sandbox == BackendKind::Process && config.process.python == venv::AUTO {
                true => provision(&config, say).await,
                false => Ok(()),
            }
        };
        let (ready, provisioned) =
            tokio::join!(services.wait_ready(&services.gateway_url), provisioned);
        ready?;
        provisioned?;
        let (listener, url) = bind().await?;
        services.runner_url = url;
        let shell = aide_service::Shell::new(opts.metrics.clone());
        let served = aide_runner::serve_in(shell, config, listener, services.shutdown.clone());
        services.watch("sandbox runner", async move {
            served.await.map_err(|e| e.to_string())
        });
        Ok(services)
    }

    /// Waits until the runner answers (or a service died), for callers that must know the
    /// sandbox works before anything else starts.
    pub async fn runner_ready(&self) -> Result<(), CliError> {
        self.wait_ready(&self.runner_url).await
    }

    /// Runs a service future; an error or an early end marks the services as dead.
    fn watch(
        &mut self,
        what: &'static str,
        fut: impl Future<Output = Result<(), String>> + Send + 'static,
    ) {
        let (died, failure, shutdown) = (
            self.died.clone(),
            self.failure.clone(),
            self.shutdown.clone(),
        );
        self.tasks.push(tokio::spawn(async move {
            let result = fut.await;
            if shutdown.is_cancelled() {
                return;
            }
            let why = match result {
                Ok(()) => format!("the {what} stopped unexpectedly"),
                Err(e) => format!("the {what} failed: {e}"),
            };
            failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(why);
            died.cancel();
        }));
    }

    /// Waits until the gRPC server at `url` answers a health check (or a service died).
    async fn wait_ready(&self, url: &str) -> Result<(), CliError> {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        for _ in 0..600 {
            if self.died.is_cancelled() {
                return Err(self.failure());
            }
            let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
                .map_err(CliError::service(url))?;
            if let Ok(channel) = endpoint.connect().await
                && HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(CliError::Service(format!(
            "{url} did not become ready in 60 s"
        )))
    }

    /// Resolves when a service stopped on its own.
    pub async fn died(&self) {
        self.died.cancelled().await;
    }

    /// The error of a service that stopped on its own.
    pub fn failure(&self) -> CliError {
        let why = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        CliError::Service(why.unwrap_or_else(|| "a service stopped".into()))
    }

    /// Stops both services (in-flight executions are cancelled) and removes the private
    /// work directory.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        if let Some(dir) = self.temp_work_root {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn bind() -> Result<(TcpListener, String), CliError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CliError::service("cannot listen on 127.0.0.1"))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::service("the listening address"))?;
    Ok((listener, format!("http://{addr}")))
}

/// The runner's configuration for embedded mode. Sandbox uids (when root) are spread by
/// process id so two `aide run` sessions on one host never share (and kill) a slot's uid.
fn runner_config(opts: &ServiceOptions, work_root: &std::path::Path) -> aide_runner::Config {
    let pid = std::process::id();
    let mut config = aide_runner::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        // In-process services talk over loopback only.
        tls: aide_service::tls::TlsConfig::plaintext(),
        runner_id: Some(format!("aide-{pid}")),
        coordinator: opts.coordinator.clone(),
        backend: opts.sandbox,
        slots: opts.slots.max(1) as usize,
        work_root: Some(work_root.to_owned()),
        drain_secs: 1,
        grace_secs: 2,
        // `aide run` (no coordinator to fetch bundles from) hands its runner the task's own
        // directory: one process, one user, nothing copied. `aide serve` takes bundles.
        accept_local_input: opts.coordinator.is_none(),
        // `aide serve`'s runner fetches bundles from the coordinator beside it into a cache
        // in its own work root, which sandbox users can reach.
        cache_dir: Some(work_root.join("bundles")),
        ..aide_runner::Config::default()
    };
    config.process.uid_base = 20_000 + (pid % 2_500) * 16;
    config
}

/// Builds the process backend's virtualenv when it is not there yet (first run only). The
/// check runs the base interpreter, so it runs on a blocking thread.
async fn provision(config: &aide_runner::Config, say: &dyn Fn(&str)) -> Result<(), CliError> {
    let request = venv::VenvRequest::from_config(&config.process);
    let planning = request.clone();
    let planned = tokio::task::spawn_blocking(move || venv::plan(&planning))
        .await
        .map_err(CliError::service("checking the sandbox"))?
        .map_err(CliError::service("no usable Python for the sandbox"))?;
    if venv::is_complete(&planned) {
        return Ok(());
    }
    say(&format!(
        "preparing the Python sandbox: installing numpy, pandas, scikit-learn, lightgbm, … \
         into {} (first run only, about 30-40 s)",
        planned.dir.display()
    ));
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || venv::provision(&request))
        .await
        .map_err(CliError::service("provisioning the sandbox"))?
        .map_err(CliError::service("provisioning the sandbox failed"))?;
    say(&format!(
        "Python sandbox ready ({:.0} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn model_defaults() {
        let m = choose_models(None, None, &env_of(&[])).unwrap();
        assert_eq!(m.code, "baseline");
        assert!(m.note.contains("no LLM key found") && m.note.contains("not an LLM"));
        let m = choose_models(None, None, &env_of(&[("ANTHROPIC_API_KEY", "k")])).unwrap();
        assert_eq!(
            (m.code.as_str(), m.feedback.as_str()),
            ("claude-sonnet-4-5", "claude-sonnet-4-5")
        );
        let m = choose_models(
            None,
            Some("gpt-4o-mini"),
            &env_of(&[("OPENAI_API_KEY", "k")]),
        )
        .unwrap();
        assert_eq!(
            (m.code.as_str(), m.feedback.as_str()),
            ("gpt-4o", "gpt-4o-mini")
        );
        let e = choose_models(None, None, &env_of(&[("OPENAI_BASE_URL", "http://x")]));
        assert!(e.unwrap_err().to_string().contains("--model"));
        let m = choose_models(
            Some("llama3.1"),
            None,
            &env_of(&[("OPENAI_BASE_URL", "http://x")]),
        )
        .unwrap();
        assert_eq!(m.code, "llama3.1");
    }
}
