//! Helpers for the integration tests (and the benchmark): the built
//! artifacts, the root/MPTCP precondition, network namespaces joined by veth
//! paths, and child processes that never outlive a test.
//!
//! Every resource here cleans up in `Drop`, so a failing (panicking) test
//! leaves no namespace, link or process behind.

pub mod artifacts;
pub mod delay;
pub mod enter;
pub mod netns;
pub mod proc;
pub mod require;
pub mod sampler;

pub use artifacts::{bin, launcher, shim};
pub use netns::{Netns, Testbed, TestbedConfig};
pub use proc::{Child, Output};
