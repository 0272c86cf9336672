//! aide-coordinator, the search coordinator: it owns runs. For each leased run it asks the
//! AIDE policy for the next action, renders the prompt, calls the LLM gateway, persists the
//! node, dispatches the script to a runner, has the gateway review the result, persists the
//! verdict and refreshes the run's outputs ([`engine`], [`outputs`]). It serves the public
//! gRPC API ([`api`]) and keeps the runner registry ([`registry`]). A replica ([`server`],
//! the `aide-coordinator` binary) claims runs with its [`supervisor`] and dispatches
//! executions to registered runners ([`dispatch`]). Task data and node files live in its
//! content-addressed blob store, served as `aide.v1.Blobs` ([`blobs`]). Every public call
//! names its caller with a bearer token ([`access`]), projects and tokens are administered
//! through `aide.v1.Admin`.

pub mod access;
pub mod api;
pub mod blobs;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod http;
pub mod metrics;
pub mod outputs;
pub mod registry;
pub mod server;
pub mod supervisor;
pub mod sweeps;
pub mod task_roots;
pub mod tree;

pub use error::Error;
