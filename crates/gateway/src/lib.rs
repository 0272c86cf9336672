//! aide-gateway, the LLM gateway service. It holds the offline `baseline` author (a
//! deterministic code writer for tabular CSV tasks) and the provider-independent logic the
//! provider clients build on: model routing, secrets, bounded retries and pricing. The HTTP
//! provider clients, caching, rate limits and the gRPC service come later.

pub mod baseline;
pub mod error;
pub mod pricing;
pub mod provider;
pub mod retry;
pub mod routing;
pub mod secrets;
pub mod shared;
pub mod structured;

pub use error::{Error, ErrorKind};
