//! aide-gateway, the LLM gateway service. For now it holds the offline `baseline` author
//! (a deterministic code writer for tabular CSV tasks); the provider clients, retries,
//! caching, rate limits and the gRPC service come later.

pub mod baseline;
pub mod error;

pub use error::Error;
