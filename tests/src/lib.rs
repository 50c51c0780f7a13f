//! Helpers for the integration tests (and the benchmark): the built
//! artifacts, the root/MPTCP precondition, network namespaces joined by veth
//! paths, and child processes that never outlive a test.
//!
//! Every resource here cleans up in `Drop`, so a failing (panicking) test
//! leaves no namespace, link or process behind.

pub mod artifacts;
pub mod compat;
pub mod gobuild;
pub mod netns;
pub mod proc;
pub mod require;
pub mod systemd;

pub use artifacts::{bin, launcher, shim};
pub use netns::{Netns, Testbed};
pub use proc::{Child, Output};
