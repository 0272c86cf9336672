//! The integration tests of aide-gateway in one test binary (one link instead of one per
//! file). Nothing here touches process-global state: mock providers and private
//! `redis-server`s listen on free ports, shared-Redis keys carry a unique prefix, and no
//! test sets environment variables (provider keys come through an explicit lookup).

mod support;

mod baseline_python;
mod baseline_unit;
mod binary;
mod providers;
mod service;
mod shared_state;
