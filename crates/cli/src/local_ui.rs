//! `aide run --ui` and `aide resume --ui`: the web UI of a deployment, served on loopback
//! for the one local run, over its own SQLite store. A token of the default project is made
//! for the session and handed to the browser in the URL's fragment (which a browser never
//! sends to a server); it is revoked when the UI stops.

use std::net::SocketAddr;
use std::sync::Arc;

use aide_coordinator::api::EventNotifier;
use aide_coordinator::http::{HttpApi, HttpServer};
use aide_core::RunId;
use aide_core::access::{ProjectName, Role, Token};
use aide_store::prelude::*;
use aide_store::{AnyStore, NewToken};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::CliError;

/// The web UI of a local run, served until [`stop`](Self::stop).
#[derive(Debug)]
pub struct LocalUi {
    url: String,
    token_id: uuid::Uuid,
    store: Arc<AnyStore>,
    stop: CancellationToken,
    server: HttpServer,
}

impl LocalUi {
    /// Serves the UI on `address` (a loopback address; port 0 picks one). `notifier`
    /// is the engine's, so the page hears of each event at once.
    pub async fn start(
        store: Arc<AnyStore>,
        run_id: RunId,
        address: SocketAddr,
        notifier: EventNotifier,
    ) -> Result<Self, CliError> {
        if !address.ip().is_loopback() {
            return Err(CliError::Usage(format!(
                "--ui-listen {address}: the local UI is served on loopback only; use \
                 `aide serve --http-listen` for a shared deployment"
            )));
        }
        let token = Token::generate().map_err(CliError::service("a token for the web UI"))?;
        let record = store
            .create_token(&NewToken {
                project: ProjectName::default_project(),
                role: Role::Member,
                hash: token.hash(),
                label: "aide run --ui".into(),
                expires_at: None,
            })
            .await?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| CliError::Usage(format!("cannot serve the web UI on {address}: {e}")))?;
        let stop = CancellationToken::new();
        let api = HttpApi::local(store.clone(), notifier, stop.clone());
        let server = aide_coordinator::http::start(
            api,
            listener,
            &aide_service::tls::TlsConfig::plaintext(),
        )
        .map_err(CliError::service("the web UI's listener"))?;
        let url = format!(
            "http://{}/#token={}&run={run_id}",
            server.address,
            token.expose()
        );
        Ok(Self {
            url,
            token_id: record.id,
            store,
            stop,
            server,
        })
    }

    /// The address to open, with the session's token in its fragment.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops serving and revokes the session's token.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.server.task.await;
        if let Err(e) = self.store.revoke_token(self.token_id).await {
            tracing::warn!(error = %e, "could not revoke the web UI's token");
        }
    }
}
