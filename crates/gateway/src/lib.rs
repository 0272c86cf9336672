//! aide-gateway, the LLM gateway service and the only holder of provider keys. It serves
//! `aide.v1.LlmGateway` over gRPC ([`server`], [`service`]): routes each model to a provider
//! ([`routing`]), calls it over HTTP with bounded retries ([`provider`], [`retry`]), forces
//! and validates structured output ([`structured`]), caches answers and shares rate limits
//! through Redis ([`shared`]), prices the usage ([`pricing`]), and hosts the offline
//! [`baseline`] author used when no provider key is configured.

pub mod baseline;
pub mod config;
pub mod error;
pub mod metrics;
pub mod pricing;
pub mod provider;
pub mod retry;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod service;
pub mod shared;
pub mod structured;

pub use error::Error;
