//! The JSON the HTTP API answers with, each type built from store records and described in
//! the OpenAPI document.

pub mod fleet;
pub mod nodes;
pub mod runs;
pub mod steer;
pub mod sweeps;

pub use fleet::{RunnerList, RunnerView, SessionView, TokenCreated, TokenList, TokenView};
pub use nodes::NodeDetail;
pub use runs::{EventList, EventView, LiveEvent, RunList, RunSummary, RunTree};
pub use steer::{DirectiveBody, ForkBody, Steered};
pub use sweeps::{SweepDetail, SweepList, SweepSummary};
